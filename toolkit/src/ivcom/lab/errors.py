"""Lab errors: one line naming the stage that failed (and the log, if any)."""

from __future__ import annotations

from pathlib import Path

from ivcom.errors import IvcomError


class LabError(IvcomError):
    """Building the image, booting or running a scenario failed."""

    exit_code = 1

    def __init__(self, message: str, stage: str = "", log: Path | None = None,
                 exit_code: int | None = None) -> None:
        self.stage = stage
        self.log = log
        text = f"{stage}: {message}" if stage else message
        if log is not None:
            text += f" (log: {log})"
        super().__init__(text, exit_code)


class QemuUnavailable(LabError):
    """qemu-system-x86_64 is missing or cannot run at all."""

    exit_code = 77
