"""The ring and notification protocol of ring.h, model-checked exhaustively.

Every interleaving of one producer and one consumer (model/ringmodel.py)
under sequential consistency and x86-TSO: the real protocol keeps every
property; without any one of its full fences (F1..F4) TSO loses a wakeup
while SC does not care; and each property check is seen to fire on a
protocol broken on purpose.  The whole module runs in seconds.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import pytest
from model import ringmodel as rm

SMALL = rm.Config(ring=32, msgs=(8, 16, 8))
# The producer never fills this ring: only the consumer ever sleeps.
ROOMY = rm.Config(ring=64, msgs=(8, 8))


@cache
def checked(cfg: rm.Config) -> rm.Result:
    return rm.check(cfg)


def with_(cfg: rm.Config, **changes: Any) -> rm.Config:
    return dataclasses.replace(cfg, **changes)


def without(cfg: rm.Config, *fences: str, tso: bool) -> rm.Config:
    return with_(cfg, tso=tso, fences=rm.FENCES - set(fences))


def layout(cfg: rm.Config) -> tuple[int, bool]:
    """PAD records written at the wrap, and whether the 32-bit indexes wrap
    (records are laid out in the same order in every interleaving)."""
    pads, index = 0, cfg.start
    for n in cfg.msgs:
        contig = cfg.ring - index % cfg.ring
        if rm.record(n) > contig:
            pads, index = pads + 1, index + contig
        index += rm.record(n)
    return pads, index >= rm.MOD


@pytest.mark.parametrize("cfg", rm.STANDARD, ids=lambda c: c.describe())
def test_protocol_holds(cfg: rm.Config) -> None:
    res = rm.check(cfg)
    assert res.ok, res.report()
    assert res.finals > 0 and res.states > 10_000


def test_standard_configurations_cover_both_models_pads_and_index_wrap() -> None:
    assert {c.tso for c in rm.STANDARD} == {False, True}
    for cfg in rm.STANDARD:
        assert 16 <= cfg.ring <= 64 and 3 <= len(cfg.msgs) <= 4
        assert cfg.fences == rm.FENCES and not cfg.mutations
        assert layout(cfg)[0] >= 1, cfg.describe()
    for tso in (False, True):
        assert any(layout(c)[1] for c in rm.STANDARD if c.tso == tso)
        assert any(not layout(c)[1] for c in rm.STANDARD if c.tso == tso)


@pytest.mark.parametrize("fence", sorted(rm.FENCES))
def test_tso_without_a_fence_loses_a_wakeup(fence: str) -> None:
    res = rm.check(without(SMALL, fence, tso=True))
    assert res.violation is not None and res.violation.startswith("lost wakeup"), res.report()
    # The counterexample needs a store still buffered while the peer loads.
    assert any("flush" in step for step in res.trace), res.report()
    assert res.trace[-1].endswith("block"), res.report()


@pytest.mark.parametrize("fence", sorted(rm.FENCES))
def test_sc_does_not_need_the_fences(fence: str) -> None:
    full, res = checked(SMALL), rm.check(without(SMALL, fence, tso=False))
    assert res.ok, res.report()
    assert (res.states, res.finals) == (full.states, full.finals)


def test_sc_without_any_fence_still_holds() -> None:
    res = rm.check(without(SMALL, *rm.FENCES, tso=False))
    assert res.ok, res.report()


@pytest.mark.parametrize("fence", ["F1", "F2"])
def test_f1_and_f2_guard_the_consumers_sleep(fence: str) -> None:
    res = rm.check(without(ROOMY, fence, tso=True))
    assert res.violation is not None, res.report()
    assert "producer done / consumer blocked" in res.violation, res.report()


@pytest.mark.parametrize("fence", ["F3", "F4"])
def test_f3_and_f4_guard_the_producers_sleep(fence: str) -> None:
    assert rm.check(without(ROOMY, fence, tso=True)).ok      # it never sleeps here
    res = rm.check(without(SMALL, fence, tso=True))
    assert res.violation is not None, res.report()
    assert "producer blocked, no event pending" in res.violation, res.report()


def test_counterexample_reads_as_steps() -> None:
    res = rm.check(without(ROOMY, "F2", tso=True))
    text = res.report()
    assert "VIOLATION: lost wakeup" in text and "counterexample:" in text
    steps = text.splitlines()[2:]
    assert steps and all(line.lstrip()[0].isdigit() for line in steps)
    assert any("R1 store-release prod" in s for s in res.trace)
    assert any("load prod_event" in s and "no notify" in s for s in res.trace)
    assert any("arm: store prod_event" in s for s in res.trace)
    assert not any("F2;" in s for s in res.trace)              # the fence is gone
    print(text)


@pytest.mark.parametrize("tso", [False, True], ids=["SC", "TSO"])
def test_wrong_event_index_loses_a_wakeup_even_under_sc(tso: bool) -> None:
    res = rm.check(with_(SMALL, tso=tso, mutations=frozenset({"arm-at-pvt"})))
    assert res.violation is not None and res.violation.startswith("lost wakeup"), res.report()


@pytest.mark.parametrize("tso", [False, True], ids=["SC", "TSO"])
def test_early_publish_delivers_a_stale_record(tso: bool) -> None:
    res = rm.check(with_(SMALL, tso=tso, mutations=frozenset({"publish-early"})))
    assert res.violation is not None and "stale or torn" in res.violation, res.report()
    assert res.trace[-1].startswith("!! consumer")


@pytest.mark.parametrize("tso", [False, True], ids=["SC", "TSO"])
def test_uncounted_pad_overruns_the_consumer(tso: bool) -> None:
    res = rm.check(with_(SMALL, tso=tso, mutations=frozenset({"pad-unchecked"})))
    assert res.violation is not None and res.violation.startswith("overrun"), res.report()
    assert any("PAD" in step for step in res.trace)


class SpinningWaiter(rm.Model):
    """A consumer whose wait, with no event pending, spins without ever
    looking at the ring again: no state is stuck, yet it never ends."""

    def cons_step(self, st: rm.State) -> rm.Succ | None:
        if st.cons.pc == "block" and not st.pend_c:
            return "C  spin without re-checking", st
        return super().cons_step(st)


def test_livelock_is_found() -> None:
    assert SpinningWaiter(SMALL).check().ok                     # events still wake it
    res = SpinningWaiter(with_(SMALL, mutations=frozenset({"arm-at-pvt"}))).check()
    assert res.violation is not None and res.violation.startswith("livelock"), res.report()


def test_want_event_is_ring_h_hold_off() -> None:
    assert rm.want_event(new=16, old=0, event=1)
    assert rm.want_event(new=16, old=0, event=16)
    assert not rm.want_event(new=16, old=0, event=0)
    assert not rm.want_event(new=16, old=0, event=17)
    assert rm.want_event(new=8, old=rm.MOD - 8, event=0)       # across the 32-bit wrap
    assert [rm.record(n) for n in (0, 1, 8, 9, 16)] == [8, 16, 16, 24, 24]


@pytest.mark.parametrize("bad", [{"ring": 24}, {"ring": 8}, {"msgs": (32,)},
                                 {"fences": frozenset({"F5"})}])
def test_config_refuses_what_ring_h_cannot_be(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        with_(SMALL, **bad)
