"""Where ring snapshots come from: the `RingSource` protocol and its sources.

A source hands out frozen `RingSnapshot`s: the raw bytes of the control
page (IVCOM) or shared page (libxenvchan), optionally the data rings, and a
timestamp.  Everything is mapped READ-ONLY; nothing here ever writes to a
ring.

- `FakeSource`   -- a list (or generator) of snapshots, for tests;
- `FileSource`   -- a capture file written by `ivcom-trace dump`;
- `SimSource`    -- the sim platform: simhv holds each granted area as a
                    memfd named `ivcom-grant:<granter>:<first ref>:<npages>`,
                    found under /proc/<pid>/fd and mmapped read-only;
- `XenSource`    -- real Xen: grant refs mapped read-only through
                    /dev/xen/gntdev (only refs granted to the inspecting
                    domain can be mapped).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ivcom import layouts as L
from ivcom.errors import IvcomError

KINDS = ("ivcom", "vchan")


class SourceError(IvcomError):
    """The ring could not be reached (missing grant, no permission, ...)."""


class ChannelClosed(Exception):
    """The source has nothing more to give; `reason` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RingSnapshot:
    kind: str  # "ivcom" or "vchan"
    ctrl: bytes  # the control / shared page
    rings: tuple[bytes, ...] = ()  # data rings in direction order; b"" = not captured
    timestamp: float = 0.0  # seconds since the epoch

    def decode(self) -> L.Decoded:
        if self.kind == "vchan":
            return L.decode_vchan(self.ctrl)
        rings = [r if r else None for r in self.rings] + [None, None]
        return L.decode_ivcom(self.ctrl, rings[0], rings[1])


@runtime_checkable
class RingSource(Protocol):
    def snapshot(self) -> RingSnapshot:
        """The current state; raises ChannelClosed when there is no more."""
        ...

    def describe(self) -> str:
        """One line: what is being watched and how."""
        ...

    def close(self) -> None: ...


# ---- fake ---------------------------------------------------------------------


class FakeSource:
    """Snapshots from a list or generator; ChannelClosed when exhausted."""

    def __init__(
        self, snapshots: Iterable[RingSnapshot], description: str = "fake source",
        end_reason: str = "fake source exhausted",
    ) -> None:
        self._it: Iterator[RingSnapshot] = iter(snapshots)
        self._description = description
        self._end_reason = end_reason
        self.closed = False
        self.taken = 0

    def snapshot(self) -> RingSnapshot:
        try:
            snap = next(self._it)
        except StopIteration:
            raise ChannelClosed(self._end_reason) from None
        self.taken += 1
        return snap

    def describe(self) -> str:
        return self._description

    def close(self) -> None:
        self.closed = True


# ---- shared assembly -----------------------------------------------------------


