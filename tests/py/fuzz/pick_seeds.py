"""Pick fuzz inputs that add line or branch coverage to the seed corpora.

    python tests/py/fuzz/pick_seeds.py TARGET DIR... [--max N] [--out D] [--write]

Runs each input in DIR... (a libFuzzer working corpus, say) alone through
the coverage build of TARGET (D/cov/TARGET, D = build/fuzz unless
--out says otherwise; `make fuzz-build`),
then picks greedily -- the input that covers the most lines and branches
of the core (ring.c, chan*.c, xs_ring.c) not yet covered by the seeds
already in tests/fuzz/corpus/TARGET or by an earlier pick, the smaller
on a tie -- until no input adds anything (or N are picked).  With
--write the picks are copied to tests/fuzz/corpus/TARGET/cov-<sha1>;
without it the picks and what they add are only listed.

The cov-* seeds were picked this way from long fuzz runs; make_seeds.py
writes the seed-* ones.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "build" / "fuzz"     # --out
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
CORE = ROOT / "ivcom-core" / "src"


def _tool(*names: str) -> str:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    sys.exit(f"pick_seeds: none of {', '.join(names)} found")


PROFDATA = _tool("llvm-profdata-14", "llvm-profdata")
COV = _tool("llvm-cov-14", "llvm-cov")


def covered_files() -> list[str]:
    return [str(p) for p in sorted(CORE.glob("chan*.c"))] + [
        str(CORE / "ring.c"), str(CORE / "xs_ring.c")]


def items_of(target: str, inputs: list[Path], tmp: Path, out: Path) -> set[str]:
    """Lines and branch outcomes of the core that these inputs reach."""
    raw = tmp / "p.profraw"
    data = tmp / "p.profdata"
    env = dict(os.environ, LLVM_PROFILE_FILE=str(raw))
    raw.unlink(missing_ok=True)
    subprocess.run([str(out / "cov" / target), *map(str, inputs)], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   timeout=600)
    if not raw.exists():
        return set()
    subprocess.run([PROFDATA, "merge", "-sparse", "-o", str(data), str(raw)], check=True)
    lcov = subprocess.run(
        [COV, "export", "-format=lcov", str(out / "cov" / target),
         f"-instr-profile={data}", *covered_files()],
        capture_output=True, text=True, check=True).stdout
    items: set[str] = set()
    src = ""
    for line in lcov.splitlines():
        if line.startswith("SF:"):
            src = Path(line[3:]).name
        elif line.startswith("DA:"):
            ln, count = line[3:].split(",")[:2]
            if count != "0":
                items.add(f"{src}:{ln}")
        elif line.startswith("BRDA:"):
            ln, block, branch, taken = line[5:].split(",")
            if taken not in ("0", "-"):
                items.add(f"{src}:{ln}:{block}:{branch}")
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target")
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--max", type=int, default=40)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    seeds = sorted(p for p in (CORPUS / args.target).iterdir() if p.is_file())
    cands = sorted({p for d in args.dirs for p in d.iterdir() if p.is_file()},
                   key=lambda p: (p.stat().st_size, p.name))
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        have = items_of(args.target, seeds, tmp, args.out) if seeds else set()
        print(f"{args.target}: the {len(seeds)} seeds reach {len(have)} lines/branches")
        gain: dict[Path, set[str]] = {}
        for p in cands:
            new = items_of(args.target, [p], tmp, args.out) - have
            if new:
                gain[p] = new
        picks: list[Path] = []
        while gain and len(picks) < args.max:
            best = max(gain, key=lambda p: (len(gain[p]), -p.stat().st_size))
            add = gain.pop(best)
            if not add:
                break
            picks.append(best)
            have |= add
            print(f"  {best.name}: +{len(add)} ({best.stat().st_size} bytes)")
            gain = {p: g - add for p, g in gain.items() if g - add}
    print(f"{args.target}: {len(picks)} picks, {len(have)} lines/branches in all")
    if args.write:
        for p in picks:
            data = p.read_bytes()
            (CORPUS / args.target / f"cov-{hashlib.sha1(data).hexdigest()[:12]}").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
