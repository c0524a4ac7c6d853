"""The IVCOM wire ABI v1 (ivcom-core/include/ivcom/wire.h): the control
page (`IVCOM_CTRL`, its `PROD_LINE`/`CONS_LINE` cache lines) and the
message record header `MSG_HDR`; building pages and rings for tests, and
decoding them (`decode_ivcom`, `walk_messages`)."""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass, replace

from construct import Array, Int8ul, Int16ul, Int32ul, Int64ul, Padding, Struct

from ivcom.layouts.common import (
    CACHELINE,
    PAGE_SHIFT,
    PAGE_SIZE,
    U32,
    Decoded,
    Direction,
    Violation,
    ViolationKind,
    check_distance,
)

IVCOM_WIRE_MAGIC = 0x4D435649  # "IVCM" little-endian
IVCOM_WIRE_VERSION = 1
IVCOM_RING_ORDER_MIN = 12
IVCOM_RING_ORDER_MAX = 20
IVCOM_MODE_MESSAGE = 1
IVCOM_MODE_STREAM = 2
IVCOM_LIVE_DEAD = 0
IVCOM_LIVE_UP = 1
IVCOM_LIVE_CLOSED = 2
IVCOM_CTRL_GREFS_OFFSET = 0x140
IVCOM_CTRL_MAX_GREFS = (PAGE_SIZE - IVCOM_CTRL_GREFS_OFFSET) // 4
IVCOM_MSG_ALIGN = 8
IVCOM_MSG_DATA = 1
IVCOM_MSG_PAD = 2

MODE_NAMES = {IVCOM_MODE_MESSAGE: "message", IVCOM_MODE_STREAM: "stream"}
LIVE_NAMES = {IVCOM_LIVE_DEAD: "dead", IVCOM_LIVE_UP: "up", IVCOM_LIVE_CLOSED: "closed"}

PROD_LINE = Struct(
    "prod" / Int32ul,
    "cons_event" / Int32ul,
    "notify_count" / Int32ul,
    "wait_count" / Int32ul,
    "pad" / Padding(CACHELINE - 16),
)

CONS_LINE = Struct(
    "cons" / Int32ul,
    "prod_event" / Int32ul,
    "notify_count" / Int32ul,
    "wait_count" / Int32ul,
    "pad" / Padding(CACHELINE - 16),
)

IVCOM_CTRL = Struct(
    "magic" / Int32ul,
    "version" / Int16ul,
    "mode" / Int8ul,
    "s2c_order" / Int8ul,
    "c2s_order" / Int8ul,
    "server_live" / Int8ul,
    "client_live" / Int8ul,
    "reserved0" / Int8ul,
    "nr_grefs" / Int32ul,
    "flags" / Int32ul,
    "reserved1" / Int32ul,
    "nonce" / Int64ul,
    "pad0" / Padding(CACHELINE - 32),
    "s2c_prod" / PROD_LINE,
    "s2c_cons" / CONS_LINE,
    "c2s_prod" / PROD_LINE,
    "c2s_cons" / CONS_LINE,
)

MSG_HDR = Struct(
    "len" / Int32ul,
    "type" / Int16ul,
    "reserved" / Int16ul,
)


@dataclass(frozen=True)
class IvcomCtrl:
    magic: int
    version: int
    mode: int
    s2c_order: int
    c2s_order: int
    server_live: int
    client_live: int
    reserved0: int
    nr_grefs: int
    flags: int
    s2c_prod: int
    s2c_cons_event: int
    s2c_prod_notify: int
    s2c_prod_wait: int
    s2c_cons: int
    s2c_prod_event: int
    s2c_cons_notify: int
    s2c_cons_wait: int
    c2s_prod: int
    c2s_cons_event: int
    c2s_prod_notify: int
    c2s_prod_wait: int
    c2s_cons: int
    c2s_prod_event: int
    c2s_cons_notify: int
    c2s_cons_wait: int
    grefs: tuple[int, ...] = ()
    reserved1: int = 0
    nonce: int = 0


def ivcom_nr_grefs(s2c_order: int, c2s_order: int) -> int:
    return (1 << (s2c_order - PAGE_SHIFT)) + (1 << (c2s_order - PAGE_SHIFT))


