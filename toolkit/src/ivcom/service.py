"""Services from Python: one name, many client domains (ivcom_service_*).

A service is reached by (server domain, name) and gives every client
domain its policy allows a channel of its own; clients connect with the
plain :meth:`ivcom.Channel.connect`, which finds the service by name::

    # domain 1 (the server)
    with ivcom.Service.open("echo", allow=[2, 3]) as svc:
        while True:
            ch = svc.accept()               # an ordinary ivcom.Channel
            print("client", ch.peer_domid)
            ...

    # domains 2 and 3 (clients)
    with ivcom.Channel.connect("echo", server=1, timeout=10) as ch:
        ch.send(b"ping")

The server learns a client's domain from xenstored's record of who made
the request, never from what the client wrote.  A domain outside `allow`
gets :class:`PermissionError` from its connect at once, one that already
holds `max_per_domain` channels an :class:`OSError` with errno EBUSY.
The service answers requests while :meth:`Service.accept` runs (in an
event loop: whenever its descriptor polls readable and accept is called
with timeout 0, see :mod:`ivcom.aio`).  Channels already accepted stay
open when the service closes.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Self

from ivcom import _clib
from ivcom.channel import (
    _MODE_NAMES,
    _MODES,
    EAGAIN,
    Channel,
    Mode,
    Platform,
    _check_domid,
    _check_int,
    _check_name,
    _check_params,
    _params,
)
from ivcom.exceptions import closed_error, error_from


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """A service's counters (struct ivcom_service_stats), one snapshot."""

    requests: int               # requests seen
    accepted: int               # channels handed to accept()
    refused: int                # outside the policy (the client got EACCES)
    over_limit: int             # past max_per_domain (the client got EBUSY)
    abandoned: int              # offered, the client never came
    bad_requests: int           # unreadable or malformed request nodes
    failed: int                 # set-up failures on our side
    pending: int                # offered now, not yet accepted


def _policy(allow: Iterable[int] | None, max_per_domain: object
            ) -> tuple[_clib.Policy, ctypes.Array[ctypes.c_int] | None]:
    per = _check_int(max_per_domain, "max_per_domain")
    if not 0 <= per <= _clib.UINT_MAX:
        raise ValueError(f"max_per_domain {per} outside 0..{_clib.UINT_MAX} (0: the default, 16)")
    pol = _clib.Policy()
    pol.max_per_domain = per
    if allow is None:
        return pol, None
    if isinstance(allow, str | bytes) or not isinstance(allow, Iterable):
        raise TypeError(f"allow must be an iterable of domain ids or None, "
                        f"not {type(allow).__name__}")
    doms = sorted({_check_domid(d, "allowed domain") for d in allow})
    if not doms:
        raise ValueError("allow: at least one domain (None: any domain)")
    arr = (ctypes.c_int * len(doms))(*doms)
    pol.allow = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int))
    pol.nallow = len(doms)
    return pol, arr


