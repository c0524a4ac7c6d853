"""User-facing errors: one clear line, an exit code, no traceback."""

from __future__ import annotations


class IvcomError(Exception):
    """An error the user can act on; printed as one line by the CLIs."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(IvcomError):
    """Bad command-line arguments or configuration."""

    exit_code = 2
