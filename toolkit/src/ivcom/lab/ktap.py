"""The lab scenarios' verdicts: KTAP-style lines in a scenario's ktap.txt
(``lab_ktap`` in lib.sh writes them as each check is made).

    ok 3 p1 la served
    not ok 4 p1 t1 served # FAILURE pingpong: ...

One parser for every scenario that reports this way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ivcom.lab.errors import LabError

_LINE = re.compile(r"(not ok|ok) (\d+) (.*?)(?: # (.*))?")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    number: int
    check: str
    why: str            # what followed '#' (empty for most "ok" lines)


def parse(text: str) -> dict[str, Verdict]:
    """Verdicts by check description; a line that is not KTAP is an error."""
    out: dict[str, Verdict] = {}
    for line in text.splitlines():
        m = _LINE.fullmatch(line)
        if m is None:
            raise LabError(f"not a KTAP line: {line!r}", stage="results")
        out[m.group(3)] = Verdict(m.group(1) == "ok", int(m.group(2)), m.group(3),
                                  m.group(4) or "")
    return out


def read(results_dir: Path) -> dict[str, Verdict]:
    """The verdicts of the scenario whose results are in results_dir."""
    path = results_dir / "ktap.txt"
    try:
        return parse(path.read_text())
    except OSError as exc:
        raise LabError(f"cannot read {path}: {exc.strerror}", stage="results") from exc
