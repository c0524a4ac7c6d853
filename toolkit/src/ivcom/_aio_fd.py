"""Descriptors several asyncio waiters share: a platform's XenStore watch
serves its service and every connect under way on it, while
``loop.add_reader`` keeps one callback per descriptor.  Used by
:mod:`ivcom.aio_channel` (connect, AsyncService.accept)."""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from typing import TypeVar

from ivcom.exceptions import closed_error

T = TypeVar("T")


# Futures waiting for a descriptor to poll readable, by (event loop,
# descriptor): several per descriptor, as a platform's XenStore watch
# serves its service and its connects under way while loop.add_reader
# keeps one callback per descriptor.  A readable descriptor wakes all its
# waiters and leaves the selector until one waits again; an entry goes
# with its last waiter.
_fd_waiters: dict[tuple[asyncio.AbstractEventLoop, int], set[asyncio.Future[None]]] = {}


def _arm(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.Future[None]:
    fut: asyncio.Future[None] = loop.create_future()
    waiters = _fd_waiters.get((loop, fd))
    if waiters is None:
        waiters = _fd_waiters[loop, fd] = set()
        loop.add_reader(fd, _fd_ready, loop, fd)
    waiters.add(fut)
    return fut


def _drop(loop: asyncio.AbstractEventLoop, fd: int, fut: asyncio.Future[None]) -> None:
    """Forget a waiter (at once: the descriptor may be closed next)."""
    waiters = _fd_waiters.get((loop, fd))
    if waiters is not None and fut in waiters:
        waiters.discard(fut)
        if not waiters:
            del _fd_waiters[loop, fd]
            loop.remove_reader(fd)


def _fd_ready(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    waiters = _fd_waiters.pop((loop, fd), set())
    loop.remove_reader(fd)
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)


def _draining(loop: asyncio.AbstractEventLoop, fd: int, call: Callable[[], T]) -> T:
    """call() -- an ivcom_connect_continue or ivcom_service_accept, which
    begin by draining the platform's whole queue of watch events.  Events
    pending on fd then may have been another waiter's, one that looked at
    XenStore before they came and now waits on fd: wake them all to look
    again (a waiter that finds fd quiet drains nothing and wakes nobody)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    pending = bool(poller.poll(0))
    try:
        return call()
    finally:
        if pending and (loop, fd) in _fd_waiters:
            _fd_ready(loop, fd)


async def _readable(fd: int, mine: set[asyncio.Future[None]]) -> None:
    """Wait until fd polls readable; the waiter is in `mine` meanwhile
    (see _abandon)."""
    loop = asyncio.get_running_loop()
    fut = _arm(loop, fd)
    mine.add(fut)
    try:
        await fut
    finally:
        mine.discard(fut)
        _drop(loop, fd, fut)


def _abandon(loop: asyncio.AbstractEventLoop | None, fd: int,
             mine: set[asyncio.Future[None]], what: str) -> None:
    """The object behind fd closes: its waiters leave the selector now and
    get ChannelClosedError."""
    if loop is None:
        return
    for fut in list(mine):
        mine.discard(fut)
        _drop(loop, fd, fut)
        if not fut.done():
            fut.set_exception(closed_error(what))