def build_ivcom(
    *,
    mode: int = IVCOM_MODE_MESSAGE,
    s2c_order: int = 16,
    c2s_order: int = 16,
    server_live: int = IVCOM_LIVE_UP,
    client_live: int = IVCOM_LIVE_UP,
    magic: int = IVCOM_WIRE_MAGIC,
    version: int = IVCOM_WIRE_VERSION,
    nr_grefs: int | None = None,
    grefs: tuple[int, ...] | None = None,
    s2c: dict[str, int] | None = None,
    c2s: dict[str, int] | None = None,
    flags: int = 0,
    reserved0: int = 0,
    reserved1: int = 0,
    nonce: int = 0,
) -> bytes:
    """A whole control page (4096 bytes), for tests and fake sources.

    `s2c`/`c2s` take prod, cons, cons_event, prod_event and the four counters
    (prod_notify, prod_wait, cons_notify, cons_wait)."""
    if nr_grefs is None:
        nr_grefs = ivcom_nr_grefs(s2c_order, c2s_order)
    if grefs is None:
        grefs = tuple(range(8, 8 + min(nr_grefs, IVCOM_CTRL_MAX_GREFS)))

    def lines(d: dict[str, int] | None) -> tuple[dict[str, int], dict[str, int]]:
        d = d or {}
        return (
            {
                "prod": d.get("prod", 0),
                "cons_event": d.get("cons_event", 0),
                "notify_count": d.get("prod_notify", 0),
                "wait_count": d.get("prod_wait", 0),
            },
            {
                "cons": d.get("cons", 0),
                "prod_event": d.get("prod_event", 0),
                "notify_count": d.get("cons_notify", 0),
                "wait_count": d.get("cons_wait", 0),
            },
        )

    s2c_p, s2c_c = lines(s2c)
    c2s_p, c2s_c = lines(c2s)
    head: bytes = IVCOM_CTRL.build(
        {
            "magic": magic,
            "version": version,
            "mode": mode,
            "s2c_order": s2c_order,
            "c2s_order": c2s_order,
            "server_live": server_live,
            "client_live": client_live,
            "reserved0": reserved0,
            "nr_grefs": nr_grefs,
            "flags": flags,
            "reserved1": reserved1,
            "nonce": nonce,
            "s2c_prod": s2c_p,
            "s2c_cons": s2c_c,
            "c2s_prod": c2s_p,
            "c2s_cons": c2s_c,
        }
    )
    tail = bytes(Array(len(grefs), Int32ul).build(list(grefs)))
    page = head + tail
    return page + bytes(PAGE_SIZE - len(page))


def build_messages(size: int, start: int, payloads: list[bytes]) -> tuple[bytes, int]:
    """Lay message records into an empty ring of `size` bytes starting at
    free-running index `start` (8-aligned).  Returns (ring bytes, new prod);
    wraps with a PAD record exactly as the producer does."""
    ring = bytearray(size)
    idx = start
    for p in payloads:
        rec = _align(8 + len(p))
        off = idx & (size - 1)
        if off + rec > size:
            ring[off : off + 8] = MSG_HDR.build(
                {"len": size - off - 8, "type": IVCOM_MSG_PAD, "reserved": 0}
            )
            idx = (idx + size - off) % U32
            off = 0
        ring[off : off + 8] = MSG_HDR.build({"len": len(p), "type": IVCOM_MSG_DATA, "reserved": 0})
        ring[off + 8 : off + 8 + len(p)] = p
        idx = (idx + rec) % U32
    return bytes(ring), idx


def _align(n: int) -> int:
    return (n + IVCOM_MSG_ALIGN - 1) & ~(IVCOM_MSG_ALIGN - 1)


@dataclass(frozen=True)
class Record:
    index: int  # free-running index of the header
    type: int
    length: int  # payload bytes
    span: int  # bytes the record occupies (header + payload + pad)


MAX_WALK = 1 << 16  # records examined per ring per decode


