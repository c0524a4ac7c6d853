"""Construct twins of every shared ring we speak, and pure decoders.

One layout per C struct, declared once at module level:

- the IVCOM wire ABI v1 (ivcom-core/include/ivcom/wire.h): `PROD_LINE`,
  `CONS_LINE`, `IVCOM_CTRL`, `MSG_HDR`;
- libxenvchan's shared page (xen/io/libxenvchan.h): `RING_SHARED`,
  `VCHAN_INTERFACE`;
- Xen's io/ring.h: the generic shared ring header `SRING_HDR` and the flex
  ring indexes page `FLEX_DATA_INTF`.

`ivcom-layout` (ivcom-core/tools/ivcom-layout.c) prints the C offsets and a
test checks every field here against it.

The decoders (`decode_ivcom`, `decode_vchan`, `decode_sring`, `decode_flex`)
are pure functions of bytes: they never raise on hostile input, and return
frozen dataclasses plus a tuple of `Violation`s describing everything that
breaks the protocol.
"""

from __future__ import annotations

import enum
import struct as _struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from construct import Array, Bytes, Construct, Int8ul, Int16ul, Int32ul, Padding, Struct

U32 = 1 << 32
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
CACHELINE = 64

# ---- IVCOM wire ABI v1 ------------------------------------------------------

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
    "pad0" / Padding(CACHELINE - 20),
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

# ---- libxenvchan (xen/io/libxenvchan.h) --------------------------------------

VCHAN_NOTIFY_WRITE = 0x1
VCHAN_NOTIFY_READ = 0x2
VCHAN_ORDER_MIN = 10
VCHAN_ORDER_MAX = 20
VCHAN_SMALL_ORDER = 10  # ring lives at offset 1024 of the shared page
VCHAN_LARGE_ORDER = 11  # ring lives at offset 2048 of the shared page
VCHAN_INPAGE_OFFSET = {VCHAN_SMALL_ORDER: 1024, VCHAN_LARGE_ORDER: 2048}
VCHAN_LIVE_EXITED = 0
VCHAN_LIVE_CONNECTED = 1
VCHAN_LIVE_WAITING = 2  # client has not connected yet

RING_SHARED = Struct(
    "cons" / Int32ul,
    "prod" / Int32ul,
)

VCHAN_INTERFACE = Struct(
    "left" / RING_SHARED,  # client writes, server reads
    "right" / RING_SHARED,  # server writes, client reads
    "left_order" / Int16ul,
    "right_order" / Int16ul,
    "cli_live" / Int8ul,
    "srv_live" / Int8ul,
    "cli_notify" / Int8ul,
    "srv_notify" / Int8ul,
)
VCHAN_GRANTS_OFFSET = 24

# ---- Xen io/ring.h ------------------------------------------------------------

SRING_HDR = Struct(
    "req_prod" / Int32ul,
    "req_event" / Int32ul,
    "rsp_prod" / Int32ul,
    "rsp_event" / Int32ul,
    "pvt" / Bytes(4),
    "__pad" / Padding(44),
)
SRING_ENTRIES_OFFSET = 64

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

# Every layout by its C name (as printed by ivcom-layout), with the offset
# of its trailing flexible array where it has one.
LAYOUTS: dict[str, Construct] = {
    "ivcom_prod_line": PROD_LINE,
    "ivcom_cons_line": CONS_LINE,
    "ivcom_ctrl": IVCOM_CTRL,
    "ivcom_msg_hdr": MSG_HDR,
    "ring_shared": RING_SHARED,
    "vchan_interface": VCHAN_INTERFACE,
    "sring_hdr": SRING_HDR,
    "flex_data_intf": FLEX_DATA_INTF,
}
TAILS: dict[str, tuple[str, int]] = {
    "ivcom_ctrl": ("grefs", IVCOM_CTRL_GREFS_OFFSET),
    "vchan_interface": ("grants", VCHAN_GRANTS_OFFSET),
    "sring_hdr": ("ring", SRING_ENTRIES_OFFSET),
    "flex_data_intf": ("ref", FLEX_REFS_OFFSET),
}


def layout_fields(layout: Construct, prefix: str = "") -> dict[str, tuple[int, int]]:
    """Every named field of a fixed-size layout: dotted name -> (offset, size)."""
    out: dict[str, tuple[int, int]] = {}
    offset = 0
    for sub in layout.subcons:
        size = sub.sizeof()
        if sub.name:
            name = prefix + sub.name
            out[name] = (offset, size)
            inner = getattr(sub, "subcon", None)
            if isinstance(inner, Struct):
                for k, (o, s) in layout_fields(inner, name + ".").items():
                    out[k] = (offset + o, s)
        offset += size
    return out


