"""The HVM section of `ivcom bench`: VM exits of a fully virtualized guest
talking to dom0 through an emulated NIC and through IVCOM.

    from ivcom.lab import hvm
    results = hvm.run(print, quick=True)
    print(hvm.render(results))

One boot of the trace image runs scn-hvm.sh: an HVM Linux guest (qemu-xen
in dom0, an emulated e1000) and dom0 exchange the same 64 B round trips
and the same stream over TCP through the emulated NIC, over IVCOM (the
guest's PV-on-HVM grant table and event channels) with libivcom's
default wait, with both ends polling, and with both ends' spin budget
sized to the lab (TCG answers in ~1 ms; the default spin is 30 us); then
the tiny guest, booted as PVH (no device model, no firmware), runs the
same IVCOM sessions with dom0.  Each session has its own xentrace
recording; the dom0 client prints the TSC at the start and end of its
measured loop, so `analyse()` counts exactly the guest's VM exits inside the transfer, by
reason, and divides by its exact work (round trips, MiB).  An idle
recording gives the guest's background exit rate (timer ticks, its agent).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivcom.lab.errors import LabError

Json = dict[str, Any]
SCENARIO = "hvm"
STAGE = "hvm results"
# What the table and plot call each session's path (transport, then the
# kind's suffix: "-poll" when both ends poll, "-spin" when both spin up to
# the plan's spin_us before blocking).
LABELS = {"tcp": "TCP, emulated e1000", "ivcom": "IVCOM", "ivcom-poll": "IVCOM, polling",
          "ivcom-spin": "IVCOM, long spin", "tiny": "tiny PVH guest, IVCOM",
          "tiny-poll": "tiny PVH, polling", "tiny-spin": "tiny PVH, long spin"}
WAIT_SUFFIXES = ("poll", "spin")
# Exit reasons grouped the way the emulated-device argument is made, for
# both vendors' names (SVM under TCG; VMX on most hardware).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "io": ("ioio", "io_instruction"),
    "mmio": ("npf", "ept_violation", "ept_misconfig", "apic_access"),
    "hypercall": ("vmmcall", "vmcall"),
    "interrupt": ("intr", "vintr", "nmi", "smi", "external_interrupt", "pending_virt_intr",
                  "pending_virt_nmi"),
    "hlt": ("hlt",),
    "msr": ("msr", "msr_read", "msr_write"),
}
CATEGORY_ORDER = (*CATEGORIES, "other")
# Exits and entries pair up; a window cut inside a pair leaves one over at
# each end, and a vCPU may be inside one when the recording starts or stops.
PAIR_SLACK = 4


def category(reason: str) -> str:
    for cat, names in CATEGORIES.items():
        if reason in names:
            return cat
    return "other"


@dataclass(frozen=True)
class HvmPlan:
    rr_count: int
    bytes: int
    chunk: int
    reps: int
    idle_s: int
    # "long spin" sessions: the spin budget of both ends (us), sized to
    # the lab (TCG answers in ~1 ms; libivcom's default is 30 us).
    spin_us: int = 2000

    @staticmethod
    def for_mode(quick: bool) -> HvmPlan:
        if quick:
            return HvmPlan(200, 2 << 20, 65536, 1, 3)
        return HvmPlan(1000, 16 << 20, 65536, 2, 5)

    def env(self) -> dict[str, str]:
        return {"HVM_RR_COUNT": str(self.rr_count), "HVM_BYTES": str(self.bytes),
                "HVM_CHUNK": str(self.chunk), "HVM_REPS": str(self.reps),
                "HVM_IDLE_S": str(self.idle_s), "HVM_SPIN_US": str(self.spin_us)}


# The tiny guest's part: its PVH images, their xl template, guest-lib.sh.
TINY_APPS = ("echo", "sink")


def tiny_files(log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The shared files that add the tiny PVH guest's sessions to the run
    (the images are built with `make guest` when missing)."""
    from importlib import resources

    from ivcom.lab import bench as labbench

    files = labbench.guest_images([f"ivcom-guest-{a}-pvh.elf" for a in TINY_APPS], log)
    files["guest-pvh.cfg.in"] = labbench.guest_template("guest-pvh.cfg.in")
    files["guest-lib.sh"] = Path(str(resources.files("ivcom.lab").joinpath("guest-lib.sh")))
    return files


