"""Clients of the kv service: an in-memory key-value store served over IVCOM
channels by ``ivcom-kv serve`` (a Linux domain) or the tiny guest's kv
service domain, one request and one reply per message (the framing is
minios-app/README.md's "kv service"; the C twin is
minios-app/apps/kv/kv_proto.h).

Synchronous::

    from ivcom.kv import KVClient

    with KVClient.connect(server=3) as kv:          # service "kv" of domain 3
        kv.put("colour", b"blue")
        kv.get("colour")                            # b'blue'
        kv.list("col")                              # [b'colour']
        kv.delete("colour")
        kv.get("colour")                            # raises KeyError

asyncio (driven by the channel's descriptor, no thread)::

    async with await AsyncKVClient.connect(server=3) as kv:
        await kv.put("colour", b"blue")

Keys are bytes (a str is encoded as UTF-8), 1..512 of them; values are
bytes-like, up to what one reply carries (``stats().value_max``).  Errors
are exceptions that subclass the builtins: a missing key is a
:class:`KeyError` (:class:`KVNotFoundError`), a key or value over its limit
or a request the service could not parse a :class:`ValueError`, a full
store an :class:`OSError` with ``errno.ENOSPC``, a reply that does not
frame a :class:`ConnectionError`; the channel's own errors are the channel
API's (``BrokenPipeError`` when the service went away, ...).
"""

from __future__ import annotations

import asyncio
import errno
import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from types import TracebackType
from typing import Self

from ivcom.aio import AsyncChannel
from ivcom.aio import connect as aio_connect
from ivcom.channel import Channel
from ivcom.platform import Platform

__all__ = [
    "KEY_MAX",
    "AsyncKVClient",
    "KVBadRequestError",
    "KVClient",
    "KVError",
    "KVNotFoundError",
    "KVProtocolError",
    "KVStats",
    "KVStoreFullError",
    "KVTooLargeError",
    "Op",
    "Reply",
    "Status",
    "decode_reply",
    "encode_request",
    "parse_list",
    "parse_stats",
]

# request: op flags klen id vlen; reply: op status flags id len
HEADER = struct.Struct("<BBHII")
KEY_MAX = 512
REPLY_MORE = 0x0001
DEFAULT_NAME = "kv"


class Op(IntEnum):
    GET = 1
    PUT = 2
    DEL = 3
    LIST = 4
    STATS = 5


class Status(IntEnum):
    OK = 0
    NOTFOUND = 1
    TOOLARGE = 2
    FULL = 3
    BADFRAME = 4
    BADOP = 5
    BADKEY = 6


# ---- errors ---------------------------------------------------------------------


class KVError(Exception):
    """An error reply of the kv service (or the same error found before
    sending); ``status`` is the protocol's code."""

    status: Status | None = None


class KVNotFoundError(KVError, KeyError):
    """No such key (args[0] is the key)."""

    status = Status.NOTFOUND


class KVTooLargeError(KVError, ValueError):
    """A key, prefix or value over its limit."""

    status = Status.TOOLARGE


class KVBadRequestError(KVError, ValueError):
    """The service could not parse the request (bad frame, op or key)."""


class KVStoreFullError(KVError, OSError):
    """The service's store has no room left (errno ENOSPC)."""

    status = Status.FULL


class KVProtocolError(KVError, ConnectionError):
    """A reply that does not frame, or answers another request."""


def _error(status: int, key: bytes) -> KVError:
    if status == Status.NOTFOUND:
        return KVNotFoundError(key)
    if status == Status.TOOLARGE:
        return KVTooLargeError(f"key {key[:40]!r}: key or value over the service's limit")
    if status == Status.FULL:
        return KVStoreFullError(errno.ENOSPC, "the kv store is full")
    if status in (Status.BADFRAME, Status.BADOP, Status.BADKEY):
        err = KVBadRequestError(f"the service refused the request: {Status(status).name}")
        err.status = Status(status)
        return err
    return KVProtocolError(f"unknown status {status} in a reply")


# ---- framing (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    op: int
    status: int
    flags: int
    ident: int
    payload: bytes


