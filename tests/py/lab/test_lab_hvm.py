"""An HVM Linux guest on real Xen: dom0 <-> guest over TCP through the
emulated e1000 (qemu-xen in dom0) and over IVCOM (the guest's PV-on-HVM
grant table and event channels), every session inside its own xentrace
recording; VM exits counted inside each transfer (ivcom.lab.hvm).  The
same IVCOM sessions then run against the tiny guest booted as PVH.

One boot of the trace image (qemu-xen lives in its squashfs) runs
scn-hvm.sh with a short plan; `make bench` runs the full one.  Counts, not
times, are asserted: TCG's timings belong in the benchmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import labboot
import pytest
from ivcom.lab import hvm
from ivcom.lab.errors import LabError
from ivcom.lab.image import build_image
from ivcom.lab.runner import Scenario, ScenarioResult
from ivcom.lab.tools import ivcom_payload
from ivcom.lab.trace_image import trace_payload
from ivcom_trace import xentrace as xt

pytestmark = pytest.mark.lab

PLAN = hvm.HvmPlan(rr_count=100, bytes=1 << 20, chunk=65536, reps=1, idle_s=2)


@dataclass
class HvmRun:
    scenario: ScenarioResult
    results: dict[str, Any]

    @property
    def dir(self) -> Path:
        return self.scenario.dir

    def session(self, label: str, kind: str) -> dict[str, Any]:
        hits = [s for s in self.results["sessions"]
                if s["label"] == label and s["kind"].split("-")[0] == kind]
        assert len(hits) == 1, f"{label} {kind}: {len(hits)} sessions in {self.dir}"
        return dict(hits[0])


@pytest.fixture(scope="module")
def run() -> HvmRun:
    _, res = labboot.boot(
        lambda: build_image(trace_payload(ivcom_payload()), flavour="trace", log=True),
        [Scenario.builtin(hvm.SCENARIO)], tag="pytest-hvm", timeout_s=1500,
        scenario_timeout=1200.0, env={**PLAN.env(), "HVM_TINY_FAULT": "1"},
        files=hvm.tiny_files(print))
    s = res.scenarios.get(hvm.SCENARIO)
    if s is None:
        pytest.fail(f"scenario {hvm.SCENARIO} did not run (log {res.log})")
    assert s.ok, f"scenario {hvm.SCENARIO} failed: {s.reason} (dir {s.dir}, log {res.log})"
    try:
        results = hvm.analyse(s.dir)
    except LabError as exc:
        pytest.fail(f"analysis of {s.dir} failed: {exc}", pytrace=False)
    print(hvm.render(results))
    return HvmRun(s, results)


def test_guest_is_hvm_with_device_model_nic_and_callback_vector(run: HvmRun) -> None:
    listing = json.loads((run.dir / "xl-list-long-hv.json").read_text())
    assert listing[0]["config"]["c_info"]["type"] == "hvm"
    console = (run.dir / "consoles" / "guest-hv.log").read_text(errors="replace")
    assert "Booting paravirtualized kernel on Xen HVM" in console
    assert "Xen HVM callback vector for event delivery is enabled" in console
    assert "e1000" in console and "eth0: Intel(R) PRO/1000" in console
    # qemu-xen ran as the guest's device model (its log is collected).
    assert (run.dir / "consoles" / "qemu-dm-hv.log").is_file()


def test_every_session_ran_and_moved_its_data(run: HvmRun) -> None:
    kinds = sorted((s["label"], s["kind"]) for s in run.results["sessions"])
    assert kinds == sorted([("tcp", "rr"), ("ivcom", "rr"), ("ivcom-poll", "rr-poll"),
                            ("ivcom-spin", "rr-spin"), ("tcp", "bulk"), ("ivcom", "bulk"),
                            ("ivcom-poll", "bulk-poll"), ("ivcom-spin", "bulk-spin"),
                            ("tiny", "rr"), ("tiny-poll", "rr-poll"), ("tiny-spin", "rr-spin"),
                            ("tiny", "bulk"), ("tiny-poll", "bulk-poll"),
                            ("tiny-spin", "bulk-spin")])
    for s in run.results["sessions"]:
        want = PLAN.rr_count if s["kind"].startswith("rr") else PLAN.bytes / (1 << 20)
        assert s["work"] == want, s["trace"]
    assert run.session("tcp", "bulk")["verified"]
    # The guest's sink checked every sequence number and counted the bytes.
    for kind in ("bulk", "bulk-poll", "bulk-spin"):
        sink = json.loads((run.dir / f"ivcom-{kind}-1.server").read_text().splitlines()[0])
        assert sink["bytes"] == PLAN.bytes
    for kind in ("bulk", "bulk-poll", "bulk-spin"):
        # ... and so did the tiny guest's (its result line), in a PVH domain.
        con = (run.dir / f"console-tiny-{kind}-1.log").read_text()
        assert "ivcom-guest: booting (domU PVH" in con
        assert f"bytes={PLAN.bytes} " in con and "ivcom-guest: result: SUCCESS sink:" in con
    for kind in ("rr", "rr-poll", "rr-spin"):
        con = (run.dir / f"console-tiny-{kind}-1.log").read_text()
        assert "ivcom-guest: result: SUCCESS echo: echoed " in con


def test_a_tiny_guest_gone_before_its_offer_is_replaced_and_noted(run: HvmRun) -> None:
    # HVM_TINY_FAULT: the first tiny guest got an impossible ring order.
    gone = (run.dir / "console-tiny-rr-1-gone.log").read_text()
    assert "ivcom-guest: result: FAILURE" in gone and "order" in gone
    notes = [n for n in run.scenario.retries if "died before offering hvtrr1" in n]
    assert len(notes) == 1 and "re-created as tiny-rr-1-r" in notes[0], run.scenario.retries
    # The replacement ran the session (its console is the session's).
    con = (run.dir / "console-tiny-rr-1.log").read_text()
    assert "ivcom-guest: result: SUCCESS echo: echoed " in con
    assert run.session("tiny", "rr")["work"] == PLAN.rr_count


def test_each_transfer_lies_inside_its_recording_without_loss(run: HvmRun) -> None:
    for s in run.results["sessions"]:
        assert s["covered"], f"{s['trace']}: TSC span not inside the recording"
        summ = xt.summarize(xt.decode_file(run.dir / s["trace"]))
        assert summ.lost_records == 0, s["trace"]
        # The window is a part of the recording, never more.
        guest = summ.domains[s["domid"]]
        assert s["exits_total"] <= sum(guest.vmexits.values())


def test_exits_pair_with_entries_and_are_all_attributed(run: HvmRun) -> None:
    for s in run.results["sessions"]:
        if s["label"] in ("tiny-poll", "tiny-spin"):
            # A tiny guest that polls, or spins for longer than the gaps
            # between messages, may take no exit at all in a short transfer
            # (no timer, no device, no block); the count is not blind: its
            # recording holds the guest's exits around the transfer (the
            # wait for its client, its result on the console).
            summ = xt.summarize(xt.decode_file(run.dir / s["trace"]))
            assert sum(summ.domains[s["domid"]].vmexits.values()) > 0, s["trace"]
        else:
            assert s["exits_total"] > 0, f"{s['trace']}: no VM exits in the transfer"
        assert abs(s["exits_total"] - s["entries"]) <= hvm.PAIR_SLACK, s["trace"]
        assert s["unattributed"] == 0, s["trace"]
        assert s["other_domains"] == 0, s["trace"]   # one guest at a time
        # Charged to the right guest: the HVM one, or the tiny PVH one.
        if s["transport"] == "tiny":
            assert s["domid"] != run.results["hvm_domid"], s["trace"]
        else:
            assert s["domid"] == run.results["hvm_domid"], s["trace"]
        assert sum(s["by_category"].values()) == s["exits_total"]
        assert s["vendor"] == "svm"   # TCG emulates AMD SVM


def test_construct_decoder_agrees_on_a_window(run: HvmRun) -> None:
    s = run.session("ivcom", "rr")
    data = (run.dir / s["trace"]).read_bytes()
    begin, end = s["tsc_begin"], s["tsc_end"]
    fast = hvm.window_counts(xt.decode_bytes(data), begin, end, run.results["hvm_domid"])
    slow = hvm.window_counts(xt.decode_bytes(data, engine="construct"), begin, end,
                             run.results["hvm_domid"])
    assert fast == slow


def test_only_the_emulated_nic_path_exits_on_device_accesses(run: HvmRun) -> None:
    tcp = run.session("tcp", "rr")
    # Every packet through the e1000 touches its registers: MMIO exits.
    assert tcp["per_op_by_category"]["mmio"] >= 1.0
    assert run.session("tcp", "bulk")["per_op_by_category"]["mmio"] >= 1.0
    # IVCOM's data path touches no emulated device (the scenario takes the
    # e1000 down outside the TCP sessions, so its watchdog's register reads
    # cannot land in an IVCOM window either).
    for label, kind in (("ivcom", "rr"), ("ivcom-poll", "rr"), ("ivcom-spin", "rr"),
                        ("ivcom", "bulk"), ("ivcom-poll", "bulk"), ("ivcom-spin", "bulk"),
                        ("tiny", "rr"), ("tiny-poll", "rr"), ("tiny-spin", "rr"),
                        ("tiny", "bulk"), ("tiny-poll", "bulk"), ("tiny-spin", "bulk")):
        s = run.session(label, kind)
        base = run.session("tcp", kind)["by_category"]
        dev = s["by_category"]["mmio"] + s["by_category"]["io"]
        assert dev <= 0.1 * (base["mmio"] + base["io"]), (label, kind, s["by_category"])


def test_summary_and_table(run: HvmRun) -> None:
    summ = run.results["summary"]
    for kind in ("rr", "bulk"):
        assert set(summ[kind]) == set(hvm.LABELS)
        for label in set(hvm.LABELS) - {"tcp"}:
            v = summ[kind][label]
            assert v["exits_vs_tcp"] == pytest.approx(
                v["exits_per_op"] / summ[kind]["tcp"]["exits_per_op"])
    assert summ["idle_exits_per_s"] and summ["idle_exits_per_s"] > 0
    text = hvm.render(run.results)
    assert "TCP, emulated e1000" in text and "IVCOM, polling" in text
    assert "tiny PVH guest, IVCOM" in text
    assert run.results["spin_us"] == PLAN.spin_us and "IVCOM, long spin" in text
