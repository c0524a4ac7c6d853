"""The double-fetch check (tests/fuzz/check_shared_reads.py): clean on the
tree, and it catches a second read or a raw read introduced on purpose."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CHECK = ROOT / "tests" / "fuzz" / "check_shared_reads.py"
SRC = ROOT / "ivcom-core" / "src"


def run(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), str(src)], capture_output=True,
                          text=True, timeout=60)


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


def test_catches_second_read(tmp_path: Path) -> None:
    src = copy_tree(tmp_path)
    ring = ring_source(src)
    text = ring.read_text()
    new = re.sub(r"(uint32_t avail = prod - r->pvt;)",
                 r"\1\n    avail = ivcom_load_acquire(&r->pl->prod) - r->pvt;", text, count=1)
    assert new != text
    ring.write_text(new)
    proc = run(src)
    assert proc.returncode == 1
    assert "double fetch" in proc.stdout and "ivcom_ring_avail" in proc.stdout


def test_catches_raw_read(tmp_path: Path) -> None:
    src = copy_tree(tmp_path)
    ring = ring_source(src)
    text = ring.read_text()
    new = re.sub(r"(uint32_t avail = prod - r->pvt;)",
                 r"\1\n    if (r->pl->prod != prod)\n        return -EPROTO;", text, count=1)
    ring.write_text(new)
    proc = run(src)
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
    proc = run(src)
    assert proc.returncode == 1
    assert "peer_live" in proc.stdout and "ivcom_peek_magic" in proc.stdout


def test_bad_directory_is_one_line() -> None:
    proc = subprocess.run([sys.executable, str(CHECK), "/nonexistent"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
