"""Which channel an event-channel port belongs to, and what moved on it.

The tracers count event sends per local port (bcc, in the traced domain)
or per domain (xentrace).  This module joins those counts with the
channels XenStore lists (discovery.py):

- IVCOM: the server's port is `event-channel`, the client's own port
  `client/event-channel` (written when the client connects);
- libxenvchan: the server's port is `event-channel`; the client's local
  port is in no node, so it is found through lsevtchn, whose
  "Remote Domain D, Port P" names the server's end.

A port is joined to a channel only on positive evidence: a node that
names it, or lsevtchn saying it is connected to the channel's other end.
A port claimed by two channels, or contradicted by lsevtchn, is left
unattributed and the reason is kept.  Ports bound after start-up are found
by reading XenStore again (at most once per interval, and only when a
port nobody claims shows up).

Bytes moved come from the control page, read-only, where this domain is
the grantee (it is the channel's client): the difference of the producer
indexes between two readings.  Message counts are DERIVED from bytes and a
record size the user gives; nothing here counts messages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivcom import layouts as L

from ivcom_trace.common import first_line
from ivcom_trace.discovery import STORE_ERRORS, ChannelInfo, Store, list_channels, read_int

U32 = 1 << 32
MIB = 1 << 20

#: Why a per-channel wakeup count is not given (see cmd_evtchn's BPF).
# (Deliveries are counted per irq, and Linux 6.1 shows no irq-to-port map:
# cmd_evtchn learns it when a port is bound, from a kprobe on
# bind_evtchn_to_irqhandler_lateeoi.)
WAKEUPS_UNAVAILABLE = "irq->port unknown: no probe on bind_evtchn_to_irqhandler_lateeoi"
WAKEUPS_BOUND_BEFORE = "port bound before tracing began (irq learned at bind time)"

#: Violations after which a control page is no longer trusted for counting.
_UNTRUSTED = {
    L.ViolationKind.SHORT_PAGE, L.ViolationKind.BAD_MAGIC, L.ViolationKind.BAD_VERSION,
    L.ViolationKind.BAD_ORDER, L.ViolationKind.INDEX_DISTANCE,
}

#: local port -> (remote domid, remote port or None), as lsevtchn reports it.
Peers = Mapping[int, tuple[int, int | None]]


@dataclass(frozen=True)
class ChannelEnd:
    """One end of a channel that lives in the traced domain."""

    channel: ChannelInfo
    end: str  # "server" or "client"
    port: int  # the local port
    peer_domid: int | None
    peer_port: int | None
    via: str  # how the port was found: "xenstore" or "lsevtchn"

    @property
    def label(self) -> str:
        return self.channel.label

    def to_json(self) -> dict[str, Any]:
        c = self.channel
        return {
            "channel": c.label, "kind": c.kind, "path": c.path, "server": c.server,
            "client": c.client, "end": self.end, "port": self.port,
            "peer_domid": self.peer_domid, "peer_port": self.peer_port, "via": self.via,
        }  # fmt: skip


@dataclass(frozen=True)
class Join:
    ends: dict[int, ChannelEnd]  # local port -> end
    skipped: tuple[str, ...] = ()  # one line per channel end that could not be joined


def _reverse(peers: Peers) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for local, (dom, rport) in peers.items():
        if rport is not None:
            out.setdefault((dom, rport), []).append(local)
    return out


def join_ports(channels: Iterable[ChannelInfo], local_domid: int,
               peers: Peers | None = None) -> Join:
    """Map the traced domain's ports to the channel ends it holds.

    `peers` (from lsevtchn) is optional: without it, ports are joined from
    XenStore alone and libxenvchan client ends cannot be found."""
    peers = peers or {}
    by_remote = _reverse(peers)
    claims: dict[int, list[ChannelEnd]] = {}
    skipped: list[str] = []

    def claim(end: ChannelEnd) -> None:
        seen = peers.get(end.port)
        if seen is not None and end.peer_domid is not None and seen[0] != end.peer_domid:
            skipped.append(f"{end.label} ({end.end}): port {end.port} is connected to "
                           f"d{seen[0]}, not d{end.peer_domid} (stale node?)")
            return
        if (seen is not None and end.peer_port is not None and seen[1] is not None
                and seen[1] != end.peer_port):
            skipped.append(f"{end.label} ({end.end}): port {end.port} is connected to port "
                           f"{seen[1]} of d{seen[0]}, not {end.peer_port} (stale node?)")
            return
        claims.setdefault(end.port, []).append(end)

    def by_lsevtchn(c: ChannelInfo, what: str) -> None:
        if c.event_channel is None:
            skipped.append(f"{c.label} (client): no server event-channel node")
            return
        hits = by_remote.get((c.server, c.event_channel), [])
        if len(hits) == 1:
            claim(ChannelEnd(c, "client", hits[0], c.server, c.event_channel, "lsevtchn"))
        elif not hits:
            skipped.append(f"{c.label} (client): {what}, and no local port is connected "
                           f"to port {c.event_channel} of d{c.server}")
        else:
            skipped.append(f"{c.label} (client): ports {sorted(hits)} are all connected "
                           f"to port {c.event_channel} of d{c.server}")

    for c in channels:
        if c.server == local_domid:
            if c.event_channel is None:
                skipped.append(f"{c.label} (server): no usable event-channel node")
            else:
                peer_port = c.client_event_channel if c.kind == "ivcom" else None
                claim(ChannelEnd(c, "server", c.event_channel, c.client, peer_port, "xenstore"))
        if c.client is not None and c.client == local_domid:
            if c.kind == "ivcom" and c.client_event_channel is not None:
                claim(ChannelEnd(c, "client", c.client_event_channel, c.server,
                                 c.event_channel, "xenstore"))
            elif c.kind == "ivcom":
                # not connected yet (or an older client): lsevtchn may tell
                by_lsevtchn(c, "no client/event-channel node")
            else:
                by_lsevtchn(c, "libxenvchan publishes only the server's port")
    ends: dict[int, ChannelEnd] = {}
    for port, cl in claims.items():
        if len(cl) == 1:
            ends[port] = cl[0]
        else:
            names = ", ".join(f"{e.label} ({e.end})" for e in cl)
            skipped.append(f"port {port} is claimed by {names}: not attributed")
    return Join(ends, tuple(skipped))


def local_domid(store: Store, capabilities: str = "/proc/xen/capabilities") -> int | None:
    """This domain's id: XenStore's relative `domid` node, else 0 in dom0."""
    # A missing node, no permission, or not a number.
    unknown: tuple[type[Exception], ...] = (*STORE_ERRORS, ValueError)
    try:
        v = store.read(b"domid").decode(errors="replace").strip()
        return int(v)
    except unknown:
        pass
    try:
        with open(capabilities) as f:
            if "control_d" in f.read():
                return 0
    except OSError:
        pass
    return None


# ---- bytes moved --------------------------------------------------------------------


class CtrlReader(Protocol):
    """The channel's control (or vchan shared) page, read-only."""

    def read(self) -> bytes: ...

    def close(self) -> None: ...


