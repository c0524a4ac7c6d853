"""Per-channel attribution of event-channel counts: the port join against
XenStore stand-ins, the per-channel rows of `ivcom-trace evtchn` from fake
BPF counts, the derived per-1000-message arithmetic, and the channels view
of `ivcom-trace xen`."""

from __future__ import annotations

import argparse
import errno
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyxs.exceptions
import pytest
from ivcom import layouts as L
from ivcom_trace import attribution as at
from ivcom_trace import cmd_evtchn as ev
from ivcom_trace import cmd_xen
from ivcom_trace.cli import main
from ivcom_trace.discovery import list_channels
from ivcom_trace.fakes import BpfTable, FakeStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xentrace"))
from xt_tracegen import scenario

IV = "/local/domain/2/data/ivcom"


def ivcom_nodes(server: int, name: str, client: int, port: int, client_port: str | None,
                ref: int = 8) -> dict[str, str]:
    p = f"/local/domain/{server}/data/ivcom/{name}"
    nodes = {
        f"{p}/version": "1", f"{p}/state": "connected", f"{p}/client-domid": str(client),
        f"{p}/mode": "message", f"{p}/s2c-order": "12", f"{p}/c2s-order": "12",
        f"{p}/ctrl-ref": str(ref), f"{p}/event-channel": str(port), f"{p}/client/state": "",
    }  # fmt: skip
    if client_port is not None:
        nodes[f"{p}/client/event-channel"] = client_port
        nodes[f"{p}/client/state"] = "connected"
    return nodes


def base_store() -> dict[str, str]:
    """d2 serves IVCOM `tpp` to dom0 (dom0's port 17) and a vchan to dom0;
    dom0 serves IVCOM `up` to d3 (dom0's port 30)."""
    nodes = {"domid": "0", "/local/domain/0/name": "Domain-0"}
    nodes |= ivcom_nodes(2, "tpp", 0, 5, "17")
    nodes |= ivcom_nodes(0, "up", 3, 30, "6", ref=20)
    nodes |= {"/local/domain/2/data/vchan/0/7/ring-ref": "12",
              "/local/domain/2/data/vchan/0/7/event-channel": "9"}
    return nodes


# ---- the join -------------------------------------------------------------------------


def test_ivcom_client_and_server_ends_from_xenstore():
    j = at.join_ports(list_channels(FakeStore(base_store())), 0)
    assert set(j.ends) == {17, 30}
    cli, srv = j.ends[17], j.ends[30]
    assert (cli.label, cli.end, cli.peer_domid, cli.peer_port, cli.via) == (
        "2/tpp", "client", 2, 5, "xenstore")
    assert (srv.label, srv.end, srv.peer_domid, srv.peer_port) == ("0/up", "server", 3, 6)
    # the vchan client's port is in no node: without lsevtchn it is not guessed
    assert any("2/vchan:0/7 (client)" in s and "no local port" in s for s in j.skipped)


def test_vchan_client_end_found_through_lsevtchn():
    peers = {44: (2, 9), 17: (2, 5), 3: (1, 2)}
    j = at.join_ports(list_channels(FakeStore(base_store())), 0, peers)
    v = j.ends[44]
    assert (v.label, v.end, v.peer_domid, v.peer_port, v.via) == (
        "2/vchan:0/7", "client", 2, 9, "lsevtchn")
    assert 3 not in j.ends


def test_the_other_domains_view():
    """Seen from d2, the same store gives d2's server ends."""
    j = at.join_ports(list_channels(FakeStore(base_store())), 2)
    assert {p: (e.label, e.end) for p, e in j.ends.items()} == {
        5: ("2/tpp", "server"), 9: ("2/vchan:0/7", "server")}


def test_lsevtchn_contradicting_a_node_leaves_the_port_unattributed():
    peers = {17: (4, 1)}  # port 17 leads to d4, not to the server d2
    j = at.join_ports(list_channels(FakeStore(base_store())), 0, peers)
    assert 17 not in j.ends
    assert any("port 17 is connected to d4, not d2" in s for s in j.skipped)


