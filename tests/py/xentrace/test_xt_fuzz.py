"""Run the atheris harness for a bounded number of iterations."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz" / "py"
HARNESS = FUZZ / "fuzz_xentrace.py"
SEEDS = FUZZ / "corpus" / "xentrace"


def test_seed_corpus_is_present_and_valid():
    from ivcom_trace import xentrace as xt

    seeds = sorted(SEEDS.glob("*.bin"))
    assert len(seeds) >= 5
    for seed in seeds:
        xt.decode_bytes(seed.read_bytes())  # every seed is a well-formed file


def test_atheris_harness_bounded_run(tmp_path):
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed in this interpreter")
    before = sorted(p.name for p in SEEDS.iterdir())
    proc = subprocess.run(
        [sys.executable, str(HARNESS), str(tmp_path), str(SEEDS), "-atheris_runs=2000",
         "-seed=1"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Done 2000" in proc.stderr
    assert sorted(p.name for p in SEEDS.iterdir()) == before  # seeds left untouched
