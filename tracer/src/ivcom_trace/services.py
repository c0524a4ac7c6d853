"""Find IVCOM services in XenStore (dom0 view) and pick one client's channel.

A service is one name and many client domains
(ivcom-core/src/chan_svc_xs.c):

  /local/domain/<S>/data/ivcom-svc/<name>/state = "listening"
  /local/domain/<S>/data/ivcom-svc/<name>/req/<token>   created by client C
      "request 1" -> "offer 1 <mode> <s2c> <c2s> <ctrl-ref> <port> <nonce>"
      | "refused" | "busy" -> "connected <client-port> <ctrl-ref> <nonce>"
      -> "closed"
  /local/domain/<C>/data/ivcom-svc-client/<S>/<name>/<token>  C's presence

The client is the request node's OWNER as xenstored records it, never a
value anyone wrote.  Once connected, the client's word names the offer it
took (control page ref and nonce; the service hands the channel out only
if both are its offer's); the nonce is checked against the page's own
when the page is opened, so a client naming another page is seen.  Older
clients said only "connected <client-port>": their page is found again
through the client domain's mappings on the sim (`locate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ivcom import layouts as L
from ivcom.errors import UsageError

from ivcom_trace.discovery import (
    ChannelInfo,
    Store,
    StoreError,
    channel_state,
    get,
    list_channels,
    ls,
    owner,
)

SVC_BASE = "data/ivcom-svc"
CLIENT_BASE = "data/ivcom-svc-client"
HEX16 = re.compile(r"^[0-9a-f]{16}$")
U32_MAX = (1 << 32) - 1
LIVE_STATES = ("offered", "connected")


@dataclass(frozen=True)
class ServiceClient:
    """One request under a service: a client domain's channel, or its try."""

    server: int
    name: str
    token: str
    client: int | None  # the request node's owner (xenstored's record)
    state: str  # requested offered connected refused busy closed malformed
    value: str | None  # the node's value as read
    path: str
    mode: str | None = None
    s2c_order: int | None = None
    c2s_order: int | None = None
    ctrl_ref: int | None = None
    event_channel: int | None = None  # the server's port (in the offer)
    client_event_channel: int | None = None  # the client's port ("connected <port>")
    nonce: str | None = None  # the offer's nonce, as written
    presence: str | None = None  # the client's presence node (None: absent)
    client_pid: int | None = None  # the client process named in its presence
    problem: str | None = None  # why the entry is malformed
    located: str | None = None  # where ctrl_ref came from: "offer", "connected", "page"

    @property
    def label(self) -> str:
        return f"{self.server}/{self.name}/{self.token}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    server: int
    state: str
    path: str
    clients: tuple[ServiceClient, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.server}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = "service"
        d["clients"] = [c.to_json() for c in self.clients]
        return d


def _u32(word: str, lo: int = 0, hi: int = U32_MAX) -> int | None:
    if not word.isdigit() or not word.isascii():
        return None
    v = int(word)
    return v if lo <= v <= hi else None


