"""The `ivcom-trace` command: its subcommands, listed here in `--help` order.

The Command base, the parser and the one-line error handling are the
toolkit's (ivcom.command); shared arguments are in ivcom_trace.common.
bcc is imported only when `evtchn` traces, so every other subcommand works
without it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ivcom.command import Command, CommandSet

from ivcom_trace.cmd_evtchn import EvtchnCommand
from ivcom_trace.cmd_rings import DecodeCommand, DumpCommand, InspectCommand, RingsCommand
from ivcom_trace.cmd_xen import XenCommand

__all__ = ["COMMANDS", "TRACE", "Command", "build_parser", "main"]

COMMANDS: list[type[Command]] = [
    RingsCommand,
    InspectCommand,
    DumpCommand,
    DecodeCommand,
    XenCommand,
    EvtchnCommand,
]

TRACE = CommandSet(
    "ivcom-trace", "IVCOM tracing: rings, event channels, hypercalls", COMMANDS, intermixed=True
)
build_parser = TRACE.build_parser


def main(argv: Sequence[str] | None = None, prog: str = "ivcom-trace") -> int:
    return TRACE.main(argv, prog)
