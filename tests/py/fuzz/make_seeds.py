"""Write the seed corpora of the libFuzzer targets (tests/fuzz/corpus/).

    python tests/py/fuzz/make_seeds.py [CORPUS_DIR]

Each seed is a small, meaningful program for its target (the input
formats are described at the top of tests/fuzz/c/<target>.c).  The
seeds are committed; this script documents how they were made and can
rebuild them.  Deterministic: same output on every run.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "toolkit" / "src"))

from ivcom import layouts as L  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def u8(v: int) -> bytes:
    return struct.pack("<B", v & 0xFF)


def u16(v: int) -> bytes:
    return struct.pack("<H", v & 0xFFFF)


def u32(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


# ---- ring_consumer ------------------------------------------------------------
(C_MSG_PEEK, C_MSG_RELEASE, C_STREAM_PEEK, C_STREAM_RELEASE, C_PUBLISH, C_ARM, C_AVAIL,
 C_HOSTILE_PROD, C_HOSTILE_PROD_ADD, C_HOSTILE_EVENT, C_HOSTILE_HDR, C_HOSTILE_DATA,
 C_HONEST_MSG, C_HONEST_STREAM) = range(14)


def consumer_seeds() -> dict[str, bytes]:
    def prog(cfg: int, start: int, *ops: bytes) -> bytes:
        return u8(cfg) + u32(start) + b"".join(ops)

    send = lambda n: u8(C_HONEST_MSG) + u16(n)  # noqa: E731
    recv = u8(C_MSG_PEEK) + u8(C_MSG_RELEASE) + u8(C_PUBLISH)
    sput = lambda n: u8(C_HONEST_STREAM) + u16(n - 1)  # noqa: E731
    sget = lambda n: u8(C_STREAM_PEEK) + u8(C_STREAM_RELEASE) + u16(n) + u8(C_PUBLISH)  # noqa: E731
    return {
        "msg-basic": prog(0, 0, send(5), recv, send(0), recv, u8(C_ARM), recv),
        "msg-wrap": prog(0, 0xFFFFFFF0, *(send(1000) + recv for _ in range(6))),
        "msg-pad": prog(0, 0, send(4000), recv, send(200), recv, recv),
        "msg-bad-prod": prog(1, 64, send(8), u8(C_HOSTILE_PROD) + u32(0x12345), recv, send(8),
                             recv),
        "msg-bad-hdr": prog(0, 0, send(16), u8(C_HOSTILE_HDR) + u8(1) + u32(0x7FFFFFF0)
                            + u16(1) + u16(0), recv, u8(C_AVAIL)),
        "msg-prod-back": prog(2, 0, send(32), u8(C_AVAIL), u8(C_HOSTILE_PROD_ADD) + u16(-16),
                              recv),
        "stream-basic": prog(4, 0, sput(100), sget(60), sget(60), u8(C_ARM), sget(1)),
        "stream-wrap": prog(4, 0xFFFFFF00, *(sput(3000) + sget(3000) for _ in range(4))),
        "stream-hostile": prog(5, 7, sput(10), u8(C_HOSTILE_PROD_ADD) + u16(9000), sget(5),
                               u8(C_HOSTILE_EVENT) + u8(0) + u32(3), sget(5)),
    }


# ---- ring_producer ------------------------------------------------------------
(P_MSG_RESERVE, P_MSG_COMMIT, P_STREAM_RESERVE, P_STREAM_COMMIT, P_PUBLISH, P_ARM, P_FREE,
 P_HOSTILE_CONS, P_HOSTILE_CONS_ADD, P_HOSTILE_EVENT, P_HOSTILE_DATA,
 P_HONEST_CONSUME) = range(12)


def producer_seeds() -> dict[str, bytes]:
    def prog(cfg: int, start: int, *ops: bytes) -> bytes:
        return u8(cfg) + u32(start) + b"".join(ops)

    send = lambda n: u8(P_MSG_RESERVE) + u16(n) + u8(0) + u8(P_MSG_COMMIT) + u8(P_PUBLISH)  # noqa: E731
    eat = u8(P_HONEST_CONSUME) + u16(0)
    swrite = lambda n: u8(P_STREAM_RESERVE) + u8(P_STREAM_COMMIT) + u16(n) + u8(P_PUBLISH)  # noqa: E731
    return {
        "msg-basic": prog(0, 0, send(10), eat, send(100), eat, u8(P_FREE)),
        "msg-full": prog(0, 0, *(send(1000) for _ in range(5)), u8(P_ARM) + u16(1000), eat,
                         send(1000)),
        "msg-wrap": prog(0, 0xFFFFFF00, *(send(700) + eat for _ in range(8))),
        "msg-too-big": prog(0, 0, u8(P_MSG_RESERVE) + u16(0) + u8(0xFF) + u32(0xFFFFFFFF),
                            send(4088), eat),
        "msg-bad-cons": prog(1, 0, send(64), u8(P_HOSTILE_CONS) + u32(0x80000000), send(8)),
        "msg-cons-back": prog(0, 0, send(64), eat, u8(P_FREE),
                              u8(P_HOSTILE_CONS_ADD) + u16(-8), send(8)),
        "stream-basic": prog(4, 0, swrite(100), eat, swrite(5000), eat, swrite(5000)),
        "stream-wrap": prog(4, 0xFFFFFFF0, *(swrite(4000) + eat for _ in range(3))),
        "stream-event": prog(6, 3, swrite(10), u8(P_HOSTILE_EVENT) + u8(0) + u32(13),
                             u8(P_PUBLISH), u8(P_HOSTILE_CONS_ADD) + u16(3), swrite(1)),
    }


# ---- msg_header ----------------------------------------------------------------


def header_seeds() -> dict[str, bytes]:
    out: dict[str, bytes] = {}

    def seed(name: str, order: int, cons: int, seen: int, prod: int, ring: bytes) -> None:
        out[name] = u8(order - 12) + u32(cons) + u32(seen) + u32(prod) + ring

    size = 4096
    ring, prod = L.build_messages(size, 0, [b"a" * 5, b"", b"hello world"])
    seed("three", 12, 0, 0, prod, ring)
    ring, prod = L.build_messages(size, 4000, [b"x" * 200, b"y" * 10])
    seed("pad-wrap", 12, 4000, 0, prod, ring)
    start = 0xFFFFFFF8 & ~7
    ring, prod = L.build_messages(size, start, [b"w" * 300] * 5)
    seed("index-wrap", 12, start, 0, prod, ring)
    seed("empty", 12, 64, 0, 64, b"")
    seed("too-far", 12, 0, 0, size + 8, ring)
    seed("behind-seen", 12, 0, 16, 8, ring)
    bad = bytearray(ring)
    bad[4:6] = (7).to_bytes(2, "little")
    seed("bad-type", 12, 0, 0, prod, bytes(bad))
    ring, prod = L.build_messages(8192, 0, [bytes(range(256)) * 30])
    seed("big-13", 13, 0, 0, prod, ring)
    return out


# ---- channel_attach --------------------------------------------------------------
(A_SEND, A_RECV, A_RESERVE, A_COMMIT, A_PEEK, A_RELEASE, A_WRITE, A_READ, A_SRESERVE,
 A_SCOMMIT, A_SPEEK, A_SRELEASE, A_WAIT_R, A_WAIT_W, A_ACK, A_HOSTILE, A_SERVER_SENDS,
 A_SERVER_RECEIVES) = range(18)
KEYS = ("state", "version", "mode", "s2c-order", "c2s-order", "ctrl-ref", "event-channel",
        "client-domid")


def attach_seeds() -> dict[str, bytes]:
    def offer(values: dict[str, bytes], page_mode: int = 0, patches: bytes = b"",
              npatch: int = 0, spin: int = 0, try_connect: int = 1) -> bytes:
        mask = 0
        strings = b""
        for i, k in enumerate(KEYS):
            if k in values:
                strings += values[k] + b"\0"
            else:
                mask |= 1 << i
        return (u8(mask) + strings + u8(page_mode) + u8(npatch) + patches + u8(spin)
                + u8(try_connect))

    def op(code: int, try_: int = 1, *args: bytes) -> bytes:
        return u8(code) + u8(try_) + b"".join(args)

    honest = offer({})
    talk = (op(A_SERVER_SENDS, 1, u16(100)) + op(A_RECV, 1, u16(4096))
            + op(A_SEND, 1, u16(300)) + op(A_SERVER_RECEIVES) + op(A_SEND, 0, u16(5))
            + op(A_PEEK) + op(A_SERVER_SENDS, 1, u16(7)) + op(A_PEEK) + op(A_RELEASE)
            + op(A_RESERVE, 1, u16(64)) + op(A_COMMIT) + op(A_RECV, 0, u16(10))
            + u8(2) + u8(0) + op(A_WAIT_R, 0) + u8(3) + op(A_WAIT_W, 0, u16(100)))
    stream = offer({"mode": b"stream", "s2c-order": b"13"})
    stalk = (op(A_SERVER_SENDS, 1, u16(5000)) + op(A_READ, 1, u16(3000))
             + op(A_SPEEK) + op(A_SRELEASE, 1, u16(100)) + op(A_WRITE, 1, u16(2000))
             + op(A_SRESERVE) + op(A_SCOMMIT, 1, u16(10)) + op(A_SERVER_RECEIVES)
             + op(A_READ, 0, u16(10)) + u8(0) + u8(1) + u8(2) + u8(5) + u8(0x77))
    hostile = (op(A_HOSTILE, 1, u8(2), u16(0x1000)) + op(A_RECV, 1, u16(100))
               + op(A_SEND, 1, u16(1)))
    page_patch = u16(0) + u8(1) + b"\x48"  # magic low byte
    return {
        "honest-msg": honest + talk,
        "honest-stream": stream + stalk,
        "hostile-prod": honest + op(A_SERVER_SENDS, 1, u16(8)) + hostile,
        "hostile-live": honest + op(A_HOSTILE, 1, u8(5), u8(0x77)) + op(A_SEND, 1, u16(1)),
        "bad-magic": offer({}, npatch=1, patches=page_patch),
        "bad-grefs": offer({}, npatch=1, patches=u16(0x0C) + u8(4) + u32(100000)),
        "orders": offer({"s2c-order": b"20", "c2s-order": b"14"}) + talk,
        "xs-garbage": offer({"ctrl-ref": b"12x"}),
        "xs-missing": offer({"event-channel": b"\x01"}),
        "xs-version": offer({"version": b"2"}),
        "xs-other-client": offer({"client-domid": b"6"}),
        "xs-not-offered": offer({"state": b"closed"}, try_connect=0),
        "data-map-fails": offer({}, page_mode=2),
        "raw-page": offer({}, page_mode=1) + bytes(4096),
    }


TARGETS = {
    "ring_consumer": consumer_seeds,
    "ring_producer": producer_seeds,
    "msg_header": header_seeds,
    "channel_attach": attach_seeds,
}


def write_all(corpus: Path = CORPUS) -> int:
    n = 0
    for target, make in TARGETS.items():
        d = corpus / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in make().items():
            (d / f"seed-{name}").write_bytes(data)
            n += 1
    return n


if __name__ == "__main__":
    print(f"{write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)} seeds written")
