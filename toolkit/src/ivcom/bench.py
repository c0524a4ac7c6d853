"""`ivcom bench`: IVCOM beside its baselines, measured side by side in one run.

Sim section (plain Linux, processes as domains): 64 B round-trip latency
(IVCOM poll mode and adaptive mode; TCP loopback, Unix sockets, a pipe),
throughput for 64 B .. 1 MiB (IVCOM message and stream mode; the same
three baselines), each pinned to two CPUs and unpinned, several
repetitions, median and spread; instructions per 64 B send+recv pair from
valgrind's callgrind; services beside one-peer channels and TCP
(connection set-up, fan-in of 1..64 clients, target verdicts: see
ivcom.bench_services); `ivcom proxy` beside direct TCP (ivcom.bench_proxy).
Lab section: see ivcom.lab.bench (real Xen, PV domUs) and ivcom.lab.bench_kv
(the kv service three ways, with its targets' verdicts).  HVM section: see
ivcom.lab.hvm (VM exits of an HVM guest, emulated NIC vs IVCOM).

Writes <out>/bench.json (machine-readable), <out>/bench.txt (the table)
and <out>/bench.png (the plot).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivcom import sim as simmod
from ivcom.command import Command
from ivcom.errors import IvcomError

if TYPE_CHECKING:
    from ivcom.bench_proxy import ProxyPlan
    from ivcom.bench_services import ServicePlan

Json = dict[str, Any]
PINS: dict[str, tuple[int, int] | None] = {"pinned": (0, 1), "unpinned": None}
SIZES = [64, 1024, 4096, 16384, 65536, 262144, 1048576]
BASELINES = ("tcp", "uds", "pipe")
SERVER_DOM, CLIENT_DOM = 1, 2


class BenchError(IvcomError):
    """A benchmark run failed."""


@dataclass(frozen=True)
class Plan:
    reps: int
    rtt_count: int
    sock_rtt_count: int
    stream_bytes: int
    max_msgs: int
    sizes: tuple[int, ...]

    @staticmethod
    def for_mode(quick: bool) -> Plan:
        if quick:
            return Plan(1, 2000, 1000, 8 << 20, 20000, (64, 65536, 1048576))
        return Plan(3, 20000, 10000, 128 << 20, 500_000, tuple(SIZES))


def _bin(build: Path, name: str) -> str:
    path = build / "bin" / name
    if not path.exists():
        raise BenchError(f"{path} is missing: run `make core`")
    return str(path)


def _taskset(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def _last_json(text: str, what: str) -> Json:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise BenchError(f"{what}: no result line in its output: {text.strip()[-300:]}")


def _summary(values: Sequence[float]) -> Json:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "samples": list(values),
    }


class SimBench:
    """Runs tool pairs as two sim domains that exist for the whole run."""

    def __init__(self, sim: simmod.Sim, build: Path, log: Callable[[str], None]) -> None:
        self.sim = sim
        self.build = build
        self.log = log
        # XenStore honours permissions only for live domains: keep both up.
        self._holds = [sim.hold_domain(SERVER_DOM), sim.hold_domain(CLIENT_DOM)]

    def close(self) -> None:
        for sock in self._holds:
            sock.close()

    def pair(
        self,
        tool: str,
        server_args: list[str],
        client_args: list[str],
        pin: tuple[int, int] | None,
        timeout: float = 300.0,
    ) -> tuple[Json | None, Json | None]:
        """Run `tool server` (domain 1) and `tool client` (domain 2)."""
        exe = _bin(self.build, tool)
        env = dict(os.environ)
        srv = subprocess.Popen(
            [*_taskset(pin[0] if pin else None), exe, "-j", "-p", str(CLIENT_DOM),
             *server_args, "server"],
            env={**env, **self.sim.domain_env(SERVER_DOM)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            cli = subprocess.run(
                [*_taskset(pin[1] if pin else None), exe, "-j", "-p", str(SERVER_DOM),
                 *client_args, "client"],
                env={**env, **self.sim.domain_env(CLIENT_DOM)},
                capture_output=True, text=True, timeout=timeout, check=False,
            )
            sout, serr = srv.communicate(timeout=timeout)
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
        if cli.returncode != 0 or srv.returncode != 0:
            raise BenchError(
                f"{tool}: client exited {cli.returncode}, server {srv.returncode}: "
                f"{(cli.stderr + serr).strip()[-300:]}"
            )
        s = _last_json(sout, tool) if sout.strip() else None
        c = _last_json(cli.stdout, tool) if cli.stdout.strip() else None
        return s, c

    def sockbench(self, args: list[str], pin: tuple[int, int] | None) -> Json:
        cmd = [_bin(self.build, "ivcom-sockbench"), "-j", *args]
        if pin:
            cmd[2:2] = ["-C", f"{pin[0]},{pin[1]}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise BenchError(f"ivcom-sockbench {' '.join(args)}: {proc.stderr.strip()}")
        return _last_json(proc.stdout, "ivcom-sockbench")


def latency(b: SimBench, plan: Plan) -> list[Json]:
    rows: list[Json] = []
    ivcom_modes = {"ivcom-poll": ["-l"], "ivcom-adaptive": []}
    for pin_name, pin in PINS.items():
        for label, extra in ivcom_modes.items():
            meds, sent, blocks = [], [], []
            for _ in range(plan.reps):
                _, c = b.pair("ivcom-pingpong", extra, [*extra, "-c", str(plan.rtt_count)], pin)
                assert c is not None
                meds.append(c["rtt_ns"]["median"] / 1e3)
                sent.append(c["notifies_sent"] / c["count"])
                blocks.append(c["blocks"])
            rows.append({"transport": label, "pin": pin_name, "size": 64,
                         "rtt_us": _summary(meds),
                         "events_per_rtt_client": statistics.median(sent)})
            b.log(f"latency {label:15} {pin_name:8} median {rows[-1]['rtt_us']['median']:.2f} us")
        for kind in BASELINES:
            meds = []
            for _ in range(plan.reps):
                r = b.sockbench(["-s", "64", "-c", str(plan.sock_rtt_count), kind, "pingpong"],
                                pin)
                meds.append(r["rtt_ns"]["median"] / 1e3)
            rows.append({"transport": kind, "pin": pin_name, "size": 64,
                         "rtt_us": _summary(meds)})
            b.log(f"latency {kind:15} {pin_name:8} median {rows[-1]['rtt_us']['median']:.2f} us")
    return rows


def throughput(b: SimBench, plan: Plan) -> list[Json]:
    rows: list[Json] = []
    for pin_name, pin in PINS.items():
        for size in plan.sizes:
            count = max(1, min(plan.max_msgs, plan.stream_bytes // size))
            runs: dict[str, list[Json]] = {}
            for _ in range(plan.reps):
                if size <= 512 * 1024:
                    s, _ = b.pair("ivcom-stream", ["-o", "20", "-c", str(count)],
                                  ["-s", str(size), "-c", str(count)], pin)
                    assert s is not None
                    runs.setdefault("ivcom-msg", []).append(s)
                s, _ = b.pair("ivcom-stream",
                              ["-o", "20", "-S", "-s", str(size), "-c", str(count)],
                              ["-S", "-s", str(size), "-c", str(count)], pin)
                assert s is not None
                runs.setdefault("ivcom-stream", []).append(s)
                for kind in BASELINES:
                    runs.setdefault(kind, []).append(
                        b.sockbench(["-s", str(size), "-c", str(count), kind, "stream"], pin))
            for label, rs in runs.items():
                row: Json = {"transport": label, "pin": pin_name, "size": size,
                             "count": count,
                             "gbytes_per_s": _summary([r["bytes_per_s"] / 1e9 for r in rs])}
                if label.startswith("ivcom"):
                    msgs = count
                    row["events_per_1000_msgs"] = statistics.median(
                        1000.0 * r["notifies_sent"] / msgs for r in rs)
                rows.append(row)
            b.log(f"throughput {size:>8} B {pin_name:8} " + "  ".join(
                f"{r['transport']} {r['gbytes_per_s']['median']:.2f}"
                for r in rows if r["size"] == size and r["pin"] == pin_name))
    return rows


def instructions(sim: simmod.Sim, build: Path, count: int) -> Json:
    """Instructions per 64 B try_send + try_recv pair (callgrind)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             "--toggle-collect=ivcom_send", "--toggle-collect=ivcom_recv",
             _bin(build, "ivcom-selfbench"),
             "-s", "64", "-c", str(count), "11", "12"],
            env={**os.environ, **sim.env}, capture_output=True, text=True,
            timeout=600, check=False,
        )
        if proc.returncode != 0:
            raise BenchError(f"callgrind: {proc.stderr.strip()[-300:]}")
        m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        if not m:
            raise BenchError("callgrind wrote no summary line")
        total = int(m.group(1))
    return {"size": 64, "pairs": count, "instructions": total,
            "per_pair": total / count}


