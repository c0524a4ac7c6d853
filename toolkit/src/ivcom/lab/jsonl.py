"""Lines of a scenario's JSON-lines results file (guest-bench.jsonl,
kv-bench.jsonl ...): each a JSON object with a known "kind" and a boolean
"ok"; anything else is a LabError naming the file and line.  The
per-kind checks are the caller's."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivcom.lab.errors import LabError

Json = dict[str, Any]


@dataclass(frozen=True)
class Line:
    """One line, with where it came from."""

    n: int
    rec: Json
    file: str
    stage: str

    def bad(self, what: str) -> LabError:
        return LabError(f"{self.file} line {self.n}: {what}", stage=self.stage)

    def num(self, key: str, obj: Json | None = None) -> float:
        v = (self.rec if obj is None else obj).get(key)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.bad(f"{key!r} missing or not a number")
        return v

    def text(self, key: str) -> str:
        v = self.rec.get(key)
        if not isinstance(v, str):
            raise self.bad(f"{key!r} missing or not a string")
        return v

    def obj(self, key: str) -> Json:
        v = self.rec.get(key)
        if not isinstance(v, dict):
            raise self.bad(f"{key!r} missing or not an object")
        return v


def read(path: Path, kinds: Collection[str], stage: str) -> list[Line]:
    """The file's non-empty lines, each a JSON object whose "kind" is one
    of `kinds` and whose "ok" is true or false."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise LabError(f"cannot read {path.name}: {exc.strerror}", stage=stage) from exc
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            raise LabError(f"{path.name} line {n} is not JSON: {exc}", stage=stage) from exc
        line = Line(n, rec if isinstance(rec, dict) else {}, path.name, stage)
        if not isinstance(rec, dict):
            raise line.bad("not a JSON object")
        if rec.get("kind") not in kinds:
            raise line.bad(f"unknown kind {rec.get('kind')!r}")
        if not isinstance(rec.get("ok"), bool):
            raise line.bad("'ok' missing or not true/false")
        out.append(line)
    return out
