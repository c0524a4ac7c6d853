"""The trace flavour of the lab's dom0 image (opt-in, cached separately):
the tracing tools and the HVM device model.

    build_image(payload, flavour="trace")

It is the default image with a second `newc` archive appended to
dom0.cpio; the kernel unpacks concatenated archives in order, so the
default part stays byte for byte what `build_image(payload)` makes.

The tools are too big to unpack into dom0's initramfs (its rootfs is a
tmpfs capped at half of dom0's 1 GiB), so the heavy, rarely changing part
is one zstd squashfs, /lab/trace.sqfs, loop-mounted read-only at /trace on
first use (/lab/trace-mount.sh; the `python3` and `ivcom-trace` wrappers and
/lab/trace-env.sh call it).  It holds:

- Debian's python3.11 (interpreter, stdlib, the lib-dynload modules whose
  libraries we ship), precompiled on the host into unchecked-hash .pyc
  files so that dom0 never compiles the stdlib under TCG;
- bcc: python3-bpfcc, libbpfcc and every library its ELF files need (LLVM
  and clang 14, libbpf, libelf, ...), found the way the default image finds
  xen-utils' libraries, in /trace/lib/x86_64-linux-gnu;
- linux-headers-<kver>-amd64 and -common (include trees, arch/x86, .config,
  Makefiles), with /lib/modules/<kver>/{build,source} pointing at them;
- the HVM device model: Debian's qemu-system-xen (libxl's default path
  /usr/libexec/xen-qemu-system-i386 in dom0 is a wrapper that mounts the
  tree and runs it with its libraries), SeaBIOS, the iPXE ROMs, qemu's
  data files and Xen's hvmloader, each firmware path in dom0 a symlink
  into /trace; HVM guests boot the bzImage in /lab/guest/vmlinuz directly.

The appended archive itself carries the squashfs, the loop and squashfs
modules, the wrappers, /lab/trace-env.sh (trace scenarios source it: it
mounts debugfs and tracefs too), and the project's Python packages
(toolkit/src/ivcom, tracer/src/ivcom_trace) with the pure-Python ones they
use (construct, rich, pyxs, ...) copied from the build venv, in
/usr/local/lib/ivcom-python, which the wrappers put on PYTHONPATH.

Under build/: cache/lab-trace/root (the unpacked trace debs),
cache/lab-trace/trace-<key>.sqfs, and lab/images-trace/<key>/ (xen and
vmlinuz linked from the default image, dom0.cpio = default + appended,
base-image naming the default one).
mksquashfs comes from Debian's squashfs-tools, unpacked into the cache.
"""

from __future__ import annotations

import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from ivcom.lab import debs
from ivcom.lab.cpio import CpioWriter
from ivcom.lab.errors import LabError
from ivcom.lab.image import (
    LabImage,
    Payload,
    _missing_libs,
    _prune_images,
    _Tree,
    lab_file,
    repo_top,
)

PYVER = "3.11"
TRACE_PACKAGES = (
    f"python{PYVER}-minimal",
    f"libpython{PYVER}-minimal",
    f"libpython{PYVER}-stdlib",
    "python3-bpfcc",
    "libbpfcc",
    "libbpf1",
    "libelf1",
    "libllvm14",
    "libclang-cpp14",
    "libstdc++6",
    "libffi8",
    "libexpat1",
)
# The HVM device model: Debian's qemu-xen build and the firmware it and
# libxl load (SeaBIOS, the iPXE option ROMs of the emulated NICs).
HVM_PACKAGES = ("qemu-system-xen", "qemu-system-data", "seabios", "ipxe-qemu")
DM_BIN = "/usr/libexec/xen-qemu-system-i386"   # libxl's default qemu-xen path
# Firmware directories: dom0 links each to its copy in the trace tree.
DM_DATA = ("/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe")
HVMLOADER = "/usr/lib/xen-4.17/boot/hvmloader"
# mksquashfs, run on the host from the unpacked package (not installed).
SQUASHFS_TOOLS = ("squashfs-tools", "liblzo2-2")
TRACE_MODULES = ("loop", "squashfs")
TRACE_MOUNT = "/trace"
# libivcom's tools (make core) that the IVCOM trace scenario runs.
CORE_TOOLS = ("ivcom-pingpong", "ivcom-stream")

