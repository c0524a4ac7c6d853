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
        "nonce-upper": offer({}, page_mode=0x10) + b"0123456789ABCDEF\0" + b"\0\0\1",
        "nonce-short": offer({}, page_mode=0x10) + b"0123456789abcde\0" + b"\0\0\1",
        "nonce-long": offer({}, page_mode=0x10) + b"0123456789abcdef0\0" + b"\0\0\1",
        "nonce-missing": offer({}, page_mode=0x10) + b"\1\0" + b"\0\0\1",
        "nonce-stale": offer({}, page_mode=0x10) + b"0123456789abcdee\0" + b"\0\0\1",
    }


# ---- chan_faults -------------------------------------------------------------------
(F_ACT, F_ON_WAIT, F_LISTEN, F_ACCEPT, F_CONNECT, F_CLOSE, F_SEND, F_RECV, F_WAIT, F_INFO,
 F_ZERO_COPY, F_ON_SPIN) = range(12)
(K_SHARE, K_UNSHARE, K_MAP, K_UNMAP, K_UNMAP_NOTIFY, K_EV_OPEN, K_ALLOC_UNBOUND, K_BIND,
 K_UNBIND, K_NOTIFY, K_EV_WAIT, K_ACK, K_FD, K_XS_READ, K_XS_WRITE, K_XS_RM, K_XS_PERMS,
 K_TX_START, K_TX_END, K_WATCH, K_UNWATCH, K_WAIT_WATCH, K_CALLOC) = range(23)
FAULT_ERRS = ("EAGAIN", "ENOSPC", "E2BIG", "EACCES", "ENOENT", "EPERM", "EIO", "EINVAL",
              "ENOMEM", "EOPNOTSUPP", "ETIMEDOUT", "EINTR", "EBUSY")
A_FAULT, A_STORE, A_LIVE, A_NONCE, A_WAITS, A_INDEX, A_PAGE, A_PEER = range(8)
LEAVES = ("state", "version", "mode", "s2c-order", "c2s-order", "ctrl-ref", "event-channel",
          "nonce", "client-domid", "client/state", "client/event-channel", "presence", "offer")
VALUES = ("offered", "connected", "closed", "", "1", "2", "message", "stream", "bogus", "12",
          "11", "21", "13", "1001", "4294967296", "-1", "12x", "5", "6", "0123456789abcdef",
          "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg",
          "+12", " 12", "99999999999999999999")
SERVER, CLIENT = 0, 0x80