#: Opens a reader for a channel; raises an IvcomError (one line) when it cannot.
CtrlOpener = Callable[[ChannelInfo], CtrlReader]


class _SourceReader:
    def __init__(self, src: Any) -> None:
        self._src = src

    def read(self) -> bytes:
        return bytes(self._src.snapshot().ctrl)

    def close(self) -> None:
        self._src.close()


def xen_ctrl_opener(info: ChannelInfo) -> CtrlReader:
    """The control page through /dev/xen/gntdev (this domain must be the grantee)."""
    from ivcom_trace.sources import SourceError, XenSource

    if info.ctrl_ref is None:
        raise SourceError(f"{info.label} has no ctrl-ref/ring-ref node")
    return _SourceReader(XenSource(info.server, info.ctrl_ref, info.kind, with_data=False,
                                   label=info.label))


def producer_indexes(kind: str, page: bytes) -> tuple[dict[str, int] | None, str]:
    """{direction: producer index} of a page, or (None, why it is not trusted)."""
    d = L.decode_vchan(page) if kind == "vchan" else L.decode_ivcom(page)
    bad = sorted({v.kind.value for v in d.violations if v.kind in _UNTRUSTED})
    if bad or not d.directions:
        return None, f"control page not valid ({', '.join(bad) or 'no rings'})"
    return {x.name: x.prod for x in d.directions}, ""


