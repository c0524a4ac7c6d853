"""`ivcom-trace xen` and `ivcom-trace evtchn` from the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ivcom.errors import IvcomError
from ivcom_trace import cmd_evtchn, cmd_xen
from ivcom_trace import xentrace as xt
from ivcom_trace.cli import main
from xt_tracegen import scenario


@pytest.fixture()
def trace_file(tmp_path):
    path = tmp_path / "s.trace"
    path.write_bytes(scenario())
    return path


def run_subprocess(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ivcom_trace", *argv],
                          capture_output=True, text=True, timeout=120)


def test_xen_json_output(trace_file, capsys):
    assert main(["xen", str(trace_file), "-j"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["records"] == 29 and doc["lost_records"] == 7 and doc["vendor"] == "svm"
    doms = {d["label"]: d for d in doc["domains"]}
    assert doms["d0"]["hypercalls"] == {"event_channel_op": 3, "grant_table_op": 2}
    assert doms["d0"]["evtchn_sends"] == 1
    assert doms["d1"]["vmexits"] == {"vmmcall": 1, "npf": 1, "intr": 1}
    assert doms["d1"]["vmentries"] == 3
    assert doc["file"] == str(trace_file)


def test_xen_json_domid_filter_and_dump(trace_file, capsys):
    assert main(["xen", str(trace_file), "-j", "-d", "1", "--dump", "100"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["domid"] for d in doc["domains"]] == [1]
    assert doc["dump"] and {r["domid"] for r in doc["dump"]} == {1}


def test_xen_construct_engine_gives_same_json(trace_file, capsys):
    main(["xen", str(trace_file), "-j"])
    fast = capsys.readouterr().out
    main(["xen", str(trace_file), "-j", "--engine", "construct"])
    assert capsys.readouterr().out == fast


def test_xen_table_fits_80_columns(trace_file, capsys):
    assert main(["xen", str(trace_file), "--dump", "5"]) == 0
    out = capsys.readouterr().out
    assert "DOMAIN" in out and "d1:" in out and "vm exits (svm): vmmcall 1" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_bad_file_is_one_line_error_without_traceback(tmp_path):
    bad = tmp_path / "bad.trace"
    bad.write_bytes(scenario()[:100])
    proc = run_subprocess("xen", str(bad))
    assert proc.returncode == xt.TraceFormatError.exit_code
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "bad xentrace data at byte" in lines[0] and "Traceback" not in proc.stderr


def test_missing_file_and_usage_errors(tmp_path, capsys):
    assert main(["xen", str(tmp_path / "none")]) == 1
    assert "cannot read trace file" in capsys.readouterr().err
    assert main(["xen"]) == 2
    assert main(["xen", "a", "b"]) == 2
    assert main(["xen", "f", "-d", "notadom"]) == 2


def test_live_outside_dom0_fails_clearly(capsys):
    if Path("/proc/xen/capabilities").exists():
        pytest.skip("this machine is a Xen domain; the refusal path is for plain hosts")
    assert main(["xen", "--live", "1", "1"]) == 1
    err = capsys.readouterr().err
    assert "needs a Xen dom0" in err and len(err.strip().splitlines()) == 1


def test_live_argument_checks(capsys):
    assert main(["xen", "--live", "0"]) == 2
    assert main(["xen", "--live", "1", "2", "3"]) == 2


def test_check_dom0_reads_capabilities(tmp_path):
    caps = tmp_path / "capabilities"
    caps.write_text("control_d\n")
    cmd_xen.check_dom0(caps)
    caps.write_text("")
    with pytest.raises(IvcomError, match="control domain"):
        cmd_xen.check_dom0(caps)


def test_live_loop_with_a_fake_recorder():
    calls = []

    def fake(path: Path, seconds: int) -> None:
        calls.append(seconds)
        path.write_bytes(scenario())

    out = io.StringIO()
    rc = cmd_xen.live_loop(fake, 2, 3, as_json=True, timestamps=True, domid=None,
                           vendor=None, out=out)
    assert rc == 0 and calls == [2, 2, 2]
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(docs) == 3
    assert all(d["records"] == 29 and d["interval"] == 2 and "time" in d for d in docs)


def test_live_loop_reports_bad_recordings():
    def fake(path: Path, seconds: int) -> None:
        path.write_bytes(b"garbage!")

    with pytest.raises(xt.TraceFormatError):
        cmd_xen.live_loop(fake, 1, 1, as_json=False, timestamps=False, domid=None,
                          vendor=None, out=io.StringIO())


# ------------------------------------------------------------------ evtchn

def test_evtchn_ebpf_prints_the_program(capsys):
    assert main(["evtchn", "--ebpf"]) == 0
    out = capsys.readouterr().out
    assert "#define FILTER_TGID 0" in out
    assert "TRACEPOINT_PROBE(irq, irq_handler_entry)" in out
    assert "TRACEPOINT_PROBE(syscalls, sys_enter_ioctl)" in out
    assert "0x44504" in out
    src = (Path(cmd_evtchn.__file__).with_name("evtchn.bpf.c")).read_text()
    assert src in out


def test_evtchn_ebpf_pid_filter(capsys):
    assert main(["evtchn", "--ebpf", "-p", "1234"]) == 0
    assert "#define FILTER_TGID 1234" in capsys.readouterr().out


def test_ebpf_hidden_from_help(capsys):
    with pytest.raises(SystemExit):
        main(["evtchn", "--help"])
    assert "--ebpf" not in capsys.readouterr().out


def test_evtchn_without_bcc_fails_clearly():
    try:
        cmd_evtchn.load_bcc()
    except IvcomError:
        pass
    else:
        pytest.skip("bcc is importable here; the refusal path is for hosts without it")
    proc = run_subprocess("evtchn", "1", "1")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bcc/kprobes are unavailable" in lines[0], proc.stderr


def test_evtchn_bad_interval(capsys):
    assert main(["evtchn", "x"]) == 2
    assert "interval must be a positive integer" in capsys.readouterr().err


LSEVTCHN = """\
   1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 2
   2: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 1
   5: VCPU 1: Virtual IRQ 0
   7: VCPU 0: Interdomain (Waiting connection) - Remote Domain 3
   9: VCPU 0: Interdomain (Connected) - Remote Domain 4, Port 12
  10: VCPU 0: IPI
