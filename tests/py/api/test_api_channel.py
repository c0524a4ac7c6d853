"""ivcom.Channel (sync) on the sim: this process is one domain, a peer
process (peer.py) the other."""

from __future__ import annotations

import errno
import hashlib
import os
import select
import subprocess
import sys
import threading
import time

import ivcom
import pytest
from api_helpers import Doms, finish, first_line
from api_peer import pattern


def test_message_round_trip(doms: Doms) -> None:
    with doms.holding(), ivcom.Platform("sim") as plat:
        assert plat.domid == doms.me and plat.name == "sim"
        ch = ivcom.Channel.listen("rt", doms.peer, platform=plat)
        p = doms.spawn("echo", "rt", doms.me)
        ch.accept(timeout=20)
        assert ch.peer_domid == doms.peer and ch.mode == "message" and ch.is_server
        assert ch.max_msg == (1 << 16) - 8
        msgs = [b"", b"x", bytes(range(256)) * 3, bytearray(b"abc"), memoryview(b"zz"),
                os.urandom(ch.max_msg)]
        for m in msgs:
            assert ch.send(m) == len(m)
            assert ch.recv(timeout=20) == bytes(m)
        st = ch.stats()
        assert st.tx_msgs == st.rx_msgs == len(msgs)
        assert st.tx_bytes == st.rx_bytes == sum(len(m) for m in msgs)
        with pytest.raises(dataclasses_frozen()):
            st.tx_msgs = 0  # type: ignore[misc]
        ch.close()
    assert finish(p) == f"ok echoed {len(msgs)}\n"