@dataclass
class _Meter:
    reader: CtrlReader | None
    last: dict[str, int] | None  # producer indexes at the last reading
    note: str = ""  # why there are no bytes (when reader is None)
    since_start: bool = False  # the first delta counts from the channel's start


@dataclass(frozen=True)
class Moved:
    """Bytes one channel moved in one interval (None: not measurable, see note)."""

    by_direction: dict[str, int] | None
    note: str = ""
    since_channel_start: bool = False

    @property
    def total(self) -> int | None:
        return None if self.by_direction is None else sum(self.by_direction.values())


# ---- the per-interval view ------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRow:
    end: ChannelEnd | None  # None: a channel we only watch bytes of (port not joined)
    channel: ChannelInfo
    sends: int
    tgids: tuple[int, ...]
    moved: Moved
    msg_size: int | None
    wakeups: int | None = None      # deliveries on the port's irq
    wakeups_note: str | None = WAKEUPS_UNAVAILABLE

    @property
    def messages(self) -> int | None:
        """DERIVED: bytes moved in both directions // msg_size."""
        t = self.moved.total
        if self.msg_size is None or t is None:
            return None
        return t // self.msg_size

    @property
    def sends_per_1000_messages(self) -> float | None:
        return per_1000(self.sends, self.messages)

    @property
    def sends_per_mib(self) -> float | None:
        t = self.moved.total
        if self.msg_size is not None or not t:
            return None
        return round(self.sends * MIB / t, 3)

    def to_json(self) -> dict[str, Any]:
        if self.end is not None:
            doc = self.end.to_json()
        else:
            c = self.channel
            doc = {"channel": c.label, "kind": c.kind, "path": c.path, "server": c.server,
                   "client": c.client, "end": None, "port": None, "peer_domid": None,
                   "peer_port": None, "via": None}
        doc.update({
            "sends": self.sends,
            "tgids": list(self.tgids),
            "wakeups": self.wakeups,
            "bytes": self.moved.by_direction,
            "bytes_total": self.moved.total,
        })  # fmt: skip
        if self.wakeups is None:
            doc["wakeups_note"] = self.wakeups_note
        if self.moved.note:
            doc["bytes_note"] = self.moved.note
        if self.moved.since_channel_start:
            doc["bytes_since_channel_start"] = True
        if self.msg_size is not None:
            doc["msg_size"] = self.msg_size
            doc["messages_derived"] = self.messages
            doc["sends_per_1000_messages"] = self.sends_per_1000_messages
        else:
            doc["sends_per_mib"] = self.sends_per_mib
        return doc


@dataclass(frozen=True)
class IntervalView:
    rows: tuple[ChannelRow, ...]
    unattributed: dict[int, int]  # port -> sends nobody claims
    notes: tuple[str, ...] = ()
    refreshed: bool = False  # XenStore was read again this interval


