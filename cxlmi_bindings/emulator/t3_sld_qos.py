# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 SLD QoS telemetry (47xxh): Get / Set SLD QoS Control, Get SLD QoS Status.

Uses from the class it is mixed into: ``qos_control``, ``egress_moderate``,
``egress_severe``, ``backpressure_interval`` and ``backpressure`` (set up by
``Type3.__init__``).
"""

from .device import Reply, INPUT
from .. import types

# SLD QoS telemetry.
QOS_EGRESS_PORT_CONGESTION = 1 << 0
QOS_TEMP_THROUGHPUT_REDUCTION = 1 << 1


class SldQosMixin:
    """The SLD QoS telemetry commands (47xxh)."""

    def cmd_memdev_get_sld_qos_control(self):
        return types.get("cmd_memdev_get_sld_qos_control_rsp")(
            qos_telemetry_control=self.qos_control,
            egress_moderate_percentage=self.egress_moderate,
            egress_severe_percentage=self.egress_severe,
            backpressure_sample_interval=self.backpressure_interval)

    def cmd_memdev_set_sld_qos_control(self, req):
        if req.qos_telemetry_control & ~(QOS_EGRESS_PORT_CONGESTION
                                         | QOS_TEMP_THROUGHPUT_REDUCTION):
            raise Reply(INPUT, "reserved QoS telemetry control bits")
        if not 1 <= req.egress_moderate_percentage <= 100 or \
                not 1 <= req.egress_severe_percentage <= 100 or \
                req.egress_moderate_percentage > req.egress_severe_percentage:
            raise Reply(INPUT, "egress percentages must be 1-100, moderate <= severe")
        if req.backpressure_sample_interval > 15:
            raise Reply(INPUT, "backpressure sample interval must be 0-15")
        self.qos_control = req.qos_telemetry_control
        self.egress_moderate = req.egress_moderate_percentage
        self.egress_severe = req.egress_severe_percentage
        self.backpressure_interval = req.backpressure_sample_interval

    def cmd_memdev_get_sld_qos_status(self):
        value = self.backpressure if self.qos_control & QOS_EGRESS_PORT_CONGESTION else 0
        return types.get("cmd_memdev_get_sld_qos_status_rsp")(
            backpressure_avg_percentage=max(0, min(100, value)))
