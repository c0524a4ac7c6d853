"""ivcom.aio on the sim: coroutines driven by the channel's descriptor."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import threading

import ivcom
import ivcom.aio
import pytest
from api_helpers import Doms, finish, first_line
from api_peer import pattern
from ivcom import _clib


def run(doms: Doms, coro: object) -> object:
    """Run a test's coroutine while the peer's domain exists (an offer
    names only a live domain, and xenstored drops a departed one's ACL
    entries)."""
    with doms.holding():
        return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def test_round_trip_no_thread_no_blocking_wait(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("art", doms.peer, ring_order=12)
        p = doms.spawn("aio-echo", "art", doms.me)
        threads = threading.active_count()
        async with ch:
            await ch.accept()
            # messages much larger than the 4 KiB ring's share: both sides wait
            for i in range(200):
                m = pattern(1 + (i * 37) % 3000, i)
                await ch.send(m)
                assert await ch.recv() == m
            st = ch.stats()
            assert threading.active_count() == threads   # no helper thread
            assert st.blocks == 0 and st.spins == 0      # no C-side wait: the loop waited
            assert st.rx_msgs == 200
        out = await asyncio.to_thread(finish, p)
        assert out.startswith("ok echoed 200 blocks=0")

    run(doms, main())


def test_stream_exact_and_eof(doms: Doms) -> None:
    size = 400_000

    async def main() -> None:
        ch = ivcom.aio.listen("ast", doms.peer, mode="stream", ring_order=12)
        p = doms.spawn("stream-source", "ast", doms.me, size, 3)
        async with ch:
            await ch.accept()
            got = bytearray()
            buf = bytearray(1000)
            with pytest.raises(BrokenPipeError):
                while True:
                    if len(got) % 3 == 0:
                        got += await ch.read(4000)
                    else:
                        n = await ch.read_into(buf)
                        got += buf[:n]
            assert got == pattern(size, 3)
        await asyncio.to_thread(finish, p)

    run(doms, main())


def test_stream_write_all(doms: Doms) -> None:
    data = pattern(250_000, 4)

    async def main() -> None:
        ch = ivcom.aio.listen("asw", doms.peer, mode="stream", ring_order=12)
        p = doms.spawn("stream-sink", "asw", doms.me)
        async with ch:
            await ch.accept()
            assert await ch.write_all(data) == len(data)
            assert await ch.write(b"!") == 1
            await ch.flush()
        out = await asyncio.to_thread(finish, p)
        assert out == f"ok read {len(data) + 1} {hashlib.sha256(data + b'!').hexdigest()}\n"

    run(doms, main())


def test_cancelled_wait_leaves_channel_usable(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("acan", doms.peer)
        async with ch:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await ch.accept()                   # nobody yet
            p = doms.spawn("aio-echo", "acan", doms.me)
            await ch.accept()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ch.recv(), 0.2)  # nothing sent
            assert not ch._waiters and not ch._reading  # the fd is unregistered
            await ch.send(b"still here")
            assert await ch.recv() == b"still here"
        await asyncio.to_thread(finish, p)

    run(doms, main())


def test_zero_copy(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("azc", doms.peer)
        p = doms.spawn("aio-echo", "azc", doms.me)
        async with ch:
            await ch.accept()
            with pytest.raises(OSError):
                async with ch.reserve(3) as view:
                    view[:] = b"bad"
                    raise OSError("abandon")
            async with ch.reserve(4) as view:
                view[:] = b"good"
            with pytest.raises(ValueError):
                view[0] = 0
            async with ch.peek() as seen:
                assert bytes(seen) == b"good"
            with pytest.raises(ValueError):
                bytes(seen)
            assert ch.stats().tx_msgs == 1
        await asyncio.to_thread(finish, p)

    run(doms, main())


def test_zero_copy_stream(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("azs", doms.peer, mode="stream", ring_order=12)
        p = doms.spawn("stream-sink", "azs", doms.me)
        sent = bytearray()
        async with ch:
            await ch.accept()
            for i in range(100):                    # 100 x 500 B through 4 KiB: waits
                async with ch.reserve(500) as view:
                    chunk = bytes([i]) * len(view)
                    view[:] = chunk
                sent += chunk
        out = await asyncio.to_thread(finish, p)
        assert out == f"ok read {len(sent)} {hashlib.sha256(sent).hexdigest()}\n"

    run(doms, main())


def test_peer_closed_and_closed_channel(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("apc", doms.peer)
        p = doms.spawn("sender", "apc", doms.me, 3)
        await ch.accept()
        got = [await ch.recv() for _ in range(3)]
        assert got == [b"msg 0", b"msg 1", b"msg 2"]
        with pytest.raises(BrokenPipeError):
            await ch.recv()
        await asyncio.to_thread(finish, p)
        ch.close()
        ch.close()
        with pytest.raises(ivcom.ChannelClosedError):
            await ch.recv()

    run(doms, main())


def test_close_wakes_a_waiter(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("acw", doms.peer)
        p = doms.spawn("hold", "acw", doms.me)
        await ch.accept()
        assert await asyncio.to_thread(first_line, p) == "ok connected\n"
        task = asyncio.ensure_future(ch.recv())
        await asyncio.sleep(0.05)
        assert not task.done()
        ch.close()
        with pytest.raises(ivcom.ChannelClosedError) as ei:
            await task
        assert ei.value.errno == errno.EBADF
        await asyncio.to_thread(finish, p)

    run(doms, main())


def test_hostile_peer(doms: Doms) -> None:
    async def main() -> None:
        ch = ivcom.aio.listen("aevil", doms.peer)
        p = doms.spawn("hostile", "aevil", doms.me)
        async with ch:
            await ch.accept()
            assert await asyncio.to_thread(first_line, p) == "ok lied\n"
            with pytest.raises(ivcom.ProtocolError):
                await ch.recv()
        await asyncio.to_thread(finish, p)

    run(doms, main())


def test_start_server_lines(doms: Doms) -> None:
    """start_server here, open_connection in the peer."""
    async def handler(reader: asyncio.StreamReader,
                      writer: ivcom.aio.ChannelStreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
        await writer.drain()
        handled.append(writer.get_extra_info("peer_domid"))

    handled: list[int] = []

    async def main() -> None:
        server = await ivcom.start_server(handler, "lines", doms.peer, ring_order=12)
        async with server:
            # the channel ends when the handler returns; the offer is made
            # again for the next connection
            for n in (1, 2):
                p = doms.spawn("lines", "lines", doms.me, 3000)
                out = await asyncio.to_thread(finish, p)
                assert out == "ok lines 3000\n"
                for _ in range(100):
                    if len(handled) == n:
                        break
                    await asyncio.sleep(0.05)
            assert server.is_serving()
        assert handled == [doms.peer, doms.peer]
        assert not server.is_serving()

    run(doms, main())


def test_open_connection(doms: Doms) -> None:
    """open_connection here, start_server in the peer."""
    data = pattern(200_000, 8)

    async def main() -> None:
        with ivcom.Platform():                  # this domain exists for the offer
            p = doms.spawn("stream-server", "ocs", doms.me, len(data))
            assert await asyncio.to_thread(first_line, p) == "ok serving\n"
            reader, writer = await ivcom.open_connection("ocs", doms.peer, timeout=20)
            assert writer.get_extra_info("peer_domid") == doms.peer
            writer.write(data[:1000])
            writer.writelines([data[1000:150_000], data[150_000:]])
            await writer.drain()
            assert await reader.readline() == hashlib.sha256(data).hexdigest().encode() + b"\n"
            assert await reader.read() == b""   # the handler returned: EOF
            assert not writer.can_write_eof()
            writer.close()
            await writer.wait_closed()
            out = await asyncio.to_thread(finish, p)
            assert out.splitlines()[-1] == f"ok served {len(data)}"

    run(doms, main())


def test_connect_waits_for_the_offer_and_cancels(doms: Doms) -> None:
    async def main() -> None:
        with ivcom.Platform():                  # this domain exists for the offer
            # cancelled while no offer comes: ends on time, nothing left open
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ivcom.aio.connect("late", doms.peer), 0.3)
            task = asyncio.ensure_future(ivcom.aio.connect("late", doms.peer, timeout=30))
            await asyncio.sleep(0.3)
            assert not task.done()
            p = doms.spawn("stream-server", "late", doms.me, 3)
            ch = await task                     # the offer came: connected
            async with ch:
                assert ch.mode == "stream" and ch.peer_domid == doms.peer
                await ch.write_all(b"abc")
                line = b""
                while not line.endswith(b"\n"):
                    line += await ch.read(100)
                assert line == hashlib.sha256(b"abc").hexdigest().encode() + b"\n"
            await asyncio.to_thread(finish, p)

    run(doms, main())


def test_connect_timeout_and_cancel_close_what_they_set_up(
        doms: Doms, monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread, nothing left open, nothing left in the selector: a
    connect ended by asyncio.timeout, wait_for, cancel() or its own
    timeout= closes its half-made channel."""
    lib = _clib.lib()
    real_close = lib.ivcom_close
    closed: list[object] = []

    def spy_close(h: object) -> None:
        closed.append(h)
        real_close(h)

    monkeypatch.setattr(lib, "ivcom_close", spy_close)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threads = threading.active_count()
        with ivcom.Platform() as plat:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await ivcom.aio.connect("nobody", doms.peer, platform=plat)
            assert len(closed) == 1 and plat._nchan == 0
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ivcom.aio.connect("nobody", doms.peer, platform=plat),
                                       0.2)
            assert len(closed) == 2 and plat._nchan == 0
            task = asyncio.ensure_future(ivcom.aio.connect("nobody", doms.peer, timeout=30,
                                                           platform=plat))
            await asyncio.sleep(0.2)
            assert not task.done() and plat._nchan == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert len(closed) == 3 and plat._nchan == 0
            # its own timeout: the library's reason, as the sync connect's
            # (nothing under the peer's data directory we may read: EACCES)
            with pytest.raises(OSError) as sync_err:
                ivcom.Channel.connect("nobody", doms.peer, timeout=0.2, platform=plat)
            with pytest.raises(OSError) as ei:
                await ivcom.aio.connect("nobody", doms.peer, timeout=0.2, platform=plat)
            assert type(ei.value) is type(sync_err.value)
            assert ei.value.errno == sync_err.value.errno in (errno.ETIMEDOUT, errno.EACCES)
            with pytest.raises(BlockingIOError):
                await ivcom.aio.connect("nobody", doms.peer, timeout=0, platform=plat)
            assert len(closed) == 5 and plat._nchan == 0
            assert not plat.closed
        # a connect that owns its platform closes that too
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ivcom.aio.connect("nobody", doms.peer), 0.2)
        assert len(closed) == 6
        assert threading.active_count() == threads      # no helper thread
        assert not [k for k in ivcom.aio._fd_waiters if k[0] is loop]   # none registered

    run(doms, main())
