"""The kv benchmark's analysis (ivcom.lab.bench_kv), without booting the lab.

analyse() is fed a synthetic kv-bench.jsonl as scn-kv-bench.sh writes it
and must give per service and client count the ops/s (4 clients: the sum),
p50 (median of the clients') and p99 (the worst), the tiny domain's
serving time, image and memory, and one verdict per target; failed runs
are named and the rest kept; a malformed line is a LabError naming the
file and line; render() and plot() show it; `ivcom bench`'s lab section
boots the scenario in the same boot and keeps its block.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from ivcom.lab import bench as lb
from ivcom.lab import bench_kv as bk
from ivcom.lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
SCN = ROOT / "toolkit" / "src" / "ivcom" / "lab" / "scn-kv-bench.sh"

# ops/s of one client alone per target and round; with 4 clients each
# client does FOUR_SHARE of it (the service's sum is 4x that).
ONE = {"tiny": (1000.0, 1200.0), "linux-ivcom": (800.0, 900.0), "linux-tcp": (150.0, 200.0)}
FOUR_SHARE = 0.5


def bench_result(ops: float, p50_us: float, p99_us: float, begin: float,
                 transport: str = "ivcom") -> dict[str, Any]:
    return {"tool": "ivcom-kv", "role": "bench", "transport": transport, "count": int(ops * 10),
            "seconds": 10.0, "ops_per_s": ops,
            "lat_ns": {"min": 100, "p50": p50_us * 1e3, "p90": p99_us * 500, "p99": p99_us * 1e3,
                       "max": p99_us * 2e3},
            "gets": 1, "hits": 1, "puts": 1, "dels": 1, "lists": 1, "reconnects": 0,
            "wall_begin": begin, "wall_end": begin + 10}


def kv_lines(rounds: int = 2) -> list[dict[str, Any]]:
    """A complete kv-bench.jsonl: serving 300 and 420 ms, image 90 000 B,
    4 MiB; per client p50 1e6/ops us, p99 3x that."""
    recs: list[dict[str, Any]] = [
        {"kind": "plan", "ok": True, "seconds": 10, "rounds": rounds, "size": 64, "keys": 100,
         "lead_s": 6, "clients": [1, 4], "targets": list(bk.TARGETS)},
        {"kind": "image", "target": "tiny", "ok": True, "image": "ivcom-guest-kv.elf",
         "bytes": 90000}]
    for rnd in range(1, rounds + 1):
        for t in bk.TARGETS:
            if t == "tiny":
                recs.append({"kind": "serving", "target": t, "round": rnd, "ok": True,
                             "ms": (300, 420)[rnd - 1], "memory_mib": 4})
            ops = ONE[t][rnd - 1]
            tr = "tcp" if t == "linux-tcp" else "ivcom"
            recs.append({"kind": "bench", "target": t, "round": rnd, "clients": 1,
                         "client": "kc1", "ok": True,
                         "result": bench_result(ops, 1e6 / ops, 3e6 / ops, 1000.0, tr)})
            for i, g in enumerate(("kc1", "kc2", "kc3", "kc4")):
                share = ops * FOUR_SHARE
                recs.append({"kind": "bench", "target": t, "round": rnd, "clients": 4,
                             "client": g, "ok": True,
                             "result": bench_result(share, 1e6 / share * (1 + i / 10),
                                                    3e6 / share * (1 + i), 2000.0 + i * 0.01,
                                                    tr)})
            recs.append({"kind": "service", "target": t, "round": rnd, "ok": True,
                         "result": "rc=0: ivcom-kv: service kv: 5 clients ended"})
    return recs


def write(d: Path, recs: list[dict[str, Any]]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / bk.RESULTS).write_text("".join(json.dumps(r) + "\n" for r in recs))
    return d


def verdict(block: dict[str, Any], start: str) -> dict[str, Any]:
    return next(v for v in block["verdicts"] if v["target"].startswith(start))


def test_figures_ratios_and_verdicts(tmp_path: Path) -> None:
    b = bk.analyse(write(tmp_path, kv_lines()))
    assert b["ok"] is True and b["reason"] is None and b["failures"] == []
    one = b["targets"]["tiny"]["1"]
    assert one["ops_per_s"]["median"] == pytest.approx(1100.0)
    assert one["ops_per_s"]["samples"] == [1000.0, 1200.0]
    assert one["p50_us"]["median"] == pytest.approx((1000 + 1e6 / 1200) / 2)
    four = b["targets"]["linux-tcp"]["4"]
    assert four["ops_per_s"]["samples"] == pytest.approx([300.0, 400.0])     # the sums
    # p99: the worst client's (the 4th: 4x its base of 3e6 / share)
    assert four["p99_us"]["samples"][0] == pytest.approx(4 * 3e6 / 75.0)
    assert four["start_spread_s"] == pytest.approx(0.03)
    r1 = b["ratios"]["1"]
    assert r1["tiny_over_linux_ivcom"] == pytest.approx(1100 / 850)
    assert r1["tiny_over_linux_tcp"] == pytest.approx(1100 / 175)
    assert b["tiny"]["serving_ms"]["median"] == 360 and b["tiny"]["image_bytes"] == 90000
    assert b["tiny"]["memory_mib"] == 4
    lines = [bk.verdict_line(v) for v in b["verdicts"]]
    assert [v["n"] for v in b["verdicts"]] == list(range(1, 8))
    assert all(ln.startswith("ok ") for ln in lines), lines
    assert lines[0] == ("ok 1 tiny kv ops/s with 1 client(s) at least the Linux-domU IVCOM "
                        "service's: 1.29x (1100 vs 850 ops/s)")
    assert lines[1].startswith("ok 2 tiny kv ops/s with 1 client(s) at least 5x the netfront "
                               "TCP service's: 6.29x")
    assert lines[4] == "ok 5 tiny kv image at most 100 KiB: 87.9 KiB (90000 bytes)"
    assert lines[5] == "ok 6 tiny kv domain in 4 MiB of RAM: memory = 4 MiB"
    assert lines[6] == ("ok 7 tiny kv domain serving within 0.5 s of xl create: "
                        "median 360 ms of 2 [300..420]")


def test_targets_missed_are_not_ok(tmp_path: Path) -> None:
    recs = kv_lines(rounds=1)
    for r in recs:
        if r["kind"] == "bench" and r["target"] == "linux-tcp":
            r["result"]["ops_per_s"] *= 2               # TCP 300 alone: tiny only 3.3x
        if r["kind"] == "image":
            r["bytes"] = 120 * 1024
        if r["kind"] == "serving":
            r["ms"], r["memory_mib"] = 800, 8
    b = bk.analyse(write(tmp_path, recs))
    assert b["ok"] is True                      # measured; the verdicts say the rest
    assert verdict(b, "tiny kv ops/s with 1 client(s) at least the")["ok"] is True
    v = verdict(b, "tiny kv ops/s with 1 client(s) at least 5x")
    assert v["ok"] is False and v["value"] == pytest.approx(1000 / 300)
    assert bk.verdict_line(v).startswith("not ok 2 ")
    assert verdict(b, "tiny kv image")["ok"] is False
    assert verdict(b, "tiny kv domain in")["ok"] is False
    assert verdict(b, "tiny kv domain serving")["ok"] is False


def test_failed_run_is_named_and_the_rest_kept(tmp_path: Path) -> None:
    recs = kv_lines()
    bad = next(r for r in recs if r["kind"] == "bench" and r["target"] == "linux-ivcom"
               and r["clients"] == 4 and r["round"] == 2 and r["client"] == "kc3")
    bad.clear()
    bad.update({"kind": "bench", "target": "linux-ivcom", "round": 2, "clients": 4,
                "client": "kc3", "ok": False, "reason": "kc3: rc=1: GET x: value corrupted"})
    b = bk.analyse(write(tmp_path, recs))
    assert b["ok"] is False
    assert b["failures"] == ["bench linux-ivcom round 2, 4 client(s), kc3: "
                             "kc3: rc=1: GET x: value corrupted"]
    assert b["reason"].startswith("1 measurement(s) failed, first: bench linux-ivcom")
    four = b["targets"]["linux-ivcom"]["4"]
    assert four["rounds"] == 1 and four["ops_per_s"]["samples"] == [1600.0]   # round 1 only
    assert verdict(b, "tiny kv ops/s with 4 client(s) at least the")["ok"] is True
    text = "\n".join(bk.render(b))
    assert "failed: bench linux-ivcom round 2, 4 client(s), kc3" in text


def test_unmeasured_target_is_a_skip(tmp_path: Path) -> None:
    recs = [r for r in kv_lines(rounds=1) if r.get("target") != "linux-tcp"]
    b = bk.analyse(write(tmp_path, recs))
    assert b["ok"] is False
    assert b["reason"] == ("not measured: linux-tcp with 1 client(s), "
                           "linux-tcp with 4 client(s)")
    v = verdict(b, "tiny kv ops/s with 4 client(s) at least 5x")
    assert v["ok"] is None and bk.verdict_line(v).endswith("# SKIP not measured")


@pytest.mark.parametrize("d, failure, reason", [
    (None, None, "the kv scenario did not run"),
    (None, "xl create kvbt1 failed twice: boom", "xl create kvbt1 failed twice: boom"),
    ("empty", None, f"no {bk.RESULTS} in the kv scenario's results"),
])
def test_missing_results_give_a_reason(tmp_path: Path, d: str | None, failure: str | None,
                                       reason: str) -> None:
    if d is not None:
        (tmp_path / d).mkdir()
    b = bk.analyse(tmp_path / d if d else None, failure)
    assert b["ok"] is False and b["reason"] == reason
    assert all(v["ok"] is None for v in b["verdicts"]) and len(b["verdicts"]) == 7
    text = "\n".join(bk.render(b))
    assert reason in text and "# SKIP" in text


def test_failed_scenario_keeps_its_figures(tmp_path: Path) -> None:
    b = bk.analyse(write(tmp_path, kv_lines()), "timed out")
    assert b["ok"] is False and b["reason"] == "timed out"
    assert b["targets"]["tiny"]["1"]["ops_per_s"]["median"] == pytest.approx(1100.0)
    assert "the kv scenario failed: timed out" in "\n".join(bk.render(b))


@pytest.mark.parametrize("bad, what", [
    ("{oops", "is not JSON"),
    ('["a"]', "not a JSON object"),
    ('{"kind": "dance", "ok": true}', "unknown kind 'dance'"),
    ('{"kind": "image", "target": "tiny"}', "'ok' missing or not true/false"),
    ('{"kind": "image", "target": "big", "ok": true, "bytes": 1}', "unknown target 'big'"),
    ('{"kind": "image", "target": "tiny", "ok": true}', "'bytes' missing or not a number"),
    ('{"kind": "serving", "target": "tiny", "round": 1, "ok": true, "ms": "fast", '
     '"memory_mib": 4}', "'ms' missing or not a number"),
    ('{"kind": "bench", "target": "tiny", "round": 1, "ok": true, "clients": 2, '
     '"result": {}}', "clients 2 (not 1 or 4)"),
    ('{"kind": "bench", "target": "tiny", "round": 1, "ok": true, "clients": 1}',
     "'result' missing or not an object"),
    ('{"kind": "bench", "target": "tiny", "round": 1, "ok": false}',
     "'reason' missing or not a string"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: str, what: str) -> None:
    good = json.dumps(kv_lines(rounds=1)[0])
    (tmp_path / bk.RESULTS).write_text(f"{good}\n\n{bad}\n")
    with pytest.raises(LabError) as exc:
        bk.analyse(tmp_path)
    assert exc.value.stage == bk.STAGE
    assert f"{bk.RESULTS} line 3" in str(exc.value) and what in str(exc.value), str(exc.value)


def test_bench_without_requests_is_malformed(tmp_path: Path) -> None:
    recs = kv_lines(rounds=1)
    recs[3]["result"]["count"] = 0
    with pytest.raises(LabError, match="line 4: a bench that made no request"):
        bk.analyse(write(tmp_path, recs))


def test_render_table(tmp_path: Path) -> None:
    text = "\n".join(bk.render(bk.analyse(write(tmp_path, kv_lines()))))
    assert "tiny kv domain (IVCOM)" in text and "Linux domU (netfront TCP)" in text
    row = next(ln for ln in text.splitlines() if ln.strip().startswith("tiny kv domain (IVCOM)")
               and ln.split()[4] == "4")
    assert row.split()[5:7] == ["2200", "[2000..2400]"]
    assert "1 client(s): tiny/Linux-IVCOM 1.29x, tiny/TCP 6.29x" in text
    assert "xl create -> serving 360 ms ([300..420] of 2), image 87.9 KiB, memory 4 MiB" in text
    assert "ok 7 tiny kv domain serving within 0.5 s of xl create" in text
    assert "WARNING" not in text


def test_render_warns_of_spread_starts(tmp_path: Path) -> None:
    recs = kv_lines(rounds=1)
    for r in recs:
        if r["kind"] == "bench" and r["clients"] == 4 and r["client"] == "kc4":
            r["result"]["wall_begin"] += 2.0
    text = "\n".join(bk.render(bk.analyse(write(tmp_path, recs))))
    assert "WARNING: 4 clients' starts spread over 2.0" in text


def test_plot_draws_both_panels(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2)
    bk.plot(bk.analyse(write(tmp_path, kv_lines())), a1, a2)
    assert len(a1.patches) == 6 and len(a2.patches) == 6
    plt.close(fig)


def test_plan_env() -> None:
    assert bk.KvPlan.for_mode(True).env() == {"KVB_SECONDS": "5", "KVB_ROUNDS": "1"}
    assert bk.KvPlan.for_mode(False).env() == {"KVB_SECONDS": "10", "KVB_ROUNDS": "2"}


def test_scenario_writes_what_analyse_reads() -> None:
    """The scenario's JSON lines carry the kinds, keys and targets the
    analysis reads (it is run in the lab only)."""
    text = SCN.read_text()
    for kind in bk.KINDS:
        assert f'"kind": "{kind}"' in text, kind
    for t in bk.TARGETS:
        assert t in text
    assert bk.RESULTS in text and bk.IMAGE in text
    for key in ('"ms"', '"memory_mib"', '"bytes"', '"clients"', '"result"', '"reason"',
                '"round"', "--at-wall", "-j bench"):
        assert key in text, key


def test_scenario_is_valid_sh() -> None:
    import shutil
    import subprocess

    sh = shutil.which("busybox")
    if sh is None:
        pytest.skip("busybox not installed")
    r = subprocess.run([sh, "sh", "-n", str(SCN)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


# ---- `ivcom bench`'s lab section: the kv scenario in the same boot ----------------

class _Runner:
    seen: ClassVar[dict[str, Any]] = {}
    kv_rc = 0

    def __init__(self, image: object, **kw: object) -> None:
        type(self).seen["kw"] = kw

    def boot(self, scenarios: list, tag: str = "", env: dict | None = None,
             files: dict | None = None) -> object:
        from ivcom.lab.runner import BootResult, ScenarioResult
        from test_lab_bench_guest import make_bench_dir, make_guest_dir

        cls = type(self)
        cls.seen.update(names=[s.name for s in scenarios], env=env, files=dict(files or {}))
        run_dir = Path(cls.seen["tmp"]) / "run"
        results = run_dir / "results"
        res = BootResult(run_dir, run_dir / "log", results, retries=[])
        bdir = make_bench_dir(results / "ivcom-bench")
        gdir = make_guest_dir(results / "guest-bench")
        kdir = write(results / "kv-bench", kv_lines())
        res.scenarios["ivcom-bench"] = ScenarioResult("ivcom-bench", 0, bdir, "", ())
        res.scenarios["guest-bench"] = ScenarioResult("guest-bench", 0, gdir, "", ())
        if "kv-bench" in cls.seen["names"]:
            res.scenarios["kv-bench"] = ScenarioResult(
                "kv-bench", cls.kv_rc, kdir, "" if cls.kv_rc == 0 else "ks died", ("kv note",))
        return res


@pytest.fixture
def fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[_Runner]:
    from ivcom.lab import image, runner, tools

    class Runner(_Runner):
        seen: ClassVar[dict[str, Any]] = {"tmp": str(tmp_path)}

    monkeypatch.setattr(runner, "LabRunner", Runner)
    monkeypatch.setattr(image, "build_image", lambda payload=None, **kw: "image")
    monkeypatch.setattr(tools, "ivcom_payload", lambda *a, **kw: None)
    img = tmp_path / "img.elf"
    img.write_bytes(b"\x7fELF")
    monkeypatch.setattr(lb, "guest_files", lambda log=None: {
        **{f"ivcom-guest-{a}.elf": img for a in lb.GUEST_APPS}, "guest.cfg.in": img})
    monkeypatch.setattr(bk, "files", lambda log=None: {"ivcom-guest-kv.elf": img,
                                                       "guest.cfg.in": img})
    return Runner


PLAN = lb.LabPlan(rr_count=300, sizes=(64, 65536), bytes_per_session=1 << 20, reps=1,
                  trace_s=2, rr_reps=2)


def test_lab_section_runs_kv_in_the_same_boot(fake_lab: type[_Runner]) -> None:
    said: list[str] = []
    out = lb.run(said.append, plan=PLAN, quick=True)
    seen = fake_lab.seen
    assert seen["names"] == ["ivcom-bench", "guest-bench", "kv-bench"]
    assert "ivcom-guest-kv.elf" in seen["files"] and "guest.cfg.in" in seen["files"]
    assert seen["env"]["KVB_SECONDS"] == "5" and seen["env"]["BENCH_RR_COUNT"] == "300"
    assert out["kv"]["ok"] is True and "kv note" in out["retries"]
    assert sum(1 for m in said if m.startswith("kv: ok ")) == 7
    text = lb.render(out)
    assert "kv service, same boot" in text and "ok 1 tiny kv ops/s" in text


def test_lab_section_keeps_kv_figures_of_a_failed_scenario(fake_lab: type[_Runner]) -> None:
    fake_lab.kv_rc = 1
    out = lb.run(lambda m: None, plan=PLAN)
    assert out["kv"]["ok"] is False and out["kv"]["reason"] == "ks died"
    assert out["kv"]["targets"]["tiny"]["1"]["rounds"] == 2


def test_lab_section_without_the_kv_image(fake_lab: type[_Runner],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def no_image(log: object = None) -> dict[str, Path]:
        raise LabError("make guest failed (status 2): boom", stage="guest")

    monkeypatch.setattr(bk, "files", no_image)
    out = lb.run(lambda m: None, plan=PLAN)
    assert fake_lab.seen["names"] == ["ivcom-bench", "guest-bench"]
    assert out["kv"]["ok"] is False
    why = LabError("make guest failed (status 2): boom", stage="guest")
    assert out["kv"]["reason"] == f"not run: {why}"
    assert out["guest"]["ok"] is True


def test_whole_plot_has_a_kv_row(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from ivcom import bench

    lab = {"kv": bk.analyse(write(tmp_path / "kv", kv_lines()))}
    calls: list[str] = []
    orig = bk.plot

    def spy(block: dict[str, Any], a1: Any, a2: Any) -> None:
        calls.append("kv")
        orig(block, a1, a2)

    mp = pytest.MonkeyPatch()
    mp.setattr(bk, "plot", spy)
    mp.setattr(bench, "_plot_lab", lambda lab, a1, a2: None)
    try:
        bench.plot({"lab": copy.deepcopy(lab)}, tmp_path / "b.png")
    finally:
        mp.undo()
    assert calls == ["kv"] and (tmp_path / "b.png").stat().st_size > 0
