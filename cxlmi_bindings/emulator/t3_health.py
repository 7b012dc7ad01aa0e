# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 health (42xxh): health info, alert thresholds and the shutdown state.

What the device measures (temperature, life used, corrected error counts),
the warning thresholds the host programs and the Memory Module event records
posted when one is reached.

Uses from the class it is mixed into: the health and alert attributes (set
up by ``Type3.__init__``; ``Type3.reset`` calls ``_reset_alerts()``),
``add_event()`` (:mod:`.t3_events`), ``debug()`` and ``_check_media()``.
"""

from .device import Reply, INPUT
from .t3_constants import (EVENT_LOG_WARNING, EVENT_FLAG_MAINT_NEEDED, EVENT_FLAG_PERF_DEGRADED,
                           EVENT_FLAG_HW_REPLACE, MEMORY_MODULE_EVENT_UUID)
from .. import types
from ..types.memdev import ALERTS, HEALTH_STATUS, MEDIA_STATUS

# Memory module event types.
MMER_HEALTH_CHANGE, MMER_MEDIA_CHANGE, MMER_LIFE_USED_CHANGE, MMER_TEMP_CHANGE = 0, 1, 2, 3

# Alerts (valid / enable / programmable bits).
ALERT_LIFE_USED, ALERT_OVER_TEMP, ALERT_UNDER_TEMP, ALERT_COR_VMEM, ALERT_COR_PMEM = (
    1 << ALERTS[name] for name in ("life-used", "over-temperature", "under-temperature",
                                   "corrected-volatile-errors", "corrected-persistent-errors"))
ALERTS_ALL = ALERT_LIFE_USED | ALERT_OVER_TEMP | ALERT_UNDER_TEMP | ALERT_COR_VMEM | ALERT_COR_PMEM

# Health.
HEALTH_MAINT_NEEDED, HEALTH_PERF_DEGRADED, HEALTH_HW_REPLACE = (
    1 << HEALTH_STATUS[name] for name in ("maintenance-needed", "performance-degraded",
                                          "hardware-replacement-needed"))
MEDIA_NORMAL, MEDIA_NOT_READY, MEDIA_WRITE_PERSISTENCY_LOST, MEDIA_ALL_DATA_LOST = (
    MEDIA_STATUS[name] for name in ("normal", "not-ready", "write-persistency-lost",
                                    "all-data-lost"))


def _s16(value):
    """A 16-bit two's complement field as a Python int."""
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


