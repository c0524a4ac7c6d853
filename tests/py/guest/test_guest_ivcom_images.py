"""The IVCOM apps link libivcom's minios backend; the other images do not.

Host-only checks of what the build produced (the lab test proves the
images on Xen): every IVCOM app image carries the minios platform and the
public API it uses, and no symbol of the Linux OS glue or of another
backend slipped in.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

IVCOM_APPS = ("echo", "pingpong", "source", "sink", "kv")
# Linux glue and other backends: never in a guest image.
FOREIGN = ("ivcom_plat_xen_linux_ops", "ivcom_plat_sim_ops", "clock_gettime",
           "getenv", "access")


def symbols(path: Path) -> set[str]:
    if shutil.which("nm") is None:
        pytest.skip("nm (binutils) not installed")
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("app", IVCOM_APPS)
def test_ivcom_app_links_minios_backend(guest_images: Path, app: str) -> None:
    syms = symbols(guest_images / f"ivcom-guest-{app}.elf")
    for needed in ("ivcom_plat_minios_ops", "ivcom_platform_open", "ivcom_now_ns",
                   "ivcom_default_platform", "ivcom_os_yield", "app_main"):
        assert needed in syms, f"{app}: {needed} missing"
    assert "ivcom_listen" in syms and "ivcom_connect" in syms
    for bad in FOREIGN:
        assert bad not in syms, f"{app}: {bad} linked into a guest image"


@pytest.mark.parametrize("app", ("hello", "xdom"))
def test_other_images_stay_without_libivcom(guest_images: Path, app: str) -> None:
    syms = symbols(guest_images / f"ivcom-guest-{app}.elf")
    assert "ivcom_plat_minios_ops" not in syms
    assert "ivcom_listen" not in syms


def test_guest_archives_built(guest_images: Path) -> None:
    for lib in ("libivcom-guest.a", "libivapp.a"):
        assert (guest_images / lib).is_file(), f"{lib} not built"