def faults_seeds() -> dict[str, bytes]:
    def op(code: int, side: int = SERVER, *args: bytes) -> bytes:
        return u8(code | side) + b"".join(args)

    def fault(kind: int, err: str, skip: int = 0, count: int = 1) -> bytes:
        return op(F_ACT, SERVER, u8(A_FAULT), u8(kind), u8(skip | (count - 1) << 4),
                  u8(FAULT_ERRS.index(err)))

    def store(leaf: str, value: str | None) -> bytes:
        v = 0xFF if value is None else VALUES.index(value)
        return op(F_ACT, SERVER, u8(A_STORE), u8(LEAVES.index(leaf)), u8(v))

    def listen(stream: bool = False, spin: bool = True, poll: bool = False, b: int = 0) -> bytes:
        a = (1 if stream else 0) | (0 if spin else 0x20) | (0xC0 if poll else 0)
        return op(F_LISTEN, SERVER, u8(a), u8(b))

    def connect(t: int = 0, spin: bool = True, server: int = 0) -> bytes:
        return op(F_CONNECT, CLIENT, u8(server | t << 3 | (0 if spin else 0x20)))

    accept = op(F_ACCEPT, SERVER, u8(0))
    close_s = op(F_CLOSE, SERVER)
    close_c = op(F_CLOSE, CLIENT)

    def send(side: int, n: int, a: int = 0) -> bytes:
        return op(F_SEND, side, u8(a), u16(n))

    def recv(side: int, n: int = 30000, a: int = 0) -> bytes:
        return op(F_RECV, side, u8(a), u16(n))

    def wait(side: int, kind: int, t: int, need: int = 1) -> bytes:
        return op(F_WAIT, side, u8(kind | t << 2)) + (u16(need) if kind == 1 else b"")

    up = listen() + connect() + accept
    talk = (send(SERVER, 100) + recv(CLIENT) + send(CLIENT, 3000) + recv(SERVER)
            + send(SERVER, 5000, 4) + send(SERVER, 5000, 4) + recv(CLIENT, 40)
            + recv(CLIENT) + recv(CLIENT, 30000, 6) + op(F_INFO, SERVER) + op(F_INFO, CLIENT))
    out: dict[str, bytes] = {
        "honest-msg": u8(0) + up + talk + close_c + recv(SERVER) + close_s,
        "honest-stream": u8(0) + listen(stream=True) + connect() + accept + talk
        + send(CLIENT, 20000, 4) + recv(SERVER, 9000, 4) + close_s + recv(CLIENT) + close_c,
        "yield-poll": u8(8) + listen(poll=True) + connect() + accept
        + op(F_ON_SPIN, SERVER, u8(40), u8(A_PEER), u8(0x21)) + recv(CLIENT, 30000, 6)
        + wait(CLIENT, 0, 2) + close_s + close_c,
    }
    # Every step of listen, connect and accept fails once, in turn.
    listen_kinds = [(K_SHARE, "ENOMEM", 1), (K_EV_OPEN, "EIO", 1),
                    (K_ALLOC_UNBOUND, "ENOSPC", 1), (K_UNMAP_NOTIFY, "EPERM", 1),
                    (K_UNMAP_NOTIFY, "EOPNOTSUPP", 1), (K_XS_RM, "EACCES", 1),
                    (K_TX_START, "EAGAIN", 1), (K_TX_END, "EAGAIN", 1),
                    (K_TX_END, "EIO", 1), (K_XS_WRITE, "ENOSPC", 13),
                    (K_XS_PERMS, "EACCES", 13), (K_CALLOC, "ENOMEM", 2)]
    # (a transaction that says -EAGAIN 16 times in a row: the retries end)
    prog = fault(K_TX_END, "EAGAIN", 0, 16) + listen() + close_s
    for kind, err, n in listen_kinds:
        for skip in range(n):
            prog += fault(kind, err, skip) + listen() + close_s
    out["listen-each-step-fails"] = u8(0) + prog
    prog = listen()
    connect_kinds = [(K_XS_READ, "EACCES", 9), (K_XS_READ, "ENOENT", 9),
                     (K_XS_READ, "E2BIG", 9), (K_MAP, "EPERM", 2), (K_EV_OPEN, "EIO", 1),
                     (K_BIND, "EINVAL", 1), (K_UNMAP_NOTIFY, "EPERM", 1),
                     (K_UNMAP_NOTIFY, "EOPNOTSUPP", 1), (K_TX_START, "EIO", 1),
                     (K_TX_END, "EAGAIN", 1), (K_TX_END, "ENOSPC", 1),
                     (K_XS_WRITE, "ENOSPC", 3), (K_XS_PERMS, "EACCES", 1),
                     (K_WATCH, "ENOSPC", 1), (K_CALLOC, "ENOMEM", 1)]
    prog += fault(K_TX_END, "EAGAIN", 0, 16) + connect() + close_c
    for kind, err, n in connect_kinds:
        for skip in range(n):
            prog += fault(kind, err, skip) + connect() + close_c
    out["connect-each-step-fails"] = u8(0) + prog + close_s
    out["accept-write-fails"] = (u8(0) + listen() + op(F_ACCEPT, SERVER, u8(1)) + connect()
                                 + fault(K_XS_WRITE, "EACCES") + accept + accept + accept
                                 + send(CLIENT, 10) + recv(SERVER) + close_c + close_s)
    # A hostile or broken offer, one value at a time (each on a fresh offer).
    bad = [("version", "2"), ("version", "99999999999999999999"), ("mode", "bogus"),
           ("mode", "stream"), ("s2c-order", "11"), ("s2c-order", "21"), ("c2s-order", "+12"),
           ("ctrl-ref", "12x"), ("ctrl-ref", "1001"), ("ctrl-ref", "12"),
           ("event-channel", "4294967296"), ("event-channel", " 12"),
           ("nonce", "0123456789ABCDEF"), ("nonce", "0123456789abcde"),
           ("nonce", "0123456789abcdef0"), ("nonce", "0123456789abcdeg"),
           ("nonce", "0123456789abcdef"), ("client-domid", "6"), ("client-domid", "-1"),
           ("state", "closed"), ("state", None), ("version", None), ("nonce", None),
           ("offer", None)]
    prog = b""
    for leaf, value in bad:
        prog += listen() + store(leaf, value) + connect(t=1) + close_c + close_s
    out["offer-values"] = u8(1) + prog
    out["offer-stale-nonce"] = (u8(0) + listen() + op(F_ACT, SERVER, u8(A_NONCE), u8(0))
                                + connect() + close_s)
    # Departures seen by the presence probe while blocked, either end.
    out["probe-client-gone"] = (u8(0) + up + store("presence", None) + wait(SERVER, 0, 2)
                                + recv(SERVER, 10, 4) + close_s + close_c)
    out["probe-client-closed"] = (u8(0) + up + store("presence", "closed")
                                  + wait(SERVER, 1, 2, 4000) + close_s + close_c)
    out["probe-server-gone"] = (u8(0) + up + store("state", "closed") + wait(CLIENT, 0, 3)
                                + op(F_ON_WAIT, SERVER, u8(A_STORE), u8(0), u8(0xFF), u8(0))
                                + close_c + close_s)
    out["probe-accept"] = (u8(0) + listen() + op(F_ON_WAIT, SERVER, u8(A_STORE), u8(9), u8(1),
                                                 u8(0))
                           + op(F_ACCEPT, SERVER, u8(2)) + close_s)
    # Waits that are interrupted, spurious, failing; a dead peer's data.
    out["wait-modes"] = (u8(2) + up + wait(CLIENT, 0, 2)
                         + op(F_ACT, SERVER, u8(A_WAITS), u8(2), u8(1)) + wait(CLIENT, 0, 1)
                         + op(F_ACT, SERVER, u8(A_WAITS), u8(3), u8(0)) + recv(CLIENT, 10, 5)
                         + send(SERVER, 50) + op(F_ACT, SERVER, u8(A_LIVE), u8(0), u8(3))
                         + recv(CLIENT) + recv(CLIENT) + wait(SERVER, 2, 2) + close_s + close_c)
    out["full-ring"] = (u8(0) + up + b"".join(send(SERVER, 4000) for _ in range(20))
                        + send(SERVER, 4000, 5) + op(F_ON_WAIT, SERVER, u8(A_PEER), u8(0x01))
                        + send(SERVER, 4000, 6) + wait(SERVER, 1, 1, 60000)
                        + wait(SERVER, 2, 1) + close_c + wait(SERVER, 2, 1) + close_s)
    out["hostile-cons"] = (u8(0) + up + op(F_ACT, SERVER, u8(A_INDEX), u8(1), u16(0x4000))
                           + wait(SERVER, 1, 1) + close_s + close_c)
    out["long-spin"] = (u8(16) + up + wait(CLIENT, 0, 1) + send(CLIENT, 10) + recv(SERVER)
                        + close_s + close_c)
    out["poll-probe"] = (u8(0) + listen(poll=True) + connect() + accept + store("presence", None)
                         + wait(SERVER, 0, 3) + close_s + close_c)
    out["hostile-index"] = (u8(0) + up + send(SERVER, 40)
                            + op(F_ACT, SERVER, u8(A_INDEX), u8(0), u16(0x4000)) + recv(CLIENT)
                            + send(CLIENT, 8) + op(F_ACT, SERVER, u8(A_INDEX), u8(3), u16(-64))
                            + send(CLIENT, 8) + close_s + close_c)
    out["zero-copy"] = (u8(0) + up + b"".join(op(F_ZERO_COPY, side, u8(k), u16(n))
                                              for side, k, n in [
                                                  (SERVER, 0, 100), (SERVER, 2, 0),
                                                  (CLIENT, 3, 0), (CLIENT, 5, 0), (CLIENT, 5, 0),
                                                  (SERVER, 1, 9000), (SERVER, 2, 0),
                                                  (CLIENT, 4, 0), (CLIENT, 6, 0), (CLIENT, 7, 3),
                                                  (CLIENT, 10, 10), (CLIENT, 11, 10),
                                                  (SERVER, 12, 5000)])
                        + close_s + close_c)
    return out


