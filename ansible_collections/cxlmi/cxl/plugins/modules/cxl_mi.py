# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ansible module: run one CXL command (any entry of cxl-mi's registry) against a target."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cxl_mi
short_description: Run a CXL Component Command Interface command with cxl-mi
version_added: "0.1.0"
description:
  - Sends one command of cxl-mi's registry (every generic, memory device, FM-API and vendor
    command the CLI offers) to a CXL component reachable from the managed host, and returns
    the command's JSON result, as C(cxl-mi GROUP COMMAND TARGET --json) prints it.
  - The command runs as C(python -m cxlmi_cli) with the Python that runs this module, so
    cxl-mi must be installed for C(ansible_python_interpreter). The command line is used
    rather than the library because C(--json) is cxl-mi's stable interface for scripts (it
    parses option values, names errors and decodes fields); cxl-mi's registry says what the
    command is and whether it changes the component.
  - C(changed) is true for commands with effects (those the Command Effects Log lists with
    an effect, the destructive ones, CXL.io and vendor commands, background abort,
    C(get-event-records) with C(clear)) and false for reads.
  - Destructive commands are confirmed for you (C(--yes)); the task is the confirmation.
options:
  target:
    description:
      - The component, as any cxl-mi TARGET string.
      - C(mem0) or C(/dev/cxl/mem0) (the Linux driver), C(mctp:NET,EID) (AF_MCTP),
        C(tcp:HOST[:PORT]) (MCTP over TCP), C(emu:PROFILE) (the in-process emulator, a new
        device for every task).
    type: str
    required: true
  command:
    description:
      - The command, by its registry name (C(memdev_get_health_info), C(set_timestamp)), as
        C(GROUP COMMAND) (C(memdev get-health-info)), or by its CLI name alone
        (C(get-health-info)) when only one group has it.
    type: str
    required: true
  args:
    description:
      - The command's options as C(cxl-mi GROUP COMMAND --help) lists them, without the
        leading dashes (C(volatile_capacity) or C(volatile-capacity)), with the values the
        command line takes (C(1G), C(now), flag names).
      - V(true) gives a flag, V(false) or V(null) leaves the option out, a list repeats the
        option.
      - A key naming one of the command's positional arguments gives it (C(file) of
        C(transfer-fw), C(log) of C(get-log)).
    type: dict
    default: {}
  request:
    description:
      - The whole request as a mapping of the payload structure's fields (what
        C(--input FILE) takes); O(args) override its fields.
    type: dict
  port:
    description: Tunnel through this switch port (C(--port)).
    type: int
  ld:
    description: Tunnel to this LD of an MLD (C(--ld)); with O(port), switch to MLD to LD.
    type: int
  mhd:
    description: Tunnel to a multi-headed device's LD pool CCI (C(--mhd)).
    type: bool
    default: false
  timeout:
    description: Seconds the connection and the command may take (C(--timeout); 5 when
      left out).
    type: float
  passphrase:
    description:
      - The (current) passphrase of a security command (C(set-passphrase),
        C(disable-passphrase), C(unlock), C(passphrase-secure-erase)); V("") when none is
        set yet. Handed to cxl-mi in a file only the module's user can read
        (C(--passphrase-file)), removed when the task ends; never logged.
    type: str
  new_passphrase:
    description: The new passphrase of C(set-passphrase) (C(--new-passphrase-file)), the
      same way.
    type: str
attributes:
  check_mode:
    support: full
    description:
      - Reads run and return their result. Commands with effects send nothing; the task
        reports C(changed) and what it would send in RV(would_send). The request is built
        by cxl-mi's dry run (C(--dry-run --json)), exactly as a real run builds it, with
        every option, required field and O(request) field checked, so a task that would
        fail for real (a bad value, a missing option, an unknown field) fails in check
        mode too, with the same message and RV(exit_code).
requirements:
  - cxl-mi installed for the managed host's Python (C(pip install cxl-mi))
