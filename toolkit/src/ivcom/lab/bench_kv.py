"""The kv part of `ivcom bench`'s lab section: the kv service three ways in
one boot (scn-kv-bench.sh) -- the tiny kv service domain over IVCOM, the
same service code as a Linux process in a PV domU over IVCOM, and that
Linux service over TCP through netfront -- each measured by the same Linux
PV client domUs with 1 client and with 4 at once; and the tiny domain's
create-to-serving time, image size and memory.

    from ivcom.lab import bench_kv
    block = bench_kv.analyse(results_dir)       # pure: tests feed it files
    print("\\n".join(bench_kv.render(block)))

Figures per target and client count, per round: ops/s (4 clients: the
sum of the four benches' own ops/s; they started together at one
CLOCK_REALTIME instant, and the spread of their actual starts is kept),
latency p50 (4 clients: the median of the four p50s) and p99 (the worst
of the four p99s).  Over rounds: the median, with min and max.

Targets (issue 17), one verdict line each, KTAP-style as the services
section prints them: tiny kv ops/s at least the Linux-domU IVCOM
service's and at least 5x the netfront TCP service's (1 and 4 clients);
image at most 100 KiB; memory at most 4 MiB; serving within 0.5 s of `xl
create` (the median of the rounds).  A figure that was not measured is a
SKIP.  TCG times are slow and noisy: only the ratios mean anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivcom.lab import jsonl

Json = dict[str, Any]
_Line = jsonl.Line

SCENARIO = "kv-bench"
RESULTS = "kv-bench.jsonl"
STAGE = "kv results"
KINDS = ("plan", "image", "serving", "bench", "service")
TARGETS = ("tiny", "linux-ivcom", "linux-tcp")
LABELS = {"tiny": "tiny kv domain (IVCOM)", "linux-ivcom": "Linux domU (IVCOM)",
          "linux-tcp": "Linux domU (netfront TCP)"}
CLIENTS = (1, 4)
IMAGE = "ivcom-guest-kv.elf"
# The targets.
OVER_TCP = 5.0
IMAGE_MAX = 100 * 1024
MEMORY_MAX_MIB = 4
SERVING_MAX_MS = 500.0
# Budget the scenario adds to the boot (5 domUs, 3 targets x 2 runs a round).
BOOT_S = 540.0


@dataclass(frozen=True)
class KvPlan:
    seconds: int
    rounds: int

    @staticmethod
    def for_mode(quick: bool) -> KvPlan:
        return KvPlan(5, 1) if quick else KvPlan(10, 2)

    def env(self) -> dict[str, str]:
        return {"KVB_SECONDS": str(self.seconds), "KVB_ROUNDS": str(self.rounds)}


def files(log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The shared files the scenario needs beside guest-bench's: the tiny
    kv image (built with `make guest` if missing) and the xl template."""
    from ivcom.lab.bench import guest_images, guest_template

    return {**guest_images([IMAGE], log), "guest.cfg.in": guest_template()}


def load_lines(path: Path) -> list[_Line]:
    """kv-bench.jsonl: JSON objects with a known "kind", a boolean "ok"
    and what that kind carries; anything else is a LabError naming the
    file and line."""
    out = jsonl.read(path, KINDS, STAGE)
    for line in out:
        rec = line.rec
        kind = rec["kind"]
        if kind != "plan" and line.text("target") not in TARGETS:
            raise line.bad(f"unknown target {rec['target']!r}")
        if not rec["ok"]:
            line.text("reason" if kind != "service" else "result")
        elif kind == "image":
            line.num("bytes")
        elif kind == "serving":
            line.num("ms")
            line.num("memory_mib")
        elif kind == "bench":
            if int(line.num("clients")) not in CLIENTS:
                raise line.bad(f"clients {rec['clients']} (not 1 or 4)")
            r = line.obj("result")
            for key in ("ops_per_s", "count", "wall_begin"):
                line.num(key, r)
            lat = r.get("lat_ns")
            if not isinstance(lat, dict):
                raise line.bad("'lat_ns' missing or not an object")
            line.num("p50", lat)
            line.num("p99", lat)
            if line.num("count", r) <= 0:
                raise line.bad("a bench that made no request")
        if kind in ("serving", "bench", "service"):
            line.num("round")
    return out


