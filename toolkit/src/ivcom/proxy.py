"""`ivcom proxy`: unmodified socket programs over IVCOM channels.

``listen`` accepts local socket clients (TCP or Unix) and gives each one a
channel of its own to a service of another domain; ``serve`` is that
service: each client domain's channel becomes a connection to a local
socket.  Between two proxies the channel is in message mode and carries
the proxy protocol: every message is a piece of the byte stream, an empty
message ends one direction (the socket's EOF, i.e. a half-close: the other
direction keeps flowing), and the channel is closed once both directions
ended.  A channel that ends before its empty message came (the other
proxy died, or reset its socket) resets our socket: a TCP client sees
ECONNRESET (SO_LINGER 0), not an EOF that would pass for a complete reply.

``listen`` also speaks to a stream-mode service (one that is no proxy,
e.g. ``ivcom.start_server``): raw bytes both ways; a stream channel has no
half-close (ivcom.h has no shutdown of one direction), so the socket's
EOF closes the channel once the peer has read everything, and the
channel's end is the socket's EOF.

When the service's domain is not on this host (no such domain in the
local XenStore, no XenStore or no IVCOM platform at all, or the connect is
refused or finds nobody), ``listen --tcp-fallback`` dials plain TCP
instead and says so, once per connection: the same deployment then runs
across hosts, as XenLoop did in the kernel.  ``serve --tcp-listen`` is the
other end of that TCP.

Everything runs in one asyncio event loop, driven by the descriptors of
the sockets and channels (no thread), with bounded buffers: a side that
does not read stops the other (its ring or socket buffer fills).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import itertools
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ivcom.aio_channel import AsyncChannel, connect, open_service
from ivcom.exceptions import ChannelClosedError
from ivcom.platform import Platform

#: The most one read takes from a socket or a stream channel; messages are
#: at most the channel's max_msg (ring size - 8).
CHUNK = 65536
#: Socket buffering per direction, in bytes: asyncio's StreamReader pauses
#: reading past twice this, a writer's drain() waits past it.
SOCKET_LIMIT = 65536
#: Errors of a connect that mean "nobody to connect to there": fall back.
FALLBACK_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ESRCH,
                             errno.ETIMEDOUT, errno.ECONNREFUSED, errno.ECONNRESET,
                             errno.EHOSTUNREACH})


# ---- addresses -----------------------------------------------------------------

@dataclass(frozen=True)
class SockAddr:
    """A local socket address: tcp:HOST:PORT (HOST:PORT, [V6]:PORT) or
    unix:PATH."""

    kind: Literal["tcp", "unix"]
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def parse_sockaddr(text: str) -> SockAddr:
    """tcp:HOST:PORT, HOST:PORT or unix:PATH; ValueError with the reason."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError(f"{text!r}: unix:PATH needs a path")
        return SockAddr("unix", path=path)
    rest = text[4:] if text.startswith("tcp:") else text
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not tcp:HOST:PORT, HOST:PORT or unix:PATH")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: port {port!r} is not a number 1..65535")
    return SockAddr("tcp", host=host, port=int(port))


@dataclass(frozen=True)
class Target:
    """DOMAIN:SERVICE -- a domain name or id, and a service name."""

    domain: str
    service: str

    def __str__(self) -> str:
        return f"{self.domain}:{self.service}"


# ---- is a domain on this host? ----------------------------------------------------