def _pick(rows: list[Json], **kw: Any) -> Json:
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    raise KeyError(kw)


def sim_ratios(lat: list[Json], thr: list[Json]) -> Json:
    def rtt(t: str) -> float:
        return float(_pick(lat, transport=t, pin="pinned")["rtt_us"]["median"])

    def gbs(t: str, size: int) -> float:
        return float(_pick(thr, transport=t, pin="pinned", size=size)["gbytes_per_s"]["median"])

    out: Json = {
        "poll_rtt_us_pinned": rtt("ivcom-poll"),
        "adaptive_rtt_vs_tcp_pinned": rtt("ivcom-adaptive") / rtt("tcp"),
        "poll_rtt_vs_tcp_pinned": rtt("ivcom-poll") / rtt("tcp"),
    }
    if any(r["size"] == 65536 for r in thr):
        out["msg64k_throughput_vs_tcp_pinned"] = gbs("ivcom-msg", 65536) / gbs("tcp", 65536)
    return out


def render_table(results: Json, extra: Sequence[str] = ()) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=100, force_terminal=False, file=io.StringIO())
    sim = results.get("sim")
    if sim:
        t = Table(title="64 B round trip, sim (us: median \\[min..max] of repetitions)")
        t.add_column("transport")
        for pin in PINS:
            t.add_column(pin, justify="right")
        for label in ("ivcom-poll", "ivcom-adaptive", *BASELINES):
            cells = []
            for pin in PINS:
                s = _pick(sim["latency"], transport=label, pin=pin)["rtt_us"]
                cells.append(f"{s['median']:.2f} \\[{s['min']:.2f}..{s['max']:.2f}]")
            t.add_row(label, *cells)
        console.print(t)
        for pin in PINS:
            t = Table(title=f"throughput, sim, {pin} (GB/s, median of repetitions)")
            t.add_column("size", justify="right")
            labels = ("ivcom-msg", "ivcom-stream", *BASELINES)
            for label in labels:
                t.add_column(label, justify="right")
            for size in sorted({r["size"] for r in sim["throughput"]}):
                cells = []
                for label in labels:
                    try:
                        r = _pick(sim["throughput"], transport=label, pin=pin, size=size)
                        cells.append(f"{r['gbytes_per_s']['median']:.2f}")
                    except KeyError:
                        cells.append("-")
                t.add_row(_human(size), *cells)
            console.print(t)
        if "instructions" in sim:
            ins = sim["instructions"]
            console.print(f"instructions per 64 B send+recv pair (callgrind): "
                          f"{ins['per_pair']:.0f}")
        console.print("ratios: " + ", ".join(f"{k} {v:.3g}" for k, v in sim["ratios"].items()))
        if "services" in sim:
            from ivcom import bench_services

            console.print(bench_services.render(sim["services"]), markup=False,
                          highlight=False, soft_wrap=True)
        if "proxy" in sim:
            from ivcom import bench_proxy

            console.print(bench_proxy.render(sim["proxy"]), markup=False,
                          highlight=False, soft_wrap=True)
    for section in extra:
        console.print(section)
    return console.export_text()


