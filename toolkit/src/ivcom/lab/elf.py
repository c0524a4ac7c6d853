"""Just enough ELF64 reading for the lab image builder.

Two questions only: which shared objects a binary needs (DT_NEEDED, plus
its RUNPATH), and what a kernel module's `.modinfo` says (its `depends=`).
Inputs are files from Debian packages and the project's own build; a file
that is not a little-endian ELF64 is simply "not ELF" (None / empty).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_SHT_DYNAMIC = 6
_DT_NEEDED = 1
_DT_RPATH = 15
_DT_RUNPATH = 29


@dataclass(frozen=True)
class _Section:
    name_off: int
    type: int
    offset: int
    size: int
    link: int


def _sections(data: bytes) -> list[_Section] | None:
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    if shoff == 0 or shentsize < 64 or shoff + shnum * shentsize > len(data):
        return None
    out = []
    for i in range(shnum):
        name, typ, _flags, _addr, off, size, link = struct.unpack_from(
            "<IIQQQQI", data, shoff + i * shentsize)
        if off + size > len(data) and typ != 8:  # SHT_NOBITS has no file bytes
            return None
        out.append(_Section(name, typ, off, size, link))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "replace")


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


@dataclass(frozen=True)
class DynInfo:
    needed: tuple[str, ...]
    runpath: tuple[str, ...]


def dynamic_info(path: Path) -> DynInfo | None:
    """DT_NEEDED and DT_RUNPATH/DT_RPATH of an ELF file; None if not ELF."""
    data = path.read_bytes()
    secs = _sections(data)
    if secs is None:
        return None
    needed: list[str] = []
    runpath: list[str] = []
    for s in secs:
        if s.type != _SHT_DYNAMIC or s.link >= len(secs):
            continue
        strtab = secs[s.link]
        for off in range(s.offset, s.offset + s.size - 15, 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 0:
                break
            if val >= strtab.size:
                continue
            if tag == _DT_NEEDED:
                needed.append(_cstr(data, strtab.offset + val))
            elif tag in (_DT_RUNPATH, _DT_RPATH):
                runpath.extend(p for p in _cstr(data, strtab.offset + val).split(":") if p)
    return DynInfo(tuple(needed), tuple(runpath))


def section_bytes(path: Path, name: str) -> bytes | None:
    data = path.read_bytes()
    secs = _sections(data)
    if secs is None:
        return None
    shstrndx, = struct.unpack_from("<H", data, 0x3E)
    if shstrndx >= len(secs):
        return None
    names = secs[shstrndx]
    for s in secs:
        if _cstr(data, names.offset + s.name_off) == name:
            return data[s.offset:s.offset + s.size]
    return None


def modinfo(path: Path) -> dict[str, str]:
    """The key=value pairs of a kernel module's .modinfo section."""
    raw = section_bytes(path, ".modinfo") or b""
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, val = item.decode("utf-8", "replace").partition("=")
        if sep and key not in out:
            out[key] = val
    return out
