"""Ring subcommands: `rings`, `inspect`, `dump`, `decode`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ivcom import layouts as L
from ivcom.command import Command
from ivcom.errors import UsageError

from ivcom_trace.capture import CaptureWriter, FileSource
from ivcom_trace.common import add_interval_count, interval_count
from ivcom_trace.discovery import (
    ChannelInfo,
    channel_state,
    find_channel,
    list_channels,
    open_store,
)
from ivcom_trace.sources import RingSource, SimSource, SourceError, XenSource
from ivcom_trace.view import hbytes, run_inspect


def _source_opt(p: argparse.ArgumentParser) -> None:
    # Hidden: pick the data source (auto = xen if /dev/xen/gntdev, else sim).
    p.add_argument("--source", default="auto", help=argparse.SUPPRESS)


@contextlib.contextmanager
def open_source(
    spec: str, name: str, with_data: bool = True
) -> Iterator[tuple[RingSource, str, Callable[[], str | None] | None]]:
    """(source, channel label, XenStore state probe) for NAME."""
    if spec.startswith("file:"):
        capture = FileSource(spec[5:])
        try:
            yield capture, capture.name or name, None
        finally:
            capture.close()
        return
    if spec == "fake":
        from ivcom_trace.fakes import demo_source

        fake = demo_source()
        yield fake, name, None
        return
    if spec == "auto":
        spec = "xen" if os.path.exists("/dev/xen/gntdev") else "sim"
    if spec not in ("sim", "xen"):
        raise UsageError(f"unknown source {spec!r} (sim, xen, fake or file:PATH)")
    with open_store() as store:
        info = find_channel(store, name)
        if info.ctrl_ref is None:
            raise SourceError(f"channel {info.label} has no readable ctrl-ref/ring-ref")
        src: RingSource
        if spec == "sim":
            src = SimSource(info.server, info.ctrl_ref, info.kind, with_data=with_data,
                            label=info.label)
        else:
            src = XenSource(info.server, info.ctrl_ref, info.kind, with_data=with_data,
                            label=info.label)
        try:
            yield src, info.label, lambda: channel_state(store, info)
        finally:
            src.close()


# ---- rings ---------------------------------------------------------------------


def _size(order: int | None) -> str:
    return "-" if order is None else hbytes(1 << order)


def format_rings(chans: list[ChannelInfo]) -> list[str]:
    lines = [f"{'CHANNEL':<22} {'KIND':<5} {'SRV':>4} {'CLI':>4} {'S2C':>6} {'C2S':>6} "
             f"{'MODE':<7} STATE"]
    for c in chans:
        state = c.state if c.client_state is None else f"{c.state}/{c.client_state}"
        cli = "-" if c.client is None else str(c.client)
        lines.append(
            f"{c.label[:22]:<22} {c.kind:<5} {c.server:>4} {cli:>4} {_size(c.s2c_order):>6} "
            f"{_size(c.c2s_order):>6} {(c.mode or '-')[:7]:<7} {state[:19]}"
        )
    return lines


class RingsCommand(Command):
    name = "rings"
    help = "list IVCOM and libxenvchan channels found in XenStore"
    examples = (
        ("rings", "a line per channel: ends, sizes, state"),
        ("rings -j", "the same as a JSON array"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-j", "--json", action="store_true", help="JSON output")

    def run(self, args: argparse.Namespace) -> int:
        with open_store() as store:
            chans = list_channels(store)
        if args.json:
            print(json.dumps([c.to_json() for c in chans], indent=2))
        else:
            for line in format_rings(chans):
                print(line)
            if not chans:
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
) -> int:
    """The core of `inspect`, on any RingSource (tests inject a fake)."""
    kw: dict[str, Any] = {}
    if sleep is not None:
        kw["sleep"] = sleep
    run_inspect(source, channel=channel, style=style, interval=interval, count=count,
                timestamps=timestamps, out=out, err=err, console=console,
                store_state=store_state, **kw)
    return 0


class InspectCommand(Command):
    name = "inspect"
    help = "live view of a channel's rings: indexes, fill, rates, notifies, violations"
    examples = (
        ("inspect echo", "live view of the channel named echo"),
        ("inspect -b -T echo 1 3", "three plain lines, 1 s apart, timed"),
        ("inspect -j 0/echo 0.5", "JSON every 0.5 s; echo of server 0"),
        ("inspect -b echo", "plain lines, one a second, to Ctrl-C"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("channel", metavar="NAME", help="NAME, SERVER/NAME or XenStore path")
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
        with open_source(args.source, args.channel) as (src, label, state):
            return inspect_source(src, label, style=style, interval=interval, count=count,
                                  timestamps=args.timestamp, store_state=state)


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
        parser.add_argument("-o", "--output", metavar="FILE",
                            help="capture file (default NAME.ivtrace)")
        parser.add_argument("--ctrl-only", action="store_true",
                            help="record only the control page, not the data rings")
        add_interval_count(parser, default="1", what="snapshots")
        _source_opt(parser)

    def run(self, args: argparse.Namespace) -> int:
        interval, count = interval_count(args.interval, args.count, 1.0)
        path = args.output or re.sub(r"[^A-Za-z0-9_.-]+", "_", args.channel) + ".ivtrace"
        with open_source(args.source, args.channel, with_data=not args.ctrl_only) as (
            src, label, _
        ):
            return dump_source(src, label, path, interval=interval, count=count)


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
