"""libxenvchan works between dom0 (client) and a PV domU (server)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def test_vchan_round_trips(lab):
    rr = [r for r in lab.jsonl("vchan", "vchan.jsonl") if r["mode"] == "rr"]
    assert len(rr) == 1
    assert rr[0]["transport"] == "vchan"
    assert rr[0]["size"] == 64 and rr[0]["count"] == 200
    # TCG's clock can clamp a single round trip to 0: order only, median > 0.
    assert 0 <= rr[0]["min_us"] <= rr[0]["median_us"] <= rr[0]["max_us"]
    assert rr[0]["median_us"] > 0


def test_vchan_bulk_verified(lab):
    bulk = [r for r in lab.jsonl("vchan", "vchan.jsonl") if r["mode"] == "bulk"]
    assert len(bulk) == 1
    assert bulk[0]["verified"] is True
    assert bulk[0]["bytes"] == 65536 * 64


def test_vchan_server_guest_succeeded(lab):
    text = (lab.ok("vchan") / "consoles" / "guest-vch1.log").read_text(errors="replace")
    lines = text.splitlines()
    assert "lab-vchan: served 2 session(s)" in lines
    assert "ivcom-guest: result: SUCCESS rc=0" in lines
