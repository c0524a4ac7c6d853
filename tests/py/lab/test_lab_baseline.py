"""The baseline measurement scenario writes one JSON document."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.lab


def test_baseline_json(lab):
    doc = json.loads((lab.ok("baseline") / "baseline.json").read_text())
    assert doc["xen"].startswith("4.17")
    got = {(r["transport"], r["mode"]) for r in doc["results"]}
    assert got == {("tcp", "rr"), ("tcp", "bulk"), ("vchan", "rr"), ("vchan", "bulk")}
    for r in doc["results"]:
        if r["mode"] == "bulk":
            assert r["verified"] is True and r["bytes"] == 65536 * 256
            assert r["mb_per_s"] > 0
        else:
            assert r["count"] == 300 and r["median_us"] > 0