# lib-dynload modules left out: their libraries are big or irrelevant here
# (the stdlib falls back to pure Python where one exists).
DYNLOAD_SKIP = frozenset({
    "_ssl", "_hashlib", "_sqlite3", "_dbm", "_gdbm", "nis", "_curses", "_curses_panel",
    "readline", "_tkinter", "_crypt", "_decimal", "_ctypes_test", "_testcapi",
    "_testinternalcapi", "_testbuffer", "_testclinic", "_testimportmultiple",
    "_testmultiphase", "_xxtestfuzz", "xxlimited", "xxlimited_35", "ossaudiodev", "audioop",
})
STDLIB_SKIP = frozenset({"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                         "pydoc_data", "venv", "unittest", "sqlite3", "dbm", "curses",
                         "site-packages", "dist-packages", "__pycache__"})
# Pure-Python dependencies copied from the build venv (import name).
VENV_PACKAGES = ("construct", "rich", "pyxs", "markdown_it", "mdurl", "pygments")
# bcc loads these with ctypes (dlopen): nothing names them in a DT_NEEDED.
DLOPENED = ("libbcc.so.0", "libbcc_bpf.so.0", "librt.so.1", "libc.so.6")
SITE = "/usr/local/lib/ivcom-python"

# One shell, no other process once the tree is mounted: the fewer busybox
# processes, the better (busybox has been seen to segfault under TCG).
_PY_ENV = f"""[ -x {TRACE_MOUNT}/usr/bin/python{PYVER} ] || /lab/trace-mount.sh || exit 127
export LD_LIBRARY_PATH={TRACE_MOUNT}/lib/x86_64-linux-gnu${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}
export PYTHONHOME={TRACE_MOUNT}/usr PYTHONPATH={SITE}${{PYTHONPATH:+:$PYTHONPATH}}
"""
PYTHON_WRAPPER = f"""#!/bin/sh
# Debian's python{PYVER} from the trace tree (mounted on first use).
{_PY_ENV}exec {TRACE_MOUNT}/usr/bin/python{PYVER} "$@"
"""
DM_WRAPPER = f"""#!/bin/sh
# Debian's qemu-xen (HVM device model) from the trace tree.
/lab/trace-mount.sh || exit 127
export LD_LIBRARY_PATH={TRACE_MOUNT}/lib/x86_64-linux-gnu
exec {TRACE_MOUNT}{DM_BIN} "$@"
"""
IVCOM_TRACE_WRAPPER = f"""#!/bin/sh
# ivcom-trace on Debian's python{PYVER} from the trace tree.
{_PY_ENV}exec {TRACE_MOUNT}/usr/bin/python{PYVER} -m ivcom_trace "$@"
"""
TRACE_MOUNT_SH = f"""#!/bin/sh
# Mount the trace tree (idempotent): loop + squashfs modules, then
# /lab/trace.sqfs read-only at {TRACE_MOUNT}.
grep -q ' {TRACE_MOUNT} squashfs ' /proc/mounts && exit 0
for m in $(cat /lab/trace-modules/order); do
    grep -q "^${{m%.ko}} " /proc/modules || insmod "/lab/trace-modules/$m" 2>/dev/null
done
mkdir -p {TRACE_MOUNT}
mount -t squashfs -o loop,ro /lab/trace.sqfs {TRACE_MOUNT} && exit 0
echo "trace-mount: cannot mount /lab/trace.sqfs at {TRACE_MOUNT}" >&2
exit 1
"""


