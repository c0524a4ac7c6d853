"""Run the atheris harness of the ring layout decoders for a bounded
number of iterations (tests/fuzz/py/fuzz_layouts.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HARNESS = ROOT / "tests" / "fuzz" / "py" / "fuzz_layouts.py"
SEEDS = ROOT / "tests" / "fuzz" / "corpus" / "layouts"


def test_seeds_decode_cleanly() -> None:
    sys.path.insert(0, str(HARNESS.parent))
    from ivcom import layouts as L

    seeds = sorted(SEEDS.iterdir())
    assert len(seeds) >= 5
    d = L.decode_ivcom((SEEDS / "seed-ivcom").read_bytes()[1:])
    assert d.ok, d.violations


def test_atheris_layouts_bounded_run(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed in this interpreter")
    before = sorted(p.name for p in SEEDS.iterdir())
    proc = subprocess.run(
        [sys.executable, str(HARNESS), str(tmp_path), str(SEEDS), "-atheris_runs=3000",
         "-seed=1"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 3000" in proc.stderr
    assert sorted(p.name for p in SEEDS.iterdir()) == before
