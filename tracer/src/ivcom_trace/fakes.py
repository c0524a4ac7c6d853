"""Synthetic snapshots: for tests, and for `--source fake` demonstrations."""

from __future__ import annotations

import builtins
import errno
import time
from collections.abc import Iterator
from typing import Any

from ivcom import layouts as L

from ivcom_trace.sources import FakeSource, RingSnapshot


def ivcom_frames(n: int = 4, *, close_last: bool = False, t0: float = 1_700_000_000.0,
                 dt: float = 0.5) -> list[RingSnapshot]:
    """A message channel (two 4 KiB rings) whose server queues 3 more
    24-byte records (32-byte spans) per frame that the client never takes;
    the server is armed for requests on c2s."""
    out = []
    for i in range(n):
        ring, prod = L.build_messages(4096, 0, [b"m" * 24] * (3 * i))
        ctrl = L.build_ivcom(
            s2c_order=12, c2s_order=12,
            s2c={"prod": prod, "cons": 0, "prod_notify": 2 * i},
            c2s={"prod": 0, "cons": 0, "prod_event": 1, "cons_wait": i},
            client_live=L.IVCOM_LIVE_CLOSED if close_last and i == n - 1 else L.IVCOM_LIVE_UP,
        )
        out.append(RingSnapshot("ivcom", ctrl, (ring, bytes(4096)), t0 + i * dt))
    return out


def broken_frame(t: float = 1_700_000_010.0) -> RingSnapshot:
    """s2c prod - cons is 9000 on a 4096-byte ring: an index violation."""
    ctrl = L.build_ivcom(s2c_order=12, c2s_order=12, s2c={"prod": 9000, "cons": 0})
    return RingSnapshot("ivcom", ctrl, (bytes(4096), bytes(4096)), t)


def demo_source(n: int = 30) -> FakeSource:
    """Frames stamped with the wall clock as they are taken."""

    def gen() -> Iterator[RingSnapshot]:
        for f in ivcom_frames(n, close_last=True):
            yield RingSnapshot(f.kind, f.ctrl, f.rings, time.time())

    return FakeSource(gen(), "synthetic demo channel (--source fake)",
                      "end of the synthetic frames")


class FakeStore:
    """pyxs.Client's list/read/get_perms over a dict; errors carry errno
    like pyxs.  `perms` gives a node's permissions (default: dom0 owns it)."""

    def __init__(self, nodes: dict[str, str], perms: dict[str, list[str]] | None = None) -> None:
        self.nodes = nodes
        self.perms = perms or {}

    def list(self, path: bytes) -> list[bytes]:
        p = path.decode().rstrip("/") + "/"
        kids = {k[len(p):].split("/")[0] for k in self.nodes if k.startswith(p)}
        if not kids:
            raise OSError(errno.ENOENT, "no such node")
        return sorted(k.encode() for k in kids)

    def read(self, path: bytes, default: bytes | None = None) -> bytes:
        try:
            return self.nodes[path.decode()].encode()
        except KeyError:
            raise OSError(errno.ENOENT, "no such node") from None

    def get_perms(self, path: bytes) -> builtins.list[bytes]:
        p = path.decode()
        if p not in self.nodes and not any(k.startswith(p.rstrip("/") + "/") for k in self.nodes):
            raise OSError(errno.ENOENT, "no such node")
        return [x.encode() for x in self.perms.get(p, ["n0"])]


DEMO_STORE = {
    "/local/domain/0/name": "Domain-0",
    "/local/domain/0/data/ivcom/echo/version": "1",
    "/local/domain/0/data/ivcom/echo/state": "connected",
    "/local/domain/0/data/ivcom/echo/client-domid": "3",
    "/local/domain/0/data/ivcom/echo/mode": "message",
    "/local/domain/0/data/ivcom/echo/s2c-order": "16",
    "/local/domain/0/data/ivcom/echo/c2s-order": "12",
    "/local/domain/0/data/ivcom/echo/ctrl-ref": "8",
    "/local/domain/0/data/ivcom/echo/event-channel": "5",
    "/local/domain/0/data/ivcom/echo/client/state": "connected",
    "/local/domain/2/data/ivcom/echo/state": "offered",
    "/local/domain/2/data/ivcom/echo/ctrl-ref": "9",
    "/local/domain/2/data/ivcom/bulk/state": "offered",
    "/local/domain/2/data/vchan/0/5000/ring-ref": "12",
    "/local/domain/2/data/vchan/0/5000/event-channel": "7",
}


class BpfValue:
    """A stand-in for one value of a bcc table (what `.value` reads)."""

    def __init__(self, v: int) -> None:
        self.value = v


class BpfTable:
    """A stand-in for a bcc hash table: `items()` over fixed counts."""

    def __init__(self, rows: list[tuple[Any, int]]) -> None:
        self.rows = rows

    def items(self) -> list[tuple[Any, BpfValue]]:
        return [(k, BpfValue(v)) for k, v in self.rows]
