"""lib.sh's lab_fault_rerun under busybox sh (dom0's shell), on the host:
a process that a fault signal kills before it says anything is noted and
run once more; one that said something, or aborted for its own reasons,
is not (its failure stands)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
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


def _busybox(what: str) -> str:
    """busybox's path, or skip: WHAT is run as dom0 runs it."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip(f"busybox not installed: cannot run {what} as dom0 does")
    return busybox


def _sandbox(tmp_path: Path, what: str, applets: tuple[str, ...],
             tools: dict[str, str]) -> str:
    """A bin/ under tmp_path with busybox's APPLETS and the TOOLS (name ->
    script) dom0 would have; returns busybox's path."""
    busybox = _busybox(what)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for applet in applets:
        (bindir / applet).symlink_to(busybox)
    for name, text in tools.items():
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    return busybox


def _sh(busybox: str, tmp_path: Path, script: str, env: dict[str, str]
        ) -> subprocess.CompletedProcess[str]:
    """SCRIPT under busybox sh in tmp_path, PATH the sandbox's bin/."""
    return subprocess.run([busybox, "sh", "-c", script], cwd=tmp_path,
                          env={"PATH": str(tmp_path / "bin"), "OUT": str(tmp_path), **env},
                          capture_output=True, text=True, timeout=60, check=False)


def _read(d: Path, name: str) -> str:
    p = d / name
    return p.read_text() if p.exists() else ""


def _run(tmp_path: Path, how: str) -> tuple[int, str, str]:
    busybox = _busybox("lib.sh")
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
    return rc, (tmp_path / "out.txt").read_text(), _read(tmp_path, "retries")


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


# ---- guest-lib.sh's dom0 steps between guests: the same rule ------------------

GUEST_LIB = LIB.parent / "guest-lib.sh"

# Each (command, first argument) faults the first time it runs, then logs
# its arguments; `xl domid` answers 7.  BROKEN names one that fails for
# good, saying why (as xl does for a domain that is not there).
STUB = r"""#!/bin/sh
[ "$1 $2" = "$BROKEN" ] && { echo "$1: $2: no such domain" >&2; exit 1; }
m="$FAKE/ran-$(basename "$0")-$(echo "$1-$2" | tr / _)"
if [ ! -f "$m" ]; then : >"$m"; kill -SEGV $$; fi
echo "$(basename "$0") $*" >>"$FAKE/log"
[ "$1" = domid ] && echo 7
exit 0
"""


def _guest_steps(tmp_path: Path, body: str, broken: str = "") -> tuple[int, str, str, str]:
    busybox = _sandbox(tmp_path, "guest-lib.sh", ("sh", "wc", "head", "grep", "basename", "tr"),
                       dict.fromkeys(("xl", "xenstore-write", "xenstore-chmod"), STUB))
    script = f". {LIB}\nlab_log() {{ echo \"$*\"; }}\n. {GUEST_LIB}\n{body}\necho end\n"
    proc = _sh(busybox, tmp_path, script,
               {"FAKE": str(tmp_path), "TMPDIR": str(tmp_path), "BROKEN": broken})
    return (proc.returncode, proc.stdout, _read(tmp_path, "log"),
            _read(tmp_path, "retries") + _read(tmp_path, "reason"))


def test_guest_steps_rerun_an_xl_that_faulted_at_start_up(tmp_path: Path) -> None:
    rc, out, log, notes = _guest_steps(
        tmp_path, 'guest_domid g srv\necho "g=$g"\nguest_unpause srv cli\n'
                  'guest_tell 7 ivcom-peer 9')
    assert rc == 0 and "g=7" in out and out.rstrip().endswith("end"), out
    # every step ran to completion exactly once, after one faulted start
    assert log.splitlines() == ["xl domid srv", "xl unpause srv", "xl unpause cli",
                                "xenstore-write /local/domain/7/data/ivcom-peer 9",
                                "xenstore-chmod /local/domain/7/data/ivcom-peer n7"]
    assert notes.count("died (status 139: Segmentation fault) before any output; re-ran it") == 5
    assert "xl died" in notes and "xenstore-chmod died" in notes


def test_a_guest_left_paused_fails_the_scenario_naming_it(tmp_path: Path) -> None:
    rc, out, log, notes = _guest_steps(tmp_path, "guest_unpause srv cli", broken="unpause cli")
    assert rc == 1 and "end" not in out
    assert "xl unpause cli failed" in notes
    assert "xl unpause srv" in log and "unpause cli" not in log


# ---- trace-env.sh's `ivcom-trace rings -j` lister and its spare ----------------

TRACE_ENV = LIB.parent / "trace-env.sh"

