"""Build (and cache) the lab's boot artefacts from Debian packages.

Outputs, under build/lab/images/<key>/ where <key> hashes every input (the
.deb set, the lab's own scripts and templates, this builder, the payload):

- ``xen``          the hypervisor ELF (gunzipped xen-4.17-amd64.gz)
- ``vmlinuz``      the dom0 kernel (Debian's 6.1 bzImage)
- ``dom0.cpio``    dom0 initramfs: busybox, xen-utils + xenstore-utils and
                   their shared libraries, the Xen/bridge/9p modules, the
                   lab init and scripts, and inside it /lab/guest/{vmlinux,
                   initrd.cpio}: the domU kernel as a plain ELF (no
                   decompression per domain) and the domU initramfs.
A second build with the same inputs returns the cached image at once.

``build_image(payload, flavour="trace")`` builds the opt-in trace flavour
(ivcom.lab.trace_image): this image's dom0 initramfs with a second cpio
archive appended (the kernel unpacks concatenated archives in order) that
carries Debian's python3.11, bcc, the booted kernel's headers and qemu-xen in a
squashfs, and the project's Python packages.  It is cached separately,
under build/lab/images-trace/<key>/; the default image is built exactly as
before.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ivcom.lab import debs, elf
from ivcom.lab.cpio import CpioWriter
from ivcom.lab.errors import LabError

XEN_VERSION = "4.17"
XEN_BIN = f"/usr/lib/xen-{XEN_VERSION}/bin"
LIBDIR = "/lib/x86_64-linux-gnu"

BASE_PACKAGES = (
    f"xen-hypervisor-{XEN_VERSION}-amd64",
    f"xen-utils-{XEN_VERSION}",
    "xen-utils-common",
    "xenstore-utils",
    "busybox-static",
    "linux-image-amd64",
    "libc6",
    "libgcc-s1",
)

# Loaded with insmod in dependency order (dependencies are added from each
# module's .modinfo `depends=`).
DOM0_MODULES = ("xen-evtchn", "xen-privcmd", "xenfs", "xen-gntdev", "xen-gntalloc",
                "xen-netback", "bridge", "9pnet_virtio", "9p", "virtio_pci",
                "tun")  # tun: the tap of an HVM guest's emulated NIC (qemu-xen)
DOMU_MODULES = ("xen-evtchn", "xen-privcmd", "xenfs", "xen-gntdev", "xen-gntalloc",
                "xen-netfront", "e1000")  # e1000: the HVM guest's emulated NIC

# Files of the lab package that go into the images (dest -> package file).
DOM0_LAB_FILES = {"/init": "init-dom0.sh", "/lab/lib.sh": "lib.sh",
                  "/lab/vif-lab.sh": "vif-lab.sh", "/lab/domu-pv.cfg.in": "domu-pv.cfg.in"}
DOMU_LAB_FILES = {"/init": "init-domu.sh", "/lab/guest-tcp.sh": "guest-tcp.sh"}

XL_CONF = 'autoballoon="off"\nlockfile="/var/lock/xl"\n'


def repo_top() -> Path | None:
    """The source tree this package runs from, if any (editable install)."""
    here = Path(__file__).resolve()
    for cand in here.parents:
        if (cand / "pyproject.toml").is_file() and (cand / "toolkit").is_dir():
            return cand
    return None


def build_root() -> Path:
    env = os.environ.get("IVCOM_BUILD")
    if env:
        return Path(env)
    top = repo_top()
    return (top if top is not None else Path.cwd()) / "build"


@dataclass
class PayloadFile:
    dest: str
    mode: int
    src: Path | None = None
    data: bytes | None = None
    dom0: bool = True
    domu: bool = True

    def digest(self) -> str:
        h = hashlib.sha256(f"{self.dest}\0{self.mode:o}\0{self.dom0}{self.domu}\0".encode())
        if self.data is not None:
            h.update(self.data)
        elif self.src is not None:
            h.update(self.src.read_bytes())
        return h.hexdigest()


@dataclass
class Payload:
    """Extra files (project binaries, scripts) placed into the images."""

    files: list[PayloadFile] = field(default_factory=list)

    def add_file(self, src: Path | str, dest: str, *, mode: int | None = None,
                 dom0: bool = True, domu: bool = True) -> None:
        src = Path(src)
        if not src.is_file():
            raise LabError(f"payload file {src} does not exist", stage="image")
        if not dest.startswith("/"):
            raise LabError(f"payload destination {dest!r} must be absolute", stage="image")
        m = stat.S_IMODE(src.stat().st_mode) if mode is None else mode
        self.files.append(PayloadFile(dest, m, src=src, dom0=dom0, domu=domu))

    def add_text(self, dest: str, text: str, *, mode: int = 0o755,
                 dom0: bool = True, domu: bool = True) -> None:
        if not dest.startswith("/"):
            raise LabError(f"payload destination {dest!r} must be absolute", stage="image")
        self.files.append(PayloadFile(dest, mode, data=text.encode(), dom0=dom0, domu=domu))

    def digest(self) -> str:
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.dest):
            h.update(f.digest().encode())
        return h.hexdigest()


@dataclass(frozen=True)
class LabImage:
    key: str
    dir: Path
    xen: Path
    kernel: Path
    dom0_initrd: Path
    kernel_version: str
    flavour: str = "default"


def lab_file(name: str) -> bytes:
    return resources.files("ivcom.lab").joinpath(name).read_bytes()


def _lab_sources_digest() -> str:
    h = hashlib.sha256()
    pkg = resources.files("ivcom.lab")
    for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".sh", ".cfg.in")) or entry.name in ("image.py", "cpio.py"):
            h.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return h.hexdigest()


class _Tree:
    """Library and module lookup inside the unpacked package tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.libdirs = [root / d for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu",
                                           "lib64", "usr/lib", "lib")]
        mods = sorted((root / "lib/modules").glob("*/kernel"))
        if not mods:
            raise LabError("no kernel modules in the unpacked linux-image", stage="image")
        self.kver = mods[0].parent.name
        self.modules: dict[str, Path] = {}
        for ko in mods[0].rglob("*.ko"):
            self.modules[ko.name[:-3].replace("-", "_")] = ko

    def find_lib(self, soname: str, extra: Iterable[Path] = ()) -> Path | None:
        for d in [*extra, *self.libdirs]:
            p = d / soname
            if p.exists():
                return p
        return None

    def module_order(self, names: Iterable[str]) -> list[Path]:
        order: list[Path] = []
        seen: set[str] = set()

        def visit(name: str, chain: tuple[str, ...]) -> None:
            key = name.replace("-", "_")
            if key in seen:
                return
            if key in chain:
                raise LabError(f"module dependency cycle at {name}", stage="image")
            ko = self.modules.get(key)
            if ko is None:
                raise LabError(f"kernel module {name} not in {self.kver}", stage="image")
            for dep in elf.modinfo(ko).get("depends", "").split(","):
                if dep:
                    visit(dep, (*chain, key))
            seen.add(key)
            order.append(ko)

        for n in names:
            visit(n, ())
        return order


