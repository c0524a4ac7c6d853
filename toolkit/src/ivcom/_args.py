"""Arguments of the channel and service calls: checks made before any C
call (bad ones raise TypeError or ValueError, and nothing is set up), the
parameter block (struct ivcom_params), and the bytes-like buffers handed to
libivcom without a copy."""

from __future__ import annotations

import ctypes
import errno
from typing import Final, Literal

from ivcom import _clib

Mode = Literal["message", "stream"]
_MODES: Final[dict[str, int]] = {"message": _clib.MODE_MESSAGE, "stream": _clib.MODE_STREAM}
_MODE_NAMES: Final[dict[int, Mode]] = {_clib.MODE_MESSAGE: "message",
                                       _clib.MODE_STREAM: "stream"}
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
EAGAIN: Final = -errno.EAGAIN
ETIMEDOUT: Final = -errno.ETIMEDOUT


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
