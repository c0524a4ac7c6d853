"""Services in ivcom-trace without a sim: request values parsed strictly,
garbage listed as malformed, selectors, the nonce check."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import pytest
from ivcom import layouts as L
from ivcom_trace import cli, cmd_rings
from ivcom_trace.discovery import StoreError
from ivcom_trace.fakes import FakeStore, ivcom_frames
from ivcom_trace.services import (
    known_refs,
    list_services,
    locate,
    parse_request,
    select,
    target,
    with_pages,
)
from ivcom_trace.sources import FakeSource, RingSnapshot
from ivcom_trace.view import run_inspect

SVC = "/local/domain/4/data/ivcom-svc/echo"
T1, T2, T3 = "0123456789abcdef", "fedcba9876543210", "00000000000000aa"
NONCE = "1122334455667788"


def store() -> FakeStore:
    nodes = {
        "/local/domain/4/name": "srv",
        f"{SVC}/state": "listening",
        f"{SVC}/req/{T1}": "connected 9",
        f"{SVC}/req/{T2}": f"offer 1 stream 13 14 21 5 {NONCE}",
        f"{SVC}/req/{T3}": "request 1",
        f"/local/domain/7/data/ivcom-svc-client/4/echo/{T1}": "connected",
        "/local/domain/4/data/ivcom/solo/state": "offered",
        "/local/domain/4/data/ivcom/solo/ctrl-ref": "8",
        "/local/domain/4/data/ivcom/solo/nonce": NONCE,
    }
    perms = {f"{SVC}/req/{T1}": ["n7", "b4"], f"{SVC}/req/{T2}": ["n8", "b4"],
             f"{SVC}/req/{T3}": ["b9", "b4"]}
    return FakeStore(nodes, perms)


def use_store(monkeypatch: pytest.MonkeyPatch, s: FakeStore) -> None:
    @contextlib.contextmanager
    def fake() -> Iterator[FakeStore]:
        yield s

    monkeypatch.setattr(cmd_rings, "open_store", fake)
    monkeypatch.setattr(cmd_rings, "_sim_locator", lambda: (None, None))


def test_request_values_parse_strictly() -> None:
    assert parse_request("request 1") == {"state": "requested"}
    assert parse_request("connected 12") == {"state": "connected", "client_event_channel": 12}
    assert parse_request(f"connected 12 30 {NONCE}") == {
        "state": "connected", "client_event_channel": 12, "ctrl_ref": 30, "nonce": NONCE}
    got = parse_request(f"offer 1 message 12 20 8 3 {NONCE}")
    assert (got["state"], got["mode"], got["s2c_order"], got["c2s_order"], got["ctrl_ref"],
            got["event_channel"], got["nonce"]) == ("offered", "message", 12, 20, 8, 3, NONCE)
    for bad in ("offer 1 message 11 20 8 3 " + NONCE, "offer 2 message 12 12 8 3 " + NONCE,
                "offer 1 message 12 12 8 3 ABCDEF0123456789", "offer 1 message 12 12 -8 3 x",
                "connected", "connected -1", "connected 9 9", "", "\x00\xff", "offer",
                f"connected 9 30 {NONCE} x", f"connected 9 -30 {NONCE}",
                "connected 9 30 ABCDEF0123456789", f"connected x 30 {NONCE}",
                f"connected 9 4294967296 {NONCE}", f"connected  9 30 {NONCE}"):
        assert parse_request(bad)["state"] == "malformed", bad
    assert parse_request(None) == {"state": "gone"}


def test_services_list_owners_and_states() -> None:
    (svc,) = list_services(store())
    assert (svc.label, svc.state) == ("4/echo", "listening")
    got = {(c.token, c.client, c.state) for c in svc.clients}
    assert got == {(T1, 7, "connected"), (T2, 8, "offered"), (T3, 9, "requested")}
    t1 = next(c for c in svc.clients if c.token == T1)
    assert (t1.client_event_channel, t1.presence, t1.ctrl_ref) == (9, "connected", None)
    t2 = next(c for c in svc.clients if c.token == T2)
    assert (t2.ctrl_ref, t2.s2c_order, t2.mode, t2.located) == (21, 13, "stream", "offer")


def test_garbage_requests_are_listed_as_malformed(monkeypatch, capsys) -> None:
    s = store()
    s.nodes[f"{SVC}/req/{T3}"] = "offer 1 message 99 x"
    s.nodes[f"{SVC}/req/not-a-token"] = "request 1"
    s.nodes[f"{SVC}/req/{'1' * 16}"] = "\ufffd" * 300
    use_store(monkeypatch, s)
    assert cli.main(["rings", "-j"]) == 0
    (svc,) = [x for x in json.loads(capsys.readouterr().out) if x["kind"] == "service"]
    bad = {c["token"]: c["problem"] for c in svc["clients"] if c["state"] == "malformed"}
    assert set(bad) == {T3, "not-a-token", "1" * 16}
    assert bad[T3] == "bad offer: 5 words, need 8" and "token" in bad["not-a-token"]
    assert cli.main(["rings"]) == 0
    out = capsys.readouterr().out
    assert out.count("malformed") == 3 and all(len(x) <= 80 for x in out.splitlines())


def test_table_shows_the_service_then_its_clients(monkeypatch, capsys) -> None:
    use_store(monkeypatch, store())
    assert cli.main(["rings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    i = next(n for n, x in enumerate(lines) if x.startswith("4/echo "))
    assert lines[i].split()[1:3] == ["svc", "4"] and "listening 3 req" in lines[i]
    rows = [x.split() for x in lines[i + 1:i + 4]]
    assert [r[0] for r in rows] == [T3, T1, T2]
    assert rows[1][3] == "7" and rows[1][-2:] == ["connected", "-/9"]
    assert rows[2][3:7] == ["8", "8.0K", "16.0K", "stream"] and rows[2][-1] == "5/-"


@pytest.mark.parametrize(("name", "client", "want"), [
    ("4/echo", 7, T1), ("echo", 8, T2), (f"4/echo/{T2}", None, T2), (f"echo/{T1}", None, T1),
    (f"{SVC}/req/{T2}", None, T2)])
def test_selectors_pick_one_client(name: str, client: int | None, want: str) -> None:
    hit, _, _ = select(store(), name, client)
    assert getattr(hit, "token", None) == want


@pytest.mark.parametrize(("name", "client", "words"), [
    ("4/echo", None, "is a service; pick a client with --client"),
    ("echo", 99, "has no request from domain 99"),
    ("solo", 7, "is a one-peer channel"),
    ("nosuch", 7, "no service 'nosuch'"),
    ("nosuch", None, "no channel 'nosuch'"),
    (f"4/echo/{'f' * 16}", None, "no channel"),
])
def test_bad_selectors_say_why_in_one_line(name: str, client: int | None, words: str,
                                           monkeypatch, capsys) -> None:
    use_store(monkeypatch, store())
    argv = ["inspect", "-b", "--source", "sim", name, "0", "1"]
    if client is not None:
        argv += ["--client", str(client)]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and words in err, err


def test_client_without_a_channel_and_bad_domid(capsys) -> None:
    with pytest.raises(StoreError, match=r"no channel to inspect \(state requested"):
        target(store(), f"4/echo/{T3}", None, mapped=None, read=None)
    with pytest.raises(StoreError, match="only the sim"):
        target(store(), "echo", 7, mapped=None, read=None)
    assert cli.main(["inspect", "echo", "--client", "x"]) == 2
    assert "not a domain id" in capsys.readouterr().err


def test_a_connected_client_is_found_among_its_mappings() -> None:
    ctrl = L.build_ivcom(s2c_order=12, c2s_order=13, grefs=(31, 32, 33), nonce=0xAB)
    other = L.build_ivcom(s2c_order=12, c2s_order=12, grefs=(41, 42))
    pages = {30: ctrl, 31: bytes(ctrl), 32: b"\0" * 4096, 33: b"\0" * 4096, 40: other,
             41: b"", 42: b""}
    read = lambda g, r: pages.get(r) if g == 4 else None  # noqa: E731
    (svc,) = list_services(store())
    sc = next(c for c in svc.clients if c.token == T1)
    hit = locate(sc, {(4, 7): {30, 31, 32, 33}}, set(), read)
    assert not isinstance(hit, str)
    assert (hit.ctrl_ref, hit.s2c_order, hit.c2s_order, hit.located) == (30, 12, 13, "page")
    assert "maps no control page" in str(locate(sc, {(4, 7): {30, 31, 32}}, set(), read))
    assert "maps no control page" in str(locate(sc, {(4, 7): {30, 31, 32, 33}}, {30}, read))
    two = locate(sc, {(4, 7): {30, 31, 32, 33, 40, 41, 42}}, set(), read)
    assert "2 unnamed control pages" in str(two)
    t = target(store(), "echo", 7, mapped=lambda: {(4, 7): {30, 31, 32, 33}}, read=read)
    assert (t.server, t.ctrl_ref, t.label, t.nonce) == (4, 30, f"4/echo/{T1}", None)


def test_a_connected_client_names_its_page() -> None:
    """Its "connected" names the offer's ref and nonce: inspect needs no
    mappings, the nonce goes to the page check, and the ref is not taken
    for an older client's unnamed page."""
    s = store()
    s.nodes[f"{SVC}/req/{T1}"] = f"connected 9 30 {NONCE}"
    (svc,) = list_services(s)
    sc = next(c for c in svc.clients if c.token == T1)
    assert (sc.state, sc.client_event_channel, sc.ctrl_ref, sc.nonce, sc.located) == (
        "connected", 9, 30, NONCE, "connected")
    assert 30 in known_refs([], [svc], 4)
    t = target(s, "echo", 7, mapped=None, read=None)
    assert (t.server, t.ctrl_ref, t.label, t.nonce) == (4, 30, f"4/echo/{T1}", NONCE)
    # the listing (sim) takes mode and orders from the page the nonce matches
    page = L.build_ivcom(s2c_order=12, c2s_order=13, grefs=(31, 32, 33),
                         nonce=int(NONCE, 16))
    (full,) = with_pages([svc], [], {}, lambda g, r: page if (g, r) == (4, 30) else None)
    got = next(c for c in full.clients if c.token == T1)
    assert (got.mode, got.s2c_order, got.c2s_order) == ("message", 12, 13)
    wrong = L.build_ivcom(s2c_order=12, c2s_order=13, grefs=(31, 32, 33), nonce=0x99)
    (full,) = with_pages([svc], [], {}, lambda g, r: wrong if (g, r) == (4, 30) else None)
    assert next(c for c in full.clients if c.token == T1).mode is None


