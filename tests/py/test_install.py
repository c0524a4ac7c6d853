"""Installing IVCOM as a user would.

`make install DESTDIR=... PREFIX=/usr` stages headers, both libraries with
their soname links, an ivcom.pc that says /usr, the tools and the man
pages; a small C client built with `pkg-config --cflags --libs ivcom`
(dynamic, and fully static with --static) talks to the installed
ivcom-pingpong on the sim.  A wheel of the Python package carries
libivcom: installed into a fresh venv, it talks to the same server with
no IVCOM_LIBRARY, no LD_LIBRARY_PATH and a working directory outside the
checkout."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ivcom import sim as simmod

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/usr"
TOOLS = ["ivcom-pingpong", "ivcom-stream", "ivcom-sockbench", "ivcom-selfbench",
         "ivcom-layout"]
MAN_PAGES = [*TOOLS, "ivcom", "ivcom-trace"]
SERVER_DOM = 71

CLIENT_C = r"""
#include <ivcom/ivcom.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    char msg[64], back[64];
    int err, i;

    if (argc != 3)
        return 2;
    if ((err = ivcom_platform_open(NULL, &plat)) ||
        (err = ivcom_connect(plat, argv[1], atoi(argv[2]), NULL, &ch, 20000))) {
        fprintf(stderr, "client: %s\n", ivcom_strerror(err));
        return 1;
    }
    for (i = 0; i < 100; i++) {
        int n = snprintf(msg, sizeof(msg), "installed %d", i);
        if (ivcom_send(ch, msg, (size_t)n, 5000) != n ||
            ivcom_recv(ch, back, sizeof(back), 5000) != n || memcmp(msg, back, (size_t)n)) {
            fprintf(stderr, "client: round trip %d failed\n", i);
            return 1;
        }
    }
    printf("client: 100 round trips as domain %d\n", ivcom_platform_domid(plat));
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return 0;
}
"""

PY_CLIENT = """
import sys
import ivcom
from ivcom import _clib

name, server = sys.argv[1], int(sys.argv[2])
with ivcom.Platform() as plat:
    with ivcom.Channel.connect(name, server=server, timeout=20, platform=plat) as ch:
        for i in range(100):
            msg = b"wheel %d" % i
            ch.send(msg, timeout=5)
            assert ch.recv(timeout=5) == msg, i
    print(plat.name, plat.domid)
print(ivcom.__file__)
print(_clib.loaded_from())
"""


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"skip: {tool} is not installed")
            pytest.skip(f"{tool} is not installed")


def _run(cmd: list[str], env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if env is None:     # not an outer make's flags (under `make test`): ours alone
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS",
                                                                 "MAKELEVEL")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}{proc.stderr}"
    return proc


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment minus every way of pointing at a checkout's build."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("IVCOM_LIBRARY", "IVCOM_BUILD_DIR", "LD_LIBRARY_PATH", "PYTHONPATH",
                        "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make install` into a DESTDIR; returns DESTDIR."""
    _need("make", "cc")
    tmp = tmp_path_factory.mktemp("install")
    dest = tmp / "root"
    _run(["make", "-s", "-C", str(ROOT), "install", f"BUILD={tmp / 'build'}",
          f"DESTDIR={dest}", f"PREFIX={PREFIX}", "JOBS=1"])
    return dest


class Server:
    """The installed ivcom-pingpong as an echo service in a sim domain."""

    def __init__(self, staged: Path, sim: simmod.Sim, name: str, clients: int) -> None:
        self.proc = subprocess.Popen(
            [str(staged / PREFIX.lstrip("/") / "bin" / "ivcom-pingpong"), "-n", name,
             "-C", str(clients), "-t", "20000", "server"],
            env={**os.environ, **sim.domain_env(SERVER_DOM)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 20
        line = ""
        while "serving" not in line:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stderr], [], [], left)[0]:
                self.stop()
                pytest.fail(f"ivcom-pingpong server: no 'serving' line: {line!r}")
            line = self.proc.stderr.readline()
            if not line:
                pytest.fail(f"ivcom-pingpong server exited: {self.proc.wait()}")

    def finish(self) -> str:
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return err

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


ServerFactory = Callable[[str, int], Server]


@pytest.fixture
def server_factory(staged: Path, sim: simmod.Sim) -> Iterator[ServerFactory]:
    """start(name, clients): a server that ends after that many clients;
    any still running at the end of the test is killed."""
    started: list[Server] = []

    def start(name: str, clients: int) -> Server:
        started.append(Server(staged, sim, name, clients))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def test_install_layout(staged: Path) -> None:
    usr = staged / PREFIX.lstrip("/")
    lib = usr / "lib"
    for h in ("ivcom.h", "wire.h"):
        assert (usr / "include" / "ivcom" / h).is_file()
    assert (lib / "libivcom.a").is_file()
    real = lib / "libivcom.so.1.0.0"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / "libivcom.so.1") == "libivcom.so.1.0.0"
    assert os.readlink(lib / "libivcom.so") == "libivcom.so.1"
    if shutil.which("readelf"):
        dyn = _run(["readelf", "-d", str(real)]).stdout
        assert "Library soname: [libivcom.so.1]" in dyn
    for tool in TOOLS:
        assert os.access(usr / "bin" / tool, os.X_OK), tool
    pc = (lib / "pkgconfig" / "ivcom.pc").read_text()
    assert "prefix=/usr\n" in pc and "libdir=${prefix}/lib\n" in pc
    assert "includedir=${prefix}/include\n" in pc
    assert str(staged) not in pc and str(ROOT) not in pc
    assert "-lxenevtchn" in pc and "-lxenstore" in pc
    for page in MAN_PAGES:
        assert (usr / "share" / "man" / "man1" / f"{page}.1").is_file(), page