class _Roots(_Tree):
    """Library lookup over several unpacked trees, the first one winning."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = list(roots)
        self.root = self.roots[0]
        self.libdirs = [r / d for r in self.roots for d in (
            "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib", "lib")]
        self.kver = ""
        self.modules = {}


def _own_digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _headers_packages(kver: str) -> list[str]:
    """6.1.0-56-amd64 -> linux-headers-6.1.0-56-{amd64,common}."""
    flavour = kver.rsplit("-", 1)
    if len(flavour) != 2:
        raise LabError(f"cannot derive the headers package from kernel {kver}", stage="image")
    return [f"linux-headers-{kver}", f"linux-headers-{flavour[0]}-common"]


def _trace_elves(root: Path, base_root: Path) -> list[Path]:
    py = root / f"usr/bin/python{PYVER}"
    if not py.is_file():
        raise LabError(f"python{PYVER} missing from the unpacked trace packages", stage="image")
    dm = root / DM_BIN.lstrip("/")
    if not dm.is_file():
        raise LabError(f"{DM_BIN} missing from the unpacked qemu-system-xen", stage="image")
    out = [py, dm]
    for so in sorted((root / f"usr/lib/python{PYVER}/lib-dynload").glob("*.so")):
        if so.name.split(".", 1)[0] not in DYNLOAD_SKIP:
            out.append(so)
    return out + [_dlopened(root, base_root, so) for so in DLOPENED]


def _dlopened(root: Path, base_root: Path, soname: str) -> Path:
    for r in (root, base_root):
        for d in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"):
            if (r / d / soname).exists():
                return r / d / soname
    raise LabError(f"{soname} (loaded by bcc at run time) is in no unpacked package",
                   stage="image")


def _fetch(cache: Path, base_root: Path, kver: str, log: bool) -> tuple[Path, list[Path],
                                                                        dict[str, Path]]:
    """Fetch and unpack the trace packages plus whatever ships the libraries
    still missing; return (root, debs, soname -> library file)."""
    debdir = cache.parent / "lab" / "debs"
    known = cache / "extra-packages"
    pkgs = [*TRACE_PACKAGES, *HVM_PACKAGES, *_headers_packages(kver)]
    if known.is_file():
        pkgs += [p for p in known.read_text().split() if p not in pkgs]
    for _round in range(8):
        deb_paths = debs.fetch(pkgs, debdir, log=log)
        root = debs.unpack(deb_paths, cache / "root")
        roots = _Roots([root, base_root])
        found, missing = _missing_libs(roots, _trace_elves(root, base_root), [])
        if not missing:
            extra = [p for p in pkgs if p not in TRACE_PACKAGES and p not in HVM_PACKAGES
                     and p not in _headers_packages(kver)]
            if not known.is_file() or known.read_text().split() != extra:
                known.write_text("".join(p + "\n" for p in extra))
            return root, deb_paths, found
        new = set()
        for so in sorted(missing):
            pkg = debs.package_of_host_lib(so)
            if pkg is None:
                raise LabError(f"no Debian package known for library {so} (needed by bcc, "
                               "python or qemu)", stage="image")
            new.add(pkg)
        new -= set(pkgs)
        if not new:
            raise LabError(f"libraries still missing: {' '.join(sorted(missing))}",
                           stage="image")
        pkgs.extend(sorted(new))
    raise LabError("trace library resolution did not converge", stage="image")


def _pyc(src: Path, dest: Path) -> bool:
    """Compile one module for the image (unchecked hash: neither the cpio
    nor our squashfs keeps meaningful mtimes).  False when this host's
    Python cannot."""
    if sys.version_info[:2] != tuple(int(x) for x in PYVER.split(".")):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. bcc's invalid escape sequences
            py_compile.compile(str(src), cfile=str(dest), doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except (py_compile.PyCompileError, OSError, SyntaxError, ValueError):
        return False
    return True


class _DirSink:
    """CpioWriter's interface over a staging directory (for mksquashfs)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _p(self, name: str) -> Path:
        p = self.root / name.strip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def mkdir(self, name: str, mode: int = 0o755) -> None:
        self._p(name).mkdir(mode=mode, exist_ok=True)

    def symlink(self, name: str, target: str) -> None:
        p = self._p(name)
        if not p.is_symlink() and not p.exists():
            os.symlink(target, p)

    def file(self, name: str, src: Path, mode: int | None = None) -> None:
        p = self._p(name)
        if p.exists():
            return
        try:
            os.link(src.resolve(), p)  # same filesystem as the unpacked debs
        except OSError:
            shutil.copyfile(src, p)
        if mode is not None and os.stat(p).st_mode & 0o777 != mode:
            if os.stat(p).st_nlink > 1:  # do not chmod the cache's copy
                p.unlink()
                shutil.copyfile(src, p)
            os.chmod(p, mode)


