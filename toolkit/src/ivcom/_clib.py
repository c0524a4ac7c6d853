"""The ctypes binding of libivcom: where the library is found, its
structures, and the signature of every function the Python API calls.

ctypes releases the GIL around every foreign call (``ctypes.CDLL``, not
``PyDLL``), so a call that blocks in libivcom (a ``recv`` waiting for a
message, an ``accept`` waiting for the client) lets other Python threads
run meanwhile.

The library is loaded on first use, not at import: ``import ivcom`` works
where libivcom is absent, and the first call that needs it raises
:class:`OSError` naming every place looked at, in this order:

1. ``$IVCOM_LIBRARY`` (a path; when set, nothing else is tried);
2. the copy shipped inside the package, ``ivcom/_lib/libivcom.so.1``;
3. a checkout's build tree, ``$IVCOM_BUILD_DIR`` or ``build/core``, then
   ``libivcom.so.1`` there;
4. ``ctypes.util.find_library("ivcom")`` (the system's libivcom).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import math
import os
import threading
from pathlib import Path
from typing import Protocol, cast

SONAME = "libivcom.so.1"
HERE = Path(__file__).resolve().parent
PACKAGED = HERE / "_lib" / SONAME
ROOT = HERE.parents[2]              # toolkit/src/ivcom -> the checkout

# ivcom-core/include/ivcom/wire.h and src/internal.h
MODE_MESSAGE = 1
MODE_STREAM = 2
RING_ORDER_MIN = 12
RING_ORDER_MAX = 20
NAME_MAX = 63
DOMID_FIRST_RESERVED = 0x7FF0
SPIN_US_MAX = 10_000_000
INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1

vp = ctypes.c_void_p
sz = ctypes.c_size_t
ci = ctypes.c_int


class Params(ctypes.Structure):
    """struct ivcom_params."""

    _fields_ = [
        ("mode", ctypes.c_uint8),
        ("tx_order", ctypes.c_uint8),
        ("rx_order", ctypes.c_uint8),
        ("spin_us", ctypes.c_uint32),
        ("poll_only", ctypes.c_int),
    ]


class CStats(ctypes.Structure):
    """struct ivcom_stats."""

    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "tx_bytes", "rx_bytes", "tx_msgs", "rx_msgs", "notifies_sent",
            "notifies_suppressed", "wakeups", "spins", "blocks",
        )
    ]


class CServiceStats(ctypes.Structure):
    """struct ivcom_service_stats."""

    _fields_ = [
        *((name, ctypes.c_uint64) for name in (
            "requests", "accepted", "refused", "over_limit", "abandoned", "bad_requests",
            "failed",
        )),
        ("pending", ctypes.c_uint32),
    ]


class Policy(ctypes.Structure):
    """struct ivcom_policy (allow NULL: any domain; max_per_domain 0: 16)."""

    _fields_ = [
        ("allow", ctypes.POINTER(ctypes.c_int)),
        ("nallow", ctypes.c_uint),
        ("max_per_domain", ctypes.c_uint),
    ]


class LibIvcom(Protocol):
    """The functions of libivcom the API calls, as ctypes returns them.

    Pointer arguments are ``object``: a :class:`ctypes.c_void_p`, an
    address (int), bytes, or a ``ctypes.byref`` of an out parameter."""

    def ivcom_platform_open(self, name: bytes | None, out: object, /) -> int: ...
    def ivcom_platform_close(self, plat: object, /) -> None: ...
    def ivcom_platform_name(self, plat: object, /) -> bytes | None: ...
    def ivcom_platform_domid(self, plat: object, /) -> int: ...
    def ivcom_params_init(self, params: object, /) -> None: ...
    def ivcom_listen(self, plat: object, name: bytes, peer: int, params: object,
                     out: object, /) -> int: ...
    def ivcom_accept(self, ch: object, timeout_ms: int, /) -> int: ...
    def ivcom_connect(self, plat: object, name: bytes, server: int, params: object,
                      out: object, timeout_ms: int, /) -> int: ...
    def ivcom_connect_start(self, plat: object, name: bytes, server: int, params: object,
                            out: object, /) -> int: ...
    def ivcom_connect_fd(self, ch: object, /) -> int: ...
    def ivcom_connect_continue(self, ch: object, timeout_ms: int, /) -> int: ...
    def ivcom_service_open(self, plat: object, name: bytes, params: object, policy: object,
                           out: object, /) -> int: ...
    def ivcom_service_fd(self, svc: object, /) -> int: ...
    def ivcom_service_accept(self, svc: object, out: object, timeout_ms: int, /) -> int: ...
    def ivcom_service_get_stats(self, svc: object, out: object, /) -> None: ...
    def ivcom_service_close(self, svc: object, /) -> None: ...
    def ivcom_close(self, ch: object, /) -> None: ...
    def ivcom_fd(self, ch: object, /) -> int: ...
    def ivcom_ack(self, ch: object, /) -> int: ...
    def ivcom_msg_reserve(self, ch: object, n: int, buf: object, timeout_ms: int, /) -> int: ...
    def ivcom_msg_try_reserve(self, ch: object, n: int, buf: object, /) -> int: ...
    def ivcom_msg_commit(self, ch: object, /) -> int: ...
    def ivcom_msg_peek(self, ch: object, buf: object, n: object, timeout_ms: int, /) -> int: ...
    def ivcom_msg_try_peek(self, ch: object, buf: object, n: object, /) -> int: ...
    def ivcom_msg_release(self, ch: object, /) -> int: ...
    def ivcom_send(self, ch: object, buf: object, n: int, timeout_ms: int, /) -> int: ...
    def ivcom_try_send(self, ch: object, buf: object, n: int, /) -> int: ...
    def ivcom_recv(self, ch: object, buf: object, n: int, timeout_ms: int, /) -> int: ...
    def ivcom_try_recv(self, ch: object, buf: object, n: int, /) -> int: ...
    def ivcom_stream_try_reserve(self, ch: object, buf: object, n: object, /) -> int: ...
    def ivcom_stream_commit(self, ch: object, n: int, /) -> int: ...
    def ivcom_stream_try_peek(self, ch: object, buf: object, n: object, /) -> int: ...
    def ivcom_stream_release(self, ch: object, n: int, /) -> int: ...
    def ivcom_write(self, ch: object, buf: object, n: int, timeout_ms: int, /) -> int: ...
    def ivcom_try_write(self, ch: object, buf: object, n: int, /) -> int: ...
    def ivcom_read(self, ch: object, buf: object, n: int, timeout_ms: int, /) -> int: ...
    def ivcom_try_read(self, ch: object, buf: object, n: int, /) -> int: ...
    def ivcom_write_all(self, ch: object, buf: object, n: int, timeout_ms: int, /) -> int: ...
    def ivcom_wait_readable(self, ch: object, timeout_ms: int, /) -> int: ...
    def ivcom_wait_writable(self, ch: object, need: int, timeout_ms: int, /) -> int: ...
    def ivcom_flush(self, ch: object, timeout_ms: int, /) -> int: ...
    def ivcom_get_stats(self, ch: object, out: object, /) -> None: ...
    def ivcom_is_broken(self, ch: object, /) -> int: ...
    def ivcom_max_msg(self, ch: object, /) -> int: ...
    def ivcom_peer_domid(self, ch: object, /) -> int: ...
    def ivcom_local_port(self, ch: object, /) -> int: ...
    def ivcom_strerror(self, err: int, /) -> bytes | None: ...


_PVP = ctypes.POINTER(vp)
_PSZ = ctypes.POINTER(sz)
_PPARAMS = ctypes.POINTER(Params)

# name: (restype, argtypes)
SIGNATURES: dict[str, tuple[type | None, list[type]]] = {
    "ivcom_platform_open": (ci, [ctypes.c_char_p, _PVP]),
    "ivcom_platform_close": (None, [vp]),
    "ivcom_platform_name": (ctypes.c_char_p, [vp]),
    "ivcom_platform_domid": (ci, [vp]),
    "ivcom_params_init": (None, [_PPARAMS]),
    "ivcom_listen": (ci, [vp, ctypes.c_char_p, ci, _PPARAMS, _PVP]),
    "ivcom_accept": (ci, [vp, ci]),
    "ivcom_connect": (ci, [vp, ctypes.c_char_p, ci, _PPARAMS, _PVP, ci]),
    "ivcom_connect_start": (ci, [vp, ctypes.c_char_p, ci, _PPARAMS, _PVP]),
    "ivcom_connect_fd": (ci, [vp]),
    "ivcom_connect_continue": (ci, [vp, ci]),
    "ivcom_service_open": (ci, [vp, ctypes.c_char_p, _PPARAMS, ctypes.POINTER(Policy), _PVP]),
    "ivcom_service_fd": (ci, [vp]),
    "ivcom_service_accept": (ci, [vp, _PVP, ci]),
    "ivcom_service_get_stats": (None, [vp, ctypes.POINTER(CServiceStats)]),
    "ivcom_service_close": (None, [vp]),
    "ivcom_close": (None, [vp]),
    "ivcom_fd": (ci, [vp]),
    "ivcom_ack": (ci, [vp]),
    "ivcom_msg_reserve": (ci, [vp, sz, _PVP, ci]),
    "ivcom_msg_try_reserve": (ci, [vp, sz, _PVP]),
    "ivcom_msg_commit": (ci, [vp]),
    "ivcom_msg_peek": (ci, [vp, _PVP, _PSZ, ci]),
    "ivcom_msg_try_peek": (ci, [vp, _PVP, _PSZ]),
    "ivcom_msg_release": (ci, [vp]),
    "ivcom_send": (ctypes.c_ssize_t, [vp, vp, sz, ci]),
    "ivcom_try_send": (ctypes.c_ssize_t, [vp, vp, sz]),
    "ivcom_recv": (ctypes.c_ssize_t, [vp, vp, sz, ci]),
    "ivcom_try_recv": (ctypes.c_ssize_t, [vp, vp, sz]),
    "ivcom_stream_try_reserve": (ci, [vp, _PVP, _PSZ]),
    "ivcom_stream_commit": (ci, [vp, sz]),
    "ivcom_stream_try_peek": (ci, [vp, _PVP, _PSZ]),
    "ivcom_stream_release": (ci, [vp, sz]),
    "ivcom_write": (ctypes.c_ssize_t, [vp, vp, sz, ci]),
    "ivcom_try_write": (ctypes.c_ssize_t, [vp, vp, sz]),
    "ivcom_read": (ctypes.c_ssize_t, [vp, vp, sz, ci]),
    "ivcom_try_read": (ctypes.c_ssize_t, [vp, vp, sz]),
    "ivcom_write_all": (ctypes.c_ssize_t, [vp, vp, sz, ci]),
    "ivcom_wait_readable": (ci, [vp, ci]),
    "ivcom_wait_writable": (ci, [vp, sz, ci]),
    "ivcom_flush": (ci, [vp, ci]),
    "ivcom_get_stats": (None, [vp, ctypes.POINTER(CStats)]),
    "ivcom_is_broken": (ci, [vp]),
    "ivcom_max_msg": (sz, [vp]),
    "ivcom_peer_domid": (ci, [vp]),
    "ivcom_local_port": (ci, [vp]),
    "ivcom_strerror": (ctypes.c_char_p, [ci]),
}

_lock = threading.Lock()
_lib: LibIvcom | None = None
_path: str | None = None


def build_dir() -> Path:
    """A checkout's core build: $IVCOM_BUILD_DIR or build/core."""
    env = os.environ.get("IVCOM_BUILD_DIR")
    return Path(env) if env else ROOT / "build" / "core"


