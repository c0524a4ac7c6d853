"""The capture file written by `ivcom-trace dump` and read by `decode`.

All little-endian:

    file header   magic "IVCTRACE" | u16 version (1) | u16 name_len | u32 0
                  | name (UTF-8, name_len bytes)
    record        tag "SNAP" | u8 kind (1 ivcom, 2 vchan) | u8 nrings | u16 0
                  | f64 timestamp | u32 ctrl_len | ctrl bytes
                  | nrings x (u32 len | ring bytes)

Records follow each other to the end of the file.  A truncated or corrupt
file gives a `CaptureError` naming the byte offset of the problem.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from construct import Bytes, Const, Float64l, Int8ul, Int16ul, Int32ul, Struct
from ivcom import layouts as L
from ivcom.errors import IvcomError

from ivcom_trace.sources import ChannelClosed, RingSnapshot

CAPTURE_MAGIC = b"IVCTRACE"
CAPTURE_VERSION = 1
RECORD_TAG = b"SNAP"
MAX_RINGS = 2
MAX_CTRL = L.PAGE_SIZE
MAX_RING = 1 << L.IVCOM_RING_ORDER_MAX

FILE_HEADER = Struct(
    "magic" / Const(CAPTURE_MAGIC),
    "version" / Int16ul,
    "name_len" / Int16ul,
    "reserved" / Int32ul,
)
RECORD_HEADER = Struct(
    "tag" / Bytes(4),
    "kind" / Int8ul,
    "nrings" / Int8ul,
    "reserved" / Int16ul,
    "timestamp" / Float64l,
    "ctrl_len" / Int32ul,
)
KIND_CODES = {"ivcom": 1, "vchan": 2}
KIND_NAMES = {v: k for k, v in KIND_CODES.items()}


class CaptureError(IvcomError):
    """A capture file that cannot be read; the message names the offset."""


class CaptureWriter:
    def __init__(self, fp: BinaryIO, name: str) -> None:
        raw = name.encode()[:0xFFFF]
        fp.write(FILE_HEADER.build({"version": CAPTURE_VERSION, "name_len": len(raw),
                                    "reserved": 0}) + raw)
        self.fp = fp
        self.count = 0

    def write(self, snap: RingSnapshot) -> None:
        rings = snap.rings[:MAX_RINGS]
        out = [
            RECORD_HEADER.build(
                {
                    "tag": RECORD_TAG,
                    "kind": KIND_CODES[snap.kind],
                    "nrings": len(rings),
                    "reserved": 0,
                    "timestamp": snap.timestamp,
                    "ctrl_len": len(snap.ctrl),
                }
            ),
            snap.ctrl,
        ]
        for r in rings:
            out += [Int32ul.build(len(r)), r]
        self.fp.write(b"".join(out))
        self.count += 1


class CaptureReader:
    """Iterates the snapshots of a capture file, checking as it goes."""

    def __init__(self, fp: BinaryIO, path: str = "capture") -> None:
        self.fp = fp
        self.path = path
        self.offset = 0
        head = self._take(FILE_HEADER.sizeof(), "file header")
        if head[:8] != CAPTURE_MAGIC:
            raise CaptureError(f"{path}: not an ivcom-trace capture (bad magic at byte 0)")
        h = FILE_HEADER.parse(head)
        if h.version != CAPTURE_VERSION:
            raise CaptureError(
                f"{path}: capture version {h.version} at byte 8, this tool reads "
                f"{CAPTURE_VERSION}"
            )
        try:
            self.name = self._take(h.name_len, "channel name").decode()
        except UnicodeDecodeError:
            raise CaptureError(f"{path}: channel name at byte 16 is not UTF-8") from None

    def _take(self, n: int, what: str) -> bytes:
        data = self.fp.read(n)
        if len(data) != n:
            raise CaptureError(
                f"{self.path}: truncated {what} at byte {self.offset} "
                f"(need {n} bytes, {len(data)} left)"
            )
        self.offset += n
        return data

    def __iter__(self) -> Iterator[RingSnapshot]:
        while True:
            snap = self.next()
            if snap is None:
                return
            yield snap

    def next(self) -> RingSnapshot | None:
        start = self.offset
        first = self.fp.read(1)
        if not first:
            return None
        self.offset += 1
        head = first + self._take(RECORD_HEADER.sizeof() - 1, "record header")
        r = RECORD_HEADER.parse(head)
        if r.tag != RECORD_TAG:
            raise CaptureError(f"{self.path}: corrupt record at byte {start}: bad tag {r.tag!r}")
        if r.kind not in KIND_NAMES:
            raise CaptureError(f"{self.path}: corrupt record at byte {start}: kind {r.kind}")
        if r.nrings > MAX_RINGS:
            raise CaptureError(
                f"{self.path}: corrupt record at byte {start}: {r.nrings} rings (max {MAX_RINGS})"
            )
        if r.ctrl_len > MAX_CTRL:
            raise CaptureError(
                f"{self.path}: corrupt record at byte {start}: control page of {r.ctrl_len} bytes"
            )
        ctrl = self._take(r.ctrl_len, "control page")
        rings = []
        for _ in range(r.nrings):
            at = self.offset
            n = Int32ul.parse(self._take(4, "ring length"))
            if n > MAX_RING:
                raise CaptureError(
                    f"{self.path}: corrupt ring length {n} at byte {at} (max {MAX_RING})"
                )
            rings.append(self._take(n, "ring data"))
        return RingSnapshot(KIND_NAMES[r.kind], ctrl, tuple(rings), r.timestamp)


class FileSource:
    """A RingSource replaying a capture file, one record per snapshot."""

    def __init__(self, path: str) -> None:
        try:
            self._fp: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise CaptureError(f"{path}: {exc.strerror}") from None
        self.path = path
        try:
            self._reader = CaptureReader(self._fp, path)
        except CaptureError:
            self._fp.close()
            raise
        self.name = self._reader.name

    def snapshot(self) -> RingSnapshot:
        snap = self._reader.next()
        if snap is None:
            raise ChannelClosed(f"end of capture {os.path.basename(self.path)}")
        return snap

    def describe(self) -> str:
        return f"capture {self.path} of {self.name or '?'}"

    def close(self) -> None:
        self._fp.close()