def _ivcom_data_refs(ctrl: bytes) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The s2c and c2s data page refs, or None when the page cannot be
    trusted enough to follow them (bad orders or grant count)."""
    d = L.decode_ivcom(ctrl)
    h = d.header
    if h is None:
        return None
    ok_orders = all(
        L.IVCOM_RING_ORDER_MIN <= o <= L.IVCOM_RING_ORDER_MAX for o in (h.s2c_order, h.c2s_order)
    )
    if not ok_orders:
        return None
    n1 = 1 << (h.s2c_order - L.PAGE_SHIFT)
    n2 = 1 << (h.c2s_order - L.PAGE_SHIFT)
    if h.nr_grefs != n1 + n2 or len(h.grefs) != n1 + n2:
        return None
    return h.grefs[:n1], h.grefs[n1:]


def _cons_pair(ctrl: bytes) -> tuple[int, int]:
    return struct.unpack_from("<I", ctrl, 0x80)[0], struct.unpack_from("<I", ctrl, 0x100)[0]


class PageReader(Protocol):
    def read(self, refs: Sequence[int]) -> bytes: ...


def assemble(kind: str, ctrl_read: Callable[[], bytes], pages: PageReader | None) -> RingSnapshot:
    """One snapshot: the control page, then (IVCOM, if `pages`) both data
    rings.  A ring whose consumer moved while it was copied is dropped
    (b"") rather than shown torn."""
    ts = time.time()
    ctrl = ctrl_read()
    if kind != "ivcom" or pages is None:
        return RingSnapshot(kind, ctrl, (), ts)
    refs = _ivcom_data_refs(ctrl)
    if refs is None:
        return RingSnapshot(kind, ctrl, (), ts)
    rings = [pages.read(refs[0]), pages.read(refs[1])]
    after = _cons_pair(ctrl_read())
    before = _cons_pair(ctrl)
    for i in (0, 1):
        if after[i] != before[i]:
            rings[i] = b""
    return RingSnapshot(kind, ctrl, tuple(rings), ts)


# ---- sim ----------------------------------------------------------------------

GRANT_RE = re.compile(r"^/memfd:ivcom-grant:(\d+):(\d+):(\d+)(?: \(deleted\))?$")


@dataclass(frozen=True)
class GrantArea:
    granter: int
    first_ref: int
    npages: int
    link: str  # /proc/<pid>/fd/<n>
    name: str  # readlink value


def find_grant_areas(proc: str = "/proc", pid: int | None = None) -> list[GrantArea]:
    """Every memfd named like a sim grant area, in one process or all."""
    out: list[GrantArea] = []
    pids = [str(pid)] if pid is not None else [p for p in _listdir(proc) if p.isdigit()]
    for p in pids:
        fddir = os.path.join(proc, p, "fd")
        for fd in _listdir(fddir):
            link = os.path.join(fddir, fd)
            try:
                target = os.readlink(link)
            except OSError:
                continue
            m = GRANT_RE.match(target)
            if m:
                out.append(GrantArea(int(m[1]), int(m[2]), int(m[3]), link, target))
    return out


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def sim_dir() -> str | None:
    """The sim directory the tracer looks at: $IVCOM_SIM_DIR, else the
    directory of $XENSTORED_PATH when that is a sim's socket."""
    d = os.environ.get("IVCOM_SIM_DIR")
    if d:
        return os.path.realpath(d)
    xs = os.environ.get("XENSTORED_PATH", "")
    if os.path.basename(xs) == "xenstored.sock":
        return os.path.realpath(os.path.dirname(xs))
    return None


