"""The guest image is an ELF Xen's PV loader accepts, built freestanding."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from guest_helpers import OUT, run_make

NOTE_GUEST_OS, NOTE_XEN_VERSION, NOTE_LOADER = 6, 5, 8
NOTE_VIRT_BASE, NOTE_PADDR_OFFSET, NOTE_ENTRY, NOTE_HYPERCALL_PAGE = 3, 4, 1, 2
PT_LOAD, PT_NOTE = 1, 4


def _elf(path: Path) -> tuple[bytes, dict[str, int], list[tuple[int, int, int, int, int]]]:
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[4] == 2 and data[5] == 1, "not ELF64 little-endian"
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    e_entry, e_phoff = struct.unpack_from("<QQ", data, 24)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    hdr = {"type": e_type, "machine": e_machine, "entry": e_entry}
    phdrs = []
    for i in range(e_phnum):
        p_type, _flags, off, vaddr, _paddr, filesz, memsz = struct.unpack_from(
            "<IIQQQQQ", data, e_phoff + i * e_phentsize)
        phdrs.append((p_type, off, vaddr, filesz, memsz))
    return data, hdr, phdrs


def _notes(data: bytes, off: int, size: int) -> dict[int, bytes]:
    notes: dict[int, bytes] = {}
    pos, end = off, off + size
    while pos + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        pos += 12
        name = data[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = data[pos:pos + descsz]
        pos += (descsz + 3) & ~3
        if name == b"Xen":
            notes[ntype] = desc
    return notes


def _symbols(path: Path) -> dict[str, tuple[int, str]]:
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = (int(parts[0], 16), parts[1])
        elif len(parts) == 2:
            syms[parts[1]] = (-1, parts[0])
    return syms


@pytest.fixture(scope="module")
def hello(guest_images: Path) -> Path:
    return guest_images / "ivcom-guest-hello.elf"


def test_image_fits_budget(hello: Path) -> None:
    assert hello.stat().st_size <= 200 * 1024


def test_elf_header_and_segments(hello: Path) -> None:
    _data, hdr, phdrs = _elf(hello)
    assert hdr["type"] == 2, "not ET_EXEC"
    assert hdr["machine"] == 62, "not x86-64"
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    assert len(loads) == 1 and loads[0][2] == 0, "one load segment at virtual 0"
    # Code + data + stack + bss fit well inside a 4 MiB domain.
    assert loads[0][4] < 1024 * 1024
    assert any(p[0] == PT_NOTE for p in phdrs), "no PT_NOTE for the Xen notes"


def test_xen_notes(hello: Path) -> None:
    data, hdr, phdrs = _elf(hello)
    note = next(p for p in phdrs if p[0] == PT_NOTE)
    notes = _notes(data, note[1], note[3])
    syms = _symbols(hello)
    assert notes[NOTE_XEN_VERSION] == b"xen-3.0\0"
    assert notes[NOTE_LOADER] == b"generic\0"
    assert notes[NOTE_GUEST_OS].rstrip(b"\0")
    assert struct.unpack("<Q", notes[NOTE_VIRT_BASE])[0] == 0
    assert struct.unpack("<Q", notes[NOTE_PADDR_OFFSET])[0] == 0
    assert struct.unpack("<Q", notes[NOTE_ENTRY])[0] == syms["_start"][0] == hdr["entry"]
    assert struct.unpack("<Q", notes[NOTE_HYPERCALL_PAGE])[0] == syms["hypercall_page"][0]


def test_hypercall_page_poisoned(hello: Path) -> None:
    data, _hdr, phdrs = _elf(hello)
    load = next(p for p in phdrs if p[0] == PT_LOAD)
    va = _symbols(hello)["hypercall_page"][0]
    assert va % 4096 == 0
    off = load[1] + va - load[2]
    assert data[off:off + 4096] == b"\xc3" * 4096


def test_freestanding_link(hello: Path) -> None:
    syms = _symbols(hello)
    undefined = [n for n, (_v, t) in syms.items() if t == "U"]
    assert undefined == [], f"undefined symbols: {undefined}"
    sections = subprocess.run(["readelf", "-SW", str(hello)], capture_output=True,
                              text=True, check=True).stdout
    for forbidden in (".interp", ".dynamic", ".got.plt", ".plt"):
        assert forbidden not in sections


def test_no_vector_instructions(hello: Path) -> None:
    """-mno-sse and friends: Xen does not set up FPU/SSE state for us."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump not available")
    dis = subprocess.run(["objdump", "-d", str(hello)], capture_output=True,
                         text=True, check=True).stdout
    bad = [ln for ln in dis.splitlines() if "%xmm" in ln or "%ymm" in ln or "%st" in ln]
    assert bad == [], "vector/x87 instructions:\n" + "\n".join(bad[:10])