def walk_messages(
    ring: bytes, size: int, cons: int, prod: int, where: str = "ring"
) -> tuple[list[Record], list[Violation]]:
    """Walk the records queued between cons and prod in a message ring.

    Pure and bounded: stops at the first bad header (reported) or after
    MAX_WALK records."""
    recs: list[Record] = []
    v: list[Violation] = []
    if size <= 0 or len(ring) < size:
        return recs, v
    fill = (prod - cons) % U32
    if fill > size:
        return recs, v  # already reported as an index distance violation
    if cons % IVCOM_MSG_ALIGN:
        v.append(
            Violation(ViolationKind.BAD_MSG_HEADER, where, f"cons {cons:#x} is not 8-byte aligned")
        )
        return recs, v
    pos = 0
    while pos < fill and len(recs) < MAX_WALK:
        idx = (cons + pos) % U32
        off = idx & (size - 1)
        left = fill - pos
        if left < 8:
            v.append(
                Violation(
                    ViolationKind.MSG_BEYOND_FILL,
                    where,
                    f"{left} byte(s) at index {idx:#x} are too few for a header",
                )
            )
            break
        length, typ, reserved = _struct.unpack_from("<IHH", ring, off)
        if typ == IVCOM_MSG_PAD:
            span = size - off
        elif typ == IVCOM_MSG_DATA:
            span = _align(8 + length)
        else:
            v.append(
                Violation(
                    ViolationKind.BAD_MSG_HEADER, where, f"header at index {idx:#x}: type {typ}"
                )
            )
            break
        if reserved:
            v.append(
                Violation(
                    ViolationKind.BAD_MSG_HEADER,
                    where,
                    f"header at index {idx:#x}: reserved field {reserved:#x}",
                )
            )
            break
        if typ == IVCOM_MSG_PAD and length != size - off - 8:
            v.append(
                Violation(
                    ViolationKind.BAD_MSG_HEADER,
                    where,
                    f"pad at index {idx:#x}: length {length}, must cover the "
                    f"{size - off - 8} byte(s) to the ring end",
                )
            )
            break
        if off + span > size:
            v.append(
                Violation(
                    ViolationKind.MSG_BEYOND_RING,
                    where,
                    f"message at index {idx:#x}: length {length} runs past the ring end "
                    f"(offset {off:#x}, ring {size:#x})",
                )
            )
            break
        if span > left:
            v.append(
                Violation(
                    ViolationKind.MSG_BEYOND_FILL,
                    where,
                    f"message at index {idx:#x}: length {length} exceeds the {left} "
                    "byte(s) published",
                )
            )
            break
        recs.append(Record(idx, typ, length, span))
        pos += span
    return recs, v


