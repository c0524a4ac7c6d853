"""The lab section of `ivcom bench`: IVCOM against netfront TCP and
libxenvchan on real Xen, side by side in one boot.

    from ivcom.lab import bench as labbench
    results = labbench.run(print, quick=True)
    print(labbench.render(results))

One boot runs the `ivcom-bench` scenario (scn-ivcom-bench.sh) between two
PV domUs: a 64 B round-trip session and bulk sessions of every size for
each transport, then a long session per transport with a xentrace window
in its middle.  The same boot then runs `guest-bench` (scn-guest-bench.sh):
the tiny guest (minios-app) beside a Linux PV domU -- time from `xl
create` to ready, image size, memory -- and IVCOM tiny<->tiny with the
same plan, set against the Linux<->Linux IVCOM sessions of ivcom-bench;
and `kv-bench` (scn-kv-bench.sh, analysed by ivcom.lab.bench_kv): the kv
service as a tiny domain, as a Linux process over IVCOM and over netfront
TCP, with 1 and 4 client domUs, and the issue's targets as verdict lines.
`analyse()` turns the scenarios' files into the results (pure: tests feed
it results directories).  TCG times are slow and noisy: only the ratios
within the boot and the hypercall counts mean anything.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ivcom.lab import jsonl
from ivcom.lab.errors import LabError

Json = dict[str, Any]
_Line = jsonl.Line
TRANSPORTS = ("ivcom", "tcp", "vchan")
TRACES = ("ivcom-rr", "tcp-rr", "vchan-rr", "ivcom-msg")

# The tiny guest's part (scn-guest-bench.sh).
GUEST_SCENARIO = "guest-bench"
GUEST_APPS = ("echo", "pingpong", "source", "sink")
GUEST_RESULTS = "guest-bench.jsonl"
GUEST_STAGE = "guest results"
GUEST_KINDS = ("plan", "image", "boot", "rr", "bulk")
TINY_MAX_SIZE = 1 << 20      # the tiny apps' size= limit
GUEST_MIN_SIZES = (64, 65536)   # measured tiny<->tiny whatever the plan
# Budget the guest scenario adds to the boot (its figures take ~2 min).
GUEST_BOOT_S = 360.0


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

    @property
    def guest_sizes(self) -> tuple[int, ...]:
        """The tiny guest's stream sizes: the plan's (those its apps take,
        1 B .. 1 MiB), and always 64 B and 64 KiB."""
        return tuple(sorted({s for s in self.sizes if 1 <= s <= TINY_MAX_SIZE}
                            | set(GUEST_MIN_SIZES)))

    def env(self) -> dict[str, str]:
        return {"BENCH_RR_COUNT": str(self.rr_count),
                "GUEST_BENCH_SIZES": " ".join(str(s) for s in self.guest_sizes),
                "BENCH_SIZES": " ".join(str(s) for s in self.sizes),
                "BENCH_BYTES": str(self.bytes_per_session),
                "BENCH_REPS": str(self.reps),
                "BENCH_TRACE_S": str(self.trace_s),
                "BENCH_RR_REPS": str(self.rr_reps)}


def guest_images(names: Sequence[str],
                 log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The tiny guest's images (file name -> path in build/guest), built
    with `make guest` if any is missing."""
    from ivcom.lab.image import build_root, repo_top

    out = build_root() / "guest"
    images = {n: out / n for n in names}
    top = repo_top()
    missing = [n for n, p in images.items() if not p.is_file()]
    if missing:
        if top is None or not (top / "minios-app" / "Makefile").is_file():
            raise LabError(f"{', '.join(missing)} missing and no minios-app source tree "
                           "to build them from", stage="guest")
        if log is not None:
            log(f"lab: building the tiny guest images (make guest): {', '.join(missing)}")
        try:
            proc = subprocess.run(["make", "-C", str(top), "guest"], capture_output=True,
                                  text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"cannot run make guest: {exc}", stage="guest") from exc
        if proc.returncode != 0:
            # The compiler's or linker's last word, not make's own "***" line.
            out_lines = (proc.stdout + "\n" + proc.stderr).strip().splitlines() or ["?"]
            told = [ln for ln in out_lines if ln.strip() and not re.match(r"make(\[\d+\])?: ", ln)]
            tail = (told or out_lines)[-1].strip()
            raise LabError(f"make guest failed (status {proc.returncode}): {tail[:200]}",
                           stage="guest")
        still = [n for n, p in images.items() if not p.is_file()]
        if still:
            raise LabError(f"make guest did not build {', '.join(still)}", stage="guest")
    return images