def parse_request(value: str | None) -> dict[str, Any]:
    """A request node's value, strictly as the library parses it: the
    state and what it carries, or state "malformed" and the problem."""
    if value is None:
        return {"state": "gone"}
    if value == "request 1":
        return {"state": "requested"}
    if value in ("refused", "busy", "closed"):
        return {"state": value}
    words = value.split(" ")
    if words[0] == "connected" and len(words) in (2, 4):
        cport = _u32(words[1])
        if cport is None:
            return {"state": "malformed", "problem": f"bad client port {words[1][:16]!r}"}
        if len(words) == 2:  # an older client: the page is not named
            return {"state": "connected", "client_event_channel": cport}
        named = _u32(words[2])
        if named is None or not HEX16.match(words[3]):
            what = "ctrl-ref" if named is None else "nonce"
            return {"state": "malformed", "problem": f"bad connected {what}"}
        return {"state": "connected", "client_event_channel": cport, "ctrl_ref": named,
                "nonce": words[3]}
    if words[0] == "offer" and len(words) == 8:
        _, version, mode, s2c, c2s, ref, port, nonce = words
        lo, hi = L.IVCOM_RING_ORDER_MIN, L.IVCOM_RING_ORDER_MAX
        fields = {
            "mode": mode if mode in ("message", "stream") else None,
            "s2c_order": _u32(s2c, lo, hi),
            "c2s_order": _u32(c2s, lo, hi),
            "ctrl_ref": _u32(ref),
            "event_channel": _u32(port),
        }
        bad = [k for k, v in fields.items() if v is None]
        if version != "1":
            bad.insert(0, "version")
        if not HEX16.match(nonce):
            bad.append("nonce")
        if not bad:
            return {"state": "offered", "nonce": nonce, **fields}
        return {"state": "malformed", "problem": "bad offer " + ", ".join(bad)}
    if words[0] in ("offer", "connected"):
        need = "8" if words[0] == "offer" else "2 or 4"
        return {"state": "malformed",
                "problem": f"bad {words[0]}: {len(words)} words, need {need}"}
    return {"state": "malformed", "problem": f"unknown value {value[:24]!r}"}


def read_client(store: Store, server: int, name: str, token: str) -> ServiceClient:
    path = f"/local/domain/{server}/{SVC_BASE}/{name}/req/{token}"
    value = get(store, path)
    who = owner(store, path)
    parsed = parse_request(value)
    if not HEX16.match(token) and parsed["state"] != "gone":
        parsed = {"state": "malformed", "problem": "token is not 16 hex digits"}
    presence, pid = None, None
    if who is not None:
        presence = get(store, f"/local/domain/{who}/{CLIENT_BASE}/{server}/{name}/{token}")
    if presence is not None:
        # "connected <pid>" where the client has processes (chan_sweep.c)
        state, _, rest = presence.partition(" ")
        if state == "connected" and rest.isdigit():
            presence, pid = state, int(rest)
    sc = ServiceClient(server=server, name=name, token=token, client=who, value=value,
                       path=path, presence=presence, client_pid=pid, **parsed)
    if sc.ctrl_ref is None:
        return sc
    return replace(sc, located="connected" if sc.state == "connected" else "offer")


def list_services(store: Store) -> list[ServiceInfo]:
    out: list[ServiceInfo] = []
    doms = [d for d in ls(store, "/local/domain") if d.isdigit()]
    for dom in sorted(doms, key=int):
        base = f"/local/domain/{dom}/{SVC_BASE}"
        for name in sorted(ls(store, base)):
            p = f"{base}/{name}"
            clients = tuple(read_client(store, int(dom), name, t)
                            for t in sorted(ls(store, f"{p}/req")))
            out.append(ServiceInfo(name, int(dom), get(store, f"{p}/state") or "?", p,
                                   clients))
    return out


# ---- locating a connected client's control page -------------------------------------

PageRead = Callable[[int, int], "bytes | None"]  # (granter, ref) -> page


def _ctrl_header(page: bytes | None) -> L.IvcomCtrl | None:
    """The page's header when it can be an IVCOM control page."""
    if page is None:
        return None
    d = L.decode_ivcom(page)
    h = d.header
    fatal = {L.ViolationKind.BAD_MAGIC, L.ViolationKind.BAD_VERSION,
             L.ViolationKind.BAD_ORDER, L.ViolationKind.BAD_GREFS}
    if not isinstance(h, L.IvcomCtrl) or any(v.kind in fatal for v in d.violations):
        return None
    return h


def control_pages(mapped: set[int], granter: int, read: PageRead
                  ) -> dict[int, L.IvcomCtrl]:
    """The control pages among the refs a domain maps: pages that decode
    as one and whose data refs that domain maps too."""
    found: dict[int, L.IvcomCtrl] = {}
    data: set[int] = set()
    for ref in sorted(mapped):
        if ref in data:
            continue
        h = _ctrl_header(read(granter, ref))
        if h is None or ref in h.grefs or not set(h.grefs) <= mapped:
            continue
        found[ref] = h
        data.update(h.grefs)
    return {r: h for r, h in found.items() if r not in data}