def run(log: Callable[[str], None], quick: bool = False, *,
        plan: HvmPlan | None = None) -> Json:
    """Boot the trace image once, run scn-hvm.sh, return the analysed results."""
    from ivcom.lab.image import build_image
    from ivcom.lab.runner import LabRunner, Scenario
    from ivcom.lab.tools import ivcom_payload
    from ivcom.lab.trace_image import trace_payload

    plan = plan or HvmPlan.for_mode(quick)
    log("hvm: building (or reusing) the trace image (qemu-xen for the HVM guest)")
    image = build_image(trace_payload(ivcom_payload()), flavour="trace")
    runner = LabRunner(image, timeout=1500.0, scenario_timeout=1200.0,
                       status=lambda m: log(m.removeprefix("ivcom lab: ")))
    log(f"hvm: dom0 <-> HVM guest, emulated e1000 vs IVCOM ({'quick' if quick else 'full'} "
        "plan)")
    res = runner.boot([Scenario.builtin(SCENARIO)], tag="bench-hvm", env=plan.env(),
                      files=tiny_files(log))
    s = res.scenarios.get(SCENARIO)
    if s is None or not s.ok:
        why = s.reason if s is not None else "did not run"
        raise LabError(f"HVM benchmark failed: {why}", stage=f"scenario {SCENARIO}",
                       log=res.log)
    out = analyse(s.dir)
    out["run_dir"] = str(res.run_dir)
    out["retries"] = list(res.retries) + list(s.retries)
    out["boot_seconds"] = round(res.seconds, 1)
    return out


# --------------------------------------------------------------------------
# Analysis of a results directory
# --------------------------------------------------------------------------


def _info(d: Path) -> Json:
    out: Json = {}
    try:
        text = (d / "info.txt").read_text()
    except OSError as exc:
        raise LabError(f"{d / 'info.txt'}: {exc.strerror}", stage=STAGE) from exc
    for line in text.splitlines():
        if line.startswith("hvm_domid="):
            out["hvm_domid"] = int(line.split("=", 1)[1])
        elif line.startswith("spin_us="):
            out["spin_us"] = int(line.split("=", 1)[1])
        elif ":" in line:
            k, v = (x.strip() for x in line.split(":", 1))
            if k == "cpu_mhz":
                out["cpu_mhz"] = float(v)
            elif k == "xen_version":
                out["xen"] = v
    if "hvm_domid" not in out:
        raise LabError(f"{d / 'info.txt'}: no hvm_domid line", stage=STAGE)
    return out


def _sessions(d: Path) -> list[Json]:
    path = d / "sessions.jsonl"
    out = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LabError(f"{path}: {exc.strerror}", stage=STAGE) from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            s = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabError(f"{path.name} line {n}: {exc.msg}", stage=STAGE) from exc
        for key in ("transport", "kind", "trace", "tsc_begin", "tsc_end"):
            if key not in s:
                raise LabError(f"{path.name} line {n}: no {key!r}", stage=STAGE)
        out.append(s)
    return out


def window_counts(trace: Any, begin: int, end: int, domid: int) -> Json:
    """VM exits (by reason) and entries of `domid` with a TSC in [begin,
    end]; those of other guests (other_domains) and those the scheduler
    records do not place (unattributed) are counted apart."""
    from ivcom_trace import xentrace as xt

    # One pass: exit codes are named after it, by the vendor every exit
    # in the recording points to (as xentrace.summarize() does).
    codes: Counter[int] = Counter()
    seen: set[int] = set()
    entries = unattributed = others = 0
    first = last = None
    for rec in trace.records:
        reason = xt.vmexit_reason(rec.event, rec.extra)
        if reason is not None:
            seen.add(reason)
        if rec.tsc is None:
            continue
        first = rec.tsc if first is None else min(first, rec.tsc)
        last = rec.tsc if last is None else max(last, rec.tsc)
        if not begin <= rec.tsc <= end:
            continue
        is_entry = (rec.event & ~xt.TRC_HVM_NESTEDFLAG) == xt.TRC_HVM_VMENTRY
        if reason is None and not is_entry:
            continue
        if rec.domid is None:
            unattributed += 1
        elif rec.domid != domid:
            others += 1
        elif reason is not None:
            codes[reason] += 1
        else:
            entries += 1
    vendor = xt.detect_vendor(seen)
    exits: Counter[str] = Counter()
    for code, n in codes.items():
        exits[xt.exit_name(code, vendor)] += n
    return {"vendor": vendor, "exits": dict(exits.most_common()),
            "exits_total": sum(exits.values()), "entries": entries,
            "unattributed": unattributed, "other_domains": others,
            "first_tsc": first, "last_tsc": last,
            "covered": first is not None and last is not None and first <= begin
            and end <= last}


def _by_category(exits: dict[str, int]) -> dict[str, int]:
    out = dict.fromkeys(CATEGORY_ORDER, 0)
    for name, n in exits.items():
        out[category(name)] += n
    return out


