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
    "magic", "version", "mode", "s2c_order", "c2s_order", "server_live", "client_live",
    "reserved0", "nr_grefs", "flags", "grefs", "s2c_prod", "s2c_cons", "c2s_prod", "c2s_cons",
)
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


# Calls that read (argument indexes) or write through a pointer they are given.
_PTR_READS = {"memcpy": (1,), "memmove": (1,), "memcmp": (0, 1)}
_PTR_WRITES = {"memcpy": (0,), "memmove": (0,), "memset": (0,)}


def _open_paren(text: str, pos: int, stop: int) -> int:
    """The innermost '(' still open at pos (not before stop), or -1."""
    depth = 0
    for j in range(pos - 1, stop - 1, -1):
        c = text[j]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                return j if c == "(" else -1
            depth -= 1
        elif c in ";{}" and depth == 0:
            return -1
    return -1


def _close_paren(text: str, q: int) -> int:
    depth = 0
    for j in range(q, len(text)):
        if text[j] in "([":
            depth += 1
        elif text[j] in ")]":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def _skip_casts(text: str, q: int) -> int:
    """Start of the casts `(T *)(U *)` written directly before position q."""
    while True:
        before, j = _prev_token(text, q)
        if before != ")":
            return q
        depth = 0
        for k in range(j, -1, -1):
            depth += text[k] == ")"
            depth -= text[k] == "("
            if depth == 0:
                break
        if not re.fullmatch(r"\(\s*(?:const\s+|volatile\s+)*(?:struct\s+)?\w+[\s\w]*\*+\s*\)",
                            text[k : j + 1]):
            return q
        q = k


def _squash(s: str) -> str:
    """An expression without the spaces that do not separate two words."""
    s = re.sub(r"\s+", " ", s.strip())
    return re.sub(r"(?<!\w) | (?!\w)", "", s)


_CAST = re.compile(r"^\((?:const |volatile )*(?:struct )?\w+(?: \w+)*\*+\)")


def _uncast(s: str) -> str:
    """The pointer expression under its casts and outer parentheses."""
    while True:
        m = _CAST.match(s)
        if m:
            s = s[m.end():]
        elif s.startswith("(") and _close_paren(s, 0) == len(s) - 1:
            s = s[1:-1]
        else:
            return s


def classify_pointer(text: str, start: int, fstart: int) -> tuple[str, str]:
    """How `X->data + off` is used: ('accessor:<name>' | 'raw' | 'write' |
    'address', the expression it reads).  Copied out by memcpy/memmove/
    memcmp or dereferenced (`*(T *)(...)`, `((T *)(...))->f`) it is a raw
    read; handed to an accessor it is one access; anything else is the
    pointer itself."""
    pos = start
    q = _open_paren(text, pos, fstart)
    while q >= 0:
        close = _close_paren(text, q)
        name_m = re.search(r"(\w+)\s*$", text[fstart:q])
        if name_m and name_m.group(1) not in ("return", "sizeof"):
            name = name_m.group(1)
            # The argument the pointer is part of: between top-level commas.
            bounds, depth = [q], 0
            for j in range(q + 1, close):
                depth += text[j] in "(["
                depth -= text[j] in ")]"
                if text[j] == "," and depth == 0:
                    bounds.append(j)
            bounds.append(close)
            index = sum(1 for b in bounds[1:-1] if b < start)
            arg = _squash(text[bounds[index] + 1 : bounds[index + 1]])
            if name in ACCESSORS_READ:
                return "accessor:" + name, _uncast(arg)
            if index in _PTR_READS.get(name, ()):
                return "raw", f"{name}(...{arg}...)"
            if index in _PTR_WRITES.get(name, ()):
                return "write", arg
            return "address", arg
        # A grouping or a cast: a member or index after it, or a unary '*'
        # before its casts, reads through the pointer.
        member = re.match(r"\s*(?:->\s*\w+|\[[^\]]*\])", text[close + 1 :])
        if member:
            return "raw", _squash(text[q : close + 1 + member.end()])
        k = _skip_casts(text, q)
        before, j = _prev_token(text, k)
        if before == "*":
            b2, j2 = _prev_token(text, j)
            word = re.search(r"(\w+)\s*$", text[fstart : j2 + 1]) if j2 >= 0 else None
            if not (b2.isalnum() or b2 in "_)]") or (word and word.group(1) == "return"):
                return "raw", _squash(text[j : close + 1])
        pos = k
        q = _open_paren(text, pos, fstart)
    return "address", ""


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
            if kind == "dptr":
                how, what_read = classify_pointer(clean, s, fstart)
                expr = what_read or expr
            else:
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
                "raw read of ring bytes (a copy or dereference the compiler may split "
                "or repeat)" if kind == "dptr" else
                "read of a shared field without ivcom_load_acquire/ivcom_load_once")
            found.append(Finding(path, line, fname, expr, what))
        for expr, lines in reads.items():
            if len(lines) > 1 and fname not in MULTI_OK:
                found.append(Finding(path, lines[1], fname, expr,
                                     f"double fetch (also read at line {lines[0]})"))
    return found, seen


