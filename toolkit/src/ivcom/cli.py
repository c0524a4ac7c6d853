"""The `ivcom` command: one Command class per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import ClassVar

from ivcom.errors import IvcomError, UsageError


class Command:
    """A subcommand: `prepare_parser` declares arguments, `run` does the work."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


COMMANDS: list[type[Command]] = []


def register(cls: type[Command]) -> type[Command]:
    COMMANDS.append(cls)
    return cls


def _load_commands() -> None:
    # Subcommand modules register themselves on import; keep imports lazy
    # so that optional heavy dependencies stay optional.
    import importlib

    for mod in ("ivcom.cmd_sim", "ivcom.lab.cmd", "ivcom.bench"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def build_parser(prog: str = "ivcom") -> argparse.ArgumentParser:
    _load_commands()
    parser = _Parser(prog=prog, description="IVCOM inter-domain channels: tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for cls in COMMANDS:
        cmd = cls()
        p = sub.add_parser(cls.name, help=cls.help, description=cls.help)
        cmd.prepare_parser(p)
        p.set_defaults(_cmd=cmd)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "ivcom") -> int:
    try:
        args = build_parser(prog).parse_args(argv)
        return int(args._cmd.run(args))
    except IvcomError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