def _add_tree(sink: CpioWriter | _DirSink, src: Path, dest: str, tmp: Path, *,
              compile_py: bool = True, skip: frozenset[str] = frozenset(),
              skip_suffixes: tuple[str, ...] = ()) -> None:
    """Copy a directory tree (symlinks kept, __pycache__ rebuilt)."""
    n_pyc = 0
    for dirpath, dirnames, filenames in os.walk(src):
        d = Path(dirpath)
        rel = d.relative_to(src)
        dirnames[:] = sorted(n for n in dirnames if n not in skip and n != "__pycache__")
        target_dir = f"{dest}/{rel}" if str(rel) != "." else dest
        sink.mkdir(target_dir)
        for n in list(dirnames):
            if (d / n).is_symlink():
                sink.symlink(f"{target_dir}/{n}", os.readlink(d / n))
                dirnames.remove(n)
        for name in sorted(filenames):
            p = d / name
            if name.endswith(skip_suffixes):
                continue
            if p.is_symlink():
                sink.symlink(f"{target_dir}/{name}", os.readlink(p))
                continue
            sink.file(f"{target_dir}/{name}", p)
            if compile_py and name.endswith(".py"):
                n_pyc += 1
                pyc = tmp / f"{n_pyc}.pyc"
                if _pyc(p, pyc):
                    tag = sys.implementation.cache_tag
                    sink.file(f"{target_dir}/__pycache__/{name[:-3]}.{tag}.pyc", pyc, 0o644)


def _stage(stage: Path, root: Path, base_root: Path, kver: str, libs: dict[str, Path],
           tmp: Path) -> None:
    """The trace tree as it appears under /trace."""
    hdr = f"usr/src/linux-headers-{kver}"
    common = f"usr/src/linux-headers-{kver.rsplit('-', 1)[0]}-common"
    sink = _DirSink(stage)
    for so, p in sorted(libs.items()):
        sink.file(f"/lib/x86_64-linux-gnu/{so}", p.resolve(), 0o755)
    for so in DLOPENED:
        sink.file(f"/lib/x86_64-linux-gnu/{so}", _dlopened(root, base_root, so).resolve(), 0o755)
    sink.file(f"/usr/bin/python{PYVER}", root / f"usr/bin/python{PYVER}", 0o755)
    stdlib = root / f"usr/lib/python{PYVER}"
    _add_tree(sink, stdlib, f"/usr/lib/python{PYVER}", tmp, skip=STDLIB_SKIP | {"lib-dynload"})
    sink.mkdir(f"/usr/lib/python{PYVER}/lib-dynload")
    for ext in sorted((stdlib / "lib-dynload").glob("*.so")):
        if ext.name.split(".", 1)[0] not in DYNLOAD_SKIP:
            sink.file(f"/usr/lib/python{PYVER}/lib-dynload/{ext.name}", ext)
    _add_tree(sink, root / "usr/lib/python3/dist-packages/bcc",
              "/usr/lib/python3/dist-packages/bcc", tmp)
    sink.file(DM_BIN, root / DM_BIN.lstrip("/"), 0o755)
    for d in DM_DATA:
        _add_tree(sink, root / d.lstrip("/"), d, tmp, compile_py=False)
    sink.file(HVMLOADER, base_root / HVMLOADER.lstrip("/"), 0o644)
    # Kernel headers as Debian lays them out (-amd64 points into -common).
    _add_tree(sink, root / hdr, f"/{hdr}", tmp, compile_py=False,
              skip=frozenset({"scripts", "tools"}), skip_suffixes=("Module.symvers",))
    for p in sorted((root / common).iterdir()):
        if p.is_file() and not p.is_symlink():
            sink.file(f"/{common}/{p.name}", p)
    _add_tree(sink, root / common / "include", f"/{common}/include", tmp, compile_py=False)
    _add_tree(sink, root / common / "arch/x86", f"/{common}/arch/x86", tmp, compile_py=False)