def sources(src: Path) -> list[Path]:
    files = (sorted(src.glob("*.c")) + sorted(src.glob("ring*.h"))
             + sorted(src.glob("chan*.h")))
    # Backends (plat_*.c) map and grant pages but never interpret them, and
    # xs_ring.c is the XenStore wire protocol: neither touches these fields,
    # but scanning them is harmless and catches a future slip.
    return files


# ---- codegen check -------------------------------------------------------

# Compilers and levels the probe is built with, and the library's own flags
# that shape its code (ivcom-core/Makefile), plus -g for addr2line.
COMPILERS = ("gcc", "clang")
OPT_LEVELS = ("-O2", "-O3")
PROBE_CFLAGS = ("-g", "-std=gnu11", "-D_GNU_SOURCE", "-fPIC", "-fno-semantic-interposition")


class CheckError(Exception):
    """The check could not run (exit 2), said in one line."""


@dataclass(frozen=True)
class CodegenRun:
    label: str                      # "gcc -O2"
    findings: tuple[Finding, ...]
    ops: int
    accesses: int
    skipped: str = ""               # why it did not run


def include_dir(src: Path) -> Path:
    """The public headers next to SRC_DIR (a copied src/ falls back to ours)."""
    inc = src.parent / "include"
    return inc if (inc / "ivcom" / "wire.h").is_file() else ROOT / "ivcom-core" / "include"


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln]
    return (errors or lines or ["(no output)"])[0]


def locate(binary: Path, vaddrs: list[str]) -> list[tuple[str, int]]:
    """(file, line) of each instruction address, innermost inlined frame;
    ("", 0) where unknown (no addr2line, no line info)."""
    tool = shutil.which("addr2line")
    if tool is None or not vaddrs:
        return [("", 0)] * len(vaddrs)
    proc = subprocess.run([tool, "-a", "-i", "-e", str(binary), *vaddrs],
                          capture_output=True, text=True, timeout=60, check=False)
    where: list[tuple[str, int]] = []
    block: list[str] = []
    for ln in [*proc.stdout.splitlines(), "0x"]:
        if re.fullmatch(r"0x[0-9a-fA-F]*", ln.strip()):
            if block:
                m = re.match(r"(.*):(\d+)", block[0])
                where.append((m.group(1), int(m.group(2))) if m else ("", 0))
            block = []
            continue
        block.append(ln.strip())
    return where if len(where) == len(vaddrs) else [("", 0)] * len(vaddrs)


def probe_finding(binary: Path, label: str, line: str) -> Finding:
    """One `finding|OP|FIELD|READS|WANT|WRITES|VADDRS` line of the probe."""
    _, op, field, reads, want, writes, vaddrs = line.split("|", 6)
    addrs = [a for a in vaddrs.split(",") if a]
    where = locate(binary, addrs)
    known = [w for w in where if w[1]]
    path, lineno = known[0] if known else (str(PROBE), 0)
    said = []
    if reads != want:
        said.append(f"{reads} instruction(s) read it, want {want}")
    if writes != "0":
        said.append(f"{writes} instruction(s) write it")
    at = ", ".join(f"{Path(f).name}:{n}" if n else "?" for f, n in where)
    what = f"{label} code: " + " and ".join(said) + (f" (at {at})" if at else "")
    return Finding(path, lineno, op, field, what)


