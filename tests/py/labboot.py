"""Booting the Xen lab from a test fixture, with one set of rules: no usable
QEMU skips (saying why), a failed image build or boot fails the test with
the runner's one-line reason, and the runner's retries are printed.

    image, res = labboot.boot(lambda: build_image(payload), scenarios,
                              tag="pytest-x", timeout_s=900, scenario_timeout=600)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from ivcom.lab.errors import LabError, QemuUnavailable
from ivcom.lab.image import LabImage
from ivcom.lab.runner import BootResult, LabRunner, Scenario, check_qemu


def require_qemu() -> None:
    try:
        check_qemu()
    except QemuUnavailable as exc:
        pytest.skip(f"Xen lab unavailable: {exc}")


def boot(image: LabImage | Callable[[], LabImage], scenarios: Iterable[Scenario], *,
         tag: str, timeout_s: float, scenario_timeout: float,
         env: dict[str, str] | None = None,
         files: dict[str, Path] | None = None) -> tuple[LabImage, BootResult]:
    """Build the image (when given a builder) and boot it once; the boot's
    limit is $IVCOM_LAB_TIMEOUT if set, else `timeout_s`."""
    require_qemu()
    try:
        img = image() if callable(image) else image
        runner = LabRunner(img, timeout=float(os.environ.get("IVCOM_LAB_TIMEOUT", timeout_s)),
                           scenario_timeout=scenario_timeout, status=print)
        res = runner.boot(scenarios, tag=tag, env=env, files=files)
    except QemuUnavailable as exc:
        pytest.skip(f"Xen lab unavailable: {exc}")
    except LabError as exc:
        pytest.fail(f"lab boot failed: {exc}", pytrace=False)
    for note in res.retries:
        print(f"ivcom lab: retried: {note}")
    return img, res


def ktap_check(res: BootResult, scenario: str, check: str) -> None:
    """Fail unless the scenario ran, passed, and said "ok" for `check`
    (a prefix of the check's description: some end with a figure)."""
    from ivcom.lab import ktap

    s = res.scenarios.get(scenario)
    if s is None:
        pytest.fail(f"scenario {scenario} did not run (log {res.log})", pytrace=False)
    assert s.ok, f"scenario {scenario} failed: {s.reason} (dir {s.dir}, log {res.log})"
    verdicts = ktap.read(s.dir)
    found = [v for name, v in verdicts.items() if name == check or name.startswith(check)]
    assert len(found) == 1, f"{check!r}: never checked (checks made: {sorted(verdicts)})"
    assert found[0].ok, f"not ok {found[0].number} {found[0].check} # {found[0].why}"