def _summary(values: Sequence[float]) -> Json:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "samples": list(values)}


def _runs(lines: list[_Line], target: str, clients: int) -> Json | None:
    """The figures of one target with 1 or 4 clients, over its rounds: a
    round counts only when all its clients' benches succeeded."""
    rounds: dict[int, list[_Line]] = {}
    failed: set[int] = set()
    for ln in lines:
        r = ln.rec
        if r["kind"] != "bench" or r["target"] != target or int(r["clients"]) != clients:
            continue
        rnd = int(ln.num("round"))
        if not r["ok"]:
            failed.add(rnd)
        else:
            rounds.setdefault(rnd, []).append(ln)
    ops, p50, p99, spread = [], [], [], []
    for rnd, ls in sorted(rounds.items()):
        if rnd in failed or len(ls) != clients:
            continue
        res = [ln.obj("result") for ln in ls]
        ops.append(sum(float(x["ops_per_s"]) for x in res))
        p50.append(statistics.median(float(x["lat_ns"]["p50"]) for x in res) / 1e3)
        p99.append(max(float(x["lat_ns"]["p99"]) for x in res) / 1e3)
        begins = [float(x["wall_begin"]) for x in res]
        spread.append(max(begins) - min(begins))
    if not ops:
        return None
    return {"ops_per_s": _summary(ops), "p50_us": _summary(p50), "p99_us": _summary(p99),
            "rounds": len(ops), "start_spread_s": max(spread)}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _median(block: Json, target: str, clients: int) -> float | None:
    fig = (block.get("targets") or {}).get(target, {}).get(str(clients))
    return None if fig is None else float(fig["ops_per_s"]["median"])


def analyse(d: Path | None, failure: str | None = None) -> Json:
    """The "kv" block from the scenario's results directory `d` (None: it
    did not run); `failure` is why the scenario failed, if it did.  What it
    measured is kept either way, with "ok": false and the reason."""
    block: Json = {"ok": False, "reason": failure, "scenario_error": failure, "failures": []}
    path = d / RESULTS if d is not None else None
    if path is None or not path.is_file():
        block["reason"] = failure or ("the kv scenario did not run" if d is None
                                      else f"no {RESULTS} in the kv scenario's results")
        block["verdicts"] = verdicts(block)
        return block
    lines = load_lines(path)
    plan = next((ln.rec for ln in lines if ln.rec["kind"] == "plan"), None)
    block["plan"] = plan
    failures = []
    for ln in lines:
        r = ln.rec
        if not r["ok"]:
            what = f"{r['kind']} {r.get('target', '?')} round {r.get('round', '?')}"
            if r["kind"] == "bench":
                what += f", {r.get('clients', '?')} client(s), {r.get('client', '?')}"
            failures.append(f"{what}: {r.get('reason') or r.get('result')}")
    block["failures"] = failures
    targets: Json = {}
    for t in TARGETS:
        per = {str(n): fig for n in CLIENTS if (fig := _runs(lines, t, n)) is not None}
        if per:
            targets[t] = per
    block["targets"] = targets
    ratios: Json = {}
    for n in CLIENTS:
        tiny = _median(block, "tiny", n)
        ratios[str(n)] = {"tiny_over_linux_ivcom": _ratio(tiny, _median(block, "linux-ivcom", n)),
                          "tiny_over_linux_tcp": _ratio(tiny, _median(block, "linux-tcp", n)),
                          "linux_ivcom_over_tcp": _ratio(_median(block, "linux-ivcom", n),
                                                         _median(block, "linux-tcp", n))}
    block["ratios"] = ratios
    serving = [ln for ln in lines if ln.rec["kind"] == "serving" and ln.rec["ok"]]
    image = next((ln for ln in lines if ln.rec["kind"] == "image" and ln.rec["ok"]), None)
    block["tiny"] = {
        "serving_ms": _summary([ln.num("ms") for ln in serving]) if serving else None,
        "memory_mib": serving[-1].num("memory_mib") if serving else None,
        "image_bytes": int(image.num("bytes")) if image else None,
    }
    missing = [f"{t} with {n} client(s)" for t in TARGETS for n in CLIENTS
               if str(n) not in targets.get(t, {})]
    if failure is not None:
        block["reason"] = failure
    elif failures:
        block["reason"] = f"{len(failures)} measurement(s) failed, first: {failures[0]}"
    elif missing:
        block["reason"] = f"not measured: {', '.join(missing)}"
    block["ok"] = block["reason"] is None
    block["verdicts"] = verdicts(block)
    return block