class _LocalStore:
    """The local XenStore through libxenstore (XENSTORED_PATH, its socket or
    /dev/xen/xenbus), synchronous: a lookup is one or two local round trips.
    None of pyxs: its client starts a thread."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("xenstore") or "libxenstore.so.4"
        lib = ctypes.CDLL(name, use_errno=True)
        lib.xs_open.restype = ctypes.c_void_p
        lib.xs_open.argtypes = [ctypes.c_ulong]
        lib.xs_close.argtypes = [ctypes.c_void_p]
        lib.xs_read.restype = ctypes.c_void_p
        lib.xs_read.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p,
                                ctypes.POINTER(ctypes.c_uint)]
        lib.xs_directory.restype = ctypes.c_void_p
        lib.xs_directory.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_uint)]
        libc = ctypes.CDLL(None)
        libc.free.argtypes = [ctypes.c_void_p]
        self._lib, self._free = lib, libc.free
        self._h = lib.xs_open(0)
        if not self._h:
            raise OSError(ctypes.get_errno(), "no XenStore here")

    def read(self, path: str) -> bytes:
        n = ctypes.c_uint()
        p = self._lib.xs_read(self._h, 0, path.encode(), ctypes.byref(n))
        if not p:
            err = ctypes.get_errno()
            raise OSError(err, f"{path}: {errno.errorcode.get(err, err)}")
        try:
            return ctypes.string_at(p, n.value)
        finally:
            self._free(p)

    def directory(self, path: str) -> list[str]:
        n = ctypes.c_uint()
        p = self._lib.xs_directory(self._h, 0, path.encode(), ctypes.byref(n))
        if not p:
            err = ctypes.get_errno()
            raise OSError(err, f"{path}: {errno.errorcode.get(err, err)}")
        try:
            arr = ctypes.cast(p, ctypes.POINTER(ctypes.c_char_p))
            return [(arr[i] or b"").decode(errors="replace") for i in range(n.value)]
        finally:
            self._free(p)

    def close(self) -> None:
        h, self._h = self._h, None
        if h:
            self._lib.xs_close(h)


def locate(domain: str) -> tuple[int | None, str]:
    """(domid, "") when `domain` (an id or a name) is on this host, else
    (None, why).  A domain whose node this domain may not read is taken to
    be here (xenstored answers EACCES for it): the connect then tells."""
    try:
        store = _LocalStore()
    except OSError as exc:
        return None, f"no XenStore here ({exc.strerror or exc})"
    try:
        if domain.isdigit():
            try:
                store.read(f"/local/domain/{int(domain)}")
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return None, f"no domain {domain} in XenStore"
            return int(domain), ""
        try:
            ids = store.directory("/local/domain")
        except OSError as exc:
            return None, f"cannot list the domains to find {domain!r}: {exc.strerror}"
        for d in ids:
            with contextlib.suppress(OSError):
                if d.isdigit() and store.read(f"/local/domain/{d}/name").decode() == domain:
                    return int(d), ""
        return None, f"no domain named {domain!r} in XenStore"
    finally:
        store.close()


# ---- the two kinds of end ------------------------------------------------------------

class Lost(Exception):
    """An end went away abnormally (reset, peer death, protocol error)."""


class End(Protocol):
    async def read(self) -> bytes: ...          # b"": this direction ended
    async def write(self, data: bytes) -> None: ...
    async def write_eof(self) -> None: ...
    def abort(self) -> None: ...                # the other party sees a reset
    async def close(self) -> None: ...


class SocketEnd:
    """An asyncio stream socket (TCP or Unix)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        writer.transport.set_write_buffer_limits(SOCKET_LIMIT)

    async def read(self) -> bytes:
        try:
            return await self._reader.read(CHUNK)
        except OSError as exc:
            raise Lost(f"socket: {exc.strerror or exc}") from exc

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            raise Lost(f"socket: {exc.strerror or exc}") from exc

    async def write_eof(self) -> None:
        try:
            if self._writer.can_write_eof():
                self._writer.write_eof()        # after what is buffered
            await self._writer.drain()
        except OSError as exc:
            raise Lost(f"socket: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        """Reset: a TCP peer gets ECONNRESET (SO_LINGER 0 makes close send
        RST); a Unix one sees the connection end."""
        sock = self._writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class ChannelEnd:
    """A channel to the other proxy (message mode: the proxy protocol) or
    to a stream-mode service (raw bytes, no half-close)."""

    def __init__(self, ach: AsyncChannel) -> None:
        self._ach = ach
        self._message = ach.mode == "message"
        self._step = min(CHUNK, ach.max_msg) if self._message else CHUNK
        self._shut = False

    async def read(self) -> bytes:
        try:
            if self._message:
                return await self._ach.recv()   # b"": the other side's EOF
            return await self._ach.read(CHUNK)
        except BrokenPipeError as exc:
            if self._message:
                raise Lost("the channel ended before its end of data (the other side "
                           "died or reset)") from exc
            return b""                          # stream mode: the peer closed
        except ChannelClosedError as exc:
            if self._shut:
                return b""
            raise Lost("channel closed") from exc
        except OSError as exc:
            raise Lost(f"channel: {exc}") from exc

    async def write(self, data: bytes) -> None:
        try:
            if not self._message:
                await self._ach.write_all(data)
                return
            for i in range(0, len(data), self._step):
                await self._ach.send(data[i:i + self._step])
        except OSError as exc:
            raise Lost(f"channel: {exc}") from exc

    async def write_eof(self) -> None:
        try:
            if self._message:
                await self._ach.send(b"")       # end of this direction
                return
            await self._ach.flush()             # no half-close: close once read
            self._shut = True
            self._ach.close()
        except OSError as exc:
            raise Lost(f"channel: {exc}") from exc

    def abort(self) -> None:
        self._ach.close()                       # no end-of-data: the peer resets

    async def close(self) -> None:
        self._ach.close()


async def splice(a: End, b: End) -> tuple[int, int, str | None]:
    """Pump a -> b and b -> a until both directions ended (each EOF passed
    on as a half-close), then close both; any abnormal end aborts both.
    Returns (bytes a->b, bytes b->a, None or why it was reset)."""
    counts = [0, 0]

    async def pump(src: End, dst: End, i: int) -> None:
        while data := await src.read():
            counts[i] += len(data)
            await dst.write(data)
        await dst.write_eof()

    tasks = [asyncio.ensure_future(pump(a, b, 0)), asyncio.ensure_future(pump(b, a, 1))]
    why: str | None = None
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            exc = t.exception()
            if exc is not None:
                raise exc
        await asyncio.gather(*tasks)
    except Lost as exc:
        why = str(exc)
    except BaseException:
        _abort_all(tasks, a, b)
        raise
    if why is not None:
        _abort_all(tasks, a, b)
        await asyncio.gather(*tasks, return_exceptions=True)
    else:
        await a.close()
        await b.close()
    return counts[0], counts[1], why


def _abort_all(tasks: Iterable[asyncio.Future[None]], a: End, b: End) -> None:
    for t in tasks:
        t.cancel()
    a.abort()
    b.abort()


# ---- the two proxies ----------------------------------------------------------------

class Log:
    """One line per event on stderr: notes always, connection lines with -v."""

    def __init__(self, prog: str, verbose: bool) -> None:
        self.prog, self.verbose = prog, verbose

    def note(self, text: str) -> None:
        print(f"{self.prog}: {text}", file=sys.stderr, flush=True)

    def conn(self, text: str) -> None:
        if self.verbose:
            self.note(text)


async def open_socket(addr: SockAddr) -> SocketEnd:
    if addr.kind == "unix":
        r, w = await asyncio.open_unix_connection(addr.path, limit=SOCKET_LIMIT)
    else:
        r, w = await asyncio.open_connection(addr.host, addr.port, limit=SOCKET_LIMIT)
    return SocketEnd(r, w)


async def serve_socket(addr: SockAddr, handler: _Handler) -> asyncio.Server:
    if addr.kind == "unix":
        return await asyncio.start_unix_server(handler, addr.path, limit=SOCKET_LIMIT)
    return await asyncio.start_server(handler, addr.host, addr.port, limit=SOCKET_LIMIT,
                                      reuse_address=True)


class _Handler(Protocol):
    async def __call__(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None: ...


def _peer(writer: asyncio.StreamWriter) -> str:
    name = writer.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]}:{name[1]}"
    return "unix client"


class _Proxy:
    def __init__(self, log: Log) -> None:
        self.log = log
        self._ids = itertools.count(1)
        self._conns: set[asyncio.Task[None]] = set()

    async def _run(self, n: int, label: str, a: End, b: End) -> None:
        up, down, why = await splice(a, b)
        if why is None:
            self.log.conn(f"conn {n} {label}: closed ({up} bytes in, {down} out)")
        else:
            self.log.conn(f"conn {n} {label}: reset after {up} bytes in, {down} out: {why}")

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)

    async def _shutdown(self) -> None:
        for t in list(self._conns):
            t.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)


class ListenProxy(_Proxy):
    """Local socket clients -> a channel each to `target` (or TCP to
    `fallback` when its domain is not here)."""

    def __init__(self, listen: SockAddr, target: Target, fallback: SockAddr | None,
                 log: Log, connect_timeout: float = 10.0) -> None:
        super().__init__(log)
        self.listen, self.target, self.fallback = listen, target, fallback
        self.connect_timeout = connect_timeout
        self.platform: Platform | None = None
        self._no_platform = ""

    async def run(self) -> None:
        try:
            self.platform = Platform()
        except OSError as exc:
            if self.fallback is None:
                raise
            self._no_platform = f"no IVCOM platform here ({exc.strerror or exc})"
        server = await serve_socket(self.listen, self._client)
        self.log.conn(f"listening on {self.listen} for {self.target}"
                      + (f" (TCP fallback {self.fallback})" if self.fallback else ""))
        try:
            async with server:
                await server.serve_forever()
        finally:
            await self._shutdown()
            if self.platform is not None:
                self.platform.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        n = next(self._ids)
        client = SocketEnd(reader, writer)
        who = _peer(writer)
        domid, why = (None, self._no_platform) if self._no_platform else \
            locate(self.target.domain)
        if domid is not None:
            assert self.platform is not None
            try:
                ach = await connect(self.target.service, domid, timeout=self.connect_timeout,
                                    platform=self.platform)
            except OSError as exc:
                if exc.errno not in FALLBACK_ERRNOS:
                    self.log.note(f"conn {n} from {who}: {self.target}: {exc}")
                    client.abort()
                    return
                why = f"connect to {self.target} failed: {exc.strerror or exc}"
            else:
                label = f"from {who} -> {self.target} ({ach.mode} channel)"
                self.log.conn(f"conn {n} {label}: open")
                await self._run(n, label, client, ChannelEnd(ach))
                return
        if self.fallback is None:
            self.log.note(f"conn {n} from {who}: {why}; no --tcp-fallback: reset")
            client.abort()
            return
        self.log.note(f"conn {n} from {who}: {why}: over TCP to {self.fallback}")
        try:
            other = await open_socket(self.fallback)
        except OSError as exc:
            self.log.note(f"conn {n}: TCP fallback {self.fallback}: {exc.strerror or exc}")
            client.abort()
            return
        await self._run(n, f"from {who} -> {self.fallback} (TCP)", client, other)


class ServeProxy(_Proxy):
    """An IVCOM service whose every channel (and, with `tcp_listen`, every
    TCP client) becomes a connection to the local socket `to`."""

    def __init__(self, name: str, to: SockAddr, allow: list[int] | None,
                 tcp_listen: SockAddr | None, log: Log, max_per_domain: int = 64,
                 ring_order: int = 16) -> None:
        super().__init__(log)
        self.name, self.to, self.allow, self.tcp_listen = name, to, allow, tcp_listen
        self.max_per_domain, self.ring_order = max_per_domain, ring_order

    async def run(self) -> None:
        svc = open_service(self.name, allow=self.allow, max_per_domain=self.max_per_domain,
                           mode="message", ring_order=self.ring_order)
        server: asyncio.Server | None = None
        try:
            if self.tcp_listen is not None:
                server = await serve_socket(self.tcp_listen, self._tcp_client)
            self.log.conn(f"serving {self.name!r} -> {self.to}"
                          + (f", TCP on {self.tcp_listen}" if self.tcp_listen else ""))
            while True:
                ach = await svc.accept()
                task = asyncio.ensure_future(self._channel(ach))
                self._conns.add(task)
                task.add_done_callback(self._conns.discard)
        finally:
            svc.close()
            if server is not None:
                server.close()
            await self._shutdown()

    async def _target(self, n: int, label: str) -> SocketEnd | None:
        try:
            return await open_socket(self.to)
        except OSError as exc:
            self.log.note(f"conn {n} {label}: {self.to}: {exc.strerror or exc}: reset")
            return None

    async def _channel(self, ach: AsyncChannel) -> None:
        n = next(self._ids)
        label = f"from domain {ach.peer_domid} -> {self.to}"
        end = ChannelEnd(ach)
        target = await self._target(n, label)
        if target is None:
            end.abort()
            return
        self.log.conn(f"conn {n} {label}: open")
        await self._run(n, label, end, target)

    async def _tcp_client(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self._track()
        n = next(self._ids)
        client = SocketEnd(reader, writer)
        label = f"from {_peer(writer)} (TCP) -> {self.to}"
        target = await self._target(n, label)
        if target is None:
            client.abort()
            return
        self.log.conn(f"conn {n} {label}: open")
        await self._run(n, label, client, target)