# ---- xs_client ---------------------------------------------------------------------
(X_READ, X_WRITE, X_MKDIR, X_RM, X_DIRECTORY, X_GET_PERMS, X_SET_PERMS, X_TX_START, X_TX_END,
 X_WATCH, X_UNWATCH, X_NEXT_EVENT, X_WAIT_EVENT, X_INTRODUCE, X_RELEASE, X_PERMS_DECODE,
 X_PERMS_ENCODE) = range(17)
(S_SERVE, S_FORGE, S_EVENT, S_RAW, S_INDEX, S_TIMEOUT, S_EINTR, S_FAIL, S_TRICKLE,
 S_LIE) = range(10)


def xs_seeds() -> dict[str, bytes]:
    def serve(sel: int = 0, *extra: bytes) -> bytes:
        return u8(S_SERVE) + u8(sel) + b"".join(extra)

    def read(path: bytes, value: bytes, buf: int = 100, how: bytes = b"") -> bytes:
        return (u8(X_READ) + u8(0) + path + b"\0" + u16(buf) + how
                + (serve(0, u16(len(value)), value) if not how else b""))

    session = (read(b"/a", b"hello") + u8(X_WRITE) + b"/a\0" + u16(3) + b"xyz" + serve()
               + u8(X_MKDIR) + b"/d\0" + serve() + u8(X_RM) + b"/d\0" + serve()
               + u8(X_DIRECTORY) + b"/\0" + u16(200) + serve(2, b"a\0", b"bb\0")
               + u8(X_GET_PERMS) + u8(4) + b"/a\0" + serve(1, u8(0), u8(1))
               + u8(X_SET_PERMS) + u8(2) + b"/a\0" + u32(0) + u8(0) + u32(5) + u8(1) + serve()
               + u8(X_TX_START) + serve(0) + u8(X_TX_END) + u32(7) + u8(0) + serve()
               + u8(X_WATCH) + b"/a\0" + b"tok\0" + serve() + u8(X_NEXT_EVENT)
               + u8(X_WAIT_EVENT) + u8(1) + u8(S_EVENT) + u8(0) + b"/a\0" + b"t\0"
               + u8(X_NEXT_EVENT) + u8(X_UNWATCH) + b"/a\0" + b"tok\0" + serve()
               + u8(X_INTRODUCE) + u32(7) + u32(1) + u32(2) + u32(3) + serve()
               + u8(X_RELEASE) + u32(7) + serve()
               + u8(X_PERMS_DECODE) + u8(4) + u8(6) + b"n0\0r5\0"
               + u8(X_PERMS_ENCODE) + u8(2) + u32(1) + u8(1) + u32(2) + u8(3) + u8(63))
    errors = b"".join(read(b"/e", b"", 100, serve(0xC0 + i)) for i in range(10))
    return {
        "session-ring": u8(0) + session,
        "session-ring-wrap": u8(2) + session,
        "session-stream": u8(1) + session,
        "errors": u8(0) + errors,
        "read-too-small": u8(0) + read(b"/a", b"0123456789", 5) + read(b"/a", b"x", 0),
        "forged-req-id": u8(0) + u8(X_READ) + u8(0) + b"/a\0" + u16(50)
        + u8(S_FORGE) + u8(1) + u8(0) + u8(0) + u16(2) + b"hi",
        "forged-huge-body": u8(0) + u8(X_READ) + u8(0) + b"/a\0" + u16(50)
        + u8(S_FORGE) + u8(0x48) + u8(0) + u8(0) + u16(0x1000) + b"x" * 16,
        "events-interleaved": u8(0) + b"".join(
            u8(S_EVENT) + u8(0) + b"/p%d\0" % i + b"t\0" for i in range(3))
        + u8(X_WAIT_EVENT) + u8(0) + read(b"/a", b"v", 10)
        + u8(X_WAIT_EVENT) + u8(2) + u8(S_TIMEOUT) + u8(S_EINTR) + u8(S_EVENT) + u8(1) + b"/x\0"
        + b"\0",
        "index-jump": u8(0) + u8(X_READ) + u8(0) + b"/a\0" + u16(50)
        + u8(S_INDEX) + u8(3) + u32(0x10000) + u8(X_MKDIR) + b"/b\0",
        "trickle-lie": u8(1) + u8(X_MKDIR) + b"/a\0" + u8(S_TRICKLE) + u8(0) + u8(3)
        + u8(S_TRICKLE) + u8(5) + u8(S_SERVE) + u8(X_MKDIR) + b"/b\0" + u8(S_LIE) + u8(1)
        + u8(S_SERVE),
        "big-write": u8(0) + u8(X_WRITE) + b"/big\0" + u16(4000) + b"w" * 64
        + serve() + serve() + serve() + serve() + serve()
        + u8(X_WRITE) + b"/big\0" + u16(4095),
    }


