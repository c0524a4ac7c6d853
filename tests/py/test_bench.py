"""`ivcom bench` on the sim: the quick plan runs end to end and writes
every row the full run would, in machine-readable form.  (Speed itself is
not asserted here: it is what `make bench` reports.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "ivcom", "bench", "--quick", "--section", "sim", "--out", str(out)],
        capture_output=True, text=True, timeout=900, check=False, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_outputs_written(quick_bench: Path) -> None:
    for name in ("bench.json", "bench.txt", "bench.png"):
        assert (quick_bench / name).stat().st_size > 0, name
    assert (quick_bench / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_transport_measured(quick_bench: Path) -> None:
    sim = json.loads((quick_bench / "bench.json").read_text())["sim"]
    lat = {(r["transport"], r["pin"]) for r in sim["latency"]}
    for t in ("ivcom-poll", "ivcom-adaptive", "tcp", "uds", "pipe"):
        assert (t, "pinned") in lat and (t, "unpinned") in lat, t
    sizes = {r["size"] for r in sim["throughput"]}
    assert {64, 65536, 1048576} <= sizes
    for r in sim["throughput"]:
        assert r["gbytes_per_s"]["median"] > 0, r
    assert sim["instructions"]["per_pair"] > 0
    assert set(sim["ratios"]) >= {"poll_rtt_vs_tcp_pinned", "adaptive_rtt_vs_tcp_pinned",
                                  "msg64k_throughput_vs_tcp_pinned"}


def test_table_names_the_comparison(quick_bench: Path) -> None:
    text = (quick_bench / "bench.txt").read_text()
    for word in ("ivcom-poll", "tcp", "uds", "pipe", "instructions per 64 B"):
        assert word in text


def test_services_records_complete(quick_bench: Path) -> None:
    """Set-up, fan-in and the verdicts: every row of the quick plan, each
    figure positive, every client accounted for (values not judged)."""
    from ivcom import bench_services as bs

    svc = json.loads((quick_bench / "bench.json").read_text())["sim"]["services"]
    plan = svc["plan"]
    assert [r["transport"] for r in svc["setup"]] == list(bs.SETUP_LABELS)
    for r in svc["setup"]:
        s = r["setup_us"]
        assert len(s["samples"]) == plan["setup_samples"] == r["count"], r
        assert 0 < s["min"] <= s["median"] <= s["max"], r
    keys = {(r["transport"], r["kind"], r["clients"]) for r in svc["fanin"]}
    assert keys == {(t, k, n) for t in ("ivcom", "tcp") for k in bs.KINDS
                    for n in plan["clients"]}
    for r in svc["fanin"]:
        assert len(r["runs"]) == plan["reps"] and r["total"]["median"] > 0, r
        for run in r["runs"]:
            assert len(run["per_client"]) == r["clients"] and min(run["per_client"]) > 0, r
            assert run["seconds"] >= plan["seconds"] * 0.9, r
    assert [v["n"] for v in svc["verdicts"]] == list(range(1, 10))
    assert all(isinstance(v["ok"], bool) or v["ok"] is None for v in svc["verdicts"])
    assert svc["verdicts"][0]["ok"] is not None      # set-up always measured
    text = (quick_bench / "bench.txt").read_text()
    for v in svc["verdicts"]:
        assert bs.verdict_line(v) in text
