"""libivcom inside the tiny guest, on real Xen in the lab (one boot).

The tiny guest's IVCOM apps (echo, pingpong, source, sink; the minios
platform backend) are proven against each other domU to domU, against
libivcom's Linux tools in dom0 (xen-linux backend), against a peer that
is destroyed mid-stream and against a hostile client, and the figures the
benchmark wants are collected (image size, memory, time to "ready",
round trip and throughput tiny<->tiny).

Each case is its own scenario (a failure in one does not hide the
others); all run in ONE lab boot.  The guest images, the xl config
template, ivcom-pingpong / ivcom-stream (`make core`) and the hostile
client travel as the runner's shared files ($LAB_FILES), so the standard
lab image serves as is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from guest_helpers import (
    APP_DIR,
    GUEST_SH,
    OUT,
    ROOT,
    ScenarioRuns,
    core_tools,
    key_values,
    result_of,
)

pytestmark = pytest.mark.lab

TT_COUNT = 2000             # tiny<->tiny round trips
DOM0_COUNT = 1000           # round trips with a dom0 process
STREAM_COUNT = 20000        # messages tiny->tiny
STREAM_SIZE = 1024
D0_STREAM_COUNT = 5000      # messages between a tiny guest and dom0


def warm(n: int) -> int:
    """Warm-up rounds before the measured ones (ivcom-pingpong's rule)."""
    return min(n // 10, 1000)


APPS = ("echo", "pingpong", "source", "sink")
CORE_TOOLS = ("ivcom-pingpong", "ivcom-stream")
HOSTILE_SRC = ROOT / "tests" / "lab-tools" / "lab-ivcom-hostile.c"

PRELUDE = GUEST_SH + r"""
guest_files
diag() {
    xl dmesg >xl-dmesg.txt 2>&1
    dmesg | tail -n 60 >dom0-dmesg-tail.txt 2>&1
}
"""

SCN_TT = f"""
# tiny <-> tiny, dom0 not in the data path: echo server + pingpong client,
# then source -> sink in message and in stream mode.
pair ttecho echo "role=server name=tt-pp" \\
     ttping pingpong "role=client name=tt-pp count={TT_COUNT} size=64"
pair ttsink sink "role=server name=tt-st size={STREAM_SIZE} count={STREAM_COUNT}" \\
     ttsrc source "role=client name=tt-st size={STREAM_SIZE} count={STREAM_COUNT}"
pair ttssink sink "role=server name=tt-ss mode=stream size={STREAM_SIZE} count={STREAM_COUNT}" \\
     ttssrc source "role=client name=tt-ss mode=stream size={STREAM_SIZE} count={STREAM_COUNT}"
diag
"""

SCN_DOM0 = f"""
# A tiny guest against libivcom's Linux tools in dom0 (xen-linux backend).
# 1. ivcom-pingpong server in dom0, tiny pingpong client.
guest_cfg d0ping pingpong "role=client peer=0 name=d0-pp count={DOM0_COUNT}"
guest_create d0ping -p
guest_domid g d0ping
echo "$g" >domid-d0ping
lab_fault_rerun pp-server.out pp-server.err \\
    timeout 150 ivcom-pingpong -p "$g" -n d0-pp -t 60000 server &
spid=$!
guest_unpause d0ping
guest_finish d0ping
wait $spid
echo $? >pp-server.rc

# 2. tiny echo server, ivcom-pingpong client in dom0.
guest_cfg d0echo echo "role=server peer=0 name=d0-echo"
guest_create d0echo
guest_domid g d0echo
echo "$g" >domid-d0echo
lab_fault_rerun pp-client.json pp-client.err \\
    timeout 150 ivcom-pingpong -p "$g" -n d0-echo -c {DOM0_COUNT} -t 60000 -j client
echo $? >pp-client.rc
guest_finish d0echo

# 3. tiny source -> ivcom-stream sink (server) in dom0.
guest_cfg d0src source "role=client peer=0 name=d0-st size={STREAM_SIZE} count={D0_STREAM_COUNT}"
guest_create d0src -p
guest_domid g d0src
lab_fault_rerun st-server.json st-server.err \\
    timeout 150 ivcom-stream -p "$g" -n d0-st -s {STREAM_SIZE} -c {D0_STREAM_COUNT} -t 60000 -j \\
    server &
spid=$!
guest_unpause d0src
guest_finish d0src
wait $spid
echo $? >st-server.rc

# 4. ivcom-stream source (client) in dom0 -> tiny sink.
guest_cfg d0sink sink "role=server peer=0 name=d0-sk size={STREAM_SIZE} count={D0_STREAM_COUNT}"
guest_create d0sink
guest_domid g d0sink
lab_fault_rerun st-client.out st-client.err \\
    timeout 150 ivcom-stream -p "$g" -n d0-sk -s {STREAM_SIZE} -c {D0_STREAM_COUNT} -t 60000 client
echo $? >st-client.rc
guest_finish d0sink
diag
"""

SCN_DESTROY = r"""
# A peer destroyed with `xl destroy` mid-stream: the survivor must say
# -EPIPE instead of hanging.  (The tiny guest has no unmap notify, and a
# destroyed domain runs none: only the XenStore presence probe can tell.)
# 1. tiny sink survives a destroyed tiny source.
pair_start dsink sink "role=server name=d-st size=64 count=100000000" \
           dsrc source "role=client name=d-st size=64 count=100000000"
wait_console dsink '^sink: connected' 90
sleep 2
t0=$(now_ms)
xl destroy dsrc
keep_console dsrc
guest_finish dsink
echo "$(( $(now_ms) - t0 ))" >dsink-detect-ms

# 2. an ivcom-stream source in dom0 survives a destroyed tiny sink.
guest_cfg dsink2 sink "role=server peer=0 name=d-st2 size=64"
guest_create dsink2
guest_domid g dsink2
timeout 120 ivcom-stream -p "$g" -n d-st2 -s 64 -c 1000000000000 -t 60000 client \
    >dsrc0.out 2>dsrc0.err &
spid=$!
wait_console dsink2 '^sink: connected' 90
sleep 2
t0=$(now_ms)
xl destroy dsink2
keep_console dsink2
wait $spid
echo $? >dsrc0.rc
echo "$(( $(now_ms) - t0 ))" >dsrc0-detect-ms
diag
"""

SCN_HOSTILE = r"""
# A hostile dom0 client: maps a tiny echo server's channel by hand, sends
# one honest message, then publishes an impossible producer index.
guest_cfg hecho echo "role=server peer=0 name=hx"
guest_create hecho
guest_domid g hecho
echo "$g" >domid-hecho
lab_offer_wait "$g" hx
pres=/local/domain/0/data/ivcom-client/$g/hx
xenstore-write "$pres" connected && xenstore-chmod "$pres" n0 "r$g" \
    || lab_fail "cannot write the presence node"
timeout 90 lab-ivcom-hostile "$g" "$ref" "$port" >hostile.out 2>hostile.err
echo $? >hostile.rc
guest_finish hecho
diag
"""

SCN_LINUX = f"""
# A tiny guest against libivcom's Linux tools in a Linux PV domU (lx, the
# lab's agent guest): dom0 is in neither data path.
. /lab/ivcom-lib.sh
agent_guest lx
agent_ready lx
L=$(agent_id lx)
echo "$L" >domid-lx
# 1. tiny pingpong client -> ivcom-pingpong server in lx.  The tiny guest
# is created paused: an offer may only name a domain that exists.
guest_cfg lxping pingpong "role=client peer=$L name=lx-pp count={DOM0_COUNT}"
guest_create lxping -p
guest_domid g lxping
agent_start lx sn ivcom-pingpong -p "$g" -n lx-pp -t 60000 server
guest_unpause lxping
guest_finish lxping
agent_wait lx "$sn" lx-pp.server 120
echo $? >lx-pp.server.rc
# 2. ivcom-stream source (client) in lx -> tiny sink.
guest_cfg lxsink sink "role=server peer=$L name=lx-st size={STREAM_SIZE} count={D0_STREAM_COUNT}"
guest_create lxsink
guest_domid g lxsink
agent_start lx cn ivcom-stream -p "$g" -n lx-st -s {STREAM_SIZE} -c {D0_STREAM_COUNT} \\
    -t 60000 client
agent_wait lx "$cn" lx-st.client 180
echo $? >lx-st.client.rc
guest_finish lxsink
diag
"""

SCN_HOSTILE_DOMU = r"""
# A hostile Linux PV domU (hx) attacks, with lab-ivcom-hostile, a tiny
# echo server and a Linux process (ivcom-pingpong in dom0): once with an
# impossible producer index, once with an impossible message header.
. /lab/ivcom-lib.sh
agent_guest hx
agent_ready hx
H=$(agent_id hx)
echo "$H" >domid-hx
# attack SERVER NAME MODE TAG: hx writes its presence node (in its own
# XenStore home, readable by the server) and runs the hostile client.
attack() {
    local c
    agent_start hx c xenstore write "data/ivcom-client/$1/$2" connected
    agent_ok hx "$c" "$4.presence" 60
    agent_start hx c xenstore chmod "data/ivcom-client/$1/$2" "n$H" "r$1"
    agent_ok hx "$c" "$4.chmod" 60
    agent_start hx c lab-ivcom-hostile "$1" "$ref" "$port" "$3"
    agent_wait hx "$c" "$4.hostile" 120
    echo $? >"$4.hostile.rc"
}
for mode in index header; do
    guest_cfg ht-$mode echo "role=server peer=$H name=hx-$mode"
    guest_create ht-$mode
    guest_domid g "ht-$mode"
    lab_offer_wait "$g" "hx-$mode"
    attack "$g" "hx-$mode" "$mode" "tiny-$mode"
    guest_finish ht-$mode
done
for mode in index header; do
    lab_fault_rerun "linux-$mode.server" "linux-$mode.server.err" \
        timeout 150 ivcom-pingpong -p "$H" -n hl-$mode -t 60000 server &
    spid=$!
    lab_offer_wait 0 "hl-$mode"
    attack 0 "hl-$mode" "$mode" "linux-$mode"
    wait $spid
    echo $? >"linux-$mode.server.rc"
done
diag
"""

SCN_BOOT = r"""
# Time from `xl create` to the guest's ready line: the tiny guest (three
# times) and a Linux PV domU (the lab's standard guest), same boot.
# figure GUEST RUN MS MEMORY_MIB IMAGE_BYTES: one JSON line.
figure() {
    printf '{"figure": "create_to_ready_ms", "guest": "%s", "run": %s, "ms": %s, ' \
        "$1" "$2" "$3" >>figures.jsonl
    printf '"memory_mib": %s, "image_bytes": %s}\n' "$4" "$5" >>figures.jsonl
}
for i in 1 2 3; do
    guest_cfg tboot$i sink "role=server peer=0 name=tboot timeout=500"
    t0=$(now_ms)
    guest_create tboot$i
    wait_console tboot$i '^ivcom-guest: ready' 60
    t1=$(now_ms)
    mem=$(sed -n 's/^memory *= *//p' tboot$i.cfg)
    size=$(wc -c <"$G/ivcom-guest-sink.elf")
    figure tiny "$i" $((t1 - t0)) "$mem" "$size"
    guest_finish tboot$i
done
t0=$(now_ms)
lab_guest pvboot run=/bin/sleep args=600
lab_poll_console pvboot '^ivcom-guest: pvboot up' 150 || lab_fail "pvboot: no marker"
t1=$(now_ms)
mem=$(sed -n 's/^memory *= *//p' "$LAB_CFG_DIR/pvboot.cfg")
size=$(wc -c <"$LAB_GUEST_KERNEL")
figure linux-pv 1 $((t1 - t0)) "$mem" "$size"
lab_destroy pvboot

# Bad input: one clear FAILURE line, then a clean shutdown.
run_guest badrole echo "role=bogus"
run_guest badsize source "peer=0 size=lots"
run_guest nooffer sink "role=client peer=0 name=nobody-here timeout=300"
"""

SCENARIOS = {"ivcom-tt": SCN_TT, "ivcom-dom0": SCN_DOM0, "ivcom-destroy": SCN_DESTROY,
             "ivcom-hostile": SCN_HOSTILE, "ivcom-boot": SCN_BOOT, "ivcom-linux": SCN_LINUX,
             "ivcom-hostile-domu": SCN_HOSTILE_DOMU}


Run = ScenarioRuns


def build_hostile(out: Path) -> Path:
    """The hostile client, libc only (as every tests/lab-tools program)."""
    exe = out / "lab-ivcom-hostile"
    cc = os.environ.get("CC", "gcc")
    proc = subprocess.run([cc, "-O2", "-g0", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
                           "-o", str(exe), str(HOSTILE_SRC)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"cannot build {HOSTILE_SRC.name}:\n{proc.stderr}"
    return exe


@pytest.fixture(scope="module")
def run(guest_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    try:
        import labboot
        from ivcom.lab.image import build_image
        from ivcom.lab.runner import Scenario
        from ivcom.lab.tools import ivcom_payload
    except ImportError as exc:
        pytest.skip(f"the lab runner (ivcom.lab) is not importable: {exc}")
    labboot.require_qemu()
    if shutil.which("make") is None:
        pytest.skip("make not available: cannot build libivcom's tools")

    files: dict[str, Path] = {f"ivcom-guest-{a}.elf": guest_images / f"ivcom-guest-{a}.elf"
                              for a in APPS}
    for name, p in files.items():
        assert p.is_file(), f"{name} was not built (does ivcom-core/src/plat_minios.c exist?)"
    files["guest.cfg.in"] = APP_DIR / "guest.cfg.in"
    files.update(core_tools(CORE_TOOLS))
    files["lab-ivcom-hostile"] = build_hostile(tmp_path_factory.mktemp("hostile"))

    scns = [Scenario(name, PRELUDE + body) for name, body in SCENARIOS.items()]
    _, res = labboot.boot(lambda: build_image(ivcom_payload(), log=True), scns,
                          tag="guest-ivcom", timeout_s=900, scenario_timeout=200.0, files=files)
    return Run.of(res, SCENARIOS)


def domids(run: Run, scn: str, server: str) -> tuple[int, int]:
    a, b = run.text(scn, f"domids-{server}").split()
    return int(a), int(b)


# ---- (a) tiny <-> tiny ---------------------------------------------------------

def test_tiny_pingpong_tiny(run: Run) -> None:
    run.dir("ivcom-tt")
    sid, cid = domids(run, "ivcom-tt", "ttecho")
    assert sid > 0 and cid > 0 and sid != cid       # two domUs: dom0 is no end
    res = run.result("ivcom-tt", "ttping")
    assert res.startswith("SUCCESS pingpong: "), res
    kv = key_values(res)
    assert kv["peer"] == f"dom{sid}"
    assert int(kv["count"]) == TT_COUNT and int(kv["size"]) == 64
    assert int(kv["samples"]) + int(kv["clock_backsteps"]) == TT_COUNT
    assert int(kv["samples"]) > TT_COUNT // 2
    lo, p10, med, p90, hi = (int(kv[f"rtt_{k}_ns"]) for k in ("min", "p10", "median", "p90",
                                                               "max"))
    assert 0 < lo <= p10 <= med <= p90 <= hi
    assert int(kv["rtt_mean_ns"]) == int(kv["total_ns"]) // TT_COUNT > 0
    echo = run.result("ivcom-tt", "ttecho")
    n = TT_COUNT + warm(TT_COUNT)
    assert echo == f"SUCCESS echo: echoed {n} messages ({n * 64} bytes) with dom{cid}"


@pytest.mark.parametrize("server,client,mode", [("ttsink", "ttsrc", "message"),
                                                ("ttssink", "ttssrc", "stream")])
def test_tiny_source_to_tiny_sink(run: Run, server: str, client: str, mode: str) -> None:
    run.dir("ivcom-tt")
    sid, cid = domids(run, "ivcom-tt", server)
    sink = run.result("ivcom-tt", server)
    assert sink.startswith("SUCCESS sink: "), sink
    kv = key_values(sink)
    assert kv["peer"] == f"dom{cid}" and kv["mode"] == mode
    assert int(kv["msgs"]) == STREAM_COUNT
    assert int(kv["bytes"]) == STREAM_COUNT * STREAM_SIZE
    assert int(kv["ns"]) > 0 and int(kv["bytes_per_s"]) > 0
    src = run.result("ivcom-tt", client)
    assert src.startswith("SUCCESS source: "), src
    skv = key_values(src)
    assert skv["peer"] == f"dom{sid}"
    assert int(skv["bytes"]) == STREAM_COUNT * STREAM_SIZE


# ---- (b) tiny guest <-> dom0 Linux process -------------------------------------

def test_dom0_pingpong_server_tiny_client(run: Run) -> None:
    scn = "ivcom-dom0"
    res = run.result(scn, "d0ping")
    err = run.text(scn, "pp-server.err")
    assert res.startswith("SUCCESS pingpong: peer=dom0 "), f"{res}\ndom0 server: {err}"
    assert int(key_values(res)["count"]) == DOM0_COUNT
    assert run.text(scn, "pp-server.rc").strip() == "0", err
    n = DOM0_COUNT + warm(DOM0_COUNT)
    assert f"server echoed {n} messages" in err


def test_tiny_echo_dom0_pingpong_client(run: Run) -> None:
    scn = "ivcom-dom0"
    err = run.text(scn, "pp-client.err")
    assert run.text(scn, "pp-client.rc").strip() == "0", err
    out = json.loads(run.text(scn, "pp-client.json"))
    assert out["platform"] == "xen-linux" and out["count"] == DOM0_COUNT
    # dom0's clock is coarse in the TCG lab: a single round may read 0 ns.
    assert 0 <= out["rtt_ns"]["min"] <= out["rtt_ns"]["median"] <= out["rtt_ns"]["p99"]
    assert out["rtt_ns"]["mean"] > 0
    n = DOM0_COUNT + warm(DOM0_COUNT)
    assert run.result(scn, "d0echo") == \
        f"SUCCESS echo: echoed {n} messages ({n * 64} bytes) with dom0"


def test_tiny_source_dom0_sink(run: Run) -> None:
    scn = "ivcom-dom0"
    src = run.result(scn, "d0src")
    err = run.text(scn, "st-server.err")
    assert src.startswith("SUCCESS source: peer=dom0 "), f"{src}\ndom0 sink: {err}"
    assert run.text(scn, "st-server.rc").strip() == "0", err
    out = json.loads(run.text(scn, "st-server.json"))
    assert out["bytes"] == D0_STREAM_COUNT * STREAM_SIZE
    assert out["receives"] == D0_STREAM_COUNT


def test_dom0_source_tiny_sink(run: Run) -> None:
    scn = "ivcom-dom0"
    err = run.text(scn, "st-client.err")
    assert run.text(scn, "st-client.rc").strip() == "0", \
        f"{err}\ntiny sink's console:\n{run.console(scn, 'd0sink')[-2000:]}"
    sink = run.result(scn, "d0sink")
    assert sink.startswith("SUCCESS sink: peer=dom0 "), f"{sink}\ndom0 source: {err}"
    kv = key_values(sink)
    assert int(kv["msgs"]) == D0_STREAM_COUNT
    assert int(kv["bytes"]) == D0_STREAM_COUNT * STREAM_SIZE


# ---- (c) peer destroyed mid-stream ---------------------------------------------

def test_tiny_sink_survives_destroyed_source(run: Run) -> None:
    scn = "ivcom-destroy"
    res = run.result(scn, "dsink")
    assert res.startswith("FAILURE sink: receive: -EPIPE "), res
    assert " of 100000000 messages" in res
    assert result_of(run.console(scn, "dsrc")) is None     # it never got to say anything
    print(f"tiny sink noticed the destroyed source within "
          f"{run.text(scn, 'dsink-detect-ms').strip()} ms (dom0 clock, 200 ms polling)")


def test_dom0_source_survives_destroyed_tiny_sink(run: Run) -> None:
    scn = "ivcom-destroy"
    rc = run.text(scn, "dsrc0.rc").strip()
    err = run.text(scn, "dsrc0.err")
    assert rc == "1", f"ivcom-stream exit status {rc} (124 = hung until timeout): {err}"
    assert "peer closed the channel or died" in err, err
    assert "sink: connected" in run.console(scn, "dsink2")
    print(f"dom0 source noticed the destroyed sink within "
          f"{run.text(scn, 'dsrc0-detect-ms').strip()} ms")


# ---- (d) hostile peer -----------------------------------------------------------

def test_hostile_producer_index_is_eproto(run: Run) -> None:
    scn = "ivcom-hostile"
    out = run.text(scn, "hostile.out")
    assert run.text(scn, "hostile.rc").strip() == "0", out + run.text(scn, "hostile.err")
    assert "lab-ivcom-hostile: echo ok" in out
    res = run.result(scn, "hecho")
    assert res.startswith("FAILURE echo: receive: -EPROTO "), res
    assert res.endswith("after 1 messages"), res
    con = run.console(scn, "hecho")
    assert "trap " not in con and "panic" not in con, con
    # It shut itself down (guest_finish found it gone) and closed the channel.
    assert not (run.dirs[scn] / "still-running").exists()
    assert "server live byte 2" in out                     # IVCOM_LIVE_CLOSED


@pytest.mark.parametrize("mode", ["index", "header"])
def test_hostile_domu_against_tiny_guest(run: Run, mode: str) -> None:
    scn = "ivcom-hostile-domu"
    out = run.text(scn, f"tiny-{mode}.hostile")
    assert run.text(scn, f"tiny-{mode}.hostile.rc").strip() == "0", \
        out + run.text(scn, f"tiny-{mode}.hostile.err")
    assert "lab-ivcom-hostile: echo ok" in out
    res = run.result(scn, f"ht-{mode}")
    assert res.startswith("FAILURE echo: receive: -EPROTO "), res
    assert res.endswith("after 1 messages"), res
    con = run.console(scn, f"ht-{mode}")
    assert "trap " not in con and "panic" not in con, con
    # it shut itself down (guest_finish found it gone)
    still = run.dirs[scn] / "still-running"
    assert not still.exists() or f"ht-{mode}" not in still.read_text().split()
    assert "server live byte 2" in out                     # IVCOM_LIVE_CLOSED


@pytest.mark.parametrize("mode", ["index", "header"])
def test_hostile_domu_against_linux_process(run: Run, mode: str) -> None:
    scn = "ivcom-hostile-domu"
    out = run.text(scn, f"linux-{mode}.hostile")
    assert run.text(scn, f"linux-{mode}.hostile.rc").strip() == "0", \
        out + run.text(scn, f"linux-{mode}.hostile.err")
    assert "lab-ivcom-hostile: echo ok" in out
    err = run.text(scn, f"linux-{mode}.server.err").strip()
    # the victim said why, in one line, and exited on its own (no signal,
    # no timeout)
    assert run.text(scn, f"linux-{mode}.server.rc").strip() == "1", err
    assert err.splitlines()[-1] == ("ivcom-pingpong: error: receive: peer broke the protocol "
                                    "(channel broken)"), err
    # the process exited on the error: its unmap notify marked it dead
    assert "server live byte 0" in out


def test_tiny_client_linux_domu_server(run: Run) -> None:
    scn = "ivcom-linux"
    res = run.result(scn, "lxping")
    assert res.startswith("SUCCESS pingpong: "), res
    kv = key_values(res)
    assert int(kv["count"]) == DOM0_COUNT
    err = run.text(scn, "lx-pp.server.err")
    assert run.text(scn, "lx-pp.server.rc").strip() == "0", err
    assert f"server echoed {DOM0_COUNT + warm(DOM0_COUNT)} messages" in err


def test_linux_domu_source_tiny_sink(run: Run) -> None:
    scn = "ivcom-linux"
    err = run.text(scn, "lx-st.client.err")
    assert run.text(scn, "lx-st.client.rc").strip() == "0", \
        f"{err}\ntiny sink's console:\n{run.console(scn, 'lxsink')[-2000:]}"
    sink = run.result(scn, "lxsink")
    assert sink.startswith(f"SUCCESS sink: peer=dom{run.text(scn, 'domid-lx').strip()} "), sink
    kv = key_values(sink)
    assert int(kv["msgs"]) == D0_STREAM_COUNT
    assert int(kv["bytes"]) == D0_STREAM_COUNT * STREAM_SIZE


# ---- bad input ------------------------------------------------------------------

@pytest.mark.parametrize("guest,expected", [
    ("badrole", "FAILURE echo: bad role= (server or client)"),
    ("badsize", "FAILURE source: bad size= (a number in [0, 1048576])"),
    # No offer: dom0's directory is not readable by a domU, so the wait
    # ends with the last answer the store gave (-EACCES), not -ETIMEDOUT.
    ("nooffer", "FAILURE sink: connect: -EACCES (permission denied by the peer's grants "
                "or XenStore)"),
])
def test_bad_input_is_one_clear_line(run: Run, guest: str, expected: str) -> None:
    run.dir("ivcom-boot")
    assert run.result("ivcom-boot", guest) == expected
    con = run.console("ivcom-boot", guest)
    assert con.count("ivcom-guest: result: ") == 1 and "trap " not in con
    assert not (run.dirs["ivcom-boot"] / "still-running").exists()


# ---- figures --------------------------------------------------------------------

def test_figures(run: Run) -> None:
    """Boot figures (shell) plus round trip and throughput tiny<->tiny, as
    JSON lines in the ivcom-boot results dir; printed for the benchmark."""
    boot = [json.loads(ln) for ln in run.text("ivcom-boot", "figures.jsonl").splitlines()
            if ln.strip()]
    tiny = [f for f in boot if f["guest"] == "tiny"]
    linux = [f for f in boot if f["guest"] == "linux-pv"]
    assert len(tiny) == 3 and len(linux) == 1, boot
    assert all(f["ms"] >= 0 and f["memory_mib"] > 0 and f["image_bytes"] > 0 for f in boot)
    figs = list(boot)
    tiny_med = sorted(f["ms"] for f in tiny)[1]
    figs.append({"figure": "create_to_ready_ratio", "linux_pv_over_tiny":
                 round(linux[0]["ms"] / tiny_med, 2) if tiny_med else None,
                 "tiny_median_ms": tiny_med, "linux_pv_ms": linux[0]["ms"]})
    if not run.ok["ivcom-tt"]:
        kv = key_values(run.result("ivcom-tt", "ttping"))
        figs.append({"figure": "rtt_ns", "pair": "tiny-tiny", "size": int(kv["size"]),
                     "count": int(kv["count"]),
                     "samples": int(kv["samples"]),
                     "clock_backsteps": int(kv["clock_backsteps"]),
                     "total_ns": int(kv["total_ns"]),
                     **{k: int(kv[f"rtt_{k}_ns"]) for k in ("min", "p10", "median", "p90",
                                                             "max", "mean")},
                     "notifies_sent": int(kv["notifies_sent"]),
                     "blocks": int(kv["blocks"])})
        for server, mode in (("ttsink", "message"), ("ttssink", "stream")):
            kv = key_values(run.result("ivcom-tt", server))
            figs.append({"figure": "throughput", "pair": "tiny-tiny", "mode": mode,
                         "size": STREAM_SIZE, "bytes": int(kv["bytes"]), "ns": int(kv["ns"]),
                         "bytes_per_s": int(kv["bytes_per_s"]),
                         "sink_notifies_sent": int(kv["notifies_sent"]),
                         "sink_wakeups": int(kv["wakeups"])})
    if not run.ok["ivcom-dom0"]:
        kv = key_values(run.result("ivcom-dom0", "d0ping"))
        figs.append({"figure": "rtt_ns", "pair": "tiny-client/dom0-server", "size": 64,
                     "count": int(kv["count"]), "median": int(kv["rtt_median_ns"]),
                     "min": int(kv["rtt_min_ns"])})
    out = run.dirs["ivcom-boot"] / "figures-all.jsonl"
    out.write_text("".join(json.dumps(f) + "\n" for f in figs))
    for f in figs:
        print("ivcom-figure:", json.dumps(f))
    assert OUT.is_dir()
