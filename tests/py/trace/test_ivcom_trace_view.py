"""The inspect view on an injected fake source: rates, batch lines, JSON
lines, closing, and one rich frame rendered to an 80x24 console."""

from __future__ import annotations

import io
import json

from ivcom import layouts as L
from ivcom_trace.fakes import broken_frame, ivcom_frames
from ivcom_trace.sources import FakeSource, RingSnapshot
from ivcom_trace.view import (
    CloseWatch,
    header_line,
    make_frame,
    render_rich,
    run_inspect,
    waiting_flags,
)
from rich.console import Console


def no_sleep(_s: float) -> None:
    pass


def run(frames: list[RingSnapshot], **kw: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    run_inspect(FakeSource(frames), channel="0/echo", out=out, err=err, sleep=no_sleep, **kw)
    return out.getvalue(), err.getvalue()


def test_rates_from_index_deltas() -> None:
    a, b = ivcom_frames(2)
    fa = make_frame(None, a)
    fb = make_frame(fa, b)
    assert fa.rates[0].bytes_per_s is None  # no previous frame
    # 3 records of 32 bytes in 0.5 s
    assert fb.rates[0].bytes_per_s == 192.0
    assert fb.rates[0].msgs_per_s == 6.0 and fb.rates[0].msgs_exact
    assert fb.rates[1].bytes_per_s == 0.0


def test_msgs_rate_is_estimated_when_records_were_overwritten() -> None:
    a = ivcom_frames(1)[0]
    ring, prod = L.build_messages(4096, 0, [b"x" * 24] * 200)  # 6400 bytes > ring
    ctrl = L.build_ivcom(s2c_order=12, c2s_order=12, s2c={"prod": prod, "cons": prod - 320})
    b = RingSnapshot("ivcom", ctrl, (ring, bytes(4096)), a.timestamp + 1.0)
    f = make_frame(make_frame(None, a), b)
    assert not f.rates[0].msgs_exact
    assert f.rates[0].msgs_per_s == prod / 32


def test_waiting_flags() -> None:
    f = make_frame(None, ivcom_frames(1)[0])
    assert f.waiting == ("--", "C-")  # the c2s consumer (server) is armed
    vchan = L.decode_vchan(L.build_vchan(cli_notify=L.VCHAN_NOTIFY_WRITE,
                                         srv_notify=L.VCHAN_NOTIFY_READ))
    assert waiting_flags(vchan) == ("CP", "--")


def test_batch_lines_fit_80_columns() -> None:
    out, err = run([*ivcom_frames(3), broken_frame()], style="batch", timestamps=True)
    lines = out.splitlines()
    assert lines[0].startswith("Tracing 0/echo: fake source")
    assert lines[1] == header_line(True)
    assert lines[2] == "# live server=up client=up"
    rows = [x for x in lines if x[:2].isdigit()]
    assert len(rows) == 8  # 4 frames x 2 directions
    assert all(len(x) <= 80 for x in lines)
    s2c = [x.split() for x in rows if x.split()[1] == "s2c"]
    assert [r[2] for r in s2c[:3]] == ["00000000", "00000060", "000000c0"]
    assert s2c[1][6] == "6"  # msgs/s
    assert s2c[1][7] == "192"  # bytes/s
    assert "!! index-distance [s2c]" in out
    assert "BAD" in rows[-2]
    assert err == "ivcom-trace: fake source exhausted\n"


def test_count_limits_frames() -> None:
    out, err = run(ivcom_frames(4), style="batch", count=2)
    assert len([x for x in out.splitlines() if x.startswith("s2c")]) == 2
    assert err == "ivcom-trace: 2 frame(s)\n"


def test_json_lines() -> None:
    out, _ = run([*ivcom_frames(2), broken_frame()], style="json")
    objs = [json.loads(x) for x in out.splitlines()]
    assert len(objs) == 3
    assert objs[1]["channel"] == "0/echo" and objs[1]["kind"] == "ivcom"
    s2c = objs[1]["directions"][0]
    assert (s2c["name"], s2c["prod"], s2c["fill"], s2c["size"]) == ("s2c", 96, 96, 4096)
    assert (s2c["msgs_per_s"], s2c["bytes_per_s"], s2c["msgs_queued"]) == (6.0, 192.0, 3)
    assert objs[1]["live"] == {"server": "up", "client": "up"}
    assert objs[1]["violations"] == []
    assert objs[2]["violations"][0]["kind"] == "index-distance"


def test_stops_when_the_channel_closes() -> None:
    out, err = run(ivcom_frames(4, close_last=True) + ivcom_frames(2), style="batch")
    assert err == "ivcom-trace: channel closed: client closed the channel (client_live=closed)\n"
    assert "# live server=up client=closed" in out
    assert out.count("\ns2c") == 4


def test_stops_when_xenstore_says_closed() -> None:
    out, err = io.StringIO(), io.StringIO()
    states = iter(["connected", "closed"])
    o = run_inspect(FakeSource(ivcom_frames(4)), channel="c", style="json", out=out, err=err,
                    sleep=no_sleep, store_state=lambda: next(states))
    assert o.frames == 2
    assert "closed in XenStore" in err.getvalue()


def test_close_watch_needs_client_seen_before_dead() -> None:
    w = CloseWatch()
    waiting = L.decode_ivcom(L.build_ivcom(client_live=L.IVCOM_LIVE_DEAD))
    assert w.check(waiting) is None  # client not connected yet
    assert w.check(L.decode_ivcom(L.build_ivcom())) is None
    assert w.check(waiting) == "client is gone (client_live=dead)"


def test_ctrl_c_is_clean() -> None:
    def gen():
        yield ivcom_frames(1)[0]
        raise KeyboardInterrupt

    out, err = io.StringIO(), io.StringIO()
    o = run_inspect(FakeSource(gen()), channel="c", style="batch", out=out, err=err,
                    sleep=no_sleep)
    assert o.frames == 1 and err.getvalue() == "ivcom-trace: interrupted\n"


def test_rich_frame_on_80x24_console() -> None:
    a, b = ivcom_frames(2)
    f = make_frame(make_frame(None, a), b)
    con = Console(width=80, height=24, record=True, color_system=None)
    con.print(render_rich(f, "0/echo", "ivcom ring, sim grant ref 8 of domain 0"))
    text = con.export_text()
    lines = text.splitlines()
    assert len(lines) <= 24
    assert all(len(x) <= 80 for x in lines)
    assert lines[0].startswith("0/echo  ivcom")
    assert "sim grant ref 8 of domain 0" in lines[1]
    assert "server=up" in text and "client=up" in text and "mode=message" in text
    head = next(x for x in lines if x.startswith("DIR"))
    for col in ("PROD", "CONS", "FILL", "FILL%", "MSG/s", "BYTE/s", "WAIT", "NTFY P/C"):
        assert col in head
    s2c = next(x for x in lines if x.startswith("s2c")).split()
    assert s2c[1:8] == ["00000060", "00000000", "96", "2.3%", "6", "192", "--"]
    assert "no protocol violations" in text


def test_rich_frame_highlights_violations() -> None:
    f = make_frame(None, broken_frame())
    con = Console(width=80, height=24, record=True, color_system="truecolor")
    con.print(render_rich(f, "0/echo", "x"))
    text = con.export_text(clear=False)
    assert "!! index-distance [s2c]: prod 0x2328 - cons 0x0 = 0x2328 > size 0x1000" in text
    html = con.export_html()
    assert "index-distance" in html and "color: #800000" in html  # red


def test_live_mode_runs_on_injected_console() -> None:
    con = Console(width=80, height=24, record=True, color_system=None, force_terminal=True)
    err = io.StringIO()
    o = run_inspect(FakeSource(ivcom_frames(3)), channel="0/echo", style="live", count=2,
                    console=con, err=err, sleep=no_sleep)
    assert o.frames == 2
    assert "00000060" in con.export_text()
    assert err.getvalue() == "ivcom-trace: 2 frame(s)\n"
