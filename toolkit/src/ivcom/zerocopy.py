"""Zero-copy from Python: ``with ch.reserve(n) as view`` writes a message
(or stream bytes) in the ring itself, ``with ch.peek() as view`` reads one
there.  The memoryview dies with its block: any later use raises
ValueError, and never touches the ring.

:class:`_ZeroCopy` is the part of :class:`ivcom.Channel` that does it (the
asyncio side, :class:`ivcom.aio.AsyncReservation`, uses the same steps:
_zc_begin, _zc_try or _zc_acquire, _zc_open, _zc_end).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import time
from types import TracebackType

from ivcom import _clib
from ivcom._args import EAGAIN, ETIMEDOUT, _check_size
from ivcom._handle import _Handle
from ivcom.exceptions import closed_error


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


class _ZeroCopy(_Handle):
    """reserve() and peek() of a channel in mode `_mode`; at most one view
    open per direction."""

    _mode: int
    _tx_view: _View | None = None
    _rx_view: _View | None = None

    def _no_view(self, view: _View | None, call: str) -> None:
        if view is not None:
            raise RuntimeError(f"{call} while a zero-copy reserve()/peek() block is open")

    def _drop_views(self) -> None:
        """The channel closes: its views die now (a view still exported
        elsewhere is left to the garbage collector)."""
        for v in (self._tx_view, self._rx_view):
            if v is not None:
                with contextlib.suppress(BufferError):
                    v.release()
        self._tx_view = self._rx_view = None

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


class Reservation:
    """The context manager of :meth:`ivcom.Channel.reserve` /
    :meth:`ivcom.Channel.peek` (``async with`` on an
    :class:`ivcom.aio.AsyncChannel`)."""

    def __init__(self, ch: _ZeroCopy, side: str, n: int | None, ms: int) -> None:
        self._ch, self._side, self._n, self._ms = ch, side, n, ms
        self._len = 0

    def __enter__(self) -> memoryview:
        self._ch._zc_begin(self._side)
        addr, self._len = self._ch._zc_acquire(self._side, self._n, self._ms)
        return self._ch._zc_open(self._side, addr, self._len)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ch._zc_end(self._side, self._len, exc_type is None)
