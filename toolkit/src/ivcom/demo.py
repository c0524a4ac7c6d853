"""`ivcom demo`: IVCOM beside the paths it replaces, in one short run.

    ivcom demo          boot the Xen lab (Xen 4.17 under QEMU TCG), create
                        two PV domUs with `xl create`, and run IVCOM,
                        netfront TCP and libxenvchan between them: 64 B
                        round trips and bulk throughput, with ratios and
                        hypercall counts from xentrace (ivcom.lab.bench,
                        quick plan);
    ivcom demo --sim    the same comparison on the sim platform (plain
                        Linux processes as domains, a few seconds), using
                        the benchmark harness's SimBench with a tiny plan.

A failure prints one line and exits non-zero.
"""

from __future__ import annotations

import argparse
from typing import Any

from ivcom.command import Command

Json = dict[str, Any]


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def lab_tables(res: Json) -> list[Any]:
    from rich.table import Table

    rr = res["rr"]
    t1 = Table(title=f"64 B round trip, two PV domUs (Xen {res.get('xen') or '?'}, TCG)")
    t1.add_column("transport")
    t1.add_column("median us", justify="right")
    t1.add_column("p10-p90 us", justify="right")
    t1.add_column("vs IVCOM", justify="right")
    labels = {"ivcom": "IVCOM", "tcp": "netfront TCP", "vchan": "libxenvchan"}
    for t, label in labels.items():
        r = rr[t]
        t1.add_row(label, f"{r['median_us']:.1f}", f"{r['p10_us']:.1f}-{r['p90_us']:.1f}",
                   _x(r["median_us"] / rr["ivcom"]["median_us"]))
    t2 = Table(title="throughput MB/s (median)")
    t2.add_column("size", justify="right")
    for label in labels.values():
        t2.add_column(label, justify="right")
    t2.add_column("IVCOM/TCP", justify="right")
    t2.add_column("IVCOM/vchan", justify="right")
    from ivcom.lab.bench import _size

    for row in res["throughput"]:
        t2.add_row(_size(row["size"]), *(f"{row[t]['median']:.1f}" for t in labels),
                   _x(row["ivcom_over_tcp"]), _x(row["ivcom_over_vchan"]))
    tables = [t1, t2]
    traces = res.get("traces") or {}
    if traces:
        t3 = Table(title="hypercalls per 1000 operations (xentrace)")
        for col in ("session", "domain", "total", "event channel", "grant"):
            t3.add_column(col, justify="right" if col not in ("session", "domain") else "left")
        for name, tr in traces.items():
            for role in ("client", "server", "dom0"):
                d = tr["domains"].get(role)
                if d is None:
                    continue
                p = d["per_1000"]
                t3.add_row(name, role, f"{p['hypercalls']:.0f}", f"{p['event_channel_op']:.1f}",
                           f"{p['grant_table_op']:.1f}")
        tables.append(t3)
    return tables


def sim_tables(res: Json) -> list[Any]:
    from rich.table import Table

    t1 = Table(title="64 B round trip (sim, pinned)")
    t1.add_column("transport")
    t1.add_column("median us", justify="right")
    lat = [r for r in res["latency"] if r["pin"] == "pinned"]
    for r in lat:
        t1.add_row(r["transport"], f"{r['rtt_us']['median']:.2f}")
    t2 = Table(title="throughput GB/s (sim, pinned)")
    t2.add_column("size", justify="right")
    thr = [r for r in res["throughput"] if r["pin"] == "pinned"]
    kinds = list(dict.fromkeys(r["transport"] for r in thr))
    for k in kinds:
        t2.add_column(k, justify="right")
    for size in sorted({r["size"] for r in thr}):
        cells = {r["transport"]: r["gbytes_per_s"]["median"] for r in thr if r["size"] == size}
        t2.add_row(str(size), *(f"{cells[k]:.2f}" if k in cells else "-" for k in kinds))
    t3 = Table(title="ratios (sim)")
    t3.add_column("ratio")
    t3.add_column("value", justify="right")
    for k, v in (res.get("ratios") or {}).items():
        t3.add_row(k, f"{v:.2f}" if isinstance(v, (int, float)) else str(v))
    return [t1, t2, t3]


def run_sim() -> Json:
    from ivcom import bench
    from ivcom import sim as simmod

    plan = bench.Plan(reps=1, rtt_count=500, sock_rtt_count=500, stream_bytes=4 << 20,
                      max_msgs=20000, sizes=(64, 65536))
    return bench.run_sim_section(simmod.build_dir(), plan,
                                 lambda m: print(f"demo: {m}", flush=True), 0)


class DemoCommand(Command):
    name = "demo"
    help = "IVCOM beside netfront TCP and libxenvchan on real Xen (--sim: on the sim)"
    examples = (
        ("demo", "IVCOM, netfront TCP, vchan on Xen"),
        ("demo --sim", "the same on the sim, in seconds"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--sim", action="store_true",
                            help="run the fast sim demo instead of booting the Xen lab")

    def run(self, args: argparse.Namespace) -> int:
        from rich.console import Console

        console = Console()
        if args.sim:
            tables = sim_tables(run_sim())
        else:
            from ivcom.lab import bench as labbench

            res = labbench.run(lambda m: print(f"demo: {m}", flush=True), quick=True)
            tables = lab_tables(res)
            for note in res.get("retries") or []:
                console.print(f"note: {note}")
        for t in tables:
            console.print(t)
        if not args.sim and res.get("guest") is not None:
            # the tiny guest beside a Linux PV domU, same boot (plain text)
            print("\n".join(labbench.render_guest(res["guest"])))
        return 0
