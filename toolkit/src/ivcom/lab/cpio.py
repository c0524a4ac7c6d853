"""A minimal `newc` cpio writer for initramfs images (no external tools).

Entries are written in the order given; parents must come before children.
File data is streamed from disk, so large members (a guest vmlinux) cost no
extra memory.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import BinaryIO


class CpioWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1
        self._seen: set[str] = set()

    def _header(self, name: str, mode: int, size: int, nlink: int = 1) -> None:
        data = name.encode()
        fields = [self._ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(data) + 1, 0]
        self._ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._out.write(hdr + data + b"\0")
        self._pad(len(hdr) + len(data) + 1)

    def _pad(self, n: int) -> None:
        if n % 4:
            self._out.write(b"\0" * (4 - n % 4))

    @staticmethod
    def _norm(name: str) -> str:
        return name.strip("/")

    def has(self, name: str) -> bool:
        return self._norm(name) in self._seen

    def _claim(self, name: str) -> str | None:
        n = self._norm(name)
        if not n or n in self._seen:
            return None
        # Create missing parents first so that the kernel can place the entry.
        parts = n.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in self._seen:
                self._seen.add(parent)
                self._header(parent, stat.S_IFDIR | 0o755, 0, 2)
        self._seen.add(n)
        return n

    def mkdir(self, name: str, mode: int = 0o755) -> None:
        n = self._claim(name)
        if n is not None:
            self._header(n, stat.S_IFDIR | mode, 0, 2)

    def symlink(self, name: str, target: str) -> None:
        n = self._claim(name)
        if n is not None:
            data = target.encode()
            self._header(n, stat.S_IFLNK | 0o777, len(data))
            self._out.write(data)
            self._pad(len(data))

    def data(self, name: str, content: bytes, mode: int = 0o644) -> None:
        n = self._claim(name)
        if n is not None:
            self._header(n, stat.S_IFREG | mode, len(content))
            self._out.write(content)
            self._pad(len(content))

    def file(self, name: str, src: Path, mode: int | None = None) -> None:
        """Copy a host file (symlinks followed) into the archive."""
        n = self._claim(name)
        if n is None:
            return
        st = src.stat()
        perm = stat.S_IMODE(st.st_mode) if mode is None else mode
        self._header(n, stat.S_IFREG | perm, st.st_size)
        with open(src, "rb") as f:
            while chunk := f.read(1 << 20):
                self._out.write(chunk)
        self._pad(st.st_size)

    def close(self) -> None:
        self._header("TRAILER!!!", 0, 0)
        self._out.flush()
