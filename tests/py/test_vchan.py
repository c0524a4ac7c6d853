"""libxenvchan's protocol in libivcom and the drop-in libxenvchan.so.4.17.

- the drop-in exports what Debian's libxenvchan 4.17 exports, with the
  same versions and soname (objdump of both);
- the vchan page our server writes decodes with the toolkit's construct
  layout (layouts/vchan.py) and agrees with our own view of it;
- a program built against Debian's <libxenvchan.h> and linked with
  -lxenvchan runs on the drop-in (LD_LIBRARY_PATH) as both server and
  client on the sim, byte-exact both ways, blocking and select()-driven,
  with in-page and multi-page rings;
- the same program on Debian's stock libxenvchan (run in the sim through
  tests/vchan/stockshim.c) and on the drop-in talk to each other in both
  roles;
- Debian's vchan-socket-proxy runs on the drop-in at both ends;
- a program on the drop-in whose peer breaks the page fails with EPROTO.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ivcom import sim as simmod
from ivcom.layouts import decode_vchan

ROOT = Path(__file__).resolve().parents[2]
DROPIN_DIR = ROOT / "build" / "core" / "lib"
DROPIN = DROPIN_DIR / "libxenvchan.so.4.17"
STOCK = Path("/usr/lib/x86_64-linux-gnu/libxenvchan.so.4.17")
HEADER = Path("/usr/include/libxenvchan.h")
LAYOUT_TEST = ROOT / "build" / "core-san" / "tests" / "vchan_layout"
ECHO_SRC = ROOT / "tests" / "vchan" / "vchan_echo.c"


def _defined_symbols(lib: Path) -> set[tuple[str, str]]:
    out = subprocess.run(["objdump", "-T", str(lib)], check=True, capture_output=True,
                         text=True).stdout
    syms = set()
    for line in out.splitlines():
        # 00000000000035f0 g    DF .text  0000000000000131  VERS_4.17.0 libxenvchan_close
        m = re.match(r"^[0-9a-f]+ g\s+\S*\s+(\S+)\s+[0-9a-f]+\s+(\S+)\s+(\S+)$", line)
        if m and m.group(1) != "*UND*":
            syms.add((m.group(3), m.group(2)))
    return syms


def _soname(lib: Path) -> str:
    out = subprocess.run(["objdump", "-p", str(lib)], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"SONAME\s+(\S+)", out)
    assert m, f"{lib} has no SONAME"
    return m.group(1)


def _need_dropin() -> None:
    if not DROPIN.exists():
        pytest.fail(f"{DROPIN} not built: run `make core`")


def test_dropin_symbols_match_debian() -> None:
    if not STOCK.exists() or shutil.which("objdump") is None:
        pytest.skip("Debian's libxenvchan 4.17 or objdump not installed")
    _need_dropin()
    ours, stock = _defined_symbols(DROPIN), _defined_symbols(STOCK)
    assert ("libxenvchan_server_init", "VERS_4.17.0") in stock
    assert ours == stock, f"only ours: {ours - stock}, only stock: {stock - ours}"
    assert _soname(DROPIN) == _soname(STOCK) == "libxenvchan.so.4.17"


def test_layout_decodes_our_page(sim: simmod.Sim, tmp_path: Path) -> None:
    if not LAYOUT_TEST.exists():
        pytest.fail(f"{LAYOUT_TEST} not built: run `make core-san`")
    env = {**os.environ, **sim.env, "IVCOM_VCHAN_DUMP": str(tmp_path)}
    proc = subprocess.run([str(LAYOUT_TEST)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    pages = sorted(tmp_path.glob("*.page"))
    assert len(pages) == 3
    for page in pages:
        view = json.loads(page.with_suffix(".json").read_text())
        d = decode_vchan(page.read_bytes())
        assert d.violations == (), (page.name, d.violations)
        h = d.header
        assert (h.left_order, h.right_order) == (view["left_order"], view["right_order"])
        assert (h.left_prod, h.left_cons) == (view["left_prod"], view["left_cons"])
        assert (h.right_prod, h.right_cons) == (view["right_prod"], view["right_cons"])
        assert (h.cli_live, h.srv_live) == (view["cli_live"], view["srv_live"])
        assert list(h.grants) == view["grants"]
        left, right = d.directions
        assert left.size == 1 << view["left_order"]
        assert right.prod - right.cons == view["right_prod"] - view["right_cons"]
    first = decode_vchan(pages[0].read_bytes())
    assert first.live["client"] == "waiting"
    assert first.live["client-notify"] == "W"   # the server asked for the client's writes


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HEADER.exists() or not STOCK.exists():
        pytest.skip("Debian's libxenvchan (libxen-dev) not installed")
    exe = tmp_path_factory.mktemp("echo") / "vchan_echo"
    # Built as any vchan program is: Debian's header, -lxenvchan.
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-o", str(exe), str(ECHO_SRC),
                    "-lxenvchan"], check=True)
    return exe


def _domain_env(sim: simmod.Sim, domid: int) -> dict[str, str]:
    env = {**os.environ, **sim.domain_env(domid), "IVCOM_PLATFORM": "sim"}
    env["LD_LIBRARY_PATH"] = str(DROPIN_DIR)
    env.pop("ASAN_OPTIONS", None)
    return env


def test_echo_resolves_to_dropin(sim: simmod.Sim, echo: Path) -> None:
    _need_dropin()
    out = subprocess.run(["ldd", str(echo)], env=_domain_env(sim, 1), capture_output=True,
                         text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if "libxenvchan.so.4.17" in ln)
    assert str(DROPIN) in line, out


CASES = [
    pytest.param(("0", "0"), 300_000, False, id="inpage-blocking"),
    pytest.param(("0", "0"), 100_000, True, id="inpage-select"),
    pytest.param((str(1 << 20), str(65536)), 3_000_000, False, id="multipage-blocking"),
    pytest.param((str(8192), str(1 << 20)), 500_000, True, id="multipage-select"),
]


@pytest.mark.parametrize(("mins", "nbytes", "nonblock"), CASES)
def test_stock_api_program_on_dropin(sim: simmod.Sim, echo: Path, mins: tuple[str, str],
                                     nbytes: int, nonblock: bool) -> None:
    _need_dropin()
    server_dom, client_dom = 311, 312
    path = f"/local/domain/{server_dom}/data/vchan/{client_dom}/echo"
    mode = ["nonblock"] if nonblock else []
    # xenstored honours permissions only for domains that exist.
    hold = sim.hold_domain(client_dom)
    server: subprocess.Popen[str] | None = None
    try:
        server = subprocess.Popen(
            [str(echo), "server", str(client_dom), path, str(nbytes), *mins, *mode],
            env=_domain_env(sim, server_dom), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        assert server.stdout is not None
        ready = server.stdout.readline()
        assert ready.strip() == "ready", server.communicate(timeout=10)
        client = subprocess.run(
            [str(echo), "client", str(server_dom), path, str(nbytes), *mode],
            env=_domain_env(sim, client_dom), capture_output=True, text=True, timeout=120)
        sout, serr = server.communicate(timeout=60)
    finally:
        hold.close()
        if server is not None and server.poll() is None:
            server.kill()
    assert client.returncode == 0, client.stderr
    assert server.returncode == 0, serr
    assert client.stdout.strip() == f"ok {nbytes}"
    assert sout.strip() == f"ok {nbytes}"


PROXY = Path("/usr/lib/xen-4.17/bin/vchan-socket-proxy")
XCSHIM_SRC = ROOT / "tests" / "vchan" / "xcshim.c"


@pytest.fixture(scope="module")
def xcshim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PROXY.exists():
        pytest.skip(f"{PROXY} not installed (xen-utils-4.17)")
    so = tmp_path_factory.mktemp("xcshim") / "xcshim.so"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(so),
                    str(XCSHIM_SRC)], check=True)
    return so


def _echo_backend(sock: socket.socket, counts: list[int], accepted: threading.Event) -> None:
    conn, _ = sock.accept()
    accepted.set()
    with conn:
        while data := conn.recv(65536):
            counts.append(len(data))
            conn.sendall(data)


@pytest.mark.parametrize("nbytes", [1, 100_000, 2_000_000])
def test_debian_vchan_socket_proxy_on_dropin(sim: simmod.Sim, xcshim: Path, tmp_path: Path,
                                             nbytes: int) -> None:
    """Debian's unmodified vchan-socket-proxy at both ends, each a sim
    domain on the drop-in: bytes sent into the client proxy's socket come
    back from an echo server behind the server proxy, byte-exact."""
    _need_dropin()
    server_dom, client_dom = 321, 322
    path = f"/local/domain/{server_dom}/data/vchan/{client_dom}/proxy"
    backend_path, front_path = tmp_path / "backend", tmp_path / "front"
    backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    backend.bind(str(backend_path))
    backend.listen(1)
    counts: list[int] = []
    accepted = threading.Event()
    threading.Thread(target=_echo_backend, args=(backend, counts, accepted),
                     daemon=True).start()
    procs: list[subprocess.Popen[bytes]] = []
    hold = sim.hold_domain(client_dom)
    try:
        procs.append(subprocess.Popen(
            [str(PROXY), "--mode=server", str(client_dom), path, str(backend_path)],
            env=_domain_env(sim, server_dom), stderr=subprocess.PIPE))
        client_env = {**_domain_env(sim, client_dom), "LD_PRELOAD": str(xcshim)}
        procs.append(subprocess.Popen(
            [str(PROXY), "--mode=client", str(server_dom), path, str(front_path)],
            env=client_env, stderr=subprocess.PIPE))
        deadline = time.monotonic() + 20
        while not front_path.exists():
            assert time.monotonic() < deadline, "the client proxy never listened"
            assert all(p.poll() is None for p in procs), "a proxy exited"
            time.sleep(0.02)
        data = bytes(((i * 2654435761) >> 13) & 0xFF for i in range(nbytes))
        got = bytearray()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(30)
            c.connect(str(front_path))
            # The proxy's own race, whatever the library: its server waits
            # for the client with libxenvchan_wait() until is_open() says 1,
            # then select()s without looking at the ring first.  A client
            # write whose event came before that wait consumed the connect
            # event is never read (on Xen too, if both events come before
            # the first upcall).  So send once the server proxy has dialled
            # its backend, i.e. left that loop.
            assert accepted.wait(20), "the server proxy never connected its backend"
            # Send from a thread while reading here: the proxies' buffers
            # and rings are far smaller than the larger transfers.
            sender = threading.Thread(target=c.sendall, args=(data,), daemon=True)
            sender.start()
            while len(got) < nbytes:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got.extend(chunk)
            sender.join(30)
        assert len(got) == nbytes
        assert bytes(got) == data
        assert sum(counts) == nbytes
        assert all(p.poll() is None for p in procs), "a proxy exited"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        hold.close()
        backend.close()


EVIL_SRC = ROOT / "tests" / "vchan" / "vchan_evil.c"


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = ROOT / "build" / "core" / "libivcom.a"
    if not lib.exists():
        pytest.fail(f"{lib} not built: run `make core`")
    exe = tmp_path_factory.mktemp("evil") / "vchan_evil"
    core = ROOT / "ivcom-core"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{core / 'include'}", "-o", str(exe),
                    str(EVIL_SRC), str(lib), "-lxenevtchn", "-lxenstore", "-lpthread"],
                   check=True)
    return exe


@pytest.mark.parametrize("how", ["prod", "live", "back"])
def test_dropin_reports_hostile_peer(sim: simmod.Sim, echo: Path, evil: Path,
                                     how: str) -> None:
    """A program on the drop-in, blocked in libxenvchan_read(), whose peer
    corrupts the page and goes quiet: the read fails within a second with
    EPROTO and the library says why on stderr (stock libxenvchan stalls
    in that read for ever, or takes the garbage)."""
    _need_dropin()
    server_dom, client_dom = 331, 332
    path = f"/local/domain/{server_dom}/data/vchan/{client_dom}/evil"
    hold = sim.hold_domain(client_dom)
    server: subprocess.Popen[str] | None = None
    try:
        server = subprocess.Popen([str(evil), str(client_dom), path, "5000", how],
                                  env=_domain_env(sim, server_dom), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # The client expects 5000 bytes back and gets 100: it is blocked in
        # libxenvchan_read() when the page breaks.
        start = time.monotonic()
        client = subprocess.run([str(echo), "client", str(server_dom), path, "5000"],
                                env=_domain_env(sim, client_dom), capture_output=True,
                                text=True, timeout=60)
        took = time.monotonic() - start
        sout, serr = server.communicate(timeout=30)
    finally:
        hold.close()
        if server is not None and server.poll() is None:
            server.kill()
    assert server.returncode == 0, serr
    assert sout.strip() == "broken"
    assert client.returncode == 1, client.stderr
    assert "broke the vchan protocol" in client.stderr
    assert "Protocol error" in client.stderr
    assert took < 5, f"the client took {took:.1f} s to give up"
    print(f"{how}: gave up after {took:.2f} s: {client.stderr.strip()!r}")


STOCKSHIM_SRC = ROOT / "tests" / "vchan" / "stockshim.c"


@pytest.fixture(scope="module")
def stockshim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = ROOT / "build" / "core" / "libivcom.a"
    if not lib.exists():
        pytest.fail(f"{lib} not built: run `make core`")
    so = tmp_path_factory.mktemp("stockshim") / "stockshim.so"
    core = ROOT / "ivcom-core"
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC",
                    f"-I{core / 'include'}", f"-I{core / 'src'}", "-o", str(so),
                    str(STOCKSHIM_SRC), str(lib), "-lpthread"], check=True)
    return so


def _lib_env(sim: simmod.Sim, domid: int, lib: str, stockshim: Path) -> dict[str, str]:
    """Domain `domid` running vchan_echo on "ours" (the drop-in) or on
    "stock" (Debian's libxenvchan over the sim through the shim)."""
    env = _domain_env(sim, domid)
    if lib == "stock":
        del env["LD_LIBRARY_PATH"]
        env["LD_PRELOAD"] = str(stockshim)
    return env


INTEROP = [
    pytest.param("stock", "ours", ("0", "0"), 300_000, False, id="stock-srv-ours-cli-inpage"),
    pytest.param("ours", "stock", ("0", "0"), 300_000, False, id="ours-srv-stock-cli-inpage"),
    pytest.param("stock", "ours", ("0", "0"), 100_000, True, id="stock-srv-ours-cli-select"),
    pytest.param("ours", "stock", ("0", "0"), 100_000, True, id="ours-srv-stock-cli-select"),
    pytest.param("stock", "ours", (str(1 << 20), "65536"), 3_000_000, False,
                 id="stock-srv-ours-cli-multipage"),
    pytest.param("ours", "stock", (str(1 << 20), "65536"), 3_000_000, False,
                 id="ours-srv-stock-cli-multipage"),
    pytest.param("stock", "ours", ("8192", str(1 << 20)), 500_000, True,
                 id="stock-srv-ours-cli-multipage-select"),
    pytest.param("ours", "stock", ("8192", str(1 << 20)), 500_000, True,
                 id="ours-srv-stock-cli-multipage-select"),
    pytest.param("stock", "stock", ("0", "0"), 300_000, False, id="stock-stock-control"),
]


@pytest.mark.parametrize(("srv_lib", "cli_lib", "mins", "nbytes", "nonblock"), INTEROP)
def test_interop_with_stock_libxenvchan(sim: simmod.Sim, echo: Path, stockshim: Path,
                                        srv_lib: str, cli_lib: str, mins: tuple[str, str],
                                        nbytes: int, nonblock: bool,
                                        request: pytest.FixtureRequest) -> None:
    """vchan_echo on stock libxenvchan at one end and on the drop-in at
    the other, byte-exact both ways."""
    _need_dropin()
    # Fresh domains per case: a sim domain that comes and goes between
    # cases has been seen refusing the next case's nodes (-EACCES).
    case = [p.id for p in INTEROP].index(request.node.callspec.id)
    server_dom, client_dom = 341 + 2 * case, 342 + 2 * case
    path = f"/local/domain/{server_dom}/data/vchan/{client_dom}/interop"
    mode = ["nonblock"] if nonblock else []
    hold = sim.hold_domain(client_dom)
    server: subprocess.Popen[str] | None = None
    try:
        server = subprocess.Popen(
            [str(echo), "server", str(client_dom), path, str(nbytes), *mins, *mode],
            env=_lib_env(sim, server_dom, srv_lib, stockshim), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready", server.communicate(timeout=10)
        client = subprocess.run(
            [str(echo), "client", str(server_dom), path, str(nbytes), *mode],
            env=_lib_env(sim, client_dom, cli_lib, stockshim), capture_output=True,
            text=True, timeout=120)
        sout, serr = server.communicate(timeout=60)
    finally:
        hold.close()
        if server is not None and server.poll() is None:
            server.kill()
    assert client.returncode == 0, client.stderr
    assert server.returncode == 0, serr
    assert client.stdout.strip() == f"ok {nbytes}"
    assert sout.strip() == f"ok {nbytes}"


@pytest.mark.parametrize("how", ["prod", "live", "back"])
def test_stock_beside_dropin_on_hostile_peer(sim: simmod.Sim, echo: Path, evil: Path,
                                             stockshim: Path, how: str) -> None:
    """The same hostile server and the same program on stock libxenvchan,
    recorded beside test_dropin_reports_hostile_peer: stock never returns
    from the read (the silent stall); killed after 3 s."""
    _need_dropin()
    server_dom, client_dom = 381, 382
    path = f"/local/domain/{server_dom}/data/vchan/{client_dom}/evil-{how}"
    hold = sim.hold_domain(client_dom)
    server: subprocess.Popen[str] | None = None
    try:
        server = subprocess.Popen([str(evil), str(client_dom), path, "5000", how],
                                  env=_domain_env(sim, server_dom), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        client = subprocess.Popen([str(echo), "client", str(server_dom), path, "5000"],
                                  env=_lib_env(sim, client_dom, "stock", stockshim),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "broken"
        with pytest.raises(subprocess.TimeoutExpired):
            client.wait(timeout=3)
        client.kill()
        client.wait()
        server.wait(timeout=30)
    finally:
        hold.close()
        if server is not None and server.poll() is None:
            server.kill()
