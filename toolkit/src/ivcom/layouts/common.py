"""What every ring layout shares: page constants, the decoded forms
(`Direction`, `Decoded`) and the `Violation`s a decoder reports."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from construct import Construct, Struct

U32 = 1 << 32
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
CACHELINE = 64


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


def check_distance(v: list[Violation], d: Direction) -> None:
    """Report a direction whose producer is more than a ring ahead."""
    if d.size is not None and d.fill > d.size:
        v.append(
            Violation(
                ViolationKind.INDEX_DISTANCE,
                d.name,
                f"prod {d.prod:#x} - cons {d.cons:#x} = {d.fill:#x} > size {d.size:#x}",
            )
        )


def iter_violations(d: Decoded) -> Iterator[str]:
    for x in d.violations:
        yield str(x)
