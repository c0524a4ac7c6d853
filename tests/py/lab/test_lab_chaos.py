"""Chaos on real Xen (scn-chaos.sh, one boot): sessions between dom0 and
two PV domUs meet random faults -- a SIGKILLed client or server during the
handshake, mid-stream or as it closes, a domU destroyed and created again
-- for $CHAOS_SECONDS (75 by default; `make chaos` runs 600).  The scenario's
KTAP verdicts are the checks; rounds.txt says what each round met.  A
SIGKILLed process's XenStore nodes are reclaimed by the next IVCOM process
of its domain (chan_sweep.c): the scenario ends with one in each."""

from __future__ import annotations

import os

import labboot
import pytest
from ivcom.lab.runner import BootResult, Scenario

pytestmark = pytest.mark.lab

CHECKS = (
    "no process outlived its timeout",
    "every receiver's messages intact and in order",
    "dom0's event channels back to their count",
    "dom0's IVCOM XenStore nodes back to their count",
    "no IVCOM XenStore node left in the domUs",
)
SECONDS = int(os.environ.get("CHAOS_SECONDS", "75"))


@pytest.fixture(scope="module")
def chaos() -> BootResult:
    from ivcom.lab.image import build_image
    from ivcom.lab.tools import ivcom_payload

    _, res = labboot.boot(lambda: build_image(ivcom_payload(), log=True),
                          [Scenario.builtin("chaos")], tag="pytest-chaos",
                          timeout_s=900 + 2 * SECONDS, scenario_timeout=600.0 + 2 * SECONDS,
                          env={"CHAOS_SECONDS": str(SECONDS)})
    return res


def test_chaos_ran_rounds_with_faults(chaos):
    labboot.ktap_check(chaos, "chaos", "ran rounds")
    rounds = (chaos.scenarios["chaos"].dir / "rounds.txt").read_text().splitlines()
    assert len(rounds) >= 3 and any("no fault" not in r for r in rounds), rounds


@pytest.mark.parametrize("check", CHECKS)
def test_chaos_check(chaos, check):
    labboot.ktap_check(chaos, "chaos", check)
