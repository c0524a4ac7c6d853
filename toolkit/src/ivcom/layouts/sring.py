"""Xen's generic request/response shared ring (xen/io/ring.h,
DEFINE_RING_TYPES): the header `SRING_HDR` in front of the entries."""

from __future__ import annotations

from dataclasses import dataclass

from construct import Bytes, Int32ul, Padding, Struct

from ivcom.layouts.common import (
    PAGE_SIZE,
    Decoded,
    Direction,
    Violation,
    ViolationKind,
    check_distance,
)

SRING_HDR = Struct(
    "req_prod" / Int32ul,
    "req_event" / Int32ul,
    "rsp_prod" / Int32ul,
    "rsp_event" / Int32ul,
    "pvt" / Bytes(4),
    "__pad" / Padding(44),
)
SRING_ENTRIES_OFFSET = 64


@dataclass(frozen=True)
class SringHdr:
    req_prod: int
    req_event: int
    rsp_prod: int
    rsp_event: int


def sring_entries(page_size: int, entry_size: int) -> int:
    """__RING_SIZE: entries that fit after the header, rounded down to 2^n."""
    n = (page_size - SRING_ENTRIES_OFFSET) // entry_size
    if n <= 0:
        return 0
    return 1 << (n.bit_length() - 1)


def build_sring(req_prod: int, req_event: int, rsp_prod: int, rsp_event: int) -> bytes:
    return bytes(SRING_HDR.build(
        {
            "req_prod": req_prod,
            "req_event": req_event,
            "rsp_prod": rsp_prod,
            "rsp_event": rsp_event,
            "pvt": bytes(4),
        }
    ))


def decode_sring(page: bytes, entry_size: int | None = None) -> Decoded:
    """Decode a generic shared ring header.  With the entry size the ring
    capacity is known and `req_prod - rsp_prod` is checked against it."""
    v: list[Violation] = []
    if len(page) < SRING_ENTRIES_OFFSET:
        v.append(
            Violation(
                ViolationKind.SHORT_PAGE,
                "page",
                f"shared ring has {len(page)} bytes, need at least {SRING_ENTRIES_OFFSET}",
            )
        )
        return Decoded("sring", None, (), {}, tuple(v))
    s = SRING_HDR.parse(page)
    hdr = SringHdr(s.req_prod, s.req_event, s.rsp_prod, s.rsp_event)
    nr = sring_entries(PAGE_SIZE, entry_size) if entry_size else None
    d = Direction(
        name="req-rsp",
        prod=s.req_prod,
        cons=s.rsp_prod,
        size=nr,
        prod_event=s.req_event,
        cons_event=s.rsp_event,
    )
    check_distance(v, d)
    return Decoded("sring", hdr, (d,), {}, tuple(v))