def test_two_channels_claiming_one_port_are_both_refused():
    nodes = base_store() | ivcom_nodes(2, "dup", 0, 8, "17", ref=40)
    j = at.join_ports(list_channels(FakeStore(nodes)), 0)
    assert 17 not in j.ends
    assert any(s.startswith("port 17 is claimed by 2/dup (client), 2/tpp (client)")
               for s in j.skipped)


@pytest.mark.parametrize("bad", [
    {f"{IV}/tpp/client/event-channel": "seventeen"},
    {f"{IV}/tpp/client/event-channel": ""},
    {f"{IV}/tpp/event-channel": "x", f"{IV}/tpp/client/event-channel": ""},
])
def test_malformed_or_missing_port_nodes_are_skipped(bad):
    nodes = base_store() | bad
    j = at.join_ports(list_channels(FakeStore(nodes)), 0)
    assert 17 not in j.ends and 30 in j.ends
    assert any(s.startswith("2/tpp (client)") for s in j.skipped)


def test_missing_client_domid_is_no_client_end():
    nodes = base_store()
    del nodes[f"{IV}/tpp/client-domid"]
    j = at.join_ports(list_channels(FakeStore(nodes)), 0)
    assert 17 not in j.ends


def test_local_domid_from_the_store_or_capabilities(tmp_path):
    assert at.local_domid(FakeStore({"domid": "5"})) == 5
    caps = tmp_path / "caps"
    caps.write_text("control_d\n")
    assert at.local_domid(FakeStore({"domid": "junk"}), str(caps)) == 0
    caps.write_text("")
    assert at.local_domid(FakeStore({}), str(caps)) is None


# ---- the live join over an interval sequence -----------------------------------------------


class CountingStore(FakeStore):
    def __init__(self, nodes: dict[str, str]) -> None:
        super().__init__(nodes)
        self.lists = 0

    def list(self, path: bytes) -> list[bytes]:
        if path == b"/local/domain":
            self.lists += 1
        return super().list(path)


def test_a_port_bound_later_is_found_with_one_xenstore_read_per_interval():
    nodes = base_store()
    client = f"{IV}/tpp/client/event-channel"
    nodes[client] = ""  # not connected yet
    store = CountingStore(nodes)
    a = at.Attribution(store, 0)
    a.start()
    assert store.lists == 1 and 17 not in a.ends
    v = a.interval({(100, 17): 3, (100, 18): 1})  # two unknown ports: one read
    assert store.lists == 2 and v.refreshed
    assert v.unattributed == {17: 3, 18: 1} and not v.rows
    nodes[client] = "17"  # the client connects
    v = a.interval({(100, 17): 4})
    assert store.lists == 3
    assert [(r.channel.label, r.sends) for r in v.rows] == [("2/tpp", 4)]
    assert v.unattributed == {}
    v = a.interval({(100, 17): 2})  # known now: no read
    assert store.lists == 3 and not v.refreshed and v.rows[0].sends == 2


def test_channel_nodes_removed_keep_the_learned_port():
    nodes = base_store()
    a = at.Attribution(FakeStore(nodes), 0)
    a.start()
    for k in [k for k in nodes if k.startswith(f"{IV}/tpp")]:
        del nodes[k]
    v = a.interval({(1, 17): 2, (1, 99): 1})  # 99 unknown: XenStore is read again
    assert v.refreshed
    assert [(r.channel.label, r.sends) for r in v.rows] == [("2/tpp", 2)]


class BrokenStore:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def list(self, path: bytes) -> list[bytes]:
        raise self.exc

    def read(self, path: bytes, default: bytes | None = None) -> bytes:
        raise self.exc


@pytest.mark.parametrize("exc", [
    pyxs.exceptions.ConnectionError("store went away\nsecond line"),
    OSError(errno.EIO, "I/O error"),
])
def test_a_failing_store_gives_a_note_not_a_traceback(exc):
    a = at.Attribution(BrokenStore(exc), 0)
    a.start()
    v = a.interval({(1, 17): 2})
    assert not v.rows and v.unattributed == {17: 2}
    assert len(v.notes) == 1 and v.notes[0].startswith("XenStore read failed:")
    assert "\n" not in v.notes[0]


