"""Ring subcommands: `rings`, `inspect`, `dump`, `decode`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO

from ivcom import layouts as L
from ivcom.command import Command
from ivcom.errors import UsageError

from ivcom_trace.capture import CaptureWriter, FileSource
from ivcom_trace.common import add_interval_count, domid, interval_count
from ivcom_trace.discovery import ChannelInfo, list_channels, open_store
from ivcom_trace.services import ServiceClient, ServiceInfo, list_services, target, with_pages
from ivcom_trace.sources import (
    RingSource,
    SimPageReader,
    SimSource,
    SourceError,
    XenSource,
    sim_dir,
    sim_mapped_refs,
)
from ivcom_trace.view import hbytes, run_inspect


def _source_opt(p: argparse.ArgumentParser) -> None:
    # Hidden: pick the data source (auto = xen if /dev/xen/gntdev, else sim).
    p.add_argument("--source", default="auto", help=argparse.SUPPRESS)


class Opened(NamedTuple):
    source: RingSource
    label: str
    state: Callable[[], str | None] | None  # the XenStore state probe
    nonce: str | None  # the nonce XenStore holds for the page


def _sim_locator() -> tuple[Callable[[], dict[tuple[int, int], set[int]]] | None,
                            SimPageReader | None]:
    d = sim_dir()
    if d is None:
        return None, None
    directory = d
    return (lambda: sim_mapped_refs(directory)), SimPageReader(directory)


@contextlib.contextmanager
def open_source(
    spec: str, name: str, with_data: bool = True, client: int | None = None,
) -> Iterator[Opened]:
    """The source, label, XenStore state probe and nonce for NAME (a
    service's client with `client`)."""
    if spec.startswith("file:"):
        capture = FileSource(spec[5:])
        try:
            yield Opened(capture, capture.name or name, None, None)
        finally:
            capture.close()
        return
    if spec == "fake":
        from ivcom_trace.fakes import demo_source

        yield Opened(demo_source(), name, None, None)
        return
    if spec == "auto":
        spec = "xen" if os.path.exists("/dev/xen/gntdev") else "sim"
    if spec not in ("sim", "xen"):
        raise UsageError(f"unknown source {spec!r} (sim, xen, fake or file:PATH)")
    mapped, reader = _sim_locator() if spec == "sim" else (None, None)
    with open_store() as store:
        try:
            t = target(store, name, client, mapped=mapped,
                       read=reader.read if reader is not None else None)
        finally:
            if reader is not None:
                reader.close()
        if t.ctrl_ref is None:
            raise SourceError(f"channel {t.label} has no readable ctrl-ref/ring-ref")
        src: RingSource
        if spec == "sim":
            src = SimSource(t.server, t.ctrl_ref, t.kind, with_data=with_data, label=t.label)
        else:
            src = XenSource(t.server, t.ctrl_ref, t.kind, with_data=with_data, label=t.label)
        try:
            yield Opened(src, t.label, lambda: t.probe(store), t.nonce)
        finally:
            src.close()


def _client_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--client", metavar="DOMID", type=domid,
                   help="a service's channel with this client domain")


# ---- rings ---------------------------------------------------------------------


def _size(order: int | None) -> str:
    return "-" if order is None else hbytes(1 << order)


def _row(label: str, kind: str, srv: int, cli: int | None, s2c: int | None, c2s: int | None,
         mode: str | None, state: str) -> str:
    c = "-" if cli is None else str(cli)
    return (f"{label[:22]:<22} {kind:<5} {srv:>4} {c:>4} {_size(s2c):>6} {_size(c2s):>6} "
            f"{(mode or '-')[:7]:<7} {state[:19]}")


def _ports(c: ServiceClient) -> str:
    def p(v: int | None) -> str:
        return "-" if v is None else str(v)

    return f"{p(c.event_channel)}/{p(c.client_event_channel)}"


