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

import contextlib
import ctypes
import errno
import sys
import threading
import time
import weakref
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Final, Literal, Protocol, Self

from ivcom import _clib
from ivcom.exceptions import MessageTooLargeError, closed_error, error_from

Mode = Literal["message", "stream"]
_MODES: Final[dict[str, int]] = {"message": _clib.MODE_MESSAGE, "stream": _clib.MODE_STREAM}
_MODE_NAMES: Final[dict[int, Mode]] = {_clib.MODE_MESSAGE: "message",
                                       _clib.MODE_STREAM: "stream"}
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
EAGAIN: Final = -errno.EAGAIN
ETIMEDOUT: Final = -errno.ETIMEDOUT


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


# ---- argument checks (before any C call) ------------------------------------

def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


def _check_name(name: object) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"channel name must be a str, not {type(name).__name__}")
    if not 0 < len(name) <= _clib.NAME_MAX or not set(name) <= _NAME_CHARS:
        raise ValueError(f"channel name {name!r}: 1 to {_clib.NAME_MAX} characters "
                         "of A-Z a-z 0-9 - _")
    return name.encode()


def _check_domid(domid: object, what: str) -> int:
    d = _check_int(domid, what)
    if not 0 <= d < _clib.DOMID_FIRST_RESERVED:
        raise ValueError(f"{what} {d} is not a domain id (0..{_clib.DOMID_FIRST_RESERVED - 1})")
    return d


def _check_order(order: object) -> int:
    o = _check_int(order, "ring_order")
    if not _clib.RING_ORDER_MIN <= o <= _clib.RING_ORDER_MAX:
        raise ValueError(f"ring_order {o} outside {_clib.RING_ORDER_MIN}..{_clib.RING_ORDER_MAX}"
                         f" (rings of 4 KiB to 1 MiB)")
    return o


def _check_size(n: object, what: str) -> int:
    v = _check_int(n, what)
    if v < 0:
        raise ValueError(f"{what} must be >= 0, not {v}")
    return v


def _params(mode: str | None, ring_order: int | tuple[int, int] | None, spin_us: int | None,
            poll_only: bool) -> _clib.Params | None:
    if mode is None and ring_order is None and spin_us is None and not poll_only:
        return None
    p = _clib.Params()
    _clib.lib().ivcom_params_init(ctypes.byref(p))
    if mode is not None:
        p.mode = _MODES[mode]
    if ring_order is not None:
        tx, rx = ring_order if isinstance(ring_order, tuple) else (ring_order, ring_order)
        p.tx_order, p.rx_order = tx, rx
    if spin_us is not None:
        p.spin_us = spin_us
    p.poll_only = int(poll_only)
    return p


def _check_params(mode: object, ring_order: object, spin_us: object, poll_only: object) -> None:
    if mode is not None and mode not in _MODES:
        raise ValueError(f"mode must be 'message' or 'stream', not {mode!r}")
    if ring_order is not None:
        if isinstance(ring_order, tuple):
            if len(ring_order) != 2:
                raise ValueError("ring_order: an order or a (tx_order, rx_order) pair")
            for o in ring_order:
                _check_order(o)
        else:
            _check_order(ring_order)
    if spin_us is not None:
        s = _check_int(spin_us, "spin_us")
        if not 0 <= s <= _clib.SPIN_US_MAX:
            raise ValueError(f"spin_us {s} outside 0..{_clib.SPIN_US_MAX}")
    if not isinstance(poll_only, bool):
        raise TypeError(f"poll_only must be a bool, not {type(poll_only).__name__}")


# ---- buffers ----------------------------------------------------------------

