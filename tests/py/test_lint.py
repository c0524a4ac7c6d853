"""ruff and mypy over the Python packages are clean.

Both run with this interpreter (`python -m ruff`, `python -m mypy`), so the
versions pinned in pyproject.toml's test extra and its [tool.ruff] and
[tool.mypy] settings are the ones that count.  A tool that is not installed
skips its test and says so; a finding fails it and the output is shown."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_tool(tool: str, *args: str) -> None:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed for {sys.executable} (pip install -e '.[test]')")
    cmd = [sys.executable, "-m", tool, *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (
        f"`{tool} {' '.join(args)}` exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    )


def test_ruff_is_clean() -> None:
    run_tool("ruff", "check", "toolkit", "tracer")


def test_mypy_is_clean() -> None:
    run_tool("mypy", "toolkit/src/ivcom", "tracer/src/ivcom_trace")