def test_uninstall_removes_every_file(staged: Path) -> None:
    dest = staged.parent / "again"
    make = ["make", "-s", "-C", str(ROOT), f"BUILD={staged.parent / 'build'}",
            f"DESTDIR={dest}", "JOBS=1"]            # PREFIX: the default, /usr/local
    _run([*make, "install"])
    pc = dest / "usr" / "local" / "lib" / "pkgconfig" / "ivcom.pc"
    assert pc.read_text().startswith("prefix=/usr/local\n")
    _run([*make, "uninstall"])
    left = [p for p in dest.rglob("*") if not p.is_dir() or p.is_symlink()]
    assert not left, left


def test_man_pages_render_cleanly(staged: Path) -> None:
    man1 = staged / PREFIX.lstrip("/") / "share" / "man" / "man1"
    if shutil.which("groff") is None:
        print("groff is not installed: man pages checked as installed only")
        return
    for page in MAN_PAGES:
        proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(man1 / f"{page}.1")],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "LC_ALL": "C.UTF-8"})
        assert proc.returncode == 0 and not proc.stderr, f"{page}.1: {proc.stderr}"
        text = subprocess.run(["groff", "-man", "-Tutf8", str(man1 / f"{page}.1")],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "LC_ALL": "C.UTF-8"}).stdout
        plain = re.sub(".\b", "", text)      # bold and underline by overstrike
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES"):
            assert section in plain, f"{page}.1 lacks {section}"


def test_c_client_built_with_pkg_config(staged: Path, sim: simmod.Sim,
                                        server_factory: ServerFactory, tmp_path: Path) -> None:
    _need("pkg-config", "cc")
    usr = staged / PREFIX.lstrip("/")
    env = {**os.environ, "PKG_CONFIG_PATH": str(usr / "lib" / "pkgconfig"),
           "PKG_CONFIG_LIBDIR": str(usr / "lib" / "pkgconfig")}
    # The staged tree stands in for /usr: pkg-config's prefix moved there.
    pkg = ["pkg-config", f"--define-variable=prefix={usr}"]
    flags = _run([*pkg, "--cflags", "--libs", "ivcom"], env=env).stdout.split()
    static = _run([*pkg, "--static", "--cflags", "--libs", "ivcom"], env=env).stdout.split()
    assert f"-I{usr}/include" in flags and "-livcom" in flags
    src = tmp_path / "client.c"
    src.write_text(CLIENT_C)
    dyn, stat = tmp_path / "client", tmp_path / "client-static"
    _run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(dyn), str(src), *flags])
    _run(["cc", "-static", "-o", str(stat), str(src), *static])
    assert "libivcom.so.1" in _run(["ldd", str(dyn)], env={
        **os.environ, "LD_LIBRARY_PATH": str(usr / "lib")}).stdout

    server = server_factory("install-c", 2)
    for dom, prog, extra in ((72, dyn, {"LD_LIBRARY_PATH": str(usr / "lib")}),
                             (73, stat, {})):
        proc = subprocess.run([str(prog), "install-c", str(SERVER_DOM)], capture_output=True,
                              text=True, timeout=60,
                              env=_clean_env({**sim.domain_env(dom), **extra}))
        assert proc.returncode == 0, f"{prog.name}: {proc.stderr}"
        assert f"100 round trips as domain {dom}" in proc.stdout
    err = server.finish()
    assert "client dom 72: 100 echoed" in err and "client dom 73: 100 echoed" in err, err


def _build_wheel(out: Path) -> Path:
    """pip wheel of the checkout: without build isolation when this
    interpreter has what setuptools needs (fast, offline), else with it."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)]
    try:
        import setuptools  # noqa: F401
        try:
            from setuptools.command import bdist_wheel  # noqa: F401
        except ImportError:
            import wheel  # noqa: F401
        cmd.append("--no-build-isolation")
    except ImportError:
        pass
    _run(cmd, cwd=out)
    wheels = list(out.glob("ivcom-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_carries_the_library(sim: simmod.Sim, server_factory: ServerFactory,
                                   tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    assert wheel.name.endswith("-py3-none-linux_x86_64.whl"), wheel.name
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        assert "ivcom/_lib/libivcom.so.1" in zf.namelist()

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
           "--disable-pip-version-check"]
    with_deps = subprocess.run([*pip, str(wheel)], capture_output=True, text=True, timeout=300)
    if with_deps.returncode != 0:
        # no index reachable: the binding needs none of the dependencies
        print(f"dependencies not installed ({with_deps.stderr.strip().splitlines()[-1:]}); "
              "the wheel alone")
        _run([*pip, "--no-deps", str(wheel)])

    server = server_factory("install-py", 1)
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "client.py").write_text(PY_CLIENT)
    proc = subprocess.run([str(py), "client.py", "install-py", str(SERVER_DOM)], cwd=work,
                          capture_output=True, text=True, timeout=60,
                          env=_clean_env(sim.domain_env(74)))
    assert proc.returncode == 0, proc.stderr
    plat, module, lib = proc.stdout.split("\n")[:3]
    assert plat == "sim 74"
    site = env_dir.resolve()
    assert Path(module).resolve().is_relative_to(site), module
    assert Path(lib).resolve() == Path(module).resolve().parent / "_lib" / "libivcom.so.1", lib
    assert "client dom 74: 100 echoed" in server.finish()
    if with_deps.returncode == 0:
        _run([str(env_dir / "bin" / "ivcom"), "--help"], cwd=work, env=_clean_env({}))