def test_app_main_is_weak_without_app(guest_images: Path) -> None:
    syms = _symbols(guest_images / "ivcom-guest-noapp.elf")
    assert syms["app_main"][1] == "W"
    assert _symbols(guest_images / "ivcom-guest-hello.elf")["app_main"][1] == "T"


def test_cfg_template(guest_images: Path) -> None:
    proc = run_make("cfg", "APP=hello", "NAME=unit-hello", "EXTRA=domid=7 peer=0")
    assert proc.returncode == 0, proc.stderr
    cfg = (OUT / "unit-hello.cfg").read_text()
    assert 'name = "unit-hello"' in cfg
    assert 'type = "pv"' in cfg
    assert "memory = 4" in cfg
    assert 'extra = "domid=7 peer=0"' in cfg
    assert "on_poweroff = \"destroy\"" in cfg
    assert f'kernel = "{OUT / "ivcom-guest-hello.elf"}"' in cfg
    assert "@" not in cfg


# ---- the PVH build (make pvh) -------------------------------------------------

NOTE_PHYS32_ENTRY = 18


@pytest.fixture(scope="module")
def hello_pvh(guest_images: Path) -> Path:
    proc = run_make("pvh")
    assert proc.returncode == 0, f"PVH build failed:\n{proc.stdout}\n{proc.stderr}"
    return guest_images / "ivcom-guest-hello-pvh.elf"


def test_pvh_image_loads_at_1mib_and_enters_at_phys32(hello_pvh: Path) -> None:
    data, hdr, phdrs = _elf(hello_pvh)
    assert hello_pvh.stat().st_size <= 200 * 1024
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    assert len(loads) == 1 and loads[0][2] == 0x100000, "one load segment at 1 MiB"
    note = next(p for p in phdrs if p[0] == PT_NOTE)
    notes = _notes(data, note[1], note[3])
    syms = _symbols(hello_pvh)
    # The loader takes the 32-bit entry from this note alone; no PV notes
    # that would make a PV loader jump into 32-bit code.
    assert struct.unpack("<I", notes[NOTE_PHYS32_ENTRY])[0] == syms["_start"][0] == hdr["entry"]
    for pv_only in (NOTE_ENTRY, NOTE_HYPERCALL_PAGE, NOTE_VIRT_BASE, NOTE_LOADER):
        assert pv_only not in notes
    assert syms["hypercall_page"][0] % 4096 == 0
    undefined = [n for n, (_v, t) in syms.items() if t == "U"]
    assert undefined == [], f"undefined symbols: {undefined}"


def test_pvh_cfg_template(hello_pvh: Path) -> None:
    proc = run_make("cfg", "MODE=pvh", "APP=hello", "NAME=unit-hello-pvh", "EXTRA=peer=0")
    assert proc.returncode == 0, proc.stderr
    cfg = (OUT / "unit-hello-pvh.cfg").read_text()
    assert 'type = "pvh"' in cfg
    assert f'kernel = "{OUT / "ivcom-guest-hello-pvh.elf"}"' in cfg
    assert 'extra = "peer=0"' in cfg
    assert "@" not in cfg
