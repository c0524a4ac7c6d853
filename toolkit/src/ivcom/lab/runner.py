"""Boot Xen 4.17 under QEMU TCG and run scenarios in dom0.

One boot runs any number of scenarios in order.  The host prepares a run
directory (shared with dom0 over 9p as /labrun) holding the scenario
scripts; dom0 writes each scenario's files to results/<name>/ there, along
with copies of the guest console logs.  The serial console streams to
build/lab/logs/<run>.log and is read only for progress markers
("ivcom-lab: ..."), so that a failure names its stage.

QEMU never outlives the call: it is killed on timeout, failure or exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ivcom.lab.errors import LabError, QemuUnavailable
from ivcom.lab.image import LabImage, build_root

QEMU = "qemu-system-x86_64"

# -smap: plain `max` crashes dom0 (SMAP under TCG).  -xsave: with XSAVE
# offered (and so AVX), QEMU 7.2's TCG under Xen 4.17 loses processes'
# vector registers across context switches -- a quarter of lab-vecstate's
# rounds came back wrong, xmm halves included -- which showed up as
# corrupt heaps, impossible floats and wrong bytes copied by memcpy.
# Without it Linux saves them with FXSAVE and none was lost.
LAB_CPU = "max,-smap,-xsave"
# Multi-threaded TCG: one host thread per vCPU.  IVCOM_LAB_ACCEL overrides
# it (e.g. "tcg,thread=single" to tell TCG faults from the guests' own).
LAB_ACCEL = "tcg,thread=multi"
XEN_CMDLINE = ("console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 "
               "loglvl=warning guest_loglvl=warning")
DOM0_CMDLINE = "console=hvc0 rdinit=/init loglevel=4"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Scenario:
    """A dom0 shell script (busybox sh, lib.sh sourced) and its name."""

    name: str
    script: str

    @staticmethod
    def builtin(name: str) -> Scenario:
        res = resources.files("ivcom.lab").joinpath(f"scn-{name}.sh")
        if not res.is_file():
            raise LabError(f"no built-in scenario {name!r} (have: {', '.join(builtin_names())})",
                           exit_code=2)
        return Scenario(name, res.read_text())

    @staticmethod
    def from_file(path: Path) -> Scenario:
        try:
            text = path.read_text()
        except OSError as exc:
            raise LabError(f"cannot read scenario {path}: {exc.strerror}", exit_code=2) from exc
        name = path.name.removesuffix(".sh")
        return Scenario(name, text)

    @staticmethod
    def resolve(spec: str) -> Scenario:
        p = Path(spec)
        if spec.endswith(".sh") or os.sep in spec:
            return Scenario.from_file(p)
        return Scenario.builtin(spec)


def builtin_names() -> list[str]:
    out = []
    for e in resources.files("ivcom.lab").iterdir():
        if e.name.startswith("scn-") and e.name.endswith(".sh"):
            out.append(e.name[4:-3])
    return sorted(out)


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    rc: int | None          # None: never finished (boot died or timed out)
    dir: Path
    reason: str
    retries: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class BootResult:
    run_dir: Path
    log: Path
    results: Path
    scenarios: dict[str, ScenarioResult] = field(default_factory=dict)
    retries: list[str] = field(default_factory=list)
    dom0_ready_s: float | None = None
    seconds: float = 0.0

    def failed(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios.values() if not s.ok]


def check_qemu() -> str:
    """Raise QemuUnavailable (with the reason) unless QEMU can run."""
    exe = shutil.which(QEMU)
    if exe is None:
        raise QemuUnavailable(f"{QEMU} not found in PATH", stage="qemu")
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QemuUnavailable(f"{QEMU} cannot run: {exc}", stage="qemu") from exc
    if proc.returncode != 0:
        raise QemuUnavailable(f"{QEMU} --version failed: {proc.stderr.strip()[:200]}",
                              stage="qemu")
    return exe


class _Console(threading.Thread):
    """Copy QEMU's serial output to the log, tracking lab markers."""

    def __init__(self, stream: object, log: Path, echo: Callable[[str], None] | None) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.log = log
        self.echo = echo
        self.lock = threading.Lock()
        self.stage = "qemu"
        self.failure: str | None = None
        self.ready_at: float | None = None
        self.done = False
        self.current: str | None = None
        self.t0 = time.monotonic()

    def _line(self, line: str) -> None:
        with self.lock:
            if "Xen version" in line and self.stage == "qemu":
                self.stage = "xen"
            elif "Linux version" in line and self.stage in ("qemu", "xen"):
                self.stage = "dom0-kernel"
            elif "ivcom-lab: dom0 init" in line:
                self.stage = "dom0-init"
            elif "ivcom-lab: dom0 ready" in line:
                self.stage = "dom0-ready"
                self.ready_at = time.monotonic() - self.t0
            elif "ivcom-lab: dom0 failed:" in line:
                self.failure = line.split("ivcom-lab: dom0 failed:", 1)[1].strip()
            elif "Panic on CPU" in line:
                self.failure = "Xen panicked"
            elif "Kernel panic" in line and self.failure is None:
                self.failure = "dom0 kernel panic: " + line.split("Kernel panic", 1)[1][:120]
            elif m := re.search(r"ivcom-lab: scenario (\S+) begin", line):
                self.current = m.group(1)
                self.stage = f"scenario {self.current}"
            elif re.search(r"ivcom-lab: scenario (\S+) end", line):
                self.current = None
                self.stage = "between scenarios"
            elif "ivcom-lab: all done" in line:
                self.stage = "shutdown"
                self.done = True

    def run(self) -> None:
        buf = b""
        with open(self.log, "ab") as out:
            while True:
                chunk = self.stream.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                out.write(chunk)
                out.flush()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    text = raw.decode("utf-8", "replace").rstrip("\r")
                    self._line(text)
                    if self.echo is not None:
                        self.echo(text)
            if buf:
                self._line(buf.decode("utf-8", "replace"))


