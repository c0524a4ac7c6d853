"""ivcom-trace against a live service on the sim: simhv + the real
xenstored, an echo service (ivcom-pingpong without -p, domain 41) and three
slow clients (domains 42..44, Python, one round trip every 20 ms)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ivcom_trace import cli
from ivcom_trace.discovery import open_store
from ivcom_trace.services import ServiceInfo, list_services

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[3]
SERVER, CLIENTS, NAME = 41, (42, 43, 44), "tsvc"

CLIENT = """
import sys, time, ivcom
with ivcom.Channel.connect(sys.argv[1], int(sys.argv[2]), timeout=20) as ch:
    print("up", flush=True)
    while True:
        ch.send(b"x" * 40)
        ch.recv(timeout=10)
        time.sleep(0.02)
"""


def _bindir() -> Path:
    env = os.environ.get("IVCOM_CORE_BUILD")
    return (Path(env) if env else ROOT / "build" / "core") / "bin"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _service() -> ServiceInfo | None:
    with open_store() as store:
        return next((s for s in list_services(store) if s.name == NAME), None)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    bindir = _bindir()
    for tool in ("ivcom-simhv", "ivcom-pingpong"):
        if not (bindir / tool).exists():
            pytest.skip(f"{bindir / tool} not built (make build)")
    d = tmp_path_factory.mktemp("svcsim")
    hv = subprocess.Popen([str(bindir / "ivcom-simhv"), "-d", str(d)],
                          stderr=(d / "simhv.log").open("w"))
    procs = [hv]
    mp = pytest.MonkeyPatch()
    try:
        for _ in range(200):
            if (d / "ready").exists() or hv.poll() is not None:
                break
            time.sleep(0.05)
        if not (d / "ready").exists():
            pytest.skip(f"simhv did not start: {(d / 'simhv.log').read_text()[-200:]}")
        mp.setenv("XENSTORED_PATH", str(d / "xenstored.sock"))
        mp.setenv("IVCOM_SIM_DIR", str(d))
        env = dict(os.environ, IVCOM_PLATFORM="sim")
        procs.append(subprocess.Popen(
            [str(bindir / "ivcom-pingpong"), "-n", NAME, "-o", "13", "-t", "60000", "server"],
            env={**env, "IVCOM_SIM_DOMID": str(SERVER)},
            stdout=subprocess.DEVNULL, stderr=(d / "server.log").open("w")))
        for _ in range(200):
            if _service() is not None:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"no service: {(d / 'server.log').read_text()[-300:]}")
        clients = [subprocess.Popen([sys.executable, "-c", CLIENT, NAME, str(SERVER)],
                                    env={**env, "IVCOM_SIM_DOMID": str(c)},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for c in CLIENTS]
        procs += clients
        for c in clients:
            assert c.stdout is not None
            line = c.stdout.readline()
            if line != b"up\n":
                c.kill()
                pytest.fail(f"client did not connect: {c.communicate()[1][-300:]!r}")
        yield d
    finally:
        _stop(procs)
        mp.undo()


def _connected() -> ServiceInfo:
    for _ in range(100):
        s = _service()
        if s is not None and sum(c.state == "connected" for c in s.clients) == len(CLIENTS):
            return s
        time.sleep(0.05)
    raise AssertionError(f"clients never all connected: {_service()}")


def test_rings_lists_the_connected_clients(service, capsys) -> None:
    _connected()
    assert cli.main(["rings", "-j"]) == 0
    (svc,) = [x for x in json.loads(capsys.readouterr().out)
              if x["kind"] == "service" and x["name"] == NAME]
    assert (svc["server"], svc["state"]) == (SERVER, "listening")
    clients = sorted(svc["clients"], key=lambda c: c["client"])
    assert [c["client"] for c in clients] == list(CLIENTS)
    for c in clients:
        assert c["state"] == "connected" and c["presence"] == "connected"
        assert isinstance(c["client_event_channel"], int)
        assert (c["mode"], c["s2c_order"], c["c2s_order"]) == ("message", 13, 13)
        # named by the client's "connected" (mode and orders: its page)
        assert c["located"] == "connected" and c["ctrl_ref"] is not None
        assert len(c["nonce"]) == 16
    assert len({c["ctrl_ref"] for c in clients}) == len(CLIENTS)
    assert cli.main(["rings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    i = next(n for n, x in enumerate(lines) if x.startswith(f"{SERVER}/{NAME} "))
    assert "svc" in lines[i] and "listening 3 req" in lines[i]
    rows = sorted((x.split() for x in lines[i + 1:i + 4]), key=lambda r: int(r[3]))
    assert [int(r[3]) for r in rows] == list(CLIENTS)
    assert all(r[4:8] == ["8.0K", "8.0K", "message", "connected"] for r in rows)


def test_inspect_one_clients_channel(service, capsys) -> None:
    svc = _connected()
    mine = next(c for c in svc.clients if c.client == CLIENTS[1])
    assert cli.main(["inspect", "-j", "--source", "sim", NAME, "--client", str(CLIENTS[1]),
                     "0.3", "4"]) == 0
    out, err = capsys.readouterr()
    frames = [json.loads(x) for x in out.splitlines()]
    assert err == "ivcom-trace: 4 frame(s)\n"
    assert {f["channel"] for f in frames} == {mine.label}
    first, last = frames[0], frames[-1]
    assert [d["size"] for d in last["directions"]] == [1 << 13, 1 << 13]
    assert last["live"] == {"server": "up", "client": "up"}
    assert all(f["violations"] == [] for f in frames)
    # the client's "connected" names the page: its nonce is the page's
    assert len(last["nonce"]) == 16 and last["store_nonce"] == last["nonce"]
    assert mine.located == "connected" and mine.nonce == last["nonce"]
    for i in (0, 1):  # both directions moved: one round trip per 20 ms
        moved = (last["directions"][i]["prod"] - first["directions"][i]["prod"]) % (1 << 32)
        assert moved > 0
    # the same channel by its token, plain lines
    assert cli.main(["inspect", "-b", "--source", "sim", f"{NAME}/{mine.token}", "0", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Tracing {mine.label}: {mine.label} ivcom ring, sim grant ref")
    assert f"# nonce {last['nonce']}" in out.splitlines()


def test_bad_selectors_on_a_live_service(service, capsys) -> None:
    _connected()
    for argv, words in (([f"{SERVER}/{NAME}"], "is a service; pick a client"),
                        ([NAME, "--client", "77"], "has no request from domain 77"),
                        ([f"{NAME}/{'0' * 16}"], "no channel")):
        rc = cli.main(["inspect", "-b", "--source", "sim", *argv, "0", "1"])
        err = capsys.readouterr().err
        assert rc == 1 and err.count("\n") == 1 and words in err, err


def test_garbage_request_nodes_do_not_break_the_listing(service, capsys) -> None:
    """A domain's junk beside a live service: listed as malformed, the
    service and its clients as before."""
    base = f"/local/domain/{SERVER}/data/ivcom-svc/junk"
    with open_store() as store:
        w = store.write  # type: ignore[attr-defined]
        w(f"{base}/state".encode(), b"listening")
        w(f"{base}/req/{'a' * 16}".encode(), b"offer 1 message 40 40 x y zz")
        w(f"{base}/req/{'b' * 16}".encode(), b"connected 9 {} \\x")
        w(f"{base}/req/nothex".encode(), b"request 1")
        store.set_perms(f"{base}/req/{'a' * 16}".encode(),  # type: ignore[attr-defined]
                        [b"n42", b"b41"])
    try:
        assert cli.main(["rings", "-j"]) == 0
        listing = json.loads(capsys.readouterr().out)
        (junk,) = [x for x in listing if x["kind"] == "service" and x["name"] == "junk"]
        assert sorted(c["state"] for c in junk["clients"]) == ["malformed"] * 3
        # the owner: 42 as set, else the parent's (xenstored's inheritance)
        assert {c["client"] for c in junk["clients"]} == {SERVER, 42}
        (svc,) = [x for x in listing if x["kind"] == "service" and x["name"] == NAME]
        assert len(svc["clients"]) == len(CLIENTS)
        assert cli.main(["rings"]) == 0
        assert capsys.readouterr().out.count(" malformed") == 3
    finally:
        with open_store() as store:
            store.delete(base.encode())  # type: ignore[attr-defined]