def _verdict(target: str, value: float | None, ok: bool | None, detail: str) -> Json:
    return {"target": target, "value": value, "ok": ok, "detail": detail}


def verdicts(block: Json) -> list[Json]:
    """The issue's targets, in order; ok None (a SKIP) when not measured."""
    out: list[Json] = []
    for n in CLIENTS:
        tiny = _median(block, "tiny", n)
        for other, factor, name in (("linux-ivcom", 1.0, "the Linux-domU IVCOM service's"),
                                    ("linux-tcp", OVER_TCP, "the netfront TCP service's")):
            base = _median(block, other, n)
            times = "" if factor == 1.0 else f"{factor:g}x "
            target = f"tiny kv ops/s with {n} client(s) at least {times}{name}"
            if tiny is None or base is None or base <= 0:
                out.append(_verdict(target, None, None, "not measured"))
                continue
            ratio = tiny / base
            out.append(_verdict(target, ratio, ratio >= factor,
                                f"{ratio:.2f}x ({tiny:.0f} vs {base:.0f} ops/s)"))
    tiny_fig = block.get("tiny") or {}
    img = tiny_fig.get("image_bytes")
    target = f"tiny kv image at most {IMAGE_MAX // 1024} KiB"
    out.append(_verdict(target, img, None if img is None else img <= IMAGE_MAX,
                        "not measured" if img is None else f"{img / 1024:.1f} KiB ({img} bytes)"))
    mem = tiny_fig.get("memory_mib")
    target = f"tiny kv domain in {MEMORY_MAX_MIB} MiB of RAM"
    out.append(_verdict(target, mem, None if mem is None else mem <= MEMORY_MAX_MIB,
                        "not measured" if mem is None else f"memory = {mem:g} MiB"))
    srv = tiny_fig.get("serving_ms")
    target = f"tiny kv domain serving within {SERVING_MAX_MS / 1e3:g} s of xl create"
    if srv is None:
        out.append(_verdict(target, None, None, "not measured"))
    else:
        med = float(srv["median"])
        out.append(_verdict(target, med, med <= SERVING_MAX_MS,
                            f"median {med:.0f} ms of {len(srv['samples'])} "
                            f"[{srv['min']:.0f}..{srv['max']:.0f}]"))
    for i, v in enumerate(out, 1):
        v["n"] = i
    return out