def known_refs(chans: list[ChannelInfo], svcs: list[ServiceInfo], server: int) -> set[int]:
    """Control refs of `server` that XenStore names (an older connected
    service client's is not among them)."""
    refs = {c.ctrl_ref for c in chans if c.kind == "ivcom" and c.server == server}
    for s in svcs:
        if s.server == server:
            refs.update(c.ctrl_ref for c in s.clients if c.located in ("offer", "connected"))
    return {r for r in refs if r is not None}


def locate(sc: ServiceClient, mapped: dict[tuple[int, int], set[int]], known: set[int],
           read: PageRead) -> ServiceClient | str:
    """The client with its control page found among its domain's mappings
    (ref, mode, orders, the page's nonce), or one line saying why not."""
    if sc.client is None:
        return f"{sc.label}: the request node's owner is unreadable"
    refs = mapped.get((sc.server, sc.client), set())
    pages = {r: h for r, h in control_pages(refs, sc.server, read).items() if r not in known}
    if not pages:
        return (f"{sc.label}: domain {sc.client} maps no control page of domain "
                f"{sc.server} that XenStore does not name elsewhere")
    if len(pages) > 1:
        return (f"{sc.label}: domain {sc.client} maps {len(pages)} unnamed control pages "
                f"of domain {sc.server} (refs {', '.join(map(str, sorted(pages)))}); "
                "XenStore cannot tell them apart once connected")
    ref, h = next(iter(pages.items()))
    return replace(sc, ctrl_ref=ref, mode=L.MODE_NAMES.get(h.mode), s2c_order=h.s2c_order,
                   c2s_order=h.c2s_order, nonce=None, located="page")


def named_page(sc: ServiceClient, read: PageRead) -> ServiceClient:
    """A connected client whose "connected" names its page, with the mode
    and orders that page says -- when the page's nonce is the one named."""
    h = _ctrl_header(read(sc.server, sc.ctrl_ref)) if sc.ctrl_ref is not None else None
    if h is None or sc.nonce is None or f"{h.nonce:016x}" != sc.nonce:
        return sc
    return replace(sc, mode=L.MODE_NAMES.get(h.mode), s2c_order=h.s2c_order,
                   c2s_order=h.c2s_order)


def with_pages(svcs: list[ServiceInfo], chans: list[ChannelInfo],
               mapped: dict[tuple[int, int], set[int]], read: PageRead) -> list[ServiceInfo]:
    """Services whose connected clients carry what their pages say (sim)."""
    out = []
    for s in svcs:
        known = known_refs(chans, svcs, s.server)
        clients = []
        for c in s.clients:
            if c.state == "connected" and c.located == "connected":
                c = named_page(c, read)
            elif c.state == "connected" and c.ctrl_ref is None:
                hit = locate(c, mapped, known, read)
                c = hit if isinstance(hit, ServiceClient) else c
            clients.append(c)
        out.append(replace(s, clients=tuple(clients)))
    return out


# ---- picking a channel ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What `inspect` and `dump` open: a page of `server`, its label, the
    nonce XenStore holds for it, and how to read its XenStore state."""

    kind: str
    server: int
    ctrl_ref: int | None
    label: str
    nonce: str | None
    probe: Callable[[Store], str | None]
    client: ServiceClient | None = None


def client_state(store: Store, sc: ServiceClient) -> str | None:
    """A service client's state now (None once its request node is gone)."""
    st = parse_request(get(store, sc.path))["state"]
    return None if st == "gone" else str(st)


def _client_list(s: ServiceInfo) -> str:
    return ", ".join(f"{c.client if c.client is not None else '?'} {c.token[:16]} {c.state}"
                     for c in s.clients) or "none"


def _pick_service(svcs: list[ServiceInfo], name: str) -> list[ServiceInfo]:
    return [s for s in svcs if name in (s.name, s.label, s.path)]