@dataclass(frozen=True)
class KVStats:
    """The service's counters (STATS), in the protocol's order."""

    keys: int = 0
    bytes_used: int = 0
    bytes_budget: int = 0
    key_max: int = 0
    value_max: int = 0
    gets: int = 0
    hits: int = 0
    puts: int = 0
    dels: int = 0
    lists: int = 0
    errors: int = 0
    bad_frames: int = 0


def _key(key: bytes | str, what: str = "key", empty_ok: bool = False) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes or str, not {type(key).__name__}")
    key = bytes(key)
    if not key and not empty_ok:
        err = KVBadRequestError(f"{what} must not be empty")
        err.status = Status.BADKEY
        raise err
    if len(key) > KEY_MAX:
        raise KVTooLargeError(f"{what} of {len(key)} bytes over the limit of {KEY_MAX}")
    return key


def encode_request(op: int, ident: int, key: bytes = b"", value: bytes = b"") -> bytes:
    """One request message."""
    return HEADER.pack(op, 0, len(key), ident & 0xFFFFFFFF, len(value)) + key + value


def decode_reply(data: bytes) -> Reply:
    """A reply message; KVProtocolError if it does not frame."""
    if len(data) < HEADER.size:
        raise KVProtocolError(f"reply of {len(data)} bytes, shorter than its header")
    op, status, flags, ident, plen = HEADER.unpack_from(data)
    if plen != len(data) - HEADER.size:
        raise KVProtocolError(f"reply says {plen} payload bytes, carries {len(data) - 12}")
    if status != Status.OK and plen:
        raise KVProtocolError("an error reply with a payload")
    return Reply(op, status, flags, ident, bytes(data[HEADER.size:]))


def parse_list(payload: bytes) -> list[bytes]:
    """The keys of a LIST reply."""
    keys, off = [], 0
    while off < len(payload):
        if off + 2 > len(payload):
            raise KVProtocolError("LIST reply: entry header cut")
        (n,) = struct.unpack_from("<H", payload, off)
        off += 2
        if n == 0 or off + n > len(payload):
            raise KVProtocolError("LIST reply: entry cut")
        keys.append(payload[off:off + n])
        off += n
    return keys


