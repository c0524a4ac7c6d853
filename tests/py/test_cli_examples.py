"""Every subcommand of `ivcom` and `ivcom-trace` ends its help with real
examples, bcc style: each example parses, names its subcommand, and the
help around it fits 80 columns."""

from __future__ import annotations

import shlex

import pytest
from ivcom.cli import IVCOM
from ivcom.command import Command, CommandSet
from ivcom_trace.cli import TRACE

CASES = [(prog, cls) for prog in (IVCOM, TRACE) for cls in prog.commands]
IDS = [f"{prog.prog}-{cls.name}" for prog, cls in CASES]


@pytest.mark.parametrize(("prog", "cls"), CASES, ids=IDS)
def test_every_example_parses(prog: CommandSet, cls: type[Command]) -> None:
    assert cls.examples, f"{prog.prog} {cls.name} has no examples"
    parser = prog.build_parser()
    for argv, what in cls.examples:
        words = shlex.split(argv)
        assert words[0] == cls.name, argv
        ns = prog.parse_args(parser, words)
        assert type(ns._cmd) is cls, argv
        assert what and "\n" not in what, argv


@pytest.mark.parametrize(("prog", "cls"), CASES, ids=IDS)
def test_help_ends_with_the_examples(prog: CommandSet, cls: type[Command],
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal
    with pytest.raises(SystemExit) as done:
        prog.main([cls.name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    tail = out.split("\nexamples:\n", 1)[1].splitlines()
    assert len(tail) >= len(cls.examples)
    assert all(line.startswith(f"    {prog.prog} {cls.name}") or line.lstrip().startswith("#")
               for line in tail)
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("prog", [IVCOM, TRACE], ids=["ivcom", "ivcom-trace"])
def test_program_help_shows_one_example_per_subcommand(
        prog: CommandSet, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        prog.main(["--help"])
    tail = capsys.readouterr().out.split("\nexamples:\n", 1)[1]
    for cls in prog.commands:
        assert f"    {prog.prog} {cls.examples[0][0]}" in tail