def dataclasses_frozen() -> type[Exception]:
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_recv_into_and_max_size(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("big", doms.peer) as ch:
        p = doms.spawn("echo", "big", doms.me)
        ch.accept(timeout=20)
        ch.send(b"0123456789")
        assert ch.wait_readable(timeout=20)
        with pytest.raises(ivcom.MessageTooLargeError) as ei:
            ch.recv(timeout=20, max_size=4)
        assert isinstance(ei.value, ValueError) and ei.value.errno == errno.EMSGSIZE
        small = bytearray(4)
        with pytest.raises(ivcom.MessageTooLargeError):
            ch.recv_into(small, timeout=20)          # stays queued too
        buf = bytearray(64)
        assert ch.recv_into(buf, timeout=20) == 10 and buf[:10] == b"0123456789"
        with pytest.raises(ivcom.MessageTooLargeError):
            ch.send(bytes(ch.max_msg + 1))
    finish(p)


@pytest.mark.parametrize("order", [12, 16])
def test_stream_bytes_exact(doms: Doms, order: int) -> None:
    size, seed = 600_000, order
    with doms.holding(), ivcom.Channel.listen("st", doms.peer, mode="stream",
                                              ring_order=order) as ch:
        p = doms.spawn("stream-source", "st", doms.me, size, seed)
        ch.accept(timeout=20)
        assert ch.mode == "stream"
        got = bytearray()
        buf = bytearray(777)
        with pytest.raises(BrokenPipeError):
            while True:
                if len(got) % 2:
                    got += ch.read(5000, timeout=20)
                else:
                    n = ch.read_into(buf, timeout=20)
                    got += buf[:n]
        assert ch.stats().rx_bytes == size
    out = finish(p)
    assert got == pattern(size, seed)
    assert out.split()[-1] == hashlib.sha256(got).hexdigest()


def test_stream_server_writes(doms: Doms) -> None:
    data = pattern(300_000, 5)
    with doms.holding(), ivcom.Channel.listen("sw", doms.peer, mode="stream",
                                              ring_order=12) as ch:
        p = doms.spawn("stream-sink", "sw", doms.me)
        ch.accept(timeout=20)
        assert ch.write_all(data, timeout=20) == len(data)
        assert ch.write(b"", timeout=0) == 0
        ch.flush(timeout=20)
    assert finish(p) == f"ok read {len(data)} {hashlib.sha256(data).hexdigest()}\n"


def test_zero_copy_message(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("zc", doms.peer) as ch:
        p = doms.spawn("echo", "zc", doms.me)
        ch.accept(timeout=20)
        # an exception abandons the reservation: nothing is sent
        with pytest.raises(RuntimeError, match="boom"), ch.reserve(5, timeout=20) as view:
            view[:] = b"never"
            raise RuntimeError("boom")
        with pytest.raises(ValueError):
            view[0] = 1
        with ch.reserve(5, timeout=20) as view:
            assert len(view) == 5 and not view.readonly
            view[:] = b"hello"
        with pytest.raises(ValueError, match="released"):
            view[0] = 1
        with pytest.raises(ValueError):
            bytes(view)
        # an exception leaves the message queued; a clean block consumes it
        with pytest.raises(KeyError), ch.peek(timeout=20) as seen:
            assert seen.readonly and bytes(seen) == b"hello"
            raise KeyError
        with pytest.raises(ValueError):
            bytes(seen)
        with ch.peek(timeout=20) as seen:
            assert bytes(seen) == b"hello"
            with pytest.raises(RuntimeError):
                ch.recv(timeout=0)                   # not while a peek is open
        with pytest.raises(ivcom.ChannelClosedError.__mro__[2]):  # ValueError
            seen.tobytes()
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0.3)                    # "never" was never sent
        st = ch.stats()
        assert st.tx_msgs == 1 and st.rx_msgs == 1
    finish(p)


def test_zero_copy_escaped_slice_is_refused(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("zs", doms.peer) as ch:
        p = doms.spawn("echo", "zs", doms.me)
        ch.accept(timeout=20)
        kept = []
        with pytest.raises(BufferError), ch.reserve(4, timeout=20) as view:
            view[:] = b"leak"
            kept.append(view[1:3])
        assert ch.stats().tx_msgs == 0               # not committed
        kept.clear()
        with ch.reserve(2, timeout=20) as view:
            view[:] = b"ok"
        assert ch.recv(timeout=20) == b"ok"
    finish(p)


def test_zero_copy_stream(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("zst", doms.peer, mode="stream",
                                              ring_order=12) as ch:
        p = doms.spawn("stream-sink", "zst", doms.me)
        ch.accept(timeout=20)
        sent = bytearray()
        for i in range(40):
            with ch.reserve(300, timeout=20) as view:
                assert 0 < len(view) <= 300
                chunk = bytes([i]) * len(view)
                view[:] = chunk
            sent += chunk
        with pytest.raises(ZeroDivisionError), ch.reserve(10, timeout=20) as view:
            view[:] = b"X" * len(view)
            raise ZeroDivisionError
        assert ch.stats().tx_bytes == len(sent)
    assert finish(p) == f"ok read {len(sent)} {hashlib.sha256(sent).hexdigest()}\n"


def test_stream_peek(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("zsp", doms.peer, mode="stream") as ch:
        p = doms.spawn("stream-source", "zsp", doms.me, 10_000, 9)
        ch.accept(timeout=20)
        got = bytearray()
        with pytest.raises(BrokenPipeError):
            while True:
                with ch.peek(1000, timeout=20) as view:
                    assert 0 < len(view) <= 1000
                    got += view
        assert got == pattern(10_000, 9)
    finish(p)


def test_timeouts(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("to", doms.peer) as ch:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as ei:
            ch.accept(timeout=0.2)
        assert ei.value.errno == errno.ETIMEDOUT and ei.value.strerror == "timed out"
        assert 0.15 < time.monotonic() - t0 < 5
        with pytest.raises(ivcom.NotConnectedError) as ni:
            ch.send(b"x", timeout=0)                 # not accepted yet
        assert isinstance(ni.value, ConnectionError) and ni.value.errno == errno.ENOTCONN
        p = doms.spawn("hold", "to", doms.me)
        ch.accept(timeout=20)
        assert first_line(p) == "ok connected\n"
        with pytest.raises(TimeoutError):
            ch.recv(timeout=0.2)
        with pytest.raises(BlockingIOError) as bi:
            ch.recv(timeout=0)
        assert bi.value.errno == errno.EAGAIN
        assert not ch.wait_readable(timeout=0)
        with pytest.raises(BlockingIOError), ch.peek(timeout=0):
            pass
    finish(p)
    # no offer: the wait ends on time (unreadable until offered: EACCES)
    t0 = time.monotonic()
    with pytest.raises((TimeoutError, PermissionError)):
        ivcom.Channel.connect("nothing-here", doms.peer, timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 5


def test_peer_closed_after_draining(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("pc", doms.peer) as ch:
        p = doms.spawn("sender", "pc", doms.me, 5)
        ch.accept(timeout=20)
        assert finish(p) == "ok sent\n"              # gone before we read
        got = [ch.recv(timeout=20) for _ in range(5)]
        assert got == [b"msg %d" % i for i in range(5)]
        with pytest.raises(BrokenPipeError) as ei:
            ch.recv(timeout=20)
        assert ei.value.errno == errno.EPIPE
        assert ei.value.strerror == "peer closed the channel or died"
        with pytest.raises(BrokenPipeError):
            ch.send(b"late", timeout=20)


def test_third_domain_refused(doms: Doms) -> None:
    with doms.holding(), doms.holding(doms.third), \
            ivcom.Channel.listen("priv", doms.peer) as ch:
        p = doms.spawn("third", "priv", doms.me, domid=doms.third)
        out = finish(p)
        assert out.startswith(f"ok refused errno={errno.EACCES} ")
        with pytest.raises(TimeoutError):
            ch.accept(timeout=0)


def test_closed_channel(doms: Doms) -> None:
    with doms.holding():
        ch = ivcom.Channel.listen("cl", doms.peer)
        plat = ch.platform
        assert not ch.closed
        ch.close()
        ch.close()                                   # a second close is fine
        assert ch.closed and plat.closed             # it owned its platform
        for call in (lambda: ch.send(b"x"), lambda: ch.accept(timeout=0), ch.fileno,
                     ch.stats, lambda: ch.peer_domid):
            with pytest.raises(ivcom.ChannelClosedError) as ei:
                call()
            assert isinstance(ei.value, ValueError) and ei.value.errno == errno.EBADF
        with pytest.raises(ivcom.ChannelClosedError), ch.reserve(1):
            pass
        assert "closed" in repr(ch)

        # a platform closed explicitly closes its channels first
        with ivcom.Platform() as plat:
            ch2 = ivcom.Channel.listen("cl2", doms.peer, platform=plat)
        assert ch2.closed and plat.closed
        with pytest.raises(ivcom.ChannelClosedError):
            _ = plat.domid

        # the safety net: an unreferenced channel closes (its offer goes)
        ch3 = ivcom.Channel.listen("cl3", doms.peer)
        del ch3
        ch4 = ivcom.Channel.listen("cl3", doms.peer)  # the name is free again
        ch4.close()


def test_bad_arguments(doms: Doms) -> None:
    cases: list[tuple[type[Exception], object]] = [
        (TypeError, lambda: ivcom.Channel.listen(b"x", 1)),
        (ValueError, lambda: ivcom.Channel.listen("a.b", 1)),
        (ValueError, lambda: ivcom.Channel.listen("", 1)),
        (ValueError, lambda: ivcom.Channel.listen("x" * 64, 1)),
        (ValueError, lambda: ivcom.Channel.listen("x", -1)),
        (ValueError, lambda: ivcom.Channel.listen("x", 0x7FF0)),
        (TypeError, lambda: ivcom.Channel.listen("x", True)),
        (TypeError, lambda: ivcom.Channel.listen("x", "1")),
        (ValueError, lambda: ivcom.Channel.listen("x", 1, mode="datagram")),  # type: ignore
        (ValueError, lambda: ivcom.Channel.listen("x", 1, ring_order=11)),
        (ValueError, lambda: ivcom.Channel.listen("x", 1, ring_order=21)),
        (ValueError, lambda: ivcom.Channel.listen("x", 1, spin_us=-1)),
        (TypeError, lambda: ivcom.Channel.listen("x", 1, poll_only=1)),  # type: ignore
        (ValueError, lambda: ivcom.Channel.connect("x", 1, timeout=-1)),
        (ValueError, lambda: ivcom.Channel.connect("x", 1, timeout=float("nan"))),
        (TypeError, lambda: ivcom.Channel.connect("x", 1, timeout="1")),  # type: ignore
        (TypeError, lambda: ivcom.Platform(3)),  # type: ignore[arg-type]
    ]
    for exc, call in cases:
        with pytest.raises(exc):
            call()  # type: ignore[operator]
    with pytest.raises(OSError) as ei:
        ivcom.Platform("no-such-platform")
    assert ei.value.errno == errno.ENODEV
    with doms.holding(), ivcom.Channel.listen("ba", doms.peer) as msg, \
                ivcom.Channel.listen("bs", doms.peer, mode="stream") as st:
        for call in (lambda: msg.send("text"), lambda: msg.send(3),
                     lambda: msg.recv_into(b"read-only"), lambda: msg.recv(max_size=-1),
                     lambda: msg.reserve(), lambda: msg.accept(timeout=-2)):
            with pytest.raises((TypeError, ValueError)):
                call()
        with pytest.raises(ValueError, match="stream"):
            msg.write(b"x")
        with pytest.raises(ValueError, match="message"):
            st.send(b"x")
        with pytest.raises(ValueError):
            st.read(-1)


def test_fileno_ack_and_gil(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("fd", doms.peer) as ch:
        p = doms.spawn("echo", "fd", doms.me)
        ch.accept(timeout=20)
        fd = ch.fileno()
        assert isinstance(fd, int) and fd >= 0
        # a blocking recv in a thread lets this thread run (GIL released)
        got: list[bytes] = []
        t = threading.Thread(target=lambda: got.append(ch.recv(timeout=20)))
        t.start()
        spins, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 0.3:
            spins += 1
        assert t.is_alive() and spins > 1000
        ch.send(b"wake")
        t.join(20)
        assert got == [b"wake"]
        # the fd polls readable when the peer notifies; ack clears it
        with pytest.raises(BlockingIOError):
            ch.recv(timeout=0)                       # arms the peer's event
        ch.send(b"again")
        r, _, _ = select.select([fd], [], [], 20)
        assert r == [fd]
        ch.ack()
        assert ch.recv(timeout=0) == b"again"
    finish(p)


def test_hostile_peer_is_a_protocol_error(doms: Doms) -> None:
    with doms.holding(), ivcom.Channel.listen("evil", doms.peer) as ch:
        p = doms.spawn("hostile", "evil", doms.me)
        ch.accept(timeout=20)
        assert first_line(p) == "ok lied\n"
        with pytest.raises(ivcom.ProtocolError) as ei:
            ch.recv(timeout=20)
        assert isinstance(ei.value, ConnectionError) and ei.value.errno == errno.EPROTO
        assert ei.value.strerror == "peer broke the protocol (channel broken)"
        assert isinstance(ch.broken, ivcom.ProtocolError)
        for call in (lambda: ch.recv(timeout=0), lambda: ch.send(b"x", timeout=0)):
            with pytest.raises(ivcom.ProtocolError):
                call()
    finish(p)


def test_import_without_library() -> None:
    env = {**os.environ, "IVCOM_BUILD_DIR": "/nonexistent-ivcom"}
    env.pop("IVCOM_LIBRARY", None)
    code = ("import ivcom, ivcom.aio\n"
            "try:\n    ivcom.Platform()\n"
            "except OSError as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    if "find_library('ivcom') (nothing)" not in out:
        pytest.skip("a system libivcom is installed")
    assert "/nonexistent-ivcom/libivcom.so.1 (absent)" in out
    assert "_lib/libivcom.so.1 (absent)" in out and "IVCOM_LIBRARY" in out

    env["IVCOM_LIBRARY"] = "/nonexistent-ivcom/lib.so"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.startswith("OSError cannot load libivcom from IVCOM_LIBRARY=/nonexistent")
