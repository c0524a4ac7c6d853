"""The baseline measurement, for the benchmark harness.

    from ivcom.lab.baseline import run_baseline
    doc = run_baseline(rr="rr:64:2000", bulk="bulk:65536:1024")

One boot runs the `baseline` scenario: TCP over netfront/netback between two
PV domUs through the dom0 bridge, then libxenvchan dom0<->domU, each with a
64 B round-trip session and a verified bulk session.  Returns the parsed
baseline.json (see scn-baseline.sh); times are TCG times, so compare only
ratios measured in one boot.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from ivcom.lab.errors import LabError
from ivcom.lab.image import build_image
from ivcom.lab.runner import LabRunner, Scenario
from ivcom.lab.tools import standard_payload

_SPEC = re.compile(r"^(rr|bulk):[1-9][0-9]*:[1-9][0-9]*$")


def run_baseline(rr: str = "rr:64:1000", bulk: str = "bulk:65536:1024",
                 out: Path | None = None, timeout: float = 900.0) -> dict[str, Any]:
    for spec, mode in ((rr, "rr"), (bulk, "bulk")):
        if not _SPEC.match(spec) or not spec.startswith(mode + ":"):
            raise LabError(f"bad {mode} session spec {spec!r} (want {mode}:SIZE:COUNT)",
                           exit_code=2)
    if int(rr.split(":")[1]) > 16384:
        raise LabError("round-trip size is limited to 16384 bytes", exit_code=2)
    runner = LabRunner(build_image(standard_payload()), timeout=timeout,
                       scenario_timeout=timeout - 60, status=None)
    res = runner.boot([Scenario.builtin("baseline")], tag="baseline",
                      env={"BASE_RR": rr, "BASE_BULK": bulk})
    s = res.scenarios["baseline"]
    if not s.ok:
        raise LabError(s.reason, stage="scenario baseline", log=res.log)
    path = s.dir / "baseline.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LabError(f"unreadable {path.name}: {exc}", stage="results", log=res.log) from exc
    doc["run_dir"] = str(res.run_dir)
    doc["retries"] = res.retries + list(s.retries)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
    return doc
