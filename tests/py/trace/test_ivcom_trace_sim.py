"""ivcom-trace against a live sim: simhv + the real xenstored + a server
offering a channel (ivcom-pingpong).  Needs the core built (make -C
ivcom-core, or IVCOM_CORE_BUILD=DIR) and root to read simhv's fds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ivcom_trace import cli
from ivcom_trace.discovery import list_channels, open_store

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[3]


def _build_dir() -> Path:
    env = os.environ.get("IVCOM_CORE_BUILD")
    return Path(env) if env else ROOT / "build" / "core"


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bindir = _build_dir() / "bin"
    for tool in ("ivcom-simhv", "ivcom-pingpong"):
        if not (bindir / tool).exists():
            pytest.skip(f"{bindir / tool} not built (make -C ivcom-core)")
    if os.geteuid() != 0:
        pytest.skip("reading simhv's memfds under /proc needs root")
    d = tmp_path / "sim"
    d.mkdir()
    hv = subprocess.Popen([str(bindir / "ivcom-simhv"), "-d", str(d)],
                          stderr=(d / "simhv.log").open("w"))
    procs = [hv]
    try:
        for _ in range(200):
            if (d / "ready").exists() or hv.poll() is not None:
                break
            time.sleep(0.05)
        if not (d / "ready").exists():
            pytest.skip(f"simhv did not start: {(d / 'simhv.log').read_text()[-200:]}")
        monkeypatch.setenv("XENSTORED_PATH", str(d / "xenstored.sock"))
        env = dict(os.environ, IVCOM_SIM_DIR=str(d), IVCOM_PLATFORM="sim", IVCOM_SIM_DOMID="1")
        srv = subprocess.Popen(
            [str(bindir / "ivcom-pingpong"), "-p", "2", "-n", "traced", "-o", "14", "-t",
             "60000", "server"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(srv)
        for _ in range(200):
            with open_store() as store:
                if any(c.name == "traced" for c in list_channels(store)):
                    break
            time.sleep(0.05)
        else:
            pytest.skip("the server's offer never appeared in XenStore")
        yield srv
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def test_rings_lists_the_offer(sim, capsys) -> None:
    assert cli.main(["rings", "-j"]) == 0
    chans = [c for c in json.loads(capsys.readouterr().out) if c["name"] == "traced"]
    assert len(chans) == 1
    c = chans[0]
    assert (c["kind"], c["server"], c["client"], c["state"]) == ("ivcom", 1, 2, "offered")
    assert (c["s2c_order"], c["c2s_order"], c["mode"]) == (14, 14, "message")
    assert len(c["nonce"]) == 16 and int(c["nonce"], 16) >= 0


def test_inspect_reads_the_live_control_page(sim, capsys) -> None:
    assert cli.main(["inspect", "-j", "--source", "sim", "1/traced", "0", "2"]) == 0
    out, err = capsys.readouterr()
    frames = [json.loads(x) for x in out.splitlines()]
    assert len(frames) == 2
    f = frames[-1]
    assert f["channel"] == "1/traced" and f["kind"] == "ivcom"
    assert f["live"]["server"] == "up"
    assert [d["size"] for d in f["directions"]] == [1 << 14, 1 << 14]
    assert f["violations"] == []
    assert f["nonce"] is not None and f["nonce"] == f["store_nonce"]  # checked every frame
    assert err == "ivcom-trace: 2 frame(s)\n"


def test_inspect_ends_when_the_server_goes(sim, capsys) -> None:
    from ivcom_trace.sources import ChannelClosed, SimSource

    with open_store() as store:
        info = next(c for c in list_channels(store) if c.name == "traced")
    src = SimSource(info.server, info.ctrl_ref)
    assert src.snapshot().decode().violations == ()
    sim.send_signal(signal.SIGKILL)
    sim.wait(5)
    with pytest.raises(ChannelClosed):
        for _ in range(200):  # simhv releases the grant once it sees the death
            d = src.snapshot().decode()
            if d.live["server"] != "up":
                raise ChannelClosed("server_live cleared by unmap notify")
            time.sleep(0.05)
    src.close()
