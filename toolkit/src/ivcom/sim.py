"""The sim platform: processes as domains, simhv + the real xenstored.

`start()` launches ``ivcom-simhv`` (which launches xenstored under the
xsshim LD_PRELOAD) in a sim directory and waits until it serves; the
returned :class:`Sim` gives the environment a process needs to join it::

    sim = start()
    subprocess.run([tool], env={**os.environ, **sim.domain_env(1)})
    sim.stop()

Environment of a sim process (``Sim.env``):
  IVCOM_PLATFORM=sim, IVCOM_SIM_DIR=<dir>, XENSTORED_PATH=<dir>/xenstored.sock
  (+ IVCOM_SIM_DOMID=<n> from ``domain_env(n)``; unset means dom0).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ivcom.errors import IvcomError

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BUILD = ROOT / "build" / "core"
XENSTORED = Path("/usr/lib/xen-4.17/bin/xenstored")

SIMHV = "bin/ivcom-simhv"
SHIM = "lib/libivcom-xsshim.so"
READY = "ready"
HV_SOCK = "simhv.sock"
XS_SOCK = "xenstored.sock"

# simhv's request record (sim/sim.h: struct sim_req) and reply header.
_REQ = struct.Struct("<IiIIII")
_RSP = struct.Struct("<iIII")
_SIM_HELLO = 1


class SimError(IvcomError):
    """The sim could not be built, started, found or stopped."""


@dataclass(frozen=True)
class SimBinaries:
    simhv: Path
    shim: Path
    xenstored: Path


def build_dir() -> Path:
    """Where the core is built: $IVCOM_BUILD_DIR or build/core."""
    env = os.environ.get("IVCOM_BUILD_DIR")
    return Path(env) if env else DEFAULT_BUILD


def find_binaries(build: Path | None = None, xenstored: Path | None = None) -> SimBinaries:
    build = build or build_dir()
    bins = SimBinaries(build / SIMHV, build / SHIM, xenstored or XENSTORED)
    for path, hint in (
        (bins.simhv, "make -C ivcom-core O=../build/core sim"),
        (bins.shim, "make -C ivcom-core O=../build/core sim"),
        (bins.xenstored, "apt-get install xen-utils-4.17"),
    ):
        if not path.exists():
            raise SimError(f"{path} is missing: run `{hint}`")
    return bins


def build_binaries(build: Path | None = None) -> None:
    """Build simhv and the shim (`make -C ivcom-core O=... sim`)."""
    build = (build or build_dir()).resolve()
    proc = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "ivcom-core"), f"O={build}", "sim"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SimError("building the sim failed: " + " | ".join(tail))


def _alive(pid: int) -> bool:
    """Whether pid runs (a zombie does not; one of ours gets reaped)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _read_ready(sim_dir: Path) -> tuple[int, int] | None:
    try:
        fields = (sim_dir / READY).read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Sim:
    """A running sim: its directory, daemons and environment."""

    dir: Path
    simhv_pid: int
    xenstored_pid: int
    binaries: SimBinaries | None = None
    owns_dir: bool = False
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def xenstored_socket(self) -> Path:
        return self.dir / XS_SOCK

    @property
    def env(self) -> dict[str, str]:
        return {
            "IVCOM_PLATFORM": "sim",
            "IVCOM_SIM_DIR": str(self.dir),
            "XENSTORED_PATH": str(self.xenstored_socket),
        }

    def domain_env(self, domid: int) -> dict[str, str]:
        """The environment of a process acting as domain `domid`."""
        if not 0 <= domid <= 32751:
            raise SimError(f"domid {domid} out of range 0..32751")
        return {**self.env, "IVCOM_SIM_DOMID": str(domid)}

    def is_running(self) -> bool:
        return _alive(self.simhv_pid) and (self.dir / READY).exists()

    def hold_domain(self, domid: int) -> socket.socket:
        """Make `domid` exist (introduced to xenstored) until the returned
        socket is closed -- what a domain process does on platform open."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(str(self.dir / HV_SOCK))
            sock.send(_REQ.pack(_SIM_HELLO, domid, 0, 0, 0, 0))
            rsp = sock.recv(_RSP.size)
            rc = _RSP.unpack(rsp)[0] if len(rsp) == _RSP.size else -71
        except OSError as exc:
            sock.close()
            raise SimError(f"simhv at {self.dir}: {exc}") from exc
        if rc != 0:
            sock.close()
            raise SimError(f"simhv refused domain {domid}: {os.strerror(-rc)}")
        return sock

    def stop(self, timeout: float = 10.0) -> None:
        """Stop simhv (it stops xenstored) and remove a directory we made."""
        if _alive(self.simhv_pid):
            os.kill(self.simhv_pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                if self._proc is None and not _alive(self.simhv_pid):
                    break
                time.sleep(0.02)
            else:
                os.kill(self.simhv_pid, signal.SIGKILL)
                if _alive(self.xenstored_pid):
                    os.kill(self.xenstored_pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(timeout=timeout)
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    sim_dir: Path | None = None,
    build: Path | None = None,
    xenstored: Path | None = None,
    timeout: float = 15.0,
    verbose: bool = False,
) -> Sim:
    """Start a sim in `sim_dir` (a fresh temp dir if None) and wait until
    it serves.  simhv runs in its own session so it outlives a CLI call."""
    bins = find_binaries(build, xenstored)
    owns = sim_dir is None
    if sim_dir is None:
        sim_dir = Path(tempfile.mkdtemp(prefix="ivcom-sim."))
    sim_dir = sim_dir.resolve()
    sim_dir.mkdir(parents=True, exist_ok=True)
    if len(str(sim_dir / "xsd-evtchn.sock")) > 100:
        raise SimError(f"sim dir path too long for Unix sockets: {sim_dir}")
    old = _read_ready(sim_dir)
    if old and _alive(old[0]):
        raise SimError(f"a sim is already running in {sim_dir} (simhv pid {old[0]})")
    (sim_dir / READY).unlink(missing_ok=True)

    cmd = [str(bins.simhv), "-d", str(sim_dir), "-x", str(bins.xenstored), "-s", str(bins.shim)]
    if verbose:
        cmd.append("-v")
    with open(sim_dir / "simhv.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while (ready := _read_ready(sim_dir)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log_text = (sim_dir / "simhv.log").read_text(errors="replace").strip()
            last = log_text.splitlines()[-1] if log_text else "no output"
            raise SimError(f"simhv did not start in {sim_dir}: {last}")
        time.sleep(0.02)
    return Sim(sim_dir, ready[0], ready[1], bins, owns, proc)


def attach(sim_dir: Path) -> Sim:
    """The sim already running in `sim_dir` (started by another process)."""
    sim_dir = sim_dir.resolve()
    ready = _read_ready(sim_dir)
    if ready is None or not _alive(ready[0]):
        raise SimError(f"no sim is running in {sim_dir}")
    return Sim(sim_dir, ready[0], ready[1])
