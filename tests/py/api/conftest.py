"""Fixtures of the channel API tests.

`doms`: this test's domains on the session's sim -- this process is domain
`doms.me` (IVCOM_SIM_DOMID set for it), `doms.peer` and `doms.third` are
for peer processes; every test gets fresh ids, so no XenStore state of an
earlier test is seen.  `doms.spawn(role, ...)` runs api_peer.py as another
domain (a separate process, as a domain is).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import NEXT, Doms
from ivcom import sim as simmod


@pytest.fixture
def doms(sim: simmod.Sim, monkeypatch: pytest.MonkeyPatch) -> Iterator[Doms]:
    base = next(NEXT)
    for k, v in sim.domain_env(base).items():
        monkeypatch.setenv(k, v)
    d = Doms(sim, base, base + 1, base + 2)
    yield d
    for p in d.procs:
        if p.poll() is None:
            p.kill()
            p.communicate()
