"""The double-fetch check (tests/fuzz/check_shared_reads.py): clean on the
tree, and it catches a second read or a raw read introduced on purpose, in
the source and in the code gcc and clang generate."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CHECK = ROOT / "tests" / "fuzz" / "check_shared_reads.py"
SRC = ROOT / "ivcom-core" / "src"
COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
OPT_LEVELS = ("-O2", "-O3")


def run(src: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), *args, str(src)], capture_output=True,
                          text=True, timeout=600)


def needs_codegen() -> None:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the codegen probe counts faults on x86-64 Linux only")
    if not COMPILERS:
        pytest.skip("neither gcc nor clang is installed")


def codegen_findings(out: str, cc: str) -> list[str]:
    return [ln for ln in out.splitlines() if f"(): {cc} -O" in ln]


def copy_tree(tmp: Path) -> Path:
    dst = tmp / "src"
    shutil.copytree(SRC, dst)
    return dst


def ring_source(src: Path) -> Path:
    """The file holding ivcom_ring_avail (ring.c, or ring.h when inline)."""
    for p in sorted(src.glob("ring*")):
        if re.search(r"int64_t\s+ivcom_ring_avail\s*\(", p.read_text()):
            return p
    raise AssertionError("ivcom_ring_avail not found")


def test_tree_is_clean() -> None:
    proc = run(SRC)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n = int(re.search(r"(\d+) shared accesses", proc.stdout).group(1))  # type: ignore[union-attr]
    assert n >= 20  # it really looked at the shared accesses
    # ... and ran the data path built by every compiler there is, clean.
    for cc in COMPILERS:
        for opt in OPT_LEVELS:
            m = re.search(rf"{cc} {opt} code: (\d+) operations, (\d+) instructions on shared "
                          r"memory, 0 finding\(s\)", proc.stdout)
            assert m, proc.stdout
            assert int(m.group(1)) >= 8 and int(m.group(2)) >= 13, m.group(0)


def test_catches_second_read(tmp_path: Path) -> None:
    src = copy_tree(tmp_path)
    ring = ring_source(src)
    text = ring.read_text()
    new = re.sub(r"(uint32_t avail = prod - r->pvt;)",
                 r"\1\n    avail = ivcom_load_acquire(&r->pl->prod) - r->pvt;", text, count=1)
    assert new != text
    ring.write_text(new)
    proc = run(src, "--no-codegen")
    assert proc.returncode == 1
    assert "double fetch" in proc.stdout and "ivcom_ring_avail" in proc.stdout


def test_catches_raw_read(tmp_path: Path) -> None:
    src = copy_tree(tmp_path)
    ring = ring_source(src)
    text = ring.read_text()
    new = re.sub(r"(uint32_t avail = prod - r->pvt;)",
                 r"\1\n    if (r->pl->prod != prod)\n        return -EPROTO;", text, count=1)
    ring.write_text(new)
    proc = run(src, "--no-codegen")
    assert proc.returncode == 1
    assert "without ivcom_load_acquire" in proc.stdout


def test_catches_raw_live_byte_and_ctrl_read(tmp_path: Path) -> None:
    src = copy_tree(tmp_path)
    chan = src / "chan.h"
    text = chan.read_text()
    new = text.replace("v = ivcom_load_acquire(ch->peer_live);",
                       "v = *ch->peer_live;", 1)
    assert new != text
    new += "\nint ivcom_peek_magic(struct ivcom_chan *ch);\n" \
           "int ivcom_peek_magic(struct ivcom_chan *ch)\n{\n    return ch->ctrl->magic;\n}\n"
    chan.write_text(new)
    proc = run(src, "--no-codegen")
    assert proc.returncode == 1
    assert "peer_live" in proc.stdout and "ivcom_peek_magic" in proc.stdout


def test_source_catches_memcpy_header_read(tmp_path: Path) -> None:
    """The header copied out of the ring by memcpy, as before the fix."""
    src = copy_tree(tmp_path)
    ring = put_back_memcpy(src)
    proc = run(src, "--no-codegen")
    assert proc.returncode == 1, proc.stdout
    assert f"{ring}:" in proc.stdout and "in ivcom_ring_msg_peek(): raw read of ring bytes" \
        in proc.stdout, proc.stdout


def put_back_memcpy(src: Path) -> Path:
    for ring in sorted(src.glob("ring*")):
        text = ring.read_text()
        new = re.sub(r"h = ivcom_ring_get_hdr\(r, off\);", "memcpy(&h, r->data + off, sizeof(h));",
                     text, count=1)
        if new != text:
            ring.write_text(new)
            return ring
    raise AssertionError("no ivcom_ring_get_hdr call to undo")


def test_codegen_catches_memcpy_header_read(tmp_path: Path) -> None:
    """With the memcpy back, some compiler reads the header with more than
    one instruction, or again after checking it (clang 14 does: three
    loads, one of them at the `reserved` check)."""
    needs_codegen()
    src = copy_tree(tmp_path)
    put_back_memcpy(src)
    proc = run(src)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    caught = [ln for cc in COMPILERS for ln in codegen_findings(proc.stdout, cc)
              if "in ivcom_ring_msg_peek()" in ln and "record header" in ln]
    assert caught, proc.stdout
    assert all("read it, want 1" in ln for ln in caught), caught


def test_codegen_catches_second_load(tmp_path: Path) -> None:
    """A second atomic load of prod after its check: every compiler at every
    level emits it, and the probe counts two reads."""
    needs_codegen()
    src = copy_tree(tmp_path)
    ring = ring_source(src)
    text = ring.read_text()
    new = text.replace("r->peer = prod;", "r->peer = ivcom_load_acquire(&r->pl->prod);", 1)
    assert new != text
    ring.write_text(new)
    proc = run(src)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for cc in COMPILERS:
        for opt in OPT_LEVELS:
            hits = [ln for ln in codegen_findings(proc.stdout, cc)
                    if f"{cc} {opt} code: 2 instruction(s) read it, want 1" in ln
                    and "in ivcom_ring_avail(): " in ln and ln.endswith(": prod")]
            assert hits, (cc, opt, proc.stdout)


def test_missing_compiler_is_skipped() -> None:
    proc = run(SRC, "--cc", "no-such-cc")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no-such-cc code: skipped (no-such-cc is not installed)" in proc.stdout or \
        "code: skipped (the fault counter needs x86-64" in proc.stdout, proc.stdout


def test_bad_directory_is_one_line() -> None:
    proc = subprocess.run([sys.executable, str(CHECK), "/nonexistent"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
