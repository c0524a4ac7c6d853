"""The proxy part of `ivcom bench`: its table and ratios from made-up
figures (host), and one tiny run through both proxies on the sim (records
complete; no figure is judged)."""

from __future__ import annotations

from typing import Any

from ivcom import bench, bench_proxy
from ivcom import sim as simmod

Json = dict[str, Any]


def _row(transport: str, rtt: float, gbs: float) -> Json:
    return {"transport": transport,
            "rtt_us": {"median": rtt, "min": rtt, "max": rtt, "samples": [rtt]},
            "gbytes_per_s": {"median": gbs, "min": gbs, "max": gbs, "samples": [gbs]}}


def test_ratios_and_table() -> None:
    rows = [_row("tcp", 20.0, 0.5), _row("proxy", 200.0, 0.1)]
    q = bench_proxy.ratios(rows)
    assert q == {"rtt_proxy_over_tcp": 10.0, "gbs_proxy_over_tcp": 0.2}
    text = bench_proxy.render({"plan": {"reps": 1}, "rows": rows, "ratios": q})
    assert "TCP loopback, direct" in text and "ivcom proxy (listen -> serve)" in text
    assert "round trip 10.00x, stream 0.20x" in text


def test_a_tiny_run_on_the_sim(sim: simmod.Sim) -> None:
    logged: list[str] = []
    b = bench.SimBench(sim, simmod.build_dir(), logged.append)
    try:
        res = bench_proxy.run(b, bench_proxy.ProxyPlan(1, 20, 1 << 20))
    finally:
        b.close()
    assert [r["transport"] for r in res["rows"]] == ["tcp", "proxy"]
    for r in res["rows"]:
        assert r["rtt_us"]["median"] > 0 and r["gbytes_per_s"]["median"] > 0
    assert set(res["ratios"]) == {"rtt_proxy_over_tcp", "gbs_proxy_over_tcp"}
    assert len(logged) == 2