def source(data: object) -> tuple[object, object, int]:
    """(keep-alive, pointer argument, length) of a bytes-like object, without
    a copy for bytes and writable buffers (a read-only non-bytes buffer is
    copied once)."""
    if isinstance(data, bytes):
        return data, data, len(data)
    if isinstance(data, str):
        raise TypeError("a bytes-like object is required, not 'str' (encode it first)")
    try:
        mv = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}") from None
    if not mv.c_contiguous:
        raise TypeError("the buffer must be C-contiguous")
    n = mv.nbytes
    if n == 0 or mv.readonly:
        b = mv.tobytes()
        return b, b, n
    arr = (ctypes.c_char * n).from_buffer(mv.cast("B"))
    return arr, ctypes.addressof(arr), n


def address(ptr: object) -> int:
    """The address of source()'s pointer argument."""
    if isinstance(ptr, bytes):
        return ctypes.cast(ctypes.c_char_p(ptr), ctypes.c_void_p).value or 0
    assert isinstance(ptr, int)
    return ptr


def destination(buffer: object) -> tuple[object, int, int]:
    """(keep-alive, address, length) of a writable bytes-like object."""
    try:
        mv = memoryview(buffer)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a writable bytes-like object is required, not "
                        f"{type(buffer).__name__!r}") from None
    if mv.readonly:
        raise TypeError(f"a writable bytes-like object is required ({type(buffer).__name__} "
                        "is read-only)")
    if not mv.c_contiguous:
        raise TypeError("the buffer must be C-contiguous")
    if mv.nbytes == 0:
        return mv, 0, 0
    arr = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
    return arr, ctypes.addressof(arr), mv.nbytes


class _View:
    """A memoryview over ring memory that dies with its reservation/peek:
    released at the end, so any later use raises ValueError; a view derived
    from it (a slice) that is still alive then is refused (BufferError)."""

    def __init__(self, addr: int, n: int, readonly: bool) -> None:
        self._arr: ctypes.Array[ctypes.c_char] | None = (ctypes.c_char * n).from_address(addr)
        root = memoryview(self._arr)
        byte = root.cast("B")
        self._chain = [root, byte]
        if readonly:
            self._chain.append(byte.toreadonly())
        self.view = self._chain[-1]

    def release(self) -> None:
        """Release the view; BufferError when something derived from it
        still refers to the ring memory."""
        arr = self._arr
        if arr is None:
            return
        for mv in reversed(self._chain):
            mv.release()            # BufferError if exported (e.g. numpy)
        self._chain.clear()
        self._arr = None
        # Our reference and getrefcount's: anything more is a slice or a
        # copy of the memoryview that outlives the block.
        if sys.getrefcount(arr) > 2:
            raise BufferError("a view derived from the zero-copy buffer (a slice?) is still "
                              "alive: it must not outlive the `with` block")


# ---- platform ---------------------------------------------------------------

class _Member(Protocol):
    """What a platform closes with itself: a channel, a connect under way,
    a service."""

    def close(self) -> None: ...


