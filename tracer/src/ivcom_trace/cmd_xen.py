"""`ivcom-trace xen`: hypercalls, VM exits and scheduling per domain from xentrace.

    ivcom-trace xen FILE [-j] [-d DOMID] [--vendor svm|vmx] [--dump N] [--no-channels]
    ivcom-trace xen --live [interval [count]] [-j] [-T] [-d DOMID] [--no-channels]

Xen 4.17 has no event-channel trace records, so event sends are inferred
from PV hypercall records (event_channel_op; its sub-op is only recorded
when the hypervisor logs the argument) and HVM/PVH hypercalls from
VMMCALL records.  The live form runs xentrace(8) for one interval at a
time and only works in a Xen dom0.

When XenStore is reachable, a "channels" view follows: for each IVCOM (and
libxenvchan) channel it lists, the event sends of its two end domains.
xentrace records no port, so these are whole-domain counts; a domain that
is an end of more than one channel is marked shared (its count cannot be
split between them).  For a FILE the channels are those XenStore lists
now, not necessarily those of the trace.
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
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from ivcom.command import Command
from ivcom.errors import IvcomError, UsageError

from ivcom_trace import xentrace as xt
from ivcom_trace.common import domid, first_line, whole_interval_count
from ivcom_trace.discovery import STORE_ERRORS, ChannelInfo, list_channels, open_store

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


# ---- channels view -------------------------------------------------------------------

CHANNELS_NOTE = (
    "sends are EVTCHNOP_send hypercalls of the whole domain (every port: xenstore, "
    "console and other channels too); xentrace records no port"
)

#: (channels, note): the channels XenStore lists, or None and why not.
ChannelLister = Callable[[], tuple[list[ChannelInfo] | None, str]]


def read_channels() -> tuple[list[ChannelInfo] | None, str]:
    """The channels XenStore lists now; (None, why) when it cannot be read."""
    try:
        with open_store() as store:
            return list_channels(store), ""
    except IvcomError as exc:
        return None, f"XenStore not reachable: {exc}"
    except STORE_ERRORS as exc:  # a store that fails mid-listing
        return None, f"XenStore read failed: {first_line(exc)}"


def channels_view(summary: dict[str, Any], chans: Sequence[ChannelInfo]) -> list[dict[str, Any]]:
    """Per channel, the sends of its two end domains (from summary.to_json())."""
    doms = {d["domid"]: d for d in summary["domains"]}
    member: dict[int, list[str]] = {}
    for c in chans:
        for dom in {c.server, c.client} - {None}:
            assert dom is not None
            member.setdefault(dom, []).append(c.label)

    def side(dom: int | None, label: str) -> dict[str, Any]:
        if dom is None:
            return {"domid": None, "sends": None, "note": "no client-domid node"}
        d = doms.get(dom)
        others = [x for x in member.get(dom, []) if x != label]
        out: dict[str, Any] = {
            "domid": dom,
            "sends": None if d is None else d["evtchn_sends"],
            "evtchn_ops_unrecorded": None if d is None else d["evtchn_ops"].get("unrecorded", 0),
            "channels": 1 + len(others),
            "shared": bool(others),
        }
        if d is None:
            out["note"] = "not in this trace (or filtered out)"
        elif others:
            out["note"] = (f"d{dom} is also an end of {', '.join(others)}: its sends are "
                           "shared, not attributable to one channel")
        return out

    return [
        {"channel": c.label, "kind": c.kind, "path": c.path, "state": c.state,
         "server": side(c.server, c.label), "client": side(c.client, c.label)}
        for c in chans
    ]  # fmt: skip


def format_channels(rows: list[dict[str, Any]]) -> list[str]:
    """80-column channel table and its footnotes."""
    if not rows:
        return ["channels: none in XenStore"]

    def cell(s: dict[str, Any]) -> tuple[str, str]:
        dom = "?" if s["domid"] is None else f"d{s['domid']}"
        sends = "-" if s["sends"] is None else str(s["sends"])
        return dom + ("*" if s.get("shared") else ""), sends

    out = [f"{'CHANNEL':<24} {'KIND':<5} {'SERVER':>7} {'SENDS':>8} {'CLIENT':>7} {'SENDS':>8}"]
    notes: list[str] = []
    for r in rows:
        sd, ss = cell(r["server"])
        cd, cs = cell(r["client"])
        out.append(f"{r['channel'][:24]:<24} {r['kind']:<5} {sd:>7} {ss:>8} {cd:>7} {cs:>8}")
        for s in (r["server"], r["client"]):
            if s.get("note") and s["note"] not in notes:
                notes.append(s["note"])
    if any(s.get("shared") for r in rows for s in (r["server"], r["client"])):
        notes.insert(0, "* shared: the domain is an end of more than one channel")
    unrec = sorted({(s["domid"], s["evtchn_ops_unrecorded"]) for r in rows
                    for s in (r["server"], r["client"]) if s.get("evtchn_ops_unrecorded")})
    for dom, n in unrec:
        notes.append(f"d{dom}: {n} event_channel_op with no recorded sub-op (not counted)")
    notes.append(CHANNELS_NOTE)
    for n in notes:
        out.extend(_wrap(n))
    return out


def _wrap(text: str, width: int = WIDTH) -> list[str]:
    lines: list[str] = []
    cur = " "
    for word in text.split():
        if len(cur) + 1 + len(word) > width and cur.strip():
            lines.append(cur)
            cur = "  "
        cur += " " + word
    lines.append(cur)
    return [line.rstrip() for line in lines]


def _add_channels(doc: dict[str, Any], lister: ChannelLister | None) -> list[str]:
    """Add "channels" (or "channels_note") to a summary's JSON; the text lines."""
    if lister is None:
        return []
    chans, note = lister()
    if chans is None:
        doc["channels_note"] = note
        return ["channels: XenStore not reachable (see -j; --no-channels to skip)"]
    rows = channels_view(doc, chans)
    doc["channels"] = rows
    doc["channels_note"] = CHANNELS_NOTE
    return format_channels(rows)