def guest_template(name: str = "guest.cfg.in") -> Path:
    """An xl config template of the tiny guest (minios-app/NAME)."""
    from ivcom.lab.image import repo_top

    top = repo_top()
    template = (top / "minios-app" / name) if top is not None else None
    if template is None or not template.is_file():
        raise LabError(f"minios-app/{name} not found (not running from a source tree)",
                       stage="guest")
    return template


def guest_files(log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The tiny guest's images and xl config template, as the runner's
    shared files; the images are built (`make guest`) if any is missing."""
    images = guest_images([f"ivcom-guest-{a}.elf" for a in GUEST_APPS], log)
    return {**images, "guest.cfg.in": guest_template()}


def run(log: Callable[[str], None], quick: bool = False, *,
        plan: LabPlan | None = None) -> Json:
    """Boot the lab once, run the comparison, return the analysed results."""
    from ivcom.lab import bench_kv
    from ivcom.lab.image import build_image
    from ivcom.lab.runner import LabRunner, Scenario
    from ivcom.lab.tools import ivcom_payload

    plan = plan or LabPlan.for_mode(quick)
    files = guest_files(log)
    scns = [Scenario.builtin("ivcom-bench"), Scenario.builtin(GUEST_SCENARIO)]
    kv_skip = None
    try:
        files.update(bench_kv.files(log))
        scns.append(Scenario.builtin(bench_kv.SCENARIO))
    except LabError as exc:
        # The other figures stand on their own: say why kv's are missing.
        kv_skip = f"not run: {exc}"
        log(f"lab: the kv benchmark is {kv_skip}")
    log("lab: building (or reusing) the lab image")
    image = build_image(ivcom_payload())
    runner = LabRunner(image, timeout=840.0 + GUEST_BOOT_S + bench_kv.BOOT_S,
                       scenario_timeout=780.0,
                       status=lambda m: log(m.removeprefix("ivcom lab: ")))
    log("lab: IVCOM vs netfront TCP vs libxenvchan between two PV domUs, then the tiny "
        f"guest ({'quick' if quick else 'full'} plan)")
    lib = resources.files("ivcom.lab").joinpath("guest-lib.sh")
    with resources.as_file(lib) as lib_path:
        res = runner.boot(scns, tag="bench",
                          env={**plan.env(), **bench_kv.KvPlan.for_mode(quick).env()},
                          files={**files, "guest-lib.sh": lib_path})
    s = res.scenarios.get("ivcom-bench")
    if s is None or not s.ok:
        why = s.reason if s is not None else "did not run"
        raise LabError(f"lab benchmark failed: {why}", stage="scenario ivcom-bench",
                       log=res.log)
    g = res.scenarios.get(GUEST_SCENARIO)
    gdir = g.dir if g is not None else None
    gfail = None if g is not None and g.ok else (
        (g.reason or f"exit status {g.rc}") if g is not None else "did not run")
    try:
        out = analyse(s.dir, plan, guest_dir=gdir, guest_failure=gfail)
    except LabError as exc:
        if exc.stage != GUEST_STAGE:
            raise
        # The Linux figures stand on their own: keep them, say why the
        # guest's are missing.
        out = analyse(s.dir, plan, guest_failure=str(exc))
    k = res.scenarios.get(bench_kv.SCENARIO)
    kfail = None if k is not None and k.ok else (
        (k.reason or f"exit status {k.rc}") if k is not None else kv_skip or "did not run")
    try:
        out["kv"] = bench_kv.analyse(k.dir if k is not None else None, kfail)
    except LabError as exc:
        out["kv"] = bench_kv.analyse(None, str(exc))
    for v in out["kv"]["verdicts"]:
        log(f"kv: {bench_kv.verdict_line(v)}")
    out["run_dir"] = str(res.run_dir)
    out["retries"] = (list(res.retries) + list(s.retries) + list(g.retries if g else ())
                      + list(k.retries if k else ()))
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


def analyse(d: Path, plan: LabPlan, *, guest_dir: Path | None = None,
            guest_failure: str | None = None) -> Json:
    """The results of one boot: `d` is ivcom-bench's results directory,
    `guest_dir` guest-bench's (None: it did not run) and `guest_failure`
    why that scenario failed, if it did."""
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
        "plan": plan.__dict__ | {"sizes": list(plan.sizes),
                                 "guest_sizes": list(plan.guest_sizes)},
        "rr": rr,
        "rr_ratios": {"ivcom_over_tcp": _ratio(rr["ivcom"]["median_us"],
                                               rr["tcp"]["median_us"]),
                      "ivcom_over_vchan": _ratio(rr["ivcom"]["median_us"],
                                                 rr["vchan"]["median_us"])},
        "throughput": thr,
        "traces": traces,
        "guest": analyse_guest(guest_dir, guest_failure, rr["ivcom"], thr, plan),
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
    else:
        out["self_sends_per_1000"] = _self_sends(d, name, s)
    return out


_VCHAN_EVENTS = re.compile(r'^lab-vchan: events \{.*"notifies": (\d+)\}', re.M)


def _self_sends(d: Path, name: str, s: Json) -> Json:
    """Events each end of a traced round-trip session counted itself
    sending, per 1000 round trips: libivcom's notifies_sent (the client's
    JSON), lab-vchan's interposed xenevtchn_notify() count (both ends).
    TCP's events are sent inside netfront/netback: none self-counted."""
    count = int(s.get("count") or 0)
    out: Json = {}
    if not count:
        return out
    if s["transport"] == "ivcom" and "notifies_sent" in s:
        out["client"] = 1000.0 * int(s["notifies_sent"]) / count
    elif s["transport"] == "vchan":
        for role in ("client", "server"):
            try:
                m = _VCHAN_EVENTS.search((d / f"trace-{name}.{role}").read_text())
            except OSError:
                m = None
            if m:
                out[role] = 1000.0 * int(m.group(1)) / count
    return out


