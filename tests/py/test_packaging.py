"""pyproject.toml lists every package of the tree, so that a wheel (not
only an editable install) carries them all."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for top, d in conf["package-dir"].items():
        for init in (ROOT / d).rglob("__init__.py"):
            found.add(".".join([top, *init.parent.relative_to(ROOT / d).parts]))
    assert found == set(conf["packages"])