@dataclass
class Attribution:
    """The join kept up to date over a trace, and the byte meters.

    `store` is None when XenStore cannot be reached (then `note` says why
    and every send stays unattributed).  `peers` runs lsevtchn;
    `ctrl_opener` maps a control page (None: bytes are not measured)."""

    store: Store | None
    local_domid: int | None
    peers: Callable[[], Peers] = dict
    ctrl_opener: CtrlOpener | None = None
    note: str = ""
    ends: dict[int, ChannelEnd] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    refreshes: int = 0
    _channels: dict[tuple[str, int | None], ChannelInfo] = field(default_factory=dict)
    _meters: dict[tuple[str, int | None], _Meter] = field(default_factory=dict)
    _start_complete: bool = False

    @property
    def usable(self) -> bool:
        return self.store is not None and self.local_domid is not None

    def start(self) -> None:
        """The first reading: channels present now count bytes from now."""
        if self.usable:
            self._start_complete = self._read(at_start=True)

    def _read(self, at_start: bool = False) -> bool:
        assert self.store is not None and self.local_domid is not None
        try:
            chans = list_channels(self.store)
        except STORE_ERRORS as exc:  # a store that fails mid-way: keep what we had
            self.note = f"XenStore read failed: {first_line(exc)}"
            return False
        try:
            peers = dict(self.peers())
        except Exception:  # lsevtchn is a hint: without it, XenStore's ports still join
            peers = {}
        self.refreshes += 1
        join = join_ports(chans, self.local_domid, peers)
        # Ports learned earlier stay (a closed channel's nodes are removed
        # before its last sends are reported); a port now claimed by
        # another channel is re-joined.
        self.ends.update(join.ends)
        for port in [p for p, e in self.ends.items()
                     if p in peers and peers[p][0] != e.peer_domid]:
            del self.ends[port]  # the port now leads elsewhere: it was reused
        self.skipped = join.skipped
        now = {(c.path, c.ctrl_ref): c for c in chans}
        for key, c in now.items():
            if key not in self._channels:
                self._channels[key] = c
                self._open_meter(key, c, since_start=not at_start and self._start_complete)
            else:
                self._channels[key] = c
        for key in [k for k in self._meters if k not in now]:
            self._close_meter(key, "channel gone from XenStore")
        return True

    def pending(self) -> list[ChannelInfo]:
        """IVCOM channels this domain is the client of whose port is not
        known yet (the client publishes it when it connects)."""
        if not self.usable:
            return []
        joined = {(e.channel.path, e.channel.ctrl_ref) for e in self.ends.values()
                  if e.end == "client"}
        return [c for key, c in self._channels.items()
                if c.kind == "ivcom" and c.client == self.local_domid
                and c.client_event_channel is None and key not in joined]

    def poll_pending(self) -> int:
        """Read the client/event-channel node of each pending channel (one
        node each: cheap enough to do several times an interval, so that a
        channel that connects and closes within one interval is not missed).
        Returns how many ports were learned."""
        assert self.store is not None and self.local_domid is not None
        learned = 0
        for c in self.pending():
            try:
                port = read_int(self.store, f"{c.path}/client/event-channel")
            except STORE_ERRORS:  # the store failed: the next full read says why
                return learned
            if port is None:
                continue
            c2 = dataclasses.replace(c, client_event_channel=port)
            self._channels[(c.path, c.ctrl_ref)] = c2
            for p, e in join_ports([c2], self.local_domid).ends.items():
                if p not in self.ends:
                    self.ends[p] = e
                    learned += 1
        return learned

    def _open_meter(self, key: tuple[str, int | None], c: ChannelInfo, since_start: bool) -> None:
        if self.ctrl_opener is None:
            return
        if c.client is None or c.client != self.local_domid or c.ctrl_ref is None:
            return  # only the grantee can map the page
        try:
            reader = self.ctrl_opener(c)
        except Exception as exc:  # the opener's IvcomError, or whatever gntdev raises
            self._meters[key] = _Meter(None, None,
                                       f"control page not readable: {first_line(exc)}")
            return
        meter = _Meter(reader, None, since_start=since_start)
        if not since_start:
            meter.last = self._sample(key, meter)
        elif self._sample(key, meter) is not None:
            meter.last = {}  # indexes start at 0 when the channel is created
        self._meters[key] = meter

    def _sample(self, key: tuple[str, int | None], meter: _Meter) -> dict[str, int] | None:
        if meter.reader is None:
            return None
        c = self._channels[key]
        try:
            page = meter.reader.read()
        except Exception as exc:  # a reader that fails: the row says why
            self._close_meter(key, f"control page not readable: {first_line(exc)}")
            return None
        idx, why = producer_indexes(c.kind, page)
        if idx is None:
            self._close_meter(key, why)
        return idx

    def _close_meter(self, key: tuple[str, int | None], why: str) -> None:
        m = self._meters.get(key)
        if m is None or m.reader is None:
            return
        with contextlib.suppress(Exception):  # closing is best effort
            m.reader.close()
        m.reader = None
        m.last = None
        m.note = why

    def _moved(self, key: tuple[str, int | None]) -> Moved | None:
        m = self._meters.get(key)
        if m is None:
            return None
        if m.reader is None:
            return Moved(None, m.note)
        first = m.since_start
        now = self._sample(key, m)
        if now is None:
            return Moved(None, m.note)
        if m.last is None:
            m.last = now
            return Moved(None, "first reading of the control page")
        moved = {d: (v - m.last.get(d, 0)) % U32 for d, v in now.items()}
        m.last = now
        m.since_start = False
        return Moved(moved, since_channel_start=first)

    def interval(self, user_sends: Mapping[tuple[int, int], int],
                 msg_size: int | None = None, domid: int | None = None, *,
                 wakeups: Mapping[int, int] | None = None,
                 wakeup_ports: AbstractSet[int] | None = None) -> IntervalView:
        """Rows for one interval's user-space sends {(tgid, port): n};
        `wakeups` are deliveries per port, for the ports in `wakeup_ports`
        (those whose irq is known; None: no way to know any)."""
        refreshed = False
        if self.usable and any(port not in self.ends for _, port in user_sends):
            refreshed = self._read()
        per_port: dict[int, int] = {}
        tgids: dict[int, set[int]] = {}
        for (tgid, port), n in user_sends.items():
            per_port[port] = per_port.get(port, 0) + n
            tgids.setdefault(port, set()).add(tgid)
        rows: list[ChannelRow] = []
        seen_keys: set[tuple[str, int | None]] = set()
        for port, end in sorted(self.ends.items()):
            key = (end.channel.path, end.channel.ctrl_ref)
            if key in seen_keys:  # both ends live here: bytes go on the first row
                moved = Moved(None, "counted on the channel's other end")
            else:
                moved = self._moved(key) or Moved(None, self._no_bytes_reason(end))
            seen_keys.add(key)
            sends = per_port.get(port, 0)
            woken = None if wakeups is None else wakeups.get(port, 0)
            if sends == 0 and not moved.total and not woken:
                continue
            if domid is not None and end.peer_domid != domid:
                continue
            if wakeup_ports is None or wakeups is None:
                wk, note = None, WAKEUPS_UNAVAILABLE
            elif port in wakeup_ports:
                wk, note = woken, None
            else:
                wk, note = None, WAKEUPS_BOUND_BEFORE
            rows.append(ChannelRow(end, end.channel, sends, tuple(sorted(tgids.get(port, ()))),
                                   moved, msg_size, wk, note))
        # channels whose pages we read but whose local port is unknown
        for key in sorted(k for k in self._meters if k not in seen_keys):
            got = self._moved(key)
            c = self._channels[key]
            if got is None or not got.total:
                continue
            if domid is not None and c.server != domid:
                continue
            rows.append(ChannelRow(None, c, 0, (), got, msg_size))
        unattributed = {p: n for p, n in sorted(per_port.items()) if p not in self.ends}
        notes = [self.note] if self.note else []
        return IntervalView(tuple(rows), unattributed, tuple(notes), refreshed)

    def _no_bytes_reason(self, end: ChannelEnd) -> str:
        if self.ctrl_opener is None:
            return "control page not read"
        if end.end == "server":
            return "this domain granted the pages (server end): only a grantee can map them"
        return "control page not read"

    def close(self) -> None:
        for key in list(self._meters):
            self._close_meter(key, "closed")


def per_1000(count: int, messages: int | None) -> float | None:
    """count per 1000 messages (None when there are no messages)."""
    if not messages:
        return None
    v = 1000.0 * count / messages
    return round(v, 3) if math.isfinite(v) else None
