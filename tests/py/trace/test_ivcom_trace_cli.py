"""The ivcom-trace CLI end to end, with the ring source injected."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from ivcom_trace import cli, cmd_rings
from ivcom_trace.capture import CaptureReader
from ivcom_trace.fakes import DEMO_STORE, FakeStore, broken_frame, ivcom_frames
from ivcom_trace.sources import FakeSource


@pytest.fixture
def fake_source(monkeypatch: pytest.MonkeyPatch) -> list[FakeSource]:
    """Every open_source() hands out a FakeSource over 4 frames + a broken one."""
    made: list[FakeSource] = []

    @contextlib.contextmanager
    def fake_open(spec: str, name: str, with_data: bool = True, client: int | None = None):
        src = FakeSource([*ivcom_frames(4), broken_frame()], f"fake {spec}")
        made.append(src)
        try:
            yield cmd_rings.Opened(src, f"0/{name}", None, None)
        finally:
            src.close()

    monkeypatch.setattr(cmd_rings, "open_source", fake_open)
    return made


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def fake():
        yield FakeStore(DEMO_STORE)

    monkeypatch.setattr(cmd_rings, "open_store", fake)


def test_subcommands_registered() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"rings", "inspect", "dump", "decode"} <= set(sub.choices)


def test_commands_are_listed_in_one_place() -> None:
    names = [c.name for c in cli.COMMANDS]
    assert names == ["rings", "inspect", "dump", "decode", "xen", "evtchn"]


def test_inspect_batch(fake_source, capsys) -> None:
    assert cli.main(["inspect", "-b", "-T", "echo", "0", "3"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "Tracing 0/echo: fake auto. Ctrl-C to end."
    assert lines[1].split() == ["TIME", "DIR", "PROD", "CONS", "FILL", "FILL%", "MSG/s",
                                "BYTE/s", "WAIT", "NTFY", "P/C"]
    assert sum(" s2c " in x for x in lines) == 3
    assert all(len(x) <= 80 for x in lines)
    assert err == "ivcom-trace: 3 frame(s)\n"
    assert fake_source[0].closed


def test_inspect_json_until_source_ends(fake_source, capsys) -> None:
    assert cli.main(["inspect", "-j", "echo", "0"]) == 0
    out, err = capsys.readouterr()
    objs = [json.loads(x) for x in out.splitlines()]
    assert len(objs) == 5
    assert [o["directions"][0]["prod"] for o in objs] == [0, 96, 192, 288, 9000]
    assert objs[4]["violations"][0]["kind"] == "index-distance"
    assert err == "ivcom-trace: fake source exhausted\n"


def test_hidden_source_option(fake_source, capsys) -> None:
    assert cli.main(["inspect", "-b", "--source", "sim", "echo", "0", "1"]) == 0
    assert "fake sim" in capsys.readouterr().out
    help_text = subprocess.run(
        [sys.executable, "-m", "ivcom_trace", "inspect", "-h"], capture_output=True, text=True
    ).stdout
    assert "--source" not in help_text and "-b, --batch" in help_text


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["inspect", "-b", "echo", "-1"], "interval must be >= 0"),
        (["inspect", "-b", "echo", "1", "0"], "count must be a positive integer"),
        (["inspect", "-b", "echo", "soon"], "interval must be >= 0"),
        (["inspect"], "required: NAME"),
    ],
)
def test_bad_arguments_are_one_line(fake_source, capsys, argv, msg) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_source_is_one_line(capsys) -> None:
    assert cli.main(["inspect", "-b", "--source", "ether", "echo"]) == 2
    assert capsys.readouterr().err == (
        "ivcom-trace: error: unknown source 'ether' (sim, xen, fake or file:PATH)\n"
    )


def test_dump_then_decode(fake_source, tmp_path, capsys) -> None:
    cap = tmp_path / "echo.ivtrace"
    assert cli.main(["dump", "echo", "-o", str(cap), "0", "4"]) == 0
    assert capsys.readouterr().err == f"ivcom-trace: 4 frame(s); wrote 4 snapshot(s) to {cap}\n"
    with cap.open("rb") as fp:
        r = CaptureReader(fp)
        assert r.name == "0/echo"
        assert list(r) == ivcom_frames(4)

    assert cli.main(["decode", str(cap)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"Decoding capture {cap} of 0/echo."
    assert sum(" s2c " in x for x in out.splitlines()) == 4
    assert err == "ivcom-trace: end of capture echo.ivtrace\n"

    assert cli.main(["decode", "-j", str(cap)]) == 0
    objs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [o["directions"][0]["msgs_queued"] for o in objs] == [0, 3, 6, 9]


def test_decode_corrupt_file_is_one_line(tmp_path, capsys, fake_source) -> None:
    cap = tmp_path / "c.ivtrace"
    assert cli.main(["dump", "echo", "-o", str(cap), "0", "2"]) == 0
    data = cap.read_bytes()
    cap.write_bytes(data[:-100])
    capsys.readouterr()
    assert cli.main(["decode", str(cap)]) == 1
    out, err = capsys.readouterr()
    assert sum(" s2c " in x for x in out.splitlines()) == 1  # the good record was shown
    assert err.startswith(f"ivcom-trace: error: {cap}: truncated ring data at byte ")
    assert err.count("\n") == 1


def test_decode_not_a_capture(tmp_path, capsys) -> None:
    p = tmp_path / "junk"
    p.write_bytes(b"hello world, not a capture")
    assert cli.main(["decode", str(p)]) == 1
    assert capsys.readouterr().err == (
        f"ivcom-trace: error: {p}: not an ivcom-trace capture (bad magic at byte 0)\n"
    )


def test_inspect_from_file_source_real_open(tmp_path, capsys, monkeypatch) -> None:
    cap = tmp_path / "c.ivtrace"
    with cap.open("wb") as fp:
        from ivcom_trace.capture import CaptureWriter

        w = CaptureWriter(fp, "3/rec")
        for f in ivcom_frames(2):
            w.write(f)
    assert cli.main(["inspect", "-j", "--source", f"file:{cap}", "ignored", "0"]) == 0
    out, err = capsys.readouterr()
    objs = [json.loads(x) for x in out.splitlines()]
    assert [o["channel"] for o in objs] == ["3/rec", "3/rec"]
    assert "end of capture" in err


def test_rings_table_and_json(fake_store, capsys) -> None:
    assert cli.main(["rings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CHANNEL", "KIND", "SRV", "CLI", "S2C", "C2S", "MODE", "STATE"]
    assert lines[1].split() == ["0/echo", "ivcom", "0", "3", "64.0K", "4.0K", "message",
                                "connected/connected"]
    assert lines[4].split() == ["2/vchan:0/5000", "vchan", "2", "0", "-", "-", "stream",
                                "offered"]
    assert all(len(x) <= 80 for x in lines)
    assert cli.main(["rings", "-j"]) == 0
    objs = json.loads(capsys.readouterr().out)
    assert [o["name"] for o in objs] == ["echo", "bulk", "echo", "vchan:0/5000"]
    assert objs[0]["ctrl_ref"] == 8


def test_rings_without_xenstored_is_one_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("XENSTORED_PATH", str(tmp_path / "none"))
    assert cli.main(["rings"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ivcom-trace: error: cannot reach xenstored at ")
    assert err.count("\n") == 1


def test_console_script_entry_point() -> None:
    r = subprocess.run([sys.executable, "-m", "ivcom_trace", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    for name in ("rings", "inspect", "dump", "decode"):
        assert name in r.stdout