class HealthMixin:
    """Device health, alerts and shutdown state (42xxh)."""

    def set_health(self, temperature=None, life_used=None, corrected_volatile_errors=None,
                   corrected_persistent_errors=None, health_status=None, media_status=None):
        """Change what the device measures; crossing an enabled warning threshold
        posts a Memory Module event record to the warning log."""
        if temperature is not None:
            self.temperature = int(temperature)
        if life_used is not None:
            self.life_used = int(life_used)
        if corrected_volatile_errors is not None:
            self.corrected_volatile_errors = int(corrected_volatile_errors)
        if corrected_persistent_errors is not None:
            self.corrected_persistent_errors = int(corrected_persistent_errors)
        changed_status = False
        if health_status is not None and health_status != self.health_status:
            self.health_status = int(health_status)
            changed_status = True
        if media_status is not None and media_status != self.media_status:
            self.media_status = int(media_status)
            self._module_event(MMER_MEDIA_CHANGE, EVENT_LOG_WARNING)
        if changed_status:
            self._module_event(MMER_HEALTH_CHANGE, EVENT_LOG_WARNING)
        self._check_alerts()

    def _reset_alerts(self):
        self.alerts_enabled = 0
        self.life_used_warning = 75
        self.over_temp_warning = 75
        self.under_temp_warning = 0
        self.cor_vmem_warning = 100
        self.cor_pmem_warning = 100
        self._alerts_active = 0

    def _alert_conditions(self):
        active = 0
        if self.life_used >= self.life_used_warning:
            active |= ALERT_LIFE_USED
        if self.temperature >= self.over_temp_warning:
            active |= ALERT_OVER_TEMP
        if self.temperature <= self.under_temp_warning:
            active |= ALERT_UNDER_TEMP
        if self.corrected_volatile_errors >= self.cor_vmem_warning:
            active |= ALERT_COR_VMEM
        if self.corrected_persistent_errors >= self.cor_pmem_warning:
            active |= ALERT_COR_PMEM
        return active & self.alerts_enabled

    def _check_alerts(self):
        """Post one warning event per enabled threshold newly reached."""
        active = self._alert_conditions()
        new = active & ~self._alerts_active
        self._alerts_active = active
        for bit, kind in ((ALERT_LIFE_USED, MMER_LIFE_USED_CHANGE),
                          (ALERT_OVER_TEMP, MMER_TEMP_CHANGE),
                          (ALERT_UNDER_TEMP, MMER_TEMP_CHANGE),
                          (ALERT_COR_VMEM, MMER_HEALTH_CHANGE),
                          (ALERT_COR_PMEM, MMER_HEALTH_CHANGE)):
            if new & bit:
                self._module_event(kind, EVENT_LOG_WARNING)
                self.debug("warning threshold reached (alert bit %#x)" % bit)

    def _additional_status(self):
        status = 0
        if self.life_used >= self.life_used_critical:
            status |= 2
        elif self.alerts_enabled & ALERT_LIFE_USED and self.life_used >= self.life_used_warning:
            status |= 1
        if self.temperature >= self.over_temp_critical or \
                self.temperature <= self.under_temp_critical:
            status |= 2 << 2
        elif (self.alerts_enabled & ALERT_OVER_TEMP and self.temperature >= self.over_temp_warning) \
                or (self.alerts_enabled & ALERT_UNDER_TEMP
                    and self.temperature <= self.under_temp_warning):
            status |= 1 << 2
        if self.alerts_enabled & ALERT_COR_VMEM and \
                self.corrected_volatile_errors >= self.cor_vmem_warning:
            status |= 1 << 4
        if self.alerts_enabled & ALERT_COR_PMEM and \
                self.corrected_persistent_errors >= self.cor_pmem_warning:
            status |= 1 << 5
        return status

    def _health_info(self):
        """Get Health Info's reply; the Memory Module event record carries it too."""
        return types.get("cmd_memdev_get_health_info_rsp")(
            health_status=self.health_status, media_status=self.media_status,
            additional_status=self._additional_status(), life_used=self.life_used & 0xFF,
            device_temperature=self.temperature & 0xFFFF,      # two's complement °C
            dirty_shutdown_count=self.dirty_shutdown_count & 0xFFFFFFFF,
            corrected_volatile_error_count=self.corrected_volatile_errors & 0xFFFFFFFF,
            corrected_persistent_error_count=self.corrected_persistent_errors & 0xFFFFFFFF)

    def _module_event(self, kind, log_id):
        flags = 0
        if self.health_status & HEALTH_MAINT_NEEDED:
            flags |= EVENT_FLAG_MAINT_NEEDED
        if self.health_status & HEALTH_PERF_DEGRADED:
            flags |= EVENT_FLAG_PERF_DEGRADED
        if self.health_status & HEALTH_HW_REPLACE:
            flags |= EVENT_FLAG_HW_REPLACE
        return self.add_event(log_id, MEMORY_MODULE_EVENT_UUID,
                              bytes([kind]) + bytes(self._health_info()), flags)

    def cmd_memdev_get_health_info(self):
        return self._health_info()

    def cmd_memdev_get_alert_config(self):
        rsp = types.get("cmd_memdev_get_alert_config_rsp")()
        rsp.valid_alerts = self.alerts_enabled
        rsp.programmable_alerts = ALERTS_ALL
        rsp.life_used_critical_alert_threshold = self.life_used_critical
        rsp.life_used_programmable_warning_threshold = self.life_used_warning
        rsp.device_over_temperature_critical_alert_threshold = self.over_temp_critical & 0xFFFF
        rsp.device_under_temperature_critical_alert_threshold = self.under_temp_critical & 0xFFFF
        rsp.device_over_temperature_programmable_warning_threshold = self.over_temp_warning & 0xFFFF
        rsp.device_under_temperature_programmable_warning_threshold = \
            self.under_temp_warning & 0xFFFF
        rsp.corrected_volatile_mem_error_programmable_warning_threshold = self.cor_vmem_warning
        rsp.corrected_persistent_mem_error_programmable_warning_threshold = self.cor_pmem_warning
        return rsp

    def cmd_memdev_set_alert_config(self, req):
        valid = req.valid_alert_actions
        if valid & ~ALERTS_ALL or req.enable_alert_actions & ~ALERTS_ALL:
            raise Reply(INPUT, "reserved alert bits")
        over = _s16(req.device_over_temperature_programmable_warning_threshold)
        under = _s16(req.device_under_temperature_programmable_warning_threshold)
        # The warning thresholds must lie inside the critical ones (CXL r3.2 table 8-149).
        if valid & ALERT_LIFE_USED and \
                req.life_used_programmable_warning_threshold >= self.life_used_critical:
            raise Reply(INPUT, "life used warning must be below the critical threshold")
        if valid & ALERT_OVER_TEMP and over >= self.over_temp_critical:
            raise Reply(INPUT, "over-temperature warning must be below the critical threshold")
        if valid & ALERT_UNDER_TEMP and under <= self.under_temp_critical:
            raise Reply(INPUT, "under-temperature warning must be above the critical threshold")
        if valid & ALERT_LIFE_USED:
            self.life_used_warning = req.life_used_programmable_warning_threshold
        if valid & ALERT_OVER_TEMP:
            self.over_temp_warning = over
        if valid & ALERT_UNDER_TEMP:
            self.under_temp_warning = under
        if valid & ALERT_COR_VMEM:
            self.cor_vmem_warning = req.corrected_volatile_mem_error_programmable_warning_threshold
        if valid & ALERT_COR_PMEM:
            self.cor_pmem_warning = \
                req.corrected_persistent_mem_error_programmable_warning_threshold
        self.alerts_enabled = (self.alerts_enabled & ~valid) | (req.enable_alert_actions & valid)
        # A newly programmed threshold that is already met alerts at once.
        self._alerts_active &= ~valid
        self._check_alerts()

    def cmd_memdev_get_shutdown_state(self):
        self._check_media("get shutdown state")
        return types.get("cmd_memdev_get_shutdown_state_rsp")(state=int(self.shutdown_dirty))

    def cmd_memdev_set_shutdown_state(self, req):
        self._check_media("set shutdown state")
        if req.state & ~1:
            raise Reply(INPUT, "reserved shutdown state bits %#x" % req.state)
        self.shutdown_dirty = bool(req.state & 1)
