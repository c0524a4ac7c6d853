"""Malformed and truncated trace files: TraceFormatError with the byte offset, nothing else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ivcom.errors import IvcomError
from ivcom_trace import xentrace as xt
from xt_tracegen import rec, scenario


def both(data: bytes) -> tuple[xt.TraceFormatError, xt.TraceFormatError]:
    """Both scanners must fail identically."""
    with pytest.raises(xt.TraceFormatError) as fast:
        xt.scan_fast(data)
    with pytest.raises(xt.TraceFormatError) as ref:
        xt.scan_construct(data)
    assert (fast.value.offset, str(fast.value)) == (ref.value.offset, str(ref.value))
    return fast.value, ref.value


def test_error_is_a_one_line_ivcom_error():
    err, _ = both(b"hello world, not a trace")
    assert isinstance(err, IvcomError)
    assert err.offset == 0
    assert "\n" not in str(err)
    assert str(err).startswith("bad xentrace data at byte 0: expected a CPU change record")


def test_truncated_cpu_change_record():
    err, _ = both(struct.pack("<II", xt.CPU_CHANGE_HEADER, 0))
    assert err.offset == 0 and "truncated CPU change record (8 bytes)" in str(err)
    err, _ = both(b"\x03\xf0")
    assert err.offset == 0 and "truncated" in str(err)


def test_window_past_end_of_file():
    data = xt.build_window(0, rec(xt.TRC_SCHED_WAKE, [1, 0], 5))
    err, _ = both(data[:-4])
    assert err.offset == 0 and "claims 20 bytes but only 16 remain" in str(err)


def test_second_window_offset_is_reported():
    w = xt.build_window(0, rec(xt.TRC_HVM_VMENTRY, [], 1))
    err, _ = both(w + b"\x00" * 12)
    assert err.offset == len(w)


def test_record_overrunning_its_window():
    good = rec(xt.TRC_HVM_VMENTRY, [], 7)  # 12 bytes
    bad = struct.pack("<I", xt.make_header(xt.TRC_SCHED_WAKE, 2, True)) + b"\0" * 8
    data = xt.build_window(1, good + bad)
    err, _ = both(data)
    assert err.offset == 12 + len(good)
    assert "needs 20 bytes but its window has 12 left" in str(err)


def test_short_record_header():
    data = struct.pack("<III", xt.CPU_CHANGE_HEADER, 0, 0) + b""
    assert xt.scan_fast(data) == []
    # A window of 2 bytes cannot hold a header; sizes must be word multiples.
    err, _ = both(struct.pack("<III", xt.CPU_CHANGE_HEADER, 0, 2) + b"ab")
    assert "not a multiple of 4" in str(err)


def test_implausible_cpu():
    err, _ = both(struct.pack("<III", xt.CPU_CHANGE_HEADER, 70000, 0))
    assert err.offset == 0 and "implausible cpu number 70000" in str(err)


def test_decode_file_missing_is_one_line_error(tmp_path):
    with pytest.raises(IvcomError) as exc:
        xt.decode_file(tmp_path / "nope.trace")
    assert "cannot read trace file" in str(exc.value)


_base = scenario()


@st.composite
def mutated(draw):
    data = bytearray(_base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "word"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        else:
            data[i : i + 4] = struct.pack("<I", draw(st.integers(0, 0xFFFFFFFF)))
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutations_only_raise_trace_format_error(data):
    outcomes = []
    for engine in ("fast", "construct"):
        try:
            trace = xt.decode_bytes(data, engine=engine)
        except xt.TraceFormatError as exc:
            assert 0 <= exc.offset <= len(data)
            assert "\n" not in str(exc)
            outcomes.append(("error", exc.offset, str(exc)))
        else:
            xt.summarize(trace)
            xt.summarize(trace, vendor="vmx", domid=1)
            outcomes.append(("ok", trace))
    assert outcomes[0] == outcomes[1]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_only_raise_trace_format_error(data):
    try:
        xt.summarize(xt.decode_bytes(data))
    except xt.TraceFormatError as exc:
        assert 0 <= exc.offset <= len(data)