# ---- svc_request --------------------------------------------------------------------
(S_OPEN, S_ACCEPT, S_CLOSE_SVC, S_CONNECT, S_CONTINUE, S_CLOSE_CLIENT, S_CLOSE_ACC,
 S_REQUEST, S_ANSWER, S_EDIT, S_ON_LIST, S_CLOCK, S_FAULT, S_LIVE, S_PING, S_SVC_NODE,
 S_FIRE, S_SWEEP_NODE) = range(18)
X_READ, X_WRITE, X_RM, X_PERMS, X_TX_START, X_TX_END, X_WATCH, X_UNWATCH, X_DIR, \
    X_GET_PERMS = range(10)
SVC_ERRS = ("EAGAIN", "ENOSPC", "E2BIG", "EACCES", "ENOENT", "EPERM", "EIO", "EINVAL",
            "ENOMEM", "EDQUOT")
# flags
SF_PID0, SF_ALLOW56, SF_MAX2, SF_STREAM, SF_ORDER13, SF_NO_FD = 1, 2, 4, 8, 16, 32


def svc_seeds() -> dict[str, bytes]:
    def op(code: int, *args: bytes) -> bytes:
        return u8(code) + b"".join(args)

    open_ = op(S_OPEN, u8(0))
    accept = op(S_ACCEPT)

    def connect(dom: int, slot: int) -> bytes:  # dom 0..2 = domains 5, 6, 7
        return op(S_CONNECT, u8(dom | slot << 2))

    def cont(slot: int, close: bool = True) -> bytes:
        return op(S_CONTINUE, u8(slot | (0x80 if close else 0)))

    def up(dom: int, slot: int) -> bytes:
        return connect(dom, slot) + cont(slot) + accept + cont(slot) + accept

    def request(dom: int, name_kind: int, val: int = 0, perms: int = 0, reps: int = 0,
                token: int = 0x1122334455667788) -> bytes:
        return op(S_REQUEST, u8(dom), u8(perms), u8(val), u8(reps), u8(name_kind),
                  u32(token >> 32), u32(token))

    def answer(slot: int, kind: int = 0, mode: int = 0, orders: int = 0, sel: int = 0,
               tail: int = 0, port: int = 9, raw: bytes = b"") -> bytes:
        body = u8(kind) + u8(mode) + u8(orders) + u8(sel) + u8(tail) + u8(port)
        return op(S_ANSWER, u8(slot), body + (raw + b"\0" if raw else b""))

    def edit(what: int, idx: int = 0, v: int = 0) -> bytes:
        return op(S_EDIT, u8(what), u8(idx), u8(v))

    def fault(kind: int, err: str, skip: int = 0, count: int = 1) -> bytes:
        return op(S_FAULT, u8(kind), u8(skip | (count - 1) << 4), u8(SVC_ERRS.index(err)))

    def clock(sec: int) -> bytes:
        return op(S_CLOCK, u8(0x80 | sec))

    ping = lambda slot, acc: op(S_PING, u8(slot | acc << 3))  # noqa: E731
    honest = up(0, 0) + ping(0, 0) + ping(0, 0)
    out = {
        "honest": u8(0) + open_ + honest + op(S_CLOSE_CLIENT, u8(0))
        + op(S_CLOSE_ACC, u8(0)) + accept + op(S_CLOSE_SVC),
        "honest-stream-tiny": u8(SF_STREAM | SF_ORDER13 | SF_PID0 | SF_NO_FD) + open_ + honest
        + op(S_CLOSE_ACC, u8(0)) + cont(0) + op(S_CLOSE_CLIENT, u8(0)),
        "three-clients": u8(0) + open_ + up(0, 0) + up(1, 1) + up(2, 2) + up(0, 3)
        + ping(3, 3) + op(S_CLOSE_ACC, u8(1)) + accept + op(S_CLOSE_SVC) + cont(2),
        "policy-limit": u8(SF_ALLOW56 | SF_MAX2) + open_ + up(2, 0) + up(0, 1) + up(0, 2)
        + up(0, 3) + clock(2) + accept + cont(3),
        "not-yet-open": u8(0) + connect(0, 0) + cont(0) + open_ + cont(0) + op(S_FIRE, u8(3))
        + accept + cont(0) + accept,
        "bad-names": u8(0) + open_
        + b"".join(request(d, k, 0, 1, 0, 0x0123456789ABCDEF * (k + 1) & (1 << 64) - 1)
                   for d in (0, 1, 3) for k in (3, 4, 5, 6, 7, 0x2C, 0x9D))
        + accept + clock(2) + accept + accept,
        "bad-values-perms": u8(0) + open_
        + b"".join(request(i % 4, 0, i, (i * 7) & 0x1F, 0, 0x1000 + i) for i in range(13))
        + accept + up(1, 0) + clock(3) + accept + accept,
        "flood": u8(SF_MAX2) + open_ + request(0, 0, 0, 1, 39) + request(1, 5 | 31 << 3, 0, 1,
                                                                         39)
        + request(3, 0, 0, 1, 39, 0xAAAA) + up(1, 0) + accept + clock(2) + accept + up(1, 1),
        "vanish-on-list": u8(0) + open_ + connect(0, 0) + cont(0)
        + op(S_ON_LIST, u8(0), u8(0), u8(0), b"\0" * 5) + accept + cont(0) + cont(0)
        + connect(1, 1) + cont(1) + op(S_ON_LIST, u8(1), u8(0), u8(1), b"\0" * 5) + accept
        + cont(1) + connect(2, 2) + cont(2)
        + op(S_ON_LIST, u8(2), u8(0), u8(1), b"\0" * 5) + accept + cont(2)
        + op(S_ON_LIST, u8(3), u8(0), u8(0x42), b"\0" * 5) + accept + cont(2),
        "owner-edits": u8(0) + open_ + connect(0, 0) + cont(0) + edit(2, 0, 4) + accept
        + cont(0) + connect(1, 1) + cont(1) + edit(2, 0, 3) + accept + cont(1)
        + connect(2, 2) + cont(2) + accept + edit(1, 0, 7) + accept + cont(2),
        "sweep": u8(0) + b"".join(op(S_SWEEP_NODE, u8(w), u8(v)) for w in range(0, 32, 3)
                                  for v in (0, 4, 8, 13, 24, 28, 36, 44))
        + open_ + up(0, 0) + up(1, 1),
        "expire-liar": u8(0) + open_ + connect(0, 0) + cont(0) + accept + clock(11) + accept
        + cont(0) + connect(1, 1) + cont(1) + accept + op(S_LIVE, u8(0), u8(1), u8(7))
        + op(S_LIVE, u8(1), u8(1), u8(7)) + accept + cont(1),
        "restart": u8(0) + open_ + connect(0, 0) + cont(0) + op(S_CLOSE_SVC) + open_ + cont(0)
        + accept + cont(0) + accept + op(S_SVC_NODE, u8(0)) + connect(1, 1) + cont(1)
        + op(S_SVC_NODE, u8(6)) + cont(1) + op(S_SVC_NODE, u8(5)) + connect(2, 2) + cont(2),
    }
    # Hostile answers to a client of ours (no service runs: the "service"
    # is the input, writing its own nodes).
    hostile = u8(0) + op(S_SVC_NODE, u8(6)) + connect(0, 0) + cont(0, False)
    answers = [answer(0, 3, v) for v in range(0, 40, 4)] + [
        answer(0, 2, raw=b"offer 1 message 12 12 2000 9 0123456789abcdef\x01"),
        answer(0, 0, orders=0x12), answer(0, 0, tail=3), answer(0, 0, tail=4),
        answer(0, 0, tail=6), answer(0, 0, tail=7), answer(0, 0, tail=8),
        answer(0, 0, tail=0x10), answer(0, 0, tail=0x20), answer(0, 4), answer(0, 8 | 16),
        answer(0, 8 | 48), answer(0, 8 | 80), answer(0, 0, mode=2), answer(0, 0, mode=3),
        answer(0, 0, mode=0x80), answer(0, 0x80, mode=0x10), answer(0, 0, sel=0x40),
        answer(0, 0, sel=0x60), answer(0, 0, sel=0x80),
    ]
    for i in range(0, len(answers), 6):
        out[f"hostile-answers-{i // 6}"] = hostile + b"".join(
            a + cont(0, False) + connect(0, 0) + cont(0, False) for a in answers[i:i + 6])
    # A real offer, then the service's answer is rewritten: good and bad nonces.
    out["answer-real-page"] = u8(0) + open_ + connect(0, 0) + cont(0) + accept \
        + answer(0, 0, sel=0, tail=5) + cont(0) + connect(1, 1) + cont(1) + accept \
        + answer(1, 0, sel=0, tail=0) + cont(1) + connect(0, 2) + cont(2) + accept \
        + answer(2, 0, sel=1, tail=0) + cont(2) + accept + accept
    out["faults"] = u8(0) + b"".join(
        fault(k, e, s) + open_ + up(0, 0) + op(S_CLOSE_CLIENT, u8(0)) + op(S_CLOSE_ACC, u8(0))
        + op(S_CLOSE_SVC)
        for k, e, s in ((X_TX_END, "EAGAIN", 0), (X_WRITE, "ENOSPC", 2), (X_PERMS, "EACCES", 1),
                        (X_WATCH, "ENOSPC", 0), (X_DIR, "EIO", 1), (X_GET_PERMS, "EACCES", 0),
                        (X_READ, "EIO", 3), (X_TX_START, "ENOMEM", 1), (X_RM, "EPERM", 0),
                        (X_WRITE, "EACCES", 5), (X_TX_END, "EAGAIN", 2)))
    return out


