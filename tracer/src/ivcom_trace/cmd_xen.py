"""`ivcom-trace xen`: hypercalls, VM exits and scheduling per domain from xentrace.

    ivcom-trace xen FILE [-j] [-d DOMID] [--vendor svm|vmx] [--dump N]
    ivcom-trace xen --live [interval [count]] [-j] [-T] [-d DOMID]

Xen 4.17 has no event-channel trace records, so event sends are inferred
from PV hypercall records (event_channel_op; its sub-op is only recorded
when the hypervisor logs the argument) and HVM/PVH hypercalls from
VMMCALL records.  The live form runs xentrace(8) for one interval at a
time and only works in a Xen dom0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TextIO

from ivcom.errors import IvcomError, UsageError

from ivcom_trace import xentrace as xt
from ivcom_trace.cli import Command, register

#: Classes recorded by --live: general (lost/wrap), scheduler, HVM, PV.
LIVE_EVENT_MASK = xt.TRC_GEN | xt.TRC_SCHED | xt.TRC_HVM | xt.TRC_PV
XENTRACE_CANDIDATES = ("xentrace", "/usr/lib/xen-4.17/bin/xentrace", "/usr/sbin/xentrace")
WIDTH = 80


def _counter_line(title: str, counts: dict[str, int], width: int = WIDTH) -> list[str]:
    """`title: a 3, b 2, ...` wrapped to the terminal width."""
    if not counts:
        return []
    lines = []
    cur = f"  {title}:"
    for name, n in counts.items():
        item = f" {name} {n},"
        if len(cur) + len(item) > width:
            lines.append(cur)
            cur = " " * (len(title) + 3)
        cur += item
    lines.append(cur.rstrip(","))
    return lines


def format_summary(summary: xt.TraceSummary, *, title: str = "xentrace") -> str:
    """80-column text: a header line, one table row per domain, then details."""
    j = summary.to_json()
    tsc = (
        f"tsc {j['first_tsc']}..{j['last_tsc']}" if j["first_tsc"] is not None else "no tsc"
    )
    out = [
        f"{title}: {j['records']} records, {len(j['cpus'])} cpus, {j['windows']} windows, "
        f"{j['lost_records']} lost, {j['wraps']} wraps, {tsc}",
        f"{'DOMAIN':<7}{'RECORDS':>9}{'HCALLS':>8}{'EVTCHN':>7}{'SENDS':>6}{'GNTTAB':>7}"
        f"{'VMEXIT':>7}{'VMENTRY':>8}{'VMMCALL':>8}{'WAKES':>6}{'BLOCKS':>7}",
    ]
    for d in j["domains"]:
        out.append(
            f"{d['label']:<7}{d['records']:>9}{d['hypercalls_total']:>8}"
            f"{sum(d['evtchn_ops'].values()):>7}{d['evtchn_sends']:>6}"
            f"{sum(d['grant_ops'].values()):>7}{d['vmexits_total']:>7}{d['vmentries']:>8}"
            f"{sum(d['vmmcalls'].values()):>8}{d['wakes']:>6}{d['blocks']:>7}"
        )
    for d in j["domains"]:
        detail = (
            _counter_line("hypercalls", d["hypercalls"])
            + _counter_line("event channel ops", d["evtchn_ops"])
            + _counter_line("grant table ops", d["grant_ops"])
            + _counter_line(f"vm exits ({j['vendor']})", d["vmexits"])
            + _counter_line("vmmcall hypercalls", d["vmmcalls"])
        )
        if detail:
            out.append(f"{d['label']}:")
            out.extend(detail)
    return "\n".join(out)


def format_record(rec: xt.Record) -> str:
    dom = "d?v?" if rec.domid is None else f"{xt.domain_label(rec.domid)}v{rec.vcpu}"
    tsc = "-" if rec.tsc is None else str(rec.tsc)
    extra = " ".join(f"{x:x}" for x in rec.extra)
    return f"{tsc:>14} c{rec.cpu} {dom:<10} {rec.name:<18} [{extra}]"


def _domid(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a domain id: {text!r}") from None
    if not 0 <= v <= 0x7FFF:
        raise argparse.ArgumentTypeError(f"domain id out of range: {v}")
    return v


def _positive(text: str, what: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{what} must be a positive integer, not {text!r}") from None
    if v <= 0:
        raise UsageError(f"{what} must be a positive integer, not {text!r}")
    return v


def find_xentrace() -> str | None:
    for cand in XENTRACE_CANDIDATES:
        if "/" not in cand and (path := shutil.which(cand)):
            return path
        if "/" in cand and os.access(cand, os.X_OK):
            return cand
    return None


def check_dom0(capabilities: Path = Path("/proc/xen/capabilities")) -> None:
    """Raise unless this kernel runs as a Xen control domain."""
    try:
        caps = capabilities.read_text()
    except OSError:
        raise IvcomError(
            "live tracing needs a Xen dom0 (no /proc/xen/capabilities here); "
            "run it in the lab, or decode a saved file: ivcom-trace xen FILE"
        ) from None
    if "control_d" not in caps:
        raise IvcomError("live tracing needs the Xen control domain (dom0), not a domU")


#: Records one interval into the given path; returns nothing, raises IvcomError.
Recorder = Callable[[Path, int], None]


def xentrace_recorder(binary: str) -> Recorder:
    def record(path: Path, seconds: int) -> None:
        cmd = [binary, "-D", "-e", f"0x{LIVE_EVENT_MASK:08x}", "-T", str(seconds), str(path)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise IvcomError(f"xentrace failed to run: {exc}") from None
        if proc.returncode != 0:
            msg = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise IvcomError(f"xentrace exited with {proc.returncode}: {msg}")

    return record


def live_loop(
    recorder: Recorder,
    interval: int,
    count: int | None,
    *,
    as_json: bool,
    timestamps: bool,
    domid: int | None,
    vendor: xt.Vendor | None,
    out: TextIO,
) -> int:
    """Record, decode and print `count` intervals (forever when None)."""
    done = 0
    with tempfile.TemporaryDirectory(prefix="ivcom-xentrace-") as tmp:
        path = Path(tmp) / "trace.bin"
        while count is None or done < count:
            recorder(path, interval)
            summary = xt.summarize(xt.decode_file(path), vendor=vendor, domid=domid)
            stamp = time.strftime("%H:%M:%S")
            if as_json:
                doc = summary.to_json()
                doc["interval"] = interval
                if timestamps:
                    doc["time"] = stamp
                print(json.dumps(doc, sort_keys=True), file=out, flush=True)
            else:
                title = f"{stamp} xentrace" if timestamps else "xentrace"
                print(format_summary(summary, title=title) + "\n", file=out, flush=True)
            done += 1
    return 0


@register
class XenCommand(Command):
    name = "xen"
    help = "decode xentrace files: hypercalls, VM exits, wakes and blocks per domain"

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "args", nargs="*", metavar="FILE | interval [count]",
            help="a xentrace file; with --live: seconds per interval and how many",
        )  # fmt: skip
        parser.add_argument("--live", action="store_true", help="run xentrace (dom0 only)")
        parser.add_argument("-j", "--json", action="store_true", help="JSON output")
        parser.add_argument("-d", "--domid", type=_domid, help="only this domain")
        parser.add_argument("-T", "--timestamp", action="store_true", help="time of day (live)")
        parser.add_argument(
            "--vendor", choices=("auto", "svm", "vmx"), default="auto",
            help="VM exit code table (default: guess from the codes seen)",
        )  # fmt: skip
        parser.add_argument(
            "--dump", type=int, metavar="N", default=0,
            help="also print the first N decoded records in TSC order",
        )  # fmt: skip
        parser.add_argument(
            "--engine", choices=("fast", "construct"), default="fast", help=argparse.SUPPRESS
        )

    def run(self, args: argparse.Namespace) -> int:
        vendor: xt.Vendor | None = None if args.vendor == "auto" else args.vendor
        if args.live:
            if len(args.args) > 2:
                raise UsageError("usage: ivcom-trace xen --live [interval [count]]")
            interval = _positive(args.args[0], "interval") if args.args else 1
            count = _positive(args.args[1], "count") if len(args.args) > 1 else None
            check_dom0()
            binary = find_xentrace()
            if binary is None:
                raise IvcomError("xentrace not found (install xen-utils in dom0)")
            return live_loop(
                xentrace_recorder(binary), interval, count, as_json=args.json,
                timestamps=args.timestamp, domid=args.domid, vendor=vendor, out=sys.stdout,
            )  # fmt: skip
        if len(args.args) != 1:
            raise UsageError("usage: ivcom-trace xen FILE  (or --live [interval [count]])")
        trace = xt.decode_file(args.args[0], engine=args.engine)
        summary = xt.summarize(trace, vendor=vendor, domid=args.domid)
        if args.json:
            doc = summary.to_json()
            doc["file"] = args.args[0]
            if args.dump:
                doc["dump"] = [
                    {
                        "offset": r.offset, "cpu": r.cpu, "event": r.event, "name": r.name,
                        "tsc": r.tsc, "extra": list(r.extra), "domid": r.domid, "vcpu": r.vcpu,
                    }
                    for r in islice(xt.iter_records(trace, args.domid), args.dump)
                ]  # fmt: skip
            print(json.dumps(doc, sort_keys=True))
        else:
            print(format_summary(summary))
            if args.dump:
                print()
                for rec in islice(xt.iter_records(trace, args.domid), args.dump):
                    print(format_record(rec))
        return 0

