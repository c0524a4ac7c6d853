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

from ivcom._aio_fd import _fd_waiters as _fd_waiters
from ivcom.aio_channel import (
    CONNECT_LAST_LOOK,
    AsyncChannel,
    AsyncReservation,
    AsyncService,
    connect,
    listen,
    open_service,
)
from ivcom.aio_streams import (
    STREAM_LIMIT,
    ChannelStreamWriter,
    Handler,
    Server,
    open_connection,
    start_server,
)

__all__ = [
    "CONNECT_LAST_LOOK",
    "STREAM_LIMIT",
    "AsyncChannel",
    "AsyncReservation",
    "AsyncService",
    "ChannelStreamWriter",
    "Handler",
    "Server",
    "connect",
    "listen",
    "open_connection",
    "open_service",
    "start_server",
]