def _wall(s: Json) -> Json:
    if s["kind"].startswith("rr"):
        if s["transport"] == "tcp":
            return {"rtt_median_us": float(s["median_us"])}
        return {"rtt_median_us": float(s["rtt_ns"]["median"]) / 1e3}
    if s["transport"] == "tcp":
        return {"mb_per_s": float(s["mb_per_s"])}
    return {"mb_per_s": float(s["bytes_per_s"]) / 1e6}


def _label(s: Json) -> str:
    suffix = str(s["kind"]).rpartition("-")[2]
    label = str(s["transport"]) + (f"-{suffix}" if suffix in WAIT_SUFFIXES else "")
    if label not in LABELS:
        raise LabError(f"{s['trace']}: unknown transport {s['transport']!r}", stage=STAGE)
    return label


def analyse(d: Path) -> Json:
    """Per session: exits inside the transfer, by reason and category, per
    round trip or per MiB; the idle rate; IVCOM's ratios to the NIC path."""
    from ivcom_trace import xentrace as xt

    info = _info(d)
    domid = info["hvm_domid"]
    mhz = info.get("cpu_mhz") or 0.0
    rows: list[Json] = []
    for s in _sessions(d):
        path = d / s["trace"]
        try:
            trace = xt.decode_file(path)
        except (OSError, xt.TraceFormatError) as exc:
            raise LabError(f"{path.name}: {exc}", stage=STAGE) from exc
        begin, end = int(s["tsc_begin"]), int(s["tsc_end"])
        if not 0 < begin < end:
            raise LabError(f"{s['trace']}: bad TSC span {begin}..{end}", stage=STAGE)
        # The guest whose exits count (the HVM guest, or the tiny PVH one).
        guest = int(s["domid"]) if "domid" in s else int(domid)
        w = window_counts(trace, begin, end, guest)
        if not w["covered"]:
            raise LabError(f"{s['trace']}: the transfer's TSC span {begin}..{end} is not inside "
                           f"the recording ({w['first_tsc']}..{w['last_tsc']})", stage=STAGE)
        rr = s["kind"].startswith("rr")
        if rr:
            work, unit = float(s["count"]), "round trip"
        else:
            work, unit = float(s["bytes"]) / (1 << 20), "MiB"
        if work <= 0:
            raise LabError(f"{s['trace']}: session did no work", stage=STAGE)
        secs = (end - begin) / (mhz * 1e6) if mhz else None
        cats = _by_category(w["exits"])
        rows.append({
            "transport": s["transport"], "kind": s["kind"], "label": _label(s),
            "rep": s.get("rep"), "trace": s["trace"], "domid": guest,
            "unit": unit, "work": work,
            "tsc_begin": begin, "tsc_end": end,
            "verified": bool(s.get("verified", True)),
            **_wall(s), "window_s": secs, **w,
            "by_category": cats,
            "exits_per_op": w["exits_total"] / work,
            "entries_per_op": w["entries"] / work,
            "per_op_by_category": {k: v / work for k, v in cats.items()},
            "exits_per_s": w["exits_total"] / secs if secs else None,
        })
    idle = _idle(d, domid, mhz)
    return {"xen": info.get("xen"), "hvm_domid": domid, "cpu_mhz": mhz,
            "spin_us": info.get("spin_us"), "sessions": rows,
            "idle": idle, "summary": _summary(rows, idle)}


def _idle(d: Path, domid: int, mhz: float) -> Json:
    from ivcom_trace import xentrace as xt

    path = d / "idle.xt"
    try:
        trace = xt.decode_file(path)
    except (OSError, xt.TraceFormatError) as exc:
        raise LabError(f"{path.name}: {exc}", stage=STAGE) from exc
    w = window_counts(trace, 0, 1 << 64, domid)
    secs = ((w["last_tsc"] - w["first_tsc"]) / (mhz * 1e6)
            if mhz and w["first_tsc"] is not None else None)
    return {"exits_total": w["exits_total"], "seconds": secs,
            "exits_per_s": w["exits_total"] / secs if secs else None,
            "by_category": _by_category(w["exits"])}


