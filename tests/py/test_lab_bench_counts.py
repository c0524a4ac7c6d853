"""The lab benchmark's self-counted event sends (no lab boot: synthetic
result files)."""

from __future__ import annotations

from pathlib import Path

from ivcom.lab.bench import _self_sends


def test_vchan_ends_counted_per_1000_round_trips(tmp_path: Path) -> None:
    (tmp_path / "trace-vchan-rr.client").write_text(
        'ivcom-result: {"transport": "vchan"}\n'
        'lab-vchan: events {"role": "client", "pid": 7, "port": 5, "notifies": 1500}\n')
    (tmp_path / "trace-vchan-rr.server").write_text(
        'lab-vchan: events {"role": "server", "pid": 9, "port": 6, "notifies": 1200}\n')
    got = _self_sends(tmp_path, "vchan-rr", {"transport": "vchan", "count": 3000})
    assert got == {"client": 500.0, "server": 400.0}


def test_ivcom_client_counts_itself(tmp_path: Path) -> None:
    s = {"transport": "ivcom", "count": 2000, "notifies_sent": 2100}
    assert _self_sends(tmp_path, "ivcom-rr", s) == {"client": 1050.0}


def test_missing_files_and_tcp_give_nothing(tmp_path: Path) -> None:
    assert _self_sends(tmp_path, "vchan-rr", {"transport": "vchan", "count": 10}) == {}
    assert _self_sends(tmp_path, "tcp-rr", {"transport": "tcp", "count": 10}) == {}
    assert _self_sends(tmp_path, "ivcom-rr", {"transport": "ivcom", "count": 0}) == {}


def test_plot_of_a_lab_only_run(tmp_path: Path) -> None:
    from ivcom.bench import plot

    lab = {"xen": "4.17", "rr": {t: {"median_us": m, "p10_us": m / 2, "p90_us": m * 2}
                                 for t, m in (("ivcom", 600.0), ("tcp", 3000.0),
                                              ("vchan", 550.0))},
           "throughput": [{"size": s, **{t: {"median": v * k} for t, k in
                                         (("ivcom", 3), ("tcp", 1), ("vchan", 2))}}
                          for s, v in ((64, 10.0), (65536, 20.0))]}
    out = tmp_path / "bench.png"
    plot({"lab": lab}, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
