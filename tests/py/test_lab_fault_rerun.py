"""lib.sh's lab_fault_rerun under busybox sh (dom0's shell), on the host:
a process that a fault signal kills before it says anything is noted and
run once more; one that said something, or aborted for its own reasons,
is not (its failure stands)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "toolkit" / "src" / "ivcom" / "lab" / "lib.sh"

# Fails the first time it runs (the marker file says which run it is).
FIRST_FAILS = {
    "segv": 'echo "$$" >/dev/null; kill -SEGV $$',
    "heap": 'echo "malloc(): corrupted top size" >&2; kill -ABRT $$',
    "assert": 'echo "ivcom-stream: assertion failed: ring" >&2; kill -ABRT $$',
    "spoke": 'echo "{\\"partial\\": 1}"; kill -SEGV $$',
}


def _run(tmp_path: Path, how: str) -> tuple[int, str, str]:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox not installed: cannot run lib.sh as dom0 does")
    tool = tmp_path / "tool.sh"
    tool.write_text("if [ -f marker ]; then echo second-run; exit 0; fi\n"
                    f"touch marker\n{FIRST_FAILS[how]}\n")
    script = (f". {LIB}\n"
              "lab_log() { echo \"$*\"; }\n"
              f"lab_fault_rerun out.txt err.txt {busybox} sh {tool}\n"
              "echo \"rc=$?\"\n")
    proc = subprocess.run([busybox, "sh", "-c", script], cwd=tmp_path, env={"OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert "rc=" in proc.stdout, proc.stderr
    rc = int(proc.stdout.rsplit("rc=", 1)[1].split()[0])
    notes = (tmp_path / "retries").read_text() if (tmp_path / "retries").exists() else ""
    return rc, (tmp_path / "out.txt").read_text(), notes


@pytest.mark.parametrize("how", ["segv", "heap"])
def test_silent_fault_is_noted_and_rerun(tmp_path: Path, how: str) -> None:
    rc, out, notes = _run(tmp_path, how)
    assert (rc, out) == (0, "second-run\n")
    # the note names the command, its status and the first line it left
    want = ("status 134: malloc(): corrupted top size" if how == "heap"
            else "status 139: Segmentation fault")
    assert f"busybox died ({want}) before any output; re-ran it" in notes


@pytest.mark.parametrize("how,status", [("assert", 134), ("spoke", 139)])
def test_a_process_that_said_something_is_not_rerun(tmp_path: Path, how: str,
                                                    status: int) -> None:
    rc, out, notes = _run(tmp_path, how)
    assert rc == status and "second-run" not in out
    assert notes == ""