def _human(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def plot(results: Json, path: Path) -> None:
    """Two panels for each section that ran: latency and throughput (sim,
    lab), set-up and fan-in (the sim's services), VM exits per round trip
    and per MiB (hvm)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ivcom import bench_services
    from ivcom.lab import bench_kv, hvm

    panels = {"sim": _plot_sim, "lab": _plot_lab, "hvm": hvm.plot}
    rows: list[tuple[Callable[[Json, Any, Any], None], Json]] = []
    for name, panel in panels.items():
        if results.get(name) and "error" not in results[name]:
            rows.append((panel, results[name]))
            if name == "sim" and "services" in results[name]:
                rows.append((bench_services.plot, results[name]["services"]))
            if name == "lab" and (results[name].get("kv") or {}).get("targets"):
                rows.append((bench_kv.plot, results[name]["kv"]))
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 4.5 * len(rows)), squeeze=False)
    for row, (fn, data) in zip(axes, rows, strict=True):
        fn(data, row[0], row[1])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_sim(sim: Json, ax1: Any, ax2: Any) -> None:
    labels = ["ivcom-poll", "ivcom-adaptive", *BASELINES]
    for i, pin in enumerate(PINS):
        vals = [_pick(sim["latency"], transport=lb, pin=pin)["rtt_us"]["median"]
                for lb in labels]
        ax1.bar([x + i * 0.4 for x in range(len(labels))], vals, width=0.4, label=pin)
    ax1.set_xticks([x + 0.2 for x in range(len(labels))], labels, rotation=20)
    ax1.set_yscale("log")
    ax1.set_ylabel("64 B round trip (us, log)")
    ax1.legend()
    ax1.set_title("latency (sim)")
    for label in ("ivcom-msg", "ivcom-stream", *BASELINES):
        rows = sorted((r for r in sim["throughput"]
                       if r["transport"] == label and r["pin"] == "pinned"),
                      key=lambda r: r["size"])
        if rows:
            ax2.plot([r["size"] for r in rows],
                     [r["gbytes_per_s"]["median"] for r in rows], marker="o", label=label)
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("message / write size (bytes)")
    ax2.set_ylabel("GB/s (log)")
    ax2.set_title("throughput (sim, pinned)")
    ax2.legend()


LAB_LABELS = {"ivcom": "IVCOM", "tcp": "netfront TCP", "vchan": "libxenvchan"}


def _plot_lab(lab: Json, ax1: Any, ax2: Any) -> None:
    """Round trip (median with p10-p90) and throughput between two PV domUs
    (TCG: compare within the boot only)."""
    rr = lab["rr"]
    names = [t for t in LAB_LABELS if t in rr]
    med = [rr[t]["median_us"] for t in names]
    err = [[m - rr[t]["p10_us"] for t, m in zip(names, med, strict=True)],
           [rr[t]["p90_us"] - m for t, m in zip(names, med, strict=True)]]
    ax1.bar(range(len(names)), med, yerr=err, capsize=4)
    ax1.set_xticks(range(len(names)), [LAB_LABELS[t] for t in names])
    ax1.set_ylabel("64 B round trip (us; bar: median, p10-p90)")
    ax1.set_title(f"latency (Xen {lab.get('xen') or '?'} lab, domU<->domU, TCG)")
    for t in names:
        pts = [(r["size"], r[t]["median"]) for r in lab["throughput"] if t in r]
        if pts:
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=LAB_LABELS[t])
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("write size (bytes)")
    ax2.set_ylabel("MB/s (log)")
    ax2.set_title("throughput (Xen lab, domU<->domU, TCG)")
    ax2.legend()


@contextmanager
def running_sim(build: Path) -> Iterator[simmod.Sim]:
    s = simmod.start(build=build)
    try:
        yield s
    finally:
        s.stop()


def run_sim_section(build: Path, plan: Plan, log: Callable[[str], None],
                    callgrind_pairs: int, services: ServicePlan | None = None,
                    proxy: ProxyPlan | None = None) -> Json:
    with running_sim(build) as s:
        b = SimBench(s, build, log)
        try:
            lat = latency(b, plan)
            thr = throughput(b, plan)
            out: Json = {"latency": lat, "throughput": thr, "ratios": sim_ratios(lat, thr)}
            if services is not None:
                from ivcom import bench_services

                out["services"] = bench_services.run(b, services)
            if proxy is not None:
                from ivcom import bench_proxy

                out["proxy"] = bench_proxy.run(b, proxy)
        finally:
            b.close()
        if callgrind_pairs:
            out["instructions"] = instructions(s, build, callgrind_pairs)
            log(f"instructions per pair: {out['instructions']['per_pair']:.0f}")
    return out


def machine_facts() -> Json:
    return {
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_results(results: Json, out: Path, extra: Sequence[str] = ()) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1) + "\n")
    text = render_table(results, extra)
    (out / "bench.txt").write_text(text)
    if any(results.get(k) and "error" not in results[k] for k in ("sim", "lab", "hvm")):
        plot(results, out / "bench.png")
    return text


class BenchCommand(Command):
    name = "bench"
    help = ("measure IVCOM beside TCP, Unix sockets, pipes (sim), netfront/libxenvchan (lab) "
            "and an HVM guest's emulated NIC (hvm)")
    examples = (
        ("bench", "every section, into results/"),
        ("bench --section sim --quick", "the sim only, one short repetition"),
        ("bench --section lab --out /tmp/lab", "PV domUs on real Xen, into /tmp/lab"),
        ("bench --section hvm", "an HVM guest's VM exits: NIC vs IVCOM"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--out", default="results", help="output directory (default results)")
        parser.add_argument("--section", choices=("all", "sim", "lab", "hvm"), default="all")
        parser.add_argument("--quick", action="store_true", help="one short repetition")
        parser.add_argument("--build-dir", default=None, help="core build (default build/core)")
        parser.add_argument("--no-callgrind", action="store_true")

    def run(self, args: argparse.Namespace) -> int:
        build = Path(args.build_dir) if args.build_dir else simmod.build_dir()
        plan = Plan.for_mode(args.quick)
        results: Json = {"machine": machine_facts(), "plan": plan.__dict__}

        def log(msg: str) -> None:
            print(f"bench: {msg}", flush=True)

        if args.section in ("all", "sim"):
            from ivcom import bench_proxy, bench_services

            results["sim"] = run_sim_section(
                build, plan, log, 0 if args.no_callgrind else (2000 if args.quick else 20000),
                bench_services.ServicePlan.for_mode(args.quick),
                bench_proxy.ProxyPlan.for_mode(args.quick))
        extra: list[str] = []
        from ivcom.lab import bench as labbench
        from ivcom.lab import hvm

        for name, section in (("lab", labbench), ("hvm", hvm)):
            if args.section not in ("all", name):
                continue
            try:
                results[name] = section.run(log, quick=args.quick)
                extra.append(section.render(results[name]))
            except IvcomError as exc:
                if args.section == name:
                    raise
                # The other sections stand on their own: keep them, say
                # why this one is missing.
                results[name] = {"error": str(exc)}
                extra.append(f"{name} section failed: {exc}")
                log(f"{name} section failed: {exc}")
        text = write_results(results, Path(args.out), extra)
        print(text)
        print(f"bench: results in {args.out}/bench.json, bench.txt, bench.png")
        return 0