def verdict_line(v: Json) -> str:
    """`ok 1 target: detail`, `not ok ...`; `# SKIP reason` when not measured."""
    if v["ok"] is None:
        return f"ok {v['n']} {v['target']} # SKIP {v['detail']}"
    return f"{'ok' if v['ok'] else 'not ok'} {v['n']} {v['target']}: {v['detail']}"


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def render(block: Json) -> list[str]:
    """Plain text: ops/s and latency per target, the tiny domain's figures,
    the verdicts."""
    lines = ["kv service, same boot: tiny kv domain vs Linux domU over IVCOM vs netfront TCP "
             "(clients: Linux PV domUs, ivcom-kv bench, every reply checked)"]
    plan = block.get("plan") or {}
    if plan:
        lines.append(f"  ({plan.get('seconds')} s a run, {plan.get('rounds')} round(s), "
                     f"{plan.get('size')} B values, {plan.get('keys')} keys a client; "
                     "4 clients: the sum of their ops/s, p50 the median of theirs, p99 the worst)")
    targets = block.get("targets") or {}
    lines.append(f"  {'service':<27} {'clients':>7} {'ops/s':>10} {'[min..max]':>17} "
                 f"{'p50 us':>9} {'p99 us':>9}")
    for t in TARGETS:
        for n in CLIENTS:
            fig = targets.get(t, {}).get(str(n))
            if fig is None:
                lines.append(f"  {LABELS[t]:<27} {n:>7} {'-':>10}")
                continue
            o = fig["ops_per_s"]
            span = f"[{o['min']:.0f}..{o['max']:.0f}]"
            lines.append(f"  {LABELS[t]:<27} {n:>7} {o['median']:>10.0f} {span:>17} "
                         f"{fig['p50_us']['median']:>9.0f} {fig['p99_us']['median']:>9.0f}")
    for n in CLIENTS:
        r = (block.get("ratios") or {}).get(str(n)) or {}
        lines.append(f"  {n} client(s): tiny/Linux-IVCOM {_fmt(r.get('tiny_over_linux_ivcom'))}x, "
                     f"tiny/TCP {_fmt(r.get('tiny_over_linux_tcp'))}x, "
                     f"Linux-IVCOM/TCP {_fmt(r.get('linux_ivcom_over_tcp'))}x (higher is better)")
    spread = max((fig.get("start_spread_s", 0.0) for per in targets.values()
                  for k, fig in per.items() if k == "4"), default=0.0)
    if spread > 0.5:
        lines.append(f"  WARNING: 4 clients' starts spread over {spread:.2f} s: their sum "
                     "overstates what they did together")
    tiny = block.get("tiny") or {}
    srv = tiny.get("serving_ms")
    img = tiny.get("image_bytes")
    lines.append(f"  tiny kv domain: xl create -> serving "
                 f"{_fmt(srv['median'] if srv else None, '.0f')} ms"
                 + (f" ([{srv['min']:.0f}..{srv['max']:.0f}] of {len(srv['samples'])})"
                    if srv else "")
                 + f", image {_fmt(img / 1024 if img is not None else None, '.1f')} KiB, "
                 f"memory {_fmt(tiny.get('memory_mib'), 'g')} MiB")
    for f in block.get("failures") or []:
        lines.append(f"  failed: {f}")
    if block.get("scenario_error"):
        lines.append(f"  the kv scenario failed: {block['scenario_error']}")
    elif not block.get("ok") and not block.get("failures"):
        lines.append(f"  incomplete: {block.get('reason') or '?'}")
    lines.append("  Targets")
    lines.extend(f"    {verdict_line(v)}" for v in block.get("verdicts") or [])
    return lines


def plot(block: Json, ax1: Any, ax2: Any) -> None:
    """ops/s by service, 1 and 4 clients (left); p50 and p99 latency with
    one client (right)."""
    targets = block.get("targets") or {}
    names = [t for t in TARGETS if t in targets]
    for i, n in enumerate(CLIENTS):
        vals = [targets[t].get(str(n), {}).get("ops_per_s", {}).get("median", 0.0)
                for t in names]
        ax1.bar([x + i * 0.4 for x in range(len(names))], vals, width=0.4,
                label=f"{n} client(s)")
    ax1.set_xticks([x + 0.2 for x in range(len(names))], [LABELS[t] for t in names],
                   rotation=10)
    ax1.set_ylabel("kv ops/s (4 clients: the sum)")
    ax1.set_title("kv service (Xen lab, TCG): ops/s")
    ax1.legend()
    for i, key in enumerate(("p50_us", "p99_us")):
        vals = [targets[t].get("1", {}).get(key, {}).get("median", 0.0) for t in names]
        ax2.bar([x + i * 0.4 for x in range(len(names))], vals, width=0.4,
                label=key.removesuffix("_us"))
    ax2.set_xticks([x + 0.2 for x in range(len(names))], [LABELS[t] for t in names],
                   rotation=10)
    ax2.set_yscale("log")
    ax2.set_ylabel("latency, 1 client (us, log)")
    ax2.set_title("kv service (Xen lab, TCG): latency")
    ax2.legend()