class LabRunner:
    """Boot the lab image and run scenarios; one QEMU per `boot()` call."""

    def __init__(self, image: LabImage, *, timeout: float = 600.0,
                 scenario_timeout: float = 300.0, memory_mib: int = 3072, smp: int = 2,
                 retry: bool = True, echo: Callable[[str], None] | None = None,
                 status: Callable[[str], None] | None = print) -> None:
        self.image = image
        self.timeout = timeout
        self.scenario_timeout = scenario_timeout
        self.memory_mib = memory_mib
        self.smp = smp
        self.retry = retry
        self.echo = echo
        self.status = status
        self.base = build_root() / "lab"

    def _say(self, msg: str) -> None:
        if self.status is not None:
            self.status(f"ivcom lab: {msg}")

    def qemu_argv(self, exe: str, run_dir: Path) -> list[str]:
        def esc(p: Path | str) -> str:
            return str(p).replace(",", ",,")

        return [
            exe, "-accel", os.environ.get("IVCOM_LAB_ACCEL", LAB_ACCEL),
            "-cpu", os.environ.get("IVCOM_LAB_CPU", LAB_CPU),
            "-smp", str(self.smp), "-m", str(self.memory_mib),
            "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(self.image.xen), "-append", XEN_CMDLINE,
            "-initrd", f"{esc(self.image.kernel)} {DOM0_CMDLINE},{esc(self.image.dom0_initrd)}",
            "-virtfs", f"local,path={esc(run_dir)},mount_tag=labrun,security_model=none,"
                       "id=labrun",
        ]

    def _prune(self, keep: int = 30, min_age_s: float = 3600.0) -> None:
        """Drop old run directories and their logs (never recent ones: another
        boot may be using them)."""
        runs = self.base / "runs"
        if not runs.is_dir():
            return
        now = time.time()
        old = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[:-keep]
        for d in old:
            if now - d.stat().st_mtime > min_age_s:
                shutil.rmtree(d, ignore_errors=True)
                with contextlib.suppress(OSError):
                    (self.base / "logs" / f"{d.name}.log").unlink()

    def _prepare(self, scenarios: list[Scenario], tag: str, env: dict[str, str],
                 files: dict[str, Path]) -> Path:
        self._prune()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = self.base / "runs" / f"{stamp}-{os.getpid()}-{tag}"
        n = 1
        while run_dir.exists():
            n += 1
            run_dir = self.base / "runs" / f"{stamp}-{os.getpid()}-{tag}.{n}"
        (run_dir / "scn").mkdir(parents=True)
        (run_dir / "results").mkdir()
        for s in scenarios:
            (run_dir / "scn" / f"{s.name}.sh").write_text(s.script)
        (run_dir / "scenarios").write_text("".join(s.name + "\n" for s in scenarios))
        (run_dir / "files").mkdir()
        for name, src in files.items():
            if not _NAME_RE.match(name):
                raise LabError(f"bad file name {name!r}", exit_code=2)
            try:
                shutil.copyfile(src, run_dir / "files" / name)
            except OSError as exc:
                raise LabError(f"cannot copy {src}: {exc.strerror}", stage="prepare") from exc
        lines = [f"export LAB_SCENARIO_TIMEOUT={int(self.scenario_timeout)}",
                 "export LAB_FILES=/labrun/files"]
        for k, v in sorted(env.items()):
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
                raise LabError(f"bad environment variable name {k!r}", exit_code=2)
            lines.append(f"export {k}='" + v.replace("'", "'\\''") + "'")
        (run_dir / "env").write_text("\n".join(lines) + "\n")
        return run_dir

    def boot(self, scenarios: Iterable[Scenario] = (), tag: str = "boot",
             env: dict[str, str] | None = None,
             files: dict[str, Path] | None = None) -> BootResult:
        """Boot once and run `scenarios` in order.

        `env` is exported to the scenarios; `files` (name -> host path) are
        copied into the run directory and appear in dom0 as $LAB_FILES/<name>
        (no image rebuild: use it for guest kernels, configs, test inputs).
        """
        scns = list(scenarios)
        names = [s.name for s in scns]
        for s in scns:
            if not _NAME_RE.match(s.name):
                raise LabError(f"bad scenario name {s.name!r}", exit_code=2)
        if len(set(names)) != len(names):
            raise LabError("scenario names must be unique in one boot", exit_code=2)
        exe = check_qemu()
        retries: list[str] = []
        attempt = 1
        while True:
            result, early = self._boot_once(exe, scns, tag, env or {}, files or {})
            result.retries = retries + result.retries
            if early is None:
                return result
            if attempt >= 2 or not self.retry:
                raise LabError(early, stage=result_stage(early), log=result.log)
            note = f"boot failed ({early}); retrying once"
            self._say(note)
            retries.append(note)
            attempt += 1

    def _boot_once(self, exe: str, scns: list[Scenario], tag: str, env: dict[str, str],
                   files: dict[str, Path]) -> tuple[BootResult, str | None]:
        run_dir = self._prepare(scns, tag, env, files)
        logs = self.base / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{run_dir.name}.log"
        log.write_bytes(b"")
        res = BootResult(run_dir, log, run_dir / "results")
        argv = self.qemu_argv(exe, run_dir)
        (run_dir / "qemu-argv").write_text(" ".join(repr(a) for a in argv) + "\n")
        self._say(f"booting Xen ({len(scns)} scenario(s)); serial log {log}")
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, preexec_fn=_pdeathsig_hook())
        except OSError as exc:
            raise QemuUnavailable(f"cannot start {QEMU}: {exc}", stage="qemu", log=log) from exc
        con = _Console(proc.stdout, log, self.echo)
        con.start()
        early: str | None = None
        done_at: float | None = None
        try:
            while True:
                rc = proc.poll()
                now = time.monotonic()
                with con.lock:
                    stage, failure, done = con.stage, con.failure, con.done
                if failure is not None:
                    early = f"{stage}: {failure}" if con.ready_at is None else None
                    if con.ready_at is not None:
                        res.retries.append(f"after dom0 was ready: {failure}")
                    break
                if done and done_at is None:
                    done_at = now
                if rc is not None:
                    if not done:
                        con.join(timeout=5)
                        with con.lock:
                            done = con.done
                            stage = con.stage
                            failure = con.failure
                    if not done and con.ready_at is None:
                        early = f"{stage}: QEMU exited (status {rc}) before dom0 was ready" + (
                            f" ({failure})" if failure else "")
                    break
                if done_at is not None and now - done_at > 30:
                    break  # dom0 finished but the machine did not power off
                if now - t0 > self.timeout:
                    if con.ready_at is None:
                        early = f"{stage}: timed out after {self.timeout:.0f}s"
                    else:
                        res.retries.append(f"boot timed out after {self.timeout:.0f}s in "
                                           f"{stage}")
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            con.join(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        res.seconds = time.monotonic() - t0
        res.dom0_ready_s = con.ready_at
        if early is None:
            for s in scns:
                res.scenarios[s.name] = _scenario_result(res.results / s.name, s.name,
                                                         con.stage)
        return res, early


def _pdeathsig_hook() -> Callable[[], None] | None:
    """A preexec hook that makes the QEMU child get SIGKILL if the Python
    process dies, so that no QEMU outlives its runner even on a hard kill.
    Everything is resolved here, in the parent: the hook itself only makes
    one libc call (no imports or allocation after fork)."""
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    sig = int(signal.SIGKILL)

    def hook() -> None:
        prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG

    return hook


def result_stage(message: str) -> str:
    return message.split(":", 1)[0] if ":" in message else "boot"


def _read(p: Path) -> str:
    try:
        return p.read_text(errors="replace").strip()
    except OSError:
        return ""


def _scenario_result(d: Path, name: str, last_stage: str) -> ScenarioResult:
    rc_text = _read(d / "rc")
    rc: int | None = int(rc_text) if rc_text.lstrip("-").isdigit() else None
    reason = _read(d / "reason").splitlines()
    why = reason[-1] if reason else ""
    if rc is None and not why:
        why = f"did not finish (machine stopped during {last_stage})"
    elif rc not in (0, None) and not why:
        tail = _read(d / "scenario.log").splitlines()
        why = f"exit status {rc}" + (f": {tail[-1][:160]}" if tail else "")
    retries = tuple(_read(d / "retries").splitlines()) if (d / "retries").exists() else ()
    return ScenarioResult(name, rc, d, why, retries)
