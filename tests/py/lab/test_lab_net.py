"""TCP over netfront/netback between two PV domUs through the dom0 bridge."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def test_tcp_bulk_moves_verified_data(lab):
    bulk = [r for r in lab.jsonl("net", "tcp.jsonl") if r["mode"] == "bulk"]
    assert len(bulk) == 1
    assert bulk[0]["transport"] == "tcp"
    assert bulk[0]["verified"] is True
    assert bulk[0]["bytes"] == 65536 * 64


def test_tcp_round_trips(lab):
    rr = [r for r in lab.jsonl("net", "tcp.jsonl") if r["mode"] == "rr"]
    assert len(rr) == 1
    assert rr[0]["size"] == 64 and rr[0]["count"] == 200
    assert 0 < rr[0]["median_us"] <= rr[0]["max_us"]


def test_both_guests_finished_cleanly(lab):
    d = lab.ok("net")
    for g in ("net1", "net2"):
        lines = (d / "consoles" / f"guest-{g}.log").read_text(errors="replace").splitlines()
        assert "ivcom-guest: result: SUCCESS rc=0" in lines, g


def test_vifs_went_through_the_bridge(lab):
    d = lab.ok("net")
    hotplug = (d / "consoles" / "vif-lab.log").read_text().splitlines()
    online = [ln for ln in hotplug if ln.startswith("vif-lab: online ")]
    ports = [ln for ln in hotplug if ln.endswith(" is a port of xenbr0")]
    assert len(online) == 2
    assert len(ports) == 2 and len(set(ports)) == 2
    for g in ("net1", "net2"):
        assert "bridge=xenbr0" in (d / f"{g}.cfg").read_text()