def test_permission_denied_nodes_are_treated_as_absent():
    class Denied(FakeStore):
        def read(self, path: bytes, default: bytes | None = None) -> bytes:
            if path.endswith(b"/client/event-channel"):
                raise OSError(errno.EACCES, "permission denied")
            return super().read(path, default)

    a = at.Attribution(Denied(base_store()), 0)
    a.start()
    assert 17 not in a.ends and 30 in a.ends


# ---- bytes moved from the control page ----------------------------------------------------


class PageFeed:
    """A control page whose producer indexes the test moves."""

    def __init__(self) -> None:
        self.s2c = 0
        self.c2s = 0
        self.vchan_right = 0  # libxenvchan: server -> client
        self.magic = L.IVCOM_WIRE_MAGIC
        self.opened: list[str] = []
        self.closed: list[str] = []

    def page(self, kind: str) -> bytes:
        if kind == "vchan":
            return L.build_vchan(right=(self.vchan_right, self.vchan_right))
        return L.build_ivcom(s2c_order=12, c2s_order=12, magic=self.magic,
                             s2c={"prod": self.s2c, "cons": self.s2c},
                             c2s={"prod": self.c2s, "cons": self.c2s})

    def opener(self, info: Any) -> at.CtrlReader:
        self.opened.append(info.label)
        feed = self

        class Reader:
            def read(self) -> bytes:
                return feed.page(info.kind)

            def close(self) -> None:
                feed.closed.append(info.label)

        return Reader()


def test_bytes_are_producer_index_deltas_and_only_the_grantee_reads():
    feed = PageFeed()
    feed.s2c, feed.c2s = 1000, 2000  # already moved before the trace
    a = at.Attribution(FakeStore(base_store()), 0, ctrl_opener=feed.opener)
    a.start()
    # dom0 is the client (grantee) of 2/tpp and of the vchan, not of 0/up
    assert feed.opened == ["2/tpp", "2/vchan:0/7"]
    feed.s2c += 720
    feed.c2s += 720
    feed.vchan_right += 100
    v = a.interval({(1, 17): 10, (1, 30): 4}, msg_size=72)
    rows = {r.channel.label: r for r in v.rows}
    # the vchan's client port is unknown (no lsevtchn here): bytes, no port
    vch = rows["2/vchan:0/7"]
    assert vch.end is None and vch.sends == 0
    assert vch.moved.by_direction == {"left": 0, "right": 100}
    assert rows["2/tpp"].moved.by_direction == {"s2c": 720, "c2s": 720}
    assert rows["2/tpp"].messages == 20
    assert rows["2/tpp"].sends_per_1000_messages == 500.0
    up = rows["0/up"]  # dom0 granted these pages: no bytes, and it says why
    assert up.moved.total is None and "server end" in up.moved.note
    assert up.messages is None and up.sends_per_1000_messages is None


def test_indexes_wrap_at_32_bits():
    feed = PageFeed()
    feed.c2s = 0xFFFFFF00
    a = at.Attribution(FakeStore(base_store()), 0, ctrl_opener=feed.opener)
    a.start()
    feed.c2s = (feed.c2s + 0x200) & 0xFFFFFFFF
    v = a.interval({(1, 17): 1})
    assert v.rows[0].moved.by_direction == {"s2c": 0, "c2s": 0x200}


def test_a_channel_offered_after_start_counts_from_its_start():
    nodes = base_store()
    for k in [k for k in nodes if k.startswith(f"{IV}/tpp")]:
        del nodes[k]
    feed = PageFeed()
    a = at.Attribution(FakeStore(nodes), 0, ctrl_opener=feed.opener)
    a.start()
    assert "2/tpp" not in feed.opened
    nodes |= ivcom_nodes(2, "tpp", 0, 5, "17")
    feed.s2c = feed.c2s = 144
    v = a.interval({(1, 17): 2})
    r = v.rows[0]
    assert r.moved.by_direction == {"s2c": 144, "c2s": 144} and r.moved.since_channel_start
    feed.s2c += 72
    v = a.interval({(1, 17): 1})
    assert v.rows[0].moved.by_direction == {"s2c": 72, "c2s": 0}
    assert not v.rows[0].moved.since_channel_start


