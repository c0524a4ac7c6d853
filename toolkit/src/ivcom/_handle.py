"""The lifetime of a libivcom handle, shared by channels, connects under way
and services: one C object, the platform it belongs to, and a close that
is safe from any thread and at any time.

Every C call goes through :meth:`_Handle._enter` / :meth:`_Handle._leave`
(or :meth:`_Handle._call`, which does both): a close while a call blocks
in another thread only marks the handle, and the call's return frees it.
A handle made without a platform owns the default one it opened and lets
it go with itself.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from types import TracebackType
from typing import ClassVar, Self, TypeVar

from ivcom.exceptions import closed_error, error_from
from ivcom.platform import Platform

T = TypeVar("T")


class _Handle:
    """One libivcom object (`_h`) of platform `_plat`.  Subclasses say
    what they are (`_what`, for ChannelClosedError) and how their object is
    freed (`_free`)."""

    _what: ClassVar[str] = "channel"

    def __init__(self, handle: ctypes.c_void_p, platform: Platform, owns_platform: bool,
                 name: str) -> None:
        self._lib = platform._lib
        self._h: ctypes.c_void_p | None = handle
        self._plat = platform
        self._owns_plat = owns_platform
        self._name = name
        self._lock = threading.Lock()
        self._busy = 0
        self._close_pending = False
        platform._adopt(self)

    # -- what subclasses define --

    def _free(self, h: ctypes.c_void_p) -> None:
        """Free the C object (ivcom_close, ivcom_service_close)."""
        raise NotImplementedError

    def _release_platform(self) -> None:
        """Let go of an owned platform (a service's waits for the channels
        it accepted: Platform._close_when_idle)."""
        self._plat.close()

    # -- calls --

    def _enter(self) -> ctypes.c_void_p:
        """The handle, counted busy until _leave(); ChannelClosedError once
        closed."""
        with self._lock:
            h = self._h
            if h is None or self._close_pending:
                raise closed_error(self._what)
            self._busy += 1
            return h

    def _leave(self) -> None:
        with self._lock:
            self._busy -= 1
            last = self._busy == 0 and self._close_pending
        if last:
            self._destroy()

    def _call(self, fn: str, *args: object) -> int:
        """libivcom's `fn`(handle, *args) inside _enter/_leave."""
        h = self._enter()
        try:
            r: int = getattr(self._lib, fn)(h, *args)
            return r
        finally:
            self._leave()

    def _check(self, r: int) -> int:
        """r, or the exception of -errno r."""
        if r < 0:
            raise error_from(r, self._name)
        return r

    # -- lifetime --

    def _hand_over(self, make: Callable[[ctypes.c_void_p], T]) -> T:
        """make(handle): the object that owns the C object from now on (a
        connect that became a channel; it joins the platform first, so an
        owned platform stays open).  This one forgets it, unfreed."""
        with self._lock:
            h = self._h
            if h is None or self._close_pending or self._busy:
                raise closed_error(self._what)
            self._h = None
        try:
            obj = make(h)
        except BaseException:
            self._h = h
            self.close()
            raise
        self._plat._forget(self)
        return obj

    def _destroy(self) -> None:
        with self._lock:
            h, self._h = self._h, None
        if h is None:
            return
        self._free(h)
        self._plat._forget(self)
        if self._owns_plat:
            self._release_platform()

    def close(self) -> None:
        """Close it; a call under way in another thread finishes first.  A
        second close does nothing."""
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

    @property
    def name(self) -> str:
        return self._name

    @property
    def platform(self) -> Platform:
        return self._plat

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
