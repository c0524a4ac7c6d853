"""Every kind of protocol violation, each from one crafted bad state."""

from __future__ import annotations

import struct

import pytest
from ivcom import layouts as L

K = L.ViolationKind


def kinds(d: L.Decoded) -> set[L.ViolationKind]:
    return {v.kind for v in d.violations}


def ivcom(**kw: object) -> L.Decoded:
    rings = kw.pop("rings", (None, None))
    return L.decode_ivcom(L.build_ivcom(**kw), *rings)  # type: ignore[arg-type]


def test_clean_page_has_no_violations() -> None:
    assert ivcom().violations == ()


def test_short_page() -> None:
    d = L.decode_ivcom(b"\0" * 100)
    assert kinds(d) == {K.SHORT_PAGE}
    assert d.header is None and d.directions == ()


def test_bad_magic() -> None:
    d = ivcom(magic=0x12345678)
    assert kinds(d) == {K.BAD_MAGIC}
    assert "0x12345678" in d.violations[0].message


def test_bad_version() -> None:
    assert kinds(ivcom(version=2)) == {K.BAD_VERSION}


def test_bad_mode() -> None:
    assert kinds(ivcom(mode=3)) == {K.BAD_MODE}


@pytest.mark.parametrize("order", [0, 11, 21, 255])
def test_bad_order(order: int) -> None:
    d = ivcom(s2c_order=order, nr_grefs=17)
    assert K.BAD_ORDER in kinds(d)
    assert d.directions[0].size is None


def test_nr_grefs_inconsistent_with_orders() -> None:
    d = ivcom(s2c_order=12, c2s_order=13, nr_grefs=4)
    assert kinds(d) == {K.BAD_GREFS}
    assert "need 3" in d.violations[0].message


def test_nr_grefs_beyond_page() -> None:
    d = ivcom(nr_grefs=5000, grefs=())
    assert K.BAD_GREFS in kinds(d)
    assert len(d.header.grefs) == L.IVCOM_CTRL_MAX_GREFS  # clamped, no over-read


def test_index_distance_beyond_size() -> None:
    d = ivcom(s2c_order=12, c2s_order=12, c2s={"prod": 4097, "cons": 0})
    assert kinds(d) == {K.INDEX_DISTANCE}
    assert d.violations[0].where == "c2s"
    assert not d.directions[1].valid


def test_index_distance_negative_is_huge_unsigned() -> None:
    # cons ahead of prod: prod - cons wraps to nearly 2^32
    d = ivcom(s2c={"prod": 10, "cons": 20})
    assert kinds(d) == {K.INDEX_DISTANCE}


def test_index_distance_wrapping_but_fine() -> None:
    d = ivcom(s2c_order=12, s2c={"prod": 0x10, "cons": 0xFFFFFFF0}, mode=L.IVCOM_MODE_STREAM)
    assert d.violations == ()
    assert d.directions[0].fill == 0x20


@pytest.mark.parametrize("who,field", [("server_live", "server_live"),
                                       ("client_live", "client_live")])
def test_bad_live_flag(who: str, field: str) -> None:
    d = ivcom(**{field: 7})
    assert kinds(d) == {K.BAD_LIVE}
    assert d.violations[0].where == who


def test_reserved_fields() -> None:
    assert kinds(ivcom(flags=1)) == {K.RESERVED}
    assert kinds(ivcom(reserved0=9)) == {K.RESERVED}


def _ring_with(off: int, length: int, typ: int = L.IVCOM_MSG_DATA, reserved: int = 0) -> bytes:
    ring = bytearray(4096)
    ring[off : off + 8] = struct.pack("<IHH", length, typ, reserved)
    return bytes(ring)


def _msg(ring: bytes, prod: int, cons: int = 0) -> L.Decoded:
    return ivcom(s2c_order=12, c2s_order=12, s2c={"prod": prod, "cons": cons},
                 rings=(ring, bytes(4096)))


def test_message_length_beyond_fill_level() -> None:
    d = _msg(_ring_with(0, 100), prod=64)
    assert kinds(d) == {K.MSG_BEYOND_FILL}
    assert "100" in d.violations[0].message


def test_message_length_beyond_ring_end() -> None:
    d = _msg(_ring_with(4000, 200), prod=4096 + 200, cons=4000)
    assert kinds(d) == {K.MSG_BEYOND_RING}


def test_message_length_beyond_ring_size() -> None:
    d = _msg(_ring_with(0, 0xFFFFFFF0), prod=4096)
    assert kinds(d) == {K.MSG_BEYOND_RING}


def test_bad_message_type() -> None:
    assert kinds(_msg(_ring_with(0, 8, typ=7), prod=16)) == {K.BAD_MSG_HEADER}