notes:
  - A component's error fails the task; its message names the CXL return code
    (C(UNSUPPORTED), C(INVALID_INPUT) ...) and RV(return_code) / RV(return_code_name)
    hold it.
  - Passphrases go to cxl-mi in files, never on its command line; give them as
    O(passphrase) and O(new_passphrase) (from Ansible Vault, say), or name files of the
    managed host in O(args) (C(passphrase_file), C(new_passphrase_file)). A passphrase for
    a command that takes none fails the task.
author:
  - cxl-mi developers
"""

EXAMPLES = r"""
- name: Health of a memory device
  cxlmi.cxl.cxl_mi:
    target: mem0
    command: memdev get-health-info
  register: health

- name: Set the timestamp of a component behind switch port 2
  cxlmi.cxl.cxl_mi:
    target: tcp:10.0.0.5
    port: 2
    command: set_timestamp
    args:
      timestamp: now

- name: Make 1 GiB volatile at the next reset (destructive, the task confirms it)
  cxlmi.cxl.cxl_mi:
    target: mem0
    command: memdev_set_partition_info
    args:
      volatile_capacity: 1G

- name: The first 64 bytes of the Command Effects Log, the request given as its fields
  cxlmi.cxl.cxl_mi:
    target: emu:type3
    command: get_log
    request:
      offset: 0
      length: 64
    args:
      log: cel

- name: Transfer a firmware package to slot 2 and activate it at the next reset
  cxlmi.cxl.cxl_mi:
    target: mem0
    command: transfer-fw
    args:
      file: /srv/firmware/fw.bin
      slot: 2
      activate: reset

- name: Set the user passphrase of a device that has none
  cxlmi.cxl.cxl_mi:
    target: mem0
    command: memdev set-passphrase
    args: {type: user}
    passphrase: ""
    new_passphrase: "{{ vault_cxl_passphrase }}"
"""

RETURN = r"""
schema_version:
  description: Version of cxl-mi's JSON output.
  returned: when the command was sent
  type: int
  sample: 1
command:
  description: The registry name of the command sent.
  returned: when the command was sent
  type: str
  sample: memdev_get_health_info
opcode:
  description: The command's opcode (command set << 8 | command).
  returned: when the command was sent
  type: int
  sample: 16896
target:
  description: The target, as given.
  returned: when the command was sent
  type: str
  sample: mem0
tunnel:
  description: The tunnel the command went through, or null.
  returned: when the command was sent
  type: raw
background:
  description: Whether the component started the command as a background operation.
  returned: when the command was sent
  type: bool
result:
  description:
    - The reply, as in C(cxl-mi --json) (docs/json-schema.md) - field names as in the
      payload structures, with C(*_decoded) companions for enumerations, flags and units;
      null for commands without a reply payload.
    - Also on a task that failed after its reply was read (C(get-event-records) with
      C(clear), when the component refused the clear - the records read are here).
  returned: when the command was sent
  type: raw
  sample: {"life_used": 3, "device_temperature": 35}
cmd:
  description: The cxl-mi command line that ran (or would run, in check mode).
  returned: always, once the command is known
  type: list
  elements: str
would_send:
  description:
    - In check mode, for a command with effects - what would be sent and was not.
    - C(command) (registry name), C(opcode), C(opcode_hex), C(target), C(port), C(ld),
      C(mhd), C(args), C(request) (as given), C(dry_run) (the request cxl-mi's dry run
      built, its C(request) object - C(fields), C(payload), C(message), tunnel C(levels),
      C(wire); for a workflow the first request) and C(notes) (the dry run's).
  returned: check mode, commands with effects
  type: dict
  sample: {"command": "set_timestamp", "opcode": 769, "opcode_hex": "0301h",
           "target": "mem0", "args": {"timestamp": 123}}
return_code:
  description: The CXL return code the component answered with.
  returned: failed, when the component returned an error
  type: int
  sample: 3
return_code_name:
  description: Its name.
  returned: failed, when the component returned an error
  type: str
  sample: UNSUPPORTED
exit_code:
  description: cxl-mi's exit code (1 component error, 2 usage, 3 transport, 4 permission,
    5 timeout).
  returned: failed, when cxl-mi ran
  type: int
  sample: 1
