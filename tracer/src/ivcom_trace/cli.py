"""The `ivcom-trace` command: one Command class per subcommand.

Subcommand modules register their classes with `register` when imported;
they are imported lazily so that optional heavy dependencies (bcc,
xentrace) stay optional.  The Command base, the parser and the one-line
error handling are the toolkit's (ivcom.cli.CommandSet).
"""

from __future__ import annotations

from collections.abc import Sequence

from ivcom.cli import Command, CommandSet

__all__ = ["COMMANDS", "TRACE", "Command", "build_parser", "main", "register"]

TRACE = CommandSet(
    "ivcom-trace",
    "IVCOM tracing: rings, event channels, hypercalls",
    modules=("ivcom_trace.cmd_rings",),
    optional=("ivcom_trace.cmd_xen", "ivcom_trace.cmd_evtchn"),
    intermixed=True,
)
COMMANDS = TRACE.commands
register = TRACE.register
build_parser = TRACE.build_parser


def main(argv: Sequence[str] | None = None, prog: str = "ivcom-trace") -> int:
    return TRACE.main(argv, prog)