def test_a_torn_down_page_stops_the_meter_with_a_reason():
    feed = PageFeed()
    a = at.Attribution(FakeStore(base_store()), 0, ctrl_opener=feed.opener)
    a.start()
    feed.magic = 0xDEADBEEF
    v = a.interval({(1, 17): 1})
    r = v.rows[0]
    assert r.moved.total is None and "bad-magic" in r.moved.note
    assert feed.closed == ["2/tpp"]
    v = a.interval({(1, 17): 1})
    assert v.rows[0].moved.total is None and feed.closed == ["2/tpp"]
    a.close()
    assert sorted(feed.closed) == ["2/tpp", "2/vchan:0/7"]


def test_an_unmappable_page_is_a_note():
    def opener(info: Any) -> at.CtrlReader:
        raise ev.IvcomError("gntdev cannot map refs [8] of domain 2: Permission denied")

    a = at.Attribution(FakeStore(base_store()), 0, ctrl_opener=opener)
    a.start()
    v = a.interval({(1, 17): 1})
    assert "Permission denied" in v.rows[0].moved.note


# ---- the arithmetic -----------------------------------------------------------------------


def _row(sends: int, moved: dict[str, int] | None, msg_size: int | None) -> at.ChannelRow:
    info = list_channels(FakeStore(base_store()))[2]
    return at.ChannelRow(None, info, sends, (), at.Moved(moved), msg_size)


def test_per_1000_messages_and_per_mib():
    r = _row(3, {"s2c": 72 * 1000, "c2s": 72 * 1000 + 40}, 72)
    assert r.messages == 2000  # the 40 bytes of a PAD record make no message
    assert r.sends_per_1000_messages == 1.5
    assert r.to_json()["messages_derived"] == 2000
    assert "sends_per_mib" not in r.to_json()
    r = _row(10, {"s2c": 1 << 19, "c2s": 1 << 19}, None)
    assert r.sends_per_mib == 10.0 and r.messages is None
    assert "sends_per_1000_messages" not in r.to_json()
    assert _row(5, {"s2c": 10, "c2s": 0}, 72).sends_per_1000_messages is None  # 0 messages
    assert _row(5, None, 72).sends_per_1000_messages is None
    assert at.per_1000(1, 3) == 333.333 and at.per_1000(1, 0) is None


# ---- `ivcom-trace evtchn` with a fake BPF ---------------------------------------------------


_Table = BpfTable


def fake_bcc(readings: list[dict[tuple[int, int], int]], feed: PageFeed | None = None,
             step: int = 0, *, wakes: list[dict[int, int]] | None = None,
             irq_port: dict[int, int] | None = None, bind_probe: bool = True) -> SimpleNamespace:
    """bcc whose user_sends map takes the given cumulative values, one per
    reading (the last repeats); each reading moves the page by `step`.
    `wakes`: cumulative deliveries per irq, one per reading (the reading
    number of user_sends); `irq_port`: the bind-time irq -> port map."""

    class FakeBPF:
        reads = 0

        def __init__(self, text: str) -> None:
            pass

        @staticmethod
        def get_kprobe_functions(pat: bytes) -> list[bytes]:
            if not bind_probe and b"bind_evtchn" in pat:
                return []
            return [pat]

        def attach_kprobe(self, event: str, fn_name: str) -> None:
            pass

        attach_kretprobe = attach_kprobe

        def __getitem__(self, name: str) -> _Table:
            if name == "deliveries" and wakes:
                w = wakes[min(max(FakeBPF.reads - 1, 0), len(wakes) - 1)]
                return _Table([(SimpleNamespace(irq=i, name=b"evtchn:pp"), n)
                               for i, n in w.items()])
            if name == "irq_port" and irq_port:
                return _Table([(SimpleNamespace(value=i), p) for i, p in irq_port.items()])
            if name != "user_sends":
                return _Table([])
            i = min(FakeBPF.reads, len(readings) - 1)
            FakeBPF.reads += 1
            if feed is not None and i > 0:
                feed.s2c += step
                feed.c2s += step
            return _Table([(SimpleNamespace(tgid=t, port=p), n)
                           for (t, p), n in readings[i].items()])

    return SimpleNamespace(BPF=FakeBPF)