class Platform:
    """An open libivcom platform: "sim", "xen-linux" (None: IVCOM_PLATFORM
    from the environment, else xen-linux when /dev/xen/evtchn exists, else
    sim).  On the sim, the process is the domain IVCOM_SIM_DOMID names."""

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"platform name must be a str or None, not {type(name).__name__}")
        self._lib = _clib.lib()
        self._h: ctypes.c_void_p | None = None
        self._lock = threading.Lock()
        self._channels: weakref.WeakSet[_Member] = weakref.WeakSet()
        self._nchan = 0
        self._close_pending = False
        h = ctypes.c_void_p()
        rc = self._lib.ivcom_platform_open(name.encode() if name is not None else None,
                                           ctypes.byref(h))
        if rc < 0:
            raise error_from(rc, f"platform {name}" if name else "default platform")
        self._h = h

    def _handle(self) -> ctypes.c_void_p:
        if self._h is None or self._close_pending:
            raise closed_error("platform")
        return self._h

    @property
    def name(self) -> str:
        raw = self._lib.ivcom_platform_name(self._handle())
        return raw.decode() if raw else "?"

    @property
    def domid(self) -> int:
        """This domain's id."""
        return self._lib.ivcom_platform_domid(self._handle())

    @property
    def closed(self) -> bool:
        return self._h is None or self._close_pending

    def _adopt(self, ch: _Member) -> None:
        with self._lock:
            self._channels.add(ch)
            self._nchan += 1

    def _forget(self, ch: _Member) -> None:
        with self._lock:
            self._channels.discard(ch)
            self._nchan -= 1
            last = self._nchan == 0 and self._close_pending
        if last:
            self._release()

    def _release(self) -> None:
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            self._lib.ivcom_platform_close(h)

    def _close_when_idle(self) -> None:
        """Close once its last channel is closed (a service's own platform:
        the channels it accepted outlive it)."""
        if self._h is None:
            return
        self._close_pending = True
        with self._lock:
            idle = self._nchan == 0
        if idle:
            self._release()

    def close(self) -> None:
        """Close every channel (and service) of this platform, then the
        platform.  A second close does nothing."""
        if self._h is None:
            return
        self._close_pending = True
        for ch in list(self._channels):
            ch.close()
        with self._lock:
            busy = self._nchan > 0      # a channel busy in another thread
        if not busy:
            self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._h is not None:
                self._close_pending = True
                if self._nchan == 0:    # else the last channel's close does it
                    self._release()
        except Exception:
            pass

    def __repr__(self) -> str:
        if self.closed:
            return "<ivcom.Platform closed>"
        return f"<ivcom.Platform {self.name} domid={self.domid}>"


# ---- channel ----------------------------------------------------------------

