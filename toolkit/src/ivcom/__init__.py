"""IVCOM toolkit: ring layouts, XenStore access, the Xen lab and benchmarks,
and channels from Python.

Channels (libivcom through ctypes, loaded on first use)::

    import ivcom

    with ivcom.Channel.connect("echo", server=1, timeout=10) as ch:
        ch.send(b"ping")
        print(ch.recv())

    with ivcom.Service.open("echo", allow=[2, 3]) as svc:   # many clients
        ch = svc.accept(timeout=10)

asyncio lives in :mod:`ivcom.aio`; its streams functions are here too:
``ivcom.open_connection`` and ``ivcom.start_server`` (imported lazily, so
that ``import ivcom`` does not import asyncio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivcom.channel import Channel, PendingConnect, Stats
from ivcom.exceptions import (
    ChannelClosedError,
    InvalidArgumentError,
    MessageTooLargeError,
    NotConnectedError,
    ProtocolError,
    StaleOfferError,
)
from ivcom.platform import Platform
from ivcom.service import Service, ServiceStats
from ivcom.zerocopy import Reservation

if TYPE_CHECKING:
    from ivcom.aio import open_connection, start_server

__version__ = "0.1.0"

__all__ = [
    "Channel",
    "ChannelClosedError",
    "InvalidArgumentError",
    "MessageTooLargeError",
    "NotConnectedError",
    "PendingConnect",
    "Platform",
    "ProtocolError",
    "Reservation",
    "Service",
    "ServiceStats",
    "StaleOfferError",
    "Stats",
    "open_connection",
    "start_server",
]


def __getattr__(name: str) -> Any:
    if name in ("open_connection", "start_server"):
        from ivcom import aio

        return getattr(aio, name)
    raise AttributeError(f"module 'ivcom' has no attribute {name!r}")