def _mean(rows: list[Json], key: str) -> float | None:
    vals = [float(r[key]) for r in rows if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def _summary(rows: list[Json], idle: Json) -> Json:
    """Means over repetitions per (label, rr|bulk), and IVCOM / TCP ratios."""
    out: Json = {}
    for kind in ("rr", "bulk"):
        per: Json = {}
        for label in LABELS:
            sel = [r for r in rows if r["label"] == label and r["kind"].startswith(kind)]
            if not sel:
                continue
            cats = {c: sum(r["per_op_by_category"][c] for r in sel) / len(sel)
                    for c in CATEGORY_ORDER}
            per[label] = {"exits_per_op": _mean(sel, "exits_per_op"),
                          "entries_per_op": _mean(sel, "entries_per_op"),
                          "per_op_by_category": cats,
                          "rtt_median_us": _mean(sel, "rtt_median_us"),
                          "mb_per_s": _mean(sel, "mb_per_s"),
                          "exits_per_s": _mean(sel, "exits_per_s"),
                          "sessions": len(sel)}
        base = per.get("tcp")
        for label, v in per.items():
            if label == "tcp" or not base:
                continue
            e0 = base["exits_per_op"]
            v["exits_vs_tcp"] = v["exits_per_op"] / e0 if e0 else None
            v["exit_reduction_pct"] = (100.0 * (1 - v["exits_per_op"] / e0)) if e0 else None
            if kind == "rr" and base["rtt_median_us"] and v["rtt_median_us"] is not None:
                v["rtt_vs_tcp"] = v["rtt_median_us"] / base["rtt_median_us"]
            if kind == "bulk" and base["mb_per_s"] and v["mb_per_s"] is not None:
                v["throughput_vs_tcp"] = v["mb_per_s"] / base["mb_per_s"]
        out[kind] = per
    out["idle_exits_per_s"] = idle.get("exits_per_s")
    return out


# --------------------------------------------------------------------------
# Presentation
# --------------------------------------------------------------------------


def _f(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def _pct(reduction: float | None) -> str:
    """-72%, or -99.6% where whole percents would round up to -100%."""
    if reduction is None:
        return "-"
    return f"-{reduction:.1f}%" if round(reduction) >= 100 else f"-{reduction:.0f}%"


def render(results: Json) -> str:
    lines = [f"HVM guest <-> dom0 (Xen {results.get('xen') or '?'} lab, TCG; "
             f"{results.get('summary', {}).get('rr', {}).get('tcp', {}).get('sessions', 0)} "
             "repetition(s)): VM exits inside the transfer"]
    head = f"  {'':24} {'exits/op':>9} {'vs TCP':>8} " + " ".join(
        f"{c:>9}" for c in CATEGORY_ORDER) + f" {'wall':>14}"
    summ = results.get("summary", {})
    for kind, unit in (("rr", "per 64 B round trip"), ("bulk", "per MiB streamed")):
        per = summ.get(kind) or {}
        if not per:
            continue
        lines.append(f" {unit}")
        lines.append(head)
        for label, v in per.items():
            vs = "-" if label == "tcp" else _pct(v.get("exit_reduction_pct"))
            wall = (f"{_f(v['rtt_median_us'], '.0f')} us" if kind == "rr"
                    else f"{_f(v['mb_per_s'])} MB/s")
            lines.append(f"  {LABELS[label]:24} {_f(v['exits_per_op'], '.2f'):>9} {vs:>8} "
                         + " ".join(f"{v['per_op_by_category'][c]:>9.2f}"
                                    for c in CATEGORY_ORDER) + f" {wall:>14}")
    idle = results.get("idle") or {}
    lines.append(f"  idle guest: {_f(idle.get('exits_per_s'), '.0f')} exits/s "
                 "(timer ticks and its agent; included in every window above)")
    if results.get("spin_us"):
        lines.append(f"  long spin: both ends spin up to {results['spin_us']} us before "
                     "blocking (libivcom's default: 30 us)")
    return "\n".join(lines)


def plot(results: Json, ax1: Any, ax2: Any) -> None:
    """Stacked exits per op by category: round trips (left), MiB (right)."""
    summ = results.get("summary", {})
    for ax, kind, ylabel in ((ax1, "rr", "VM exits per 64 B round trip"),
                             (ax2, "bulk", "VM exits per MiB")):
        per = summ.get(kind) or {}
        labels = list(per)
        bottom = [0.0] * len(labels)
        for cat in CATEGORY_ORDER:
            vals = [per[lb]["per_op_by_category"][cat] for lb in labels]
            ax.bar(range(len(labels)), vals, bottom=bottom, label=cat)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_xticks(range(len(labels)), [LABELS[lb] for lb in labels], rotation=10)
        ax.set_ylabel(ylabel)
        ax.set_title(f"HVM guest <-> dom0 ({kind}; Xen lab, TCG SVM)")
        ax.legend(fontsize="small")


__all__ = ["HvmPlan", "analyse", "category", "plot", "render", "run", "tiny_files",
           "window_counts"]