class Channel:
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
        self._lib = platform._lib
        self._h: ctypes.c_void_p | None = handle
        self._plat = platform
        self._owns_plat = owns_platform
        self._name = name
        self._server = is_server
        self._mode = mode
        self._accepted = not is_server
        self._lock = threading.Lock()
        self._busy = 0
        self._close_pending = False
        self._tx_view: _View | None = None
        self._rx_view: _View | None = None
        platform._adopt(self)

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
        plat, owns = (platform, False) if platform is not None else (Platform(), True)
        try:
            params = _params(mode, ring_order, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_listen(plat._handle(), cname, peer, params, ctypes.byref(h))
            if rc < 0:
                raise error_from(rc, name)
        except BaseException:
            if owns:
                plat.close()
            raise
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
        plat, owns = (platform, False) if platform is not None else (Platform(), True)
        try:
            params = _params(None, None, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_connect(plat._handle(), cname, server, params,
                                         ctypes.byref(h), ms)
            if rc < 0:
                raise error_from(rc, name)
            mode = _client_mode(plat._lib, h)
        except BaseException:
            if owns:
                plat.close()
            raise
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
        ms = _clib.timeout_ms(timeout)
        h = self._enter()
        try:
            rc = self._lib.ivcom_accept(h, ms)
        finally:
            self._leave()
        if rc < 0:
            raise error_from(rc, self._name)
        self._accepted = True

    def _accept_once(self) -> int:
        """One accept attempt that does not wait: 0 or -errno (-ETIMEDOUT:
        the peer has not come yet)."""
        h = self._enter()
        try:
            rc = self._lib.ivcom_accept(h, 0)
        finally:
            self._leave()
        if rc == 0:
            self._accepted = True
        return rc

    # -- lifetime --

    def _enter(self) -> ctypes.c_void_p:
        with self._lock:
            h = self._h
            if h is None or self._close_pending:
                raise closed_error()
            self._busy += 1
            return h

    def _leave(self) -> None:
        with self._lock:
            self._busy -= 1
            last = self._busy == 0 and self._close_pending
        if last:
            self._destroy()

    def _destroy(self) -> None:
        with self._lock:
            h, self._h = self._h, None
        if h is None:
            return
        for v in (self._tx_view, self._rx_view):
            if v is not None:
                with contextlib.suppress(BufferError):
                    v.release()
        self._tx_view = self._rx_view = None
        self._lib.ivcom_close(h)
        self._plat._forget(self)
        if self._owns_plat:
            self._plat.close()

    def close(self) -> None:
        """Close the channel: the peer sees BrokenPipeError once it has
        received everything sent.  A second close does nothing."""
        with self._lock:
            if self._h is None or self._close_pending:
                return
            self._close_pending = True
            busy = self._busy > 0
        if not busy:
            self._destroy()

    @property
    def closed(self) -> bool:
        return self._h is None or self._close_pending

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._h is not None:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        role = "server" if self._server else "client"
        state = "closed" if self.closed else "open"
        return (f"<ivcom.Channel {self._name!r} {role} {_MODE_NAMES[self._mode]} "
                f"{state}>")

    # -- what a channel tells --

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> Mode:
        return _MODE_NAMES[self._mode]

    @property
    def is_server(self) -> bool:
        return self._server

    @property
    def platform(self) -> Platform:
        return self._plat

    def _query(self, fn: str) -> int:
        h = self._enter()
        try:
            r: int = getattr(self._lib, fn)(h)
            return r
        finally:
            self._leave()

    @property
    def peer_domid(self) -> int:
        return self._query("ivcom_peer_domid")

    @property
    def max_msg(self) -> int:
        """Largest message this side can send (tx ring size - 8)."""
        return self._query("ivcom_max_msg")

    @property
    def local_port(self) -> int:
        """This side's event channel port."""
        return self._query("ivcom_local_port")

    @property
    def broken(self) -> OSError | None:
        """The error that broke the channel (ProtocolError...), or None."""
        err = self._query("ivcom_is_broken")
        return error_from(err, self._name) if err else None

    def fileno(self) -> int:
        """A descriptor that polls readable when the peer notified us; call
        :meth:`ack` after it did, then retry the call that would block."""
        return self._query("ivcom_fd")

    def ack(self) -> None:
        """Acknowledge the events that made fileno() readable."""
        self._check(self._query("ivcom_ack"))

    def stats(self) -> Stats:
        st = _clib.CStats()
        h = self._enter()
        try:
            self._lib.ivcom_get_stats(h, ctypes.byref(st))
        finally:
            self._leave()
        return Stats(**{f.name: getattr(st, f.name) for f in fields(Stats)})

    # -- helpers --

    def _check(self, r: int) -> int:
        if r < 0:
            raise error_from(r, self._name)
        return r

    def _need_mode(self, mode: int, call: str) -> None:
        if self._mode != mode:
            other = "send()/recv()" if mode == _clib.MODE_STREAM else "write()/read()"
            raise ValueError(f"{call} needs a {_MODE_NAMES[mode]}-mode channel; "
                             f"{self._name!r} is in {_MODE_NAMES[self._mode]} mode "
                             f"(use {other})")

    def _no_view(self, view: _View | None, call: str) -> None:
        if view is not None:
            raise RuntimeError(f"{call} while a zero-copy reserve()/peek() block is open")

    def _call(self, fn: str, *args: object) -> int:
        h = self._enter()
        try:
            r: int = getattr(self._lib, fn)(h, *args)
            return r
        finally:
            self._leave()

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

    # -- zero-copy --

    def reserve(self, n: int | None = None, timeout: float | None = None) -> Reservation:
        """``with ch.reserve(n) as view:`` -- a writable memoryview over the
        ring itself, committed (sent) when the block ends normally and
        abandoned when it raises.  Message mode: exactly n bytes, one
        message.  Stream mode: up to n contiguous bytes (fewer at the end
        of the ring, all that is free when n is None), all committed.  The
        view is released at the end of the block: using it afterwards
        raises ValueError."""
        if self._mode == _clib.MODE_MESSAGE and n is None:
            raise TypeError("reserve() of a message needs its size n")
        if n is not None:
            n = _check_size(n, "n")
        return Reservation(self, "tx", n, _clib.timeout_ms(timeout))

    def peek(self, n: int | None = None, timeout: float | None = None) -> Reservation:
        """``with ch.peek() as view:`` -- a read-only memoryview of the next
        message (stream mode: of up to n bytes received, contiguous), in
        the ring itself, released (consumed) when the block ends normally;
        when it raises, the data stays queued.  The view is released at
        the end of the block: using it afterwards raises ValueError."""
        if n is not None:
            n = _check_size(n, "n")
        return Reservation(self, "rx", n, _clib.timeout_ms(timeout))

    def _zc_try(self, side: str, n: int | None) -> tuple[int, int, int]:
        """One non-blocking reserve/peek: (rc, address, length)."""
        buf = ctypes.c_void_p()
        if side == "tx" and self._mode == _clib.MODE_MESSAGE:
            assert n is not None
            r = self._call("ivcom_msg_try_reserve", n, ctypes.byref(buf))
            return r, buf.value or 0, n
        size = ctypes.c_size_t()
        fn = {("tx", _clib.MODE_STREAM): "ivcom_stream_try_reserve",
              ("rx", _clib.MODE_STREAM): "ivcom_stream_try_peek",
              ("rx", _clib.MODE_MESSAGE): "ivcom_msg_try_peek"}[side, self._mode]
        r = self._call(fn, ctypes.byref(buf), ctypes.byref(size))
        span = size.value if n is None or self._mode == _clib.MODE_MESSAGE else min(n,
                                                                                    size.value)
        return r, buf.value or 0, span

    def _zc_wait(self, side: str, ms: int) -> int:
        """Block (GIL released) until a reserve/peek may succeed."""
        if side == "rx":
            return self._call("ivcom_wait_readable", ms)
        return self._call("ivcom_wait_writable", 1, ms)

    def _zc_acquire(self, side: str, n: int | None, ms: int) -> tuple[int, int]:
        if self._mode == _clib.MODE_MESSAGE:
            buf, size = ctypes.c_void_p(), ctypes.c_size_t()
            if side == "tx":
                assert n is not None
                self._check(self._call("ivcom_msg_reserve", n, ctypes.byref(buf), ms))
                return buf.value or 0, n
            r = self._call("ivcom_msg_peek", ctypes.byref(buf), ctypes.byref(size), ms)
            self._check(r)
            return buf.value or 0, size.value
        deadline = None if ms < 0 else time.monotonic() + ms / 1000
        while True:
            r, addr, span = self._zc_try(side, n)
            if r != EAGAIN:
                self._check(r)
                return addr, span
            left = -1 if deadline is None else max(0, round((deadline - time.monotonic()) * 1000))
            w = self._zc_wait(side, left)
            if w == ETIMEDOUT and ms == 0:
                w = EAGAIN
            self._check(w)

    def _zc_open(self, side: str, addr: int, n: int) -> memoryview:
        v = _View(addr, n, readonly=side == "rx")
        if side == "tx":
            self._tx_view = v
        else:
            self._rx_view = v
        return v.view

    def _zc_begin(self, side: str) -> None:
        self._no_view(self._tx_view if side == "tx" else self._rx_view,
                      "reserve()" if side == "tx" else "peek()")
        if self.closed:
            raise closed_error()

    def _zc_end(self, side: str, n: int, done: bool) -> None:
        """Release the view, then commit/release the ring space if done."""
        v = self._tx_view if side == "tx" else self._rx_view
        if v is None:           # the channel was closed inside the block
            if done:
                raise closed_error()
            return
        if side == "tx":
            self._tx_view = None
        else:
            self._rx_view = None
        v.release()
        if not done:
            return              # a later reserve/peek starts over
        if self._mode == _clib.MODE_MESSAGE:
            fn = "ivcom_msg_commit" if side == "tx" else "ivcom_msg_release"
            self._check(self._call(fn))
        else:
            fn = "ivcom_stream_commit" if side == "tx" else "ivcom_stream_release"
            self._check(self._call(fn, n))


def _client_mode(lib: _clib.LibIvcom, h: ctypes.c_void_p) -> int:
    """A connected client's mode.  The offer chose it and ivcom.h has no
    getter for it: a zero-byte stream read is 0 on a stream channel and
    -EINVAL on a message one, and touches nothing either way."""
    return _clib.MODE_STREAM if lib.ivcom_read(h, None, 0, 0) == 0 else _clib.MODE_MESSAGE


class PendingConnect:
    """A client channel being set up in steps (ivcom_connect_start /
    ivcom_connect_continue), from :meth:`Channel.connect_start`.

    :meth:`fileno` polls readable when XenStore may have news (wake-ups
    may be spurious; the descriptor is the platform's XenStore watch, which
    a service or another connect of the same platform shares).  Call
    :meth:`advance` then: it returns the :class:`Channel` once connected,
    None while it is not yet, and raises the error that ended the set-up
    (this object is closed then).  :meth:`close` abandons it."""

    def __init__(self, cname: bytes, server: int, spin_us: int | None, poll_only: bool,
                 platform: Platform | None) -> None:
        """Internal: use Channel.connect_start()."""
        self._name = cname.decode()
        self._h: ctypes.c_void_p | None = None
        plat, owns = (platform, False) if platform is not None else (Platform(), True)
        self._plat, self._owns = plat, owns
        try:
            params = _params(None, None, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_connect_start(plat._handle(), cname, server, params,
                                               ctypes.byref(h))
            if rc < 0:
                raise error_from(rc, self._name)
        except BaseException:
            if owns:
                plat.close()
            raise
        self._h = h
        plat._adopt(self)

    @property
    def name(self) -> str:
        return self._name

    @property
    def closed(self) -> bool:
        return self._h is None

    def fileno(self) -> int:
        """A descriptor that polls readable when the set-up may advance."""
        if self._h is None:
            raise closed_error("connect")
        fd = self._plat._lib.ivcom_connect_fd(self._h)
        if fd < 0:
            raise error_from(fd, self._name)
        return fd

    def advance(self, timeout: float | None = 0) -> Channel | None:
        """Take the set-up as far as it goes, waiting up to timeout seconds
        (default 0: not at all): the channel once connected, else None.
        An error ends the set-up: this is closed and the error raised
        (a wait that passes its timeout raises the library's reason, e.g.
        TimeoutError or PermissionError)."""
        ms = _clib.timeout_ms(timeout)
        h = self._h
        if h is None:
            raise closed_error("connect")
        lib = self._plat._lib
        rc = lib.ivcom_connect_continue(h, ms)
        if rc == EAGAIN and ms == 0:
            return None
        if rc < 0:
            self.close()
            raise error_from(rc, self._name)
        try:
            mode = _client_mode(lib, h)
            ch = Channel(h, self._plat, self._owns, self._name, False, mode)
        except BaseException:
            self.close()
            raise
        self._h = None                  # the channel owns handle and platform now
        self._plat._forget(self)
        return ch

    def close(self) -> None:
        """Abandon the set-up.  A second close does nothing."""
        h, self._h = self._h, None
        if h is None:
            return
        self._plat._lib.ivcom_close(h)
        self._plat._forget(self)
        if self._owns:
            self._plat.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"<ivcom.PendingConnect {self._name!r} {'closed' if self.closed else 'open'}>"


class Reservation:
    """The context manager of :meth:`Channel.reserve` / :meth:`Channel.peek`
    (``async with`` on an :class:`ivcom.aio.AsyncChannel`)."""

    def __init__(self, ch: Channel, side: str, n: int | None, ms: int) -> None:
        self._ch, self._side, self._n, self._ms = ch, side, n, ms
        self._len = 0

    def __enter__(self) -> memoryview:
        self._ch._zc_begin(self._side)
        addr, self._len = self._ch._zc_acquire(self._side, self._n, self._ms)
        return self._ch._zc_open(self._side, addr, self._len)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ch._zc_end(self._side, self._len, exc_type is None)
