"""asyncio over channels, driven by the channel's descriptor.

Every operation tries libivcom's non-blocking call first.  When it would
block, that call has already asked the peer for an event (the try_ calls
and a wait with timeout 0 arm the peer's notification before they give
up), so the coroutine registers the channel's descriptor with the event
loop (``loop.add_reader(ch.fileno())``), sleeps until the peer's event
makes it readable, acknowledges it (``ivcom_ack``) and tries again.  No
thread polls and nothing sleeps on a timer.

Set-up waits on XenStore the same way: :func:`connect` starts the set-up
(``ivcom_connect_start``) and advances it (``ivcom_connect_continue`` with
timeout 0) whenever the platform's XenStore watch descriptor
(``ivcom_connect_fd``) polls readable; a service's :meth:`AsyncService.accept`
calls ``ivcom_service_accept`` with timeout 0 whenever the service's
descriptor (the same watch) polls readable.  A platform's watch descriptor
may serve a service and several connects at once: each readable event
wakes all of them (a wake-up may be spurious: they look and wait again).

Channels::

    ch = ivcom.aio.listen("echo", peer=2)        # server for one peer
    await ch.accept()
    await ch.send(await ch.recv())

    svc = ivcom.aio.open_service("echo", allow=[2, 3])   # server for many
    ch = await svc.accept()                       # ch.peer_domid: who came

    ch = await ivcom.aio.connect("echo", server=1)   # client (of either)
    await ch.send(b"ping")

Streams (asyncio.StreamReader and a StreamWriter-like writer)::

    reader, writer = await ivcom.open_connection("echo", server=1)
    writer.write(b"hello\\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()

    server = await ivcom.start_server(handler, "echo")   # a service: any
    async with server:                                    # client, many at once
        await server.serve_forever()

Timeouts: wrap a call in ``asyncio.timeout()``; cancelling a wait leaves
the channel usable (a cancelled connect closes what it set up).  A channel
or service belongs to one event loop.  No thread is started, ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import select
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

from ivcom import _clib
from ivcom.channel import (
    EAGAIN,
    ETIMEDOUT,
    Channel,
    Mode,
    Platform,
    Stats,
    _check_domid,
    _check_name,
    _check_params,
    _check_size,
    address,
    destination,
    source,
)
from ivcom.exceptions import ChannelClosedError, closed_error, error_from
from ivcom.service import Service, ServiceStats

T = TypeVar("T")

# The last look of a connect whose timeout= passed: a wait this long makes
# ivcom_connect_continue say what held the set-up up (the reason of a
# timeout 0 call is only -EAGAIN).
CONNECT_LAST_LOOK = 0.001


# ---- descriptors several objects wait on ----------------------------------------

# Futures waiting for a descriptor to poll readable, by (event loop,
# descriptor): several per descriptor, as a platform's XenStore watch
# serves its service and its connects under way while loop.add_reader
# keeps one callback per descriptor.  A readable descriptor wakes all its
# waiters and leaves the selector until one waits again; an entry goes
# with its last waiter.
_fd_waiters: dict[tuple[asyncio.AbstractEventLoop, int], set[asyncio.Future[None]]] = {}


def _arm(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.Future[None]:
    fut: asyncio.Future[None] = loop.create_future()
    waiters = _fd_waiters.get((loop, fd))
    if waiters is None:
        waiters = _fd_waiters[loop, fd] = set()
        loop.add_reader(fd, _fd_ready, loop, fd)
    waiters.add(fut)
    return fut


def _drop(loop: asyncio.AbstractEventLoop, fd: int, fut: asyncio.Future[None]) -> None:
    """Forget a waiter (at once: the descriptor may be closed next)."""
    waiters = _fd_waiters.get((loop, fd))
    if waiters is not None and fut in waiters:
        waiters.discard(fut)
        if not waiters:
            del _fd_waiters[loop, fd]
            loop.remove_reader(fd)


def _fd_ready(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    waiters = _fd_waiters.pop((loop, fd), set())
    loop.remove_reader(fd)
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)


def _draining(loop: asyncio.AbstractEventLoop, fd: int, call: Callable[[], T]) -> T:
    """call() -- an ivcom_connect_continue or ivcom_service_accept, which
    begin by draining the platform's whole queue of watch events.  Events
    pending on fd then may have been another waiter's, one that looked at
    XenStore before they came and now waits on fd: wake them all to look
    again (a waiter that finds fd quiet drains nothing and wakes nobody)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    pending = bool(poller.poll(0))
    try:
        return call()
    finally:
        if pending and (loop, fd) in _fd_waiters:
            _fd_ready(loop, fd)