def format_record(rec: xt.Record) -> str:
    dom = "d?v?" if rec.domid is None else f"{xt.domain_label(rec.domid)}v{rec.vcpu}"
    tsc = "-" if rec.tsc is None else str(rec.tsc)
    extra = " ".join(f"{x:x}" for x in rec.extra)
    return f"{tsc:>14} c{rec.cpu} {dom:<10} {rec.name:<18} [{extra}]"


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
    channels: ChannelLister | None = None,
) -> int:
    """Record, decode and print `count` intervals (forever when None);
    `channels` lists the channels for the per-channel view each interval."""
    done = 0
    with tempfile.TemporaryDirectory(prefix="ivcom-xentrace-") as tmp:
        path = Path(tmp) / "trace.bin"
        while count is None or done < count:
            recorder(path, interval)
            summary = xt.summarize(xt.decode_file(path), vendor=vendor, domid=domid)
            stamp = time.strftime("%H:%M:%S")
            doc = summary.to_json()
            extra = _add_channels(doc, channels)
            if as_json:
                doc["interval"] = interval
                if timestamps:
                    doc["time"] = stamp
                print(json.dumps(doc, sort_keys=True), file=out, flush=True)
            else:
                title = f"{stamp} xentrace" if timestamps else "xentrace"
                text = "\n".join([format_summary(summary, title=title), *extra])
                print(text + "\n", file=out, flush=True)
            done += 1
    return 0


class XenCommand(Command):
    name = "xen"
    help = "decode xentrace files: hypercalls, VM exits, wakes and blocks per domain"
    examples = (
        ("xen trace.bin", "each domain's hypercalls, exits, wakes"),
        ("xen -j -d 3 trace.bin", "domain 3 only, as JSON"),
        ("xen --dump 20 trace.bin", "and the first 20 records, decoded"),
        ("xen --vendor svm --no-channels trace.bin", "AMD exit codes; XenStore unread"),
        ("xen --live 1 10", "ten 1 s summaries, live (dom0 only)"),
        ("xen --live -T -j 5", "JSON every 5 s, timed, to Ctrl-C"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "args", nargs="*", metavar="FILE | interval [count]",
            help="a xentrace file; with --live: seconds per interval and how many",
        )  # fmt: skip
        parser.add_argument("--live", action="store_true", help="run xentrace (dom0 only)")
        parser.add_argument("-j", "--json", action="store_true", help="JSON output")
        parser.add_argument("-d", "--domid", type=domid, help="only this domain")
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
            "--no-channels", action="store_true",
            help="skip the per-channel view (it reads XenStore)",
        )  # fmt: skip
        parser.add_argument(
            "--engine", choices=("fast", "construct"), default="fast", help=argparse.SUPPRESS
        )

    def run(self, args: argparse.Namespace) -> int:
        vendor: xt.Vendor | None = None if args.vendor == "auto" else args.vendor
        lister: ChannelLister | None = None if args.no_channels else read_channels
        if args.live:
            if len(args.args) > 2:
                raise UsageError("usage: ivcom-trace xen --live [interval [count]]")
            given: list[str | None] = [*args.args, None, None]
            interval, count = whole_interval_count(given[0], given[1], default=1)
            check_dom0()
            binary = find_xentrace()
            if binary is None:
                raise IvcomError("xentrace not found (install xen-utils in dom0)")
            return live_loop(
                xentrace_recorder(binary), interval, count, as_json=args.json,
                timestamps=args.timestamp, domid=args.domid, vendor=vendor, out=sys.stdout,
                channels=lister,
            )  # fmt: skip
        if len(args.args) != 1:
            raise UsageError("usage: ivcom-trace xen FILE  (or --live [interval [count]])")
        trace = xt.decode_file(args.args[0], engine=args.engine)
        summary = xt.summarize(trace, vendor=vendor, domid=args.domid)
        doc = summary.to_json()
        extra = _add_channels(doc, lister)
        if "channels" in doc:
            doc["channels_note"] += "; channels as XenStore lists them now, not at trace time"
        if args.json:
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
            for line in extra:
                print(line)
            if args.dump:
                print()
                for rec in islice(xt.iter_records(trace, args.domid), args.dump):
                    print(format_record(rec))
        return 0