def _args(**kw: Any) -> argparse.Namespace:
    base = {"pid": None, "domid": None, "json": True, "timestamp": False, "msg_size": None}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture
def lsevtchn(monkeypatch):
    monkeypatch.setattr(ev, "port_domains", lambda: {17: 2, 30: 3, 44: 2, 3: 1})


def test_evtchn_json_has_a_row_per_channel(lsevtchn):
    feed = PageFeed()
    a = at.Attribution(FakeStore(base_store()), 0, peers=lambda: {44: (2, 9)},
                       ctrl_opener=feed.opener)
    readings = [{}, {(100, 17): 50, (100, 3): 2, (200, 44): 7},
                {(100, 17): 80, (100, 3): 2, (200, 44): 7, (300, 30): 1}]
    out = io.StringIO()
    rc = ev.EvtchnCommand()._trace(fake_bcc(readings, feed, step=72 * 100),
                                   _args(msg_size=72), 0, 2, out, attribution=a)
    assert rc == 0
    d1, d2 = (json.loads(line) for line in out.getvalue().splitlines())
    rows = {r["channel"]: r for r in d1["channels"]}
    assert set(rows) == {"2/tpp", "2/vchan:0/7"}
    tpp = rows["2/tpp"]
    assert (tpp["kind"], tpp["end"], tpp["port"], tpp["peer_domid"], tpp["sends"]) == (
        "ivcom", "client", 17, 2, 50)
    assert tpp["bytes"] == {"s2c": 7200, "c2s": 7200} and tpp["messages_derived"] == 200
    assert tpp["sends_per_1000_messages"] == 250.0
    assert tpp["wakeups"] is None and "irq" in tpp["wakeups_note"]
    assert rows["2/vchan:0/7"]["via"] == "lsevtchn" and rows["2/vchan:0/7"]["sends"] == 7
    assert d1["unattributed_sends"] == [{"port": 3, "remote_domid": 1, "count": 2}]
    assert d1["msg_size"] == 72
    rows2 = {r["channel"]: r for r in d2["channels"]}
    assert rows2["2/tpp"]["sends"] == 30 and rows2["0/up"]["sends"] == 1
    assert rows2["0/up"]["bytes"] is None and "server end" in rows2["0/up"]["bytes_note"]
    assert "2/vchan:0/7" not in rows2  # nothing moved on it in that interval
    # the sends of every row add up to what the BPF map counted on those ports
    assert sum(r["sends"] for d in (d1, d2) for r in d["channels"]) == 80 + 7 + 1


def test_evtchn_domid_filter_applies_to_channels(lsevtchn):
    a = at.Attribution(FakeStore(base_store()), 0)
    out = io.StringIO()
    ev.EvtchnCommand()._trace(fake_bcc([{}, {(1, 17): 5, (1, 30): 6}]), _args(domid=3),
                              0, 1, out, attribution=a)
    doc = json.loads(out.getvalue())
    assert [r["channel"] for r in doc["channels"]] == ["0/up"]


def test_evtchn_text_table_fits_80_columns(lsevtchn):
    feed = PageFeed()
    a = at.Attribution(FakeStore(base_store()), 0, ctrl_opener=feed.opener)
    out = io.StringIO()
    ev.EvtchnCommand()._trace(fake_bcc([{}, {(1, 17): 5, (1, 3): 1}], feed, step=4096),
                              _args(json=False), 0, 1, out, attribution=a)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    row = next(line for line in text.splitlines() if line.startswith("2/tpp"))
    assert row.split() == ["2/tpp", "ivcom", "client", "17", "d2", "5", "-", "8192", "640.0"]
    assert "SENDS/MiB" in text and "WAKES" in text
    assert f"wakes '-': {at.WAKEUPS_BOUND_BEFORE}" in text
    assert "sends on no known channel: port 3 1" in text