async def _readable(fd: int, mine: set[asyncio.Future[None]]) -> None:
    """Wait until fd polls readable; the waiter is in `mine` meanwhile
    (see _abandon)."""
    loop = asyncio.get_running_loop()
    fut = _arm(loop, fd)
    mine.add(fut)
    try:
        await fut
    finally:
        mine.discard(fut)
        _drop(loop, fd, fut)


def _abandon(loop: asyncio.AbstractEventLoop | None, fd: int,
             mine: set[asyncio.Future[None]], what: str) -> None:
    """The object behind fd closes: its waiters leave the selector now and
    get ChannelClosedError."""
    if loop is None:
        return
    for fut in list(mine):
        mine.discard(fut)
        _drop(loop, fd, fut)
        if not fut.done():
            fut.set_exception(closed_error(what))


class AsyncChannel:
    """An asyncio face of a :class:`ivcom.Channel` (``.channel``)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._waiters: set[asyncio.Future[None]] = set()
        self._reading = False

    # -- what it tells (the sync channel's) --

    @property
    def name(self) -> str:
        return self.channel.name

    @property
    def mode(self) -> Mode:
        return self.channel.mode

    @property
    def peer_domid(self) -> int:
        return self.channel.peer_domid

    @property
    def max_msg(self) -> int:
        return self.channel.max_msg

    @property
    def closed(self) -> bool:
        return self.channel.closed

    def fileno(self) -> int:
        return self.channel.fileno()

    def stats(self) -> Stats:
        return self.channel.stats()

    def __repr__(self) -> str:
        return f"<ivcom.aio.AsyncChannel of {self.channel!r}>"

    # -- the descriptor --

    def _arm(self) -> asyncio.Future[None]:
        """A future that completes at the peer's next event.  Registered
        synchronously after the failed attempt: an event that came in
        between is still pending on the descriptor."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._fd = self.channel.fileno()
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(f"{self!r} is used from a second event loop")
        if self.channel.closed:
            raise closed_error()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.add(fut)
        if not self._reading:
            loop.add_reader(self._fd, self._on_event)
            self._reading = True
        return fut

    def _unregister(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _on_event(self) -> None:
        waiters = list(self._waiters)
        self._waiters.clear()
        self._unregister()
        err: BaseException | None = None
        try:
            self.channel.ack()
        except Exception as exc:
            err = exc
        for fut in waiters:
            if not fut.done():
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    async def _event(self) -> None:
        fut = self._arm()
        try:
            await fut
        finally:
            self._waiters.discard(fut)
            if not self._waiters:
                self._unregister()

    async def _retry(self, attempt: Callable[[], T | None]) -> T:
        """attempt() until it gives a result (None: it would block)."""
        while True:
            r = attempt()
            if r is not None:
                return r
            await self._event()

    # -- set-up --

    async def accept(self) -> None:
        """Wait for the peer to connect (server side): the client's connect
        ends with an event to us."""
        ch = self.channel

        def attempt() -> bool | None:
            rc = ch._accept_once()
            if rc == ETIMEDOUT:
                return None
            ch._check(rc)
            return True

        await self._retry(attempt)

    # -- message mode --

    async def send(self, data: object) -> int:
        """Send one message; waits for room."""
        keep, ptr, n = source(data)
        ch = self.channel
        ch._need_mode(_clib.MODE_MESSAGE, "send()")
        ch._no_view(ch._tx_view, "send()")

        def attempt() -> int | None:
            r = ch._call("ivcom_try_send", ptr, n)
            return None if r == EAGAIN else ch._check(r)

        try:
            return await self._retry(attempt)
        finally:
            del keep

    async def recv(self, max_size: int | None = None) -> bytes:
        """Receive one message (see Channel.recv)."""
        ch = self.channel
        if max_size is not None:
            _check_size(max_size, "max_size")
        ch._need_mode(_clib.MODE_MESSAGE, "recv()")
        ch._no_view(ch._rx_view, "recv()")
        return await self._retry(lambda: ch._recv(0, max_size))

    async def recv_into(self, buffer: object) -> int:
        keep, addr, n = destination(buffer)
        ch = self.channel
        ch._need_mode(_clib.MODE_MESSAGE, "recv_into()")
        ch._no_view(ch._rx_view, "recv_into()")

        def attempt() -> int | None:
            r = ch._call("ivcom_try_recv", addr or None, n)
            return None if r == EAGAIN else ch._check(r)

        try:
            return await self._retry(attempt)
        finally:
            del keep

    # -- stream mode --

    async def write(self, data: object) -> int:
        """Write what fits (at least one byte); returns the count."""
        keep, ptr, n = source(data)
        ch = self.channel
        ch._need_mode(_clib.MODE_STREAM, "write()")
        ch._no_view(ch._tx_view, "write()")
        if n == 0:
            return 0

        def attempt() -> int | None:
            r = ch._call("ivcom_try_write", ptr, n)
            return None if r == EAGAIN else ch._check(r)

        try:
            return await self._retry(attempt)
        finally:
            del keep

    async def write_all(self, data: object) -> int:
        """Write all of data; returns its length."""
        keep, ptr, n = source(data)
        ch = self.channel
        ch._need_mode(_clib.MODE_STREAM, "write_all()")
        ch._no_view(ch._tx_view, "write_all()")
        base = address(ptr)
        done = 0

        def attempt() -> int | None:
            r = ch._call("ivcom_try_write", base + done, n - done)
            return None if r == EAGAIN else ch._check(r)

        try:
            while done < n:
                done += await self._retry(attempt)
        finally:
            del keep
        return n

    async def read(self, n: int) -> bytes:
        """Read up to n bytes (at least one)."""
        n = _check_size(n, "n")
        ch = self.channel
        ch._need_mode(_clib.MODE_STREAM, "read()")
        ch._no_view(ch._rx_view, "read()")
        if n == 0:
            return b""
        buf = ctypes.create_string_buffer(n)

        def attempt() -> int | None:
            r = ch._call("ivcom_try_read", buf, n)
            return None if r == EAGAIN else ch._check(r)

        got = await self._retry(attempt)
        return ctypes.string_at(buf, got)

    async def read_into(self, buffer: object) -> int:
        keep, addr, n = destination(buffer)
        ch = self.channel
        ch._need_mode(_clib.MODE_STREAM, "read_into()")
        ch._no_view(ch._rx_view, "read_into()")
        if n == 0:
            return 0

        def attempt() -> int | None:
            r = ch._call("ivcom_try_read", addr, n)
            return None if r == EAGAIN else ch._check(r)

        try:
            return await self._retry(attempt)
        finally:
            del keep

    async def flush(self) -> None:
        """Wait until the peer has consumed everything sent so far."""
        ch = self.channel

        def attempt() -> bool | None:
            r = ch._call("ivcom_flush", 0)
            if r == ETIMEDOUT:
                return None
            ch._check(r)
            return True

        await self._retry(attempt)

    # -- zero-copy --

    def reserve(self, n: int | None = None) -> AsyncReservation:
        """``async with ch.reserve(n) as view:`` (see Channel.reserve)."""
        if self.channel._mode == _clib.MODE_MESSAGE and n is None:
            raise TypeError("reserve() of a message needs its size n")
        return AsyncReservation(self, "tx", None if n is None else _check_size(n, "n"))

    def peek(self, n: int | None = None) -> AsyncReservation:
        """``async with ch.peek() as view:`` (see Channel.peek)."""
        return AsyncReservation(self, "rx", None if n is None else _check_size(n, "n"))

    # -- lifetime --

    def close(self) -> None:
        """Close the channel; waiting coroutines get ChannelClosedError."""
        waiters = list(self._waiters)
        self._waiters.clear()
        self._unregister()
        self.channel.close()
        for fut in waiters:
            if not fut.done():
                fut.set_exception(closed_error())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()


class AsyncReservation:
    """The async context manager of AsyncChannel.reserve()/peek()."""

    def __init__(self, ach: AsyncChannel, side: str, n: int | None) -> None:
        self._ach, self._side, self._n = ach, side, n
        self._len = 0

    async def __aenter__(self) -> memoryview:
        ch = self._ach.channel
        ch._zc_begin(self._side)

        def attempt() -> tuple[int, int] | None:
            r, addr, span = ch._zc_try(self._side, self._n)
            if r == EAGAIN:
                return None
            ch._check(r)
            return addr, span

        addr, self._len = await self._ach._retry(attempt)
        return ch._zc_open(self._side, addr, self._len)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._ach.channel._zc_end(self._side, self._len, exc_type is None)


# ---- set-up functions --------------------------------------------------------

def listen(name: str, peer: int, *, mode: Mode = "message",
           ring_order: int | tuple[int, int] = 16, spin_us: int | None = None,
           poll_only: bool = False, platform: Platform | None = None) -> AsyncChannel:
    """Offer a channel (returns at once); then ``await ch.accept()``."""
    return AsyncChannel(Channel.listen(name, peer, mode=mode, ring_order=ring_order,
                                       spin_us=spin_us, poll_only=poll_only, platform=platform))


async def connect(name: str, server: int, *, timeout: float | None = None,
                  spin_us: int | None = None, poll_only: bool = False,
                  platform: Platform | None = None) -> AsyncChannel:
    """Connect to channel `name` of domain `server` (a one-peer offer or a
    service), waiting up to timeout seconds (None: forever) for it.

    The set-up advances in this event loop whenever XenStore has news for
    it (no thread).  When timeout passes, one last look of a millisecond
    tells why the set-up could not finish, as Channel.connect's error does
    (TimeoutError: nothing came; PermissionError: an offer for another
    domain; OSError EBUSY: taken).  A connect cancelled, or ended by an
    error, closes what it set up."""
    ms = _clib.timeout_ms(timeout)
    pending = Channel.connect_start(name, server, spin_us=spin_us, poll_only=poll_only,
                                    platform=platform)
    loop = asyncio.get_running_loop()
    deadline = None if ms < 0 else loop.time() + ms / 1000
    mine: set[asyncio.Future[None]] = set()
    try:
        fd = pending.fileno()
        while True:
            ch = _draining(loop, fd, pending.advance)
            if ch is not None:
                return AsyncChannel(ch)
            if deadline is not None and loop.time() >= deadline:
                if ms == 0:
                    raise error_from(EAGAIN, name)
                ch = _draining(loop, fd, lambda: pending.advance(CONNECT_LAST_LOOK))
                assert ch is not None       # a wait ends connected or raises
                return AsyncChannel(ch)
            try:
                async with asyncio.timeout_at(deadline):
                    await _readable(fd, mine)
            except TimeoutError:
                pass                        # the deadline: looked at above
    except BaseException:
        pending.close()
        raise


# ---- services ----------------------------------------------------------------

class AsyncService:
    """An asyncio face of a :class:`ivcom.Service` (``.service``):
    ``await svc.accept()`` answers requests whenever the service's
    descriptor polls readable."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def mode(self) -> Mode:
        return self.service.mode

    @property
    def closed(self) -> bool:
        return self.service.closed

    def fileno(self) -> int:
        return self.service.fileno()

    def stats(self) -> ServiceStats:
        return self.service.stats()

    def __repr__(self) -> str:
        return f"<ivcom.aio.AsyncService of {self.service!r}>"

    async def accept(self) -> AsyncChannel:
        """The next client's channel (``peer_domid``: its domain).
        Cancelling the wait loses no client."""
        svc = self.service
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._fd = svc.fileno()
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(f"{self!r} is used from a second event loop")
        while True:
            ch = _draining(loop, self._fd, lambda: svc._accept(0))
            if ch is not None:
                return AsyncChannel(ch)
            await _readable(self._fd, self._waiters)

    def close(self) -> None:
        """Stop taking clients (accepted channels stay open); a waiting
        accept gets ChannelClosedError."""
        _abandon(self._loop, self._fd, self._waiters, "service")
        self.service.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()


def open_service(name: str, *, allow: Iterable[int] | None = None, max_per_domain: int = 0,
                 mode: Mode = "message", ring_order: int | tuple[int, int] = 16,
                 spin_us: int | None = None, poll_only: bool = False,
                 platform: Platform | None = None) -> AsyncService:
    """Publish service `name` (see Service.open; returns at once); then
    ``await svc.accept()`` for each client."""
    return AsyncService(Service.open(name, allow=allow, max_per_domain=max_per_domain,
                                     mode=mode, ring_order=ring_order, spin_us=spin_us,
                                     poll_only=poll_only, platform=platform))


# ---- streams -----------------------------------------------------------------

STREAM_LIMIT = 2**16


class _PumpTransport(asyncio.ReadTransport):
    """What the StreamReader sees as its transport: its flow control
    (pause_reading when its buffer is full) stops the pump, and the ring
    then fills up and stops the peer."""

    def __init__(self, ach: AsyncChannel) -> None:
        super().__init__()
        self._ach = ach
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pause_reading(self) -> None:
        self.resumed.clear()

    def resume_reading(self) -> None:
        self.resumed.set()

    def is_reading(self) -> bool:
        return self.resumed.is_set()

    def close(self) -> None:
        self._ach.close()

    def is_closing(self) -> bool:
        return self._ach.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return _extra(self._ach, name, default)


def _extra(ach: AsyncChannel, name: str, default: Any) -> Any:
    info: dict[str, Any] = {"channel": ach, "name": ach.name,
                            "peer_domid": ach.channel.peer_domid if not ach.closed else None}
    return info.get(name, default)


async def _pump(ach: AsyncChannel, reader: asyncio.StreamReader, transport: _PumpTransport,
                limit: int) -> None:
    stream = ach.mode == "stream"
    try:
        while True:
            await transport.resumed.wait()
            data = await (ach.read(limit) if stream else ach.recv())
            if data:
                reader.feed_data(data)
    except (BrokenPipeError, ChannelClosedError):
        reader.feed_eof()
    except asyncio.CancelledError:
        reader.feed_eof()
        raise
    except Exception as exc:
        reader.set_exception(exc)


class ChannelStreamWriter:
    """asyncio.StreamWriter's interface over a channel: write() buffers and
    a task sends in the background; drain() waits for it; close() sends
    what is buffered, then closes the channel (the peer's reader sees EOF
    once it has read everything).  No half-close: can_write_eof() is False."""

    def __init__(self, ach: AsyncChannel, transport: _PumpTransport,
                 reader: asyncio.StreamReader, pump: asyncio.Task[None]) -> None:
        self._ach = ach
        self._transport = transport
        self._reader = reader
        self._pump = pump
        self._buf = bytearray()
        self._sender: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def transport(self) -> asyncio.ReadTransport:
        return self._transport

    @property
    def channel(self) -> AsyncChannel:
        return self._ach

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return _extra(self._ach, name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closer is not None:
            raise closed_error("stream writer")
        if self._error is not None:
            raise self._error
        self._buf += data
        if self._sender is None and self._buf:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    def writelines(self, data: list[bytes] | tuple[bytes, ...]) -> None:
        for chunk in data:
            self.write(chunk)

    async def _send(self) -> None:
        try:
            while self._buf:
                data = bytes(self._buf)
                self._buf.clear()
                if self._ach.mode == "stream":
                    await self._ach.write_all(data)
                else:
                    step = self._ach.max_msg
                    for i in range(0, len(data), step):
                        await self._ach.send(data[i:i + step])
        except Exception as exc:
            self._error = exc
        finally:
            self._sender = None

    async def drain(self) -> None:
        """Wait until everything written is in the ring."""
        sender = self._sender
        if sender is not None:
            await asyncio.shield(sender)
        if self._error is not None:
            raise self._error

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a channel has no half-close: close() the writer")

    def is_closing(self) -> bool:
        return self._closer is not None

    def close(self) -> None:
        if self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        try:
            if self._sender is not None:
                await self._sender
        finally:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._ach.close()

    async def wait_closed(self) -> None:
        if self._closer is not None:
            await asyncio.shield(self._closer)
        if self._error is not None and not isinstance(self._error, BrokenPipeError):
            raise self._error

    def __repr__(self) -> str:
        return f"<ivcom.aio.ChannelStreamWriter {self._ach.channel!r}>"


def _streams(ach: AsyncChannel, limit: int) -> tuple[asyncio.StreamReader, ChannelStreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    transport = _PumpTransport(ach)
    reader.set_transport(transport)
    pump = loop.create_task(_pump(ach, reader, transport, limit))
    return reader, ChannelStreamWriter(ach, transport, reader, pump)


async def open_connection(name: str, server: int, *, timeout: float | None = None,
                          limit: int = STREAM_LIMIT, spin_us: int | None = None,
                          poll_only: bool = False, platform: Platform | None = None
                          ) -> tuple[asyncio.StreamReader, ChannelStreamWriter]:
    """Connect to channel `name` of domain `server`; returns (reader,
    writer) as asyncio.open_connection does.  A message-mode channel works
    too (each message read is data; each write is sent as messages)."""
    ach = await connect(name, server, timeout=timeout, spin_us=spin_us, poll_only=poll_only,
                        platform=platform)
    return _streams(ach, limit)


Handler = Callable[[asyncio.StreamReader, ChannelStreamWriter], Awaitable[None] | None]


class Server:
    """What start_server returns.  A service (no peer given) takes every
    allowed client and runs the handler for each in a task of its own,
    many at once.  A one-peer server (peer given) offers the channel,
    runs the handler for the peer that connects, closes the channel when
    the handler returns, and offers it again.  Either way until close(),
    which also ends the connections under way (their handlers are
    cancelled)."""

    def __init__(self, handler: Handler, name: str, limit: int, *,
                 service: AsyncService | None = None, peer: int | None = None,
                 listen_kw: dict[str, Any] | None = None) -> None:
        self._handler = handler
        self._name = name
        self._limit = limit
        self._service = service
        self._peer = peer
        self._kw = listen_kw or {}
        self._task: asyncio.Task[None] | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()

    @property
    def service(self) -> AsyncService | None:
        """The service (None for a one-peer server): its stats(), ..."""
        return self._service

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._serve_service() if self._service is not None
                                      else self._serve_peer())

    def _report(self, message: str, exc: BaseException) -> None:
        asyncio.get_running_loop().call_exception_handler({
            "message": f"ivcom server {self._name!r}: {message}",
            "exception": exc,
        })

    async def _connection(self, ach: AsyncChannel) -> None:
        """Run the handler over one connection; close it afterwards."""
        try:
            reader, writer = _streams(ach, self._limit)
            try:
                res = self._handler(reader, writer)
                if inspect.isawaitable(res):
                    await res
            except Exception as exc:
                self._report("unhandled exception in the client handler", exc)
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, ChannelClosedError) as exc:
            self._report("connection ended", exc)
        finally:
            ach.close()

    async def _serve_service(self) -> None:
        svc = self._service
        assert svc is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                ach = await svc.accept()
                task = loop.create_task(self._connection(ach))
                self._conns.add(task)
                task.add_done_callback(self._conns.discard)
        finally:
            svc.close()
            conns = list(self._conns)
            for task in conns:
                task.cancel()
            if conns:
                await asyncio.gather(*conns, return_exceptions=True)

    async def _serve_peer(self) -> None:
        assert self._peer is not None
        while True:
            ach = listen(self._name, self._peer, **self._kw)
            self._ready.set()
            try:
                await ach.accept()
            except (ConnectionError, ChannelClosedError) as exc:
                self._report("connection ended", exc)
                ach.close()
                continue
            except BaseException:
                ach.close()
                raise
            await self._connection(ach)

    def is_serving(self) -> bool:
        return self._task is not None and not self._task.done()

    def close(self) -> None:
        """Stop taking clients and end the connections under way."""
        if self._task is not None:
            self._task.cancel()

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def serve_forever(self) -> None:
        if self._task is None:
            raise RuntimeError("server is closed")
        await asyncio.shield(self._task)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def start_server(handler: Handler, name: str, peer: int | None = None, *,
                       allow: Iterable[int] | None = None, max_per_domain: int = 0,
                       mode: Mode = "stream", ring_order: int | tuple[int, int] = 16,
                       spin_us: int | None = None, poll_only: bool = False,
                       platform: Platform | None = None, limit: int = STREAM_LIMIT) -> Server:
    """Serve channel `name` and call handler(reader, writer) (a coroutine
    function or a plain one) for each connection, as asyncio.start_server
    does.  Without `peer`: a service (see Service.open: `allow`,
    `max_per_domain`), many clients at once, each handler in a task of its
    own.  With `peer`: a one-peer offer to that domain, one connection at
    a time (offered again when the handler returns).  The service or the
    offer is up when this returns."""
    _check_name(name)
    _check_params(mode, ring_order, spin_us, poll_only)
    if peer is None:
        svc = open_service(name, allow=allow, max_per_domain=max_per_domain, mode=mode,
                           ring_order=ring_order, spin_us=spin_us, poll_only=poll_only,
                           platform=platform)
        server = Server(handler, name, limit, service=svc)
        server._start()
        return server
    if allow is not None or max_per_domain:
        raise TypeError("allow and max_per_domain are a service's: give no peer")
    _check_domid(peer, "peer")
    server = Server(handler, name, limit, peer=peer,
                    listen_kw={"mode": mode, "ring_order": ring_order, "spin_us": spin_us,
                               "poll_only": poll_only, "platform": platform})
    server._start()
    assert server._task is not None
    ready = asyncio.ensure_future(server._ready.wait())
    done, _ = await asyncio.wait({ready, server._task}, return_when=asyncio.FIRST_COMPLETED)
    if server._task in done:
        ready.cancel()
        server._task.result()       # listen failed: raise its error
    return server
