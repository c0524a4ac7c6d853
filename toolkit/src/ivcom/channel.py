"""Channels from Python: :class:`Platform` and :class:`Channel` over libivcom.

One server offers a channel to one peer domain; the peer connects::

    # domain 1 (the server)
    with ivcom.Channel.listen("echo", peer=2) as ch:
        ch.accept(timeout=10)
        ch.send(ch.recv())

    # domain 2 (the client)
    with ivcom.Channel.connect("echo", server=1, timeout=10) as ch:
        ch.send(b"ping")
        assert ch.recv() == b"ping"

Timeouts are seconds (a float): None waits forever, 0 does not wait (the
call raises :class:`BlockingIOError` instead).  Every blocking call runs in
libivcom with the GIL released (ctypes does that for every foreign call),
so other threads keep running; one channel is not meant to be used by two
threads at once, and a :meth:`Channel.close` from another thread while a
call blocks takes effect when that call returns.

Errors are the exceptions of :mod:`ivcom.exceptions`.  A channel owns its
platform when none was given (it opens the default one and closes it with
the channel); a :class:`Platform` closed explicitly closes its channels.
"""

from __future__ import annotations

import ctypes
import errno
import time
from dataclasses import dataclass, fields
from typing import Self

from ivcom import _clib
from ivcom._args import (
    _MODE_NAMES,
    _MODES,
    EAGAIN,
    ETIMEDOUT,
    Mode,
    _check_domid,
    _check_name,
    _check_params,
    _check_size,
    _params,
    address,
    destination,
    source,
)
from ivcom._handle import _Handle
from ivcom.exceptions import MessageTooLargeError, error_from
from ivcom.platform import Platform, owned
from ivcom.zerocopy import Reservation, _ZeroCopy

__all__ = ["Channel", "Mode", "PendingConnect", "Platform", "Reservation", "Stats"]


@dataclass(frozen=True, slots=True)
class Stats:
    """A channel's counters (struct ivcom_stats), one snapshot."""

    tx_bytes: int
    rx_bytes: int
    tx_msgs: int
    rx_msgs: int
    notifies_sent: int          # event channel sends
    notifies_suppressed: int    # publishes that needed no event
    wakeups: int                # events received
    spins: int                  # waits satisfied while spinning
    blocks: int                 # waits that blocked