# --------------------------------------------------------------------------
# The tiny guest (guest-bench)
# --------------------------------------------------------------------------


def load_guest_lines(path: Path) -> list[_Line]:
    """guest-bench.jsonl: JSON objects with a known "kind" and a boolean
    "ok"; anything else is a LabError naming the file and line."""
    out = jsonl.read(path, GUEST_KINDS, GUEST_STAGE)
    for line in out:
        rec = line.rec
        if not rec["ok"]:
            line.text("reason")
        if rec["kind"] == "boot":
            line.text("guest")
        elif rec["kind"] in ("rr", "bulk"):
            line.num("size")
            line.num("rep")
        elif rec["kind"] == "image":
            line.text("app")
            line.num("bytes")
    return out


def _failure_text(ln: _Line) -> str:
    r = ln.rec
    if r["kind"] == "boot":
        what = f"boot {r.get('guest', '?')} run {r.get('run', '?')}"
    else:
        size = r.get("size")
        what = (f"{r['kind']} {_size(size) if isinstance(size, int) else '?'} "
                f"rep {r.get('rep', '?')}")
    return f"{what}: {r['reason']}"


def _boot_figures(lines: list[_Line], guest: str) -> Json | None:
    runs = [ln for ln in lines if ln.rec["kind"] == "boot" and ln.rec["ok"]
            and ln.rec.get("guest") == guest]
    if not runs:
        return None
    ms = [ln.num("ms") for ln in runs]
    last = runs[-1]
    out: Json = {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                 "runs_ms": ms, "memory_mib": last.num("memory_mib"),
                 "image": last.rec.get("image"), "image_bytes": int(last.num("image_bytes"))}
    if "ramdisk_bytes" in last.rec:
        out["ramdisk_bytes"] = int(last.num("ramdisk_bytes"))
    return out


def _tiny_rr(lines: list[_Line]) -> Json | None:
    ss = [ln for ln in lines if ln.rec["kind"] == "rr" and ln.rec["ok"]]
    if not ss:
        return None
    med, p10, p90, mean = [], [], [], []
    backsteps = 0
    for ln in ss:
        r = ln.obj("result")
        med.append(ln.num("rtt_median_ns", r) / 1e3)
        p10.append(ln.num("rtt_p10_ns", r) / 1e3)
        p90.append(ln.num("rtt_p90_ns", r) / 1e3)
        mean.append(ln.num("rtt_mean_ns", r) / 1e3)
        backsteps += int(r.get("clock_backsteps") or 0)
    return {"median_us": statistics.median(med), "p10_us": statistics.median(p10),
            "p90_us": statistics.median(p90), "mean_us": statistics.median(mean),
            "count": int(ss[0].num("count", ss[0].obj("result"))), "sessions": len(ss),
            "session_medians_us": med, "clock_backsteps": backsteps}


