"""Command-line front ends: one Command class per subcommand.

A `CommandSet` is one program (`ivcom`, `ivcom-trace`): its subcommand
modules register their Command classes when imported, lazily, so that
optional heavy dependencies stay optional; user errors (IvcomError) are
printed as one line with their exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
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


class Parser(argparse.ArgumentParser):
    """argparse whose errors are UsageError (one line, exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # Name the subcommand ("ivcom sim: ..."); main() names the program.
        raise UsageError(f"{self.prog}: {message}" if " " in self.prog else message)


class CommandSet:
    """One program's subcommands, the modules that define them, and main()."""

    def __init__(self, prog: str, description: str, modules: Sequence[str],
                 optional: Sequence[str] = (), intermixed: bool = False) -> None:
        self.prog = prog
        self.description = description
        self.modules = list(modules)
        self.optional = tuple(optional)     # may be absent: skipped quietly
        self.intermixed = intermixed        # `dump NAME -o F 1 10`, bcc style
        self.commands: list[type[Command]] = []

    def register(self, cls: type[Command]) -> type[Command]:
        if cls not in self.commands:
            self.commands.append(cls)
        return cls

    def load(self) -> None:
        for mod in [*self.modules, *self.optional]:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:
                if mod not in self.optional or exc.name != mod:
                    raise

    def build_parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        self.load()
        parser = Parser(prog=prog or self.prog, description=self.description)
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        sub.required = True
        for cls in self.commands:
            cmd = cls()
            p = sub.add_parser(cls.name, help=cls.help, description=cls.help)
            cmd.prepare_parser(p)
            p.set_defaults(_cmd=cmd)
        return parser

    def parse_args(self, parser: argparse.ArgumentParser,
                   argv: Sequence[str] | None) -> argparse.Namespace:
        args = list(sys.argv[1:] if argv is None else argv)
        if self.intermixed:
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

    def main(self, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
        prog = prog or self.prog
        # SIGTERM unwinds like Ctrl-C, so that what a command started (a
        # sim, a QEMU) is stopped by its `finally` blocks.
        # The previous handler comes back afterwards (main() also runs
        # in-process, from tests and from other commands).
        saved = signal.signal(signal.SIGTERM, _interrupt)
        try:
            args = self.parse_args(self.build_parser(prog), argv)
            return int(args._cmd.run(args))
        except IvcomError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if saved is None else saved)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# Subcommand modules of `ivcom`.
MODULES = ["ivcom.cmd_sim", "ivcom.lab.cmd", "ivcom.bench"]
OPTIONAL_MODULES = ["ivcom.demo"]

IVCOM = CommandSet("ivcom", "IVCOM inter-domain channels: tools", MODULES, OPTIONAL_MODULES)
COMMANDS = IVCOM.commands
register = IVCOM.register
build_parser = IVCOM.build_parser


def main(argv: Sequence[str] | None = None, prog: str = "ivcom") -> int:
    return IVCOM.main(argv, prog)
