"""The Xen lab for pytest: ONE boot per session runs every scenario.

The session-scoped `lab` fixture builds (or reuses) the cached image with
the lab tools, boots Xen 4.17 under QEMU TCG once, and runs the built-in
scenarios plus a deliberately failing one (to check failure reporting).
Tests then read the files each scenario brought back.  Tests skip only if
qemu-system-x86_64 is missing or cannot run at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import labboot
import pytest
from ivcom.lab.errors import LabError
from ivcom.lab.image import LabImage, build_image
from ivcom.lab.runner import BootResult, Scenario, ScenarioResult
from ivcom.lab.tools import standard_payload

SCENARIOS = ("smoke", "vecstate", "pv", "pvh", "vchan", "net", "baseline")

# Reports a known failure: the runner must bring back rc and reason.
FAILING = Scenario("deliberate-failure", "echo partial >partial.txt\n"
                                         "lab_fail 'deliberate failure for the test suite'\n"
                                         "echo unreachable >unreachable.txt\n")


# Checks the host->dom0 channels: exported environment and shared files.
INPUTS = Scenario("inputs", 'cp "$LAB_FILES/hello.txt" seen.txt || lab_fail "no $LAB_FILES"\n'
                            'printf "%s\\n" "$LAB_TEST_VAR" >env.txt\n')
HELLO = "hello from the host\n"
TEST_VAR = "it's a value with spaces"


@dataclass
class Lab:
    boot: BootResult
    hello: str = HELLO          # content of the shared file "hello.txt"
    test_var: str = TEST_VAR    # value exported as LAB_TEST_VAR

    def scenario(self, name: str) -> ScenarioResult:
        s = self.boot.scenarios.get(name)
        if s is None:
            pytest.fail(f"scenario {name} did not run (log {self.boot.log})")
        return s

    def ok(self, name: str) -> Path:
        """The results directory of a scenario that must have passed."""
        s = self.scenario(name)
        assert s.ok, f"scenario {name} failed: {s.reason} (dir {s.dir}, log {self.boot.log})"
        return s.dir

    def jsonl(self, name: str, file: str) -> list[dict[str, object]]:
        path = self.ok(name) / file
        assert path.is_file(), f"{path} missing"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def lab_image() -> LabImage:
    """The cached lab image with the lab tools (QEMU must be usable)."""
    labboot.require_qemu()
    try:
        return build_image(standard_payload(), log=True)
    except LabError as exc:
        pytest.fail(f"lab image build failed: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def lab(lab_image: LabImage, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    hello = tmp_path_factory.mktemp("lab-inputs") / "hello.txt"
    hello.write_text(HELLO)
    scns = [Scenario.builtin(n) for n in SCENARIOS] + [INPUTS, FAILING]
    # Smaller baseline than the benchmark harness uses: this only checks
    # that it measures and reports.
    _, res = labboot.boot(lab_image, scns, tag="pytest", timeout_s=540, scenario_timeout=240.0,
                          env={"BASE_RR": "rr:64:300", "BASE_BULK": "bulk:65536:256",
                               "LAB_TEST_VAR": TEST_VAR},
                          files={"hello.txt": hello})
    return Lab(res)
