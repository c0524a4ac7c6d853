"""Boot the tiny guest as Xen's dom0 under QEMU TCG (no toolstack needed).

As dom0 the guest prints with console_io and ends the run by asking Xen to
reboot, which ends QEMU (-no-reboot).  Each boot takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guest_helpers import boot_as_dom0

pytestmark = pytest.mark.lab


def test_hello_boots_and_checks_services(guest_images: Path, xen_elf: Path) -> None:
    boot = boot_as_dom0(xen_elf, guest_images / "ivcom-guest-hello.elf", "domid=0")
    lines = "\n".join(boot.guest_lines())
    assert boot.result is not None, f"no result line; serial log tail:\n{boot.log[-3000:]}"
    assert boot.result.startswith("SUCCESS"), boot.result
    assert "clock+mm+evtchn+gnttab" in boot.result
    # What the kernel saw on the way, in the fixed init order.
    assert "magic xen-3.0-x86_64" in lines
    assert "ivcom-guest: booting (dom0" in lines
    assert "gnttab: 4 frames, 2048 entries" in lines
    assert "evtchn loopback" in lines
    # A revoked grant is refused with -EACCES (13).
    assert "gnttab self-map of ref 8 ok (revoked ref: -13)" in lines
    order = [lines.index(s) for s in ("booting", "mm:", "gnttab:", "cmdline", "hello: Xen")]
    assert order == sorted(order)
    # Exactly one result line.
    assert boot.log.count("ivcom-guest: result:") == 1


def test_bad_cmdline_is_one_line_failure(guest_images: Path, xen_elf: Path) -> None:
    boot = boot_as_dom0(xen_elf, guest_images / "ivcom-guest-hello.elf", "domid=abc")
    assert boot.result == "FAILURE bad domid= on the command line", boot.log[-2000:]
    assert "panic" not in boot.log.lower().split("ivcom-guest: booting")[-1]


def test_image_without_app_reports_failure(guest_images: Path, xen_elf: Path) -> None:
    boot = boot_as_dom0(xen_elf, guest_images / "ivcom-guest-noapp.elf")
    assert boot.result == "FAILURE no app linked into this image", boot.log[-2000:]


@pytest.mark.parametrize(("how", "expect"), [
    ("null", "FAILURE panic: trap 14 (page fault) at rip 0x"),
    ("pf", "FAILURE panic: trap 14 (page fault) at rip 0x"),
    ("ud", "FAILURE panic: trap 6 (invalid opcode) at rip 0x"),
])
def test_faults_end_in_failure_line(guest_images: Path, xen_elf: Path, how: str,
                                    expect: str) -> None:
    """A fault is reported with its vector, rip and (page faults) address."""
    boot = boot_as_dom0(xen_elf, guest_images / "ivcom-guest-hello.elf", f"crash={how}")
    assert boot.result is not None, boot.log[-2000:]
    assert boot.result.startswith(expect), boot.result
    if how == "null":
        assert boot.result.endswith("address 0x0")
    if how == "pf":
        assert boot.result.endswith("address 0x40000000")
    assert boot.log.count("ivcom-guest: result:") == 1