def decode_ivcom(
    ctrl: bytes, s2c_ring: bytes | None = None, c2s_ring: bytes | None = None
) -> Decoded:
    """Decode an IVCOM control page (and, if given, walk the data rings)."""
    v: list[Violation] = []
    if len(ctrl) < IVCOM_CTRL_GREFS_OFFSET:
        v.append(
            Violation(
                ViolationKind.SHORT_PAGE,
                "ctrl",
                f"control page has {len(ctrl)} bytes, need at least {IVCOM_CTRL_GREFS_OFFSET}",
            )
        )
        return Decoded("ivcom", None, (), {}, tuple(v))
    c = IVCOM_CTRL.parse(ctrl)
    if c.magic != IVCOM_WIRE_MAGIC:
        v.append(
            Violation(
                ViolationKind.BAD_MAGIC,
                "ctrl",
                f"magic {c.magic:#010x}, expected {IVCOM_WIRE_MAGIC:#010x}",
            )
        )
    if c.version != IVCOM_WIRE_VERSION:
        v.append(
            Violation(
                ViolationKind.BAD_VERSION,
                "ctrl",
                f"version {c.version}, expected {IVCOM_WIRE_VERSION}",
            )
        )
    if c.mode not in MODE_NAMES:
        v.append(Violation(ViolationKind.BAD_MODE, "ctrl", f"mode {c.mode} is neither 1 nor 2"))
    sizes: dict[str, int | None] = {}
    for name in ("s2c", "c2s"):
        order = c[f"{name}_order"]
        if IVCOM_RING_ORDER_MIN <= order <= IVCOM_RING_ORDER_MAX:
            sizes[name] = 1 << order
        else:
            sizes[name] = None
            v.append(
                Violation(
                    ViolationKind.BAD_ORDER,
                    name,
                    f"order {order} outside {IVCOM_RING_ORDER_MIN}..{IVCOM_RING_ORDER_MAX}",
                )
            )
    if sizes["s2c"] is not None and sizes["c2s"] is not None:
        want = ivcom_nr_grefs(c.s2c_order, c.c2s_order)
        if c.nr_grefs != want:
            v.append(
                Violation(
                    ViolationKind.BAD_GREFS,
                    "ctrl",
                    f"nr_grefs {c.nr_grefs} but orders {c.s2c_order}/{c.c2s_order} "
                    f"need {want}",
                )
            )
    if c.nr_grefs > IVCOM_CTRL_MAX_GREFS:
        v.append(
            Violation(
                ViolationKind.BAD_GREFS,
                "ctrl",
                f"nr_grefs {c.nr_grefs} exceeds the {IVCOM_CTRL_MAX_GREFS} the page can hold",
            )
        )
    for who in ("server_live", "client_live"):
        if c[who] not in LIVE_NAMES:
            v.append(Violation(ViolationKind.BAD_LIVE, who, f"live byte {c[who]} is not 0/1/2"))
    if c.reserved0 or c.flags or c.reserved1:
        v.append(
            Violation(
                ViolationKind.RESERVED,
                "ctrl",
                f"reserved0 {c.reserved0:#x}, flags {c.flags:#x}, reserved1 "
                f"{c.reserved1:#x} (all 0 in v1)",
            )
        )
    ngrefs = min(c.nr_grefs, IVCOM_CTRL_MAX_GREFS, max(0, (len(ctrl) - 0x140) // 4))
    grefs = tuple(_struct.unpack_from(f"<{ngrefs}I", ctrl, IVCOM_CTRL_GREFS_OFFSET))
    hdr = IvcomCtrl(
        magic=c.magic,
        version=c.version,
        mode=c.mode,
        s2c_order=c.s2c_order,
        c2s_order=c.c2s_order,
        server_live=c.server_live,
        client_live=c.client_live,
        reserved0=c.reserved0,
        nr_grefs=c.nr_grefs,
        flags=c.flags,
        reserved1=c.reserved1,
        nonce=c.nonce,
        s2c_prod=c.s2c_prod.prod,
        s2c_cons_event=c.s2c_prod.cons_event,
        s2c_prod_notify=c.s2c_prod.notify_count,
        s2c_prod_wait=c.s2c_prod.wait_count,
        s2c_cons=c.s2c_cons.cons,
        s2c_prod_event=c.s2c_cons.prod_event,
        s2c_cons_notify=c.s2c_cons.notify_count,
        s2c_cons_wait=c.s2c_cons.wait_count,
        c2s_prod=c.c2s_prod.prod,
        c2s_cons_event=c.c2s_prod.cons_event,
        c2s_prod_notify=c.c2s_prod.notify_count,
        c2s_prod_wait=c.c2s_prod.wait_count,
        c2s_cons=c.c2s_cons.cons,
        c2s_prod_event=c.c2s_cons.prod_event,
        c2s_cons_notify=c.c2s_cons.notify_count,
        c2s_cons_wait=c.c2s_cons.wait_count,
        grefs=grefs,
    )
    dirs = []
    for name, ring in (("s2c", s2c_ring), ("c2s", c2s_ring)):
        p, q = c[f"{name}_prod"], c[f"{name}_cons"]
        size = sizes[name]
        d = Direction(
            name=name,
            prod=p.prod,
            cons=q.cons,
            size=size,
            prod_event=q.prod_event,
            cons_event=p.cons_event,
            prod_notifies=p.notify_count,
            cons_notifies=q.notify_count,
            prod_waits=p.wait_count,
            cons_waits=q.wait_count,
        )
        check_distance(v, d)
        if ring is not None and size is not None and c.mode == IVCOM_MODE_MESSAGE and d.valid:
            recs, rv = walk_messages(ring, size, d.cons, d.prod, name)
            v.extend(rv)
            d = replace(d, msgs=sum(r.type == IVCOM_MSG_DATA for r in recs))
        dirs.append(d)
    live = {
        "server": LIVE_NAMES.get(c.server_live, f"?{c.server_live}"),
        "client": LIVE_NAMES.get(c.client_live, f"?{c.client_live}"),
    }
    return Decoded("ivcom", hdr, tuple(dirs), live, tuple(v))
