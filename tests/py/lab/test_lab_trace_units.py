"""Host-side pieces of the lab's tracing work (no QEMU): the event channel
tracer's interval arithmetic and shutdown, and the trace image's inputs."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from ivcom.lab import trace_image
from ivcom.lab.errors import LabError
from ivcom.lab.image import build_image
from ivcom_trace import cmd_evtchn as ev
from ivcom_trace.fakes import BpfTable


def test_delta_snapshot_reports_only_what_moved():
    before = {"user_sends": {(10, 5): 7, (11, 6): 3}, "upcalls": {0: 100},
              "latency": {(40, 12): 2}}
    now = {"user_sends": {(10, 5): 9, (11, 6): 3, (12, 7): 1}, "upcalls": {0: 150, 1: 4},
           "latency": {(40, 12): 5, (40, 13): 1}, "deliveries": {(40, "evtchn:x"): 2}}
    snap = ev.delta_snapshot(now, before)
    assert dict(snap.user_sends) == {(10, 5): 2, (12, 7): 1}
    assert dict(snap.upcalls) == {0: 50, 1: 4}
    assert dict(snap.deliveries) == {(40, "evtchn:x"): 2}
    assert {k: dict(v) for k, v in snap.latency.items()} == {40: {12: 3, 13: 1}}
    assert dict(snap.kernel_sends) == {} and dict(snap.grant_maps) == {}


def test_delta_of_equal_readings_is_empty():
    r = {"user_sends": {(1, 2): 5}, "upcalls": {0: 1}}
    snap = ev.delta_snapshot(r, r)
    assert not snap.user_sends and not snap.upcalls


# A stand-in for bcc: counters that grow by a fixed amount at every read,
# so the sum of what the tracer prints must equal the last cumulative value.
_Table = BpfTable


class _FakeBPF:
    reads = 0

    def __init__(self, text: str) -> None:
        assert "FILTER_TGID" in text

    @staticmethod
    def get_kprobe_functions(pat: bytes) -> list[bytes]:
        return [pat.strip(b"^$")]

    def attach_kprobe(self, event: str, fn_name: str) -> None:
        pass

    attach_kretprobe = attach_kprobe

    def __getitem__(self, name: str) -> _Table:
        if name == "user_sends":
            _FakeBPF.reads += 1
            return _Table([(SimpleNamespace(tgid=42, port=9), 5 * _FakeBPF.reads)])
        return _Table([])


def _args(**kw: Any) -> argparse.Namespace:
    base = {"pid": None, "domid": None, "json": True, "timestamp": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_sigterm_ends_with_a_partial_interval_and_loses_nothing(monkeypatch):
    monkeypatch.setattr(ev, "port_domains", lambda: {9: 3})
    _FakeBPF.reads = 0
    out = io.StringIO()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        rc = ev.EvtchnCommand()._trace(SimpleNamespace(BPF=_FakeBPF), _args(), 60, None, out)
    finally:
        timer.cancel()
    assert rc == 0
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert docs and docs[-1]["partial"] is True
    assert all("partial" not in d for d in docs[:-1])
    total = sum(s["count"] for d in docs for s in d["user_sends"])
    # every reading adds 5; the first one is the baseline
    assert total == 5 * (_FakeBPF.reads - 1) and total > 0
    assert {s["remote_domid"] for d in docs for s in d["user_sends"]} == {3}
    # the handlers are restored afterwards
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


def test_unknown_ports_trigger_a_new_lsevtchn(monkeypatch):
    calls = []

    def fake_ports() -> dict[int, int]:
        calls.append(1)
        return {} if len(calls) == 1 else {9: 4}

    monkeypatch.setattr(ev, "port_domains", fake_ports)
    _FakeBPF.reads = 0
    out = io.StringIO()
    ev.EvtchnCommand()._trace(SimpleNamespace(BPF=_FakeBPF), _args(), 0, 2, out)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(docs) == 2 and len(calls) >= 2
    assert docs[0]["user_sends"][0]["remote_domid"] == 4


def test_bpf_text_counts_gntdev_maps_by_ioctl_number():
    text = ev.bpf_text(1234)
    assert "#define FILTER_TGID 1234" in text
    assert "IOCTL_GNTDEV_MAP_GRANT_REF" in text and "0x184700" in text
    assert "gntdev_ioctl_map_grant_ref" not in {sym for sym, _ in ev.KPROBES}


def test_parse_lsevtchn_interdomain_ports():
    text = ("    1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 2\n"
            "   28: VCPU 1: Interdomain (Connected) - Remote Domain 1, Port 8\n"
            "    3: VCPU 0: Virtual IRQ 1\n")
    assert ev.parse_lsevtchn(text) == {1: 0, 28: 1}


def test_unknown_flavour_is_a_usage_error():
    with pytest.raises(LabError) as ei:
        build_image(flavour="fancy")
    assert ei.value.exit_code == 2 and "fancy" in str(ei.value)


def test_headers_packages_follow_the_kernel_version():
    assert trace_image._headers_packages("6.1.0-56-amd64") == [
        "linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common"]
    with pytest.raises(LabError):
        trace_image._headers_packages("weird")


def test_wrappers_use_the_mounted_tree():
    assert "/lab/trace-mount.sh" in trace_image.PYTHON_WRAPPER
    assert f"{trace_image.TRACE_MOUNT}/usr/bin/python3.11" in trace_image.PYTHON_WRAPPER
    assert trace_image.SITE in trace_image.PYTHON_WRAPPER
    assert "mount -t squashfs -o loop,ro /lab/trace.sqfs" in trace_image.TRACE_MOUNT_SH
    assert "libbcc.so.0" in trace_image.DLOPENED and "librt.so.1" in trace_image.DLOPENED
