"""Lab building blocks that need no QEMU: cpio, ELF, scenarios, CLI errors."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ivcom.cli import main
from ivcom.lab import elf
from ivcom.lab.cpio import CpioWriter
from ivcom.lab.errors import LabError, QemuUnavailable
from ivcom.lab.runner import LabRunner, Scenario, builtin_names, check_qemu
from ivcom.lab.tools import build_tools


def test_cpio_round_trips_through_cpio_tool(tmp_path):
    if shutil.which("cpio") is None:
        pytest.skip("cpio(1) not installed: cannot cross-check the writer")
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 5 + b"x")
    buf = io.BytesIO()
    cw = CpioWriter(buf)
    cw.data("/etc/hello", b"hi\n", 0o644)
    cw.file("/usr/local/bin/tool", src, 0o755)
    cw.symlink("/bin/sh", "busybox")
    cw.mkdir("/empty")
    cw.data("/etc/hello", b"ignored duplicate\n")
    cw.close()
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], input=buf.getvalue(), cwd=out, check=True)
    assert (out / "etc/hello").read_bytes() == b"hi\n"
    assert (out / "usr/local/bin/tool").read_bytes() == src.read_bytes()
    assert (out / "usr/local/bin/tool").stat().st_mode & 0o777 == 0o755
    assert (out / "bin/sh").is_symlink() and str((out / "bin/sh").readlink()) == "busybox"
    assert (out / "empty").is_dir()


def test_dynamic_info_of_python_interpreter():
    info = elf.dynamic_info(Path(sys.executable).resolve())
    assert info is not None
    assert any(n.startswith("libc.so") for n in info.needed)


def test_non_elf_is_not_elf(tmp_path):
    p = tmp_path / "text"
    p.write_text("#!/bin/sh\n")
    assert elf.dynamic_info(p) is None
    assert not elf.is_elf(p)
    assert elf.modinfo(p) == {}
    t = tmp_path / "trunc"
    t.write_bytes(b"\x7fELF\x02\x01" + b"\xff" * 100)
    assert elf.dynamic_info(t) is None


def test_builtin_scenarios_present():
    assert {"smoke", "pv", "vchan", "net", "baseline"} <= set(builtin_names())
    assert "xl info" in Scenario.builtin("smoke").script


def test_unknown_scenario_is_a_one_line_error(capsys):
    assert main(["lab", "run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ivcom: error: no built-in scenario 'no-such-scenario'")
    assert "\n" not in err


def test_missing_scenario_file_is_a_one_line_error(capsys, tmp_path):
    assert main(["lab", "run", str(tmp_path / "nope.sh")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot read scenario" in err and "\n" not in err


def test_bad_timeout_is_a_usage_error(capsys):
    assert main(["lab", "run", "--timeout", "-3", "smoke"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_check_qemu_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(QemuUnavailable) as exc:
        check_qemu()
    assert exc.value.exit_code == 77
    assert "not found" in str(exc.value)


def test_duplicate_scenarios_refused(tmp_path):
    img = type("Img", (), {})()
    r = LabRunner(img, status=None)  # type: ignore[arg-type]
    with pytest.raises(LabError, match="unique"):
        r.boot([Scenario("a", "true"), Scenario("a", "true")])
    with pytest.raises(LabError, match="bad scenario name"):
        r.boot([Scenario("../evil", "true")])


def test_qemu_argv_escapes_commas(tmp_path):
    from ivcom.lab.image import LabImage
    d = tmp_path / "a,b"
    img = LabImage("k", d, d / "xen", d / "vmlinuz", d / "dom0.cpio", "6.1")
    argv = LabRunner(img, status=None).qemu_argv("qemu", tmp_path / "run,1")
    initrd = argv[argv.index("-initrd") + 1]
    assert initrd.startswith(str(tmp_path / "a,,b" / "vmlinuz") + " console=hvc0")
    assert initrd.endswith("," + str(tmp_path / "a,,b" / "dom0.cpio"))
    assert "path=" + str(tmp_path / "run,,1") + "," in argv[argv.index("-virtfs") + 1]
    assert argv[argv.index("-cpu") + 1] == "max,-smap,-xsave"


def test_qemu_accel_is_multi_threaded_tcg_unless_told(tmp_path, monkeypatch):
    from ivcom.lab.image import LabImage
    img = LabImage("k", tmp_path, tmp_path / "xen", tmp_path / "vmlinuz", tmp_path / "d.cpio",
                   "6.1")
    monkeypatch.delenv("IVCOM_LAB_ACCEL", raising=False)
    argv = LabRunner(img, status=None).qemu_argv("qemu", tmp_path)
    assert argv[argv.index("-accel") + 1] == "tcg,thread=multi"
    monkeypatch.setenv("IVCOM_LAB_ACCEL", "tcg,thread=single")
    argv = LabRunner(img, status=None).qemu_argv("qemu", tmp_path)
    assert argv[argv.index("-accel") + 1] == "tcg,thread=single"


@pytest.mark.parametrize("rr,bulk", [("rr:64", "bulk:1:1"), ("bulk:64:10", "bulk:1:1"),
                                     ("rr:64:10", "rr:1:1"), ("rr:0:5", "bulk:1:1"),
                                     ("rr:99999:5", "bulk:1:1")])
def test_baseline_rejects_bad_specs(rr, bulk):
    from ivcom.lab.baseline import run_baseline

    with pytest.raises(LabError) as exc:
        run_baseline(rr=rr, bulk=bulk)
    assert exc.value.exit_code == 2


def _lab_tcp() -> str:
    return str(build_tools()["lab-tcp"])


@pytest.mark.parametrize("spec,check", [
    (["rr", "64", "200"], lambda r: r["count"] == 200),
    (["rrt", "64", "1"], lambda r: r["count"] > 1),
])
def test_lab_tcp_round_trips_over_loopback(spec, check):
    """The TCP baseline tool on the host: counted and timed round trips."""
    exe = _lab_tcp()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    srv = subprocess.Popen([exe, "server", port, "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        cli = subprocess.run([exe, "client", "127.0.0.1", port, *spec], capture_output=True,
                             text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        _, err = srv.communicate(timeout=30)
        assert srv.returncode == 0, err
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    line = [ln for ln in cli.stdout.splitlines() if ln.startswith("ivcom-result: ")]
    res = json.loads(line[0].split(": ", 1)[1])
    assert res["mode"] == "rr" and res["size"] == 64 and check(res)
    assert 0 < res["min_us"] <= res["median_us"] <= res["max_us"]


def test_lab_tcp_rejects_zero_seconds():
    r = subprocess.run([_lab_tcp(), "client", "127.0.0.1", "1", "rrt", "64", "0"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage: lab-tcp" in r.stderr


# ---- KTAP verdicts (ivcom.lab.ktap) -------------------------------------------------


def test_ktap_parses_ok_and_not_ok_lines():
    from ivcom.lab import ktap

    v = ktap.parse("ok 1 p1 la served\nnot ok 2 p1 t1 served # FAILURE pingpong: x # y\n")
    assert v["p1 la served"] == ktap.Verdict(True, 1, "p1 la served", "")
    assert v["p1 t1 served"] == ktap.Verdict(False, 2, "p1 t1 served", "FAILURE pingpong: x # y")


def test_ktap_refuses_a_line_that_is_not_ktap(tmp_path):
    from ivcom.lab import ktap
    from ivcom.lab.errors import LabError

    with pytest.raises(LabError, match="not a KTAP line"):
        ktap.parse("ok 1 fine\nsomething else\n")
    with pytest.raises(LabError, match="cannot read"):
        ktap.read(tmp_path)
