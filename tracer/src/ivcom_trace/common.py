"""What the ivcom-trace subcommands share: bcc's `[interval [count]]` and
`-d DOMID` arguments and their checks, and the one line an error becomes.

The trailing numbers are declared as plain strings and checked when the
command runs, so that every bad value is the same kind of one-line usage
error (exit 2), whichever command it was given to.
"""

from __future__ import annotations

import argparse
import math

from ivcom.errors import UsageError


def add_interval_count(parser: argparse.ArgumentParser, *, default: str,
                       what: str = "outputs") -> None:
    """bcc's trailing `[interval [count]]`; check them with interval_count()
    or whole_interval_count()."""
    parser.add_argument("interval", nargs="?", help=f"seconds between {what} (default {default})")
    parser.add_argument("count", nargs="?", help=f"number of {what} (default: until Ctrl-C)")


def positive_int(text: str, what: str) -> int:
    """A count, or an interval in whole seconds: an integer > 0."""
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{what} must be a positive integer, not {text!r}") from None
    if v <= 0:
        raise UsageError(f"{what} must be a positive integer, not {text!r}")
    return v


def seconds(text: str, what: str) -> float:
    """An interval in seconds, fractions allowed; 0 means no pause."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v < 0:
        raise UsageError(f"{what} must be >= 0 seconds, not {text!r}")
    return v


def _count(text: str | None) -> int | None:
    return None if text is None else positive_int(text, "count")


def interval_count(interval: str | None, count: str | None,
                   default: float) -> tuple[float, int | None]:
    """(seconds between outputs, how many or None for no end)."""
    return (default if interval is None else seconds(interval, "interval")), _count(count)


def whole_interval_count(interval: str | None, count: str | None,
                         default: int) -> tuple[int, int | None]:
    """As interval_count(), for tools that take whole seconds (xentrace -T)."""
    return (default if interval is None else positive_int(interval, "interval")), _count(count)


def domid(text: str) -> int:
    """argparse type of `-d DOMID`: 0 .. 0x7fff, decimal or 0x hex."""
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a domain id: {text!r}") from None
    if not 0 <= v <= 0x7FFF:
        raise argparse.ArgumentTypeError(f"domain id out of range: {v}")
    return v


def first_line(exc: BaseException, default: str | None = None) -> str:
    """An exception as one line: its message's first line, else `default`,
    else its class name."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else default or type(exc).__name__