# ---- kv_request ----------------------------------------------------------------
KV_GET, KV_PUT, KV_DEL, KV_LIST, KV_STATS, KV_BADOP = range(6)


def kv_op(op: int, key: str, vlen: int = 0, fill: int = 0x61, odd: bool = False) -> bytes:
    """A well-formed request record; key letters index "ab/\\0z" (a b / 0 z)."""
    alpha = {"a": 0, "b": 1, "/": 2, "0": 3, "z": 4}
    return (u8(op | (0x40 if odd else 0)) + u8(len(key)) + u16(vlen) + u8(fill)
            + bytes(alpha[c] for c in key))


def kv_raw(msg: bytes) -> bytes:
    return u8(0x80) + u16(len(msg)) + msg


def kv_hdr(op: int, flags: int, klen: int, ident: int, vlen: int) -> bytes:
    return u8(op) + u8(flags) + u16(klen) + u32(ident) + u32(vlen)


def kv_seeds() -> dict[str, bytes]:
    return {
        "empty": b"",
        "put-get-del": u8(10) + u8(40) + kv_op(KV_PUT, "ab", 5) + kv_op(KV_GET, "ab")
        + kv_op(KV_DEL, "ab") + kv_op(KV_GET, "ab") + kv_op(KV_DEL, "ab"),
        "list-pages": u8(20) + u8(0) + b"".join(kv_op(KV_PUT, k, 3) for k in
                                               ("a/a", "a/b", "a/z", "a/0", "b/a", "a"))
        + kv_op(KV_LIST, "a/") + kv_op(KV_LIST, "") + kv_op(KV_LIST, "a/", 3)
        + kv_op(KV_STATS, ""),
        "fill-budget": u8(0) + u8(255) + b"".join(kv_op(KV_PUT, k, 900) for k in
                                                  ("a", "b", "z", "ab", "ba", "zz", "a0"))
        + kv_op(KV_PUT, "a", 100) + kv_op(KV_STATS, ""),
        "limits": u8(1) + u8(0) + kv_op(KV_PUT, "", 1) + kv_op(KV_GET, "")
        + kv_op(KV_PUT, "a", 0xFFFF, odd=True) + kv_op(KV_GET, "a", 2, odd=True)
        + kv_op(KV_STATS, "a", odd=True) + kv_op(KV_BADOP, "a"),
        "raw-short": kv_raw(b"") + kv_raw(b"\x01") + kv_raw(kv_hdr(1, 0, 1, 7, 0)[:8])
        + kv_raw(kv_hdr(1, 0, 1, 7, 0)),
        "raw-beyond": u8(0) + u8(0) + kv_raw(kv_hdr(2, 0, 0xFFFF, 1, 0xFFFFFFFF) + b"k")
        + kv_raw(kv_hdr(2, 0, 1, 2, 0xFFFFFFF3) + b"k")
        + kv_raw(kv_hdr(1, 0x80, 1, 3, 0) + b"k") + kv_raw(kv_hdr(1, 0, 1, 4, 0) + b"kk"),
        "raw-list-cursor": kv_op(KV_PUT, "ab", 1) + kv_op(KV_PUT, "abz", 1)
        + kv_raw(kv_hdr(4, 0, 1, 5, 2) + b"aab") + kv_raw(kv_hdr(5, 0, 0, 6, 0)),
    }


TARGETS = {
    "ring_consumer": consumer_seeds,
    "ring_producer": producer_seeds,
    "msg_header": header_seeds,
    "channel_attach": attach_seeds,
    "chan_faults": faults_seeds,
    "xs_client": xs_seeds,
    "kv_request": kv_seeds,
    "svc_request": svc_seeds,
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