def parse_stats(payload: bytes) -> KVStats:
    """The counters of a STATS reply (later versions may send more)."""
    names = [f.name for f in fields(KVStats)]
    count = min(len(payload) // 8, len(names))
    values = struct.unpack_from(f"<{count}Q", payload)
    return KVStats(**dict(zip(names, values, strict=False)))


class _Requests:
    """Request building and reply checking, shared by both clients."""

    def __init__(self, max_msg: int) -> None:
        self._max_msg = max_msg
        self._ident = 0

    def build(self, op: Op, key: bytes = b"", value: bytes = b"") -> tuple[int, bytes]:
        if HEADER.size + len(key) + len(value) > self._max_msg:
            raise KVTooLargeError(f"request of {HEADER.size + len(key) + len(value)} bytes "
                                  f"over the channel's largest message {self._max_msg}")
        self._ident = (self._ident + 1) & 0xFFFFFFFF
        return self._ident, encode_request(op, self._ident, key, value)

    @staticmethod
    def check(op: Op, ident: int, data: bytes, key: bytes) -> Reply | None:
        """The reply to request ident, or None for the late reply of an
        earlier request (one whose wait timed out or was cancelled)."""
        rep = decode_reply(data)
        if rep.ident != ident and 0 < (ident - rep.ident) & 0xFFFFFFFF < 1 << 31:
            return None
        if rep.op != op or rep.ident != ident:
            raise KVProtocolError(f"reply to op {rep.op} id {rep.ident}, "
                                  f"expected op {int(op)} id {ident}")
        if rep.status != Status.OK:
            raise _error(rep.status, key)
        return rep


# ---- clients ---------------------------------------------------------------------


class KVClient:
    """A synchronous client on one channel; one request at a time."""

    def __init__(self, channel: Channel, timeout: float | None = 10.0) -> None:
        self._ch = channel
        self._timeout = timeout
        self._req = _Requests(channel.max_msg)

    @classmethod
    def connect(cls, server: int, name: str = DEFAULT_NAME, *, timeout: float | None = 10.0,
                platform: Platform | None = None) -> Self:
        """Connect to service `name` of domain `server`; `timeout` bounds
        the set-up and each request."""
        return cls(Channel.connect(name, server, timeout=timeout, platform=platform), timeout)

    @property
    def channel(self) -> Channel:
        return self._ch

    def _call(self, op: Op, key: bytes = b"", value: bytes = b"") -> Reply:
        ident, msg = self._req.build(op, key, value)
        self._ch.send(msg, timeout=self._timeout)
        while (rep := self._req.check(op, ident, self._ch.recv(timeout=self._timeout),
                                      key)) is None:
            pass
        return rep

    def get(self, key: bytes | str) -> bytes:
        """The value of key; KeyError (KVNotFoundError) if there is none."""
        return self._call(Op.GET, _key(key)).payload

    def put(self, key: bytes | str, value: bytes | bytearray | memoryview) -> None:
        """Store value under key (created or replaced)."""
        self._call(Op.PUT, _key(key), bytes(value))

    def delete(self, key: bytes | str) -> None:
        """Remove key; KeyError (KVNotFoundError) if there is none."""
        self._call(Op.DEL, _key(key))

    def list(self, prefix: bytes | str = b"") -> list[bytes]:
        """Every key that starts with prefix, ascending (as many replies as
        it takes)."""
        p = _key(prefix, "prefix", empty_ok=True)
        keys: list[bytes] = []
        cursor = b""
        while True:
            rep = self._call(Op.LIST, p, cursor)
            page = parse_list(rep.payload)
            keys += page
            if not rep.flags & REPLY_MORE:
                return keys
            if not page:
                raise KVProtocolError("LIST reply: more to come but no key")
            cursor = page[-1]

    def stats(self) -> KVStats:
        return parse_stats(self._call(Op.STATS).payload)

    def close(self) -> None:
        self._ch.close()

    @property
    def closed(self) -> bool:
        return self._ch.closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<KVClient {self._ch!r}>"


class AsyncKVClient:
    """An asyncio client on one channel (ivcom.aio); concurrent calls are
    sent one after another.  Bound a call with ``asyncio.timeout()``."""

    def __init__(self, channel: AsyncChannel) -> None:
        self._ch = channel
        self._req = _Requests(channel.max_msg)
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, server: int, name: str = DEFAULT_NAME, *,
                      timeout: float | None = 10.0) -> Self:
        """Connect to service `name` of domain `server` within `timeout` s."""
        return cls(await aio_connect(name, server, timeout=timeout))

    @property
    def channel(self) -> AsyncChannel:
        return self._ch

    async def _call(self, op: Op, key: bytes = b"", value: bytes = b"") -> Reply:
        async with self._lock:
            ident, msg = self._req.build(op, key, value)
            await self._ch.send(msg)
            # a call cancelled after its request went leaves its reply
            # behind: skipped here, by its id
            while (rep := self._req.check(op, ident, await self._ch.recv(), key)) is None:
                pass
            return rep

    async def get(self, key: bytes | str) -> bytes:
        return (await self._call(Op.GET, _key(key))).payload

    async def put(self, key: bytes | str, value: bytes | bytearray | memoryview) -> None:
        await self._call(Op.PUT, _key(key), bytes(value))

    async def delete(self, key: bytes | str) -> None:
        await self._call(Op.DEL, _key(key))

    async def list(self, prefix: bytes | str = b"") -> list[bytes]:
        p = _key(prefix, "prefix", empty_ok=True)
        keys: list[bytes] = []
        cursor = b""
        while True:
            rep = await self._call(Op.LIST, p, cursor)
            page = parse_list(rep.payload)
            keys += page
            if not rep.flags & REPLY_MORE:
                return keys
            if not page:
                raise KVProtocolError("LIST reply: more to come but no key")
            cursor = page[-1]

    async def stats(self) -> KVStats:
        return parse_stats((await self._call(Op.STATS)).payload)

    def close(self) -> None:
        self._ch.close()

    @property
    def closed(self) -> bool:
        return self._ch.closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AsyncKVClient {self._ch!r}>"
