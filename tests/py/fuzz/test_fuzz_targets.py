"""The libFuzzer targets: corpus + crash replay under ASan+UBSan, and a
short bounded fuzz pass per target (tests/fuzz/fuzz.mk builds them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "build" / "fuzz"
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
CRASHES = ROOT / "tests" / "fuzz" / "crashes"
TARGETS = ("ring_consumer", "ring_producer", "msg_header", "channel_attach", "chan_faults",
           "xs_client", "kv_request", "svc_request")
RUNS = {"ring_consumer": 20000, "ring_producer": 20000, "msg_header": 20000,
        "channel_attach": 5000, "chan_faults": 2000, "xs_client": 20000, "kv_request": 20000,
        "svc_request": 2000}


@pytest.fixture(scope="module")
def fuzz_build() -> Path:
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (libFuzzer builds need it)")
    proc = subprocess.run(
        ["make", "-s", "-f", "tests/fuzz/fuzz.mk", f"FUZZ_ROOT={ROOT}", "fuzz-build"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail("make fuzz-build failed:\n" + (proc.stdout + proc.stderr)[-3000:])
    return OUT


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    return env


@pytest.mark.parametrize("target", TARGETS)
def test_seed_corpus_present(target: str) -> None:
    seeds = sorted((CORPUS / target).iterdir())
    assert len(seeds) >= 5, f"{target}: only {len(seeds)} seeds"
    total = sum(len(list((CORPUS / t).iterdir())) for t in TARGETS)
    assert total < 200


@pytest.mark.parametrize("target", TARGETS)
def test_corpus_replay(target: str, fuzz_build: Path) -> None:
    """Every seed runs through the plain-main ASan+UBSan build."""
    proc = subprocess.run(
        [str(fuzz_build / "replay" / target), str(CORPUS / target)],
        capture_output=True, text=True, timeout=300, env=_env(),
    )
    n = len(list((CORPUS / target).iterdir()))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"fuzz-main: {n} input(s) ran" in proc.stderr


def _crash_inputs() -> list[Path]:
    return sorted(p for p in CRASHES.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", _crash_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_crash_reproducer_fixed(path: Path, fuzz_build: Path) -> None:
    """Each reproducer in tests/fuzz/crashes/<target>/ must run clean (it
    fails until the bug it records is fixed in libivcom)."""
    env = _env()
    env["IVCOM_FUZZ_MISUSE"] = "1"
    proc = subprocess.run(
        [str(fuzz_build / "replay" / path.parent.name), str(path)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, f"{path} still fails:\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("target", TARGETS)
def test_bounded_fuzz(target: str, fuzz_build: Path, tmp_path: Path) -> None:
    """A short deterministic libFuzzer pass finds no invariant failure."""
    work = tmp_path / "corpus"
    work.mkdir()
    before = sorted(p.name for p in (CORPUS / target).iterdir())
    proc = subprocess.run(
        [str(fuzz_build / "lf" / target), str(work), str(CORPUS / target),
         f"-runs={RUNS[target]}", "-seed=1", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=600, env=_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    execs = [ln for ln in proc.stderr.splitlines() if ln.startswith("stat::number_of_executed")]
    assert execs and int(execs[0].split(":")[-1]) >= RUNS[target]
    assert sorted(p.name for p in (CORPUS / target).iterdir()) == before
