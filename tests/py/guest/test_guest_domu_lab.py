"""Boot the tiny guest as a real PV domU with `xl create` in the Xen lab.

One lab boot (Xen 4.17 + Linux dom0 under QEMU TCG) runs a scenario that
generates each guest's xl config from minios-app/guest.cfg.in, creates the
domain, waits for its result line in xenconsoled's log and brings the logs
back.  This is the path the console ring and the XenStore client take; the
dom0 smoke test cannot reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from guest_helpers import APP_DIR, GUEST_SH, RESULT_PREFIX, result_of, ship

pytestmark = pytest.mark.lab

# Busybox sh in dom0, with the lab's lib.sh sourced; cwd is $OUT.  The
# images and the config template travel inside the script (base64), so the
# standard lab image serves as is: no image rebuild when the guest changes.
RUN_GUEST = GUEST_SH + r"""
# run_pair SERVER CLIENT ROUNDS: both created paused, the client's domid
# handed to the server through its own XenStore directory, then both run.
run_pair() {
    guest_cfg "$1" xdom "role=server rounds=$3"
    guest_create "$1" -p
    guest_domid sid "$1"
    guest_cfg "$2" xdom "role=client server=$sid"
    guest_create "$2" -p
    guest_domid cid "$2"
    guest_tell "$sid" ivcom-xdom-peer "$cid"
    guest_unpause "$1" "$2"
    guest_finish "$1"
    guest_finish "$2"
    echo "$sid $cid" >"pair-$1.domids"
}
"""

RUNS = (("ghello", "hello", ""), ("gbad", "hello", "domid=notanumber"),
        ("gnoapp", "noapp", ""))
PAIR = ("xsrv", "xcli", 500)


def scenario_script(images: Path) -> str:
    parts = ["mkdir -p /tmp/ivcom-guest\n"]
    for app in sorted({app for _n, app, _e in RUNS} | {"xdom"}):
        parts.append(ship(images / f"ivcom-guest-{app}.elf",
                          f"/tmp/ivcom-guest/ivcom-guest-{app}.elf"))
    parts.append(ship(APP_DIR / "guest.cfg.in", "/tmp/ivcom-guest/guest.cfg.in"))
    parts.append(RUN_GUEST)
    parts.extend(f'run_guest {n} {app} "{extra}"\n' for n, app, extra in RUNS)
    parts.append("run_pair {} {} {}\n".format(*PAIR))
    return "".join(parts)


@dataclass(frozen=True)
class DomuRun:
    dir: Path

    def console(self, name: str) -> str:
        p = self.dir / f"console-{name}.log"
        assert p.is_file(), f"no console log for {name} in {self.dir}"
        return p.read_text(errors="replace")

    def result(self, name: str) -> str | None:
        return result_of(self.console(name))


@pytest.fixture(scope="module")
def domu_run(guest_images: Path) -> DomuRun:
    try:
        import labboot
        from ivcom.lab.image import build_image
        from ivcom.lab.runner import Scenario
        from ivcom.lab.tools import standard_payload
    except ImportError as exc:
        pytest.skip(f"the lab runner (ivcom.lab) is not importable: {exc}")
    _, res = labboot.boot(lambda: build_image(standard_payload(), log=True),
                          [Scenario("guest-domu", scenario_script(guest_images))], tag="guest",
                          timeout_s=400, scenario_timeout=240.0)
    scn = res.scenarios.get("guest-domu")
    assert scn is not None, f"scenario did not run (log {res.log})"
    assert scn.ok, f"scenario failed: {scn.reason} (dir {scn.dir}, log {res.log})"
    return DomuRun(scn.dir)


def test_hello_domu_succeeds(domu_run: DomuRun) -> None:
    con = domu_run.console("ghello")
    result = domu_run.result("ghello")
    assert result is not None, f"no result line:\n{con}"
    assert result.startswith("SUCCESS"), con
    # Every service was exercised, including the ring console and XenStore.
    assert "clock+mm+evtchn+gnttab+xenstore" in result
    assert "ivcom-guest: booting (domU" in con
    assert "magic \"xen-3.0-x86_64\"" in con
    assert 'name "ghello"' in con
    assert con.count(RESULT_PREFIX) == 1


def test_hello_domu_reads_its_domid(domu_run: DomuRun) -> None:
    con = domu_run.console("ghello")
    line = next(ln for ln in con.splitlines() if ln.startswith("xenbus: "))
    domid = int(line.rsplit("domid ", 1)[1])
    assert domid > 0
    assert f"domid {domid}," in (domu_run.result("ghello") or "")


def test_domu_shuts_itself_down(domu_run: DomuRun) -> None:
    still = domu_run.dir / "still-running"
    assert not still.exists(), f"guests still running after their result: {still.read_text()}"


def test_bad_cmdline_domu(domu_run: DomuRun) -> None:
    assert domu_run.result("gbad") == "FAILURE bad domid= on the command line"


def test_noapp_domu(domu_run: DomuRun) -> None:
    assert domu_run.result("gnoapp") == "FAILURE no app linked into this image"


def test_two_guests_share_a_page_and_a_channel(domu_run: DomuRun) -> None:
    """Cross-domain grant map + interdomain event channel + XenStore offer
    with per-domain permissions, between two tiny guests."""
    srv, cli, rounds = PAIR
    sid, cid = (domu_run.dir / f"pair-{srv}.domids").read_text().split()
    s_res, c_res = domu_run.result(srv), domu_run.result(cli)
    assert s_res is not None and s_res.startswith(
        f"SUCCESS xdom server: peer dom{cid}, {rounds} round trips, mean "), \
        domu_run.console(srv) + domu_run.console(cli)
    assert c_res is not None and c_res.startswith(f"SUCCESS xdom client: dom{sid} ref "), \
        domu_run.console(cli)
    assert c_res.endswith(f", {rounds} round trips")
    mean_ns = int(s_res.rsplit("mean ", 1)[1].split()[0])
    assert mean_ns > 0