class Service:
    """A published service.  Make one with :meth:`open`; take clients with
    :meth:`accept`; use it as a context manager or call :meth:`close`.

    Like a channel, one service is not meant to be used by two threads at
    once; a :meth:`close` from another thread while :meth:`accept` blocks
    takes effect when that call returns."""

    def __init__(self, handle: ctypes.c_void_p, platform: Platform, owns_platform: bool,
                 name: str, mode: int) -> None:
        """Internal: use open()."""
        self._lib = platform._lib
        self._h: ctypes.c_void_p | None = handle
        self._plat = platform
        self._owns_plat = owns_platform
        self._name = name
        self._mode = mode
        self._lock = threading.Lock()
        self._busy = 0
        self._close_pending = False
        platform._adopt(self)

    @classmethod
    def open(cls, name: str, *, allow: Iterable[int] | None = None, max_per_domain: int = 0,
             mode: Mode = "message", ring_order: int | tuple[int, int] = 16,
             spin_us: int | None = None, poll_only: bool = False,
             platform: Platform | None = None) -> Self:
        """Publish service `name` (a previous instance of this domain's
        ends, and its channels with it).  allow: the domains that may
        connect (None: any); max_per_domain: channels one domain may hold
        at once (0: 16).  mode, ring_order (this side's tx, rx), spin_us
        and poll_only apply to every channel, as in Channel.listen."""
        cname = _check_name(name)
        _check_params(mode, ring_order, spin_us, poll_only)
        policy, keep = _policy(allow, max_per_domain)
        plat, owns = (platform, False) if platform is not None else (Platform(), True)
        try:
            params = _params(mode, ring_order, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_service_open(plat._handle(), cname, params,
                                              ctypes.byref(policy), ctypes.byref(h))
            del keep                    # the library copied the list
            if rc < 0:
                raise error_from(rc, name)
        except BaseException:
            if owns:
                plat.close()
            raise
        return cls(h, plat, owns, name, _MODES[mode])

    # -- clients --

    def accept(self, timeout: float | None = None) -> Channel:
        """Answer the requests that came and return the next client's
        channel (connected: ``peer_domid`` is the client's domain), waiting
        up to `timeout` seconds: TimeoutError then; timeout 0 raises
        BlockingIOError when no client is ready."""
        ms = _clib.timeout_ms(timeout)
        ch = self._accept(ms)
        if ch is None:
            raise error_from(EAGAIN, self._name)
        return ch

    def _accept(self, ms: int) -> Channel | None:
        """One ivcom_service_accept: the channel, or None on -EAGAIN (ms 0)."""
        out = ctypes.c_void_p()
        h = self._enter()
        try:
            rc = self._lib.ivcom_service_accept(h, ctypes.byref(out), ms)
        finally:
            self._leave()
        if rc == EAGAIN and ms == 0:
            return None
        if rc < 0:
            raise error_from(rc, self._name)
        try:
            ch = Channel(out, self._plat, False, self._name, True, self._mode)
        except BaseException:
            self._lib.ivcom_close(out)
            raise
        ch._accepted = True
        return ch

    def fileno(self) -> int:
        """A descriptor that polls readable when a client may be waiting:
        then call ``accept(timeout=0)``.  It is the platform's XenStore
        watch: a connect under way on the same platform shares it."""
        h = self._enter()
        try:
            fd = self._lib.ivcom_service_fd(h)
        finally:
            self._leave()
        if fd < 0:
            raise error_from(fd, self._name)
        return fd

    def stats(self) -> ServiceStats:
        st = _clib.CServiceStats()
        h = self._enter()
        try:
            self._lib.ivcom_service_get_stats(h, ctypes.byref(st))
        finally:
            self._leave()
        return ServiceStats(**{f.name: getattr(st, f.name) for f in fields(ServiceStats)})

    # -- what it tells --

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> Mode:
        return _MODE_NAMES[self._mode]

    @property
    def platform(self) -> Platform:
        return self._plat

    @property
    def closed(self) -> bool:
        return self._h is None or self._close_pending

    # -- lifetime --

    def _enter(self) -> ctypes.c_void_p:
        with self._lock:
            h = self._h
            if h is None or self._close_pending:
                raise closed_error("service")
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
        self._lib.ivcom_service_close(h)
        self._plat._forget(self)
        if self._owns_plat:
            self._plat._close_when_idle()   # after the last accepted channel

    def close(self) -> None:
        """Stop taking clients (the service's name goes from XenStore;
        clients offered a channel but not yet accepted lose it).  Accepted
        channels stay open.  A second close does nothing."""
        with self._lock:
            if self._h is None or self._close_pending:
                return
            self._close_pending = True
            busy = self._busy > 0
        if not busy:
            self._destroy()

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
        state = "closed" if self.closed else "open"
        return f"<ivcom.Service {self._name!r} {_MODE_NAMES[self._mode]} {state}>"
