"""The tiny guest's figures in the lab benchmark, without booting the lab.

analyse() is fed synthetic results directories (an ivcom-bench one and a
guest-bench one) and must produce the "guest" block: boot figures and
their ratio, image sizes, tiny<->tiny beside Linux<->Linux IVCOM; a failed
or missing guest scenario gives a reason (the Linux figures still come
out); a malformed line is a LabError naming the file and line.  render()
shows the new table.  Then the guest-bench scenario itself runs under
busybox sh against stand-ins for xl and the XenStore tools, and what it
writes is what analyse() reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ivcom.lab import bench as lb
from ivcom.lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
LAB_PKG = ROOT / "toolkit" / "src" / "ivcom" / "lab"
PLAN = lb.LabPlan(rr_count=300, sizes=(64, 65536), bytes_per_session=1 << 20, reps=1,
                  trace_s=2, rr_reps=2)

# Linux<->Linux IVCOM: session medians 600 and 700 us -> 650 us; bulk
# 64 B 200 MB/s, 64 KiB 60 MB/s.
LINUX_RR_US = (600.0, 700.0)
LINUX_BULK = {64: 200e6, 16384: 100e6, 65536: 60e6}


def _jl(path: Path, recs: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def make_bench_dir(d: Path, sizes: tuple[int, ...] = PLAN.sizes) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "info.txt").write_text("ia=1 ib=2\nxen_version            : 4.17.7\n"
                                "xen_scheduler          : credit2\n")
    recs: list[dict] = []
    for rep, med in enumerate(LINUX_RR_US):
        ns = med * 1e3
        recs.append({"transport": "ivcom", "kind": "rr", "rep": rep, "size": 64, "count": 300,
                     "rtt_ns": {"min": 80000, "p10": ns * 0.8, "median": ns, "p90": ns * 1.5,
                                "mean": ns}})
        for t in ("tcp", "vchan"):
            recs.append({"transport": t, "kind": "rr", "rep": rep, "count": 300,
                         "median_us": 3000.0, "p10_us": 1000.0, "p90_us": 5000.0,
                         "min_us": 200.0})
    for size in sizes:
        recs.append({"transport": "ivcom", "kind": "bulk", "rep": 1, "mode": "stream",
                     "size": size, "bytes": 1 << 20, "bytes_per_s": LINUX_BULK[size]})
    for t in ("tcp", "vchan"):
        for _ in sizes:             # no size: they come in plan order
            recs.append({"transport": t, "kind": "bulk", "rep": 1, "mb_per_s": 20.0,
                         "verified": True})
    _jl(d / "sessions.jsonl", recs)
    return d


def pingpong(median_ns: int, count: int = 300) -> dict:
    return {"peer": "dom5", "size": 64, "count": count, "samples": count,
            "clock_backsteps": 1, "rtt_min_ns": 7000, "rtt_p10_ns": median_ns // 2,
            "rtt_median_ns": median_ns, "rtt_p90_ns": median_ns * 2,
            "rtt_max_ns": median_ns * 50, "rtt_mean_ns": median_ns * 2, "total_ns": 9000000}


def sink(size: int, bytes_per_s: int) -> dict:
    return {"peer": "dom7", "mode": "stream", "msgs": (1 << 20) // size, "bytes": 1 << 20,
            "ns": 5000000, "bytes_per_s": bytes_per_s, "notifies_sent": 3}


def guest_lines() -> list[dict]:
    """A complete guest-bench.jsonl: tiny boots 480/530/560 ms, Linux 5780 ms,
    round-trip session medians 14 and 16 us, 64 B at 100 and 120 MB/s over
    two repetitions, 64 KiB at 300 MB/s."""
    out: list[dict] = [{"kind": "plan", "ok": True, "rr_count": 300, "rr_reps": 2,
                        "bytes": 1 << 20, "reps": 1, "boot_runs": 3, "sizes": [64, 65536]}]
    out += [{"kind": "image", "ok": True, "app": a, "bytes": b}
            for a, b in (("echo", 73640), ("pingpong", 77744), ("source", 73648),
                         ("sink", 73640))]
    out += [{"kind": "boot", "guest": "tiny", "run": i + 1, "ok": True, "ms": ms,
             "memory_mib": 4, "image": "ivcom-guest-sink.elf", "image_bytes": 73640}
            for i, ms in enumerate((560, 480, 530))]
    out.append({"kind": "boot", "guest": "linux-pv", "run": 1, "ok": True, "ms": 5780,
                "memory_mib": 256, "image": "vmlinux", "image_bytes": 65906612,
                "ramdisk_bytes": 20000000})
    for rep, med in enumerate((14000, 16000)):
        out.append({"kind": "rr", "rep": rep, "size": 64, "ok": True, "guest": f"gbp{rep}",
                    "peer_guest": f"gbe{rep}", "result": pingpong(med),
                    "peer_result": {"peer": "dom6"}})
    for rep, (size, bps) in enumerate(((64, 100_000_000), (64, 120_000_000),
                                       (65536, 300_000_000))):
        out.append({"kind": "bulk", "rep": rep + 1, "size": size, "ok": True,
                    "guest": "gbk", "peer_guest": "gbs", "result": sink(size, bps),
                    "peer_result": {"mode": "stream", "bytes": 1 << 20}})
    return out


def make_guest_dir(d: Path, lines: list[dict] | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    _jl(d / lb.GUEST_RESULTS, guest_lines() if lines is None else lines)
    return d


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    return make_bench_dir(tmp_path / "ivcom-bench")


# ---- analyse(): the guest block ---------------------------------------------------

def test_guest_block_figures_and_ratios(bench_dir: Path, tmp_path: Path) -> None:
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "guest-bench"))
    g = res["guest"]
    assert g["ok"] is True and g["reason"] is None and g["failures"] == []
    boot = g["boot"]
    assert boot["tiny"]["median_ms"] == 530
    assert boot["tiny"]["runs_ms"] == [560, 480, 530]
    assert (boot["tiny"]["min_ms"], boot["tiny"]["max_ms"]) == (480, 560)
    assert boot["tiny"]["memory_mib"] == 4 and boot["tiny"]["image_bytes"] == 73640
    assert boot["linux_pv"]["median_ms"] == 5780
    assert boot["linux_pv"]["memory_mib"] == 256
    assert boot["linux_pv"]["image_bytes"] == 65906612
    assert boot["linux_pv"]["ramdisk_bytes"] == 20000000
    assert boot["linux_over_tiny"] == pytest.approx(5780 / 530)
    assert g["images"] == {"echo": 73640, "pingpong": 77744, "source": 73648, "sink": 73640}

    rr = g["rr"]
    assert rr["tiny"]["median_us"] == pytest.approx(15.0)       # sessions 14 and 16
    assert rr["tiny"]["session_medians_us"] == [14.0, 16.0]
    assert rr["tiny"]["p10_us"] == pytest.approx(7.5)
    assert rr["tiny"]["p90_us"] == pytest.approx(30.0)
    assert rr["tiny"]["mean_us"] == pytest.approx(30.0)
    assert rr["tiny"]["sessions"] == 2 and rr["tiny"]["count"] == 300
    assert rr["tiny"]["clock_backsteps"] == 2
    # Linux<->Linux: the ivcom rows of the same boot.
    assert rr["linux"]["median_us"] == pytest.approx(650.0)
    assert rr["linux"]["median_us"] == res["rr"]["ivcom"]["median_us"]
    assert rr["tiny_over_linux"] == pytest.approx(15.0 / 650.0)

    thr = {row["size"]: row for row in g["throughput"]}
    assert sorted(thr) == [64, 65536]
    assert thr[64]["tiny"]["median"] == pytest.approx(110.0)    # reps 100 and 120 MB/s
    assert thr[64]["tiny"]["samples"] == [100.0, 120.0]
    assert thr[64]["linux"]["median"] == pytest.approx(200.0)
    assert thr[64]["tiny_over_linux"] == pytest.approx(110.0 / 200.0)
    assert thr[65536]["tiny"]["median"] == pytest.approx(300.0)
    assert thr[65536]["tiny_over_linux"] == pytest.approx(5.0)
    # The Linux figures are untouched by the guest's.
    assert res["rr"]["ivcom"]["sessions"] == 2
    assert res["plan"]["guest_sizes"] == [64, 65536]
    json.dumps(res)                         # bench.json takes it as is
    assert [r["size"] for r in res["throughput"]] == [64, 65536]


def test_size_outside_the_plan_stands_alone(bench_dir: Path, tmp_path: Path) -> None:
    lines = guest_lines()
    lines.append({"kind": "bulk", "rep": 1, "size": 1024, "ok": True, "guest": "gbk",
                  "peer_guest": "gbs", "result": sink(1024, 50_000_000), "peer_result": {}})
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g", lines))
    rows = {r["size"]: r for r in res["guest"]["throughput"]}
    assert sorted(rows) == [64, 1024, 65536]
    # 1 KiB is not a size of the plan: no Linux<->Linux figure, no ratio.
    assert rows[1024]["tiny"]["median"] == pytest.approx(50.0)
    assert rows[1024]["linux"] is None and rows[1024]["tiny_over_linux"] is None
    assert rows[64]["tiny_over_linux"] == pytest.approx(110.0 / 200.0)
    row = next(ln for ln in lb.render(res).splitlines() if ln.strip().startswith("1 KiB"))
    assert "50.0 [50.0-50.0]" in row and "(not in the plan)" in row, row


@pytest.mark.parametrize("quick,sizes", [
    (True, (64, 65536, 1048576)),
    (False, (64, 1024, 16384, 65536, 262144, 1048576)),
])
def test_guest_sizes_follow_the_plan(quick: bool, sizes: tuple[int, ...]) -> None:
    plan = lb.LabPlan.for_mode(quick)
    assert plan.guest_sizes == sizes       # the plan's, plus 64 B and 64 KiB always
    assert plan.env()["GUEST_BENCH_SIZES"] == " ".join(map(str, sizes))
    assert lb.LabPlan(1, (64, 4 << 20), 1, 1, 1).guest_sizes == (64, 65536)   # > 1 MiB: no


def test_planned_guest_size_not_measured_is_named(bench_dir: Path, tmp_path: Path) -> None:
    plan = lb.LabPlan(300, (64, 16384, 65536), 1 << 20, 1, 2, 2)
    bench = make_bench_dir(tmp_path / "b", plan.sizes)
    g = lb.analyse(bench, plan, guest_dir=make_guest_dir(tmp_path / "g"))["guest"]
    assert g["ok"] is False
    assert g["reason"] == "not measured: tiny<->tiny stream 16 KiB"


def test_failed_session_is_reported_not_fatal(bench_dir: Path, tmp_path: Path) -> None:
    lines = [ln for ln in guest_lines() if not (ln["kind"] == "bulk" and ln["size"] == 65536)]
    lines.append({"kind": "bulk", "rep": 1, "size": 65536, "ok": False,
                  "reason": "gbk9: FAILURE sink: out of memory"})
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g", lines))
    g = res["guest"]
    assert g["ok"] is False
    assert g["failures"] == ["bulk 64 KiB rep 1: gbk9: FAILURE sink: out of memory"]
    assert "1 measurement(s) failed" in g["reason"] and "out of memory" in g["reason"]
    assert [r["size"] for r in g["throughput"]] == [64]
    assert g["rr"]["tiny"]["median_us"] == pytest.approx(15.0)   # the rest still there


def test_unmeasured_parts_named(bench_dir: Path, tmp_path: Path) -> None:
    lines = [ln for ln in guest_lines() if ln["kind"] not in ("rr",)
             and not (ln["kind"] == "boot" and ln["guest"] == "linux-pv")]
    g = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g", lines))["guest"]
    assert g["ok"] is False
    assert g["reason"] == "not measured: Linux PV boot, tiny<->tiny round trips"
    assert g["boot"]["linux_pv"] is None and g["boot"]["linux_over_tiny"] is None
    assert g["rr"]["tiny"] is None and g["rr"]["tiny_over_linux"] is None
    assert g["boot"]["tiny"]["median_ms"] == 530


def test_failed_scenario_keeps_partial_figures(bench_dir: Path, tmp_path: Path) -> None:
    lines = [ln for ln in guest_lines() if ln["kind"] in ("plan", "image", "boot")]
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g", lines),
                     guest_failure="xl create gbe1 failed twice: out of memory")
    g = res["guest"]
    assert g["ok"] is False
    assert g["reason"] == g["scenario_error"] == "xl create gbe1 failed twice: out of memory"
    assert g["boot"]["linux_over_tiny"] == pytest.approx(5780 / 530)
    assert g["throughput"] == [] and g["rr"]["tiny"] is None
    assert res["rr"]["ivcom"]["median_us"] == pytest.approx(650.0)


@pytest.mark.parametrize("gdir,failure,reason", [
    (None, None, "the guest scenario did not run"),
    (None, "did not run", "did not run"),
    ("empty", None, f"no {lb.GUEST_RESULTS} in the guest scenario's results"),
    ("empty", "timed out after 780s", "timed out after 780s"),
])
def test_missing_guest_results_give_a_reason(bench_dir: Path, tmp_path: Path,
                                             gdir: str | None, failure: str | None,
                                             reason: str) -> None:
    d = None
    if gdir is not None:
        d = tmp_path / gdir
        d.mkdir()
    res = lb.analyse(bench_dir, PLAN, guest_dir=d, guest_failure=failure)
    assert res["guest"]["ok"] is False
    assert res["guest"]["reason"] == reason
    assert "boot" not in res["guest"]
    # The rest of the lab results are all there.
    assert set(res["rr"]) == {"ivcom", "tcp", "vchan"}
    assert len(res["throughput"]) == 2


@pytest.mark.parametrize("bad,what", [
    ("{not json", "is not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"kind": "nonsense", "ok": true}', "unknown kind 'nonsense'"),
    ('{"kind": "rr", "rep": 0, "size": 64}', "'ok' missing"),
    ('{"kind": "rr", "rep": 0, "size": 64, "ok": false}', "'reason' missing"),
    ('{"kind": "boot", "run": 1, "ok": true, "ms": 5}', "'guest' missing"),
    ('{"kind": "bulk", "rep": 1, "ok": false, "reason": "x"}', "'size' missing"),
    ('{"kind": "rr", "rep": 0, "size": 64, "ok": true, "result": {"rtt_median_ns": "x"}}',
     "'rtt_median_ns' missing or not a number"),
    ('{"kind": "bulk", "rep": 1, "size": 64, "ok": true}', "'result' missing"),
    ('{"kind": "bulk", "rep": 1, "size": 64, "ok": true, "result": {"mode": "message", '
     '"bytes": 5, "bytes_per_s": 5}}', "not stream"),
    ('{"kind": "boot", "guest": "tiny", "run": 4, "ok": true, "ms": true, '
     '"memory_mib": 4, "image_bytes": 1}', "'ms' missing or not a number"),
])
def test_malformed_line_names_file_and_line(bench_dir: Path, tmp_path: Path, bad: str,
                                            what: str) -> None:
    d = make_guest_dir(tmp_path / "g")
    good = (d / lb.GUEST_RESULTS).read_text().splitlines()
    n = len(good) + 1
    (d / lb.GUEST_RESULTS).write_text("\n".join([*good, bad]) + "\n")
    with pytest.raises(LabError) as ei:
        lb.analyse(bench_dir, PLAN, guest_dir=d)
    msg = str(ei.value)
    assert f"{lb.GUEST_RESULTS} line {n}" in msg, msg
    assert what in msg, msg
    assert ei.value.stage == lb.GUEST_STAGE
    assert "\n" not in msg


# ---- render() ----------------------------------------------------------------------

def test_render_shows_the_guest_table(bench_dir: Path, tmp_path: Path) -> None:
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g"))
    text = lb.render(res)
    assert "Tiny guest (minios-app) vs Linux PV domU, same boot" in text
    assert "IVCOM tiny<->tiny vs Linux<->Linux" in text
    lines = text.splitlines()
    ready = next(ln for ln in lines if "xl create -> ready (ms)" in ln)
    assert ready.split()[-3:] == ["530", "5780", "10.91x"], ready
    mem = next(ln for ln in lines if "memory in the xl config" in ln)
    assert mem.split()[-2:] == ["4", "256"], mem
    image = next(ln for ln in lines if ln.strip().startswith("image "))
    assert "71.9 KiB" in image and "62.9 MiB" in image and "initramfs" in image, image
    tiny = next(ln for ln in lines if ln.strip().startswith("tiny<->tiny "))
    assert tiny.split()[1:] == ["15.0", "7.5", "30.0"], tiny
    linux = next(ln for ln in lines if ln.strip().startswith("Linux<->Linux "))
    assert linux.split()[1] == "650.0", linux
    assert "tiny/Linux 0.02x" in text
    row64 = next(ln for ln in lines if ln.strip().startswith("64 B ") and "110.0" in ln)
    assert "200.0" in row64 and row64.rstrip().endswith("0.55"), row64
    row64k = next(ln for ln in lines if ln.strip().startswith("64 KiB ") and "300.0" in ln)
    assert row64k.rstrip().endswith("5.00"), row64k
    assert "failed:" not in text and "incomplete" not in text


def test_render_says_why_the_guest_is_missing(bench_dir: Path, tmp_path: Path) -> None:
    res = lb.analyse(bench_dir, PLAN, guest_dir=None,
                     guest_failure="guest results: guest-bench.jsonl line 3 is not JSON")
    text = lb.render(res)
    assert "Tiny guest (minios-app) vs Linux PV domU" in text
    assert "not measured: guest results: guest-bench.jsonl line 3 is not JSON" in text
    assert "64 B round trip" in text        # the Linux tables are still there


def test_render_lists_failures(bench_dir: Path, tmp_path: Path) -> None:
    lines = guest_lines()
    lines.append({"kind": "bulk", "rep": 0, "size": 2097152, "ok": False,
                  "reason": "the tiny apps take sizes of 1 to 1048576 bytes"})
    res = lb.analyse(bench_dir, PLAN, guest_dir=make_guest_dir(tmp_path / "g", lines),
                     guest_failure="timed out after 780s")
    text = lb.render(res)
    assert "failed: bulk 2 MiB rep 0: the tiny apps take sizes of 1 to 1048576 bytes" in text
    assert "the guest scenario failed: timed out after 780s" in text


def test_guest_files_named_for_the_runner(tmp_path: Path) -> None:
    """The shared files the bench hands the runner: every image the
    scenario checks for, and the template (built if missing)."""
    out = ROOT / "build" / "guest"
    if (not all((out / f"ivcom-guest-{a}.elf").is_file() for a in lb.GUEST_APPS)
            and shutil.which("make") is None):
        pytest.skip("guest images not built and make is not available")
    files = lb.guest_files()
    assert set(files) == {f"ivcom-guest-{a}.elf" for a in lb.GUEST_APPS} | {"guest.cfg.in"}
    for p in files.values():
        assert p.is_file() and p.stat().st_size > 0
    scn = (LAB_PKG / "scn-guest-bench.sh").read_text()
    for name in files:
        assert name in scn or name.removeprefix("ivcom-guest-").removesuffix(".elf") in scn


# ---- the scenario itself, under busybox sh with stand-ins ---------------------------

XL_STUB = r"""#!/bin/sh
# xl stand-in: domains are files in $FAKE/doms; `create` writes the console
# log a guest of that kind would (a tiny app's ready + result lines, the
# Linux guest's up marker).
doms=$FAKE/doms
mkdir -p "$doms"
cmd=$1
shift
case $cmd in
create)
    paused=
    [ "$1" = -p ] && { paused=1; shift; }
    cfg=$1
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$cfg")
    kernel=$(sed -n 's/^kernel = "\(.*\)"/\1/p' "$cfg")
    extra=$(sed -n 's/^extra = "\(.*\)"/\1/p' "$cfg")
    n=$(( $(cat "$FAKE/seq" 2>/dev/null || echo 0) + 1 ))
    echo "$n" >"$FAKE/seq"
    echo "$n" >"$doms/$name"
    log=$CONSOLE_DIR/guest-$name.log
    case $kernel in
    *ivcom-guest-*.elf)
        app=${kernel##*ivcom-guest-}
        app=${app%.elf}
        kv() { for w in $extra; do case $w in "$1"=*) echo "${w#*=}";; esac; done; }
        size=$(kv size)
        count=$(kv count)
        printf 'ivcom-guest: ready %s domid %s t=1\r\n' "$app" "$n" >>"$log"
        case $app:$(kv role) in
        sink:server)
            if [ "$(kv peer)" = 0 ]; then
                r="FAILURE sink: accept: -ETIMEDOUT (timed out)"
            elif [ "$size" = "$FAIL_SIZE" ]; then
                r="FAILURE sink: out of memory"
            else
                r="SUCCESS sink: peer=dom1 mode=stream msgs=$count \
bytes=$((count * size)) ns=1000000 bytes_per_s=$((size * 1000)) notifies_sent=3 wakeups=4 blocks=4"
            fi ;;
        source:client)
            r="SUCCESS source: peer=dom1 mode=stream size=$size count=$count \
bytes=$((count * size)) ns=1000000 bytes_per_s=5 notifies_sent=2 notifies_suppressed=9 blocks=1" ;;
        pingpong:client)
            r="SUCCESS pingpong: peer=dom1 size=$size count=$count samples=$count \
clock_backsteps=0 rtt_min_ns=7000 rtt_p10_ns=8000 rtt_median_ns=$((n * 1000)) rtt_p90_ns=30000 \
rtt_max_ns=90000 rtt_mean_ns=20000 total_ns=123 notifies_sent=1 wakeups=1 spins=5 blocks=1" ;;
        echo:server)
            r="SUCCESS echo: echoed 1 messages (64 bytes) with dom2" ;;
        *)
            r="FAILURE $app: unexpected role" ;;
        esac
        printf 'ivcom-guest: result: %s\r\n' "$r" >>"$log"
        rm -f "$doms/$name" ;;     # it shuts itself down
    *)
        echo "ivcom-guest: $name up" >>"$log" ;;
    esac ;;