def _tiny_bulk(lines: list[_Line]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for ln in lines:
        if ln.rec["kind"] != "bulk" or not ln.rec["ok"]:
            continue
        size = int(ln.num("size"))
        r = ln.obj("result")
        if r.get("mode") != "stream":
            raise ln.bad(f"bulk session in mode {r.get('mode')!r}, not stream")
        if ln.num("bytes", r) <= 0:
            raise ln.bad("bulk session moved no bytes")
        out.setdefault(size, []).append(ln.num("bytes_per_s", r) / 1e6)
    return out


def analyse_guest(gdir: Path | None, failure: str | None, linux_rr: Json,
                  linux_thr: list[Json], plan: LabPlan) -> Json:
    """The "guest" block: boot figures (tiny vs Linux PV), image sizes and
    IVCOM tiny<->tiny beside the Linux<->Linux IVCOM figures of the same
    boot.  A failed or missing scenario gives "ok": false and the reason,
    with whatever figures it left."""
    block: Json = {"ok": False, "reason": failure, "scenario_error": failure, "failures": []}
    path = gdir / GUEST_RESULTS if gdir is not None else None
    if path is None or not path.is_file():
        if failure is None:
            failure = ("the guest scenario did not run" if gdir is None
                       else f"no {GUEST_RESULTS} in the guest scenario's results")
        block["reason"] = failure
        return block
    lines = load_guest_lines(path)
    failures = [_failure_text(ln) for ln in lines if not ln.rec["ok"]]
    block["failures"] = failures
    block["images"] = {ln.text("app"): int(ln.num("bytes")) for ln in lines
                       if ln.rec["kind"] == "image"}

    tiny_boot = _boot_figures(lines, "tiny")
    linux_boot = _boot_figures(lines, "linux-pv")
    block["boot"] = {
        "tiny": tiny_boot, "linux_pv": linux_boot,
        "linux_over_tiny": _ratio(linux_boot["median_ms"] if linux_boot else None,
                                  tiny_boot["median_ms"] if tiny_boot else None),
    }

    tiny_rr = _tiny_rr(lines)
    block["rr"] = {
        "tiny": tiny_rr,
        "linux": {k: linux_rr[k] for k in ("median_us", "p10_us", "p90_us", "count",
                                           "sessions") if k in linux_rr},
        "tiny_over_linux": _ratio(tiny_rr["median_us"] if tiny_rr else None,
                                  linux_rr["median_us"]),
    }

    # Per size the tiny pair moved: beside the Linux<->Linux IVCOM figure of
    # that size when the plan has one (a common size), alone otherwise.
    bulk = _tiny_bulk(lines)
    linux_by_size = {row["size"]: row["ivcom"] for row in linux_thr}
    thr = []
    for size in sorted(bulk):
        tiny = _summary(bulk[size])
        linux = linux_by_size.get(size)
        thr.append({"size": size, "tiny": tiny, "linux": linux,
                    "tiny_over_linux": _ratio(tiny["median"],
                                              linux["median"] if linux else None)})
    block["throughput"] = thr

    # Everything the plan asked for, measured or accounted for as failed.
    failed_sizes = {ln.rec.get("size") for ln in lines
                    if ln.rec["kind"] == "bulk" and not ln.rec["ok"]}
    missing = []
    if tiny_boot is None:
        missing.append("tiny boot")
    if linux_boot is None:
        missing.append("Linux PV boot")
    if tiny_rr is None:
        missing.append("tiny<->tiny round trips")
    missing += [f"tiny<->tiny stream {_size(sz)}" for sz in plan.guest_sizes
                if sz not in bulk and sz not in failed_sizes]
    if failure is not None:
        block["reason"] = failure
    elif failures:
        block["reason"] = f"{len(failures)} measurement(s) failed, first: {failures[0]}"
    elif missing:
        block["reason"] = f"not measured: {', '.join(missing)}"
    block["ok"] = block["reason"] is None
    return block


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
        lines.append("  evtchn: every event_channel_op (Xen 4.17 records no sub-op); "
                     "self: events the end")
        lines.append("  counted itself sending in the whole session (libivcom, lab-vchan)")
        lines.append(f"  {'session':<10} {'domain':<7} {'total':>9} {'evtchn':>9} "
                     f"{'self':>9} {'grant':>7}   window")
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
                             f"{_fmt((tr.get('self_sends_per_1000') or {}).get(role), '.1f'):>9} "
                             f"{_fmt(p['grant_table_op'], '.1f'):>7}{tail}")
                first = False
        msg = traces.get("ivcom-msg")
        if msg and "sink_notifies_per_1000" in msg:
            lines.append(f"  IVCOM 64 B stream: the sink sent {msg['sink_notifies_per_1000']:.2f} "
                         "events per 1000 messages")
    guest = results.get("guest")
    if guest is not None:
        lines.append("")
        lines.extend(render_guest(guest))
    if results.get("kv") is not None:
        from ivcom.lab import bench_kv

        lines.append("")
        lines.extend(bench_kv.render(results["kv"]))
    for note in results.get("retries") or []:
        lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def render_guest(g: Json) -> list[str]:
    """The tiny guest's table: boot figures, then IVCOM tiny<->tiny beside
    Linux<->Linux."""
    lines = ["Tiny guest (minios-app) vs Linux PV domU, same boot"]
    boot = g.get("boot")
    if boot is None:
        lines.append(f"  not measured: {g.get('reason') or '?'}")
        return lines
    tiny, linux = boot.get("tiny") or {}, boot.get("linux_pv") or {}
    lines.append(f"  {'':<30} {'tiny':>12} {'Linux PV':>12}   Linux/tiny")
    lines.append(f"  {'xl create -> ready (ms)':<30} {_fmt(tiny.get('median_ms'), '.0f'):>12} "
                 f"{_fmt(linux.get('median_ms'), '.0f'):>12}   "
                 f"{_fmt(boot.get('linux_over_tiny'))}x")
    rd = linux.get("ramdisk_bytes")
    lines.append(f"  {'image':<30} {_bytes(tiny.get('image_bytes')):>12} "
                 f"{_bytes(linux.get('image_bytes')):>12}"
                 + (f"   (+ {_bytes(rd)} initramfs)" if rd is not None else ""))
    lines.append(f"  {'memory in the xl config (MiB)':<30} "
                 f"{_fmt(tiny.get('memory_mib'), '.0f'):>12} "
                 f"{_fmt(linux.get('memory_mib'), '.0f'):>12}")
    if tiny.get("runs_ms"):
        lines.append("  (tiny: median of " + str(len(tiny["runs_ms"])) + " runs: "
                     + " ".join(f"{v:.0f}" for v in tiny["runs_ms"]) + " ms)")
    if g.get("images"):
        lines.append("  (tiny images: " + ", ".join(f"{app} {_bytes(n)}" for app, n in
                                                    g["images"].items()) + ")")
    lines.append("")
    lines.append("IVCOM tiny<->tiny vs Linux<->Linux (domU to domU, same boot)")
    rr = g.get("rr") or {}
    trr, lrr = rr.get("tiny") or {}, rr.get("linux") or {}
    lines.append(f"  {'64 B round trip':<22} {'median us':>10} {'p10 us':>9} {'p90 us':>9}")
    for name, r in (("tiny<->tiny", trr), ("Linux<->Linux", lrr)):
        lines.append(f"  {name:<22} {_fmt(r.get('median_us'), '.1f'):>10} "
                     f"{_fmt(r.get('p10_us'), '.1f'):>9} {_fmt(r.get('p90_us'), '.1f'):>9}")
    lines.append(f"  tiny/Linux {_fmt(rr.get('tiny_over_linux'))}x   (lower is better)")
    if trr:
        lines.append(f"  (tiny: median of {trr['sessions']} session(s) of {trr['count']}; "
                     f"mean {trr['mean_us']:.1f} us = total time / count, robust to the "
                     "guest's coarse clock)")
    thr = g.get("throughput") or []
    if thr:
        lines.append("  stream MB/s (median [min-max])")
        lines.append(f"  {'size':>8}  {'tiny<->tiny':>22}  {'Linux<->Linux':>22}  tiny/Linux")
        for row in thr:
            cells = [f"{row[k]['median']:.1f} [{row[k]['min']:.1f}-{row[k]['max']:.1f}]"
                     if row[k] else "(not in the plan)" for k in ("tiny", "linux")]
            lines.append(f"  {_size(row['size']):>8}  {cells[0]:>22}  {cells[1]:>22}  "
                         f"{_fmt(row['tiny_over_linux']):>10}")
    for f in g.get("failures") or []:
        lines.append(f"  failed: {f}")
    if g.get("scenario_error"):
        lines.append(f"  the guest scenario failed: {g['scenario_error']}")
    elif not g.get("ok") and not g.get("failures"):
        lines.append(f"  incomplete: {g.get('reason') or '?'}")
    return lines
