"""Find channels in XenStore (dom0 view).

IVCOM: /local/domain/<server>/data/ivcom/<name>/ with version, state,
client-domid, mode, s2c-order, c2s-order, ctrl-ref, event-channel (the
server's port), nonce (16 hex digits, also in the control page) and the
client's client/state and client/event-channel (the client's own port,
written when it connects).  Services (many clients under one name) are
found by ivcom_trace.services.

libxenvchan: the server writes ring-ref and event-channel under a path the
application chooses; the convention (and vchan-node's) is
/local/domain/<server>/data/vchan/<client>/<port>/.  Ring orders live in
the shared page, not in XenStore.
"""

from __future__ import annotations

import builtins
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ivcom.errors import IvcomError

DEFAULT_SOCKET = "/var/run/xenstored/socket"

#: What a store raises: pyxs's own errors (PyXSError(errno, text) for a
#: refused request, its ConnectionError for a lost xenstored) and OSError
#: (socket trouble; FakeStore's errno errors).
STORE_ERRORS: tuple[type[Exception], ...]
try:
    from pyxs.exceptions import PyXSError

    STORE_ERRORS = (PyXSError, OSError)
except ImportError:  # open_store() says pyxs is missing; no store raises its errors
    STORE_ERRORS = (OSError,)


class StoreError(IvcomError):
    pass


class Store(Protocol):
    """The subset of pyxs.Client we use (paths and values are bytes)."""

    def list(self, path: bytes) -> list[bytes]: ...

    def read(self, path: bytes, default: bytes | None = None) -> bytes: ...

    def get_perms(self, path: bytes) -> builtins.list[bytes]: ...


@dataclass(frozen=True)
class ChannelInfo:
    kind: str  # "ivcom" or "vchan"
    name: str
    server: int
    client: int | None
    state: str
    client_state: str | None
    mode: str | None
    s2c_order: int | None  # vchan: right (server -> client)
    c2s_order: int | None  # vchan: left (client -> server)
    ctrl_ref: int | None
    event_channel: int | None
    path: str
    client_event_channel: int | None = None  # IVCOM: the client's own port
    nonce: str | None = None  # IVCOM: the offer's nonce node, as written

    @property
    def label(self) -> str:
        return f"{self.server}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ls(store: Store, path: str) -> list[str]:
    try:
        return [x.decode(errors="replace") for x in store.list(path.encode())]
    except STORE_ERRORS as exc:  # pyxs raises PyXSError(errno) for ENOENT/EACCES
        if _errno(exc) in (errno.ENOENT, errno.EACCES, errno.EPERM):
            return []
        raise


def _get(store: Store, path: str) -> str | None:
    try:
        return store.read(path.encode()).decode(errors="replace")
    except STORE_ERRORS as exc:
        if _errno(exc) in (errno.ENOENT, errno.EACCES, errno.EPERM):
            return None
        raise


def owner(store: Store, path: str) -> int | None:
    """The domain xenstored records as the node's owner (the first entry of
    its permissions, e.g. b"n5"); None when unreadable."""
    try:
        perms = store.get_perms(path.encode())
    except STORE_ERRORS as exc:
        if _errno(exc) in (errno.ENOENT, errno.EACCES, errno.EPERM):
            return None
        raise
    first = perms[0].decode(errors="replace") if perms else ""
    if len(first) < 2 or first[0] not in "nrwb" or not first[1:].isdigit():
        return None
    return int(first[1:])


def _errno(exc: Exception) -> int | None:
    a = exc.args[0] if exc.args else None
    return a if isinstance(a, int) else None


def ls(store: Store, path: str) -> list[str]:
    """The children of a node ([] when it is absent or unreadable)."""
    return _ls(store, path)


def get(store: Store, path: str) -> str | None:
    """A node's value (None when it is absent or unreadable)."""
    return _get(store, path)


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def read_int(store: Store, path: str) -> int | None:
    """A node holding a number; None when it is absent, unreadable or not a number."""
    return _int(_get(store, path))


def list_channels(store: Store) -> list[ChannelInfo]:
    out: list[ChannelInfo] = []
    for dom in sorted(_ls(store, "/local/domain"), key=lambda d: _int(d) or 0):
        server = _int(dom)
        if server is None:
            continue
        base = f"/local/domain/{dom}/data/ivcom"
        for name in sorted(_ls(store, base)):
            p = f"{base}/{name}"
            out.append(
                ChannelInfo(
                    kind="ivcom",
                    name=name,
                    server=server,
                    client=_int(_get(store, f"{p}/client-domid")),
                    state=_get(store, f"{p}/state") or "?",
                    client_state=_get(store, f"{p}/client/state") or None,
                    mode=_get(store, f"{p}/mode"),
                    s2c_order=_int(_get(store, f"{p}/s2c-order")),
                    c2s_order=_int(_get(store, f"{p}/c2s-order")),
                    ctrl_ref=_int(_get(store, f"{p}/ctrl-ref")),
                    event_channel=_int(_get(store, f"{p}/event-channel")),
                    path=p,
                    client_event_channel=_int(_get(store, f"{p}/client/event-channel")),
                    nonce=_get(store, f"{p}/nonce"),
                )
            )
        vbase = f"/local/domain/{dom}/data/vchan"
        for cli in sorted(_ls(store, vbase), key=lambda d: _int(d) or 0):
            for port in sorted(_ls(store, f"{vbase}/{cli}"), key=lambda d: _int(d) or 0):
                p = f"{vbase}/{cli}/{port}"
                ref = _int(_get(store, f"{p}/ring-ref"))
                if ref is None:
                    continue
                out.append(
                    ChannelInfo(
                        kind="vchan",
                        name=f"vchan:{cli}/{port}",
                        server=server,
                        client=_int(cli),
                        state="offered",
                        client_state=None,
                        mode="stream",
                        s2c_order=None,
                        c2s_order=None,
                        ctrl_ref=ref,
                        event_channel=_int(_get(store, f"{p}/event-channel")),
                        path=p,
                    )
                )
    return out


def find_channel(store: Store, name: str) -> ChannelInfo:
    """NAME, SERVER/NAME, or a full XenStore path."""
    chans = list_channels(store)
    hits = [c for c in chans if name in (c.name, c.label, c.path)]
    if not hits:
        known = ", ".join(c.label for c in chans) or "none"
        raise StoreError(f"no channel {name!r} in XenStore (known: {known})")
    if len(hits) > 1:
        raise StoreError(
            f"channel name {name!r} is ambiguous: {', '.join(c.label for c in hits)}; "
            "use SERVER/NAME"
        )
    return hits[0]


def channel_state(store: Store, info: ChannelInfo) -> str | None:
    """The channel's state node now (None once the node is gone)."""
    if info.kind == "vchan":
        return "offered" if _get(store, f"{info.path}/ring-ref") is not None else None
    return _get(store, f"{info.path}/state")


@contextmanager
def open_store() -> Iterator[Store]:
    """A pyxs client on XENSTORED_PATH (or the standard socket)."""
    path = os.environ.get("XENSTORED_PATH", DEFAULT_SOCKET)
    try:
        import pyxs
    except ImportError:
        raise StoreError("pyxs is not installed (pip install pyxs)") from None
    client = pyxs.Client(unix_socket_path=path)
    try:
        client.connect()
    except STORE_ERRORS as exc:
        raise StoreError(
            f"cannot reach xenstored at {path}: {exc} (set XENSTORED_PATH?)"
        ) from None
    try:
        yield client
    finally:
        client.close()
