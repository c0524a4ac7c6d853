"""The tiny guest as a PVH domU (`type = "pvh"`) in the Xen lab.

`make -C minios-app pvh` builds the same kernel as an HVM-container image
(ivcom-guest-<app>-pvh.elf: PHYS32_ENTRY note, 32-bit entry with
hvm_start_info, its own page tables, CPUID/MSR hypercall page, console and
XenStore from HVM parameters, shared_info and grant table frames through
XENMEM_add_to_physmap).  One lab boot runs three scenarios:

- pvh-hello: `hello` (console ring, clock, allocator, event channel
  loopback, grant self-map, XenStore), a bad command line, no app, and a
  NULL dereference reported as a page fault;
- pvh-xdom: the `xdom` pair PVH<->PVH and mixed with a PV guest both ways
  (a grant mapped by an auto-translated guest and by a PV one);
- pvh-ivcom: libivcom's `echo` + `pingpong` over the minios platform,
  PVH<->PVH and PV server with a PVH client; `source` -> `sink` PVH<->PVH
  in message and in stream mode;
- pvh-dom0: a PVH guest against libivcom's Linux tool in dom0
  (`ivcom-pingpong`, xen-linux backend), both roles.

Besides, `hello` boots as a PVH dom0 straight under QEMU (no toolstack:
q35 + intel-iommu, `dom0=pvh`): Xen's own PVH builder hands over a
version 0 hvm_start_info, so memory comes from XENMEM_memory_map and the
console is console_io.

Under QEMU TCG a HAP guest needs tsc_mode = "native" (an emulated TSC
intercepts RDTSCP, which TCG's nested SVM cannot decode for Xen): the
scenario appends it to the configs generated from guest-pvh.cfg.in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from guest_helpers import (
    APP_DIR,
    GUEST_SH,
    OUT,
    RESULT_PREFIX,
    ScenarioRuns,
    boot_as_dom0,
    core_tools,
    key_values,
    run_make,
)

pytestmark = pytest.mark.lab

XDOM_ROUNDS = 200
PP_COUNT = 300
STREAM_COUNT = 5000
STREAM_SIZE = 1024
DOM0_COUNT = 300


def warm(n: int) -> int:
    """Warm-up rounds before the measured ones (ivcom-pingpong's rule)."""
    return min(n // 10, 1000)


# Busybox sh in dom0 (lib.sh sourced, cwd $OUT); the images and both
# config templates arrive as shared files ($LAB_FILES -> $G).
PRELUDE = GUEST_SH + r"""
guest_files
# cfg KIND NAME APP EXTRA: KIND pv (guest.cfg.in, ivcom-guest-APP.elf) or
# pvh (guest-pvh.cfg.in, ivcom-guest-APP-pvh.elf, tsc_mode for TCG).
cfg() {
    if [ "$1" = pvh ]; then
        guest_cfg_pvh "$2" "$3" "$4"
    else
        guest_cfg "$2" "$3" "$4"
    fi
}
# run1 KIND NAME APP EXTRA: one guest, to its result line.
run1() {
    cfg "$1" "$2" "$3" "$4"
    guest_create "$2"
    guest_finish "$2"
}
# xdom_pair SKIND SERVER CKIND CLIENT ROUNDS: both created paused; the
# server learns the client's domid from data/ivcom-xdom-peer.
xdom_pair() {
    cfg "$1" "$2" xdom "role=server rounds=$5"
    guest_create "$2" -p
    guest_domid sid "$2"
    cfg "$3" "$4" xdom "role=client server=$sid"
    guest_create "$4" -p
    guest_domid cid "$4"
    guest_tell "$sid" ivcom-xdom-peer "$cid"
    guest_unpause "$2" "$4"
    guest_finish "$2"
    guest_finish "$4"
    echo "$sid $cid" >"domids-$2"
}
# ivcom_pair SKIND SERVER SAPP SEXTRA CKIND CLIENT CAPP CEXTRA: an IVCOM
# server and client, each told the other's domid (guest-lib's pair_up,
# with a kind per side).
ivcom_pair() {
    cfg "$1" "$2" "$3" "$4"
    cfg "$5" "$6" "$7" "$8"
    pair_up "$2" "$6"
    guest_finish "$6"
    guest_finish "$2"
}
diag() {
    xl dmesg >xl-dmesg.txt 2>&1
}
"""

SCN_HELLO = r"""
run1 pvh phello hello ""
run1 pvh pbad hello "domid=notanumber"
run1 pvh pnoapp noapp ""
run1 pvh pnull hello "crash=null"
diag
"""

SCN_XDOM = f"""
xdom_pair pvh pxsrv pvh pxcli {XDOM_ROUNDS}
xdom_pair pv vxsrv pvh mxcli {XDOM_ROUNDS}
xdom_pair pvh mxsrv pv vxcli {XDOM_ROUNDS}
diag
"""

SCN_IVCOM = f"""
ivcom_pair pvh pecho echo "role=server name=pvh-pp" \\
           pvh pping pingpong "role=client name=pvh-pp count={PP_COUNT}"
ivcom_pair pv vecho echo "role=server name=mix-pp" \\
           pvh mping pingpong "role=client name=mix-pp count={PP_COUNT}"
st="size={STREAM_SIZE} count={STREAM_COUNT}"
ivcom_pair pvh psink sink "role=server name=pvh-st $st" \\
           pvh psrc source "role=client name=pvh-st $st"
ivcom_pair pvh pssink sink "role=server name=pvh-ss mode=stream $st" \\
           pvh pssrc source "role=client name=pvh-ss mode=stream $st"
diag
"""

SCN_DOM0 = f"""
# 1. ivcom-pingpong server in dom0, PVH pingpong client.
cfg pvh d0ping pingpong "role=client peer=0 name=d0-pp count={DOM0_COUNT}"
guest_create d0ping -p
guest_domid g d0ping
timeout 150 ivcom-pingpong -p "$g" -n d0-pp -t 60000 server \\
    >pp-server.out 2>pp-server.err &
spid=$!
guest_unpause d0ping
guest_finish d0ping
wait $spid
echo $? >pp-server.rc
# 2. PVH echo server, ivcom-pingpong client in dom0.
cfg pvh d0echo echo "role=server peer=0 name=d0-echo"
guest_create d0echo
guest_domid g d0echo
timeout 150 ivcom-pingpong -p "$g" -n d0-echo -c {DOM0_COUNT} -t 60000 -j client \\
    >pp-client.json 2>pp-client.err
echo $? >pp-client.rc
guest_finish d0echo
diag
"""

SCENARIOS = {"pvh-hello": SCN_HELLO, "pvh-xdom": SCN_XDOM, "pvh-ivcom": SCN_IVCOM,
             "pvh-dom0": SCN_DOM0}
PV_APPS = ("xdom", "echo")
PVH_APPS = ("hello", "noapp", "xdom", "echo", "pingpong", "source", "sink")
CORE_TOOLS = ("ivcom-pingpong",)


class Run(ScenarioRuns):
    def domids(self, scn: str, server: str) -> tuple[int, int]:
        a, b = self.text(scn, f"domids-{server}").split()
        return int(a), int(b)


@pytest.fixture(scope="module")
def pvh_images(guest_images: Path) -> Path:
    proc = run_make("pvh")
    assert proc.returncode == 0, f"PVH build failed:\n{proc.stdout}\n{proc.stderr}"
    return OUT


@pytest.fixture(scope="module")
def run(pvh_images: Path) -> Run:
    try:
        import labboot
        from ivcom.lab.image import build_image
        from ivcom.lab.runner import Scenario
        from ivcom.lab.tools import standard_payload
    except ImportError as exc:
        pytest.skip(f"the lab runner (ivcom.lab) is not importable: {exc}")
    labboot.require_qemu()

    files: dict[str, Path] = {}
    for app in PVH_APPS:
        files[f"ivcom-guest-{app}-pvh.elf"] = pvh_images / f"ivcom-guest-{app}-pvh.elf"
    for app in PV_APPS:
        files[f"ivcom-guest-{app}.elf"] = pvh_images / f"ivcom-guest-{app}.elf"
    for name, p in files.items():
        assert p.is_file(), f"{name} was not built"
    files["guest.cfg.in"] = APP_DIR / "guest.cfg.in"
    files["guest-pvh.cfg.in"] = APP_DIR / "guest-pvh.cfg.in"
    files.update(core_tools(CORE_TOOLS))

    scns = [Scenario(name, PRELUDE + body) for name, body in SCENARIOS.items()]
    _, res = labboot.boot(lambda: build_image(standard_payload(), log=True), scns,
                          tag="guest-pvh", timeout_s=900, scenario_timeout=300.0, files=files)
    return Run.of(res, SCENARIOS)


# ---- step 1: the kernel boots as PVH and its services work ---------------------

def test_pvh_hello_succeeds(run: Run) -> None:
    con = run.console("pvh-hello", "phello")
    res = run.result("pvh-hello", "phello")
    assert res.startswith("SUCCESS hello: "), con + run.dmesg("pvh-hello")
    assert "clock+mm+evtchn+gnttab+xenstore" in res
    assert "ivcom-guest: booting (domU PVH" in con
    assert 'magic "hvm_start_info v1"' in con
    assert 'name "phello"' in con
    assert con.count(RESULT_PREFIX) == 1
    # Our domid came from XenStore and is in the result line.
    line = next(ln for ln in con.splitlines() if ln.startswith("xenbus: "))
    assert f"domid {int(line.rsplit('domid ', 1)[1])}," in res


def test_pvh_failures_are_result_lines(run: Run) -> None:
    assert run.result("pvh-hello", "pbad") == "FAILURE bad domid= on the command line"
    assert run.result("pvh-hello", "pnoapp") == "FAILURE no app linked into this image"
    res = run.result("pvh-hello", "pnull")
    assert res.startswith("FAILURE panic: trap 14 (page fault) at rip "), res
    assert res.endswith("address 0x0")


def test_pvh_guests_shut_themselves_down(run: Run) -> None:
    still = run.dirs["pvh-hello"] / "still-running"
    assert not still.exists(), f"guests still running: {still.read_text()}"


# ---- step 2: two domains: grants, event channels, XenStore, libivcom -------------

@pytest.mark.parametrize("server,client", [("pxsrv", "pxcli"), ("vxsrv", "mxcli"),
                                           ("mxsrv", "vxcli")])
def test_pvh_xdom_pair(run: Run, server: str, client: str) -> None:
    sid, cid = run.domids("pvh-xdom", server)
    s_res, c_res = run.result("pvh-xdom", server), run.result("pvh-xdom", client)
    assert s_res.startswith(
        f"SUCCESS xdom server: peer dom{cid}, {XDOM_ROUNDS} round trips, mean "), s_res
    assert c_res.startswith(f"SUCCESS xdom client: dom{sid} ref "), c_res
    assert c_res.endswith(f", {XDOM_ROUNDS} round trips")


@pytest.mark.parametrize("server,client", [("pecho", "pping"), ("vecho", "mping")])
def test_pvh_ivcom_pingpong(run: Run, server: str, client: str) -> None:
    sid, cid = run.domids("pvh-ivcom", server)
    res = run.result("pvh-ivcom", client)
    assert res.startswith("SUCCESS pingpong: "), res
    kv = key_values(res)
    assert kv["peer"] == f"dom{sid}"
    assert int(kv["count"]) == PP_COUNT
    assert int(kv["rtt_mean_ns"]) > 0
    echo = run.result("pvh-ivcom", server)
    assert echo.startswith("SUCCESS echo: echoed "), echo
    assert echo.endswith(f"with dom{cid}")


@pytest.mark.parametrize("server,client,mode", [("psink", "psrc", "message"),
                                                ("pssink", "pssrc", "stream")])
def test_pvh_source_to_pvh_sink(run: Run, server: str, client: str, mode: str) -> None:
    sid, cid = run.domids("pvh-ivcom", server)
    sink = run.result("pvh-ivcom", server)
    assert sink.startswith("SUCCESS sink: "), sink
    kv = key_values(sink)
    assert kv["peer"] == f"dom{cid}" and kv["mode"] == mode
    assert int(kv["msgs"]) == STREAM_COUNT
    assert int(kv["bytes"]) == STREAM_COUNT * STREAM_SIZE
    src = run.result("pvh-ivcom", client)
    assert src.startswith("SUCCESS source: "), src
    assert key_values(src)["peer"] == f"dom{sid}"


def test_dom0_pingpong_server_pvh_client(run: Run) -> None:
    res = run.result("pvh-dom0", "d0ping")
    err = run.text("pvh-dom0", "pp-server.err")
    assert res.startswith("SUCCESS pingpong: peer=dom0 "), f"{res}\ndom0 server: {err}"
    assert int(key_values(res)["count"]) == DOM0_COUNT
    assert run.text("pvh-dom0", "pp-server.rc").strip() == "0", err
    n = DOM0_COUNT + warm(DOM0_COUNT)
    assert f"server echoed {n} messages" in err


def test_pvh_echo_dom0_pingpong_client(run: Run) -> None:
    err = run.text("pvh-dom0", "pp-client.err")
    assert run.text("pvh-dom0", "pp-client.rc").strip() == "0", err
    out = json.loads(run.text("pvh-dom0", "pp-client.json"))
    assert out["platform"] == "xen-linux" and out["count"] == DOM0_COUNT
    assert out["rtt_ns"]["mean"] > 0
    n = DOM0_COUNT + warm(DOM0_COUNT)
    assert run.result("pvh-dom0", "d0echo") == \
        f"SUCCESS echo: echoed {n} messages ({n * 64} bytes) with dom0"


# ---- a PVH dom0 (no lab: Xen + the image under QEMU) ------------------------------

def test_pvh_dom0_hello(pvh_images: Path, xen_elf: Path) -> None:
    boot = boot_as_dom0(xen_elf, pvh_images / "ivcom-guest-hello-pvh.elf", "domid=0",
                        timeout=300, qemu_extra=("-machine", "q35", "-device", "intel-iommu"),
                        xen_extra="dom0=pvh iommu=1")
    assert boot.result is not None, boot.log[-3000:]
    assert boot.result.startswith("SUCCESS hello: xen 4.17, domid 0, "), boot.log[-3000:]
    assert boot.result.endswith("clock+mm+evtchn+gnttab ok")
    assert "ivcom-guest: booting (dom0 PVH" in boot.log
    assert "(e820)" in boot.log     # the memory map came from XENMEM_memory_map
