"""The tracing tools on real Xen: ONE boot of the trace-flavour image.

The module-scoped `tlab` fixture builds (or reuses) the trace image with the
lab tools and libivcom's tools (build/core/bin, when built), boots it once
and runs the trace scenarios (scn-trace-*.sh); the tests read what came
back and decode the xentrace file on the host, next to Debian's xenalyze.

Event counts are compared EXACTLY where both sides count the same thing:
the tracer counts IOCTL_EVTCHN_NOTIFY per (process, port) from before the
process starts until after it ends, and the process counts its own calls
of xenevtchn_notify() (lab-vchan interposes it) or its notifies_sent
(libivcom).  Deliveries into dom0 are bounded by the peer's sends (Xen
coalesces events still pending), so they are checked as 0 < d <= sends.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import labboot
import pytest
from ivcom.lab.image import LabImage, Payload, build_image, build_root
from ivcom.lab.runner import BootResult, Scenario, ScenarioResult
from ivcom.lab.tools import standard_payload
from ivcom.lab.trace_image import CORE_TOOLS, trace_payload
from ivcom_trace import xentrace as xt
from ivcom_trace.cli import main as trace_main

pytestmark = pytest.mark.lab

SCENARIOS = ("trace-smoke", "trace-vchan", "trace-ivcom", "trace-live")
VCHAN_PORT = 7

XENALYZE = shutil.which("xenalyze") or next(
    (p for p in ("/usr/lib/xen-4.17/bin/xenalyze", "/usr/bin/xenalyze") if Path(p).exists()),
    None)


@dataclass
class TraceLab:
    image: LabImage
    boot: BootResult
    core_note: str  # why libivcom's tools are not in the image ("" if they are)

    def scenario(self, name: str) -> ScenarioResult:
        s = self.boot.scenarios.get(name)
        if s is None:
            pytest.fail(f"scenario {name} did not run (log {self.boot.log})")
        return s

    def ok(self, name: str) -> Path:
        s = self.scenario(name)
        assert s.ok, f"scenario {name} failed: {s.reason} (dir {s.dir}, log {self.boot.log})"
        return s.dir


def payload_for_trace() -> tuple[Payload, str]:
    """The lab tools, lab-twice, and libivcom's tools when `make core` has
    built them; the second value says why they are missing ("" if not)."""
    bdir = Path(os.environ.get("IVCOM_CORE_BIN", build_root() / "core" / "bin"))
    missing = [n for n in CORE_TOOLS if not (bdir / n).is_file()]
    if missing:
        return (trace_payload(standard_payload()),
                f"{', '.join(missing)} not built in {bdir} (make core)")
    return trace_payload(standard_payload(), bdir), ""


@pytest.fixture(scope="module")
def tlab() -> TraceLab:
    labboot.require_qemu()
    payload, note = payload_for_trace()
    # ~4 minutes on an idle host; a host shared with other QEMUs can take
    # 2-3 times as long.
    image, res = labboot.boot(lambda: build_image(payload, flavour="trace", log=True),
                              [Scenario.builtin(n) for n in SCENARIOS], tag="pytest-trace",
                              timeout_s=1200, scenario_timeout=400.0)
    print(f"ivcom lab: trace image dom0 ready after {res.dom0_ready_s}s, boot {res.seconds:.0f}s")
    return TraceLab(image, res, note)


def _read(p: Path) -> str:
    assert p.is_file(), f"{p} missing"
    return p.read_text(errors="replace")


def _jsonl(p: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _read(p).splitlines() if line.strip()]


def _events_line(text: str, role: str) -> dict[str, Any]:
    """The `lab-vchan: events {...}` line of one lab-vchan."""
    for line in text.splitlines():
        if line.startswith("lab-vchan: events "):
            doc = json.loads(line.split(" ", 2)[2])
            if doc["role"] == role:
                return doc
    pytest.fail(f"no 'lab-vchan: events' line for the {role}")


def _sum_sends(evt: list[dict[str, Any]], tgid: int) -> Counter[int]:
    """Sends of one process over every interval, by port."""
    out: Counter[int] = Counter()
    for doc in evt:
        for s in doc["user_sends"]:
            if s["tgid"] == tgid:
                out[s["port"]] += s["count"]
    return out


def _sum_deliveries(evt: list[dict[str, Any]], name: str) -> int:
    return sum(d["count"] for doc in evt for d in doc["deliveries"] if d["name"] == name)


# ---- the image ----------------------------------------------------------------------


def test_trace_image_extends_the_default_image(tlab):
    img = tlab.image
    assert img.flavour == "trace" and img.dir.parent.name == "images-trace"
    key, base_dir = _read(img.dir / "base-image").split()
    base_cpio = Path(base_dir) / "dom0.cpio"
    if not base_cpio.is_file():
        pytest.skip(f"the default image {key} was pruned since")
    assert Path(base_dir).parent.name == "images" and Path(base_dir).name == key
    # The default archive is the unchanged prefix of the trace one.
    n = base_cpio.stat().st_size
    with open(base_cpio, "rb") as a, open(img.dom0_initrd, "rb") as b:
        while n > 0:
            k = min(n, 1 << 22)
            assert a.read(k) == b.read(k), "default dom0 archive differs inside the trace one"
            n -= k
    assert img.dom0_initrd.stat().st_size > base_cpio.stat().st_size


def test_python_bcc_and_ivcom_trace_start_in_dom0(tlab):
    d = tlab.ok("trace-smoke")
    assert _read(d / "python.txt").startswith("3.11.")
    assert "rings" in _read(d / "help.txt") and "evtchn" in _read(d / "help.txt")
    assert _read(d / "bcc.txt").startswith("/trace/usr/lib/python3/dist-packages/bcc/")
    syms = _read(d / "kallsyms.txt")
    assert "xen_evtchn_do_upcall" in syms and "notify_remote_via_irq" in syms


# ---- xentrace -------------------------------------------------------------------------

# R p CPU oOFFSET EVENT NEXTRA TSC|- [ extra words in hex ]
_RAW = re.compile(r"^R p\s*(\d+) o([0-9a-f]+)\s+([0-9a-f]+) (\d)\s+(-|\d+) \[([^\]]*)\]")


def _xenalyze(args: list[str], path: Path) -> str:
    if XENALYZE is None:
        pytest.skip("xenalyze not found (xen-utils-common provides /usr/bin/xenalyze)")
    proc = subprocess.run([XENALYZE, *args, str(path)], capture_output=True, text=True,
                          timeout=300, check=False)
    return proc.stdout + proc.stderr


def _raw_reads(path: Path) -> list[tuple[int, int, int, int | None, tuple[int, ...]]]:
    out = set()
    for line in _xenalyze(["--dump-raw-reads", "--dump-no-processing"], path).splitlines():
        m = _RAW.match(line)
        if not m:
            continue
        cpu, off, event, n, tsc, extra = m.groups()
        if int(event, 16) == xt.TRC_TRACE_CPU_CHANGE:
            continue
        words = tuple(int(w, 16) for w in extra.split())
        assert len(words) == int(n)
        out.add((int(off, 16), int(cpu), int(event, 16), None if tsc == "-" else int(tsc),
                 words))
    # xenalyze re-reads a pcpu's first records when it (re)activates it.
    return sorted(out)


@pytest.fixture(scope="module")
def real_trace(tlab) -> tuple[Path, xt.Trace, int]:
    d = tlab.ok("trace-vchan")
    path = d / "trace.xt"
    assert path.is_file() and path.stat().st_size > 0
    return path, xt.decode_file(path), int(_read(d / "domid"))


def test_real_trace_records_match_xenalyze(real_trace):
    path, trace, _ = real_trace
    theirs = _raw_reads(path)
    ours = sorted((r.offset, r.cpu, r.event, r.tsc, r.extra) for r in trace.records)
    print(f"xentrace file {path.stat().st_size} bytes: {len(ours)} records decoded, "
          f"xenalyze read {len(theirs)}")
    assert len(ours) > 1000
    assert len(theirs) == len(ours)
    assert Counter(e for _, _, e, _, _ in theirs) == Counter(r.event for r in trace.records)
    assert theirs == ours


def test_real_trace_summary_shows_domu_hypercalls(real_trace):
    path, trace, domid = real_trace
    s = xt.summarize(trace)
    dom = s.domains.get(domid)
    assert dom is not None, f"no d{domid} in the summary ({sorted(map(str, s.domains))})"
    assert sum(dom.hypercalls.values()) > 0
    # the server's sends and waits on its event channel
    assert dom.hypercalls["event_channel_op"] > 0
    assert dom.hypercalls["sched_op"] > 0
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert trace_main(["xen", str(path)]) == 0
    text = buf.getvalue()
    assert re.search(rf"^d{domid}\s+\d+\s+[1-9]\d*", text, re.M), text
    assert f"d{domid}:" in text and "event_channel_op" in text


def test_real_trace_hypercall_attribution_matches_xenalyze(real_trace):
    """Which domain made each PV hypercall: ours vs xenalyze --dump-all
    (it names a record it cannot place yet d32768; a multicall's sub-calls
    are not "hypercall" lines there, so they are left out here)."""
    path, trace, domid = real_trace
    theirs: Counter[int] = Counter()
    for line in _xenalyze(["--dump-all"], path).splitlines():
        m = re.search(r"\sd(\d+)v\d+ hypercall\b", line)
        if m:
            theirs[int(m.group(1))] += 1
    assert theirs, "xenalyze --dump-all printed no hypercall lines"
    top = {xt.TRC_PV_HYPERCALL, xt.TRC_PV_HYPERCALL_V2, xt.TRC_PV_HYPERCALL | xt.TRC_64_FLAG}
    ours: Counter[int] = Counter(
        32768 if r.domid is None else r.domid for r in xt.iter_records(trace)
        if r.event in top)
    print(f"PV hypercalls per domain: ours {dict(ours)}, xenalyze {dict(theirs)}")
    assert ours == theirs
    assert ours[domid] > 0


# ---- ring inspection: libxenvchan ---------------------------------------------------------


def test_rings_lists_the_live_vchan(tlab):
    d = tlab.ok("trace-vchan")
    domid = int(_read(d / "domid"))
    chans = json.loads(_read(d / "rings.json"))
    hits = [c for c in chans if c["kind"] == "vchan" and c["server"] == domid]
    assert len(hits) == 1, chans
    c = hits[0]
    assert c["client"] == 0 and c["name"] == f"vchan:0/{VCHAN_PORT}"
    assert c["path"] == f"/local/domain/{domid}/data/vchan/0/{VCHAN_PORT}"
    assert isinstance(c["ctrl_ref"], int) and isinstance(c["event_channel"], int)


_ROW = re.compile(r"^\d\d:\d\d:\d\d (\S+)\s+([0-9a-f]{8}) ([0-9a-f]{8}) ")


def _batch_frames(text: str, ndirs: int) -> list[tuple[dict[str, int], bool]]:
    """`inspect -b -T` output -> per frame ({direction: producer index},
    whether violations ("!!" lines) were printed for it)."""
    frames: list[tuple[dict[str, int], bool]] = []
    cur: dict[str, int] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            cur[m.group(1)] = int(m.group(2), 16)
            if len(cur) == ndirs:
                frames.append((cur, False))
                cur = {}
        elif line.startswith("!!") and frames:
            frames[-1] = (frames[-1][0], True)
    return frames


def _check_inspect(d: Path, dirs: set[str], describe: str) -> dict[str, int]:
    """The batch view watched the channel from before its client started
    until it closed: frames were drawn, both producers moved, the view
    ended on the close.  Only the frame that saw the close may carry
    violations: once the server domain tears the channel down, the page
    dom0 still maps has been seen to read as garbage on real Xen."""
    text = _read(d / "inspect.txt")
    lines = text.splitlines()
    assert describe in lines[0], lines[0]
    assert lines[1].split()[:3] == ["TIME", "DIR", "PROD"]
    frames = _batch_frames(text, len(dirs))
    assert frames and all(set(f) == dirs for f, _ in frames)
    bad = [i for i, (_, v) in enumerate(frames) if v]
    assert bad in ([], [len(frames) - 1]), f"violations in frames {bad} of {len(frames)}"
    good = [f for f, v in frames if not v]
    moved = {k: (good[-1][k] - good[0][k]) & 0xFFFFFFFF for k in dirs}
    steps = {k: sum(1 for a, b in itertools.pairwise(good) if a[k] != b[k]) for k in dirs}
    print(f"inspect: {len(frames)} frames ({len(bad)} at the close with violations); "
          f"producers moved {moved} bytes in {steps} frame steps")
    assert len(good) >= 5
    assert all(n > 0 for n in moved.values()), moved
    assert all(n >= 2 for n in steps.values()), steps
    reason = _read(d / "inspect.err").strip().splitlines()[-1]
    assert reason.startswith("ivcom-trace: channel closed:"), reason
    return moved


def test_inspect_vchan_shows_indexes_moving(tlab):
    d = tlab.ok("trace-vchan")
    _check_inspect(d, {"left", "right"}, "vchan ring, gntdev ref")


# ---- event channels: libxenvchan --------------------------------------------------------------


def test_evtchn_counts_the_vchan_client_exactly(tlab):
    d = tlab.ok("trace-vchan")
    evt = _jsonl(d / "evtchn.jsonl")
    assert evt and evt[-1].get("partial") is True, "the tracer did not end on SIGTERM"
    client = _events_line(_read(d / "a.out"), "client")
    assert client["pid"] == int(_read(d / "a.pid"))
    sends = _sum_sends(evt, client["pid"])
    print(f"vchan client: self-counted {client['notifies']} notifies on port "
          f"{client['port']}; traced {dict(sends)}")
    assert client["notifies"] > 500
    assert dict(sends) == {client["port"]: client["notifies"]}
    # the port's remote end is the server domain, as lsevtchn says
    domid = int(_read(d / "domid"))
    remotes = {s["remote_domid"] for doc in evt for s in doc["user_sends"]
               if s["tgid"] == client["pid"]}
    assert domid in remotes and remotes <= {domid, None}


def test_evtchn_vchan_deliveries_bounded_by_server_sends(tlab):
    """Tolerance: one event more than the server's own sends, the unmap
    notification its kernel (gntalloc) sends when the server closes."""
    d = tlab.ok("trace-vchan")
    evt = _jsonl(d / "evtchn.jsonl")
    # the first of the two servers the guest ran served client A
    server = _events_line(_read(d / "consoles" / "guest-tvch.log"), "server")
    got = _sum_deliveries(evt, "evtchn:lab-vchan")
    print(f"vchan server sent {server['notifies']} events; dom0 took {got} deliveries")
    assert 0 < got <= server["notifies"] + 1


# ---- IVCOM (libivcom's xen-linux backend) -------------------------------------------------------

# How a libivcom failure shows in the scenario's reason (a usage error,
# which names --help, is ours and fails the test instead).
_BACKEND_FAILURES = ("ivcom-pingpong client", "did not offer", "tivc:")


def _ivcom_dir(tlab: TraceLab) -> Path:
    if tlab.core_note:
        pytest.skip(f"IVCOM channel not tested: {tlab.core_note}")
    s = tlab.scenario("trace-ivcom")
    if (s.dir / "skipped").is_file():
        pytest.skip(_read(s.dir / "skipped").strip())
    if not s.ok and any(k in s.reason for k in _BACKEND_FAILURES) and "--help" not in s.reason:
        pytest.skip(f"libivcom's xen-linux backend did not carry the channel: {s.reason}")
    assert s.ok, f"scenario trace-ivcom failed: {s.reason} (dir {s.dir})"
    return s.dir


def test_rings_lists_the_live_ivcom_channel(tlab):
    d = _ivcom_dir(tlab)
    domid = int(_read(d / "domid"))
    chans = json.loads(_read(d / "rings.json"))
    hits = [c for c in chans if c["kind"] == "ivcom" and c["name"] == "tpp2"]
    assert len(hits) == 1, chans
    c = hits[0]
    assert c["server"] == domid and c["client"] == 0
    assert c["path"] == f"/local/domain/{domid}/data/ivcom/tpp2"
    assert c["state"] == "connected" and c["client_state"] == "connected"
    assert c["mode"] == "message" and c["s2c_order"] == 16 and c["c2s_order"] == 16


def test_inspect_ivcom_shows_indexes_moving(tlab):
    d = _ivcom_dir(tlab)
    _check_inspect(d, {"s2c", "c2s"}, "ivcom ring, gntdev ref")
    assert "# live server=up client=up" in _read(d / "inspect.txt")


def test_evtchn_counts_the_ivcom_client(tlab):
    """Tolerance: notifies_sent counts data-path events only; libivcom also
    notifies once when it connects (wakes the server's accept) and once in
    ivcom_close() after the client printed its stats: traced = sent + 0..2
    (measured: +2)."""
    d = _ivcom_dir(tlab)
    evt = _jsonl(d / "evtchn.jsonl")
    assert evt and evt[-1].get("partial") is True
    client = json.loads(_read(d / "a.json"))
    pid = int(_read(d / "a.pid"))
    sends = _sum_sends(evt, pid)
    got = sum(sends.values())
    dl = _sum_deliveries(evt, "evtchn:ivcom-pingpong")
    print(f"ivcom client: notifies_sent {client['notifies_sent']}, traced {dict(sends)}; "
          f"wakeups {client['wakeups']}, deliveries {dl}")
    assert len(sends) == 1 and client["notifies_sent"] > 100
    assert client["notifies_sent"] <= got <= client["notifies_sent"] + 2
    assert dl > 0


def test_evtchn_names_the_ivcom_channel_and_counts_its_sends(tlab):
    """The per-channel rows (`channels` in the evtchn JSON): the client's
    port is joined with channel <domid>/tpp1 through the port the client
    published in XenStore, and the row's sends are the client's own
    notifies_sent (same tolerance as above: + the connect and close
    notifies); its wakeups are the deliveries on the port's irq.  Bytes
    come from the control page dom0 maps as the grantee; the interval in
    which the server tears the channel down can read a torn page (then
    that interval has no bytes), so bytes are checked as bounded by what
    the client sent, not as exact."""
    d = _ivcom_dir(tlab)
    evt = _jsonl(d / "evtchn.jsonl")
    client = json.loads(_read(d / "a.json"))
    pid = int(_read(d / "a.pid"))
    domid = int(_read(d / "domid"))
    label = f"{domid}/tpp1"
    rows = [r for doc in evt for r in doc.get("channels", []) if r["channel"] == label]
    notes = {doc.get("channels_note") for doc in evt} - {None}
    unattributed = [u for doc in evt for u in doc.get("unattributed_sends", [])]
    assert rows, f"no row for {label}: notes {notes}, unattributed {unattributed}"
    r0 = rows[0]
    assert (r0["kind"], r0["end"], r0["server"], r0["client"], r0["peer_domid"]) == (
        "ivcom", "client", domid, 0, domid)
    assert r0["path"] == f"/local/domain/{domid}/data/ivcom/tpp1"
    ports = {r["port"] for r in rows}
    traced = _sum_sends(evt, pid)
    assert len(ports) == 1 and set(traced) == ports, (ports, dict(traced))
    if (d / "client-port").is_file():
        assert ports == {int(_read(d / "client-port"))}
    sends = sum(r["sends"] for r in rows)
    n = client["notifies_sent"]
    wakeups = {r["wakeups"] for r in rows}
    moved = [r["bytes"] for r in rows if r["bytes"] is not None]
    c2s = sum(b["c2s"] for b in moved)
    s2c = sum(b["s2c"] for b in moved)
    print(f"channel {label}: port {ports}, row sends {sends}, notifies_sent {n}; "
          f"bytes c2s {c2s} s2c {s2c} in {len(moved)} of {len(rows)} rows; "
          f"sends/MiB {[r.get('sends_per_mib') for r in rows]}")
    assert sends == sum(traced.values())
    assert n <= sends <= n + 2
    # wakeups: deliveries on the port's irq, learned when the client bound
    # it (the tracer started first); each of the client's own wakeups
    # consumed at least one delivery
    assert None not in wakeups, {r.get("wakeups_note") for r in rows}
    woken = sum(r["wakeups"] for r in rows)
    print(f"channel {label}: deliveries {woken}, client wakeups {client['wakeups']}")
    assert woken >= client["wakeups"] > 0
    # round trips of 64-byte messages: 72-byte records (8-byte header), the
    # warm-up (count / 10, at most 1000) included, plus end-of-ring PADs
    count = client["count"]
    msgs = count + min(count // 10, 1000)
    limit = msgs * 72 + 72 * (msgs * 72 // (1 << 16) + 1)
    assert moved, f"no bytes measured: {sorted({r.get('bytes_note') for r in rows})}"
    assert 0 < c2s <= limit and 0 < s2c <= limit


# ---- xen --live -------------------------------------------------------------------------------


def test_xen_live_prints_two_summaries(tlab):
    d = tlab.ok("trace-live")
    text = _read(d / "live.txt")
    heads = re.findall(r"^xentrace: (\d+) records, \d+ cpus", text, re.M)
    assert len(heads) == 2, text
    assert all(int(n) > 0 for n in heads)
    assert text.count("DOMAIN   RECORDS") == 2 and re.search(r"^d0\s+\d+", text, re.M)
    docs = _jsonl(d / "live.jsonl")
    assert len(docs) == 2
    assert all(doc["interval"] == 1 and doc["records"] > 0 for doc in docs)
    assert all(any(dom["label"] == "d0" for dom in doc["domains"]) for doc in docs)