"""


def test_parse_lsevtchn():
    assert cmd_evtchn.parse_lsevtchn(LSEVTCHN) == {1: 0, 2: 0, 7: 3, 9: 4}


SNAP = cmd_evtchn.Snapshot(
    user_sends={(100, 9): 40, (100, 7): 2, (200, 30): 5},
    kernel_sends={55: 3},
    deliveries={(60, "evtchn:ivcom-server"): 38},
    upcalls={0: 50, 1: 12},
    grant_maps={100: 4},
    latency={60: {10: 5, 12: 30, 13: 3}},
)
PORTS = {9: 4, 7: 3}


def test_snapshot_json_per_domain():
    doc = cmd_evtchn.snapshot_json(SNAP, PORTS)
    assert doc["sends_by_domain"] == {"3": 2, "4": 40, "unknown": 5}
    assert doc["deliveries"] == [{"irq": 60, "name": "evtchn:ivcom-server", "count": 38}]
    assert doc["latency_log2_ns"] == {"60": {"10": 5, "12": 30, "13": 3}}
    assert doc["upcalls"] == {"0": 50, "1": 12}
    json.dumps(doc)
    only4 = cmd_evtchn.snapshot_json(SNAP, PORTS, domid=4)
    assert only4["user_sends"] == [{"tgid": 100, "port": 9, "remote_domid": 4, "count": 40}]
    assert "kernel_sends" not in only4


def test_format_snapshot_and_histogram():
    text = cmd_evtchn.format_snapshot(SNAP, PORTS, stamp="12:00:00")
    assert text.splitlines()[0] == "12:00:00"
    assert "sends by remote domain: d3 2, d4 40, unknown 5" in text
    assert "evtchn:ivcom-server" in text
    hist = cmd_evtchn.log2_hist_lines({10: 5, 12: 30})
    assert len(hist) == 1 + 3  # header + slots 10..12
    assert hist[1].split(":")[0].split() == ["512", "->", "1023"]
    assert hist[3].endswith("|" + "*" * 30 + "|")
    assert max(len(line) for line in text.splitlines()) <= 80
