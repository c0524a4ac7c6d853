"""Exceptions of the channel API: libivcom's -errno as Python exceptions.

Every one is an :class:`OSError` carrying ``errno`` and libivcom's text
(``ivcom_strerror``) as ``strerror``, and subclasses the builtin a Python
program already catches:

=============  ==============================================================
-EPROTO        :class:`ProtocolError` (a :class:`ConnectionError`): the peer
               broke the protocol; the channel is broken for good
-EPIPE         :class:`BrokenPipeError`: the peer closed or died (raised once
               everything it sent has been received)
-ETIMEDOUT     :class:`TimeoutError`
-EAGAIN        :class:`BlockingIOError` (a call with ``timeout=0``)
-EACCES/-EPERM :class:`PermissionError` (e.g. a third domain's connect)
-ENOTCONN      :class:`NotConnectedError` (a :class:`ConnectionError`)
-ESTALE        :class:`StaleOfferError` (a :class:`ConnectionError`): the
               offer's pages belong to a server that is gone
-EINVAL        :class:`InvalidArgumentError` (also a :class:`ValueError`)
-EMSGSIZE      :class:`MessageTooLargeError` (also a :class:`ValueError`):
               the message stays queued
others         the :class:`OSError` subclass Python picks for the errno
=============  ==============================================================

A call on a closed channel raises :class:`ChannelClosedError` (EBADF, also a
:class:`ValueError`, as a closed file does).  Bad Python arguments raise a
plain :class:`TypeError` or :class:`ValueError` before any C call.
"""

from __future__ import annotations

import errno

from ivcom import _clib


class ProtocolError(ConnectionError):
    """The peer broke the protocol (-EPROTO); the channel is broken."""


class NotConnectedError(ConnectionError):
    """The channel is not connected yet (-ENOTCONN): accept() first."""


class StaleOfferError(ConnectionError):
    """The offer read from XenStore belongs to a server that is gone (-ESTALE)."""


class InvalidArgumentError(OSError, ValueError):
    """libivcom refused an argument or a call in this state (-EINVAL)."""


class MessageTooLargeError(OSError, ValueError):
    """The message is larger than the ring or the buffer allows (-EMSGSIZE)."""


class ChannelClosedError(OSError, ValueError):
    """The channel (or platform) was closed (EBADF)."""


_BY_ERRNO: dict[int, type[OSError]] = {
    errno.EPROTO: ProtocolError,
    errno.ENOTCONN: NotConnectedError,
    errno.ESTALE: StaleOfferError,
    errno.EINVAL: InvalidArgumentError,
    errno.EMSGSIZE: MessageTooLargeError,
}


def error_from(err: int, name: str | None = None) -> OSError:
    """The exception for libivcom's return value err (-errno); name (the
    channel's) goes where OSError puts a file name."""
    code = abs(err)
    cls = _BY_ERRNO.get(code, OSError)     # OSError(code, ...) picks the builtin subclass
    text = _clib.strerror(code)
    return cls(code, text) if name is None else cls(code, text, name)


def closed_error(what: str = "channel") -> ChannelClosedError:
    return ChannelClosedError(errno.EBADF, f"{what} is closed")
