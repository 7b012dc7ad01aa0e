# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi exporter`: Prometheus metrics of CXL components.

    cxl-mi exporter --listen 127.0.0.1:9850 mem0 mem1 tcp:10.0.0.5
    cxl-mi exporter --textfile /var/lib/prometheus/node-exporter mem0 --once   # from cron

The shape of smartctl_exporter and node_exporter: one process per host, a list
of targets, ``cxl_*`` metrics in base units (``docs/metrics.md``).  Values are
collected at most once per ``--interval`` and served from the cache between
(the mailbox is shared with the kernel driver and other tools); each target
is bounded by ``--timeout``, so a dead one shows as ``cxl_up 0`` and the others
are served.  The collection itself is :mod:`cxlmi_bindings.metrics`; this
module only speaks Prometheus (``prometheus-client``, the ``exporter`` extra,
imported when the command runs).
"""

import os
import sys
import threading
import time

import click

from .. import target as _target

DEFAULT_LISTEN = "127.0.0.1:9850"
TEXTFILE_NAME = "cxl_mi.prom"
INSTALL_HINT = "pip install 'cxl-mi[exporter]'"


def _prometheus():
    try:
        import prometheus_client
        return prometheus_client
    except ImportError:
        click.echo("cxl-mi: error: the exporter needs prometheus-client (%s)" % INSTALL_HINT,
                   err=True)
        raise click.exceptions.Exit(2)


class CxlCollector:
    """A prometheus_client collector serving a :class:`cxlmi_bindings.metrics.Collector`."""

    def __init__(self, collector):
        self.collector = collector

    def describe(self):
        return []       # nothing is collected when registered: devices are asked on scrape

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from cxlmi_bindings.metrics import METRICS
        families = {}
        for name, labels, value in self.collector.samples():
            metric = METRICS[name]
            family = families.get(name)
            if family is None:
                if metric.kind == "counter":
                    family = CounterMetricFamily(name, metric.help, labels=metric.labels)
                else:       # gauges, and the _info metrics (gauges of value 1)
                    family = GaugeMetricFamily(name, metric.help, labels=metric.labels)
                families[name] = family
            family.add_metric([labels[key] for key in metric.labels], value)
        for name in METRICS:
            if name in families:
                yield families[name]


def build_registry(collector):
    """A CollectorRegistry holding only the CXL metrics of ``collector``."""
    from prometheus_client import CollectorRegistry
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CxlCollector(collector))
    return registry


def exposition(registry):
    """The registry's metrics in Prometheus' text format (bytes)."""
    from prometheus_client import generate_latest
    return generate_latest(registry)


def write_textfile(directory, registry, name=TEXTFILE_NAME):
    """Write the metrics to ``directory/name`` atomically: a temporary file in the same
    directory (a name node_exporter does not read), then renamed over the old one."""
    from cxlmi_bindings._files import atomic_write
    # node_exporter reads *.prom only: the temporary name (.NAME.*.tmp) is never read
    return atomic_write(os.path.join(directory, name), exposition(registry), mode=0o644,
                        sync_directory=False)


def parse_listen(text):
    """``HOST:PORT`` or ``[V6ADDR]:PORT`` -> (host, port); port 0 picks a free one.
    The host must be said (":9850" would be every interface), and a colon left in
    it (an IPv6 address without brackets, a scheme such as tcp:) is refused here
    rather than when binding."""
    from cxlmi_bindings import targets
    from cxlmi_bindings.errors import UsageError
    try:
        return targets.parse_tcp(text.strip(), where="", default_port=None, lowest=0,
                                 example="127.0.0.1:9850, [::1]:9850")
    except UsageError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen")


LANDING = b"""<html><head><title>cxl-mi exporter</title></head><body>
<h1>cxl-mi exporter</h1><p><a href="/metrics">Metrics</a></p></body></html>
"""


def make_server(host, port, registry):
    """A threading HTTP server answering ``/metrics`` (not started)."""
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from prometheus_client import CONTENT_TYPE_LATEST

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            # uptime and blackbox checks ask with HEAD: the GET's headers, no body
            self.do_GET(head=True)

        def do_GET(self, head=False):
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body, ctype, code = exposition(registry), CONTENT_TYPE_LATEST, 200
                except Exception as exc:       # a bug must not kill the server
                    body, ctype, code = ("error: %s\n" % exc).encode(), "text/plain", 500
            elif path == "/":
                body, ctype, code = LANDING, "text/html; charset=utf-8", 200
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, fmt, *args):      # no access log on stderr
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return Server((host, port), Handler)


@click.command("exporter", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, metavar="TARGET...", shell_complete=_target.complete)
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="serve /metrics on HOST:PORT (default %s unless only --textfile is "
                   "given; port 0 picks a free one)" % DEFAULT_LISTEN)
@click.option("--textfile", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="also write the metrics to DIR/%s every interval, atomically, for "
                   "node_exporter's textfile collector" % TEXTFILE_NAME)
@click.option("--interval", type=click.FloatRange(0.1, 86400), default=15.0,
              show_default=True, metavar="SECONDS",
              help="collect from the devices at most this often; scrapes in between get "
                   "the cached values")
@click.option("--timeout", type=click.FloatRange(0.001, 3600), default=5.0, show_default=True,
              metavar="SECONDS",
              help="give each target this long per collection; one that takes longer is "
                   "reported as cxl_up 0")
@click.option("--once", is_flag=True, default=False,
              help="collect once, write the text file (or print the metrics) and exit; "
                   "exit 3 when a target could not be read (its cxl_up is 0)")
def command(targets, listen, textfile, interval, timeout, once):
    """Export metrics of CXL components for Prometheus.

    Serves health, media status, life used, temperature, error counts, event log
    and poison list sizes, capacities and partitions, firmware, switch port links
    and LD counts of every TARGET (docs/metrics.md lists them), collected at most
    once per --interval and bounded by --timeout per target.  With --textfile the
    same metrics go to a file for node_exporter's textfile collector; with --once
    they are collected once, written (or printed to stdout) and the command exits.
    The CXLMI_TARGET variable is the target when none is given.
    """
    from ..main import refuse_dry_run
    refuse_dry_run("exporter", "it reads the devices and serves or writes their metrics",
                   "drop --dry-run (--once without --textfile prints the metrics and "
                   "writes no file)")
    from ..target import several
    targets = several(targets)
    address = parse_listen(listen or DEFAULT_LISTEN) if (listen or not textfile) else None
    if once and listen:
        # it served nothing and said nothing of it
        raise click.UsageError("--once collects once and prints (or writes --textfile) the "
                               "metrics; --listen serves them: give one of them")
    if textfile and not os.path.isdir(textfile):
        raise click.BadParameter("%s is not a directory" % textfile, param_hint="--textfile")
    if textfile:
        _check_writable(textfile)
    _prometheus()
    from cxlmi_bindings.metrics import Collector
    collector = Collector(targets, interval=interval, timeout=timeout)
    registry = build_registry(collector)
    try:
        if once:
            _run_once(collector, registry, textfile)
        else:
            _serve(collector, registry, address, textfile, interval)
    finally:
        collector.close()


def _check_writable(directory):
    """Refuse at start a --textfile directory the file cannot be written to: serving
    only that file, the exporter would run on and do nothing but warn."""
    from cxlmi_bindings._files import check_writable
    try:
        check_writable(os.path.join(directory, TEXTFILE_NAME))
    except OSError as exc:
        from ..errors import EXIT_PERMISSION, EXIT_USAGE
        click.echo("cxl-mi: error: --textfile %s: cannot write there: %s"
                   % (directory, exc.strerror or exc), err=True)
        raise click.exceptions.Exit(EXIT_PERMISSION if isinstance(exc, PermissionError)
                                    else EXIT_USAGE)


def _report(collector, shown):
    """One stderr line per target whose error changed since it was last shown."""
    errors = collector.errors()
    for t in collector.targets:
        message = errors.get(t.target)
        if message != shown.get(t.target):
            if message:
                click.echo("cxl-mi: warning: %s: %s" % (t.target, _unprefixed(t.target, message)),
                           err=True)
            elif t.target in shown:
                click.echo("cxl-mi: %s: collected again" % t.target, err=True)
            shown[t.target] = message


def _unprefixed(target, message):
    """``message`` without the address it starts with when that is the target's own
    (``tcp:h:1`` and "h:1: connection refused"): the line names the target once."""
    for said in (target, target.split(":", 1)[-1]):
        if said and message.startswith(said + ": "):
            return message[len(said) + 2:]
    return message


def _write(textfile, registry):
    """Write the text file; the OSError met, or None."""
    try:
        write_textfile(textfile, registry)
    except OSError as exc:
        click.echo("cxl-mi: warning: cannot write to %s: %s" % (textfile, exc.strerror or exc),
                   err=True)
        return exc
    return None


def _run_once(collector, registry, textfile):
    data = exposition(registry)         # collects
    _report(collector, {})
    if textfile:
        failed = _write(textfile, registry)
        if failed is not None:
            from ..errors import EXIT_PERMISSION, EXIT_TRANSPORT
            raise click.exceptions.Exit(EXIT_PERMISSION if isinstance(failed, PermissionError)
                                        else EXIT_TRANSPORT)
    else:
        sys.stdout.write(data.decode())
    # written what there is; as monitor --once, 3 when a target could not be read (its
    # cxl_up 0) -- not for a command a reachable device refused (cxl_scrape_errors_total)
    if any(not t.up for t in collector.targets):
        raise click.exceptions.Exit(3)


def _serve(collector, registry, address, textfile, interval):
    server = None
    if address is not None:
        try:
            server = make_server(address[0], address[1], registry)
        except OSError as exc:
            click.echo("cxl-mi: error: cannot listen on %s:%d: %s"
                       % (address[0], address[1], exc.strerror or exc), err=True)
            raise click.exceptions.Exit(3)
        threading.Thread(target=server.serve_forever, name="cxl-mi exporter http",
                         daemon=True).start()
    shown = {}
    from ..stopping import until_stopped
    with until_stopped():
        try:
            # the address bound, not the name given: "ip6-localhost" is loopback too
            from cxlmi_bindings.targets import is_loopback
            if server is not None and not is_loopback(server.server_address[0]):
                click.echo("cxl-mi: warning: serving on %s, beyond loopback: anyone who can reach "
                           "it reads the metrics" % address[0], err=True)
            if server is not None:
                host, port = server.server_address[:2]
                shown_host = "[%s]" % host if ":" in host else host
                click.echo("listening on http://%s:%d/metrics (%d target%s); Ctrl-C stops"
                           % (shown_host, port, len(collector.targets),
                              "" if len(collector.targets) == 1 else "s"))
            if textfile:
                click.echo("writing %s every %gs" % (os.path.join(textfile, TEXTFILE_NAME),
                                                     interval))
            sys.stdout.flush()
            while True:
                if textfile:
                    _write(textfile, registry)      # collects when the cache is stale
                _report(collector, shown)
                time.sleep(interval if textfile else min(interval, 1.0))
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    click.echo("stopped", err=True)
