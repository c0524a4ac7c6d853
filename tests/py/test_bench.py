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
