"""asyncio channels and services (see :mod:`ivcom.aio` for the whole
picture): :class:`AsyncChannel` retries libivcom's non-blocking calls
whenever the channel's descriptor polls readable; :func:`connect` and
:class:`AsyncService` advance XenStore set-ups on the platform's watch
descriptor."""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self, TypeVar

from ivcom import _clib
from ivcom._aio_fd import _abandon, _draining, _readable
from ivcom._args import (
    EAGAIN,
    ETIMEDOUT,
    Mode,
    _check_size,
    address,
    destination,
    source,
)
from ivcom.channel import Channel, Stats
from ivcom.exceptions import closed_error, error_from
from ivcom.platform import Platform
from ivcom.service import Service, ServiceStats

T = TypeVar("T")

# The last look of a connect whose timeout= passed: a wait this long makes
# ivcom_connect_continue say what held the set-up up (the reason of a
# timeout 0 call is only -EAGAIN).
CONNECT_LAST_LOOK = 0.001



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
