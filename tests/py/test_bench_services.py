"""The services part of `ivcom bench`, on the host: how fan-in runs add
up, which targets pass, fail or are skipped, and the verdict lines, table
and plot made from them (no sim, no timings)."""

from __future__ import annotations

from typing import Any

import pytest
from ivcom import bench_services as bs
from ivcom.bench import BenchError

Json = dict[str, Any]


def _setup(svc: float, one: float, tcp: float = 100.0) -> list[Json]:
    return [{"transport": t, "count": 3, "gap_ms": 10,
             "setup_us": {"median": m, "min": m / 2, "max": m * 2, "samples": [m] * 3}}
            for t, m in (("ivcom-service", svc), ("ivcom-one-peer", one), ("tcp", tcp))]


def _fan(totals: dict[tuple[str, str, int], float]) -> list[Json]:
    return [{"transport": t, "kind": k, "clients": n, "unit": bs.KINDS[k],
             "total": {"median": v, "min": v, "max": v, "samples": [v]},
             "runs": [{"start_spread_s": 0.002 * n}]}
            for (t, k, n), v in totals.items()]


def _full(ivcom_4: float = 2.0, ivcom_64: float = 3.0, tcp_64: float = 0.5) -> list[Json]:
    """Totals relative to one client's 1.0 (rtt) or 0.5 GB/s (stream)."""
    out: dict[tuple[str, str, int], float] = {}
    for t, four, many in (("ivcom", ivcom_4, ivcom_64), ("tcp", 1.5, tcp_64)):
        for k, base in (("rtt", 10000.0), ("stream", 0.5)):
            out[(t, k, 1)] = base
            out[(t, k, 4)] = base * four
            out[(t, k, 64)] = base * many
    return _fan(out)


def _by_target(vs: list[Json]) -> dict[str, Json]:
    return {v["target"]: v for v in vs}


def test_aggregate_spans_first_start_to_last_end() -> None:
    recs = [{"count": 100, "bytes": 6400, "mono_begin_ns": 1_000_000_000,
             "mono_end_ns": 2_000_000_000},
            {"count": 300, "bytes": 19200, "mono_begin_ns": 1_100_000_000,
             "mono_end_ns": 3_000_000_000}]
    a = bs.aggregate(recs)
    assert a["seconds"] == pytest.approx(2.0)
    assert a["ops"] == 400 and a["ops_per_s"] == pytest.approx(200.0)
    assert a["bytes_per_s"] == pytest.approx(12800.0)
    assert a["start_spread_s"] == pytest.approx(0.1)
    assert a["per_client"] == [100, 300]


def test_aggregate_refuses_an_empty_span() -> None:
    with pytest.raises(BenchError):
        bs.aggregate([{"count": 1, "mono_begin_ns": 5, "mono_end_ns": 5}])


def test_verdicts_pass() -> None:
    vs = bs.verdicts(_setup(300.0, 200.0), _full())
    assert [v["n"] for v in vs] == list(range(1, 10))
    assert all(v["ok"] for v in vs if not v["baseline"])
    first = vs[0]
    assert first["value"] == pytest.approx(1.5)
    assert bs.verdict_line(first) == ("ok 1 service set-up at most 2x the one-peer connect: "
                                      "1.50x (median 300 us vs 200 us)")


def test_setup_over_twice_fails() -> None:
    v = bs.verdicts(_setup(401.0, 200.0), _full())[0]
    assert v["ok"] is False
    assert bs.verdict_line(v).startswith("not ok 1 service set-up")
    # exactly 2x still meets the target
    assert bs.verdicts(_setup(400.0, 200.0), _full())[0]["ok"] is True


def test_collapse_under_contention_fails() -> None:
    vs = _by_target(bs.verdicts(_setup(1.0, 1.0), _full(ivcom_4=1.2, ivcom_64=0.8)))
    four = vs["ivcom round trips/s with 4 clients no lower than 1 client's"]
    many = vs["ivcom stream throughput with 64 clients no lower than 1 client's"]
    assert four["ok"] is True and four["value"] == pytest.approx(1.2)
    assert many["ok"] is False and many["value"] == pytest.approx(0.8)
    assert bs.verdict_line(many).startswith("not ok ")


def test_tcp_is_a_baseline() -> None:
    vs = bs.verdicts(_setup(1.0, 1.0), _full(tcp_64=0.4))
    tcp = [v for v in vs if v["target"].startswith("tcp ")]
    assert len(tcp) == 4 and all(v["baseline"] for v in tcp)
    low = next(v for v in tcp if "64 clients" in v["target"])
    assert low["ok"] is False
    assert bs.verdict_line(low).endswith("# baseline, for comparison")
    assert not any(v["baseline"] for v in vs if v["target"].startswith(("ivcom", "service")))


def test_counts_outside_the_plan_are_skipped() -> None:
    fan = [r for r in _full() if r["clients"] != 64]
    vs = _by_target(bs.verdicts(_setup(1.0, 1.0), fan))
    v = vs["ivcom round trips/s with 64 clients no lower than 1 client's"]
    assert v["ok"] is None and v["value"] is None
    assert bs.verdict_line(v) == (f"ok {v['n']} ivcom round trips/s with 64 clients no lower "
                                  "than 1 client's # SKIP 64 clients not in the plan")
    assert vs["ivcom round trips/s with 4 clients no lower than 1 client's"]["ok"] is True


def test_nothing_measured_is_skipped_not_passed() -> None:
    vs = bs.verdicts([], [])
    assert len(vs) == 9 and all(v["ok"] is None for v in vs)
    assert all("# SKIP" in bs.verdict_line(v) for v in vs)


def _results() -> Json:
    plan = bs.ServicePlan.for_mode(quick=False)
    setup, fan = _setup(812.0, 571.0, 95.0), _full()
    return {"plan": plan.__dict__, "setup": setup, "fanin": fan,
            "verdicts": bs.verdicts(setup, fan)}


def test_render_has_both_tables_and_every_verdict() -> None:
    text = bs.render(_results())
    for word in ("IVCOM service", "IVCOM one-peer", "TCP loopback", "812 [406..1624]",
                 "IVCOM rt/s", "TCP GB/s", "start spread", "Targets"):
        assert word in text, word
    verdict_lines = [ln.strip() for ln in text.splitlines()
                     if ln.strip().startswith(("ok ", "not ok "))]
    assert len(verdict_lines) == 9
    rows = {ln.split()[0] for ln in text.splitlines() if ln.strip()[:2].strip().isdigit()}
    assert {"1", "4", "64"} <= rows


def test_plot_draws_both_panels(tmp_path: Any) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2)
    bs.plot(_results(), ax1, ax2)
    assert len(ax1.patches) == 3
    assert len(ax2.get_lines()) == 5          # four series and the target line
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)


def test_plans() -> None:
    full, quick = bs.ServicePlan.for_mode(False), bs.ServicePlan.for_mode(True)
    assert full.clients == (1, 4, 16, 64) and full.setup_samples >= 50
    assert set(bs.CONTENDED) <= set(full.clients)
    assert quick.clients[0] == 1 and quick.seconds >= 1
