"""Capture files: write/read round trip and one-line errors for bad files."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from ivcom import layouts as L
from ivcom_trace.capture import CaptureError, CaptureReader, CaptureWriter, FileSource
from ivcom_trace.fakes import ivcom_frames
from ivcom_trace.sources import ChannelClosed, RingSnapshot


def write(frames: list[RingSnapshot], name: str = "0/echo") -> bytes:
    buf = io.BytesIO()
    w = CaptureWriter(buf, name)
    for f in frames:
        w.write(f)
    assert w.count == len(frames)
    return buf.getvalue()


def test_round_trip() -> None:
    frames = ivcom_frames(3)
    frames.append(RingSnapshot("vchan", L.build_vchan(), (), 42.5))
    r = CaptureReader(io.BytesIO(write(frames)))
    assert r.name == "0/echo"
    assert list(r) == frames


def test_file_source_replays_then_closes(tmp_path: Path) -> None:
    p = tmp_path / "c.ivtrace"
    frames = ivcom_frames(2)
    p.write_bytes(write(frames, "1/chan"))
    src = FileSource(str(p))
    assert src.name == "1/chan"
    assert "1/chan" in src.describe()
    assert src.snapshot() == frames[0]
    assert src.snapshot() == frames[1]
    with pytest.raises(ChannelClosed, match="end of capture"):
        src.snapshot()
    src.close()


def test_empty_capture_has_no_records() -> None:
    assert list(CaptureReader(io.BytesIO(write([])))) == []


def test_bad_magic() -> None:
    with pytest.raises(CaptureError, match=r"not an ivcom-trace capture .* byte 0"):
        CaptureReader(io.BytesIO(b"NOTATRACEFILE..." * 2), "x")


def test_bad_version() -> None:
    data = bytearray(write([]))
    data[8:10] = struct.pack("<H", 9)
    with pytest.raises(CaptureError, match="version 9 at byte 8"):
        CaptureReader(io.BytesIO(bytes(data)), "x")


def test_truncated_header() -> None:
    with pytest.raises(CaptureError, match="truncated file header at byte 0"):
        CaptureReader(io.BytesIO(b"IVCT"), "x")


@pytest.mark.parametrize("cut", [1, 10, 23, 30, 4120, 4123, 5000])
def test_truncated_record_names_its_offset(cut: int) -> None:
    full = write(ivcom_frames(2))
    head = 16 + len("0/echo")
    rec = (len(full) - head) // 2
    data = full[: head + rec + cut]
    r = CaptureReader(io.BytesIO(data), "cap")
    assert r.next() is not None
    with pytest.raises(CaptureError) as ei:
        list(r)
    msg = str(ei.value)
    assert msg.startswith("cap: truncated ")
    assert "\n" not in msg
    # the offset named is inside the second record
    off = int(msg.split(" at byte ")[1].split()[0])
    assert head + rec <= off <= head + rec + cut


def test_corrupt_tag_names_record_offset() -> None:
    full = bytearray(write(ivcom_frames(2)))
    head = 16 + len("0/echo")
    rec = (len(full) - head) // 2
    full[head + rec : head + rec + 4] = b"JUNK"
    r = CaptureReader(io.BytesIO(bytes(full)), "cap")
    r.next()
    with pytest.raises(CaptureError, match=f"corrupt record at byte {head + rec}: bad tag"):
        r.next()


def test_corrupt_lengths_are_refused_not_allocated() -> None:
    full = bytearray(write(ivcom_frames(1)))
    head = 16 + len("0/echo")
    bad = bytearray(full)
    bad[head + 16 : head + 20] = struct.pack("<I", 0xFFFFFFFF)  # ctrl_len
    with pytest.raises(CaptureError, match="control page of 4294967295 bytes"):
        CaptureReader(io.BytesIO(bytes(bad)), "c").next()
    bad = bytearray(full)
    bad[head + 5] = 9  # nrings
    with pytest.raises(CaptureError, match="9 rings"):
        CaptureReader(io.BytesIO(bytes(bad)), "c").next()
    bad = bytearray(full)
    at = head + 20 + 4096
    bad[at : at + 4] = struct.pack("<I", 1 << 30)
    with pytest.raises(CaptureError, match=f"corrupt ring length {1 << 30} at byte {at}"):
        CaptureReader(io.BytesIO(bytes(bad)), "c").next()


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="No such file"):
        FileSource(str(tmp_path / "nope"))
