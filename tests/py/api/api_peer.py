"""The other domain of a channel test: run as its own process with the
sim environment and IVCOM_SIM_DOMID set (see api_helpers.Doms.spawn).

    python api_peer.py ROLE NAME OTHER_DOMID [ARG...]

Each role prints one line starting with "ok" when it got what it expected,
else fails with a traceback (exit 1).  Roles that must stay connected
until the test is done wait for stdin to close.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import hashlib
import random
import struct
import sys
import time

import ivcom
import ivcom.aio
from ivcom import _clib


def pattern(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def wait_stdin() -> None:
    sys.stdin.read()


def echo(name: str, server: int) -> None:
    """Message mode: send back every message until the server closes."""
    with ivcom.Channel.connect(name, server, timeout=20) as ch:
        n = 0
        try:
            while True:
                ch.send(ch.recv())
                n += 1
        except BrokenPipeError:
            print(f"ok echoed {n}")


def sender(name: str, server: int, count: str) -> None:
    """Send COUNT numbered messages, then close at once."""
    with ivcom.Channel.connect(name, server, timeout=20) as ch:
        for i in range(int(count)):
            ch.send(b"msg %d" % i)
    print("ok sent")


def stream_source(name: str, server: int, size: str, seed: str) -> None:
    """Stream mode: write SIZE pattern bytes in uneven pieces, then close."""
    data = pattern(int(size), int(seed))
    rng = random.Random(int(seed) + 1)
    with ivcom.Channel.connect(name, server, timeout=20) as ch:
        assert ch.mode == "stream"
        i = 0
        while i < len(data):
            step = rng.choice([1, 7, 100, 4096, 5000, 70000])
            if rng.random() < 0.5:
                i += ch.write(data[i:i + step])
            else:
                i += ch.write_all(bytearray(data[i:i + step]))
        ch.flush(timeout=20)
    print("ok wrote", hashlib.sha256(data).hexdigest())


def stream_sink(name: str, server: int) -> None:
    """Stream mode: read until the server closes, print the digest."""
    h = hashlib.sha256()
    n = 0
    with ivcom.Channel.connect(name, server, timeout=20) as ch:
        try:
            while True:
                chunk = ch.read(3000)
                h.update(chunk)
                n += len(chunk)
        except BrokenPipeError:
            pass
    print("ok read", n, h.hexdigest())


def hold(name: str, server: int) -> None:
    """Connect, say so, and stay until stdin closes."""
    with ivcom.Channel.connect(name, server, timeout=20):
        print("ok connected", flush=True)
        wait_stdin()


def third(name: str, server: int) -> None:
    """Connect to an offer made to another domain: must be refused."""
    try:
        ivcom.Channel.connect(name, server, timeout=1)
    except PermissionError as exc:
        print(f"ok refused errno={exc.errno} {exc.strerror}")
        return
    raise AssertionError("a third domain connected")


def refused(name: str, server: int, errname: str) -> None:
    """Connect to a service that must turn us down at once with ERRNAME
    (EACCES: outside its policy; EBUSY: over its per-domain limit)."""
    t0 = time.monotonic()
    try:
        ivcom.Channel.connect(name, server, timeout=20)
    except OSError as exc:
        took = time.monotonic() - t0
        assert exc.errno == getattr(errno, errname), exc
        assert took < 10, f"turned down only after {took:.1f} s"
        print(f"ok refused errno={exc.errno} {type(exc).__name__}")
        return
    raise AssertionError("connected")


def hostile(name: str, server: int) -> None:
    """A lying client: a record header whose length exceeds the ring,
    written where the real header of a reserved message lies, and
    committed.  Only the public API and this side's own ring are used."""
    with ivcom.Channel.connect(name, server, timeout=20) as ch:
        lib = _clib.lib()
        buf = ctypes.c_void_p()
        h = ch._enter()
        try:
            assert lib.ivcom_msg_reserve(h, 16, ctypes.byref(buf), 1000) == 0
            assert buf.value is not None
            # struct ivcom_msg_hdr {u32 len; u16 type (1 = DATA); u16 reserved}
            ctypes.memmove(buf.value - 8, struct.pack("<IHH", 0x7FFFFFF0, 1, 0), 8)
            assert lib.ivcom_msg_commit(h) == 0
        finally:
            ch._leave()
        print("ok lied", flush=True)
        wait_stdin()


async def _aio_echo(name: str, server: int) -> None:
    ch = await ivcom.aio.connect(name, server, timeout=20)
    async with ch:
        n = 0
        try:
            while True:
                await ch.send(await ch.recv())
                n += 1
        except BrokenPipeError:
            st = ch.stats()
            print(f"ok echoed {n} blocks={st.blocks}")


def aio_echo(name: str, server: int) -> None:
    asyncio.run(_aio_echo(name, server))


async def _lines(name: str, server: int, count: str) -> None:
    reader, writer = await ivcom.open_connection(name, server, timeout=20)
    for i in range(int(count)):
        writer.write(b"line %d\n" % i)
    await writer.drain()
    got = [await reader.readline() for _ in range(int(count))]
    assert got == [b"LINE %d\n" % i for i in range(int(count))], got[:3]
    writer.close()
    await writer.wait_closed()
    print("ok lines", len(got))


def lines(name: str, server: int, count: str) -> None:
    asyncio.run(_lines(name, server, count))


async def _stream_server(name: str, client: int, size: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: ivcom.aio.ChannelStreamWriter
                      ) -> None:
        data = await reader.readexactly(int(size))
        writer.write(hashlib.sha256(data).hexdigest().encode() + b"\n")
        await writer.drain()
        await writer.channel.flush()
        done.set_result(len(data))

    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = await ivcom.start_server(handler, name, client, ring_order=12)
    print("ok serving", flush=True)
    async with server:
        n = await asyncio.wait_for(done, 30)
    print("ok served", n)


def stream_server(name: str, client: int, size: str) -> None:
    asyncio.run(_stream_server(name, client, size))


ROLES = {f.__name__.replace("_", "-"): f for f in (
    echo, sender, stream_source, stream_sink, hold, third, refused, hostile, aio_echo, lines,
    stream_server)}


if __name__ == "__main__":
    role, name, other, *args = sys.argv[1:]
    ROLES[role](name, int(other), *args)