class Channel(_ZeroCopy):
    """One end of a channel.  Make one with :meth:`listen` (then
    :meth:`accept`) or :meth:`connect`; use it as a context manager or call
    :meth:`close`.

    Message mode: :meth:`send`, :meth:`recv`, :meth:`recv_into`.  Stream
    mode: :meth:`write`, :meth:`write_all`, :meth:`read`, :meth:`read_into`.
    Both: zero-copy :meth:`reserve` and :meth:`peek`, :meth:`fileno` and
    :meth:`ack` for event loops (see :mod:`ivcom.aio`), :meth:`stats`.
    """

    def __init__(self, handle: ctypes.c_void_p, platform: Platform, owns_platform: bool,
                 name: str, is_server: bool, mode: int) -> None:
        """Internal: use listen() or connect()."""
        super().__init__(handle, platform, owns_platform, name)
        self._server = is_server
        self._mode = mode
        self._accepted = not is_server

    def _free(self, h: ctypes.c_void_p) -> None:
        self._drop_views()
        self._lib.ivcom_close(h)

    def close(self) -> None:
        """Close the channel: the peer sees BrokenPipeError once it has
        received everything sent.  A second close does nothing."""
        super().close()

    def __repr__(self) -> str:
        role = "server" if self._server else "client"
        state = "closed" if self.closed else "open"
        return (f"<ivcom.Channel {self._name!r} {role} {_MODE_NAMES[self._mode]} "
                f"{state}>")

    # -- set-up --

    @classmethod
    def listen(cls, name: str, peer: int, *, mode: Mode = "message",
               ring_order: int | tuple[int, int] = 16, spin_us: int | None = None,
               poll_only: bool = False, platform: Platform | None = None) -> Self:
        """Offer channel `name` to domain `peer` and return at once; the
        channel is usable after :meth:`accept`.  ring_order: log2 of each
        ring (12..20), or (tx_order, rx_order).  spin_us: how long a wait
        spins before it blocks (default 30); poll_only: never block."""
        cname = _check_name(name)
        peer = _check_domid(peer, "peer")
        _check_params(mode, ring_order, spin_us, poll_only)
        with owned(platform) as (plat, owns):
            params = _params(mode, ring_order, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_listen(plat._handle(), cname, peer, params, ctypes.byref(h))
            if rc < 0:
                raise error_from(rc, name)
        return cls(h, plat, owns, name, True, _MODES[mode])

    @classmethod
    def connect(cls, name: str, server: int, *, timeout: float | None = None,
                spin_us: int | None = None, poll_only: bool = False,
                platform: Platform | None = None) -> Self:
        """Connect to channel `name` offered by domain `server`, waiting up
        to `timeout` seconds for the offer.  Mode and ring sizes come from
        the offer."""
        cname = _check_name(name)
        server = _check_domid(server, "server")
        _check_params(None, None, spin_us, poll_only)
        ms = _clib.timeout_ms(timeout)
        with owned(platform) as (plat, owns):
            params = _params(None, None, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_connect(plat._handle(), cname, server, params,
                                         ctypes.byref(h), ms)
            if rc < 0:
                raise error_from(rc, name)
            mode = _client_mode(plat._lib, h)
        return cls(h, plat, owns, name, False, mode)

    @classmethod
    def connect_start(cls, name: str, server: int, *, spin_us: int | None = None,
                      poll_only: bool = False, platform: Platform | None = None
                      ) -> PendingConnect:
        """Begin connecting to channel `name` of domain `server` (a one-peer
        offer or a service) and return at once, for an event loop: poll
        the result's :meth:`~PendingConnect.fileno` and call its
        :meth:`~PendingConnect.advance` until it gives the channel."""
        cname = _check_name(name)
        server = _check_domid(server, "server")
        _check_params(None, None, spin_us, poll_only)
        return PendingConnect(cname, server, spin_us, poll_only, platform)

    def accept(self, timeout: float | None = None) -> None:
        """Wait up to `timeout` seconds for the peer to connect (server)."""
        if not self._server:
            raise ValueError("accept() is for the listening side; this channel connected")
        self._check(self._call("ivcom_accept", _clib.timeout_ms(timeout)))
        self._accepted = True

    def _accept_once(self) -> int:
        """One accept attempt that does not wait: 0 or -errno (-ETIMEDOUT:
        the peer has not come yet)."""
        rc = self._call("ivcom_accept", 0)
        if rc == 0:
            self._accepted = True
        return rc

    # -- what a channel tells --

    @property
    def mode(self) -> Mode:
        return _MODE_NAMES[self._mode]

    @property
    def is_server(self) -> bool:
        return self._server

    @property
    def peer_domid(self) -> int:
        return self._call("ivcom_peer_domid")

    @property
    def max_msg(self) -> int:
        """Largest message this side can send (tx ring size - 8)."""
        return self._call("ivcom_max_msg")

    @property
    def local_port(self) -> int:
        """This side's event channel port."""
        return self._call("ivcom_local_port")

    @property
    def broken(self) -> OSError | None:
        """The error that broke the channel (ProtocolError...), or None."""
        err = self._call("ivcom_is_broken")
        return error_from(err, self._name) if err else None

    def fileno(self) -> int:
        """A descriptor that polls readable when the peer notified us; call
        :meth:`ack` after it did, then retry the call that would block."""
        return self._call("ivcom_fd")

    def ack(self) -> None:
        """Acknowledge the events that made fileno() readable."""
        self._check(self._call("ivcom_ack"))

    def stats(self) -> Stats:
        st = _clib.CStats()
        self._call("ivcom_get_stats", ctypes.byref(st))
        return Stats(**{f.name: getattr(st, f.name) for f in fields(Stats)})

    # -- helpers --

    def _need_mode(self, mode: int, call: str) -> None:
        if self._mode != mode:
            other = "send()/recv()" if mode == _clib.MODE_STREAM else "write()/read()"
            raise ValueError(f"{call} needs a {_MODE_NAMES[mode]}-mode channel; "
                             f"{self._name!r} is in {_MODE_NAMES[self._mode]} mode "
                             f"(use {other})")

    # -- message mode --

    def send(self, data: object, timeout: float | None = None) -> int:
        """Send one message (bytes-like); returns its length."""
        keep, ptr, n = source(data)
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_MESSAGE, "send()")
        self._no_view(self._tx_view, "send()")
        r = self._call("ivcom_send", ptr, n, ms)
        del keep
        return self._check(r)

    def recv(self, timeout: float | None = None, max_size: int | None = None) -> bytes:
        """Receive one message.  A message longer than max_size raises
        MessageTooLargeError and stays queued."""
        ms = _clib.timeout_ms(timeout)
        if max_size is not None:
            _check_size(max_size, "max_size")
        self._need_mode(_clib.MODE_MESSAGE, "recv()")
        self._no_view(self._rx_view, "recv()")
        data = self._recv(ms, max_size)
        if data is None:
            raise error_from(EAGAIN, self._name)
        return data

    def _recv(self, ms: int, max_size: int | None) -> bytes | None:
        """peek, copy once, release: the message, or None on -EAGAIN when
        ms is 0 (the library armed the peer's event)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        data = b""
        h = self._enter()
        try:
            r = self._lib.ivcom_msg_peek(h, ctypes.byref(buf), ctypes.byref(n), ms)
            if r == EAGAIN and ms == 0:
                return None
            if r == 0:
                if max_size is not None and n.value > max_size:
                    raise MessageTooLargeError(errno.EMSGSIZE,
                                               f"message of {n.value} bytes > max_size "
                                               f"{max_size} (it stays queued)", self._name)
                data = ctypes.string_at(buf.value or 0, n.value) if n.value else b""
                r = self._lib.ivcom_msg_release(h)
        finally:
            self._leave()
        self._check(r)
        return data

    def recv_into(self, buffer: object, timeout: float | None = None) -> int:
        """Receive one message into a writable buffer; returns its length.
        A message that does not fit raises MessageTooLargeError and stays
        queued."""
        keep, addr, n = destination(buffer)
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_MESSAGE, "recv_into()")
        self._no_view(self._rx_view, "recv_into()")
        r = self._call("ivcom_recv", addr or None, n, ms)
        del keep
        return self._check(r)

    # -- stream mode --

    def write(self, data: object, timeout: float | None = None) -> int:
        """Write as much of data as fits (at least one byte unless the wait
        would pass the timeout); returns the count."""
        keep, ptr, n = source(data)
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_STREAM, "write()")
        self._no_view(self._tx_view, "write()")
        r = self._call("ivcom_write", ptr, n, ms)
        del keep
        return self._check(r)

    def write_all(self, data: object, timeout: float | None = None) -> int:
        """Write all of data (waiting for room); returns its length.  On an
        error part of it may have been written."""
        keep, ptr, n = source(data)
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_STREAM, "write_all()")
        self._no_view(self._tx_view, "write_all()")
        deadline = None if ms < 0 else time.monotonic() + ms / 1000
        base = address(ptr)
        done = 0
        while done < n:
            left = -1 if deadline is None else max(0, round((deadline - time.monotonic()) * 1000))
            r = self._call("ivcom_write_all", base + done, n - done, left)
            if r == EAGAIN and ms != 0:
                r = ETIMEDOUT           # the deadline passed between two calls
            self._check(r)
            done += r
        del keep
        return n

    def read(self, n: int, timeout: float | None = None) -> bytes:
        """Read up to n bytes (at least one, waiting up to timeout)."""
        n = _check_size(n, "n")
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_STREAM, "read()")
        self._no_view(self._rx_view, "read()")
        if n == 0:
            return b""
        buf = ctypes.create_string_buffer(n)
        r = self._check(self._call("ivcom_read", buf, n, ms))
        return ctypes.string_at(buf, r)

    def read_into(self, buffer: object, timeout: float | None = None) -> int:
        """Read into a writable buffer; returns the count (at least one)."""
        keep, addr, n = destination(buffer)
        ms = _clib.timeout_ms(timeout)
        self._need_mode(_clib.MODE_STREAM, "read_into()")
        self._no_view(self._rx_view, "read_into()")
        if n == 0:
            return 0
        r = self._call("ivcom_read", addr, n, ms)
        del keep
        return self._check(r)

    # -- waiting --

    def wait_readable(self, timeout: float | None = None) -> bool:
        """Wait until something can be received; False on timeout."""
        r = self._call("ivcom_wait_readable", _clib.timeout_ms(timeout))
        if r == ETIMEDOUT:
            return False
        self._check(r)
        return True

    def wait_writable(self, n: int = 1, timeout: float | None = None) -> bool:
        """Wait until n bytes of the ring are free; False on timeout."""
        n = _check_size(n, "n")
        r = self._call("ivcom_wait_writable", n, _clib.timeout_ms(timeout))
        if r == ETIMEDOUT:
            return False
        self._check(r)
        return True

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the peer has consumed everything sent so far."""
        self._check(self._call("ivcom_flush", _clib.timeout_ms(timeout)))


def _client_mode(lib: _clib.LibIvcom, h: ctypes.c_void_p) -> int:
    """A connected client's mode.  The offer chose it and ivcom.h has no
    getter for it: a zero-byte stream read is 0 on a stream channel and
    -EINVAL on a message one, and touches nothing either way."""
    return _clib.MODE_STREAM if lib.ivcom_read(h, None, 0, 0) == 0 else _clib.MODE_MESSAGE


class PendingConnect(_Handle):
    """A client channel being set up in steps (ivcom_connect_start /
    ivcom_connect_continue), from :meth:`Channel.connect_start`.

    :meth:`fileno` polls readable when XenStore may have news (wake-ups
    may be spurious; the descriptor is the platform's XenStore watch, which
    a service or another connect of the same platform shares).  Call
    :meth:`advance` then: it returns the :class:`Channel` once connected,
    None while it is not yet, and raises the error that ended the set-up
    (this object is closed then).  :meth:`close` abandons it."""

    _what = "connect"

    def __init__(self, cname: bytes, server: int, spin_us: int | None, poll_only: bool,
                 platform: Platform | None) -> None:
        """Internal: use Channel.connect_start()."""
        name = cname.decode()
        with owned(platform) as (plat, owns):
            params = _params(None, None, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_connect_start(plat._handle(), cname, server, params,
                                               ctypes.byref(h))
            if rc < 0:
                raise error_from(rc, name)
        super().__init__(h, plat, owns, name)

    def _free(self, h: ctypes.c_void_p) -> None:
        self._lib.ivcom_close(h)

    def fileno(self) -> int:
        """A descriptor that polls readable when the set-up may advance."""
        return self._check(self._call("ivcom_connect_fd"))

    def advance(self, timeout: float | None = 0) -> Channel | None:
        """Take the set-up as far as it goes, waiting up to timeout seconds
        (default 0: not at all): the channel once connected, else None.
        An error ends the set-up: this is closed and the error raised
        (a wait that passes its timeout raises the library's reason, e.g.
        TimeoutError or PermissionError)."""
        ms = _clib.timeout_ms(timeout)
        h = self._enter()
        try:
            rc = self._lib.ivcom_connect_continue(h, ms)
            mode = _client_mode(self._lib, h) if rc == 0 else 0
        finally:
            self._leave()
        if rc == EAGAIN and ms == 0:
            return None
        if rc < 0:
            self.close()
            raise error_from(rc, self._name)
        # The channel owns handle and platform now.
        return self._hand_over(lambda h: Channel(h, self._plat, self._owns_plat, self._name,
                                                 False, mode))

    def __repr__(self) -> str:
        return f"<ivcom.PendingConnect {self._name!r} {'closed' if self.closed else 'open'}>"
