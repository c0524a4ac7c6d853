"""`ivcom bench`, sim section: services beside one-peer channels and TCP.

Connection set-up: the time from before connecting until the first 64 B
message came back, for (a) a client of a service (`ivcom-pingpong` server
without -p), (b) the one-peer connect (server with -p, offering again after
each client) and (c) TCP on loopback (`ivcom-sockbench tcp connect`); each
client connects, sends one, closes, `setup_samples` times, `gap_ms` apart.

Fan-in: 1, 4, 16, 64 client domains against one service at once (round
trips with `ivcom-pingpong`, 16 KiB messages with `ivcom-stream`), beside N
TCP clients against one epoll server (`ivcom-sockbench -n N`).  Every
client connects first; once all said ready they start at one
CLOCK_MONOTONIC time (`--at -`) and run `seconds`; the total is all
clients' work over the span from the first one's start to the last one's
end.

Targets, one verdict line each (KTAP-style, as the lab's scenarios print
theirs): the service's set-up at most 2x the one-peer connect; the total
with 4 and with 64 clients no lower than one client's alone.  TCP's figures
are reported the same way, for comparison.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivcom.bench import (
    CLIENT_DOM,
    SERVER_DOM,
    BenchError,
    Json,
    SimBench,
    _bin,
    _last_json,
    _summary,
)

FANIN_FIRST_DOM = 100           # fan-in clients are domains 100, 101, ...
BIG = "1000000000"              # a count no run reaches: --duration ends it
SETUP_LABELS = {"ivcom-service": "IVCOM service", "ivcom-one-peer": "IVCOM one-peer",
                "tcp": "TCP loopback"}
KINDS = {"rtt": "round trips/s", "stream": "GB/s"}
SETUP_TARGET = 2.0              # service set-up at most 2x the one-peer connect
CONTENDED = (4, 64)             # totals no lower than one client's alone


@dataclass(frozen=True)
class ServicePlan:
    setup_samples: int
    gap_ms: int
    clients: tuple[int, ...]
    seconds: int
    reps: int
    stream_size: int

    @staticmethod
    def for_mode(quick: bool) -> ServicePlan:
        if quick:
            return ServicePlan(10, 10, (1, 4), 1, 1, 16384)
        return ServicePlan(50, 20, (1, 4, 16, 64), 2, 3, 16384)


# --------------------------------------------------------------------------
# Running the tools
# --------------------------------------------------------------------------


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """One line of proc's stderr, read byte by byte (what follows stays in
    the pipe for communicate()); "" at EOF or past the deadline."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    out = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not out.endswith(b"\n"):
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            c = os.read(fd, 1)
            if not c:
                break
            out += c
    return out.decode(errors="replace")


def _wait_line(proc: subprocess.Popen[str], word: str, what: str, deadline: float) -> None:
    """Read proc's stderr up to a line holding `word`."""
    seen = ""
    while line := _read_line(proc, deadline):
        seen += line
        if word in line:
            return
    raise BenchError(f"{what}: no '{word.strip()}' line: {seen.strip()[-300:]}")