def _missing_libs(tree: _Tree, elves: Iterable[Path], extra: list[Path]) -> tuple[
        dict[str, Path], set[str]]:
    found: dict[str, Path] = {}
    missing: set[str] = set()
    todo = list(elves)
    done: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        info = elf.dynamic_info(f)
        if info is None:
            continue
        rp = [tree.root / p.lstrip("/") for p in info.runpath if not p.startswith("$")]
        for so in info.needed:
            if so in found or so in missing:
                continue
            p = tree.find_lib(so, [*extra, *rp])
            if p is None:
                missing.add(so)
            else:
                found[so] = p
                todo.append(p.resolve())
    return found, missing


def _fetch_tree(cache: Path, extra_elves: list[Path], log: bool) -> tuple[_Tree, list[Path]]:
    """Fetch base packages plus whatever ships the libraries still missing."""
    debdir = cache / "debs"
    known = cache / "extra-packages"
    pkgs = list(BASE_PACKAGES)
    if known.is_file():
        pkgs += [p for p in known.read_text().split() if p not in pkgs]
    for _round in range(6):
        deb_paths = debs.fetch(pkgs, debdir, log=log)
        tree = _Tree(debs.unpack(deb_paths, cache / "root"))
        elves = _image_elves(tree) + extra_elves
        _, missing = _missing_libs(tree, elves, [])
        if not missing:
            extra = [p for p in pkgs if p not in BASE_PACKAGES]
            if not known.is_file() or known.read_text().split() != extra:
                known.write_text("".join(p + "\n" for p in extra))
            return tree, deb_paths
        new = set()
        for so in sorted(missing):
            pkg = debs.package_of_host_lib(so)
            if pkg is None:
                raise LabError(f"no Debian package known for library {so}", stage="image")
            new.add(pkg)
        new -= set(pkgs)
        if not new:
            raise LabError(f"libraries still missing: {' '.join(sorted(missing))}",
                           stage="image")
        pkgs.extend(sorted(new))
    raise LabError("library resolution did not converge", stage="image")


