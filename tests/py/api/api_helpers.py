"""Helpers of the channel API tests: this test's domains and its peer
processes (see conftest.py's `doms` fixture)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ivcom import sim as simmod

PEER = Path(__file__).with_name("api_peer.py")
NEXT = itertools.count(3000, 3)


@dataclass
class Doms:
    sim: simmod.Sim
    me: int
    peer: int
    third: int
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def spawn(self, role: str, name: str, other: int, *args: object,
              domid: int | None = None) -> subprocess.Popen[str]:
        env = {**os.environ, **self.sim.domain_env(self.peer if domid is None else domid)}
        p = subprocess.Popen([sys.executable, str(PEER), role, name, str(other),
                              *map(str, args)], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def spawn_tool(self, tool: str, *args: object, domid: int) -> subprocess.Popen[str]:
        """Run one of the C tools (build/core/bin) as domain `domid`."""
        env = {**os.environ, **self.sim.domain_env(domid)}
        p = subprocess.Popen([str(simmod.build_dir() / "bin" / tool), *map(str, args)], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    @staticmethod
    def fresh(n: int = 3) -> list[int]:
        """n more domain ids of this test's own (n <= 3)."""
        assert n <= 3
        base = next(NEXT)
        return [base + i for i in range(n)]

    @contextmanager
    def holding(self, domid: int | None = None) -> Iterator[None]:
        """Keep a domain in existence (an offer may name only a live one)."""
        sock = self.sim.hold_domain(self.peer if domid is None else domid)
        try:
            yield
        finally:
            sock.close()


def finish(p: subprocess.Popen[str], timeout: float = 60) -> str:
    """Close the peer's stdin, wait for it; its stdout (it must succeed)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"peer hung; stderr: {err}") from None
    assert p.returncode == 0, f"peer failed ({p.returncode}): {err}"
    return out


def first_line(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    return p.stdout.readline()