def _reap(procs: Sequence[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def run_service(b: SimBench, tool: str, name: str, server_args: list[str],
                clients: list[tuple[int, list[str]]], timeout: float = 300.0,
                barrier: bool = False,
                connections: int | None = None) -> tuple[list[Json], list[Json]]:
    """`tool` as a service in SERVER_DOM (-j -n name, ending after
    `connections` clients, default one per client process) and each
    (domid, args) as a client of it, all at once.  barrier: the clients
    are given `--at -`: once all of them said ready, they all start 50 ms
    later.  Every process must succeed; returns the service's per-client
    reports and the clients' last JSON lines, in the order given."""
    exe = _bin(b.build, tool)
    env = dict(os.environ)
    srv = subprocess.Popen(
        [exe, "-j", "-n", name, "--clients", str(connections or len(clients)), *server_args,
         "server"],
        env={**env, **b.sim.domain_env(SERVER_DOM)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        _wait_line(srv, ": serving ", f"{tool} service", time.monotonic() + 30)
        for domid, args in clients:
            procs.append(subprocess.Popen(
                [exe, "-j", "-p", str(SERVER_DOM), "-n", name, *args,
                 *(["--at", "-"] if barrier else []), "client"],
                env={**env, **b.sim.domain_env(domid)}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        if barrier:
            deadline = time.monotonic() + 60 + len(procs)
            for p in procs:
                _wait_line(p, ": ready", f"{tool} client", deadline)
            at = f"{time.monotonic() + 0.05:.6f}\n"
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(at)
                p.stdin.flush()
        outs = [p.communicate(timeout=timeout) for p in procs]
        s_out, s_err = srv.communicate(timeout=timeout)
    finally:
        _reap([*procs, srv])
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise BenchError(f"{tool} client exited {p.returncode}: {err.strip()[-300:]}")
    if srv.returncode != 0:
        raise BenchError(f"{tool} service exited {srv.returncode}: {s_err.strip()[-300:]}")
    reports = [dict(json.loads(ln)) for ln in s_out.splitlines() if ln.startswith("{")]
    return reports, [_last_json(out, tool) for out, _ in outs]


def setup_times(b: SimBench, plan: ServicePlan) -> list[Json]:
    """Set-up to first echo: service, one-peer, TCP (one row each)."""
    n, gap = str(plan.setup_samples), str(plan.gap_ms)
    client = ["--reconnect", n, "--gap", gap]
    reports, (svc,) = run_service(b, "ivcom-pingpong", "bench-setup", [],
                                  [(CLIENT_DOM, client)], connections=plan.setup_samples)
    if len(reports) != plan.setup_samples or any(
            r["echoed"] != 1 or r["error"] for r in reports):
        raise BenchError(f"ivcom-pingpong service: unexpected reports {reports[:3]}")
    _, one = b.pair("ivcom-pingpong", ["--reconnect", n], client, None)
    assert one is not None
    tcp = b.sockbench(["-c", n, "-g", gap, "tcp", "connect"], None)
    rows: list[Json] = []
    for label, rec in (("ivcom-service", svc), ("ivcom-one-peer", one), ("tcp", tcp)):
        samples = [float(v) for v in rec["setup_us"]]
        if len(samples) != plan.setup_samples:
            raise BenchError(f"{label}: {len(samples)} set-up times, expected "
                             f"{plan.setup_samples}")
        rows.append({"transport": label, "count": len(samples), "gap_ms": plan.gap_ms,
                     "setup_us": _summary(samples)})
        s = rows[-1]["setup_us"]
        b.log(f"set-up {label:15} median {s['median']:.0f} us "
              f"[{s['min']:.0f}..{s['max']:.0f}]")
    return rows


def aggregate(records: Sequence[Json]) -> Json:
    """All clients' work over the span from the first one's start to the
    last one's end (the clients' monotonic begin/end, in ns)."""
    begin = min(int(r["mono_begin_ns"]) for r in records)
    end = max(int(r["mono_end_ns"]) for r in records)
    seconds = (end - begin) / 1e9
    if seconds <= 0:
        raise BenchError("fan-in: the clients' spans are empty")
    ops = sum(int(r["count"]) for r in records)
    nbytes = sum(int(r.get("bytes", 0)) for r in records)
    return {"ops": ops, "bytes": nbytes, "seconds": seconds,
            "ops_per_s": ops / seconds, "bytes_per_s": nbytes / seconds,
            "start_spread_s": (max(int(r["mono_begin_ns"]) for r in records) - begin) / 1e9,
            "per_client": [int(r["count"]) for r in records]}


def ivcom_fanin(b: SimBench, plan: ServicePlan, kind: str, n: int, rep: int) -> Json:
    """n client domains against one service for plan.seconds."""
    common = ["-c", BIG, "-D", str(plan.seconds)]
    doms = [FANIN_FIRST_DOM + i for i in range(n)]
    if kind == "rtt":
        tool, server, client = "ivcom-pingpong", [], common
    else:
        size = str(plan.stream_size)
        tool, server, client = "ivcom-stream", ["-s", size], ["-s", size, *common]
    reports, recs = run_service(b, tool, f"bench-fan-{kind}-{n}-{rep}", server,
                                [(d, client) for d in doms], barrier=True)
    key = "echoed" if kind == "rtt" else "received"
    got = {int(r["client"]): r for r in reports}
    for d, rec in zip(doms, recs, strict=True):
        r = got.get(d)
        # the service echoed the warm-up too; a sink got exactly what was sent
        if r is None or r["error"] or (r[key] < rec["count"] if kind == "rtt"
                                       else r[key] != rec["count"]):
            raise BenchError(f"{tool}: client {d} sent {rec['count']}, the service "
                             f"reported {r}")
    return aggregate(recs)


def tcp_fanin(b: SimBench, plan: ServicePlan, kind: str, n: int) -> Json:
    mode = "pingpong" if kind == "rtt" else "stream"
    size = "64" if kind == "rtt" else str(plan.stream_size)
    r = b.sockbench(["-n", str(n), "-D", str(plan.seconds), "-s", size, "tcp", mode], None)
    if len(r["per_client"]) != n:
        raise BenchError(f"ivcom-sockbench -n {n}: {len(r['per_client'])} clients reported")
    return {"ops": r["ops"], "bytes": r["bytes"], "seconds": r["seconds"],
            "ops_per_s": r["ops_per_s"], "bytes_per_s": r["bytes_per_s"],
            "start_spread_s": r["start_spread_s"], "per_client": r["per_client"]}


def fanin(b: SimBench, plan: ServicePlan) -> list[Json]:
    """One row per (transport, kind, clients): the total's median over the
    repetitions (round trips/s, or GB/s) and each run's figures."""
    rows: list[Json] = []
    for n in plan.clients:
        for kind in KINDS:
            runs: dict[str, list[Json]] = {"ivcom": [], "tcp": []}
            for rep in range(plan.reps):
                runs["ivcom"].append(ivcom_fanin(b, plan, kind, n, rep))
                runs["tcp"].append(tcp_fanin(b, plan, kind, n))
            for transport, rs in runs.items():
                vals = [r["ops_per_s"] if kind == "rtt" else r["bytes_per_s"] / 1e9
                        for r in rs]
                rows.append({"transport": transport, "kind": kind, "clients": n,
                             "unit": KINDS[kind], "total": _summary(vals), "runs": rs})
            b.log(f"fan-in {kind:6} {n:>2} clients " + "  ".join(
                f"{r['transport']} {r['total']['median']:.4g}" for r in rows[-2:])
                + f" {KINDS[kind]}")
    return rows


def run(b: SimBench, plan: ServicePlan) -> Json:
    setup = setup_times(b, plan)
    fan = fanin(b, plan)
    vs = verdicts(setup, fan)
    for v in vs:
        b.log(verdict_line(v))
    return {"plan": plan.__dict__, "setup": setup, "fanin": fan, "verdicts": vs}


# --------------------------------------------------------------------------
# Analysis (pure)
# --------------------------------------------------------------------------


def _median(rows: Sequence[Json], **kw: Any) -> float | None:
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            key = "setup_us" if "setup_us" in r else "total"
            return float(r[key]["median"])
    return None


def _verdict(target: str, value: float | None, ok: bool | None, detail: str,
             baseline: bool = False) -> Json:
    return {"target": target, "value": value, "ok": ok, "detail": detail,
            "baseline": baseline}


def verdicts(setup: Sequence[Json], fan: Sequence[Json]) -> list[Json]:
    """The targets, in order: set-up, then IVCOM's fan-in; TCP's fan-in
    the same way, marked as a baseline.  A figure the plan did not measure
    gives ok None (a SKIP)."""
    out: list[Json] = []
    svc = _median(setup, transport="ivcom-service")
    one = _median(setup, transport="ivcom-one-peer")
    target = f"service set-up at most {SETUP_TARGET:g}x the one-peer connect"
    if svc is None or one is None or one <= 0:
        out.append(_verdict(target, None, None, "not measured"))
    else:
        ratio = svc / one
        out.append(_verdict(target, ratio, ratio <= SETUP_TARGET,
                            f"{ratio:.2f}x (median {svc:.0f} us vs {one:.0f} us)"))
    for transport in ("ivcom", "tcp"):
        for kind, unit in KINDS.items():
            alone = _median(fan, transport=transport, kind=kind, clients=1)
            for n in CONTENDED:
                what = "round trips/s" if kind == "rtt" else "stream throughput"
                target = f"{transport} {what} with {n} clients no lower than 1 client's"
                total = _median(fan, transport=transport, kind=kind, clients=n)
                if alone is None or total is None or alone <= 0:
                    out.append(_verdict(target, None, None, f"{n} clients not in the plan"
                                        if total is None else "not measured",
                                        transport != "ivcom"))
                    continue
                ratio = total / alone
                out.append(_verdict(target, ratio, ratio >= 1.0,
                                    f"{ratio:.2f}x ({total:.4g} vs {alone:.4g} {unit})",
                                    transport != "ivcom"))
    for i, v in enumerate(out, 1):
        v["n"] = i
    return out


def verdict_line(v: Json) -> str:
    """`ok 1 target: detail`, `not ok ...`; `# SKIP reason` when not
    measured; TCP's lines say they are a baseline."""
    if v["ok"] is None:
        return f"ok {v['n']} {v['target']} # SKIP {v['detail']}"
    line = f"{'ok' if v['ok'] else 'not ok'} {v['n']} {v['target']}: {v['detail']}"
    return line + (" # baseline, for comparison" if v["baseline"] else "")


def render(svc: Json) -> str:
    """Plain text: the set-up table, the fan-in table, the verdicts."""
    plan = svc["plan"]
    lines = [f"Connection set-up, sim: connect -> first 64 B echo, {plan['setup_samples']} "
             f"connections {plan['gap_ms']} ms apart (us: median [min..max])"]
    for r in svc["setup"]:
        s = r["setup_us"]
        lines.append(f"  {SETUP_LABELS.get(r['transport'], r['transport']):<16} "
                     f"{s['median']:>9.0f} [{s['min']:.0f}..{s['max']:.0f}]")
    lines.append("")
    lines.append(f"Fan-in, sim: N clients against one server for {plan['seconds']} s "
                 f"(total, median of {plan['reps']}; stream: {plan['stream_size']} B messages)")
    lines.append(f"  {'clients':>7} {'IVCOM rt/s':>12} {'TCP rt/s':>12} "
                 f"{'IVCOM GB/s':>11} {'TCP GB/s':>9}   start spread IVCOM/TCP")
    for n in sorted({r["clients"] for r in svc["fanin"]}):
        cells = []
        spread = {"ivcom": 0.0, "tcp": 0.0}
        for kind, transport in (("rtt", "ivcom"), ("rtt", "tcp"), ("stream", "ivcom"),
                                ("stream", "tcp")):
            row = next((r for r in svc["fanin"] if r["clients"] == n and r["kind"] == kind
                        and r["transport"] == transport), None)
            if row is None:
                cells.append("-")
                continue
            m = row["total"]["median"]
            cells.append(f"{m:.0f}" if kind == "rtt" else f"{m:.2f}")
            spread[transport] = max([spread[transport],
                                     *(x["start_spread_s"] for x in row["runs"])])
        lines.append(f"  {n:>7} {cells[0]:>12} {cells[1]:>12} {cells[2]:>11} "
                     f"{cells[3]:>9}   {spread['ivcom'] * 1e3:.0f}/{spread['tcp'] * 1e3:.0f} ms")
    lines.append("")
    lines.append("Targets")
    lines.extend(f"  {verdict_line(v)}" for v in svc["verdicts"])
    return "\n".join(lines)


def plot(svc: Json, ax1: Any, ax2: Any) -> None:
    """Set-up medians with min..max (left); each fan-in total relative to
    one client's alone, by clients (right, the target line at 1)."""
    rows = svc["setup"]
    med = [r["setup_us"]["median"] for r in rows]
    err = [[m - r["setup_us"]["min"] for m, r in zip(med, rows, strict=True)],
           [r["setup_us"]["max"] - m for m, r in zip(med, rows, strict=True)]]
    ax1.bar(range(len(rows)), med, yerr=err, capsize=4)
    ax1.set_xticks(range(len(rows)), [SETUP_LABELS.get(r["transport"], r["transport"])
                                      for r in rows])
    ax1.set_yscale("log")
    ax1.set_ylabel("connect -> first echo (us, log)")
    ax1.set_title("connection set-up (sim)")
    for transport in ("ivcom", "tcp"):
        for kind, unit in KINDS.items():
            pts = sorted((r["clients"], r["total"]["median"]) for r in svc["fanin"]
                         if r["transport"] == transport and r["kind"] == kind)
            base = next((v for n, v in pts if n == 1), None)
            if not pts or not base:
                continue
            ax2.plot([p[0] for p in pts], [p[1] / base for p in pts], marker="o",
                     linestyle="-" if transport == "ivcom" else "--",
                     label=f"{transport} {unit}")
    ax2.axhline(1.0, color="grey", linewidth=0.8)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("concurrent clients")
    ax2.set_ylabel("total / one client's alone")
    ax2.set_title("fan-in against one server (sim)")
    ax2.legend()