# ---- decoded forms ------------------------------------------------------------


class ViolationKind(enum.StrEnum):
    SHORT_PAGE = "short-page"
    BAD_MAGIC = "bad-magic"
    BAD_VERSION = "bad-version"
    BAD_MODE = "bad-mode"
    BAD_ORDER = "bad-order"
    BAD_GREFS = "bad-nr-grefs"
    INDEX_DISTANCE = "index-distance"
    BAD_MSG_HEADER = "bad-msg-header"
    MSG_BEYOND_RING = "msg-beyond-ring"
    MSG_BEYOND_FILL = "msg-beyond-fill"
    BAD_LIVE = "bad-live"
    BAD_NOTIFY = "bad-notify"
    RESERVED = "reserved-nonzero"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind.value} [{self.where}]: {self.message}"


@dataclass(frozen=True)
class Direction:
    """One byte ring as both peers see it (all indexes free-running u32)."""

    name: str  # "s2c", "c2s", "left", "right", "in", "out", "req", ...
    prod: int
    cons: int
    size: int | None  # bytes (or entries for sring); None if the order is bad
    prod_event: int | None = None  # consumer's wakeup request
    cons_event: int | None = None  # producer's wakeup request
    prod_notifies: int | None = None
    cons_notifies: int | None = None
    prod_waits: int | None = None
    cons_waits: int | None = None
    msgs: int | None = None  # complete records queued (message mode walk)

    @property
    def fill(self) -> int:
        return (self.prod - self.cons) % U32

    @property
    def valid(self) -> bool:
        return self.size is not None and self.fill <= self.size


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


@dataclass(frozen=True)
class VchanIface:
    left_cons: int
    left_prod: int
    right_cons: int
    right_prod: int
    left_order: int
    right_order: int
    cli_live: int
    srv_live: int
    cli_notify: int
    srv_notify: int
    grants: tuple[int, ...] = ()


@dataclass(frozen=True)
class SringHdr:
    req_prod: int
    req_event: int
    rsp_prod: int
    rsp_event: int


@dataclass(frozen=True)
class FlexIntf:
    in_cons: int
    in_prod: int
    out_cons: int
    out_prod: int
    ring_order: int
    refs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Decoded:
    """What a ring page says: the struct, its directions and what is wrong."""

    kind: str  # "ivcom", "vchan", "sring", "flex"
    header: Any  # IvcomCtrl | VchanIface | SringHdr | FlexIntf | None
    directions: tuple[Direction, ...]
    live: dict[str, str] = field(default_factory=dict)
    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations


def _distance(v: list[Violation], d: Direction) -> None:
    if d.size is not None and d.fill > d.size:
        v.append(
            Violation(
                ViolationKind.INDEX_DISTANCE,
                d.name,
                f"prod {d.prod:#x} - cons {d.cons:#x} = {d.fill:#x} > size {d.size:#x}",
            )
        )


