"""The xentrace decoder: layouts, both scan paths, ordering, attribution, summaries."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ivcom_trace import xentrace as xt
from xt_tracegen import hcall_v2, rec, runstate, scenario, switch, vmexit


def test_cpu_change_header_matches_xentrace():
    # TRC_TRACE_CPU_CHANGE with two extra words and no TSC.
    assert xt.CPU_CHANGE_HEADER == 0x2001F003
    assert xt.build_window(3, b"")[:12] == struct.pack("<III", 0x2001F003, 3, 0)


def test_header_fields_are_derived_from_one_word():
    word = xt.make_header(0x0020100D, 3, True)
    assert word == 0x0020100D | (3 << 28) | (1 << 31)
    assert xt.hd_event(word) == 0x0020100D
    assert xt.hd_extra(word) == 3
    assert xt.hd_has_tsc(word)
    assert xt.hd_size(word) == 4 + 8 + 12


def test_record_layout_bytes():
    raw = xt.build_record(xt.TRC_SCHED_WAKE, [5, 1], tsc=0x1122334455667788)
    assert raw == struct.pack("<IQII", 0xA0028004, 0x1122334455667788, 5, 1)
    assert xt.build_record(xt.TRC_HVM_VMENTRY) == struct.pack("<I", 0x00081001)


def test_make_header_rejects_too_many_words():
    with pytest.raises(ValueError):
        xt.make_header(1, 8, False)


def test_scenario_records_decode():
    trace = xt.decode_bytes(scenario())
    assert len(trace) == 29
    assert trace.cpus == (0, 1)
    assert trace.windows == 3
    first = trace.records[0]
    assert (first.cpu, first.event, first.tsc, first.extra) == (1, 0x00021101, 950, (0x7FFF0001,))
    # The wrap record has no TSC of its own and sorts at its CPU's last TSC.
    wrap = next(r for r in trace.records if r.event == xt.TRC_TRACE_WRAP_BUFFER)
    assert wrap.tsc is None and wrap.time == 1050 and wrap.cpu == 1
    exits = [r for r in trace.records if r.name == "hvm_vmexit64"]
    assert [r.extra[0] for r in exits] == [0x81, 0x400, 0x60]
    assert exits[0].extra[1:] == (0x00001000, 0xFFFF8000)


def test_offsets_point_at_record_headers():
    data = scenario()
    for r in xt.decode_bytes(data).records:
        (word,) = struct.unpack_from("<I", data, r.offset)
        assert xt.hd_event(word) == r.event


def test_records_are_in_tsc_order_and_keep_per_cpu_order():
    trace = xt.decode_bytes(scenario())
    times = [r.time for r in trace.records]
    assert times == sorted(times)
    for cpu in trace.cpus:
        offs = [r.offset for r in trace.records if r.cpu == cpu]
        assert offs == sorted(offs)


def test_construct_and_fast_paths_agree_on_scenario():
    data = scenario()
    assert xt.scan_construct(data) == xt.scan_fast(data)
    assert xt.decode_bytes(data, engine="construct") == xt.decode_bytes(data, engine="fast")


def test_empty_file_is_an_empty_trace():
    trace = xt.decode_bytes(b"")
    assert len(trace) == 0 and trace.windows == 0
    s = xt.summarize(trace)
    assert s.records == 0 and s.domains == {}


def test_attribution_follows_the_scheduler():
    trace = xt.decode_bytes(scenario())
    by_event = {}
    for r in trace.records:
        by_event.setdefault(r.name, []).append(r)
    assert {r.domid for r in by_event["pv_hypercall_v2"] if r.cpu == 0} == {0}
    assert {(r.domid, r.vcpu) for r in by_event["hvm_vmexit64"]} == {(1, 0)}
    assert {r.domid for r in by_event["pv_hypercall_v2"] if r.cpu == 1} == {2}
    # Before the first scheduling record a CPU's domain is unknown.
    assert trace.records[0].domid is None


def test_scenario_summary():
    s = xt.summarize(xt.decode_bytes(scenario()))
    assert s.vendor == "svm"
    assert (s.records, s.lost_records, s.lost_events, s.wraps) == (29, 7, 1, 1)
    assert (s.first_tsc, s.last_tsc) == (950, 2100)
    d0, d1, d2 = s.domains[0], s.domains[1], s.domains[2]
    assert d0.hypercalls == {"event_channel_op": 3, "grant_table_op": 2}
    assert d0.evtchn_ops == {"unrecorded": 2, "send": 1}
    assert d0.evtchn_sends == 1
    assert d0.grant_ops == {"map_grant_ref": 1, "unmap_grant_ref": 1}
    assert (d0.blocks, d0.wakes, d0.switches_in) == (1, 0, 1)
    assert d1.vmexits == {"vmmcall": 1, "npf": 1, "intr": 1}
    assert d1.vmentries == 3
    assert d1.vmmcalls == {"event_channel_op": 1}
    assert (d1.wakes, d1.switches_in) == (1, 1)
    assert d2.hypercalls == {"sched_op": 1}
    assert s.domains[xt.DOMID_IDLE].label == "idle"
    assert s.events["runstate_change"] == 6


def test_domid_filter_keeps_one_domain():
    s = xt.summarize(xt.decode_bytes(scenario()), domid=1)
    assert list(s.domains) == [1]
    assert s.to_json()["domains"][0]["vmexits_total"] == 3


def test_vmx_names_and_vendor_override():
    data = xt.build_window(0, runstate(3, 0, 1, 0, 10) + vmexit(30, 20) + vmexit(48, 30)
                           + vmexit(0x80000021, 40))
    s = xt.summarize(xt.decode_bytes(data))
    assert s.vendor == "vmx"
    assert s.domains[3].vmexits == {
        "io_instruction": 1, "ept_violation": 1, "invalid_guest_state_entry_failure": 1,
    }
    forced = xt.summarize(xt.decode_bytes(data), vendor="svm")
    assert forced.domains[3].vmexits["cr14_write"] == 1  # 30 = 0x1e


def test_unknown_codes_get_numeric_names():
    assert xt.exit_name(0x12345, "svm") == "svm_0x12345"
    assert xt.exit_name(70, "vmx") == "vmx_70"
    assert xt.hypercall_name(99) == "hypercall_99"
    assert xt.event_name(0x00123456) == "0x00123456"


def test_hypercall_v2_args_32_and_64_bit():
    word = 20 | (1 << 20) | (2 << 22) | (1 << 24)
    op, args = xt.hypercall_v2_args([word, 5, 0x89ABCDEF, 0x1234567, 9])
    assert op == 20
    assert args == {0: 5, 1: 0x0123456789ABCDEF, 2: 9}
    # Missing words and the reserved code end the decode without error.
    assert xt.hypercall_v2_args([word, 5]) == (20, {0: 5})
    assert xt.hypercall_v2_args([32 | (3 << 20), 1]) == (32, {})


def test_old_hypercall_record_form():
    data = xt.build_window(0, runstate(4, 0, 1, 0, 1)
                           + rec(xt.TRC_PV_HYPERCALL | xt.TRC_64_FLAG, [0x1000, 0xFFFF8000, 20], 2)
                           + rec(xt.TRC_PV_HYPERCALL, [0x1000, 32], 3))
    s = xt.summarize(xt.decode_bytes(data))
    assert s.domains[4].hypercalls == {"grant_table_op": 1, "event_channel_op": 1}


def test_subcall_records_count_as_hypercalls():
    data = xt.build_window(0, runstate(5, 0, 1, 0, 1) + hcall_v2(13, {1: 2}, tsc=2)
                           + rec(xt.TRC_PV_HYPERCALL_SUBCALL, [32], 3)
                           + rec(xt.TRC_PV_HYPERCALL_SUBCALL, [20 | (1 << 20), 0], 4))
    s = xt.summarize(xt.decode_bytes(data))
    assert s.domains[5].hypercalls == {"multicall": 1, "event_channel_op": 1, "grant_table_op": 1}
    assert s.domains[5].grant_ops == {"map_grant_ref": 1}


def test_nested_flag_is_ignored_for_classification():
    data = xt.build_window(0, runstate(6, 0, 1, 0, 1)
                           + rec(xt.TRC_HVM_VMENTRY | xt.TRC_HVM_NESTEDFLAG, [], 2)
                           + rec(xt.TRC_HVM_VMEXIT64 | xt.TRC_HVM_NESTEDFLAG, [0x72, 0, 0], 3))
    s = xt.summarize(xt.decode_bytes(data), vendor="svm")
    assert s.domains[6].vmentries == 1 and s.domains[6].vmexits == {"cpuid": 1}


def test_switch_helper_round_trip():
    trace = xt.decode_bytes(xt.build_window(1, switch((0, 0), (7, 2), 50) + vmexit(0x78, 60)))
    assert (trace.records[-1].domid, trace.records[-1].vcpu) == (7, 2)


# ---------------------------------------------------------------- hypothesis

_events = st.sampled_from([
    xt.TRC_SCHED_WAKE, xt.TRC_SCHED_BLOCK, xt.TRC_PV_HYPERCALL_V2, xt.TRC_HVM_VMENTRY,
    xt.TRC_HVM_VMEXIT64, xt.TRC_HVM_VMMCALL, xt.TRC_SCHED_SWITCH, xt.TRC_LOST_RECORDS,
    xt.TRC_SCHED_RUNSTATE_CHANGE | 0x100, xt.TRC_TRACE_WRAP_BUFFER, 0x0ABCDEF,
])
_u32 = st.integers(0, 0xFFFFFFFF)
_record = st.builds(
    lambda ev, extra, tsc: rec(ev, extra, tsc),
    _events, st.lists(_u32, max_size=7), st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
_window = st.builds(
    lambda cpu, recs: xt.build_window(cpu, b"".join(recs)),
    st.integers(0, 3), st.lists(_record, max_size=12),
)
traces = st.lists(_window, max_size=6).map(b"".join)


@settings(max_examples=150, deadline=None)
@given(traces)
def test_paths_agree_on_generated_traces(data):
    raw = xt.scan_fast(data)
    assert raw == xt.scan_construct(data)
    trace = xt.decode_bytes(data)
    assert trace == xt.decode_bytes(data, engine="construct")
    assert sorted(r.offset for r in trace.records) == sorted(x[0] for x in raw)
    xt.summarize(trace)  # never raises on well-formed input


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 0x0FFFFFFF), st.lists(_u32, max_size=7),
       st.one_of(st.none(), st.integers(0, 2**64 - 1)), st.integers(0, 4095))
def test_single_record_round_trip(event, extra, tsc, cpu):
    data = xt.build_window(cpu, rec(event, extra, tsc))
    (r,) = xt.decode_bytes(data, engine="construct").records
    assert (r.cpu, r.event, r.tsc, r.extra, r.offset) == (cpu, event, tsc, tuple(extra), 12)