def _run(nonce_page: int, store_nonce: str | None) -> tuple[list[dict], str]:
    frames = [RingSnapshot(f.kind, L.build_ivcom(s2c_order=12, c2s_order=12,
                                                 nonce=nonce_page), f.rings, f.timestamp)
              for f in ivcom_frames(2)]
    out, err = io.StringIO(), io.StringIO()
    run_inspect(FakeSource(frames), channel="4/echo", style="json", interval=0, out=out,
                err=err, sleep=lambda _s: None, store_nonce=store_nonce)
    batch = io.StringIO()
    run_inspect(FakeSource(frames), channel="4/echo", style="batch", interval=0, out=batch,
                err=io.StringIO(), sleep=lambda _s: None, store_nonce=store_nonce)
    return [json.loads(x) for x in out.getvalue().splitlines()], batch.getvalue()


def test_nonce_is_shown_and_a_mismatch_is_a_violation() -> None:
    frames, batch = _run(0x1122334455667788, NONCE)
    assert frames[0]["nonce"] == NONCE and frames[0]["store_nonce"] == NONCE
    assert frames[0]["violations"] == []
    assert f"# nonce {NONCE}" in batch.splitlines()
    frames, batch = _run(0x99, NONCE)
    (v,) = frames[-1]["violations"]
    assert v["kind"] == "nonce-mismatch" and "0000000000000099" in v["message"]
    assert "!! nonce-mismatch [ctrl]" in batch
    frames, _ = _run(0x99, None)
    assert frames[0]["violations"] == [] and frames[0]["store_nonce"] is None
