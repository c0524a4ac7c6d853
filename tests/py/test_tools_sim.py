"""libivcom's command-line tools on the sim: --duration ends a session on
time (the lab's traced sessions rely on it), a sink given --count fails a
stream that ends short, bad options fail in one line; the benchmark's
timing options (--reconnect, --at -) and ivcom-sockbench's TCP set-up and
fan-in give complete records."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from ivcom import sim as simmod

BIG = "100000000"


def _bin(name: str) -> str:
    return str(simmod.build_dir() / "bin" / name)


def _run(sim: simmod.Sim, tool: str, name: str, server: list[str], client: list[str],
         srv_dom: int = 11, cli_dom: int = 12) -> tuple[subprocess.Popen[str], str, str,
                                                        subprocess.Popen[str], str, str]:
    """Run TOOL as a server in srv_dom and a client in cli_dom; returns the
    server process (finished), its stdout and stderr, then the client's."""
    # the client first: XenStore only lets an offer name a live domain
    cli = subprocess.Popen([_bin(tool), "-p", str(srv_dom), "-n", name, "-t", "20000", "-j",
                            *client, "client"], env={**os.environ, **sim.domain_env(cli_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    srv = subprocess.Popen([_bin(tool), "-p", str(cli_dom), "-n", name, "-t", "20000", "-j",
                            *server, "server"], env={**os.environ, **sim.domain_env(srv_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        c_out, c_err = cli.communicate(timeout=60)
        s_out, s_err = srv.communicate(timeout=60)
    finally:
        for p in (cli, srv):
            if p.poll() is None:
                p.kill()
                p.wait()
    return srv, s_out, s_err, cli, c_out, c_err


def _pair(sim: simmod.Sim, tool: str, name: str, server: list[str], client: list[str],
          srv_dom: int = 11, cli_dom: int = 12) -> tuple[dict[str, object], str, str]:
    """_run, both sides must succeed; returns the JSON line of the side that
    reports (pingpong: client; stream: server) and both stderrs."""
    srv, s_out, s_err, cli, c_out, c_err = _run(sim, tool, name, server, client, srv_dom,
                                                cli_dom)
    assert cli.returncode == 0, c_err
    assert srv.returncode == 0, s_err
    out = c_out if tool == "ivcom-pingpong" else s_out
    return json.loads(out.strip().splitlines()[-1]), s_err, c_err


def test_pingpong_duration_ends_on_time(sim: simmod.Sim) -> None:
    res, s_err, _ = _pair(sim, "ivcom-pingpong", "dur-pp", [], ["-D", "1", "-c", BIG])
    n = res["count"]
    assert isinstance(n, int) and 0 < n < int(BIG)
    # the server echoed the warm-up rounds and every measured one
    assert f"server echoed {n + 1000} messages" in s_err
    rtt = res["rtt_ns"]
    assert isinstance(rtt, dict) and 0 < rtt["min"] <= rtt["median"] <= rtt["p99"]


@pytest.mark.parametrize("mode", [[], ["-S"]], ids=["message", "stream"])
def test_stream_duration_ends_on_time(sim: simmod.Sim, mode: list[str]) -> None:
    res, _, _ = _pair(sim, "ivcom-stream", f"dur-st{len(mode)}", [*mode, "-s", "256"],
                      [*mode, "-s", "256", "-D", "1", "-c", BIG])
    nbytes = res["bytes"]
    assert isinstance(nbytes, int) and 0 < nbytes < 256 * int(BIG)
    assert nbytes % 256 == 0 and res["receives"] == nbytes // 256


def test_count_still_bounds_a_duration_run(sim: simmod.Sim) -> None:
    res, _, _ = _pair(sim, "ivcom-stream", "dur-count", [], ["-D", "3600", "-c", "5000"])
    assert res["receives"] == 5000


@pytest.mark.parametrize("mode", [[], ["-S"]], ids=["message", "stream"])
def test_sink_count_fails_a_short_stream(sim: simmod.Sim, mode: list[str]) -> None:
    # Without -c on the sink an early end would pass as the end of the stream.
    unit = "writes" if mode else "messages"
    srv, _, s_err, cli, _, c_err = _run(sim, "ivcom-stream", f"short{len(mode)}",
                                        [*mode, "-c", "100"], [*mode, "-c", "50"])
    assert cli.returncode == 0, c_err
    assert srv.returncode == 1
    assert s_err == f"ivcom-stream: error: got 50 of 100 {unit}: " \
                    "peer closed the channel or died\n"


@pytest.mark.parametrize("mode", [[], ["-S"]], ids=["message", "stream"])
def test_sink_count_met(sim: simmod.Sim, mode: list[str]) -> None:
    res, s_err, _ = _pair(sim, "ivcom-stream", f"full{len(mode)}", [*mode, "-c", "100"],
                          [*mode, "-c", "100"])
    assert res["receives"] == 100 and res["bytes"] == 6400
    assert s_err == ""


def test_sink_count_fails_a_long_stream(sim: simmod.Sim) -> None:
    srv, _, s_err, cli, _, _ = _run(sim, "ivcom-stream", "long", ["-c", "100"], ["-c", "150"])
    assert srv.returncode == 1
    assert s_err == "ivcom-stream: error: got more than the 100 messages expected\n"
    # the source learns it when the sink leaves with its messages unread
    assert cli.returncode == 1


@pytest.mark.parametrize("arg", ["0", "-3", "1x", "90000"])
def test_bad_duration_is_one_line(arg: str) -> None:
    exe = Path(_bin("ivcom-pingpong"))
    if not exe.exists():
        pytest.skip(f"{exe} not built (make core)")
    r = subprocess.run([str(exe), "-p", "1", "-D", arg, "client"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--duration" in r.stderr


def test_pingpong_server_without_peer_serves_many(sim: simmod.Sim) -> None:
    """ivcom-pingpong's server without -p is a service: three allowed client
    domains at once, each reported; a domain outside --allow is refused."""
    srv_dom, clients, outsider = 41, [42, 43, 44], 45
    srv = subprocess.Popen([_bin("ivcom-pingpong"), "-n", "pp-svc", "-t", "20000", "-j",
                            "--allow", ",".join(map(str, clients)), "--clients", "3", "server"],
                           env={**os.environ, **sim.domain_env(srv_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [subprocess.Popen([_bin("ivcom-pingpong"), "-p", str(srv_dom), "-n", "pp-svc",
                               "-t", "20000", "-c", "500", "-j", "client"],
                              env={**os.environ, **sim.domain_env(d)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in [*clients, outsider]]
    try:
        outs = [p.communicate(timeout=60) for p in procs]
        s_out, s_err = srv.communicate(timeout=60)
    finally:
        for p in [srv, *procs]:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs[:3], outs[:3], strict=True):
        assert p.returncode == 0, err
    assert procs[3].returncode != 0
    assert "permission denied" in outs[3][1]
    assert srv.returncode == 0, s_err
    reports = [json.loads(line) for line in s_out.splitlines()]
    assert sorted(r["client"] for r in reports) == clients
    assert all(r["echoed"] == 500 + 50 and r["error"] == "" for r in reports)


def test_allow_needs_a_service() -> None:
    proc = subprocess.run([_bin("ivcom-pingpong"), "-p", "3", "--allow", "4", "server"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--allow" in proc.stderr
    proc = subprocess.run([_bin("ivcom-pingpong"), "--allow", "4,x", "server"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2 and "--allow takes domain ids" in proc.stderr


@pytest.mark.parametrize("mode", [[], ["-S"]], ids=["message", "stream"])
def test_stream_service_checks_each_client(sim: simmod.Sim, mode: list[str]) -> None:
    """ivcom-stream's sink without -p serves several sources at once and
    checks each one's sequence; with -c, a source that stops short fails
    its own report (and the exit status), not the others'."""
    srv_dom, full, short = 51, [52, 53], 54
    srv = subprocess.Popen([_bin("ivcom-stream"), "-n", "st-svc", "-t", "20000", "-j", "-s",
                            "1000", "-c", "300", "--clients", "3", *mode, "server"],
                           env={**os.environ, **sim.domain_env(srv_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [subprocess.Popen([_bin("ivcom-stream"), "-p", str(srv_dom), "-n", "st-svc",
                               "-t", "20000", "-s", "1000", "-c", str(n), *mode, "client"],
                              env={**os.environ, **sim.domain_env(d)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d, n in ((full[0], 300), (full[1], 300), (short, 120))]
    try:
        outs = [p.communicate(timeout=60) for p in procs]
        s_out, s_err = srv.communicate(timeout=60)
    finally:
        for p in [srv, *procs]:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert srv.returncode == 1, s_err
    reports = {r["client"]: r for r in map(json.loads, s_out.splitlines())}
    assert sorted(reports) == [*full, short]
    for d in full:
        assert reports[d]["received"] == 300 and reports[d]["error"] == ""
        assert reports[d]["bytes"] == 300 * 1000
    assert reports[short]["received"] == 120 and reports[short]["error"] != ""


@pytest.mark.parametrize("service", [False, True], ids=["one-peer", "service"])
def test_reconnect_reports_each_setup(sim: simmod.Sim, service: bool) -> None:
    """--reconnect N: N connections one after another, one echo each, and
    one set-up time per connection; the server (service or -p) serves them
    all and ends."""
    srv_dom, cli_dom, n = 61, 62, 5
    name = f"recon{int(service)}"
    server = (["--clients", str(n), "-j"] if service
              else ["-p", str(cli_dom), "--reconnect", str(n)])
    # XenStore only lets an offer name a live domain: the client's is up first
    hold = sim.hold_domain(cli_dom)
    srv = subprocess.Popen([_bin("ivcom-pingpong"), "-n", name, "-t", "20000", *server,
                            "server"], env={**os.environ, **sim.domain_env(srv_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cli = subprocess.run([_bin("ivcom-pingpong"), "-p", str(srv_dom), "-n", name, "-t",
                              "20000", "-j", "--reconnect", str(n), "--gap", "5", "client"],
                             env={**os.environ, **sim.domain_env(cli_dom)},
                             capture_output=True, text=True, timeout=60)
        s_out, s_err = srv.communicate(timeout=60)
    finally:
        hold.close()
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    assert cli.returncode == 0, cli.stderr
    assert srv.returncode == 0, s_err
    res = json.loads(cli.stdout)
    assert res["role"] == "reconnect" and res["count"] == n and res["gap_ms"] == 5
    assert len(res["setup_us"]) == n and all(t > 0 for t in res["setup_us"])
    if service:
        reports = [json.loads(line) for line in s_out.splitlines()]
        assert [(r["client"], r["echoed"], r["error"]) for r in reports] == [(cli_dom, 1, "")] * n
    else:
        assert s_err.count("server echoed 1 messages") == n


def test_clients_start_together_on_stdin(sim: simmod.Sim) -> None:
    """--at -: each client says ready once connected (and warmed up), then
    starts at the time read from stdin; its report spans from there."""
    srv_dom, clients = 71, [72, 73]
    srv = subprocess.Popen([_bin("ivcom-pingpong"), "-n", "at-svc", "-t", "20000", "-j",
                            "--clients", "2", "server"],
                           env={**os.environ, **sim.domain_env(srv_dom)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [subprocess.Popen([_bin("ivcom-pingpong"), "-p", str(srv_dom), "-n", "at-svc",
                               "-t", "20000", "-c", "300", "-j", "--at", "-", "client"],
                              env={**os.environ, **sim.domain_env(d)}, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in clients]
    try:
        for p in procs:
            assert p.stderr is not None
            assert p.stderr.readline() == "ivcom-pingpong: ready\n"
        at = time.monotonic() + 0.2
        outs = [p.communicate(f"{at:.6f}\n", timeout=60) for p in procs]
        _, s_err = srv.communicate(timeout=60)
    finally:
        for p in [srv, *procs]:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert srv.returncode == 0, s_err
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        res = json.loads(out)
        assert res["count"] == 300
        assert res["mono_begin_ns"] >= int(at * 1e9) and res["mono_end_ns"] > res["mono_begin_ns"]


@pytest.mark.parametrize(("args", "word"), [
    (["--at", "-", "server"], "--at"), (["-p", "3", "--at", "x", "client"], "--at"),
    (["--reconnect", "3", "server"], "--reconnect"), (["-p", "3", "--gap", "-1", "client"],
                                                      "--gap")])
def test_timing_options_fail_in_one_line(args: list[str], word: str) -> None:
    proc = subprocess.run([_bin("ivcom-pingpong"), *args], capture_output=True, text=True,
                          timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and word in proc.stderr


def test_sockbench_connect_and_fanin() -> None:
    """ivcom-sockbench's TCP set-up and fan-in records are complete."""
    r = subprocess.run([_bin("ivcom-sockbench"), "-j", "-c", "5", "-g", "1", "tcp", "connect"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["mode"] == "connect" and len(res["setup_us"]) == 5
    for mode in ("pingpong", "stream"):
        r = subprocess.run([_bin("ivcom-sockbench"), "-j", "-n", "3", "-D", "1", "-s", "512",
                            "tcp", mode], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert res["clients"] == 3 and len(res["per_client"]) == 3
        assert min(res["per_client"]) > 0 and res["ops"] == sum(res["per_client"])
        assert res["bytes"] == 512 * res["ops"] and res["seconds"] >= 1.0
