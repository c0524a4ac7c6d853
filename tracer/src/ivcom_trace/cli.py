"""The `ivcom-trace` command: one Command class per subcommand.

Subcommand modules register their classes with `register` when imported;
they are imported lazily so that optional heavy dependencies (bcc,
xentrace) stay optional.  The Command base, the argument parser and the
one-line error handling are the toolkit's (ivcom.cli, ivcom.errors).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ivcom.cli import Command, _Parser
from ivcom.errors import IvcomError

__all__ = ["COMMANDS", "Command", "build_parser", "main", "register"]

COMMANDS: list[type[Command]] = []

# Modules that may be absent (written separately, optional dependencies).
OPTIONAL_MODULES = ("ivcom_trace.cmd_xen", "ivcom_trace.cmd_evtchn")
MODULES = ("ivcom_trace.cmd_rings", *OPTIONAL_MODULES)


def register(cls: type[Command]) -> type[Command]:
    if cls not in COMMANDS:
        COMMANDS.append(cls)
    return cls


def _load_commands() -> None:
    for mod in MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if mod not in OPTIONAL_MODULES or exc.name != mod:
                raise


def build_parser(prog: str = "ivcom-trace") -> argparse.ArgumentParser:
    _load_commands()
    parser = _Parser(prog=prog, description="IVCOM tracing: rings, event channels, hypercalls")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for cls in COMMANDS:
        cmd = cls()
        p = sub.add_parser(cls.name, help=cls.help, description=cls.help)
        cmd.prepare_parser(p)
        p.set_defaults(_cmd=cmd)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse with the subcommand's options and positionals intermixed, so
    that `dump NAME -o FILE 1 10` works as bcc-style tools do."""
    args = list(sys.argv[1:] if argv is None else argv)
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if args and subs and args[0] in subs[0].choices:
        sub = subs[0].choices[args[0]]
        ns: argparse.Namespace
        try:
            ns = sub.parse_intermixed_args(args[1:])
        except TypeError:  # a feature intermixed parsing does not support
            ns = sub.parse_args(args[1:])
        ns.command = args[0]
        return ns
    return parser.parse_args(args)


def main(argv: Sequence[str] | None = None, prog: str = "ivcom-trace") -> int:
    try:
        args = parse_args(build_parser(prog), argv)
        return int(args._cmd.run(args))
    except IvcomError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