def test_message_reserved_nonzero() -> None:
    assert kinds(_msg(_ring_with(0, 8, reserved=1), prod=16)) == {K.BAD_MSG_HEADER}


def test_partial_header_at_fill_end() -> None:
    assert kinds(_msg(_ring_with(0, 8), prod=20)) == {K.MSG_BEYOND_FILL}


def test_misaligned_cons_in_message_mode() -> None:
    assert kinds(_msg(bytes(4096), prod=19, cons=3)) == {K.BAD_MSG_HEADER}


def test_pad_record_skips_to_ring_start() -> None:
    ring = bytearray(4096)
    ring[4080:4088] = struct.pack("<IHH", 8, L.IVCOM_MSG_PAD, 0)
    ring[0:8] = struct.pack("<IHH", 5, L.IVCOM_MSG_DATA, 0)
    d = _msg(bytes(ring), prod=4096 + 16, cons=4080)
    assert d.violations == ()
    assert d.directions[0].msgs == 1


def test_stream_mode_does_not_walk_records() -> None:
    d = ivcom(mode=L.IVCOM_MODE_STREAM, s2c_order=12, c2s_order=12,
              s2c={"prod": 64, "cons": 0}, rings=(_ring_with(0, 100), bytes(4096)))
    assert d.violations == ()


# ---- libxenvchan ----


def test_vchan_bad_order() -> None:
    assert K.BAD_ORDER in kinds(L.decode_vchan(L.build_vchan(left_order=9)))
    assert K.BAD_ORDER in kinds(L.decode_vchan(L.build_vchan(right_order=21)))


def test_vchan_both_in_page_rings_at_same_offset() -> None:
    d = L.decode_vchan(L.build_vchan(left_order=11, right_order=11))
    assert kinds(d) == {K.BAD_ORDER}
    assert "2048" in d.violations[0].message


def test_vchan_grants_run_into_in_page_ring() -> None:
    # 2^(20-12) = 256 grants (1024 bytes) cannot sit before a ring at 1024
    d = L.decode_vchan(L.build_vchan(left_order=10, right_order=20))
    assert kinds(d) == {K.BAD_GREFS}


def test_vchan_index_distance() -> None:
    d = L.decode_vchan(L.build_vchan(left=(0, 1025)))
    assert kinds(d) == {K.INDEX_DISTANCE}
    assert d.violations[0].where == "left"


def test_vchan_bad_live_values() -> None:
    assert kinds(L.decode_vchan(L.build_vchan(cli_live=3))) == {K.BAD_LIVE}
    assert kinds(L.decode_vchan(L.build_vchan(srv_live=2))) == {K.BAD_LIVE}


def test_vchan_bad_notify_bits() -> None:
    assert kinds(L.decode_vchan(L.build_vchan(srv_notify=0x4))) == {K.BAD_NOTIFY}


def test_vchan_short_page() -> None:
    assert kinds(L.decode_vchan(b"\0" * 10)) == {K.SHORT_PAGE}


# ---- io/ring.h ----


def test_sring_more_requests_outstanding_than_slots() -> None:
    d = L.decode_sring(L.build_sring(33, 0, 0, 0) + bytes(4032), entry_size=112)
    assert kinds(d) == {K.INDEX_DISTANCE}


def test_sring_without_entry_size_checks_nothing() -> None:
    assert L.decode_sring(L.build_sring(1000, 0, 0, 0)).violations == ()


def test_flex_bad_order() -> None:
    d = L.decode_flex(L.build_flex(0, 0, 0, 0, 10, refs=()))
    assert kinds(d) == {K.BAD_ORDER}


def test_flex_index_distance() -> None:
    size = L.flex_ring_size(1)
    d = L.decode_flex(L.build_flex(0, size + 1, 0, 0, 1))
    assert kinds(d) == {K.INDEX_DISTANCE}
    assert d.violations[0].where == "in"


def test_pad_record_must_cover_exactly_the_tail() -> None:
    ring = bytearray(4096)
    ring[4080:4088] = struct.pack("<IHH", 0, L.IVCOM_MSG_PAD, 0)
    d = _msg(bytes(ring), prod=4096 + 16, cons=4080)
    assert kinds(d) == {K.BAD_MSG_HEADER}
    assert "must cover the 8 byte(s)" in d.violations[0].message


def test_pad_record_beyond_fill() -> None:
    ring = bytearray(4096)
    ring[4000:4008] = struct.pack("<IHH", 88, L.IVCOM_MSG_PAD, 0)
    assert kinds(_msg(bytes(ring), prod=4050, cons=4000)) == {K.MSG_BEYOND_FILL}
