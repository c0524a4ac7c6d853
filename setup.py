"""The one build step pyproject.toml cannot say: a wheel carries libivcom.

pyproject.toml holds all the metadata; this file only adds commands.
``build_py`` builds the shared library from ivcom-core (``make -C
ivcom-core O=<tmp> shared``, -j1, into a temporary directory) and puts it in
the package as ``ivcom/_lib/libivcom.so.1``, where the ctypes binding looks
second (after $IVCOM_LIBRARY).  It links against the system's libxenevtchn
and libxenstore (Debian: libxen-dev to build, libxenevtchn1 and
libxenstore4 to run).  An editable install (``pip install -e .``) skips
this: the binding finds a checkout's build/core.

``IVCOM_WHEEL_LIBRARY=<path>`` puts that file in instead of building one.
The wheel is tagged for this platform (py3-none-<platform>): it holds a
shared object but no extension module, so any Python 3 can load it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1: the wheel package's
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
CORE = HERE / "ivcom-core"
SONAME = "libivcom.so.1"


def _build_library(out: Path) -> None:
    given = os.environ.get("IVCOM_WHEEL_LIBRARY")
    if given:
        shutil.copyfile(given, out)
        return
    make = os.environ.get("MAKE", "make")
    with tempfile.TemporaryDirectory(prefix="ivcom-wheel-") as tmp:
        cmd = [make, "-s", "-j1", "-C", str(CORE), f"O={tmp}", "shared"]
        try:
            subprocess.run(cmd, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"building libivcom for the wheel failed ({' '.join(cmd)}): {exc}; "
                "it needs make, a C compiler and the Xen headers and libraries "
                "(Debian: build-essential libxen-dev)") from exc
        shutil.copyfile(Path(tmp) / SONAME, out)
    os.chmod(out, 0o755)


class BuildPyWithLibrary(build_py):
    """build_py, then libivcom into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "ivcom" / "_lib"
        dest.mkdir(parents=True, exist_ok=True)
        _build_library(dest / SONAME)


class BinaryDistribution(Distribution):
    """The package holds a shared object: platform-specific (platlib)."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform, any Python 3 (no extension module)."""

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    # not setuptools' default build/: that is the checkout's build tree
    options={"build": {"build_base": str(HERE / "build" / "python")}},
)