def _mksquashfs(cache: Path, log: bool) -> list[str]:
    """argv prefix of a usable mksquashfs (the host's, else Debian's unpacked)."""
    exe = shutil.which("mksquashfs")
    if exe is not None:
        return [exe]
    deb_paths = debs.fetch(SQUASHFS_TOOLS, cache.parent / "lab" / "debs", log=log)
    tools = debs.unpack(deb_paths, cache / "tools")
    libs = ":".join(str(tools / d) for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"))
    return ["env", f"LD_LIBRARY_PATH={libs}", str(tools / "usr/bin/mksquashfs")]


def _squash(out: Path, cache: Path, root: Path, base_root: Path, kver: str,
            libs: dict[str, Path], log: bool) -> None:
    argv = _mksquashfs(cache, log)
    stage = cache / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        with tempfile.TemporaryDirectory(prefix="ivcom-trace-pyc-") as t:
            _stage(stage, root, base_root, kver, libs, Path(t))
        tmp = out.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        proc = subprocess.run([*argv, str(stage), str(tmp), "-comp", "zstd", "-noappend",
                               "-all-root", "-processors", "2", "-quiet", "-no-progress"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise LabError(f"mksquashfs failed: {last}", stage="image")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _venv_site() -> Path | None:
    for cand in (Path(sys.prefix), (repo_top() or Path.cwd()) / "build" / "venv"):
        hits = sorted(cand.glob(f"lib/python{PYVER}/site-packages"))
        if hits and all((hits[0] / p).is_dir() for p in VENV_PACKAGES[:3]):
            return hits[0]
    return None


def _project_sources() -> dict[str, Path]:
    """import name -> package directory of everything in the project archive."""
    top = repo_top()
    if top is None:
        raise LabError("the trace image needs the source tree (toolkit/, tracer/)",
                       stage="image")
    out = {"ivcom": top / "toolkit/src/ivcom", "ivcom_trace": top / "tracer/src/ivcom_trace"}
    site = _venv_site()
    if site is None:
        raise LabError(f"no python{PYVER} venv with {', '.join(VENV_PACKAGES[:3])} "
                       "(build/venv)", stage="image")
    for name in VENV_PACKAGES:
        if not (site / name).is_dir():
            raise LabError(f"{name} is not installed in {site}", stage="image")
        out[name] = site / name
    for name, p in out.items():
        if not p.is_dir():
            raise LabError(f"{name}: {p} missing", stage="image")
    return out


def _project_digest(srcs: dict[str, Path]) -> str:
    h = hashlib.sha256()
    for name, d in sorted(srcs.items()):
        for p in sorted(d.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(f"{name}/{p.relative_to(d)}\0".encode() + p.read_bytes())
    h.update(lab_file("trace-env.sh"))
    return h.hexdigest()


def _write_appended(out: Path, sqfs: Path, modules: list[Path], kver: str,
                    srcs: dict[str, Path], bzimage: Path) -> None:
    hdr = f"usr/src/linux-headers-{kver}"
    common = f"usr/src/linux-headers-{kver.rsplit('-', 1)[0]}-common"
    with tempfile.TemporaryDirectory(prefix="ivcom-trace-py-") as t, open(out, "wb") as f:
        cw = CpioWriter(f)
        cw.file("/lab/trace.sqfs", sqfs, 0o644)
        cw.mkdir(TRACE_MOUNT)
        for ko in modules:
            cw.file(f"/lab/trace-modules/{ko.name}", ko, 0o644)
        cw.data("/lab/trace-modules/order", "".join(k.name + "\n" for k in modules).encode())
        cw.data("/lab/trace-mount.sh", TRACE_MOUNT_SH.encode(), 0o755)
        cw.data("/lab/trace-env.sh", lab_file("trace-env.sh"), 0o755)
        cw.symlink(f"/lib/modules/{kver}/build", f"{TRACE_MOUNT}/{hdr}")
        cw.symlink(f"/lib/modules/{kver}/source", f"{TRACE_MOUNT}/{common}")
        cw.data("/usr/bin/python3", PYTHON_WRAPPER.encode(), 0o755)
        cw.data("/usr/local/bin/ivcom-trace", IVCOM_TRACE_WRAPPER.encode(), 0o755)
        cw.data(DM_BIN, DM_WRAPPER.encode(), 0o755)
        # HVM guests boot the bzImage directly (qemu-xen loads it; the PV
        # guests' ELF vmlinux is not loadable there).
        cw.file("/lab/guest/vmlinuz", bzimage, 0o644)
        for link in (*DM_DATA, HVMLOADER):
            cw.symlink(link, f"{TRACE_MOUNT}{link}")
        for name, d in sorted(srcs.items()):
            _add_tree(cw, d, f"{SITE}/{name}", Path(t), skip_suffixes=(".pyc",))
        cw.data("/etc/ivcom-flavour", b"trace\n")
        cw.close()


def trace_payload(base: Payload | None = None, core_bin: Path | None = None) -> Payload:
    """What the trace scenarios need in the images, on top of `base`:
    lab-twice (dom0 and guests) and, when `core_bin` holds them, libivcom's
    ivcom-pingpong and ivcom-stream in /usr/local/bin of dom0 and guests."""
    p = Payload(list(base.files) if base is not None else [])
    p.add_text("/usr/local/bin/lab-twice", lab_file("trace-twice.sh").decode())
    if core_bin is not None:
        for name in CORE_TOOLS:
            p.add_file(core_bin / name, f"/usr/local/bin/{name}", mode=0o755)
    return p


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build(base: LabImage, broot: Path, *, force: bool = False, log: bool = True) -> LabImage:
    """The trace flavour of `base` (the default image for the same payload)."""
    cache = broot / "cache" / "lab-trace"
    cache.mkdir(parents=True, exist_ok=True)
    base_root = broot / "cache" / "lab" / "root"
    root, deb_paths, libs = _fetch(cache, base_root, base.kernel_version, log)

    hx = hashlib.sha256()
    hx.update("\n".join(sorted(d.name for d in deb_paths)).encode() + _own_digest().encode())
    hx.update(sys.version.encode())  # the .pyc files depend on the compiling Python
    skey = hx.hexdigest()[:16]
    sqfs = cache / f"trace-{skey}.sqfs"
    if not sqfs.is_file() or force:
        if log:
            print(f"ivcom lab: building the trace tree {sqfs.name}", flush=True)
        _squash(sqfs, cache, root, base_root, base.kernel_version, libs, log)
        for old in cache.glob("trace-*.sqfs"):
            if old != sqfs:
                old.unlink(missing_ok=True)
    modules = _Tree(base_root).module_order(TRACE_MODULES)

    srcs = _project_sources()
    key = hashlib.sha256(f"{base.key}\0{skey}\0{_project_digest(srcs)}\0trace".encode()
                         ).hexdigest()[:16]
    idir = broot / "lab" / "images-trace" / key
    img = LabImage(key, idir, idir / "xen", idir / "vmlinuz", idir / "dom0.cpio",
                   base.kernel_version, flavour="trace")
    stamp = idir / ".complete"
    if stamp.is_file() and not force:
        os.utime(idir)
        return img
    if idir.parent.is_dir():
        _prune_images(idir.parent, key, keep=2)
    if log:
        print(f"ivcom lab: building trace image {key} in {idir}", flush=True)
    if idir.exists():
        shutil.rmtree(idir)
    idir.mkdir(parents=True)
    _link_or_copy(base.xen, img.xen)
    _link_or_copy(base.kernel, img.kernel)
    appended = idir / "appended.cpio"
    _write_appended(appended, sqfs, modules, base.kernel_version, srcs, base.kernel)
    with open(img.dom0_initrd, "wb") as out:
        for part in (base.dom0_initrd, appended):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            # The kernel skips the zero padding between concatenated archives.
            out.write(b"\0" * ((-out.tell()) % 512))
    appended.unlink()
    # Which default image this extends (its dom0.cpio is our prefix).
    (idir / "base-image").write_text(f"{base.key}\n{base.dir}\n")
    stamp.write_text(key + "\n")
    return img


__all__ = ["TRACE_PACKAGES", "build", "trace_payload"]
