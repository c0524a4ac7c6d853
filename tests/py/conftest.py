"""Shared pytest fixtures.

`sim`: one sim (simhv + the real xenstored) for the whole session, built
with `make -C ivcom-core O=../build/core sim` when needed.  Tests that use
it get the `sim` marker automatically (`pytest -m "not sim"` skips them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ivcom import sim as simmod


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "sim" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sim)


@pytest.fixture(scope="session")
def sim() -> Iterator[simmod.Sim]:
    if not simmod.XENSTORED.exists():
        pytest.skip(f"{simmod.XENSTORED} not installed (xen-utils-4.17)")
    try:
        simmod.build_binaries()
    except simmod.SimError as exc:
        # A half-edited tree elsewhere may break make: use what is built.
        try:
            simmod.find_binaries()
        except simmod.SimError:
            pytest.fail(str(exc))
    try:
        s = simmod.start()
    except simmod.SimError as exc:
        pytest.fail(str(exc))
    yield s
    s.stop()
