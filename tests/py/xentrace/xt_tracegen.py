"""Synthetic xentrace files, built with the decoder's construct layouts."""

from __future__ import annotations

from ivcom_trace import xentrace as xt


def rec(event: int, extra: list[int] | tuple[int, ...] = (), tsc: int | None = None) -> bytes:
    return xt.build_record(event, list(extra), tsc)


def runstate(dom: int, vcpu: int, old: int, new: int, tsc: int) -> bytes:
    return rec(xt.TRC_SCHED_RUNSTATE_CHANGE | (old << 8) | (new << 4), [(dom << 16) | vcpu], tsc)


def hcall_v2(op: int, args: dict[int, int] | None = None, tsc: int | None = None,
             wide: tuple[int, ...] = ()) -> bytes:
    """A TRC_PV_HYPERCALL_V2 record; args in `wide` are encoded as 64-bit."""
    word = op
    words: list[int] = []
    for i, v in sorted((args or {}).items()):
        if i in wide:
            word |= 2 << (20 + 2 * i)
            words += [v & 0xFFFFFFFF, v >> 32]
        else:
            word |= 1 << (20 + 2 * i)
            words.append(v)
    return rec(xt.TRC_PV_HYPERCALL_V2, [word, *words], tsc)


def switch(prev: tuple[int, int], nxt: tuple[int, int], tsc: int) -> bytes:
    return (
        rec(xt.TRC_SCHED_SWITCH_INFPREV, [prev[0], prev[1], 100], tsc)
        + rec(xt.TRC_SCHED_SWITCH_INFNEXT, [nxt[0], nxt[1], 0, 0], tsc)
        + rec(xt.TRC_SCHED_SWITCH, [prev[0], prev[1], nxt[0], nxt[1]], tsc)
        + runstate(prev[0], prev[1], 0, 2, tsc + 1)
        + runstate(nxt[0], nxt[1], 1, 0, tsc + 2)
    )


def vmexit(reason: int, tsc: int, rip: int = 0xFFFF800000001000) -> bytes:
    return rec(xt.TRC_HVM_VMEXIT64, [reason, rip & 0xFFFFFFFF, rip >> 32], tsc)


def scenario() -> bytes:
    """Two CPUs, three windows.

    cpu0: dom0 runs, does 3 event_channel_op (one with EVTCHNOP_send
    recorded), 2 grant_table_op (map x2, unmap), wakes d1, switches to the
    PVH d1 which exits twice (VMMCALL event_channel_op, NPF) and re-enters;
    lost records, then a second window continues d1 with one more exit.
    cpu1: idle runs, blocks d0, a wrap record (no TSC), then d2 runs
    and does a sched_op hypercall.
    """
    w0 = (
        runstate(0, 0, 1, 0, 1000)
        + hcall_v2(32, tsc=1100)
        + hcall_v2(32, tsc=1110)
        + hcall_v2(32, {0: 4}, tsc=1120)
        + hcall_v2(20, {0: 0, 2: 2}, tsc=1200)
        + hcall_v2(20, {0: 1, 2: 1}, tsc=1210)
        + rec(xt.TRC_SCHED_WAKE, [1, 0], 1300)
        + switch((0, 0), (1, 0), 1400)
        + rec(xt.TRC_HVM_VMENTRY, [], 1500)
        + vmexit(0x81, 1600)
        + rec(xt.TRC_HVM_VMMCALL, [32], 1610)
        + rec(xt.TRC_HVM_VMENTRY, [], 1700)
        + vmexit(0x400, 1800)
        + rec(xt.TRC_LOST_RECORDS, [7, 1, 1750, 0], 1900)
    )
    w1 = (
        runstate(0x7FFF, 1, 1, 0, 950)
        + rec(xt.TRC_SCHED_BLOCK, [0, 0], 1050)
        + rec(xt.TRC_TRACE_WRAP_BUFFER, [0, 0], None)
        + switch((0x7FFF, 1), (2, 0), 1060)
        + hcall_v2(29, {0: 1}, tsc=1070)
    )
    w2 = rec(xt.TRC_HVM_VMENTRY, [], 2000) + vmexit(0x60, 2100)
    return xt.build_window(0, w0) + xt.build_window(1, w1) + xt.build_window(0, w2)
