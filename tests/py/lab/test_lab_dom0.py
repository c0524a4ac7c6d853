"""dom0 comes up on Xen 4.17 with HAP and the Xen devices."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.lab


def _fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if sep:
            out[key.strip()] = val.strip()
    return out


def test_xl_info_reports_xen_417(lab):
    info = _fields((lab.ok("smoke") / "xl-info.txt").read_text())
    assert info["xen_major"] == "4"
    assert info["xen_minor"] == "17"
    assert re.fullmatch(r"\.\d+", info["xen_extra"])


def test_xl_info_reports_hap(lab):
    info = _fields((lab.ok("smoke") / "xl-info.txt").read_text())
    assert "hap" in info["virt_caps"].split()
    assert "hvm" in info["virt_caps"].split()


def test_dom0_has_xen_devices(lab):
    devs = set((lab.ok("smoke") / "dev-xen.txt").read_text().split())
    assert {"evtchn", "gntdev", "gntalloc", "privcmd", "xenbus"} <= devs


def test_dom0_is_running_in_xl_list(lab):
    lines = (lab.ok("smoke") / "xl-list.txt").read_text().splitlines()
    assert lines[0].split()[:2] == ["Name", "ID"]
    dom0 = [ln.split() for ln in lines[1:] if ln.split()[:2] == ["Domain-0", "0"]]
    assert dom0, lines


def test_dom0_ready_was_reached(lab):
    assert lab.boot.dom0_ready_s is not None
    assert lab.boot.log.is_file()
    assert "ivcom-lab: dom0 ready" in lab.boot.log.read_text(errors="replace")


@pytest.mark.parametrize("n", [1, 2])
def test_vector_registers_survive_context_switches(lab, n):
    """Two processes in dom0 each hold a pattern in all sixteen vector
    registers across 200 sched_yield calls per round, for 10 s, while a
    PV domU burns CPU: every byte comes back.  (With XSAVE offered to Xen under QEMU 7.2's TCG, a
    quarter of the rounds did not: the lab's CPU model leaves it out.)"""
    text = (lab.ok("vecstate") / f"vecstate-{n}.txt").read_text()
    m = re.fullmatch(r"lab-vecstate: regs=(\w+) rounds=(\d+) bad_rounds=(\d+) "
                     r"bad_bytes=(\d+)\n", text)
    assert m, text
    assert int(m.group(2)) > 0
    assert (int(m.group(3)), int(m.group(4))) == (0, 0), text
