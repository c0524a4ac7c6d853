"""Host-built helper programs for lab scenarios (tests/lab-tools/*.c).

They are compiled on the host against Debian's libxen-dev and run inside
dom0 and the guests, whose images carry the same Debian libraries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from ivcom.lab.errors import LabError
from ivcom.lab.image import Payload, build_root, repo_top

# Extra link flags per tool; every other tests/lab-tools/*.c links with libc only.
LINK = {"lab-vchan": ["-lxenvchan"]}

# libivcom's tools (built by `make core`) that the IVCOM scenarios run.
IVCOM_TOOLS = ("ivcom-pingpong", "ivcom-stream", "ivcom-kv")
CFLAGS = ["-O2", "-g0", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]


def tools_dir() -> Path:
    top = repo_top()
    if top is None:
        raise LabError("tests/lab-tools not found (not running from a source tree)",
                       stage="tools")
    return top / "tests" / "lab-tools"


def build_tools(out: Path | None = None) -> dict[str, Path]:
    """Compile each tests/lab-tools/*.c that is out of date; name -> binary."""
    src = tools_dir()
    out = out or build_root() / "lab" / "tools"
    out.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise LabError(f"C compiler {cc} not found", stage="tools")
    headers = list(src.glob("*.h"))
    newest_h = max((h.stat().st_mtime for h in headers), default=0.0)
    built: dict[str, Path] = {}
    for c in sorted(src.glob("*.c")):
        name = c.stem
        exe = out / name
        if not exe.exists() or exe.stat().st_mtime < max(c.stat().st_mtime, newest_h):
            argv = [cc, *CFLAGS, "-o", str(exe), str(c), *LINK.get(name, [])]
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                first = (proc.stderr.strip().splitlines() or ["?"])[0]
                raise LabError(f"cannot build {c.name}: {first}", stage="tools")
        built[name] = exe
    return built


def standard_payload(extra: Payload | None = None) -> Payload:
    """The lab tools in /usr/local/bin of dom0 and of every guest."""
    p = Payload()
    for name, exe in build_tools().items():
        p.add_file(exe, f"/usr/local/bin/{name}", mode=0o755)
    if extra is not None:
        p.files.extend(extra.files)
    return p


def core_bin_dir() -> Path:
    """Where libivcom's tools are taken from: $IVCOM_CORE_BIN, else the
    `make core` output build/core/bin."""
    env = os.environ.get("IVCOM_CORE_BIN")
    return Path(env) if env else build_root() / "core" / "bin"


def ivcom_payload(bin_dir: Path | None = None) -> Payload:
    """standard_payload() plus what the IVCOM scenarios need: the libivcom
    tools in /usr/local/bin everywhere, the guest agent (ivcom-agent.sh) and
    the XenStore client in the guests, the dom0 helpers in /lab."""
    bdir = bin_dir or core_bin_dir()
    p = standard_payload()
    for name in IVCOM_TOOLS:
        exe = bdir / name
        if not exe.is_file():
            raise LabError(f"{exe} missing: build libivcom's tools first (make core)",
                           stage="tools")
        p.add_file(exe, f"/usr/local/bin/{name}", mode=0o755)
    pkg = resources.files("ivcom.lab")
    p.add_text("/usr/local/bin/ivcom-agent", pkg.joinpath("ivcom-agent.sh").read_text(),
               dom0=False)
    p.add_text("/lab/ivcom-lib.sh", pkg.joinpath("ivcom-lib.sh").read_text(), mode=0o644,
               domu=False)
    p.add_text("/lab/guest-lib.sh", pkg.joinpath("guest-lib.sh").read_text(), mode=0o644,
               domu=False)
    # libivcom's drop-in libxenvchan, beside Debian's (LD_LIBRARY_PATH picks it).
    vchan = bdir.parent / "lib" / "libxenvchan.so.4.17"
    if not vchan.is_file():
        raise LabError(f"{vchan} missing: build libivcom first (make core)", stage="tools")
    p.add_file(vchan, "/opt/ivcom/lib/libxenvchan.so.4.17", mode=0o755)
    xs = Path(shutil.which("xenstore") or "/usr/bin/xenstore")
    if not xs.is_file():
        raise LabError("the xenstore client (xenstore-utils) is not installed", stage="tools")
    p.add_file(xs, "/usr/bin/xenstore", mode=0o755, dom0=False)
    return p
