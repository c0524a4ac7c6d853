"""What every command-line program here is made of: one Command class per
subcommand, and a CommandSet that is one program (`ivcom`, `ivcom-trace`).

Each program lists its Command classes explicitly, in one list
(ivcom.cli.COMMANDS, ivcom_trace.cli.COMMANDS).  Every subcommand's help
ends with real examples, bcc style; user errors (IvcomError) are printed
as one line with their exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from collections.abc import Sequence
from typing import ClassVar

from ivcom.errors import IvcomError, UsageError

#: Help text width (argparse's own default on an 80-column terminal).
WIDTH = 78
#: Where an example's comment starts.
COMMENT_COLUMN = 38


class Command:
    """A subcommand: `prepare_parser` declares arguments, `run` does the work.

    `examples` are real invocations, without the program name, each with
    what it does: `("inspect -b echo 1 3", "three plain lines, 1 s apart")`.
    They end `--help`, and a test parses every one of them."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    examples: ClassVar[tuple[tuple[str, str], ...]] = ()

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


def format_examples(prog: str, examples: Sequence[tuple[str, str]]) -> str:
    """bcc's `examples:` epilog: one invocation a line, its comment after
    `#` in one column (on the next line when the invocation reaches it);
    nothing wider than WIDTH."""
    lines = ["examples:"]
    for argv, what in examples:
        cmd = f"    {prog} {argv}"
        comment = textwrap.wrap(what, WIDTH - COMMENT_COLUMN - 2) or [""]
        if len(cmd) + 2 > COMMENT_COLUMN:
            lines.append(cmd)
            cmd = ""
        for text in comment:
            lines.append(f"{cmd:<{COMMENT_COLUMN}}# {text}")
            cmd = ""
    return "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are UsageError (one line, exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # Name the subcommand ("ivcom sim: ..."); main() names the program.
        raise UsageError(f"{self.prog}: {message}" if " " in self.prog else message)


class CommandSet:
    """One program: its subcommands, in the order `--help` lists them, and main()."""

    def __init__(self, prog: str, description: str, commands: Sequence[type[Command]],
                 intermixed: bool = False) -> None:
        self.prog = prog
        self.description = description
        self.commands = list(commands)
        self.intermixed = intermixed        # `dump NAME -o F 1 10`, bcc style

    def build_parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        prog = prog or self.prog
        # The program's examples: the first of each subcommand.
        firsts = [cls.examples[0] for cls in self.commands if cls.examples]
        parser = Parser(prog=prog, description=self.description,
                        epilog=format_examples(prog, firsts) if firsts else None,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        sub.required = True
        for cls in self.commands:
            cmd = cls()
            p = sub.add_parser(
                cls.name, help=cls.help, description=textwrap.fill(cls.help, WIDTH),
                epilog=format_examples(prog, cls.examples) if cls.examples else None,
                formatter_class=argparse.RawDescriptionHelpFormatter)
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
