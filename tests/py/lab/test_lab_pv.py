"""A PV Linux domU created with `xl create` prints its marker and is listed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def test_pv_guest_prints_marker(lab):
    log = lab.ok("pv") / "consoles" / "guest-pv1.log"
    assert log.is_file()
    assert "ivcom-guest: pv1 up" in log.read_text(errors="replace").splitlines()


def test_xl_list_shows_pv_guest(lab):
    d = lab.ok("pv")
    domid = (d / "domid").read_text().strip()
    assert domid.isdigit() and int(domid) > 0
    rows = [ln.split() for ln in (d / "xl-list-pv1.txt").read_text().splitlines()[1:]]
    assert [r[:2] for r in rows] == [["pv1", domid]]


def test_pv_guest_config_generated_from_template(lab):
    cfg = (lab.ok("pv") / "pv1.cfg").read_text()
    assert 'name = "pv1"' in cfg
    assert 'type = "pv"' in cfg
    assert "@" not in cfg  # every template placeholder substituted


def test_pvh_guest_boots_with_hap(lab):
    d = lab.ok("pvh")
    assert '"type": "pvh"' in (d / "xl-list-long-pvh1.json").read_text()
    con = (d / "consoles" / "guest-pvh1.log").read_text(errors="replace").splitlines()
    assert "ivcom-guest: pvh1 up" in con
    assert 'tsc_mode = "native"' in (d / "pvh1.cfg").read_text()
