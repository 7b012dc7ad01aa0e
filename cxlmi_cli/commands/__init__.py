# SPDX-License-Identifier: LGPL-2.1-or-later
"""Command groups generated from the registry, with hooks to override or extend them.

Each group (``generic``, ``memdev``, ``fmapi``, ``vendor``) lists the
registry entries whose ``entry.group`` it is, under ``entry.cli_name``.  A
command is built only when it is asked for (help, completion and dispatch
of one command never build the others), by :func:`build_command`:

1. ``BUILDERS[name]`` -- a module here that needs a hand-made command for a
   registry entry registers ``factory(entry) -> click.Command`` (``vendor``
   does, for ``vendor_specific``);
2. otherwise :func:`cxlmi_cli.build.make_command` generates it;
3. then ``HOOKS[name]`` from :mod:`cxlmi_cli.commands.workflows` (when that
   module exists) may replace or extend it: ``hook(entry, command) ->
   click.Command``.  A hook can return a new command built with
   ``make_command(entry, callback=..., extra_params=[...])`` (same options,
   another body), add parameters to ``command.params``, or return something
   else entirely.  A hook's ``short_help`` attribute (a string, or a function
   of the entry) is the group listing's line for it, so listing a group (help,
   completion) builds no hooked command.

``workflows.EXTRA[group]`` (``{name: factory() -> click.Command}``) adds
commands that are not registry entries (``transfer-fw-file``, …).  Keep
``workflows`` cheap to import: import rich and friends inside functions.
"""

import click

BUILDERS = {}
_GROUPS = []

GROUP_HELP = {
    "generic": "Generic component commands (00xx-05xxh): identify, background operations, "
               "events, firmware, timestamp, logs, features.",
    "memdev": "Memory device commands (40xx-48xxh): identify, partitions, label storage, "
              "health, poison, sanitize, security, QoS, dynamic capacity.",
    "fmapi": "Fabric management (FM-API, 51xx-56xxh): switch ports, VCS binding, MLDs and "
             "their LDs, multi-headed devices, DCD management.",
    "vendor": "Vendor-specific commands (C000h-FFFFh): raw commands and plugins.",
}


_WORKFLOWS = []


def _workflows():
    """cxlmi_cli.commands.workflows, or None when this build has none (cached)."""
    if not _WORKFLOWS:
        import importlib
        import importlib.util
        name = __name__ + ".workflows"
        mod = None
        if importlib.util.find_spec(name) is not None:
            try:
                mod = importlib.import_module(name)
            except Exception as exc:      # generated commands still work without it
                click.echo("cxl-mi: warning: %s did not load: %s" % (name, exc), err=True)
        _WORKFLOWS.append(mod)
    return _WORKFLOWS[0]


def hooks():
    mod = _workflows()
    return getattr(mod, "HOOKS", {}) if mod is not None else {}


def extras(group):
    mod = _workflows()
    return dict(getattr(mod, "EXTRA", {}).get(group, {})) if mod is not None else {}


def entries(group):
    """Registry entries of a group, by CLI name, in registry order."""
    from cxlmi_bindings import registry
    out = {}
    for entry in registry.COMMANDS:
        if entry.group == group:
            out.setdefault(entry.cli_name, entry)
    return out


def build_command(entry, name=None):
    factory = BUILDERS.get(entry.name)
    if factory is None and entry.group == "vendor":
        from . import vendor  # noqa: F401  (registers its builders)
        factory = BUILDERS.get(entry.name)
    if factory is not None:
        cmd = factory(entry)
    else:
        from ..build import make_command
        cmd = make_command(entry)
    hook = hooks().get(entry.name)
    if hook is not None:
        cmd = hook(entry, cmd)
    if name is not None and cmd.name != name:
        import copy
        cmd = copy.copy(cmd)
        cmd.name = name
    return cmd


