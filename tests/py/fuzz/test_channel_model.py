"""A model of a channel, checked against the real libivcom over the sim.

Two sim domains live in this one process (each ivcom_platform_open("sim")
is its own domain), joined by one real channel: a Python model (two
queues) predicts what every call must return.  Rules send and receive in
both directions with the copy and zero-copy APIs, and a hostile peer
writes what a peer may write in shared memory:

- harmless words (statistics, event requests): delivery stays exact;
- its own index or the bytes of queued messages: the victim's calls may
  then only return a valid byte count, -EAGAIN or -EPROTO, never bytes it
  was not sent *before* the attack, and once -EPROTO always -EPROTO.

Every call is non-blocking (try_/timeout 0), so nothing can hang.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from ivcom import sim as simmod

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "build" / "core" / "libivcom.so"
TESTAPI = ROOT / "build" / "fuzz" / "libivcom-testapi.so"
pytestmark = pytest.mark.sim

ORDER = 12                       # 4 KiB rings: wrap-around and PAD records often
RING = 1 << ORDER
MAX_MSG = RING - 8
# wire.h offsets: s2c prod/cons lines at 0x40/0x80, c2s at 0xc0/0x100.
S2C_PROD, S2C_CONS, C2S_PROD, C2S_CONS = 0x40, 0x80, 0xC0, 0x100
EPROTO, EAGAIN, EMSGSIZE = -errno.EPROTO, -errno.EAGAIN, -errno.EMSGSIZE


class Params(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_uint8), ("tx_order", ctypes.c_uint8),
                ("rx_order", ctypes.c_uint8), ("spin_us", ctypes.c_uint32),
                ("poll_only", ctypes.c_int)]


def _load() -> Any:
    if not LIB.exists() or not TESTAPI.exists():
        pytest.fail(f"{LIB} or {TESTAPI} missing: run `make core fuzz-build`")
    lib = ctypes.CDLL(str(LIB))
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.ivcom_platform_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
    lib.ivcom_listen.argtypes = [vp, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.POINTER(Params), ctypes.POINTER(vp)]
    lib.ivcom_connect.argtypes = [vp, ctypes.c_char_p, ctypes.c_int,
                                  ctypes.POINTER(Params), ctypes.POINTER(vp), ctypes.c_int]
    lib.ivcom_accept.argtypes = [vp, ctypes.c_int]
    lib.ivcom_try_send.argtypes = [vp, ctypes.c_char_p, sz]
    lib.ivcom_try_send.restype = ctypes.c_ssize_t
    lib.ivcom_try_recv.argtypes = [vp, ctypes.c_void_p, sz]
    lib.ivcom_try_recv.restype = ctypes.c_ssize_t
    lib.ivcom_msg_try_reserve.argtypes = [vp, sz, ctypes.POINTER(vp)]
    lib.ivcom_msg_commit.argtypes = [vp]
    lib.ivcom_msg_try_peek.argtypes = [vp, ctypes.POINTER(vp), ctypes.POINTER(sz)]
    lib.ivcom_msg_release.argtypes = [vp]
    lib.ivcom_is_broken.argtypes = [vp]
    lib.ivcom_close.argtypes = [vp]
    lib.ivcom_platform_close.argtypes = [vp]
    lib.ivcom_params_init.argtypes = [ctypes.POINTER(Params)]
    api = ctypes.CDLL(str(TESTAPI))
    api.ivcom_test_ctrl.argtypes = [vp]
    api.ivcom_test_ctrl.restype = vp
    return lib, api


@pytest.fixture(scope="module")
def world(sim: simmod.Sim) -> Any:
    old = {k: os.environ.get(k) for k in (*sim.env, "IVCOM_SIM_DOMID")}
    os.environ.update(sim.env)
    lib, api = _load()
    yield sim, lib, api
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class ChannelModel(RuleBasedStateMachine):
    world: ClassVar[Any] = None
    domids: ClassVar[list[int]] = [700]

    @initialize()
    def setup(self) -> None:
        _, lib, api = self.world
        self.lib, self.api = lib, api
        base = self.domids[0]
        self.domids[0] += 2           # fresh domains for every example
        a_dom, b_dom = base, base + 1
        self.plats = []
        for dom in (a_dom, b_dom):
            os.environ["IVCOM_SIM_DOMID"] = str(dom)
            p = ctypes.c_void_p()
            assert lib.ivcom_platform_open(b"sim", ctypes.byref(p)) == 0
            self.plats.append(p)
        params = Params()
        lib.ivcom_params_init(ctypes.byref(params))
        params.tx_order = params.rx_order = ORDER
        a, b = ctypes.c_void_p(), ctypes.c_void_p()
        assert lib.ivcom_listen(self.plats[0], b"model", b_dom, ctypes.byref(params),
                                ctypes.byref(a)) == 0
        assert lib.ivcom_connect(self.plats[1], b"model", a_dom, None, ctypes.byref(b),
                                 5000) == 0
        assert lib.ivcom_accept(a, 5000) == 0
        self.ends = {"a": a, "b": b}            # a = server, b = client
        # queue[x]: messages sent by x, not yet received by the other end
        self.queue: dict[str, deque[bytes]] = {"a": deque(), "b": deque()}
        self.seq = 0
        self.tainted = {"a": False, "b": False}  # x's incoming ring was attacked
        self.ctrl = ctypes.cast(api.ivcom_test_ctrl(b), ctypes.POINTER(ctypes.c_uint8 * 4096))

    def teardown(self) -> None:
        if not hasattr(self, "ends"):
            return
        for ch in self.ends.values():
            self.lib.ivcom_close(ch)
        for p in self.plats:
            self.lib.ivcom_platform_close(p)

    # ---- helpers -----------------------------------------------------------

    def _payload(self, n: int) -> bytes:
        self.seq += 1
        head = struct.pack("<Q", self.seq)
        return (head * (n // 8 + 1))[:n]

    @staticmethod
    def _other(x: str) -> str:
        return "b" if x == "a" else "a"

    def _word(self, off: int) -> int:
        return int.from_bytes(bytes(self.ctrl.contents[off:off + 4]), "little")

    def _poke(self, off: int, value: int) -> None:
        for i, byte in enumerate((value & 0xFFFFFFFF).to_bytes(4, "little")):
            self.ctrl.contents[off + i] = byte

    def _check_received(self, receiver: str, got: bytes | int) -> None:
        sender = self._other(receiver)
        q = self.queue[sender]
        if self.tainted[receiver]:
            # Attacked: a valid result, never a crash; -EPROTO is sticky.
            if isinstance(got, int):
                assert got in (EAGAIN, EPROTO, EMSGSIZE), got
                if got == EPROTO:
                    assert self.lib.ivcom_is_broken(self.ends[receiver]) == EPROTO
            else:
                assert len(got) <= MAX_MSG
            return
        if isinstance(got, int):
            assert got == EAGAIN and not q, (got, len(q))
            return
        assert q, "received a message nobody sent"
        assert got == q.popleft(), "delivered bytes differ from what was sent (or order)"

    # ---- rules -------------------------------------------------------------

    @rule(x=st.sampled_from("ab"), n=st.integers(0, MAX_MSG) | st.integers(0, 64))
    def send(self, x: str, n: int) -> None:
        data = self._payload(n)
        r = self.lib.ivcom_try_send(self.ends[x], data, n)
        if self.tainted[self._other(x)] or self.tainted[x]:
            assert r in (n, EAGAIN, EPROTO), r
        else:
            assert r in (n, EAGAIN), r
        if r == n:
            self.queue[x].append(data)

    @rule(x=st.sampled_from("ab"), n=st.integers(0, 512))
    def send_zero_copy(self, x: str, n: int) -> None:
        buf = ctypes.c_void_p()
        r = self.lib.ivcom_msg_try_reserve(self.ends[x], n, ctypes.byref(buf))
        if r == 0:
            data = self._payload(n)
            ctypes.memmove(buf, data, n)
            assert self.lib.ivcom_msg_commit(self.ends[x]) == 0
            self.queue[x].append(data)
        elif not (self.tainted[x] or self.tainted[self._other(x)]):
            assert r == EAGAIN, r

    @rule(x=st.sampled_from("ab"))
    def recv(self, x: str) -> None:
        buf = ctypes.create_string_buffer(RING)
        r = self.lib.ivcom_try_recv(self.ends[x], buf, RING)
        self._check_received(x, buf.raw[:r] if r >= 0 else r)

    @rule(x=st.sampled_from("ab"))
    def recv_zero_copy(self, x: str) -> None:
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        r = self.lib.ivcom_msg_try_peek(self.ends[x], ctypes.byref(ptr), ctypes.byref(n))
        if r == 0:
            got = ctypes.string_at(ptr, n.value) if n.value else b""
            assert self.lib.ivcom_msg_release(self.ends[x]) == 0
            self._check_received(x, got)
        else:
            self._check_received(x, r)

    @rule(which=st.sampled_from([S2C_PROD + 8, S2C_PROD + 12, C2S_CONS + 8, S2C_CONS + 4,
                                 C2S_PROD + 4, S2C_CONS + 8]),
          value=st.integers(0, 2**32 - 1))
    def hostile_harmless(self, which: int, value: int) -> None:
        """Statistics and event-request words: they may cost or save an
        event, never change what is delivered."""
        self._poke(which, value)

    @rule(value=st.integers(0, 2**32 - 1) | st.integers(-64, 64))
    def hostile_index(self, value: int) -> None:
        """The client (b) is hostile: it rewrites its producer index, so the
        server (a) may see anything on its incoming ring."""
        self._poke(C2S_PROD, self._word(C2S_PROD) + value if -64 <= value <= 64 else value)
        self.tainted["a"] = True

    @rule(value=st.integers(0, 2**32 - 1))
    def hostile_consumer_index(self, value: int) -> None:
        """b rewrites its consumer index: a's sends may then fail loudly."""
        self._poke(S2C_CONS, value)
        self.tainted["b"] = True
        self.tainted["a"] = True

    @invariant()
    def broken_is_sticky(self) -> None:
        if not hasattr(self, "ends"):
            return
        a = self.ends["a"]
        if self.lib.ivcom_is_broken(a) == EPROTO:
            assert self.lib.ivcom_try_send(a, b"x", 1) == EPROTO
            assert self.tainted["a"], "broken without an attack"


ChannelModel.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class TestChannelModel(ChannelModel.TestCase):  # type: ignore[name-defined]
    pass


@pytest.fixture(autouse=True)
def _bind_world(world: Any) -> None:
    ChannelModel.world = world