error:
  description: cxl-mi's JSON error object (C(type), C(message), C(hint), C(return_code),
    C(return_code_name), C(exit_code)).
  returned: failed, when cxl-mi ran
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cxlmi.cxl.plugins.module_utils import cxl_mi as cxl


def passphrase_files(module, entry, command):
    """--passphrase-file / --new-passphrase-file options for the passphrases given, each in
    a file of the module's private temporary directory (removed when the module exits)."""
    import os
    out = []
    for key, option in (("passphrase", "--passphrase-file"),
                        ("new_passphrase", "--new-passphrase-file")):
        secret = module.params[key]
        if secret is None:
            continue
        if not cxl.takes(command, option):
            raise ValueError("%s: cxl-mi %s %s takes no %s"
                             % (key, entry.group, entry.cli_name, key.replace("_", " ")))
        path = os.path.join(module.tmpdir, key)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        out.append("%s=%s" % (option, path))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            target=dict(type="str", required=True),
            command=dict(type="str", required=True),
            args=dict(type="dict", default={}),
            request=dict(type="dict"),
            port=dict(type="int"),
            ld=dict(type="int"),
            mhd=dict(type="bool", default=False),
            timeout=dict(type="float"),
            passphrase=dict(type="str", no_log=True),
            new_passphrase=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    cxl.require(module)
    p = module.params
    args = p["args"] or {}
    try:
        entry = cxl.resolve(p["command"])
        command = cxl.cli_command(entry)
        options, words = cxl.args_argv(command, args)
        options = cxl.target_argv(p["target"], p["port"], p["ld"], p["mhd"],
                                  p["timeout"]) + options
        options += passphrase_files(module, entry, command)
        if cxl.takes(command, "--yes"):
            options.append("--yes")     # the task is the confirmation
        tail = ["--"] + words if words else []       # positionals last, never options
        cxl.check_argv(entry, command, options + tail)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    argv = [entry.group, entry.cli_name] + options + ["--json"]
    stdin = None
    if p["request"] is not None:
        import json
        argv += ["--input", "-"]
        stdin = json.dumps(p["request"])
    argv += tail
    changed = cxl.changes(entry, args)
    cmd = cxl.cli() + argv

    if module.check_mode and changed:
        # cxl-mi's dry run builds the request exactly as this very command line would (every
        # option, required field and --input field checked), opens no target, sends nothing
        at = argv.index("--json")           # before --input and the positionals' "--"
        dry = argv[:at] + ["--dry-run"] + argv[at:]
        rc, doc, err = cxl.run(module, dry, stdin)
        if rc != 0:
            message, details = cxl.error_details(doc, rc, err)
            module.fail_json(msg=message, cmd=cmd, stderr=err, **details)
        would_send = {"command": entry.name, "opcode": entry.opcode,
                      "opcode_hex": "%04Xh" % entry.opcode, "target": p["target"],
                      "port": p["port"], "ld": p["ld"], "mhd": p["mhd"], "args": args,
                      "request": p["request"], "dry_run": doc.get("request"),
                      "notes": doc.get("notes") or []}
        module.exit_json(changed=True, cmd=cmd, would_send=would_send,
                         msg="check mode: would send %s (%04Xh) to %s; nothing was sent"
                             % (entry.name, entry.opcode, p["target"]))

    rc, doc, err = cxl.run(module, argv, stdin)
    if rc != 0:
        message, details = cxl.error_details(doc, rc, err)
        module.fail_json(msg=message, cmd=cmd, stderr=err, **details)
    doc.pop("changed", None)
    module.exit_json(changed=changed, cmd=cmd, **doc)


if __name__ == "__main__":
    main()