class RegistryGroup(click.Group):
    """A group whose commands come from the registry, built on demand."""

    def __init__(self, name, extra=None, **kwargs):
        kwargs.setdefault("help", GROUP_HELP.get(name))
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(name, **kwargs)
        self.registry_group = name
        self.extra = extra or {}            # name -> factory() -> click.Command (this module)
        self._built = {}
        _GROUPS.append(self)

    def reset(self):
        """Forget the commands built so far (tests; after changing hooks)."""
        self._built.clear()

    def _extra(self):
        out = dict(self.extra)
        out.update(extras(self.registry_group))
        return out

    def list_commands(self, ctx):
        # not list(): once `cxl-mi list` has loaded, the name is this package's submodule
        names = [*entries(self.registry_group)]
        for name in [*self._extra(), *self.commands]:
            if name not in names:
                names.append(name)
        return names

    def get_command(self, ctx, name):
        if name in self._built:
            return self._built[name]
        cmd = self.commands.get(name)
        if cmd is None:
            extra = self._extra()
            if name in extra:
                cmd = extra[name]()
            else:
                entry = entries(self.registry_group).get(name)
                if entry is None:
                    return None
                cmd = build_command(entry)
        self._built[name] = cmd
        return cmd

    def short_help_for(self, ctx, name):
        entry = entries(self.registry_group).get(name)
        if entry is not None and entry.name not in BUILDERS:
            hook = hooks().get(entry.name)
            if hook is None:
                return entry.summary
            short = getattr(hook, "short_help", None)   # a hook may say it without building
            if short is not None:
                return short(entry) if callable(short) else short
        if entry is None and name not in self._built:     # an extra may say it unbuilt
            short = getattr(self._extra().get(name), "short_help", None)
            if short is not None:
                return short
        cmd = self.get_command(ctx, name)
        return cmd.get_short_help_str(limit=300) if cmd is not None else ""

    def format_commands(self, ctx, formatter):
        rows = [(name, self.short_help_for(ctx, name)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx, incomplete):
        from click.shell_completion import CompletionItem
        items = [CompletionItem(n, help=self.short_help_for(ctx, n))
                 for n in self.list_commands(ctx) if n.startswith(incomplete)]
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items


def group(name):
    return RegistryGroup(name)


def reset():
    """Forget built commands and the workflows module lookup (for tests and hooks)."""
    del _WORKFLOWS[:]
    for g in _GROUPS:
        g.reset()


def top_identify():
    """`cxl-mi identify`: Identify (0001h); for a type 3 device, Memory Device Identify too.

    ``result`` is exactly what ``generic identify`` shows; a type 3 component
    adds its capacities under ``memdev_identify`` (``null`` otherwise, or when
    the device does not answer 4000h).  ``-o raw`` is the 0001h payload alone.
    """
    from cxlmi_bindings import registry
    from ..build import make_command
    entry = registry.get("identify")
    mem_entry = registry.get("memdev_identify")

    def body(inv, entry, request):
        from cxlmi_bindings.errors import CxlmiError
        result = inv.call(entry, request)
        payload, background = inv.last_payload, inv.background
        if inv.output == "raw":
            from ..render import raw
            raw.write(payload)
            return
        memdev = None
        if getattr(result, "component_type", None) == 0x03:
            try:
                memdev = inv.call(mem_entry)
            except CxlmiError as exc:
                import logging
                logging.getLogger("cxlmi.cli").info("memory device identify: %s", exc)
        inv.background = background
        from ..render import views
        if inv.json:
            from ..render import document, json as rjson
            doc = document(inv, entry, result, request)
            doc["memdev_identify"] = (views.result_json(mem_entry, memdev)
                                      if memdev is not None else None)
            rjson.write(doc)
            return
        from ..render import table
        sections = views.sections(entry, result, request, inv)
        if memdev is not None:
            more = views.sections(mem_entry, memdev, None, inv)
            if more:
                more[0].title = "memory device (4000h)"
            sections += more
        table.write(sections, inv)

    return make_command(
        entry, name="identify", callback=body, help=(
            "Identify the component: vendor, device, serial, component type; for a type 3 "
            "memory device also its capacities, LSA size and limits (Memory Device "
            "Identify, 4000h).\n\nThe JSON `result` is that of `generic identify`; the "
            "memory device part is `memdev_identify` (null for other components). -o raw "
            "is the Identify (0001h) payload."))
