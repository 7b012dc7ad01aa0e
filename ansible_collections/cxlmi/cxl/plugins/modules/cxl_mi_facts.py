# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ansible module: identify, health and partition facts of every CXL component of a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cxl_mi_facts
short_description: Gather identify, health and partition facts of CXL components
version_added: "0.1.0"
description:
  - Asks every CXL component C(cxl-mi list) finds on the managed host (kernel devices,
    MCTP endpoints; the emulated profiles too with O(include_emulated)), or the O(targets)
    given, for its identity (C(cxl-mi identify)) and, for memory devices (those that answer
    Memory Device Identify), its health (C(memdev get-health-info)) and partitions
    (C(memdev get-partition-info)).
  - Reads only. A component that cannot be reached or refuses a command does not fail the
    task; its C(errors) say what happened and the task warns.
  - Components are asked concurrently (up to 8 at once), each one command at a time.
  - Runs C(python -m cxlmi_cli) with the Python that runs this module, like
    M(cxlmi.cxl.cxl_mi).
options:
  targets:
    description:
      - The targets to ask, as cxl-mi TARGET strings (C(mem0), C(mctp:1,8),
        C(tcp:HOST[:PORT]), C(emu:type3)). When left out, every target C(cxl-mi list) finds.
    type: list
    elements: str
  include_emulated:
    description:
      - With no O(targets), also gather facts of cxl-mi's emulated profiles (C(emu:type3),
        C(emu:switch) ...), which every host has; off, so real hosts report real devices.
    type: bool
    default: false
  mctp:
    description: With no O(targets), ask mctpd (D-Bus) for MCTP endpoints too.
    type: bool
    default: true
  timeout:
    description: Seconds each command may take (C(--timeout); 5 when left out).
    type: float
attributes:
  check_mode:
    support: full
    description: Only reads are sent; check mode gathers the same facts.
  facts:
    support: full
requirements:
  - cxl-mi installed for the managed host's Python (C(pip install cxl-mi))
author:
  - cxl-mi developers
"""

EXAMPLES = r"""
- name: Facts of every CXL device of the host
  cxlmi.cxl.cxl_mi_facts:

- name: Hosts whose memory devices need attention
  ansible.builtin.debug:
    msg: "{{ item.key }}: life used {{ item.value.health.life_used }} %"
  loop: "{{ cxl_mi_devices | dict2items }}"
  when: item.value.health is not none and item.value.health.life_used > 80

- name: Try it on any host, with cxl-mi's emulated devices
  cxlmi.cxl.cxl_mi_facts:
    include_emulated: true

- name: Facts of components reached over MCTP over TCP
  cxlmi.cxl.cxl_mi_facts:
    targets: [tcp:10.0.0.5, "tcp:10.0.0.6:2508"]
"""

RETURN = r"""
ansible_facts:
  description: The facts.
  returned: always
  type: complex
  contains:
    cxl_mi_devices:
      description:
        - One entry per target, keyed by its target string.
        - C(source) (C(devices), C(mctp), C(emulated) or C(targets)), C(identify) (the
          Identify result), C(memdev_identify) (Memory Device Identify, null for components
          that are not memory devices), C(health) (Get Health Info), C(partition) (Get
          Partition Info), C(errors) (a list of C(command), C(message), C(return_code_name),
          C(exit_code) for each command that failed). Results are as in C(cxl-mi --json).
      returned: always
      type: dict
      sample: {"mem0": {"source": "devices", "identify": {"serial_num": 1234},
               "memdev_identify": {"total_capacity": 8}, "health": {"life_used": 3},
               "partition": {"active_vmem": 4}, "errors": []}}
    cxl_mi_notes:
      description: What C(cxl-mi list) could not look at, and why (no /dev/cxl, no D-Bus).
      returned: always
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cxlmi.cxl.plugins.module_utils import cxl_mi as cxl


def discover(module):
    """[(target, source)] of what ``cxl-mi list`` finds, and its notes."""
    argv = ["list", "--json"] + ([] if module.params["mctp"] else ["--no-mctp"])
    rc, doc, err = cxl.run(module, argv)
    if rc != 0:
        message, details = cxl.error_details(doc, rc, err)
        module.fail_json(msg="cxl-mi list: " + message, stderr=err, **details)
    found = []
    sources = ["devices", "mctp"] + (["emulated"] if module.params["include_emulated"] else [])
    for source in sources:
        for item in doc.get(source) or []:
            if source == "emulated" and not item.get("available", True):
                continue
            target = item.get("target") or item.get("devname")
            if target:
                found.append((target, source))
    return found, list(doc.get("notes") or [])


def ask(module, command, target, errors):
    """The JSON of one read (``command``: its words before TARGET); None, and an entry in
    ``errors``, when it failed."""
    argv = command.split() + [target, "--json"]
    if module.params["timeout"]:
        argv += ["--timeout", str(module.params["timeout"])]
    rc, doc, _ = cxl.run(module, argv)
    if rc == 0:
        return doc
    error = doc.get("error") or {}
    errors.append({"command": command,
                   "message": error.get("message"),
                   "return_code_name": error.get("return_code_name"),
                   "exit_code": error.get("exit_code", rc)})
    return None


def gather(module, target, source):
    errors = []
    facts = {"source": source, "identify": None, "memdev_identify": None, "health": None,
             "partition": None, "errors": errors}
    ident = ask(module, "identify", target, errors)      # Identify + Memory Device Identify
    if ident is not None:
        facts["identify"] = ident.get("result")
        facts["memdev_identify"] = ident.get("memdev_identify")
    if facts["memdev_identify"] is not None:          # a memory device: it has these
        for key, command in (("health", "memdev get-health-info"),
                             ("partition", "memdev get-partition-info")):
            doc = ask(module, command, target, errors)
            if doc is not None:
                facts[key] = doc.get("result")
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="str"),
            include_emulated=dict(type="bool", default=False),
            mctp=dict(type="bool", default=True),
            timeout=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    cxl.require(module)
    if module.params["targets"] is not None:
        found, notes = [(t, "targets") for t in module.params["targets"]], []
    else:
        found, notes = discover(module)
    devices = {}
    if found:
        # one component at a time each, several at once: a slow or dead one does not hold
        # up the rest (each command is bounded by --timeout)
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
            gathered = list(pool.map(lambda item: gather(module, *item), found))
        for (target, _), facts in zip(found, gathered):
            devices[target] = facts
            for error in facts["errors"]:
                module.warn("%s: %s: %s" % (target, error["command"], error["message"]))
    module.exit_json(changed=False,
                     ansible_facts={"cxl_mi_devices": devices, "cxl_mi_notes": notes})


if __name__ == "__main__":
    main()
