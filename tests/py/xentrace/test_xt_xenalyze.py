"""xenalyze (Xen's own trace analyser) as an oracle for the decoder."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ivcom_trace import xentrace as xt
from xt_tracegen import hcall_v2, rec, runstate, scenario, switch, vmexit

XENALYZE = shutil.which("xenalyze") or next(
    (p for p in ("/usr/lib/xen-4.17/bin/xenalyze", "/usr/bin/xenalyze") if Path(p).exists()), None
)

# R p CPU oOFFSET EVENT NEXTRA TSC|- [ extra words in hex ]
_RAW = re.compile(
    r"^R p\s*(\d+) o([0-9a-f]+)\s+([0-9a-f]+) (\d)\s+(-|\d+) \[([^\]]*)\]"
)


def _need_xenalyze() -> str:
    if XENALYZE is None:
        pytest.skip("xenalyze not found (xen-utils-common provides /usr/bin/xenalyze)")
    return XENALYZE


def xenalyze(args: list[str], data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "oracle.trace"
    path.write_bytes(data)
    proc = subprocess.run([_need_xenalyze(), *args, str(path)], capture_output=True,
                          text=True, timeout=60)
    return proc.stdout + proc.stderr


def raw_reads(data: bytes, tmp_path: Path) -> list[tuple]:
    out = []
    text = xenalyze(["--dump-raw-reads", "--dump-no-processing"], data, tmp_path)
    for line in text.splitlines():
        m = _RAW.match(line)
        if not m:
            continue
        cpu, off, event, n, tsc, extra = m.groups()
        if int(event, 16) == xt.TRC_TRACE_CPU_CHANGE:
            continue
        words = tuple(int(w, 16) for w in extra.split())
        assert len(words) == int(n)
        stamp = None if tsc == "-" else int(tsc)
        out.append((int(off, 16), int(cpu), int(event, 16), stamp, words))
    # xenalyze re-reads a pcpu's first records when it (re)activates it.
    return sorted(set(out))


def ours(data: bytes) -> list[tuple]:
    return sorted((r.offset, r.cpu, r.event, r.tsc, r.extra) for r in xt.decode_bytes(data).records)


def test_raw_records_match_xenalyze(tmp_path):
    data = scenario()
    theirs = raw_reads(data, tmp_path)
    assert len(theirs) == 29
    assert theirs == ours(data)


def test_event_counts_match_xenalyze(tmp_path):
    data = scenario()
    theirs = Counter(e for _, _, e, _, _ in raw_reads(data, tmp_path))
    mine = Counter(r.event for r in xt.decode_bytes(data).records)
    assert theirs == mine


_DUMP = re.compile(r"\sd(\d+)v(\d+) (hypercall|vmexit exit_reason|vmentry)\b")


def test_attribution_matches_xenalyze_dump(tmp_path):
    data = scenario()
    text = xenalyze(["--svm-mode", "--dump-all"], data, tmp_path)
    theirs: Counter[tuple[int, str]] = Counter()
    for line in text.splitlines():
        m = _DUMP.search(line)
        if m:
            theirs[(int(m.group(1)), m.group(3).split()[0])] += 1
    assert theirs, "xenalyze printed no hypercall/vmexit lines"
    s = xt.summarize(xt.decode_bytes(data), vendor="svm")
    mine: Counter[tuple[int, str]] = Counter()
    for d, dom in s.domains.items():
        assert d is not None
        if dom.hypercalls:
            mine[(d, "hypercall")] = sum(dom.hypercalls.values())
        if dom.vmexits:
            mine[(d, "vmexit")] = sum(dom.vmexits.values())
        if dom.vmentries:
            mine[(d, "vmentry")] = dom.vmentries
    assert theirs == mine


_events = st.sampled_from([
    xt.TRC_SCHED_WAKE, xt.TRC_SCHED_BLOCK, xt.TRC_PV_HYPERCALL_V2, xt.TRC_HVM_VMENTRY,
    xt.TRC_HVM_VMEXIT64, xt.TRC_HVM_VMMCALL, xt.TRC_MEM_PAGE_GRANT_MAP, 0x00801008,
])
_record = st.builds(
    lambda ev, extra, tsc: rec(ev, extra, tsc),
    _events, st.lists(st.integers(0, 0xFFFFFFFF), max_size=7),
    st.one_of(st.none(), st.integers(0, 2**40)),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(_record, min_size=1, max_size=10)),
                min_size=1, max_size=5))
def test_generated_files_match_xenalyze(tmp_path_factory, windows):
    data = b"".join(xt.build_window(cpu, b"".join(recs)) for cpu, recs in windows)
    assert raw_reads(data, tmp_path_factory.mktemp("x")) == ours(data)


def test_realistic_sequence_matches_xenalyze(tmp_path):
    body = runstate(0, 0, 1, 0, 100)
    tsc = 200
    for i in range(200):
        body += hcall_v2(32 if i % 3 else 20, {0: i % 5} if i % 2 else None, tsc=tsc)
        tsc += 10
    body += switch((0, 0), (3, 1), tsc)
    for i in range(100):
        body += rec(xt.TRC_HVM_VMENTRY, [], tsc + 20 * i) + vmexit(0x60 + i % 30, tsc + 20 * i + 5)
    data = xt.build_window(0, body)
    theirs = raw_reads(data, tmp_path)
    assert len(theirs) == 1 + 200 + 5 + 200
    assert theirs == ours(data)
