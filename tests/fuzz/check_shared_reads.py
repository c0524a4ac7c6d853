#!/usr/bin/env python3
"""Every peer-writable shared field is read once: in the source, and in the code.

    check_shared_reads.py [--no-codegen] [--cc CC] [SRC_DIR]   (default: ivcom-core/src)

Source check.  Peer-writable shared memory in libivcom is reached through
  - the ring lines:      `...->pl-><field>`, `...->cl-><field>`
  - the control page:    `ctrl-><field>`, `c-><field>` (struct ivcom_ctrl fields)
  - the ring bytes:      `...->data[...]`, and `...->data + off` copied out
                         (memcpy/memmove/memcmp source) or dereferenced
  - the peer's live byte: `peer_live`
A read of any of them must be the direct argument of ivcom_load_acquire()
or ivcom_load_once() (one access, never re-fetched by the compiler), and
the same field may be read that way at most once per function (a second
read is a double fetch: the peer may change the value in between).
Writes (plain assignment, ivcom_store_*, a memcpy into the ring) and
taking an address are fine.  The functions in RAW_OK may touch shared
memory directly, each for the reason given.

Codegen check (unless --no-codegen).  C lets a compiler split a copy out of
shared memory, or fetch a field again after its check, whatever the
source says (the XSA-155 class).  tests/fuzz/c/single_fetch.c is compiled
with SRC_DIR's ring.h and ring*.c by each compiler in COMPILERS (or --cc)
at each of OPT_LEVELS and run: it counts, per operation of the data path,
the instructions that touch each shared byte, and every peer-writable
field it reads (record headers, prod, cons, the event indexes) must be
read by exactly one.  A compiler that is not installed is skipped with a
line saying so; so is the whole check off x86-64 Linux.

Exit 0 when clean, 1 with one line per finding, 2 when the check itself
could not run (no sources, a probe that does not build or crashes).
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SRC = ROOT / "ivcom-core" / "src"
PROBE = ROOT / "tests" / "fuzz" / "c" / "single_fetch.c"

# Functions allowed to touch shared memory without the accessors.
RAW_OK: dict[str, str] = {
    "ivcom_ring_init": "stores the addresses of the lines, reads nothing",
    "setup_rings": "takes the addresses of the lines and live bytes",
    "ivcom_listen": "the server fills its own page before anyone can map it",
    "check_ctrl": "copies the grant list out once (memcpy) before using it",
    "ivcom_ring_put_hdr": "the producer writes its own header",
    "ivcom_ring_msg_reserve": "the producer writes its own PAD header",
}
# Functions allowed to read one field more than once, with the reason.
MULTI_OK: dict[str, str] = {}

CTRL_FIELDS = (
    "magic version mode s2c_order c2s_order server_live client_live reserved0 "
    "nr_grefs flags grefs s2c_prod s2c_cons c2s_prod c2s_cons"
).split()
ACCESSORS_READ = ("ivcom_load_acquire", "ivcom_load_once")
ACCESSORS_WRITE = ("ivcom_store_release", "ivcom_store_once")

_TAIL = r"(?:\s*(?:\.|->)\s*\w+|\[[^\]]*\])*"
PATTERNS = [
    ("line", re.compile(r"[\w\]\)]*(?:\s*(?:->|\.)\s*\w+)*\s*->\s*(?:pl|cl)\s*->\s*\w+" + _TAIL)),
    ("ctrl", re.compile(r"\b(?:ctrl|c)\s*->\s*(?:" + "|".join(CTRL_FIELDS) + r")\b" + _TAIL)),
    ("data", re.compile(r"[\w\]\)]*(?:\s*(?:->|\.)\s*\w+)*\s*->\s*data\s*\[")),
    # A pointer into the ring bytes: judged by what it is handed to.
    ("dptr", re.compile(r"[\w\]\)]*(?:\s*(?:->|\.)\s*\w+)*\s*->\s*data\b(?=\s*\+)")),
    ("live", re.compile(r"(?:[\w\]\)]+(?:\s*(?:->|\.)\s*\w+)*?\s*(?:->|\.)\s*)?\bpeer_live\b")),
]


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    func: str
    expr: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: in {self.func}(): {self.what}: {self.expr}"


def strip_comments(text: str) -> str:
    """Blank out comments and string/char literals, keeping offsets and lines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1 : j - 1]) + (c if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every top-level brace block that is a function body."""
    spans = []
    depth = 0
    start = 0
    last_top = 0
    for i, c in enumerate(text):
        if c == "{":
            if depth == 0:
                head = text[last_top:i]
                m = re.search(r"(\w+)\s*\([^;{}]*\)\s*$", head)
                name = m.group(1) if m else ""
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if name:
                    spans.append((start, i, name))
                last_top = i + 1
        elif c == ";" and depth == 0:
            last_top = i + 1
    return spans


def _prev_token(text: str, pos: int) -> tuple[str, int]:
    j = pos - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return (text[j] if j >= 0 else ""), j


def classify(text: str, start: int, end: int, kind: str) -> str:
    """'address', 'accessor:<name>', 'write', 'rmw' or 'raw'."""
    before, j = _prev_token(text, start)
    after_m = re.match(r"\s*(\S{0,2})", text[end:])
    after = after_m.group(1) if after_m else ""
    if kind == "live":
        if before == "*":
            return "raw"
        if after.startswith("["):
            return "raw"
    addr = before == "&" and (j == 0 or text[j - 1] != "&")
    call_end = j - 1 if addr else j
    k = call_end + 1 if not addr else j
    head = text[max(0, k - 40) : k]
    m = re.search(r"(\w+)\s*\(\s*&?\s*$", head)
    if m and m.group(1) in ACCESSORS_READ and after.startswith(")"):
        return "accessor:" + m.group(1)
    if m and m.group(1) in ACCESSORS_WRITE and after.startswith(","):
        return "write"
    if kind == "live":
        return "address"        # the pointer itself, not the byte
    if addr:
        return "address"
    if kind != "data":
        if re.match(r"\s*=(?!=)", text[end:]):
            return "write"
        if re.match(r"\s*(?:[-+*/%&|^]|<<|>>)=", text[end:]) or re.match(
            r"\s*(\+\+|--)", text[end:]
        ) or text[max(0, start - 2) : start] in ("++", "--"):
            return "rmw"
    return "raw"


def check_text(text: str, path: str) -> tuple[list[Finding], int]:
    clean = strip_comments(text)
    found: list[Finding] = []
    seen = 0
    for fstart, fend, fname in functions(clean):
        body = clean[fstart:fend]
        reads: dict[str, list[int]] = {}
        hits: list[tuple[int, int, str]] = []
        for kind, pat in PATTERNS:
            for m in pat.finditer(body):
                s, e = m.start(), m.end()
                # trim leading whitespace the pattern may have taken
                while s < e and body[s].isspace():
                    s += 1
                if kind == "data":
                    e = body.index("[", s)
                hits.append((fstart + s, fstart + e, kind))
        # The same text may match two patterns (ctrl + line): keep the longest.
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        covered = -1
        for s, e, kind in hits:
            if s < covered:
                continue
            covered = e
            seen += 1
            expr = re.sub(r"\s+", "", clean[s:e])
            line = clean.count("\n", 0, s) + 1
            how = classify(clean, s, e, kind)
            if how.startswith("accessor:"):
                reads.setdefault(expr, []).append(line)
                continue
            if how in ("address", "write"):
                continue
            if fname in RAW_OK:
                continue
            what = "read-modify-write of a shared field" if how == "rmw" else (
                "raw access to ring bytes" if kind == "data" else
                "read of a shared field without ivcom_load_acquire/ivcom_load_once")
            found.append(Finding(path, line, fname, expr, what))
        for expr, lines in reads.items():
            if len(lines) > 1 and fname not in MULTI_OK:
                found.append(Finding(path, lines[1], fname, expr,
                                     f"double fetch (also read at line {lines[0]})"))
    return found, seen


def sources(src: Path) -> list[Path]:
    files = sorted(src.glob("*.c")) + sorted(p for p in src.glob("ring*.h")) + sorted(src.glob("chan*.h"))
    # Backends (plat_*.c) map and grant pages but never interpret them, and
    # xs_ring.c is the XenStore wire protocol: neither touches these fields,
    # but scanning them is harmless and catches a future slip.
    return files


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_SRC
    if not src.is_dir():
        print(f"check-shared-reads: {src} is not a directory", file=sys.stderr)
        return 2
    files = sources(src)
    if not files:
        print(f"check-shared-reads: no C sources in {src}", file=sys.stderr)
        return 2
    total = 0
    findings: list[Finding] = []
    for p in files:
        f, n = check_text(p.read_text(errors="replace"), str(p))
        findings.extend(f)
        total += n
    for f in findings:
        print(f)
    print(f"check-shared-reads: {total} shared accesses in {len(files)} files, "
          f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
