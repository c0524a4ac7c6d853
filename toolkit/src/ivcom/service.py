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
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Self

from ivcom import _clib
from ivcom._args import (
    _MODE_NAMES,
    _MODES,
    EAGAIN,
    Mode,
    _check_domid,
    _check_int,
    _check_name,
    _check_params,
    _params,
)
from ivcom._handle import _Handle
from ivcom.channel import Channel
from ivcom.exceptions import error_from
from ivcom.platform import Platform, owned


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


class Service(_Handle):
    """A published service.  Make one with :meth:`open`; take clients with
    :meth:`accept`; use it as a context manager or call :meth:`close`.

    Like a channel, one service is not meant to be used by two threads at
    once; a :meth:`close` from another thread while :meth:`accept` blocks
    takes effect when that call returns."""

    _what = "service"

    def __init__(self, handle: ctypes.c_void_p, platform: Platform, owns_platform: bool,
                 name: str, mode: int) -> None:
        """Internal: use open()."""
        super().__init__(handle, platform, owns_platform, name)
        self._mode = mode

    def _free(self, h: ctypes.c_void_p) -> None:
        self._lib.ivcom_service_close(h)

    def _release_platform(self) -> None:
        self._plat._close_when_idle()   # after the last accepted channel

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
        with owned(platform) as (plat, owns):
            params = _params(mode, ring_order, spin_us, poll_only)
            h = ctypes.c_void_p()
            rc = plat._lib.ivcom_service_open(plat._handle(), cname, params,
                                              ctypes.byref(policy), ctypes.byref(h))
            del keep                    # the library copied the list
            if rc < 0:
                raise error_from(rc, name)
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
        rc = self._call("ivcom_service_accept", ctypes.byref(out), ms)
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
        return self._check(self._call("ivcom_service_fd"))

    def stats(self) -> ServiceStats:
        st = _clib.CServiceStats()
        self._call("ivcom_service_get_stats", ctypes.byref(st))
        return ServiceStats(**{f.name: getattr(st, f.name) for f in fields(ServiceStats)})

    # -- what it tells --

    @property
    def mode(self) -> Mode:
        return _MODE_NAMES[self._mode]

    def close(self) -> None:
        """Stop taking clients (the service's name goes from XenStore;
        clients offered a channel but not yet accepted lose it).  Accepted
        channels stay open.  A second close does nothing."""
        super().close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<ivcom.Service {self._name!r} {_MODE_NAMES[self._mode]} {state}>"