def _environ(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as fp:
            raw = fp.read()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def sim_mapped_refs(directory: str, proc: str = "/proc") -> dict[tuple[int, int], set[int]]:
    """Which grant refs each sim domain's processes map now:
    (granter, mapping domain) -> refs, read from /proc/<pid>/maps of the
    processes whose environment joins `directory` (IVCOM_SIM_DIR, and
    IVCOM_SIM_DOMID, unset meaning dom0).  simhv names its grants but not
    their grantees: the mappings are what says who uses a page."""
    out: dict[tuple[int, int], set[int]] = {}
    for pid in (p for p in _listdir(proc) if p.isdigit()):
        env = _environ(os.path.join(proc, pid, "environ"))
        d = env.get("IVCOM_SIM_DIR")
        if not d or os.path.realpath(d) != directory:
            continue
        dom = env.get("IVCOM_SIM_DOMID", "0")
        if not dom.isdigit():
            continue
        try:
            with open(os.path.join(proc, pid, "maps")) as fp:
                lines = fp.read().splitlines()
        except OSError:
            continue
        for line in lines:
            f = line.split(maxsplit=5)
            m = GRANT_RE.match(f[5]) if len(f) == 6 else None
            if not m:
                continue
            start, _, end = f[0].partition("-")
            try:
                npages = (int(end, 16) - int(start, 16)) // L.PAGE_SIZE
                first = int(m[2]) + int(f[2], 16) // L.PAGE_SIZE
            except ValueError:
                continue
            last = min(first + npages, int(m[2]) + int(m[3]))
            out.setdefault((int(m[1]), int(dom)), set()).update(range(first, last))
    return out


class _SimPages:
    """Read-only mappings of the grant areas of one granter."""

    def __init__(self, granter: int, proc: str, pid: int | None) -> None:
        self.granter = granter
        self.proc = proc
        self.pid = pid
        self._maps: dict[str, tuple[GrantArea, mmap.mmap]] = {}

    def _area_for(self, ref: int) -> tuple[GrantArea, mmap.mmap]:
        for area, mm in self._maps.values():
            if area.first_ref <= ref < area.first_ref + area.npages:
                return area, mm
        for area in find_grant_areas(self.proc, self.pid):
            if area.granter != self.granter:
                continue
            if area.first_ref <= ref < area.first_ref + area.npages:
                try:
                    fd = os.open(area.link, os.O_RDONLY)
                except OSError as exc:
                    raise SourceError(
                        f"cannot open {area.link} ({area.name}): {exc.strerror}"
                    ) from None
                try:
                    mm = mmap.mmap(fd, area.npages * L.PAGE_SIZE, mmap.MAP_SHARED, mmap.PROT_READ)
                except (OSError, ValueError) as exc:
                    raise SourceError(f"cannot map {area.name} read-only: {exc}") from None
                finally:
                    os.close(fd)
                self._maps[area.link] = (area, mm)
                return area, mm
        raise ChannelClosed(f"grant ref {ref} of domain {self.granter} is not shared (any more)")

    def check_alive(self) -> None:
        """The sim hypervisor frees a grant area when it is unshared: our
        mapping would keep the stale memory, so watch the fd link instead."""
        for link, (area, _) in list(self._maps.items()):
            try:
                alive = os.readlink(link) == area.name
            except OSError:
                alive = False
            if not alive:
                raise ChannelClosed(
                    f"grant area {area.first_ref}+{area.npages} of domain {area.granter} "
                    "was released"
                )

    def read(self, refs: Sequence[int]) -> bytes:
        parts = []
        for ref in refs:
            area, mm = self._area_for(ref)
            off = (ref - area.first_ref) * L.PAGE_SIZE
            parts.append(mm[off : off + L.PAGE_SIZE])
        return b"".join(parts)

    def close(self) -> None:
        for _, mm in self._maps.values():
            mm.close()
        self._maps.clear()


class SimPageReader:
    """Single pages of any granter of one sim, read through simhv's memfds
    (for finding control pages XenStore no longer names)."""

    def __init__(self, directory: str, proc: str = "/proc") -> None:
        self.proc = proc
        self.pid: int | None = None
        try:
            with open(os.path.join(directory, "ready")) as fp:
                self.pid = int(fp.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        self._pages: dict[int, _SimPages] = {}

    def read(self, granter: int, ref: int) -> bytes | None:
        pages = self._pages.setdefault(granter, _SimPages(granter, self.proc, self.pid))
        try:
            return pages.read([ref])
        except (ChannelClosed, SourceError):
            return None

    def close(self) -> None:
        for pages in self._pages.values():
            pages.close()
        self._pages.clear()


class _GrantSource:
    """A channel read through grant refs: the control page, and with
    with_data the rings it lists.  Subclasses supply the page reader and
    say how the refs are reached (`_via`)."""

    _via = ""

    def __init__(self, granter: int, ctrl_ref: int, kind: str, with_data: bool,
                 label: str) -> None:
        if kind not in KINDS:
            raise SourceError(f"unknown ring kind {kind!r}")
        self.kind = kind
        self.granter = granter
        self.ctrl_ref = ctrl_ref
        self.with_data = with_data
        self.label = label

    def _pages_reader(self) -> _SimPages | _GntdevPages:
        raise NotImplementedError

    def snapshot(self) -> RingSnapshot:
        pages = self._pages_reader()
        return assemble(
            self.kind,
            lambda: pages.read([self.ctrl_ref]),
            pages if self.with_data else None,
        )

    def describe(self) -> str:
        what = f"{self.label} " if self.label else ""
        return f"{what}{self.kind} ring, {self._via} {self.ctrl_ref} of domain {self.granter}"

    def close(self) -> None:
        self._pages_reader().close()


class SimSource(_GrantSource):
    """A channel on the sim platform, read through simhv's memfds."""

    _via = "sim grant ref"

    def __init__(
        self, granter: int, ctrl_ref: int, kind: str = "ivcom", *, with_data: bool = True,
        proc: str = "/proc", pid: int | None = None, label: str = "",
    ) -> None:
        super().__init__(granter, ctrl_ref, kind, with_data, label)
        self._pages = _SimPages(granter, proc, pid)
        try:
            self._pages.read([ctrl_ref])  # fail early, with a clear line
        except ChannelClosed as exc:
            raise SourceError(f"{exc.reason} (is the sim running, and are we root?)") from None

    def _pages_reader(self) -> _SimPages:
        return self._pages

    def snapshot(self) -> RingSnapshot:
        self._pages.check_alive()
        return super().snapshot()


# ---- real Xen (gntdev) ------------------------------------------------------------

# linux/include/uapi/xen/gntdev.h: _IOC(_IOC_NONE, 'G', nr, size)
_IOC_NONE = 0


def _ioc(nr: int, size: int) -> int:
    return (_IOC_NONE << 30) | (size << 16) | (ord("G") << 8) | nr


IOCTL_GNTDEV_MAP_GRANT_REF = _ioc(0, 24)  # struct ioctl_gntdev_map_grant_ref
IOCTL_GNTDEV_UNMAP_GRANT_REF = _ioc(1, 16)  # struct ioctl_gntdev_unmap_grant_ref


class _GntdevPages:
    """Grant refs of one domain mapped read-only through /dev/xen/gntdev.

    gntdev maps with GNTMAP_readonly when the mapping lacks PROT_WRITE, so a
    bug here cannot scribble on a live ring."""

    def __init__(self, domid: int, dev: str = "/dev/xen/gntdev") -> None:
        import fcntl  # noqa: F401  (only meaningful on Linux)

        self.domid = domid
        try:
            self._fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise SourceError(f"cannot open {dev}: {exc.strerror}") from None
        self._maps: dict[tuple[int, ...], tuple[int, mmap.mmap]] = {}

    def _map(self, refs: tuple[int, ...]) -> mmap.mmap:
        import fcntl

        if refs in self._maps:
            return self._maps[refs][1]
        n = len(refs)
        buf = bytearray(struct.pack("<IIQ", n, 0, 0))
        for r in refs:
            buf += struct.pack("<II", self.domid, r)
        try:
            fcntl.ioctl(self._fd, IOCTL_GNTDEV_MAP_GRANT_REF, buf, True)
        except OSError as exc:
            raise SourceError(
                f"gntdev cannot map refs {list(refs)[:4]} of domain {self.domid}: {exc.strerror}"
            ) from None
        index = struct.unpack_from("<Q", buf, 8)[0]
        try:
            mm = mmap.mmap(self._fd, n * L.PAGE_SIZE, mmap.MAP_SHARED, mmap.PROT_READ,
                           offset=index)
        except OSError as exc:
            self._unmap(index, n)
            raise SourceError(f"gntdev mmap of {n} page(s) failed: {exc.strerror}") from None
        self._maps[refs] = (index, mm)
        return mm

    def _unmap(self, index: int, n: int) -> None:
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.ioctl(self._fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, struct.pack("<QII", index, n, 0))

    def read(self, refs: Sequence[int]) -> bytes:
        return bytes(self._map(tuple(refs))[:])

    def close(self) -> None:
        for refs, (index, mm) in self._maps.items():
            mm.close()
            self._unmap(index, len(refs))
        self._maps.clear()
        os.close(self._fd)


class XenSource(_GrantSource):
    """A channel on real Xen.  The inspecting domain (dom0) must be the
    grantee of the refs: it can watch channels whose client it is, and
    libxenvchan channels offered to it."""

    _via = "gntdev ref"

    def __init__(
        self, granter: int, ctrl_ref: int, kind: str = "ivcom", *, with_data: bool = True,
        dev: str = "/dev/xen/gntdev", label: str = "",
    ) -> None:
        super().__init__(granter, ctrl_ref, kind, with_data, label)
        self._pages = _GntdevPages(granter, dev)
        self._pages.read([ctrl_ref])

    def _pages_reader(self) -> _GntdevPages:
        return self._pages