def _image_elves(tree: _Tree) -> list[Path]:
    out = [p for p in sorted((tree.root / XEN_BIN.lstrip("/")).iterdir()) if elf.is_elf(p)]
    out += [p for p in sorted((tree.root / "usr/bin").glob("xenstore*")) if elf.is_elf(p)]
    # xl cancels threads, which needs libgcc_s at run time (dlopen).
    return out


def _busybox(cw: CpioWriter, tree: _Tree) -> None:
    bb = tree.root / "bin/busybox"
    cw.file("/bin/busybox", bb, 0o755)
    out = subprocess.run([str(bb), "--list-full"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise LabError("busybox --list-full failed", stage="image")
    for applet in out.stdout.split():
        cw.symlink("/" + applet, "/bin/busybox")


def _base_dirs(cw: CpioWriter) -> None:
    for d in ("/dev", "/proc", "/sys", "/tmp", "/run", "/var", "/etc", "/root",
              "/lib64", LIBDIR, "/usr/lib/x86_64-linux-gnu", "/usr/local/bin", "/mnt"):
        cw.mkdir(d)
    cw.symlink("/var/run", "/run")
    cw.symlink("/var/lock", "/run/lock")
    cw.data("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    cw.data("/etc/group", b"root:x:0:\n")
    cw.data("/etc/hosts", b"127.0.0.1 localhost\n")


def _libs(cw: CpioWriter, tree: _Tree, elves: list[Path], extra: list[Path]) -> None:
    found, missing = _missing_libs(tree, elves, extra)
    gcc = tree.find_lib("libgcc_s.so.1")
    if gcc is not None:
        found["libgcc_s.so.1"] = gcc
    if missing:
        raise LabError(f"libraries missing: {' '.join(sorted(missing))}", stage="image")
    for so, p in sorted(found.items()):
        cw.file(f"{LIBDIR}/{so}", p.resolve(), 0o755)
    if "ld-linux-x86-64.so.2" in found:
        cw.symlink("/lib64/ld-linux-x86-64.so.2", f"{LIBDIR}/ld-linux-x86-64.so.2")


def _modules(cw: CpioWriter, tree: _Tree, names: Iterable[str]) -> None:
    order = tree.module_order(names)
    for ko in order:
        cw.file(f"/lib/modules/{ko.name}", ko, 0o644)
    cw.data("/etc/ivcom-modules", "".join(ko.name + "\n" for ko in order).encode())


def _payload(cw: CpioWriter, payload: Payload, dom0: bool, stage_dir: Path) -> list[Path]:
    """Write payload files; return the ELF ones (for library resolution)."""
    elves = []
    for i, f in enumerate(payload.files):
        if not (f.dom0 if dom0 else f.domu):
            continue
        if f.data is not None:
            cw.data(f.dest, f.data, f.mode)
        elif f.src is not None:
            cw.file(f.dest, f.src, f.mode)
            if elf.is_elf(f.src):
                elves.append(f.src)
        del i
    del stage_dir
    return elves


def extract_vmlinux(bzimage: Path, out: Path) -> None:
    """The ELF kernel inside a bzImage (xz, zstd or gzip payload)."""
    data = bzimage.read_bytes()
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
                        (b"\x1f\x8b\x08\x00", "gzip")):
        start = data.find(magic)
        while start >= 0:
            raw = _decompress(kind, data[start:])
            if raw is not None and raw[:4] == b"\x7fELF":
                tmp = out.with_suffix(".tmp")
                tmp.write_bytes(raw)
                os.replace(tmp, out)
                return
            start = data.find(magic, start + 1)
    raise LabError(f"no ELF kernel found inside {bzimage.name}", stage="image")


def _decompress(kind: str, blob: bytes) -> bytes | None:
    try:
        if kind == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)
        if kind == "gzip":
            import zlib
            return zlib.decompressobj(31).decompress(blob)
        proc = subprocess.run(["zstd", "-dc"], input=blob, capture_output=True, check=False)
        return proc.stdout or None
    except (lzma.LZMAError, OSError, ValueError):
        return None
    except Exception:  # zlib.error and friends: not a valid stream here
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise image builds between processes (several users, one cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _prune_images(images: Path, current: str, keep: int = 3, min_age_s: float = 1800) -> None:
    """Drop old images (~150 MB each), never the current or a recent one."""
    dirs = sorted((d for d in images.iterdir() if d.is_dir() and d.name != current),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    now = time.time()
    for d in dirs[keep:]:
        if now - d.stat().st_mtime > min_age_s:
            shutil.rmtree(d, ignore_errors=True)


FLAVOURS = ("default", "trace")


def build_image(payload: Payload | None = None, *, force: bool = False,
                log: bool = True, flavour: str = "default") -> LabImage:
    """Return the cached image for these inputs, building it if needed.

    flavour="trace" adds the tracing tools and the HVM device model to dom0
    (ivcom.lab.trace_image)."""
    if flavour not in FLAVOURS:
        raise LabError(f"unknown image flavour {flavour!r} (have: {', '.join(FLAVOURS)})",
                       stage="image", exit_code=2)
    broot = build_root()
    with _locked(broot / "lab" / "images.lock"):
        base = _build_image(payload or Payload(), broot, force, log)
        if flavour == "default":
            return base
        from ivcom.lab import trace_image

        return trace_image.build(base, broot, force=force, log=log)


def _build_image(payload: Payload, broot: Path, force: bool, log: bool) -> LabImage:
    cache = broot / "cache" / "lab"
    extra_elves = [f.src for f in payload.files if f.src is not None and elf.is_elf(f.src)]
    tree, deb_paths = _fetch_tree(cache, extra_elves, log)

    h = hashlib.sha256()
    h.update("\n".join(sorted(d.name for d in deb_paths)).encode())
    h.update(_lab_sources_digest().encode())
    h.update(payload.digest().encode())
    key = h.hexdigest()[:16]
    idir = broot / "lab" / "images" / key
    img = LabImage(key, idir, idir / "xen", idir / "vmlinuz", idir / "dom0.cpio", tree.kver)
    stamp = idir / ".complete"
    if stamp.is_file() and not force:
        os.utime(idir)  # recently used: keep it when pruning
        return img
    if idir.parent.is_dir():
        _prune_images(idir.parent, key)
    if log:
        print(f"ivcom lab: building image {key} in {idir}", flush=True)
    if idir.exists():
        shutil.rmtree(idir)
    idir.mkdir(parents=True)

    xen_gz = tree.root / f"boot/xen-{XEN_VERSION}-amd64.gz"
    if not xen_gz.is_file():
        raise LabError(f"{xen_gz.name} missing from the hypervisor package", stage="image")
    with gzip.open(xen_gz) as src, open(img.xen, "wb") as dst:
        shutil.copyfileobj(src, dst)
    vmlinuz = tree.root / f"boot/vmlinuz-{tree.kver}"
    shutil.copyfile(vmlinuz, img.kernel)
    vmlinux = idir / "vmlinux"
    extract_vmlinux(vmlinuz, vmlinux)

    # domU initramfs
    domu = idir / "domu.cpio"
    with open(domu, "wb") as out:
        cw = CpioWriter(out)
        _base_dirs(cw)
        _busybox(cw, tree)
        for dest, name in DOMU_LAB_FILES.items():
            cw.data(dest, lab_file(name), 0o755)
        _modules(cw, tree, DOMU_MODULES)
        elves = _payload(cw, payload, False, idir)
        _libs(cw, tree, elves, [])
        cw.close()

    # dom0 initramfs
    with open(img.dom0_initrd, "wb") as out:
        cw = CpioWriter(out)
        _base_dirs(cw)
        _busybox(cw, tree)
        for dest, name in DOM0_LAB_FILES.items():
            cw.data(dest, lab_file(name), 0o755)
        cw.data("/etc/xen/xl.conf", XL_CONF.encode())
        xbin = tree.root / XEN_BIN.lstrip("/")
        for p in sorted(xbin.iterdir()):
            if p.is_file() and not p.is_symlink():
                cw.file(f"{XEN_BIN}/{p.name}", p)
        for p in sorted((tree.root / "usr/bin").glob("xenstore*")):
            if p.is_symlink():
                cw.symlink(f"/usr/bin/{p.name}", os.readlink(p))
            elif p.is_file():
                cw.file(f"/usr/bin/{p.name}", p)
        _modules(cw, tree, DOM0_MODULES)
        elves = _payload(cw, payload, True, idir)
        _libs(cw, tree, _image_elves(tree) + elves, [])
        cw.file("/lab/guest/vmlinux", vmlinux, 0o644)
        cw.file("/lab/guest/initrd.cpio", domu, 0o644)
        cw.data("/etc/ivcom-image", f"key={key}\nkernel={tree.kver}\n".encode())
        cw.close()
    stamp.write_text(key + "\n")
    return img
