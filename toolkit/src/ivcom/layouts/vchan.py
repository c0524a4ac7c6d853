"""libxenvchan's shared page (xen/io/libxenvchan.h): `VCHAN_INTERFACE`,
its two `RING_SHARED` index pairs and the grant list behind them."""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass

from construct import Int8ul, Int16ul, Int32ul, Struct

from ivcom.layouts.common import (
    PAGE_SHIFT,
    PAGE_SIZE,
    Decoded,
    Direction,
    Violation,
    ViolationKind,
    check_distance,
)

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
        check_distance(v, d)
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
