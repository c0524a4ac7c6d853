"""libxenvchan's protocol on real Xen: libivcom's drop-in
libxenvchan.so.4.17 against Debian's stock library in all four
combinations of server (a PV domU) and client (dom0), the same unmodified
program at both ends (scn-vchan-interop.sh, one boot).  The scenario's
KTAP lines are the verdicts; the JSON lines carry the figures."""

from __future__ import annotations

import json

import labboot
import pytest
from ivcom.lab.runner import BootResult, Scenario

pytestmark = pytest.mark.lab

LIBS = ("stock", "ours")


@pytest.fixture(scope="module")
def interop() -> BootResult:
    from ivcom.lab.image import build_image
    from ivcom.lab.tools import ivcom_payload

    _, res = labboot.boot(lambda: build_image(ivcom_payload(), log=True),
                          [Scenario.builtin("vchan-interop")], tag="pytest-vchan-interop",
                          timeout_s=900, scenario_timeout=600.0)
    return res


def _dir(res: BootResult):
    s = res.scenarios.get("vchan-interop")
    assert s is not None, f"the scenario did not run (log {res.log})"
    assert s.ok, f"vchan-interop failed: {s.reason} (dir {s.dir})"
    return s.dir


@pytest.mark.parametrize("srv", LIBS)
@pytest.mark.parametrize("cli", LIBS)
def test_pair_round_trips_and_verified_bulk(interop, srv, cli):
    labboot.ktap_check(interop, "vchan-interop",
                       f"{srv} server, {cli} client: round trips and a verified bulk transfer")
    rows = [json.loads(ln) for ln in (_dir(interop) / f"{srv}-{cli}.jsonl").read_text()
            .splitlines() if ln.strip()]
    bulk = [r for r in rows if r["mode"] == "bulk"]
    assert len(bulk) == 1 and bulk[0]["verified"] is True
    assert bulk[0]["bytes"] == 65536 * 64


@pytest.mark.parametrize("where", ["dom0", "domu"])
def test_drop_in_is_what_ran(interop, where):
    labboot.ktap_check(interop, "vchan-interop",
                       f"{where}: lab-vchan loads ours with LD_LIBRARY_PATH, stock without")
