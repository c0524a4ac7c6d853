"""Fixtures for the tiny guest: its images and the Xen hypervisor ELF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from guest_helpers import OUT, XEN_DEB, fetch_xen, run_make


@pytest.fixture(scope="session")
def guest_images() -> Path:
    """Build every app image once per session; returns the output dir."""
    if shutil.which("make") is None or shutil.which("gcc") is None:
        pytest.skip("make/gcc not available: cannot build the guest")
    proc = run_make("all")
    assert proc.returncode == 0, f"guest build failed:\n{proc.stdout}\n{proc.stderr}"
    return OUT


@pytest.fixture(scope="session")
def xen_elf() -> Path:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed: cannot boot Xen")
    try:
        elf = fetch_xen()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot unpack {XEN_DEB}: {exc}")
    if elf is None:
        pytest.skip(f"{XEN_DEB} deb not available (apt-get download failed)")
    return elf
