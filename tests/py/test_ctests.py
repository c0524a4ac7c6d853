"""Run the C test programs (tests/c/*.c, built with ASan+UBSan).

Each program checks one behaviour and exits 0 (pass), 1 (fail) or 77
(skip, with the reason on stderr).  Programs that use channels run as
sim domains against the session's sim (xenstored + simhv).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "core-san" / "tests"
# guest_* programs belong to the tiny guest's build (tests/py/guest).
SOURCES = sorted(
    p.stem for p in (ROOT / "tests" / "c").glob("*.c") if not p.stem.startswith("guest_")
)
# Pure ring tests need no platform; everything else runs inside the sim.
STANDALONE = ("ring_",)


@pytest.fixture(scope="session")
def ctest_bins() -> Path:
    if not BIN.is_dir():
        pytest.fail(f"C tests not built: run `make core-san` (missing {BIN})")
    return BIN


@pytest.mark.parametrize("name", SOURCES)
def test_c(name: str, ctest_bins: Path, request: pytest.FixtureRequest) -> None:
    exe = ctest_bins / name
    if not exe.exists():
        pytest.fail(f"{exe} was not built")
    env = dict(os.environ)
    if not name.startswith(STANDALONE):
        sim = request.getfixturevalue("sim")
        env.update(sim.env)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    # Own session: on a timeout the whole process group (the test's forked
    # domains included) is killed, and the output so far is reported.
    proc = subprocess.Popen(
        [str(exe)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{name} did not finish in 180 s:\n{out}")
    out = out.strip()
    if proc.returncode == 77:
        pytest.skip(out.splitlines()[-1] if out else f"{name} skipped")
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{out}"
