"""The HVM section's analysis (ivcom.lab.hvm) on synthetic result files:
exits counted inside each transfer's TSC span only, per round trip / MiB,
by category, and IVCOM's ratios to the emulated NIC (no lab boot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ivcom.lab import hvm
from ivcom.lab.errors import LabError
from ivcom_trace import xentrace as xt

DOM = 3
TINY = 9
MHZ = 1000.0      # 1e9 TSC ticks per second
NPF, VMMCALL, INTR, HLT, CPUID = 0x400, 0x81, 0x60, 0x78, 0x72


def _running(dom: int, tsc: int) -> bytes:
    return xt.build_record(xt.TRC_SCHED_RUNSTATE_CHANGE | (1 << 8), [dom << 16], tsc)


def _pair(reason: int, tsc: int) -> bytes:
    return (xt.build_record(xt.TRC_HVM_VMEXIT64, [reason, 0x1000, 0xFFFF8000], tsc)
            + xt.build_record(xt.TRC_HVM_VMENTRY, [], tsc + 1))


def _trace(path: Path, exits: list[tuple[int, int]], last: int, dom: int = DOM) -> None:
    body = _running(dom, 10) + b"".join(_pair(r, t) for r, t in exits)
    body += xt.build_record(xt.TRC_SCHED_WAKE, [dom << 16], last)
    path.write_bytes(xt.build_window(0, body))


def _results(d: Path, sessions: list[tuple[dict[str, Any], list[tuple[int, int]]]]) -> None:
    (d / "info.txt").write_text(f"hvm_domid={DOM}\nspin_us=2000\ncpu_mhz                : {MHZ}\n"
                                "xen_version            : 4.17.7\n")
    lines = []
    for s, exits in sessions:
        _trace(d / str(s["trace"]), exits, 1_000_000_000, int(s.get("domid", DOM)))
        lines.append(json.dumps(s))
    (d / "sessions.jsonl").write_text("\n".join(lines) + "\n")
    # idle: 4 exits over 2 s
    _trace(d / "idle.xt", [(INTR, 500_000_000 + i) for i in range(0, 8, 2)], 2_000_000_010)


def _rr(transport: str, kind: str, begin: int, end: int, **kw: object) -> dict[str, Any]:
    base = {"transport": transport, "kind": kind, "rep": 1, "trace": f"{transport}-{kind}.xt",
            "count": 10, "tsc_begin": begin, "tsc_end": end}
    return {**base, **kw}


@pytest.fixture()
def results(tmp_path: Path) -> dict[str, Any]:
    outside = [(CPUID, 50), (CPUID, 900_000_000)]
    _results(tmp_path, [
        # 10 round trips: 30 NPF + 10 VMMCALL inside, 2 CPUID outside.
        (_rr("tcp", "rr", 100, 1000_000, median_us=900.0),
         outside + [(NPF, 1000 + 10 * i) for i in range(30)]
         + [(VMMCALL, 5000 + 10 * i) for i in range(10)]),
        (_rr("ivcom", "rr", 100, 100_000, rtt_ns={"median": 90_000}),
         outside + [(VMMCALL, 1000 + 10 * i) for i in range(10)] + [(HLT, 3000)]),
        (_rr("ivcom", "rr-poll", 100, 100_000, rtt_ns={"median": 9_000}),
         [*outside, (INTR, 1000)]),
        (_rr("ivcom", "rr-spin", 100, 100_000, rtt_ns={"median": 20_000}),
         [*outside, (HLT, 1000), (VMMCALL, 2000)]),
        # 2 MiB streams
        (_rr("tcp", "bulk", 100, 500_000_000, bytes=2 << 20, mb_per_s=2.0, verified=True),
         [(NPF, 1000 + 10 * i) for i in range(100)]),
        (_rr("ivcom", "bulk", 100, 50_000_000, bytes=2 << 20, bytes_per_s=40e6),
         [(VMMCALL, 1000 + 10 * i) for i in range(20)] + [(HLT, 9000)] * 1),
        (_rr("ivcom", "bulk-poll", 100, 20_000_000, bytes=2 << 20, bytes_per_s=100e6),
         [(INTR, 1000)]),
        # The tiny PVH guest (another domain): its exits are the ones counted.
        (_rr("tiny", "rr", 100, 100_000, domid=TINY, rtt_ns={"median": 50_000}),
         [(VMMCALL, 1000 + 10 * i) for i in range(20)]),
    ])
    return hvm.analyse(tmp_path)


def _row(res: dict[str, Any], label: str, kind: str) -> dict[str, Any]:
    rows = [r for r in res["sessions"] if r["label"] == label and r["kind"] == kind]
    assert len(rows) == 1
    return dict(rows[0])


def test_counts_only_inside_the_span(results: dict[str, Any]) -> None:
    tcp = _row(results, "tcp", "rr")
    assert tcp["exits"] == {"npf": 30, "vmmcall": 10}
    assert (tcp["exits_total"], tcp["entries"], tcp["unattributed"]) == (40, 40, 0)
    assert tcp["covered"]
    assert tcp["exits_per_op"] == 4.0
    assert tcp["by_category"]["mmio"] == 30 and tcp["by_category"]["hypercall"] == 10
    assert tcp["window_s"] == pytest.approx(999_900 / 1e9)
    assert _row(results, "ivcom", "rr")["per_op_by_category"] == {
        "io": 0.0, "mmio": 0.0, "hypercall": 1.0, "interrupt": 0.0, "hlt": 0.1, "msr": 0.0,
        "other": 0.0}


def test_per_mib_and_ratios(results: dict[str, Any]) -> None:
    summ = results["summary"]
    assert summ["bulk"]["tcp"]["exits_per_op"] == 50.0
    assert summ["bulk"]["ivcom"]["exits_per_op"] == 10.5
    assert summ["bulk"]["ivcom"]["exit_reduction_pct"] == pytest.approx(79.0)
    assert summ["bulk"]["ivcom-poll"]["exits_vs_tcp"] == pytest.approx(0.5 / 50)
    assert summ["bulk"]["ivcom"]["throughput_vs_tcp"] == pytest.approx(20.0)
    assert summ["rr"]["ivcom"]["rtt_vs_tcp"] == pytest.approx(0.1)
    assert summ["rr"]["ivcom-poll"]["exit_reduction_pct"] == pytest.approx(97.5)
    assert results["idle"]["exits_total"] == 4
    assert summ["idle_exits_per_s"] == pytest.approx(4 / 2.0, rel=1e-6)   # TSC 10 .. 2e9+10


def test_long_spin_sessions_are_their_own_path(results: dict[str, Any]) -> None:
    spin = _row(results, "ivcom-spin", "rr-spin")
    assert (spin["exits_total"], spin["exits_per_op"]) == (2, 0.2)
    assert results["summary"]["rr"]["ivcom-spin"]["exit_reduction_pct"] == pytest.approx(95.0)
    # not mixed into the default IVCOM figure
    assert results["summary"]["rr"]["ivcom"]["exits_per_op"] == pytest.approx(1.1)
    assert "bulk" not in results["summary"] or "ivcom-spin" not in results["summary"]["bulk"]
    assert results["spin_us"] == 2000
    text = hvm.render(results)
    assert "IVCOM, long spin" in text and "spin up to 2000 us" in text
    # whole percents, but never a -100% that is not one
    assert (hvm._pct(72.4), hvm._pct(99.6), hvm._pct(100.0)) == ("-72%", "-99.6%", "-100.0%")


def test_the_tiny_guest_is_counted_in_its_own_domain(results: dict[str, Any]) -> None:
    tiny = _row(results, "tiny", "rr")
    assert (tiny["domid"], tiny["exits_total"], tiny["unattributed"]) == (TINY, 20, 0)
    assert results["summary"]["rr"]["tiny"]["exits_per_op"] == 2.0
    assert results["summary"]["rr"]["tiny"]["exit_reduction_pct"] == pytest.approx(50.0)


def test_unknown_transport_is_refused(tmp_path: Path) -> None:
    _results(tmp_path, [(_rr("udp", "rr", 100, 1000, median_us=1.0), [(NPF, 200)])])
    with pytest.raises(LabError, match="unknown transport 'udp'"):
        hvm.analyse(tmp_path)


def test_render_and_plot(results: dict[str, Any], tmp_path: Path) -> None:
    text = hvm.render(results)
    assert "per MiB streamed" in text and "-79%" in text and "IVCOM, polling" in text
    from ivcom.bench import plot

    plot({"hvm": results}, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_other_domains_exits_are_not_charged(tmp_path: Path) -> None:
    body = _running(7, 10) + _pair(NPF, 1000)
    (tmp_path / "x.xt").write_bytes(xt.build_window(0, body))
    w = hvm.window_counts(xt.decode_file(tmp_path / "x.xt"), 0, 5000, DOM)
    assert (w["exits_total"], w["entries"], w["other_domains"], w["unattributed"]) == (0, 0, 2, 0)
    # Before any scheduler record the decoder cannot tell whose they are.
    (tmp_path / "y.xt").write_bytes(xt.build_window(0, _pair(NPF, 1000) + _running(DOM, 2000)))
    w = hvm.window_counts(xt.decode_file(tmp_path / "y.xt"), 0, 5000, DOM)
    assert (w["exits_total"], w["other_domains"], w["unattributed"]) == (0, 0, 2)


@pytest.mark.parametrize("bad, why", [
    ('{"transport": "tcp"}', "no 'kind'"),
    ("not json", "line 1"),
])
def test_bad_session_lines_give_one_line_errors(tmp_path: Path, bad: str, why: str) -> None:
    (tmp_path / "info.txt").write_text(f"hvm_domid={DOM}\n")
    (tmp_path / "sessions.jsonl").write_text(bad + "\n")
    with pytest.raises(LabError) as exc:
        hvm.analyse(tmp_path)
    assert why in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("begin, end, why", [
    (500, 100, "bad TSC span"),                   # reversed
    (5, 1000, "not inside the recording"),        # starts before the first record
    (100, 2_000_000_000, "not inside the recording"),
])
def test_bad_or_uncovered_spans_are_refused(tmp_path: Path, begin: int, end: int,
                                            why: str) -> None:
    _results(tmp_path, [(_rr("tcp", "rr", begin, end, median_us=1.0), [(NPF, 200)])])
    with pytest.raises(LabError, match=why):
        hvm.analyse(tmp_path)


def test_missing_info_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"info\.txt"):
        hvm.analyse(tmp_path)
