"""The lab section of `ivcom bench`: IVCOM against netfront TCP and
libxenvchan on real Xen, side by side in one boot.

    from ivcom.lab import bench as labbench
    results = labbench.run(print, quick=True)
    print(labbench.render(results))

One boot runs the `ivcom-bench` scenario (scn-ivcom-bench.sh) between two
PV domUs: a 64 B round-trip session and bulk sessions of every size for
each transport, then a long session per transport with a xentrace window
in its middle.  `analyse()` turns the scenario's files into the results
(pure: tests feed it a results directory).  TCG times are slow and noisy:
only the ratios within the boot and the hypercall counts mean anything.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivcom.lab.errors import LabError

Json = dict[str, Any]
TRANSPORTS = ("ivcom", "tcp", "vchan")
TRACES = ("ivcom-rr", "tcp-rr", "vchan-rr", "ivcom-msg")


@dataclass(frozen=True)
class LabPlan:
    rr_count: int
    sizes: tuple[int, ...]
    bytes_per_session: int
    reps: int
    trace_s: int
    rr_reps: int = 3            # interleaved round-trip rounds

    @staticmethod
    def for_mode(quick: bool) -> LabPlan:
        if quick:
            return LabPlan(300, (64, 65536, 1048576), 2 << 20, 1, 2, 2)
        return LabPlan(2000, (64, 1024, 16384, 262144, 1048576), 8 << 20, 2, 2, 3)

    def env(self) -> dict[str, str]:
        return {"BENCH_RR_COUNT": str(self.rr_count),
                "BENCH_SIZES": " ".join(str(s) for s in self.sizes),
                "BENCH_BYTES": str(self.bytes_per_session),
                "BENCH_REPS": str(self.reps),
                "BENCH_TRACE_S": str(self.trace_s),
                "BENCH_RR_REPS": str(self.rr_reps)}


def run(log: Callable[[str], None], quick: bool = False, *,
        plan: LabPlan | None = None) -> Json:
    """Boot the lab once, run the comparison, return the analysed results."""
    from ivcom.lab.image import build_image
    from ivcom.lab.runner import LabRunner, Scenario
    from ivcom.lab.tools import ivcom_payload

    plan = plan or LabPlan.for_mode(quick)
    log("lab: building (or reusing) the lab image")
    image = build_image(ivcom_payload())
    runner = LabRunner(image, timeout=840.0, scenario_timeout=780.0,
                       status=lambda m: log(m.removeprefix("ivcom lab: ")))
    log("lab: IVCOM vs netfront TCP vs libxenvchan between two PV domUs "
        f"({'quick' if quick else 'full'} plan)")
    res = runner.boot([Scenario.builtin("ivcom-bench")], tag="bench", env=plan.env())
    s = res.scenarios.get("ivcom-bench")
    if s is None or not s.ok:
        why = s.reason if s is not None else "did not run"
        raise LabError(f"lab benchmark failed: {why}", stage="scenario ivcom-bench",
                       log=res.log)
    out = analyse(s.dir, plan)
    out["run_dir"] = str(res.run_dir)
    out["retries"] = list(res.retries) + list(s.retries)
    out["boot_seconds"] = round(res.seconds, 1)
    return out


# --------------------------------------------------------------------------
# Analysis of a results directory
# --------------------------------------------------------------------------


def _summary(values: Sequence[float]) -> Json:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "samples": list(values)}


def _info(d: Path) -> Json:
    text = (d / "info.txt").read_text()
    info: Json = {}
    if m := re.search(r"ia=(\d+) ib=(\d+)", text):
        info["client_domid"], info["server_domid"] = int(m.group(1)), int(m.group(2))
    if m := re.search(r"^cpu_mhz\s*:\s*([0-9.]+)", text, re.M):
        info["cpu_mhz"] = float(m.group(1))
    if m := re.search(r"^xen_version\s*:\s*(\S+)", text, re.M):
        info["xen"] = m.group(1)
    if m := re.search(r"^xen_scheduler\s*:\s*(\S+)", text, re.M):
        info["scheduler"] = m.group(1)
    return info


def load_sessions(d: Path) -> list[Json]:
    path = d / "sessions.jsonl"
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LabError(f"no session results ({path.name}: {exc.strerror})",
                       stage="results") from exc
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(dict(json.loads(line)))
        except ValueError as exc:
            raise LabError(f"{path.name} line {n} is not JSON: {exc}", stage="results") from exc
    return out


def _rtt_us(s: Json) -> tuple[float, float, float]:
    """(median, p10, p90) of a round-trip session in microseconds."""
    if s["transport"] == "ivcom":
        r = s["rtt_ns"]
        return r["median"] / 1e3, r["p10"] / 1e3, r["p90"] / 1e3
    return float(s["median_us"]), float(s["p10_us"]), float(s["p90_us"])


# No round trip between two domains takes under a microsecond here (an event
# alone costs ~100 us under TCG): a shorter one means the guest's clock
# stood still -- it does while the host is overloaded -- and the session's
# times are not to be trusted.
CLOCK_STALL_US = 1.0


def _rtt_min_us(s: Json) -> float | None:
    if s["transport"] == "ivcom":
        v = s["rtt_ns"].get("min")
        return None if v is None else v / 1e3
    v = s.get("min_us")
    return None if v is None else float(v)


def _mb_per_s(s: Json) -> float:
    if s["transport"] == "ivcom":
        return float(s["bytes_per_s"]) / 1e6
    return float(s["mb_per_s"])


def _bulk_size(s: Json) -> int:
    if s["transport"] == "ivcom":
        return int(s["size"])
    return int(s.get("size") or 0)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def analyse(d: Path, plan: LabPlan) -> Json:
    info = _info(d)
    sessions = load_sessions(d)
    # Round trips: the rounds were interleaved; per transport, the median
    # over its sessions of each statistic (one session: its own values).
    per: dict[str, list[Json]] = {}
    for s in sessions:
        if s["kind"] == "rr" and s["transport"] in TRANSPORTS:
            per.setdefault(s["transport"], []).append(s)
    rr: Json = {}
    for t, ss in per.items():
        stats = [_rtt_us(s) for s in ss]
        mins = [m for m in (_rtt_min_us(s) for s in ss) if m is not None]
        rr[t] = {"median_us": statistics.median(x[0] for x in stats),
                 "p10_us": statistics.median(x[1] for x in stats),
                 "p90_us": statistics.median(x[2] for x in stats),
                 "count": ss[0]["count"], "sessions": len(ss),
                 "session_medians_us": [x[0] for x in stats],
                 "clock_stalls": sum(1 for m in mins if m < CLOCK_STALL_US)}
    missing = [t for t in TRANSPORTS if t not in rr]
    if missing:
        raise LabError(f"no round-trip result for {', '.join(missing)}", stage="results")

    # Bulk: the baselines' lines carry no size; they come in BENCH_SIZES order.
    bulk: dict[str, dict[int, list[float]]] = {t: {} for t in TRANSPORTS}
    order: dict[tuple[str, int], int] = {}
    for s in sessions:
        if s["kind"] != "bulk":
            continue
        t = s["transport"]
        if t != "ivcom" and s.get("verified") is not True:
            raise LabError(f"{t} bulk session failed verification", stage="results")
        size = _bulk_size(s)
        if not size:
            k = order.get((t, s["rep"]), 0)
            order[(t, s["rep"])] = k + 1
            size = plan.sizes[k % len(plan.sizes)]
        bulk[t].setdefault(size, []).append(_mb_per_s(s))
    thr: list[Json] = []
    for size in plan.sizes:
        row: Json = {"size": size}
        for t in TRANSPORTS:
            vals = bulk[t].get(size)
            if not vals:
                raise LabError(f"no {t} bulk result for {size} B", stage="results")
            row[t] = _summary(vals)
        row["ivcom_over_tcp"] = _ratio(row["ivcom"]["median"], row["tcp"]["median"])
        row["ivcom_over_vchan"] = _ratio(row["ivcom"]["median"], row["vchan"]["median"])
        thr.append(row)

    traces = {name: trace_counts(d, name, sessions, info, plan)
              for name in TRACES if (d / f"trace-{name}.xt").is_file()}
    return {
        "xen": info.get("xen"),
        "scheduler": info.get("scheduler"),
        "domids": {"client": info.get("client_domid"), "server": info.get("server_domid")},
        "plan": plan.__dict__ | {"sizes": list(plan.sizes)},
        "rr": rr,
        "rr_ratios": {"ivcom_over_tcp": _ratio(rr["ivcom"]["median_us"],
                                               rr["tcp"]["median_us"]),
                      "ivcom_over_vchan": _ratio(rr["ivcom"]["median_us"],
                                                 rr["vchan"]["median_us"])},
        "throughput": thr,
        "traces": traces,
    }


def trace_counts(d: Path, name: str, sessions: list[Json], info: Json,
                 plan: LabPlan) -> Json:
    """Hypercalls per domain in one xentrace window, per 1000 operations.

    The window lies inside a session whose rate is known (round trips: one
    per median round-trip time; the message stream: bytes/s / 64), so the
    operations in it are estimated as rate x window length (TSC span at
    Xen's cpu_mhz; the nominal length if that is implausible).
    """
    from ivcom_trace import xentrace as xt

    path = d / f"trace-{name}.xt"
    try:
        summ = xt.summarize(xt.decode_file(path))
    except xt.TraceFormatError as exc:
        raise LabError(f"{path.name}: {exc}", stage="results") from exc
    transport, kind = name.split("-", 1)
    sess = [s for s in sessions if s["transport"] == transport and s["kind"] == f"trace-{kind}"]
    if not sess:
        raise LabError(f"no session result for trace {name}", stage="results")
    s = sess[0]
    if kind == "rr":
        rate = 1e6 / _rtt_us(s)[0]
        unit = "round trips"
    else:
        rate = float(s["bytes_per_s"]) / 64.0
        unit = "messages"
    window = float(plan.trace_s)
    mhz = info.get("cpu_mhz")
    if mhz and summ.first_tsc is not None and summ.last_tsc is not None:
        tsc_s = (summ.last_tsc - summ.first_tsc) / (mhz * 1e6)
        if 0.5 * plan.trace_s <= tsc_s <= 2.0 * plan.trace_s:
            window = tsc_s
    ops = rate * window
    names = {0: "dom0", info.get("client_domid"): "client", info.get("server_domid"): "server"}
    doms: Json = {}
    for domid, ds in summ.domains.items():
        if domid not in names:
            continue
        evt = sum(ds.evtchn_ops.values())
        grant = sum(ds.grant_ops.values())
        total = sum(ds.hypercalls.values())
        doms[names[domid]] = {
            "domid": domid,
            "hypercalls": total,
            "event_channel_op": evt,
            "evtchn_send": ds.evtchn_sends,
            "grant_table_op": grant,
            "per_1000": {k: (1000.0 * v / ops if ops else None) for k, v in
                         (("hypercalls", total), ("event_channel_op", evt),
                          ("evtchn_send", ds.evtchn_sends), ("grant_table_op", grant))},
        }
    out: Json = {"unit": unit, "window_s": window, "rate_per_s": rate, "ops_in_window": ops,
                 "records": summ.records, "lost_records": summ.lost_records,
                 "domains": doms}
    if kind == "msg":
        # The sink's own count of events it sent (space notifications).
        out["sink_notifies_per_1000"] = 1000.0 * s["notifies_sent"] / max(1, s["receives"])
    return out


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def _size(n: int) -> str:
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k and n % k == 0:
            return f"{n // k} {unit}"
    return f"{n} B"


def render(results: Json) -> str:
    """A plain-text table of the lab results."""
    lines = [f"Lab (Xen {results.get('xen') or '?'} under QEMU TCG, two PV domUs, one boot; "
             "ratios within the boot)", ""]
    rr = results["rr"]
    lines.append("64 B round trip       median us    p10 us    p90 us")
    for t in TRANSPORTS:
        r = rr[t]
        lines.append(f"  {t:<18} {r['median_us']:>10.1f} {r['p10_us']:>9.1f} {r['p90_us']:>9.1f}")
    rat = results["rr_ratios"]
    lines.append(f"  IVCOM/netfront {_fmt(rat['ivcom_over_tcp'])}x   "
                 f"IVCOM/vchan {_fmt(rat['ivcom_over_vchan'])}x   (lower is better)")
    n = max((rr[t].get("sessions", 1) for t in TRANSPORTS), default=1)
    if n > 1:
        lines.append(f"  (median of {n} interleaved sessions per transport; session medians: "
                     + "; ".join(f"{t} " + " ".join(f"{v:.0f}" for v in
                                                    rr[t].get("session_medians_us", []))
                                 for t in TRANSPORTS) + ")")
    stalls = sum(rr[t].get("clock_stalls", 0) for t in TRANSPORTS)
    if stalls:
        lines.append(f"  WARNING: the guest clock stood still in {stalls} round-trip session(s) "
                     f"(a round trip under {CLOCK_STALL_US:g} us): the host was overloaded and "
                     "these times are unreliable")
    lines.append("")
    lines.append("throughput MB/s (median [min-max])")
    lines.append(f"  {'size':>8}  {'IVCOM':>20}  {'netfront TCP':>20}  {'libxenvchan':>20}"
                 "  /TCP   /vchan")
    for row in results["throughput"]:
        cells = []
        for t in TRANSPORTS:
            s = row[t]
            cells.append(f"{s['median']:.1f} [{s['min']:.1f}-{s['max']:.1f}]")
        lines.append(f"  {_size(row['size']):>8}  {cells[0]:>20}  {cells[1]:>20}  "
                     f"{cells[2]:>20}  {_fmt(row['ivcom_over_tcp'], '.2f'):>5}  "
                     f"{_fmt(row['ivcom_over_vchan'], '.2f'):>6}")
    traces = results.get("traces") or {}
    if traces:
        lines.append("")
        lines.append("hypercalls per 1000 operations (xentrace window inside the session)")
        lines.append(f"  {'session':<10} {'domain':<7} {'total':>9} {'evtchn':>9} "
                     f"{'send':>9} {'grant':>7}   window")
        for name, tr in traces.items():
            first = True
            for role in ("client", "server", "dom0"):
                dd = tr["domains"].get(role)
                if dd is None:
                    continue
                p = dd["per_1000"]
                tail = (f"  {tr['window_s']:.2f} s, ~{tr['ops_in_window']:.0f} {tr['unit']}"
                        if first else "")
                lines.append(f"  {name if first else '':<10} {role:<7} "
                             f"{_fmt(p['hypercalls'], '.0f'):>9} "
                             f"{_fmt(p['event_channel_op'], '.1f'):>9} "
                             f"{_fmt(p['evtchn_send'], '.1f'):>9} "
                             f"{_fmt(p['grant_table_op'], '.1f'):>7}{tail}")
                first = False
        msg = traces.get("ivcom-msg")
        if msg and "sink_notifies_per_1000" in msg:
            lines.append(f"  IVCOM 64 B stream: the sink sent {msg['sink_notifies_per_1000']:.2f} "
                         "events per 1000 messages")
    for note in results.get("retries") or []:
        lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"
