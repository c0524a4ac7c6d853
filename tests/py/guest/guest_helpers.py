"""Helpers for the tiny guest's tests: build it, find Xen, boot it as dom0."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "minios-app"
OUT = ROOT / "build" / "guest"
CACHE = ROOT / "build" / "cache" / "guest"
XEN_DEB = "xen-hypervisor-4.17-amd64"
RESULT_PREFIX = "ivcom-guest: result: "


def run_make(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(APP_DIR), f"O={OUT}", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def fetch_xen() -> Path | None:
    """The hypervisor ELF QEMU's multiboot loader wants, from Debian's deb."""
    elf = CACHE / "xen.elf"
    if elf.exists():
        return elf
    CACHE.mkdir(parents=True, exist_ok=True)
    debs = sorted(CACHE.glob(f"{XEN_DEB}_*.deb"))
    if not debs and shutil.which("apt-get"):
        subprocess.run(["apt-get", "download", XEN_DEB], cwd=CACHE,
                       capture_output=True, timeout=300, check=False)
        debs = sorted(CACHE.glob(f"{XEN_DEB}_*.deb"))
    if not debs:
        return None
    tree = CACHE / "x"
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tree)], check=True, timeout=120)
    gz = sorted((tree / "boot").glob("xen-4.17-amd64.gz"))
    if not gz:
        return None
    with open(elf, "wb") as out:
        subprocess.run(["gunzip", "-c", str(gz[0])], stdout=out, check=True, timeout=120)
    return elf


@dataclass(frozen=True)
class Boot:
    log: str
    result: str | None          # the text after "ivcom-guest: result: "
    exited: bool                # QEMU ended by itself (Xen rebooted)

    def guest_lines(self) -> list[str]:
        return [ln.strip() for ln in self.log.splitlines()
                if ln.startswith(("ivcom-guest:", "hello:", "mm:", "gnttab:"))]


def boot_as_dom0(xen: Path, image: Path, cmdline: str = "",
                 timeout: float = 120, qemu_extra: tuple[str, ...] = (),
                 xen_extra: str = "") -> Boot:
    """Boot `image` as Xen's dom0 under QEMU TCG and collect the serial log
    until the result line appears (or QEMU exits, or the timeout).  QEMU is
    always killed.  `qemu_extra` / `xen_extra`: more QEMU arguments and
    Xen command-line words (a PVH dom0 needs an IOMMU: q35 + intel-iommu,
    dom0=pvh)."""
    module = f"{image} {cmdline}".strip()
    argv = [
        "qemu-system-x86_64", *qemu_extra, "-accel", "tcg,thread=multi", "-cpu", "max,-smap",
        "-smp", "2", "-m", "512", "-nographic", "-no-reboot", "-nodefaults",
        "-serial", "stdio", "-kernel", str(xen),
        "-append", f"console=com1 com1=115200,8n1 dom0_mem=64M loglvl=all "
                   f"guest_loglvl=all {xen_extra}".strip(),
        "-initrd", module,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    result: str | None = None
    exited = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = proc.stdout.read()
            if chunk:
                buf += chunk
                # Only complete lines: the result line may arrive in pieces.
                done = buf[: buf.rfind(b"\n") + 1].decode(errors="replace")
                for line in done.replace("\r", "").splitlines():
                    if line.startswith(RESULT_PREFIX):
                        result = line[len(RESULT_PREFIX):].strip()
                if result is not None:
                    break
            elif proc.poll() is not None:
                exited = True
                break
            else:
                time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        rest = proc.stdout.read()
        if rest:
            buf += rest
    log = buf.decode(errors="replace").replace("\r", "")
    if result is None:
        for line in log.splitlines():
            if line.startswith(RESULT_PREFIX):
                result = line[len(RESULT_PREFIX):].strip()
    return Boot(log=log, result=result, exited=exited)


# ---- tiny guests as domUs in the Xen lab ------------------------------------
# Busybox sh for lab scenarios (lib.sh is sourced; cwd is $OUT): the
# toolkit's guest-lib.sh (ivcom.lab package data), which the lab benchmark
# sources too -- one copy.  Guest images and the config template are
# expected in $G.
GUEST_LIB = ROOT / "toolkit" / "src" / "ivcom" / "lab" / "guest-lib.sh"


def _guest_sh() -> str:
    try:
        from importlib import resources

        return resources.files("ivcom.lab").joinpath("guest-lib.sh").read_text()
    except (ImportError, OSError):
        # The toolkit is not installed: read the source tree's copy.
        return GUEST_LIB.read_text()


GUEST_SH = _guest_sh()


def ship(path: Path, dest: str) -> str:
    """Shell lines that recreate `path` at `dest` in dom0 (base64 inside the
    scenario script: no image rebuild and no shared file needed)."""
    data = base64.encodebytes(path.read_bytes()).decode()
    return f"base64 -d >{dest} <<'IVCOM_B64'\n{data}IVCOM_B64\n"


def result_of(console: str) -> str | None:
    """The text after the first "ivcom-guest: result: " line, if any."""
    for line in console.splitlines():
        if line.startswith(RESULT_PREFIX):
            return line[len(RESULT_PREFIX):].strip()
    return None


def key_values(text: str) -> dict[str, str]:
    """The key=value words of a result line."""
    return dict(w.split("=", 1) for w in text.split() if "=" in w)


@dataclass(frozen=True)
class ScenarioRuns:
    """The results directories of one boot's scenarios, with their verdicts."""

    dirs: dict[str, Path]
    ok: dict[str, str]          # scenario -> "" or its failure reason

    @classmethod
    def of(cls, res: Any, names: Iterable[str]) -> Self:
        """The named scenarios of a BootResult (each must have run)."""
        dirs, ok = {}, {}
        for name in names:
            s = res.scenarios.get(name)
            assert s is not None, f"scenario {name} did not run (log {res.log})"
            dirs[name] = s.dir
            ok[name] = "" if s.ok else (s.reason or f"exit status {s.rc}")
            print(f"ivcom lab: {name}: {'ok' if s.ok else 'FAILED: ' + ok[name]} ({s.dir})")
        return cls(dirs, ok)

    def dir(self, scn: str) -> Path:
        assert not self.ok[scn], f"scenario {scn} failed: {self.ok[scn]} ({self.dirs[scn]})"
        return self.dirs[scn]

    def text(self, scn: str, name: str) -> str:
        p = self.dirs[scn] / name
        assert p.is_file(), f"{p} missing (scenario {scn}: {self.ok[scn] or 'ok'})"
        return p.read_text(errors="replace")

    def console(self, scn: str, guest: str) -> str:
        return self.text(scn, f"console-{guest}.log")

    def dmesg(self, scn: str) -> str:
        """The tail of Xen's log, when the scenario saved it (xl-dmesg.txt)."""
        p = self.dirs[scn] / "xl-dmesg.txt"
        return p.read_text(errors="replace")[-3000:] if p.is_file() else ""

    def result(self, scn: str, guest: str) -> str:
        con = self.console(scn, guest)
        res = result_of(con)
        assert res is not None, f"{guest}: no result line:\n{con[-3000:]}\n" + self.dmesg(scn)
        return res


def core_tools(names: tuple[str, ...]) -> dict[str, Path]:
    """libivcom's Linux tools, rebuilt (`make core`) so the freshest
    xen-linux backend goes into dom0."""
    proc = subprocess.run(["make", "-C", str(ROOT), "core"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, f"make core failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    tools = {t: ROOT / "build" / "core" / "bin" / t for t in names}
    for t, p in tools.items():
        assert p.is_file(), f"make core did not build {t}"
    return tools
