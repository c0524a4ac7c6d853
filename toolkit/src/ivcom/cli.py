"""The `ivcom` command: its subcommands, listed here in `--help` order.

The Command base, the parser and the one-line error handling are in
ivcom.command; each subcommand lives beside what it drives.  Heavy
dependencies (matplotlib, rich, the lab's image build) are imported when a
command runs, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ivcom.bench import BenchCommand
from ivcom.cmd_proxy import ProxyCommand
from ivcom.cmd_sim import SimCommand
from ivcom.command import Command, CommandSet
from ivcom.demo import DemoCommand
from ivcom.lab.cmd import LabCommand

__all__ = ["COMMANDS", "IVCOM", "Command", "build_parser", "main"]

COMMANDS: list[type[Command]] = [SimCommand, LabCommand, BenchCommand, DemoCommand,
                                 ProxyCommand]

IVCOM = CommandSet("ivcom", "IVCOM inter-domain channels: tools", COMMANDS)
build_parser = IVCOM.build_parser


def main(argv: Sequence[str] | None = None, prog: str = "ivcom") -> int:
    return IVCOM.main(argv, prog)
