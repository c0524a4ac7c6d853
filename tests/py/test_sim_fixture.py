"""The sim fixture and the `ivcom sim` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from ivcom import cli
from ivcom import sim as simmod


def test_fixture_is_up(sim: simmod.Sim) -> None:
    assert sim.is_running()
    assert sim.xenstored_socket.is_socket()
    assert (sim.dir / "simhv.sock").is_socket()
    assert os.path.exists(f"/proc/{sim.xenstored_pid}")
    # xenstored runs with the shim preloaded, not as a system service.
    environ = Path(f"/proc/{sim.xenstored_pid}/environ").read_bytes().split(b"\0")
    assert any(e.startswith(b"LD_PRELOAD=") and e.endswith(b"libivcom-xsshim.so") for e in environ)


def test_env(sim: simmod.Sim) -> None:
    env = sim.domain_env(7)
    assert env["IVCOM_PLATFORM"] == "sim"
    assert env["IVCOM_SIM_DIR"] == str(sim.dir)
    assert env["XENSTORED_PATH"] == str(sim.dir / "xenstored.sock")
    assert env["IVCOM_SIM_DOMID"] == "7"
    with pytest.raises(simmod.SimError, match="out of range"):
        sim.domain_env(40000)


def test_libxenstore_tools_see_the_store(sim: simmod.Sim) -> None:
    """Debian's xenstore-* tools reach the sim through XENSTORED_PATH."""
    env = {**os.environ, **sim.env}
    subprocess.run(["xenstore-write", "/tool/simtest", "v1"], env=env, check=True)
    out = subprocess.run(
        ["xenstore-read", "/tool/simtest"], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "v1"


def test_cli_status_and_env(sim: simmod.Sim, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sim", "status", "-d", str(sim.dir)]) == 0
    out = capsys.readouterr().out
    assert f"simhv pid {sim.simhv_pid}" in out
    assert cli.main(["sim", "env", "-d", str(sim.dir), "--domid", "3"]) == 0
    out = capsys.readouterr().out
    assert f"export IVCOM_SIM_DIR={sim.dir}" in out
    assert "export IVCOM_SIM_DOMID=3" in out


def test_cli_status_without_sim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sim", "status", "-d", str(tmp_path)]) == 3
    assert "no sim is running" in capsys.readouterr().out


def test_cli_stop_without_sim_is_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sim", "stop", "-d", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sim is running" in err


def test_missing_binaries_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(simmod.SimError, match="ivcom-simhv is missing"):
        simmod.start(tmp_path / "s", build=tmp_path)


def test_cli_start_stop_second_sim(sim: simmod.Sim, tmp_path: Path) -> None:
    """A second, independent sim starts and stops through the CLI."""
    d = tmp_path / "s2"
    assert cli.main(["sim", "start", "-d", str(d)]) == 0
    s2 = simmod.attach(d)
    assert s2.is_running() and s2.simhv_pid != sim.simhv_pid
    assert cli.main(["sim", "start", "-d", str(d)]) == 1  # already running
    assert cli.main(["sim", "stop", "-d", str(d)]) == 0
    assert not (d / "ready").exists()
    assert sim.is_running()