def _declare(dll: ctypes.CDLL, where: str) -> LibIvcom:
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            fn = getattr(dll, name)
        except AttributeError:
            raise OSError(f"libivcom at {where} lacks {name}(): too old for this ivcom") from None
        fn.restype = restype
        fn.argtypes = argtypes
    return cast(LibIvcom, dll)


def _load() -> tuple[LibIvcom, str]:
    env = os.environ.get("IVCOM_LIBRARY")
    if env:
        try:
            return _declare(ctypes.CDLL(env), env), env
        except OSError as exc:
            raise OSError(f"cannot load libivcom from IVCOM_LIBRARY={env}: {exc}") from exc
    tried: list[str] = ["IVCOM_LIBRARY (unset)"]
    for path in (PACKAGED, build_dir() / SONAME):
        if not path.exists():
            tried.append(f"{path} (absent)")
            continue
        try:
            return _declare(ctypes.CDLL(str(path)), str(path)), str(path)
        except OSError as exc:
            tried.append(f"{path} ({exc})")
    found = ctypes.util.find_library("ivcom")
    if found:
        try:
            return _declare(ctypes.CDLL(found), found), found
        except OSError as exc:
            tried.append(f"find_library('ivcom') -> {found} ({exc})")
    else:
        tried.append("find_library('ivcom') (nothing)")
    raise OSError(
        errno.ENOENT,
        "libivcom not found; looked at: " + "; ".join(tried)
        + ". Set IVCOM_LIBRARY to its path or build it (make core)",
    )


def lib() -> LibIvcom:
    """libivcom, loaded and declared on first use."""
    global _lib, _path
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib, _path = _load()
    return _lib


def loaded_from() -> str | None:
    """The path libivcom was loaded from (None before first use)."""
    return _path


def strerror(err: int) -> str:
    """ivcom_strerror()'s text for err (either sign)."""
    text = lib().ivcom_strerror(err)
    return text.decode(errors="replace") if text else os.strerror(abs(err))


def timeout_ms(timeout: float | None) -> int:
    """Seconds (None = forever, 0 = do not wait) as libivcom's milliseconds,
    rounded up so that a short wait is never a non-blocking one."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError("timeout must be a number of seconds or None, "
                        f"not {type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout!r}")
    if math.isinf(timeout):
        return -1
    return min(math.ceil(timeout * 1000), INT_MAX)
