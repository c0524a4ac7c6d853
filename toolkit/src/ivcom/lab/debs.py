"""Debian packages for the lab, fetched with `apt-get download` and unpacked
with `dpkg-deb -x` into a cache; the host's own installation is never used
for the image (only to learn which package ships a missing library).

Cached and idempotent: a package already present as `<name>_*.deb` is not
downloaded again, and an unpacked tree is reused while its stamp matches the
set of .deb files it was built from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ivcom.lab.errors import LabError

# Meta-package names resolved to the concrete package apt would install.
_META = {"linux-image-amd64"}


def _run(argv: list[str], cwd: Path | None = None, what: str = "") -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{what or argv[0]}: {argv[0]} not found") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise LabError(f"{what or ' '.join(argv)}: {last}")
    return proc.stdout


def resolve_meta(name: str) -> str:
    """linux-image-amd64 -> linux-image-6.1.0-NN-amd64 (apt's candidate)."""
    if name not in _META:
        return name
    out = _run(["apt-cache", "depends", name], what=f"apt-cache depends {name}")
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[1]
    raise LabError(f"cannot resolve {name} to a concrete kernel package")


def _cached(debdir: Path, name: str) -> Path | None:
    hits = sorted(debdir.glob(f"{name}_*.deb"))
    return hits[-1] if hits else None


def fetch(names: Iterable[str], debdir: Path, log: bool = True) -> list[Path]:
    """Download (once) each package into debdir; return the .deb paths."""
    debdir.mkdir(parents=True, exist_ok=True)
    want = [resolve_meta(n) if _cached(debdir, n) is None else n for n in names]
    missing = [n for n in want if _cached(debdir, n) is None]
    if missing:
        if log:
            print(f"ivcom lab: apt-get download {' '.join(missing)}", flush=True)
        try:
            _run(["apt-get", "download", *missing], cwd=debdir, what="apt-get download")
        except LabError:
            # A stale package index is the usual cause; refresh it once.
            _run(["apt-get", "update", "-qq"], what="apt-get update")
            _run(["apt-get", "download", *missing], cwd=debdir, what="apt-get download")
    out = []
    for n in want:
        deb = _cached(debdir, n)
        if deb is None:
            raise LabError(f"package {n} did not download")
        out.append(deb)
    return out


def unpack(debs: list[Path], root: Path) -> Path:
    """Unpack every deb into root (reused while the deb set is unchanged)."""
    key = hashlib.sha256("\n".join(sorted(d.name for d in debs)).encode()).hexdigest()
    stamp = root / ".ivcom-debs"
    if stamp.is_file() and stamp.read_text() == key:
        return root
    if root.exists():
        shutil.rmtree(root)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for d in debs:
        _run(["dpkg-deb", "-x", str(d), str(tmp)], what=f"dpkg-deb -x {d.name}")
    (tmp / ".ivcom-debs").write_text(key)
    os.replace(tmp, root)
    return root


def package_of_host_lib(soname: str) -> str | None:
    """Which Debian package ships `soname` on the host (None if unknown)."""
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"):
        p = Path(d) / soname
        if not p.exists():
            continue
        for cand in (str(p), os.path.realpath(p)):
            proc = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True,
                                  check=False)
            if proc.returncode == 0 and proc.stdout:
                pkg = proc.stdout.split(":", 1)[0].strip()
                return pkg.split(",")[0].strip()
            # merged-/usr hosts register files under /lib or /usr/lib only
            alt = cand.replace("/usr/lib/", "/lib/", 1) if cand.startswith("/usr/") else \
                "/usr" + cand
            proc = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True,
                                  check=False)
            if proc.returncode == 0 and proc.stdout:
                return proc.stdout.split(":", 1)[0].strip().split(",")[0].strip()
    return None
