"""Xen's flex rings (xen/io/ring.h, DEFINE_XEN_FLEX_RING_AND_INTF): the
indexes page `FLEX_DATA_INTF` and the refs of the data pages after it."""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass

from construct import Int32ul, Padding, Struct

from ivcom.layouts.common import (
    PAGE_SHIFT,
    PAGE_SIZE,
    Decoded,
    Direction,
    Violation,
    ViolationKind,
    check_distance,
)

FLEX_DATA_INTF = Struct(
    "in_cons" / Int32ul,
    "in_prod" / Int32ul,
    "pad1" / Padding(56),
    "out_cons" / Int32ul,
    "out_prod" / Int32ul,
    "pad2" / Padding(56),
    "ring_order" / Int32ul,
)
FLEX_REFS_OFFSET = 132
FLEX_MAX_ORDER = 9  # 2^9 refs is the most the indexes page can list


@dataclass(frozen=True)
class FlexIntf:
    in_cons: int
    in_prod: int
    out_cons: int
    out_prod: int
    ring_order: int
    refs: tuple[int, ...] = ()


def flex_ring_size(order: int) -> int:
    """XEN_FLEX_RING_SIZE: bytes per direction for a ring of 2^order pages."""
    return 1 << (order + PAGE_SHIFT - 1)


def build_flex(
    in_cons: int, in_prod: int, out_cons: int, out_prod: int, ring_order: int,
    refs: tuple[int, ...] | None = None,
) -> bytes:
    if refs is None:
        refs = tuple(range(1 << ring_order)) if ring_order <= FLEX_MAX_ORDER else ()
    head: bytes = FLEX_DATA_INTF.build(
        {
            "in_cons": in_cons,
            "in_prod": in_prod,
            "out_cons": out_cons,
            "out_prod": out_prod,
            "ring_order": ring_order,
        }
    )
    page = head + _struct.pack(f"<{len(refs)}I", *refs)
    return page + bytes(max(0, PAGE_SIZE - len(page)))


def decode_flex(page: bytes) -> Decoded:
    """Decode a flex ring indexes page (DEFINE_XEN_FLEX_RING_AND_INTF)."""
    v: list[Violation] = []
    if len(page) < FLEX_REFS_OFFSET:
        v.append(
            Violation(
                ViolationKind.SHORT_PAGE,
                "page",
                f"indexes page has {len(page)} bytes, need at least {FLEX_REFS_OFFSET}",
            )
        )
        return Decoded("flex", None, (), {}, tuple(v))
    s = FLEX_DATA_INTF.parse(page)
    size: int | None = None
    nrefs = 0
    if s.ring_order <= FLEX_MAX_ORDER:
        size = flex_ring_size(s.ring_order)
        nrefs = min(1 << s.ring_order, max(0, (len(page) - FLEX_REFS_OFFSET) // 4))
    else:
        v.append(
            Violation(
                ViolationKind.BAD_ORDER,
                "page",
                f"ring_order {s.ring_order}: 2^order refs cannot fit the page "
                f"(max order {FLEX_MAX_ORDER})",
            )
        )
    refs = tuple(_struct.unpack_from(f"<{nrefs}I", page, FLEX_REFS_OFFSET))
    hdr = FlexIntf(s.in_cons, s.in_prod, s.out_cons, s.out_prod, s.ring_order, refs)
    dirs = (
        Direction("in", s.in_prod, s.in_cons, size),
        Direction("out", s.out_prod, s.out_cons, size),
    )
    for d in dirs:
        check_distance(v, d)
    return Decoded("flex", hdr, dirs, {}, tuple(v))