def test_wakeups_per_channel_from_the_bind_time_irq_map(lsevtchn):
    """Deliveries are counted per irq; the irq of a port bound while
    tracing is known (irq 40 -> port 17): its row gets them, the other
    irq's deliveries (irq 41, no port known) go nowhere."""
    a = at.Attribution(FakeStore(base_store()), 0)
    out = io.StringIO()
    bcc = fake_bcc([{}, {(1, 17): 5}], wakes=[{}, {40: 7, 41: 3}], irq_port={40: 17})
    ev.EvtchnCommand()._trace(bcc, _args(), 0, 1, out, attribution=a)
    doc = json.loads(out.getvalue())
    (row,) = doc["channels"]
    assert (row["port"], row["sends"], row["wakeups"]) == (17, 5, 7)
    assert "wakeups_note" not in row


def test_wakeups_unknown_for_a_port_bound_before_tracing(lsevtchn):
    a = at.Attribution(FakeStore(base_store()), 0)
    out = io.StringIO()
    bcc = fake_bcc([{}, {(1, 17): 5}], wakes=[{}, {41: 3}], irq_port={41: 99})
    ev.EvtchnCommand()._trace(bcc, _args(), 0, 1, out, attribution=a)
    (row,) = json.loads(out.getvalue())["channels"]
    assert row["wakeups"] is None and row["wakeups_note"] == at.WAKEUPS_BOUND_BEFORE


def test_wakeups_unavailable_without_the_bind_probe(lsevtchn):
    a = at.Attribution(FakeStore(base_store()), 0)
    out = io.StringIO()
    bcc = fake_bcc([{}, {(1, 17): 5}], wakes=[{}, {40: 7}], irq_port={40: 17},
                   bind_probe=False)
    ev.EvtchnCommand()._trace(bcc, _args(), 0, 1, out, attribution=a)
    (row,) = json.loads(out.getvalue())["channels"]
    assert row["wakeups"] is None and row["wakeups_note"] == at.WAKEUPS_UNAVAILABLE


def test_evtchn_without_xenstore_says_so(lsevtchn):
    a = at.Attribution(None, None, note="XenStore not reachable: no socket")
    out = io.StringIO()
    ev.EvtchnCommand()._trace(fake_bcc([{}, {(1, 17): 5}]), _args(), 0, 1, out,
                              attribution=a)
    doc = json.loads(out.getvalue())
    assert doc["channels"] == [] and doc["channels_note"] == "XenStore not reachable: no socket"
    assert doc["unattributed_sends"] == [{"port": 17, "remote_domid": 2, "count": 5}]


@pytest.mark.parametrize("value,why", [("x", "whole number"), ("4", "between 8"),
                                       ("-72", "between 8"), ("99999999", "between 8")])
