"""Failures come back as a stage and a one-line reason, never a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ivcom.lab.errors import LabError
from ivcom.lab.runner import LabRunner, Scenario

pytestmark = pytest.mark.lab


def test_failing_scenario_reports_reason(lab):
    s = lab.scenario("deliberate-failure")
    assert s.rc == 1
    assert s.reason == "deliberate failure for the test suite"
    assert (s.dir / "partial.txt").read_text() == "partial\n"
    assert not (s.dir / "unreachable.txt").exists()
    # a failing scenario is reported as such, and does not hide the others
    assert s in lab.boot.failed()
    assert lab.scenario("smoke").ok


def test_host_inputs_reach_dom0(lab):
    d = lab.ok("inputs")
    assert (d / "seen.txt").read_text() == lab.hello
    assert (d / "env.txt").read_text() == lab.test_var + "\n"


def _qemu_processes_for(run_dirs: list[Path]) -> list[int]:
    hits = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(str(d) in cmd for d in run_dirs):
            hits.append(int(pid))
    return hits


def test_boot_timeout_names_stage_and_kills_qemu(lab_image):
    runner = LabRunner(lab_image, timeout=3.0, retry=False, status=None)
    runs = runner.base / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    with pytest.raises(LabError) as exc:
        runner.boot([Scenario.builtin("smoke")], tag="timeout-test")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "timed out after 3s" in msg
    assert exc.value.stage in ("qemu", "xen", "dom0-kernel", "dom0-init")
    assert exc.value.log is not None and exc.value.log.is_file()
    new = sorted(set(runs.iterdir()) - before)
    assert len(new) == 1
    assert _qemu_processes_for(new) == []


CHILD = """
import sys
from ivcom.lab.image import build_image
from ivcom.lab.runner import LabRunner, Scenario
from ivcom.lab.tools import standard_payload
r = LabRunner(build_image(standard_payload(), log=False), timeout=120,
              status=lambda m: print(m, flush=True))
r.boot([Scenario.builtin("smoke")], tag="orphan-test")
"""


def test_qemu_dies_with_a_killed_runner(lab_image):
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        run_name = None
        assert child.stdout is not None
        for line in child.stdout:
            if "serial log " in line:
                run_name = Path(line.split("serial log ", 1)[1].strip()).stem
                break
        assert run_name, "the runner never started QEMU"
        run_dir = lab_image.dir.parent.parent / "runs" / run_name
        pids: list[int] = []
        for _ in range(100):  # wait for QEMU to appear
            pids = _qemu_processes_for([run_dir])
            if pids:
                break
            time.sleep(0.1)
        assert pids, "QEMU process not found"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    for _ in range(100):  # SIGKILL from the kernel: gone promptly
        if not _qemu_processes_for([run_dir]):
            break
        time.sleep(0.1)
    assert _qemu_processes_for([run_dir]) == []