# Stands in for python3 running the lister: ready, then waits for its go
# file, then lists (or dies as $DIE_N says: "N:how", how being heap or said, or early:
# dies at start-up, the first time).
FAKE_PYTHON = r"""#!/bin/sh
cat >/dev/null
if [ "$DIE_N" = "$RINGS_N:early" ] && [ ! -f "$T/early" ]; then touch "$T/early"; kill -SEGV $$; fi
echo $$ >"$T/pid-$RINGS_N"
touch "$T/rings-ready-$RINGS_N"
while [ ! -f "$T/rings-go-$RINGS_N" ]; do sleep 0.05; done
case "$DIE_N" in
    "$RINGS_N:heap") echo "malloc(): corrupted top size" >&2; kill -ABRT $$ ;;
    "$RINGS_N:said") echo "ivcom-trace: cannot read ring" >&2; exit 1 ;;
esac
echo "[{\"lister\": $RINGS_N}]"
"""


def _rings(tmp_path: Path, die: str) -> tuple[int, str, str, str]:
    busybox = _sandbox(tmp_path, "trace-env.sh's helpers",
                       ("sh", "wc", "head", "tail", "grep", "rm", "mv", "touch", "sleep", "cat",
                        "kill"), {"python3": FAKE_PYTHON})
    text = TRACE_ENV.read_text()
    helpers = text[text.index("# ---- helpers of the trace scenarios"):]
    # /tmp in the helpers is the dom0's; here a directory of the test's own
    helpers = helpers.replace("/tmp/", f"{tmp_path}/t/")
    (tmp_path / "t").mkdir()
    script = (f". {LIB}\nlab_log() {{ echo \"$*\"; }}\n{helpers}\n"
              "start_rings\ngo_rings\necho end\n")
    left: list[int] = []
    try:
        proc = _sh(busybox, tmp_path, script, {"DIE_N": die, "T": str(tmp_path / "t")})
    finally:
        for pidfile in (tmp_path / "t").glob("pid-*"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                left.append(int(pidfile.read_text()))
    # no lister is left behind, whatever happened
    assert not left, f"listers left running: {left}"
    return (proc.returncode, _read(tmp_path, "rings.json"), _read(tmp_path, "retries"),
            _read(tmp_path, "reason"))


def test_rings_lister_lists_and_the_spare_is_stopped(tmp_path: Path) -> None:
    rc, rings, retries, reason = _rings(tmp_path, "")
    assert (rc, rings, retries, reason) == (0, '[{"lister": 1}]\n', "", "")


def test_rings_lister_dying_silently_is_replaced_by_the_spare(tmp_path: Path) -> None:
    rc, rings, retries, reason = _rings(tmp_path, "1:heap")
    assert (rc, rings, reason) == (0, '[{"lister": 2}]\n', "")
    assert ("ivcom-trace rings died before listing (status 134: malloc(): corrupted top size);"
            " the spare lists") in retries


def test_rings_lister_that_reports_an_error_fails_the_scenario(tmp_path: Path) -> None:
    rc, _rings_json, retries, reason = _rings(tmp_path, "1:said")
    assert rc == 1 and retries == ""
    assert reason == "ivcom-trace rings -j: exit 1: ivcom-trace: cannot read ring\n"


def test_rings_lister_dying_at_start_up_is_started_again(tmp_path: Path) -> None:
    rc, rings, retries, reason = _rings(tmp_path, "2:early")
    assert (rc, rings, reason) == (0, '[{"lister": 1}]\n', "")
    assert "ivcom-trace rings died at start (status 139); starting it again" in retries


# ---- guest_finish: a guest that shut down but was never reaped ----------------

# `xl list NAME` shows the guest in state $STATE; `xl destroy` is logged.
XL_LISTING = r"""#!/bin/sh
case $1 in
    list) printf 'Name  ID  Mem VCPUs\tState\tTime(s)\n%s  7  4  1  %s  1.2\n' "$2" "$STATE" ;;
    destroy) echo "xl destroy $2" >>"$FAKE/log" ;;
esac
"""


@pytest.mark.parametrize("state,reaped", [("---s--", True), ("-b----", False),
                                          ("r-----", False)])
def test_guest_finish_tells_an_unreaped_shutdown_from_a_running_guest(
        tmp_path: Path, state: str, reaped: bool) -> None:
    busybox = _sandbox(tmp_path, "guest-lib.sh", ("sh", "grep", "awk", "tr", "head", "sleep"),
                       {"xl": XL_LISTING})
    consoles = tmp_path / "consoles"
    consoles.mkdir()
    (consoles / "guest-g1.log").write_text("ivcom-guest: result: SUCCESS echo: done\r\n")
    script = (f". {LIB}\nlab_log() {{ echo \"$*\"; }}\nCONSOLE_DIR={consoles}\n"
              f". {GUEST_LIB}\nguest_finish g1\necho end\n")
    proc = _sh(busybox, tmp_path, script,
               {"FAKE": str(tmp_path), "STATE": state, "GUEST_GONE_WAIT": "2"})
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("end"), proc.stderr
    assert _read(tmp_path, "log") == "xl destroy g1\n"
    assert _read(tmp_path, "console-g1.log") == "ivcom-guest: result: SUCCESS echo: done\n"
    if reaped:
        assert _read(tmp_path, "still-running") == ""
        assert "g1 shut itself down but nothing reaped it" in _read(tmp_path, "retries")
    else:
        assert _read(tmp_path, "still-running") == "g1\n" and _read(tmp_path, "retries") == ""
