"""asyncio streams over channels (see :mod:`ivcom.aio`): open_connection
and start_server give an asyncio.StreamReader and a StreamWriter-like
:class:`ChannelStreamWriter`, pumped by the channel's descriptor."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Self

from ivcom._args import Mode, _check_domid, _check_name, _check_params
from ivcom.aio_channel import AsyncChannel, AsyncService, connect, listen, open_service
from ivcom.exceptions import ChannelClosedError, closed_error
from ivcom.platform import Platform

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