# ---- IVCOM --------------------------------------------------------------------


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
    if c.reserved0 or c.flags:
        v.append(
            Violation(
                ViolationKind.RESERVED,
                "ctrl",
                f"reserved0 {c.reserved0:#x}, flags {c.flags:#x} (both 0 in v1)",
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
        _distance(v, d)
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


# ---- libxenvchan ----------------------------------------------------------------


def vchan_pages(order: int) -> int:
    """Data pages a vchan ring of this order needs (0 for in-page rings)."""
    return 1 << (order - PAGE_SHIFT) if order >= PAGE_SHIFT else 0


def build_vchan(
    *,
    left_order: int = 10,
    right_order: int = 11,
    left: tuple[int, int] = (0, 0),  # (cons, prod)
    right: tuple[int, int] = (0, 0),
    cli_live: int = VCHAN_LIVE_CONNECTED,
    srv_live: int = VCHAN_LIVE_CONNECTED,
    cli_notify: int = 0,
    srv_notify: int = 0,
    grants: tuple[int, ...] | None = None,
) -> bytes:
    if grants is None:
        n = 0
        if VCHAN_ORDER_MIN <= left_order <= VCHAN_ORDER_MAX:
            n += vchan_pages(left_order)
        if VCHAN_ORDER_MIN <= right_order <= VCHAN_ORDER_MAX:
            n += vchan_pages(right_order)
        grants = tuple(range(16, 16 + n))
    head: bytes = VCHAN_INTERFACE.build(
        {
            "left": {"cons": left[0], "prod": left[1]},
            "right": {"cons": right[0], "prod": right[1]},
            "left_order": left_order,
            "right_order": right_order,
            "cli_live": cli_live,
            "srv_live": srv_live,
            "cli_notify": cli_notify,
            "srv_notify": srv_notify,
        }
    )
    page = head + _struct.pack(f"<{len(grants)}I", *grants)
    return page[:PAGE_SIZE] + bytes(max(0, PAGE_SIZE - len(page)))


def decode_vchan(page: bytes) -> Decoded:
    """Decode libxenvchan's shared page (struct vchan_interface + grants)."""
    v: list[Violation] = []
    if len(page) < VCHAN_GRANTS_OFFSET:
        v.append(
            Violation(
                ViolationKind.SHORT_PAGE,
                "page",
                f"shared page has {len(page)} bytes, need at least {VCHAN_GRANTS_OFFSET}",
            )
        )
        return Decoded("vchan", None, (), {}, tuple(v))
    s = VCHAN_INTERFACE.parse(page)
    sizes: dict[str, int | None] = {}
    for name in ("left", "right"):
        order = s[f"{name}_order"]
        if VCHAN_ORDER_MIN <= order <= VCHAN_ORDER_MAX:
            sizes[name] = 1 << order
        else:
            sizes[name] = None
            v.append(
                Violation(
                    ViolationKind.BAD_ORDER,
                    name,
                    f"order {order} outside {VCHAN_ORDER_MIN}..{VCHAN_ORDER_MAX}",
                )
            )
    if s.left_order == s.right_order and s.left_order in VCHAN_INPAGE_OFFSET:
        v.append(
            Violation(
                ViolationKind.BAD_ORDER,
                "page",
                f"both rings have order {s.left_order}: they would share offset "
                f"{VCHAN_INPAGE_OFFSET[s.left_order]}",
            )
        )
    ngrants = 0
    if sizes["left"] is not None and sizes["right"] is not None:
        ngrants = vchan_pages(s.left_order) + vchan_pages(s.right_order)
        limit = min(
            [PAGE_SIZE]
            + [VCHAN_INPAGE_OFFSET[o] for o in (s.left_order, s.right_order) if o < PAGE_SHIFT]
        )
        if VCHAN_GRANTS_OFFSET + 4 * ngrants > limit:
            v.append(
                Violation(
                    ViolationKind.BAD_GREFS,
                    "page",
                    f"{ngrants} grants for orders {s.left_order}/{s.right_order} run past "
                    f"byte {limit}",
                )
            )
    for who, ok in (("cli_live", (0, 1, 2)), ("srv_live", (0, 1))):
        if s[who] not in ok:
            v.append(Violation(ViolationKind.BAD_LIVE, who, f"live byte {s[who]} not in {ok}"))
    for who in ("cli_notify", "srv_notify"):
        if s[who] & ~(VCHAN_NOTIFY_WRITE | VCHAN_NOTIFY_READ):
            v.append(
                Violation(ViolationKind.BAD_NOTIFY, who, f"notify bits {s[who]:#x} beyond 0x3")
            )
    ng = max(0, min(ngrants, (len(page) - VCHAN_GRANTS_OFFSET) // 4))
    grants = tuple(_struct.unpack_from(f"<{ng}I", page, VCHAN_GRANTS_OFFSET))
    hdr = VchanIface(
        left_cons=s.left.cons,
        left_prod=s.left.prod,
        right_cons=s.right.cons,
        right_prod=s.right.prod,
        left_order=s.left_order,
        right_order=s.right_order,
        cli_live=s.cli_live,
        srv_live=s.srv_live,
        cli_notify=s.cli_notify,
        srv_notify=s.srv_notify,
        grants=grants,
    )
    dirs = []
    for name in ("left", "right"):
        d = Direction(name=name, prod=s[name].prod, cons=s[name].cons, size=sizes[name])
        _distance(v, d)
        dirs.append(d)
    names = {0: "exited", 1: "connected", 2: "waiting"}
    live = {
        "server": names.get(s.srv_live, f"?{s.srv_live}"),
        "client": names.get(s.cli_live, f"?{s.cli_live}"),
        "server-notify": _notify_bits(s.srv_notify),
        "client-notify": _notify_bits(s.cli_notify),
    }
    return Decoded("vchan", hdr, tuple(dirs), live, tuple(v))


def _notify_bits(b: int) -> str:
    parts = [n for bit, n in ((VCHAN_NOTIFY_WRITE, "W"), (VCHAN_NOTIFY_READ, "R")) if b & bit]
    return "".join(parts) or "-"


# ---- Xen io/ring.h ------------------------------------------------------------------


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
    _distance(v, d)
    return Decoded("sring", hdr, (d,), {}, tuple(v))


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
        _distance(v, d)
    return Decoded("flex", hdr, dirs, {}, tuple(v))


DECODERS = {"ivcom": decode_ivcom, "vchan": decode_vchan}


def iter_violations(d: Decoded) -> Iterator[str]:
    for x in d.violations:
        yield str(x)