list)
    [ -z "$1" ] && exit 0
    [ -f "$doms/$1" ] ;;
domid)
    n=$(cat "$FAKE/seq")
    echo "$n" ;;
destroy)
    rm -f "$doms/$1" ;;
unpause|dmesg)
    ;;
*)
    echo "xl stand-in: $cmd?" >&2
    exit 1 ;;
esac
"""


def _busybox() -> str:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox not installed: cannot run the dom0 scenario on the host")
    return busybox


def _run_scenario(tmp_path: Path, busybox: str, fail_size: str = "") -> Path:
    """scn-guest-bench.sh under busybox sh, lib.sh sourced first (as dom0
    does), xl and the XenStore tools replaced by stand-ins; its results
    directory."""
    fake = tmp_path / "fake"
    bindir = fake / "bin"
    bindir.mkdir(parents=True)
    for applet in ("sh", "sed", "grep", "tr", "awk", "wc", "cat", "cp", "mkdir", "chmod",
                   "rm", "sleep", "tail", "head", "mv"):
        (bindir / applet).symlink_to(busybox)
    (bindir / "xl").write_text(XL_STUB)
    (bindir / "xl").chmod(0o755)
    for tool in ("xenstore-write", "xenstore-chmod"):
        (bindir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bindir / tool).chmod(0o755)
    files = fake / "files"
    files.mkdir()
    shutil.copyfile(LAB_PKG / "guest-lib.sh", files / "guest-lib.sh")
    shutil.copyfile(ROOT / "minios-app" / "guest.cfg.in", files / "guest.cfg.in")
    for a in lb.GUEST_APPS:
        (files / f"ivcom-guest-{a}.elf").write_bytes(b"\x7fELF" + bytes(1000 + len(a)))
    lab = fake / "lab"
    (lab / "guest").mkdir(parents=True)
    shutil.copyfile(LAB_PKG / "domu-pv.cfg.in", lab / "domu-pv.cfg.in")
    (lab / "guest" / "vmlinux").write_bytes(bytes(5000))
    (lab / "guest" / "initrd.cpio").write_bytes(bytes(3000))
    (fake / "console").mkdir()
    out = tmp_path / "results"
    out.mkdir()
    script = (f". {LAB_PKG / 'lib.sh'}\n"
              f"LAB={lab}; LAB_GUEST_KERNEL=$LAB/guest/vmlinux; "
              f"LAB_GUEST_INITRD=$LAB/guest/initrd.cpio; LAB_CFG_DIR={fake / 'cfg'}; "
              f"CONSOLE_DIR={fake / 'console'}\n"
              "lab_log() { echo \"$*\"; }\n"
              f". {LAB_PKG / 'scn-guest-bench.sh'}\n")
    env = {"PATH": str(bindir), "FAKE": str(fake), "OUT": str(out), "LAB_NAME": "guest-bench",
           "LAB_FILES": str(files), "G": str(fake / "g"), "CONSOLE_DIR": str(fake / "console"),
           "BENCH_RR_COUNT": "300", "BENCH_RR_REPS": "2", "BENCH_SIZES": "64 65536 2097152",
           "BENCH_BYTES": str(1 << 20), "BENCH_REPS": "1", "FAIL_SIZE": fail_size,
           "HOME": str(tmp_path)}
    proc = subprocess.run([busybox, "sh", "-c", script], cwd=out, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    (out / "stdout").write_text(proc.stdout)
    (out / "stderr").write_text(proc.stderr)
    reason = (out / "reason").read_text() if (out / "reason").exists() else ""
    assert proc.returncode == 0, (f"scenario failed ({proc.returncode}): {reason}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out


@pytest.fixture
def scenario_run(tmp_path: Path) -> Path:
    return _run_scenario(tmp_path, _busybox())


def test_scenario_output_is_what_analyse_reads(scenario_run: Path, bench_dir: Path) -> None:
    recs = [json.loads(ln) for ln in
            (scenario_run / lb.GUEST_RESULTS).read_text().splitlines()]
    kinds = [r["kind"] for r in recs]
    assert kinds.count("boot") == 4 and kinds.count("rr") == 2 and kinds.count("image") == 4
    plan_rec = next(r for r in recs if r["kind"] == "plan")
    assert plan_rec["sizes"] == [64, 65536]       # 2 MiB: beyond the tiny apps
    boots = [r for r in recs if r["kind"] == "boot"]
    assert [r["guest"] for r in boots] == ["tiny", "tiny", "tiny", "linux-pv"]
    assert all(r["ok"] and r["ms"] >= 0 for r in boots)
    assert boots[0]["memory_mib"] == 4 and boots[-1]["memory_mib"] == 256
    assert boots[0]["image_bytes"] == 1004 + len("sink") and boots[0]["image"] == \
        "ivcom-guest-sink.elf"
    assert boots[-1]["image_bytes"] == 5000 and boots[-1]["ramdisk_bytes"] == 3000
    rr = [r for r in recs if r["kind"] == "rr"]
    assert all(r["ok"] for r in rr)
    assert rr[0]["result"]["count"] == 300 and rr[0]["result"]["peer"] == "dom1"
    bulk = [r for r in recs if r["kind"] == "bulk"]
    assert {(r["size"], r["ok"]) for r in bulk} == {(64, True), (65536, True), (2097152, False)}
    ok64 = next(r for r in bulk if r["size"] == 64)
    # about BENCH_BYTES per session, as the Linux bulk sessions
    assert ok64["result"]["msgs"] == (1 << 20) // 64
    assert ok64["result"]["bytes"] == 1 << 20 and ok64["result"]["mode"] == "stream"
    assert ok64["peer_result"]["size"] == 64

    plan = lb.LabPlan(300, (64, 65536), 1 << 20, 1, 2, 2)
    g = lb.analyse(bench_dir, plan, guest_dir=scenario_run)["guest"]
    assert g["boot"]["tiny"]["memory_mib"] == 4
    assert g["boot"]["linux_pv"]["ramdisk_bytes"] == 3000
    assert [row["size"] for row in g["throughput"]] == [64, 65536]
    assert g["throughput"][0]["tiny"]["median"] == pytest.approx(64 * 1000 / 1e6)
    assert g["rr"]["tiny"]["sessions"] == 2
    assert g["failures"] == ["bulk 2 MiB rep 0: the tiny apps take sizes of 1 to 1048576 bytes"]
    assert g["ok"] is False


def test_scenario_records_a_failed_session_and_goes_on(tmp_path: Path) -> None:
    """A sink that fails is one "ok": false line with the guest's own
    words; the sessions after it still run."""
    out = _run_scenario(tmp_path, _busybox(), fail_size="64")
    recs = [json.loads(ln) for ln in (out / lb.GUEST_RESULTS).read_text().splitlines()]
    bulk = [r for r in recs if r["kind"] == "bulk"]
    bad = next(r for r in bulk if r["size"] == 64)
    assert bad["ok"] is False
    assert bad["reason"].endswith(": FAILURE sink: out of memory"), bad
    assert any(r["size"] == 65536 and r["ok"] for r in bulk)


# ---- guest_files(): images built when missing -------------------------------------

def _fake_tree(tmp_path: Path, guest_rule: str) -> Path:
    top = tmp_path / "top"
    (top / "minios-app").mkdir(parents=True)
    (top / "minios-app" / "Makefile").write_text("all:\n")
    (top / "minios-app" / "guest.cfg.in").write_text('name = "@NAME@"\n')
    (top / "Makefile").write_text(f"guest:\n\t{guest_rule}\n")
    return top


def _use_tree(monkeypatch: pytest.MonkeyPatch, top: Path) -> None:
    from ivcom.lab import image

    monkeypatch.setattr(image, "repo_top", lambda: top)
    monkeypatch.setattr(image, "build_root", lambda: top / "build")


def test_missing_images_are_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("make") is None:
        pytest.skip("make not available")
    rule = ("@mkdir -p build/guest && for a in echo pingpong source sink; do "
            "echo img > build/guest/ivcom-guest-$$a.elf; done")
    top = _fake_tree(tmp_path, rule)
    _use_tree(monkeypatch, top)
    said: list[str] = []
    files = lb.guest_files(said.append)
    assert files["ivcom-guest-pingpong.elf"] == top / "build" / "guest" / \
        "ivcom-guest-pingpong.elf"
    assert files["guest.cfg.in"] == top / "minios-app" / "guest.cfg.in"
    assert all(p.is_file() for p in files.values())
    assert said and "make guest" in said[0]


def test_failed_guest_build_is_one_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("make") is None:
        pytest.skip("make not available")
    _use_tree(monkeypatch, _fake_tree(tmp_path, "@echo 'link failed: no room' >&2; exit 3"))
    with pytest.raises(LabError) as ei:
        lb.guest_files()
    msg = str(ei.value)
    assert ei.value.stage == "guest"
    assert "make guest failed" in msg and "link failed: no room" in msg, msg
    assert "\n" not in msg


def test_guest_build_that_makes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("make") is None:
        pytest.skip("make not available")
    _use_tree(monkeypatch, _fake_tree(tmp_path, "@true"))
    with pytest.raises(LabError, match=r"make guest did not build ivcom-guest-echo\.elf"):
        lb.guest_files()


# ---- the shell side --------------------------------------------------------------

def test_guest_helpers_share_the_toolkit_copy() -> None:
    """tests/py/guest's GUEST_SH is guest-lib.sh itself (one copy)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "py" / "guest"))
    try:
        import guest_helpers
    finally:
        sys.path.pop(0)
    text = (LAB_PKG / "guest-lib.sh").read_text()
    assert text == guest_helpers.GUEST_SH
    for fn in ("guest_cfg", "guest_create", "guest_finish", "run_guest", "guest_files",
               "pair_start", "pair_up", "pair", "tell", "guest_tell", "guest_domid",
               "guest_unpause", "now_ms", "guest_result"):
        assert f"\n{fn}() {{" in text, fn