def _of_client(s: ServiceInfo, client: int) -> ServiceClient:
    mine = [c for c in s.clients if c.client == client]
    if not mine:
        raise StoreError(f"service {s.label} has no request from domain {client} "
                         f"(clients: {_client_list(s)})")
    live = [c for c in mine if c.state in LIVE_STATES]
    if len(mine) > 1 and len(live) == 1:
        return live[0]
    if len(mine) > 1:
        raise StoreError(f"domain {client} has {len(mine)} requests at {s.label}: use "
                         f"{s.label}/TOKEN ({', '.join(c.token for c in mine)})")
    return mine[0]


def select(store: Store, name: str, client: int | None = None
           ) -> tuple[ChannelInfo | ServiceClient, list[ChannelInfo], list[ServiceInfo]]:
    """The one-peer channel or service client NAME names: NAME, SERVER/NAME
    or a XenStore path for a channel; SERVER/NAME/TOKEN, NAME/TOKEN or the
    request's path for a service client, or the service and --client DOMID."""
    chans = list_channels(store)
    svcs = list_services(store)
    if client is not None:
        hits = _pick_service(svcs, name)
        if not hits:
            if any(name in (c.name, c.label, c.path) for c in chans):
                raise UsageError(f"{name!r} is a one-peer channel; --client picks a "
                                 "service's client")
            known = ", ".join(s.label for s in svcs) or "none"
            raise StoreError(f"no service {name!r} in XenStore (services: {known})")
        if len(hits) > 1:
            raise StoreError(f"service name {name!r} is ambiguous: "
                             f"{', '.join(s.label for s in hits)}; use SERVER/NAME")
        return _of_client(hits[0], client), chans, svcs
    found: list[ChannelInfo | ServiceClient] = [
        c for c in chans if name in (c.name, c.label, c.path)]
    for s in svcs:
        found += [c for c in s.clients if name in (c.label, f"{c.name}/{c.token}", c.path)]
    if not found:
        named = _pick_service(svcs, name)
        if named:
            s = named[0]
            raise StoreError(f"{s.label} is a service; pick a client with --client DOMID "
                             f"or {s.label}/TOKEN (clients: {_client_list(s)})")
        known = ", ".join([c.label for c in chans] + [s.label for s in svcs]) or "none"
        raise StoreError(f"no channel {name!r} in XenStore (known: {known})")
    if len(found) > 1:
        raise StoreError(f"channel name {name!r} is ambiguous: "
                         f"{', '.join(c.label for c in found)}; use SERVER/NAME")
    return found[0], chans, svcs


def target(store: Store, name: str, client: int | None, *,
           mapped: Callable[[], dict[tuple[int, int], set[int]]] | None,
           read: PageRead | None) -> Target:
    """select(), then what to open.  A connected service client's page is
    the one its "connected" names; an older client's is looked up through
    `mapped` and `read` (the sim), else it cannot be."""
    hit, chans, svcs = select(store, name, client)
    if isinstance(hit, ChannelInfo):
        info = hit
        return Target(info.kind, info.server, info.ctrl_ref, info.label,
                      info.nonce if info.kind == "ivcom" else None,
                      lambda st: channel_state(st, info))
    sc = hit
    if sc.state == "connected" and sc.ctrl_ref is None:
        if mapped is None or read is None:
            raise StoreError(f"{sc.label} is connected, but its client's \"connected\" does "
                             "not name its control page (an older client), and only the sim "
                             "lets the tracer find it")
        found = locate(sc, mapped(), known_refs(chans, svcs, sc.server), read)
        if isinstance(found, str):
            raise StoreError(found)
        sc = found
    if sc.ctrl_ref is None:
        what = f"{sc.state}: {sc.problem}" if sc.problem else sc.state
        raise StoreError(f"{sc.label} has no channel to inspect (state {what})")
    client_sc = sc
    return Target("ivcom", sc.server, sc.ctrl_ref, sc.label, sc.nonce,
                  lambda st: client_state(st, client_sc), client=sc)