def test_bad_msg_size_is_a_one_line_usage_error(value, why, capsys):
    assert main(["evtchn", "--msg-size", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and why in err[0] and "Traceback" not in err[0]


def test_msg_size_help_says_counts_are_derived(capsys):
    with pytest.raises(SystemExit):
        main(["evtchn", "--help"])
    assert "DERIVED" in capsys.readouterr().out


def test_lsevtchn_peers_carry_the_remote_port():
    text = ("    1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 2\n"
            "   44: VCPU 0: Interdomain (Connected) - Remote Domain 2, Port 9\n"
            "   45: VCPU 0: Interdomain (Waiting connection) - Remote Domain 3\n")
    assert ev.parse_lsevtchn_peers(text) == {1: (0, 2), 44: (2, 9), 45: (3, None)}
    assert ev.parse_lsevtchn(text) == {1: 0, 44: 2, 45: 3}


# ---- `ivcom-trace xen`: the channels view ----------------------------------------------------


@pytest.fixture()
def trace_file(tmp_path):
    path = tmp_path / "s.trace"
    path.write_bytes(scenario())
    return path


def test_xen_channels_view_marks_shared_domains(trace_file, capsys, monkeypatch):
    nodes = base_store()
    nodes |= ivcom_nodes(1, "a", 0, 5, "6")
    chans = [c for c in list_channels(FakeStore(nodes)) if c.kind == "ivcom"]
    monkeypatch.setattr(cmd_xen, "read_channels", lambda: (chans, ""))
    assert main(["xen", str(trace_file), "-j"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["channel"]: r for r in doc["channels"]}
    a = rows["1/a"]
    assert a["server"]["domid"] == 1 and a["client"]["domid"] == 0
    assert a["client"]["sends"] == 1  # d0's EVTCHNOP_send in the synthetic trace
    # d0 is an end of all three channels: its count is shared and says so
    assert a["client"]["shared"] is True and a["client"]["channels"] == 3
    assert "not attributable to one channel" in a["client"]["note"]
    assert a["server"]["shared"] is False and "note" not in a["server"]
    assert rows["0/up"]["client"]["sends"] is None  # d3 is not in the trace
    assert "whole domain" in doc["channels_note"] and "not at trace time" in doc["channels_note"]
    assert main(["xen", str(trace_file)]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80, text
    line = next(x for x in text.splitlines() if x.startswith("1/a "))
    assert line.split() == ["1/a", "ivcom", "d1", "0", "d0*", "1"]
    assert "* shared: the domain is an end of more than one channel" in text


def test_xen_channels_view_without_xenstore(trace_file, capsys, monkeypatch):
    monkeypatch.setattr(cmd_xen, "read_channels", lambda: (None, "XenStore not reachable: x"))
    assert main(["xen", str(trace_file), "-j"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "channels" not in doc and doc["channels_note"] == "XenStore not reachable: x"
    assert main(["xen", str(trace_file), "--no-channels", "-j"]) == 0
    assert "channels_note" not in json.loads(capsys.readouterr().out)


def test_xen_live_loop_lists_channels_each_interval():
    calls = []

    def fake(path: Path, seconds: int) -> None:
        path.write_bytes(scenario())

    def lister() -> tuple[list[Any] | None, str]:
        calls.append(1)
        return list_channels(FakeStore(base_store())), ""

    out = io.StringIO()
    cmd_xen.live_loop(fake, 1, 2, as_json=True, timestamps=False, domid=None, vendor=None,
                      out=out, channels=lister)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(calls) == 2 and all(len(d["channels"]) == 3 for d in docs)


def test_a_channel_that_connects_and_closes_within_an_interval_is_caught():
    """The client's port node exists only while the channel is open: the
    pending channel's one node is polled during the interval."""
    nodes = base_store()
    client = f"{IV}/tpp/client/event-channel"
    nodes[client] = ""
    a = at.Attribution(CountingStore(nodes), 0)
    a.start()
    assert [c.label for c in a.pending()] == ["2/tpp"]
    assert a.poll_pending() == 0
    nodes[client] = "17"  # connects ...
    assert a.poll_pending() == 1 and a.pending() == []
    for k in [k for k in nodes if k.startswith(f"{IV}/tpp")]:
        del nodes[k]  # ... and closes: the server withdrew the offer
    v = a.interval({(1, 17): 9})
    assert [(r.channel.label, r.end.end if r.end else None, r.sends) for r in v.rows] == [
        ("2/tpp", "client", 9)]


def test_sleep_polls_only_while_a_channel_is_pending(monkeypatch):
    nodes = base_store()
    nodes[f"{IV}/tpp/client/event-channel"] = ""
    a = at.Attribution(FakeStore(nodes), 0)
    a.start()
    polls = []
    real = a.poll_pending

    def poll() -> int:
        polls.append(1)
        if len(polls) == 2:
            nodes[f"{IV}/tpp/client/event-channel"] = "17"
        return real()

    monkeypatch.setattr(a, "poll_pending", poll)
    monkeypatch.setattr(ev, "PENDING_POLL_S", 0.01)
    ev._sleep_polling(a, 0.3)
    assert 17 in a.ends
    assert len(polls) == 2  # the second poll learned the port; then one plain sleep
