"""The guest's freestanding C files, compiled for the host (tests/c/guest_*.c)."""

from __future__ import annotations

import re
import shutil

import pytest
from guest_helpers import ROOT, run_make


def test_host_unit_programs() -> None:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("make/cc not available")
    proc = run_make("test-host")
    out = proc.stdout + proc.stderr
    m = re.search(r"host tests: (\d+) passed, (\d+) failed, (\d+) skipped", out)
    assert m, f"no summary line:\n{out}"
    passed, failed = int(m.group(1)), int(m.group(2))
    assert failed == 0 and proc.returncode == 0, out
    assert passed >= 7, out
    # Every program there is ran (a new tests/c/guest_*.c is picked up).
    for prog in sorted((ROOT / "tests" / "c").glob("guest_*.c")):
        ran = re.search(rf"^(PASS|SKIP) {prog.stem}\b", out, re.M)
        assert ran, f"{prog.stem} did not run:\n{out}"