def format_rings(chans: list[ChannelInfo], svcs: Sequence[ServiceInfo] = ()) -> list[str]:
    """The table: a line per channel; a service's line is followed by one
    per request (token, owner domain, state and event channel ports
    server/client)."""
    lines = [f"{'CHANNEL':<22} {'KIND':<5} {'SRV':>4} {'CLI':>4} {'S2C':>6} {'C2S':>6} "
             f"{'MODE':<7} STATE"]
    for c in chans:
        state = c.state if c.client_state is None else f"{c.state}/{c.client_state}"
        lines.append(_row(c.label, c.kind, c.server, c.client, c.s2c_order, c.c2s_order,
                          c.mode, state))
    for s in svcs:
        n = len(s.clients)
        lines.append(_row(s.label, "svc", s.server, None, None, None, None,
                          f"{s.state} {n} req"))
        for r in s.clients:
            state = r.state if r.state == "malformed" else f"{r.state} {_ports(r)}"
            lines.append(_row(f"  {r.token}", "ivcom", r.server, r.client, r.s2c_order,
                              r.c2s_order, r.mode, state))
    return lines


class RingsCommand(Command):
    name = "rings"
    help = "list IVCOM and libxenvchan channels and IVCOM services found in XenStore"
    examples = (
        ("rings", "a line per channel: ends, sizes, state; a service, then its clients"),
        ("rings -j", "the same as a JSON array (services have kind \"service\")"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-j", "--json", action="store_true", help="JSON output")

    def run(self, args: argparse.Namespace) -> int:
        with open_store() as store:
            chans = list_channels(store)
            svcs = list_services(store)
        if not os.path.exists("/dev/xen/gntdev"):
            mapped, reader = _sim_locator()
            if mapped is not None and reader is not None:
                try:
                    svcs = with_pages(svcs, chans, mapped(), reader.read)
                finally:
                    reader.close()
        if args.json:
            print(json.dumps([c.to_json() for c in chans] + [s.to_json() for s in svcs],
                             indent=2))
        else:
            for line in format_rings(chans, svcs):
                print(line)
            if not chans and not svcs:
                print("(no channels)")
        return 0


# ---- inspect -----------------------------------------------------------------------


def inspect_source(
    source: RingSource,
    channel: str,
    *,
    style: str,
    interval: float,
    count: int | None,
    timestamps: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
    console: Any = None,
    store_state: Callable[[], str | None] | None = None,
    sleep: Callable[[float], None] | None = None,
    store_nonce: str | None = None,
) -> int:
    """The core of `inspect`, on any RingSource (tests inject a fake)."""
    kw: dict[str, Any] = {}
    if sleep is not None:
        kw["sleep"] = sleep
    run_inspect(source, channel=channel, style=style, interval=interval, count=count,
                timestamps=timestamps, out=out, err=err, console=console,
                store_state=store_state, store_nonce=store_nonce, **kw)
    return 0


class InspectCommand(Command):
    name = "inspect"
    help = "live view of a channel's rings: indexes, fill, rates, notifies, violations"
    examples = (
        ("inspect echo", "live view of the channel named echo"),
        ("inspect -b -T echo 1 3", "three plain lines, 1 s apart, timed"),
        ("inspect -j 0/echo 0.5", "JSON every 0.5 s; echo of server 0"),
        ("inspect -b echo", "plain lines, one a second, to Ctrl-C"),
        ("inspect -b 4/echo --client 7", "the channel of client domain 7 of service echo"),
        ("inspect -b 4/echo/0123456789abcdef", "the same, by the request's token"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("channel", metavar="NAME",
                            help="NAME, SERVER/NAME or XenStore path; a service's client: "
                                 "SERVER/NAME/TOKEN, NAME/TOKEN, or the service and --client")
        _client_opt(parser)
        parser.add_argument("-b", "--batch", action="store_true", help="plain lines, no TUI")
        parser.add_argument("-j", "--json", action="store_true", help="JSON lines")
        parser.add_argument("-T", "--timestamp", action="store_true", help="time column")
        add_interval_count(parser, default="0.1 live, 1 batch", what="frames")
        _source_opt(parser)

    def run(self, args: argparse.Namespace) -> int:
        tty = sys.stdout.isatty()
        style = "json" if args.json else "batch" if args.batch or not tty else "live"
        interval, count = interval_count(args.interval, args.count,
                                         0.1 if style == "live" else 1.0)
        with open_source(args.source, args.channel, client=args.client) as o:
            return inspect_source(o.source, o.label, style=style, interval=interval,
                                  count=count, timestamps=args.timestamp, store_state=o.state,
                                  store_nonce=o.nonce)


# ---- dump / decode ---------------------------------------------------------------


def dump_source(
    source: RingSource, channel: str, path: str, *, interval: float, count: int | None,
    sleep: Callable[[float], None] | None = None, err: TextIO | None = None,
) -> int:
    import time

    from ivcom_trace.sources import ChannelClosed
    from ivcom_trace.view import CloseWatch

    err = err or sys.stderr
    sleep = sleep or time.sleep
    watch = CloseWatch()
    reason = "done"
    try:
        fp = open(path, "wb")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    with fp:
        w = CaptureWriter(fp, channel)
        try:
            while count is None or w.count < count:
                if w.count:
                    sleep(interval)
                try:
                    snap = source.snapshot()
                except ChannelClosed as exc:
                    reason = exc.reason
                    break
                w.write(snap)
                closed = watch.check(snap.decode())
                if closed:
                    reason = f"channel closed: {closed}"
                    break
            else:
                reason = f"{w.count} frame(s)"
        except KeyboardInterrupt:
            reason = "interrupted"
    print(f"ivcom-trace: {reason}; wrote {w.count} snapshot(s) to {path}", file=err)
    return 0


class DumpCommand(Command):
    name = "dump"
    help = "record snapshots of a channel's rings to a capture file"
    examples = (
        ("dump echo", "a snapshot a second into echo.ivtrace"),
        ("dump echo -o /tmp/e.ivtrace 0.1 100", "100 snapshots, 0.1 s apart"),
        ("dump --ctrl-only 3/bulk 1 60", "control page only, for a minute"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("channel", metavar="NAME")
        _client_opt(parser)
        parser.add_argument("-o", "--output", metavar="FILE",
                            help="capture file (default NAME.ivtrace)")
        parser.add_argument("--ctrl-only", action="store_true",
                            help="record only the control page, not the data rings")
        add_interval_count(parser, default="1", what="snapshots")
        _source_opt(parser)

    def run(self, args: argparse.Namespace) -> int:
        interval, count = interval_count(args.interval, args.count, 1.0)
        path = args.output or re.sub(r"[^A-Za-z0-9_.-]+", "_", args.channel) + ".ivtrace"
        with open_source(args.source, args.channel, with_data=not args.ctrl_only,
                         client=args.client) as o:
            return dump_source(o.source, o.label, path, interval=interval, count=count)


class DecodeCommand(Command):
    name = "decode"
    help = "decode a capture file written by `dump`"
    examples = (
        ("decode echo.ivtrace", "every snapshot, as `inspect -b -T`"),
        ("decode -j echo.ivtrace", "JSON lines"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("-j", "--json", action="store_true", help="JSON lines")

    def run(self, args: argparse.Namespace) -> int:
        src = FileSource(args.file)
        try:
            run_inspect(src, channel=src.name or args.file,
                        style="json" if args.json else "batch", interval=0.0, count=None,
                        timestamps=True, sleep=lambda _s: None,
                        banner=f"Decoding {src.describe()}.")
        finally:
            src.close()
        return 0


__all__ = ["L", "dump_source", "format_rings", "inspect_source", "open_source"]