def _shell_fns(*names: str) -> str:
    """Function definitions cut out of scn-guest-bench.sh."""
    import re

    scn = (LAB_PKG / "scn-guest-bench.sh").read_text()
    out = []
    for n in names:
        m = re.search(rf"^{n}\(\) {{\n.*?^}}\n", scn, re.S | re.M)
        assert m, n
        out.append(m.group(0))
    return "".join(out)


def test_shell_json_helpers() -> None:
    busybox = _busybox()
    script = _shell_fns("jstr", "kv_object") + r"""
jstr "$(printf 'say "hi"\\ there\tnow\001')"; echo
kv_object 'pingpong: peer=dom3 size=64 count=2000 lead=007 zero=0 bad-key=1 q=a"b empty= glob=*'
echo
kv_object ''
echo
"""
    proc = subprocess.run([busybox, "sh", "-c", script], capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert json.loads(out[0]) == "say hi therenow"
    assert json.loads(out[1]) == {"peer": "dom3", "size": 64, "count": 2000, "lead": "007",
                                  "zero": 0, "empty": "", "glob": "*"}
    assert json.loads(out[2]) == {}


def test_guest_result_reads_the_first_result_line(tmp_path: Path) -> None:
    busybox = _busybox()
    (tmp_path / "console-g1.log").write_text(
        "hello\nivcom-guest: ready sink domid 3 t=1\n"
        "ivcom-guest: result: SUCCESS sink: msgs=1\nivcom-guest: result: FAILURE later\n")
    script = (f". {LAB_PKG / 'guest-lib.sh'}\n"
              'echo "[$(guest_result g1)]"\necho "[$(guest_result nobody)]"\n')
    proc = subprocess.run([busybox, "sh", "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[SUCCESS sink: msgs=1]", "[]"]


# ---- run(): the wiring, with a stand-in runner (no boot) ---------------------------

class _FakeRunner:
    """Stands in for LabRunner: records what run() asks for and leaves the
    results directories a boot would."""

    seen: ClassVar[dict[str, Any]] = {}
    guest_rc: int = 0
    guest_lines: str | None = None
    bench_rc: int = 0

    def __init__(self, image: object, **kw: object) -> None:
        type(self).seen["kw"] = kw

    def boot(self, scenarios: list, tag: str = "", env: dict | None = None,
             files: dict | None = None) -> object:
        from ivcom.lab.runner import BootResult, ScenarioResult

        cls = type(self)
        cls.seen.update(names=[s.name for s in scenarios], env=env, files=dict(files or {}),
                        lib=(files or {})["guest-lib.sh"].read_text())
        run_dir = Path(cls.seen["tmp"]) / "run"
        results = run_dir / "results"
        bdir = make_bench_dir(results / "ivcom-bench")
        gdir = make_guest_dir(results / "guest-bench")
        if cls.guest_lines is not None:
            (gdir / lb.GUEST_RESULTS).write_text(cls.guest_lines)
        res = BootResult(run_dir, run_dir / "log", results, retries=["boot note"])
        res.scenarios["ivcom-bench"] = ScenarioResult(
            "ivcom-bench", cls.bench_rc, bdir, "" if cls.bench_rc == 0 else "agent died", ())
        res.scenarios["guest-bench"] = ScenarioResult(
            "guest-bench", cls.guest_rc, gdir,
            "" if cls.guest_rc == 0 else "xl create gbe1 failed twice: boom", ("guest note",))
        return res


@pytest.fixture
def fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[_FakeRunner]:
    from ivcom.lab import image, runner, tools

    class Runner(_FakeRunner):
        seen: ClassVar[dict[str, Any]] = {"tmp": str(tmp_path)}

    monkeypatch.setattr(runner, "LabRunner", Runner)
    monkeypatch.setattr(image, "build_image", lambda payload=None, **kw: "image")
    monkeypatch.setattr(tools, "ivcom_payload", lambda *a, **kw: None)
    img = tmp_path / "img.elf"
    img.write_bytes(b"\x7fELF")
    monkeypatch.setattr(lb, "guest_files", lambda log=None: {
        **{f"ivcom-guest-{a}.elf": img for a in lb.GUEST_APPS}, "guest.cfg.in": img})
    from ivcom.lab import bench_kv

    monkeypatch.setattr(bench_kv, "files", lambda log=None: {
        "ivcom-guest-kv.elf": img, "guest.cfg.in": img})
    return Runner


def test_run_boots_both_scenarios_once(fake_lab: type[_FakeRunner]) -> None:
    out = lb.run(lambda m: None, plan=PLAN)
    seen = fake_lab.seen
    assert seen["names"] == ["ivcom-bench", "guest-bench", "kv-bench"]
    assert seen["env"]["BENCH_RR_COUNT"] == "300" and seen["env"]["BENCH_SIZES"] == "64 65536"
    files = seen["files"]
    assert set(files) == {*(f"ivcom-guest-{a}.elf" for a in lb.GUEST_APPS), "guest.cfg.in",
                          "ivcom-guest-kv.elf", "guest-lib.sh"}
    assert seen["lib"] == (LAB_PKG / "guest-lib.sh").read_text()
    assert seen["kw"]["timeout"] > seen["kw"]["scenario_timeout"]
    assert out["guest"]["ok"] is True
    assert out["guest"]["boot"]["tiny"]["median_ms"] == 530
    assert out["retries"] == ["boot note", "guest note"]


def test_run_keeps_linux_figures_when_the_guest_fails(fake_lab: type[_FakeRunner]) -> None:
    fake_lab.guest_rc = 1
    out = lb.run(lambda m: None, plan=PLAN)
    assert out["guest"]["ok"] is False
    assert out["guest"]["reason"] == "xl create gbe1 failed twice: boom"
    assert out["rr"]["ivcom"]["median_us"] == pytest.approx(650.0)
    assert "the guest scenario failed: xl create gbe1 failed twice: boom" in lb.render(out)


def test_run_keeps_linux_figures_when_guest_results_are_bad(
        fake_lab: type[_FakeRunner]) -> None:
    fake_lab.guest_lines = '{"kind": "image", "ok": true, "app": "echo", "bytes": 9}\n{oops\n'
    out = lb.run(lambda m: None, plan=PLAN)
    g = out["guest"]
    assert g["ok"] is False
    assert g["reason"].startswith(f"{lb.GUEST_STAGE}: {lb.GUEST_RESULTS} line 2 is not JSON"), \
        g["reason"]
    assert len(out["throughput"]) == 2


def test_run_fails_when_the_linux_bench_fails(fake_lab: type[_FakeRunner]) -> None:
    fake_lab.bench_rc = 1
    with pytest.raises(LabError, match="lab benchmark failed: agent died"):
        lb.run(lambda m: None, plan=PLAN)
