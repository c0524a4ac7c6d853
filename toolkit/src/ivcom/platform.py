"""The libivcom platform (struct ivcom_platform) from Python.

A :class:`Platform` is this process's view of the hypervisor: "sim",
"xen-linux" (or None: the default).  Channels, connects under way and
services are its members; it closes them with itself.  Made by one of
them (no platform given), it is owned by that member and closed with it:
see :func:`owned`.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import weakref
from collections.abc import Iterator
from typing import Protocol, Self

from ivcom import _clib
from ivcom.exceptions import closed_error, error_from


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


@contextlib.contextmanager
def owned(platform: Platform | None) -> Iterator[tuple[Platform, bool]]:
    """``with owned(platform) as (plat, owns):`` -- the platform given, or
    the default one opened for the member being made (owns: True).  A set-up
    that raises inside the block closes the platform it opened."""
    if platform is not None:
        yield platform, False
        return
    plat = Platform()
    try:
        yield plat, True
    except BaseException:
        plat.close()
        raise