def run_probe(src: Path, cc: str, opt: str, out: Path) -> CodegenRun:
    label = f"{Path(cc).name} {opt}"
    rings = sorted(src.glob("ring*.c"))
    if not (src / "ring.h").is_file():
        raise CheckError(f"{label}: no ring.h in {src}")
    binary = out / f"single_fetch-{Path(cc).name}{opt}"
    build = subprocess.run(
        [cc, opt, *PROBE_CFLAGS, f"-I{include_dir(src)}", f"-I{src}", "-o", str(binary),
         str(PROBE), *map(str, rings)],
        capture_output=True, text=True, timeout=300, check=False)
    if build.returncode != 0:
        raise CheckError(f"{label}: the probe does not build: {_first_line(build.stderr)}")
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120,
                          check=False)
    lines = proc.stdout.splitlines()
    if proc.returncode == 77:
        why = next((ln.split("|", 1)[1] for ln in lines if ln.startswith("skip|")), "")
        return CodegenRun(label, (), 0, 0, skipped=why or "the probe skipped")
    summary = [ln.split("|") for ln in lines if ln.startswith("summary|")]
    if proc.returncode not in (0, 1) or not summary:
        how = (f"died of signal {-proc.returncode}" if proc.returncode < 0
               else f"exit {proc.returncode}")
        raise CheckError(f"{label}: the probe failed ({how}): {_first_line(proc.stderr)}")
    found = tuple(probe_finding(binary, label, ln) for ln in lines
                  if ln.startswith("finding|"))
    if proc.returncode == 1 and not found:
        raise CheckError(f"{label}: the probe failed without saying why")
    return CodegenRun(label, found, int(summary[0][1]), int(summary[0][2]))


def check_codegen(src: Path, compilers: list[str]) -> tuple[list[CodegenRun], list[str]]:
    """Every compiler at every level: (runs, errors)."""
    runs: list[CodegenRun] = []
    errors: list[str] = []
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "amd64"):
        why = f"the fault counter needs x86-64 Linux, not {sys.platform} {platform.machine()}"
        return [CodegenRun("codegen", (), 0, 0, skipped=why)], errors
    with tempfile.TemporaryDirectory(prefix="check-shared-reads-") as tmp:
        for cc in compilers:
            path = shutil.which(cc)
            if path is None:
                runs.append(CodegenRun(cc, (), 0, 0, skipped=f"{cc} is not installed"))
                continue
            for opt in OPT_LEVELS:
                try:
                    runs.append(run_probe(src, cc, opt, Path(tmp)))
                except (CheckError, subprocess.TimeoutExpired, OSError) as e:
                    errors.append(str(e))
    return runs, errors


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="check_shared_reads.py",
        description="Every peer-writable shared field is read once: the source check, then "
                    "the generated code of each compiler (tests/fuzz/c/single_fetch.c).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  check_shared_reads.py                    # ivcom-core/src, gcc and clang\n"
               "  check_shared_reads.py --no-codegen src/  # the source check only\n"
               "  check_shared_reads.py --cc clang-14      # one compiler\n")
    ap.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC, metavar="SRC_DIR",
                    help="library sources (default: ivcom-core/src)")
    ap.add_argument("--no-codegen", action="store_true",
                    help="skip the generated-code check")
    ap.add_argument("--cc", action="append", metavar="CC",
                    help="compiler for the generated-code check, repeatable "
                         f"(default: {' and '.join(COMPILERS)})")
    return ap.parse_args(argv[1:])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    src: Path = args.src
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
    errors: list[str] = []
    if not args.no_codegen:
        runs, errors = check_codegen(src, args.cc or list(COMPILERS))
        for run in runs:
            if run.skipped:
                print(f"check-shared-reads: {run.label} code: skipped ({run.skipped})")
                continue
            for f in run.findings:
                print(f)
            findings.extend(run.findings)
            print(f"check-shared-reads: {run.label} code: {run.ops} operations, "
                  f"{run.accesses} instructions on shared memory, "
                  f"{len(run.findings)} finding(s)")
        for e in errors:
            print(f"check-shared-reads: {e}", file=sys.stderr)
    if errors:
        return 2
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
