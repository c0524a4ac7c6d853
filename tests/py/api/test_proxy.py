"""`ivcom proxy` on the sim: unmodified socket clients through `proxy listen`
(one domain) -> a channel each -> `proxy serve` (another domain) -> a local
TCP server, and back.

Each test starts its two proxies as processes of their own domains and a
small TCP server in a thread of this process; the clients are plain
Python sockets, `busybox nc` and `curl` against Python's http.server.
Deadlines only guard against hangs; nothing asserts a duration.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from api_helpers import Doms, finish, first_line
from ivcom.cli import IVCOM

DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---- a local TCP server, one thread per connection ------------------------------

Handler = Callable[[socket.socket], None]


@dataclass
class TcpServer:
    handler: Handler
    sock: socket.socket = field(default_factory=socket.socket)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            with conn:
                self.handler(conn)
        except BaseException as exc:    # seen by the test, not lost in a thread
            self.errors.append(exc)

    def close(self) -> None:
        self.sock.close()


def recv_all(conn: socket.socket) -> bytes:
    out = bytearray()
    while data := conn.recv(1 << 20):
        out += data
    return bytes(out)


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then half-close: the reply's end is the client's EOF."""
    while data := conn.recv(1 << 16):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def digest_after_eof(conn: socket.socket) -> None:
    """Read everything up to the client's EOF, then answer with its digest:
    the answer comes only if the client's half-close came through."""
    data = recv_all(conn)
    conn.sendall(f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode())


# ---- the two proxies ------------------------------------------------------------------

class Proxy:
    """`ivcom proxy ...` as domain `domid`, up once its -v banner is out."""

    def __init__(self, doms: Doms, domid: int, *args: str, ready: str) -> None:
        env = {**os.environ, **doms.sim.domain_env(domid)}
        self.proc = subprocess.Popen([sys.executable, "-m", "ivcom", "proxy", *args, "-v"],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        doms.procs.append(self.proc)    # type: ignore[arg-type]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._got = threading.Condition(self._lock)
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(ready)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._got:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._got.notify_all()
        with self._got:
            self.lines.append("<exit>")
            self._got.notify_all()

    def wait_for(self, text: str, other: Proxy | None = None) -> str:
        """The first line holding text; the failure names the other
        proxy's lines too."""
        deadline = time.monotonic() + DEADLINE
        seen = f"; the other proxy said {other.lines}" if other is not None else ""
        with self._got:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if "<exit>" in self.lines:
                    raise AssertionError(f"proxy exited ({self.proc.poll()}) before "
                                         f"{text!r}: {self.lines}{seen}")
                left = deadline - time.monotonic()
                assert left > 0, f"no {text!r} from the proxy: {self.lines}{seen}"
                self._got.wait(left)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(text in line for line in self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(DEADLINE)


@dataclass
class Path2:
    """listen (doms.me) -> serve (doms.peer) -> server."""

    listen: Proxy
    serve: Proxy
    port: int


@contextlib.contextmanager
def proxied(doms: Doms, handler: Handler, name: str,
            serve_args: tuple[str, ...] = ()) -> Iterator[tuple[Path2, TcpServer]]:
    server = TcpServer(handler)
    port = free_port()
    serve = Proxy(doms, doms.peer, "serve", name, "--to", server.addr, *serve_args,
                  ready="serving")
    listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to",
                   f"{doms.peer}:{name}", ready="listening")
    try:
        yield Path2(listen, serve, port), server
    finally:
        listen.stop()
        serve.stop()
        server.close()
    assert not server.errors, server.errors


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    return s


def exchange(port: int, data: bytes) -> bytes:
    """Send data while reading the echo, half-close, read to EOF."""
    with connect(port) as s:
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = recv_all(s)
        sender.join()
    return got


# ---- the tests --------------------------------------------------------------------------

def test_large_transfer_is_byte_exact(doms: Doms) -> None:
    data = random.Random(1).randbytes(8 << 20 | 12345)
    with proxied(doms, echo, "pbig") as (path, _):
        got = exchange(path.port, data)
        assert len(got) == len(data)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        path.listen.wait_for(f"closed ({len(data)} bytes in, {len(data)} out)")


def test_many_clients_at_once(doms: Doms) -> None:
    """20 clients of one domain: past libivcom's default max_per_domain (16)."""
    blobs = [random.Random(i).randbytes(256 * 1024 + i * 999) for i in range(20)]
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            results[i] = exchange(path.port, blobs[i])
        except BaseException as exc:
            errors.append(exc)

    with proxied(doms, echo, "pmany") as (path, _):
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(blobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        assert not errors, errors
        assert all(results[i] == blobs[i] for i in range(len(blobs)))
        path.serve.wait_for("conn 20 ")            # a channel each
        assert path.serve.count(": open") == len(blobs)


def test_client_half_close_reaches_the_server_and_the_reply_comes_back(doms: Doms) -> None:
    data = random.Random(2).randbytes(3 << 20)
    with proxied(doms, digest_after_eof, "phc1") as (path, _), connect(path.port) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)                  # still reading
        reply = recv_all(s)
    assert reply == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()


def test_server_half_close_reaches_the_client_which_still_sends(doms: Doms) -> None:
    greeting = random.Random(3).randbytes(1 << 20)
    payload = random.Random(4).randbytes(2 << 20)
    got: list[bytes] = []

    def greet_then_listen(conn: socket.socket) -> None:
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)               # the client must see EOF...
        got.append(recv_all(conn))                  # ...and may still send

    with proxied(doms, greet_then_listen, "phc2") as (path, _):
        with connect(path.port) as s:
            assert recv_all(s) == greeting          # EOF came through
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        path.listen.wait_for("closed (", path.serve)
    assert got == [payload]


def test_serve_proxy_death_resets_the_client(doms: Doms) -> None:
    accepted = threading.Event()

    def hold(conn: socket.socket) -> None:
        accepted.set()
        with contextlib.suppress(OSError):
            recv_all(conn)

    with proxied(doms, hold, "pdie") as (path, _), connect(path.port) as s:
        s.sendall(b"hello")
        assert accepted.wait(DEADLINE)
        path.serve.proc.send_signal(signal.SIGKILL)     # the other domain dies
        path.serve.proc.wait(DEADLINE)
        with pytest.raises(ConnectionResetError):
            while s.recv(65536):
                pass
        path.listen.wait_for("reset after")


def test_server_reset_resets_the_client(doms: Doms) -> None:
    def reset(conn: socket.socket) -> None:
        conn.recv(5)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")

    with proxied(doms, reset, "prst") as (path, _), connect(path.port) as s:
        s.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            while s.recv(65536):
                pass
        path.serve.wait_for("reset after")


def test_listen_to_a_stream_mode_service(doms: Doms) -> None:
    """A service that is no proxy (ivcom.start_server, stream mode): raw
    bytes both ways; its close is the client's EOF."""
    size = 1 << 20
    data = random.Random(10).randbytes(size)
    port = free_port()
    with doms.holding(doms.me):
        peer = doms.spawn("stream-server", "pstr", doms.me, size)
        assert first_line(peer).startswith("ok serving")
        listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to",
                       f"{doms.peer}:pstr", ready="listening")
        try:
            with connect(port) as s:
                s.sendall(data)
                assert recv_all(s) == hashlib.sha256(data).hexdigest().encode() + b"\n"
            listen.wait_for("(stream channel): closed")
        finally:
            listen.stop()
        assert "ok served" in finish(peer)


def test_tcp_fallback_when_the_domain_is_not_here(doms: Doms) -> None:
    """No domain 32000 on this host: the listen proxy dials TCP (here the
    serve proxy's --tcp-listen, which forwards as it does channels)."""
    server = TcpServer(echo)
    tcp = free_port()
    port = free_port()
    serve = Proxy(doms, doms.peer, "serve", "pfb", "--to", server.addr,
                  "--tcp-listen", f"127.0.0.1:{tcp}", ready="serving")
    listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to", "32000:pfb",
                   "--tcp-fallback", f"127.0.0.1:{tcp}", ready="listening")
    try:
        for seed in (5, 6):
            data = random.Random(seed).randbytes(1 << 20)
            assert exchange(port, data) == data
        assert listen.count("no domain 32000 in XenStore") == 2     # once per connection
        assert listen.count(f"over TCP to tcp:127.0.0.1:{tcp}") == 2
        serve.wait_for("(TCP) ->")
    finally:
        listen.stop()
        serve.stop()
        server.close()


def test_no_fallback_resets_the_client(doms: Doms) -> None:
    port = free_port()
    listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to", "32001:x",
                   ready="listening")
    try:
        with connect(port) as s, pytest.raises(ConnectionResetError):
            s.recv(1)
        listen.wait_for("no --tcp-fallback")
    finally:
        listen.stop()


def test_domain_by_name(doms: Doms) -> None:
    """--to NAME:SERVICE: the domain whose XenStore `name` node says NAME
    (written here as the toolstack would)."""
    if shutil.which("xenstore-write") is None:
        pytest.skip("xenstore-write is not installed (xenstore-utils)")
    name = f"pxname-{doms.peer}"
    server = TcpServer(echo)
    port = free_port()
    serve = Proxy(doms, doms.peer, "serve", "pname", "--to", server.addr, ready="serving")
    subprocess.run(["xenstore-write", f"/local/domain/{doms.peer}/name", name],
                   env={**os.environ, **doms.sim.env}, check=True)
    listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to", f"{name}:pname",
                   ready="listening")
    try:
        data = random.Random(11).randbytes(1 << 20)
        assert exchange(port, data) == data
        listen.wait_for(f"-> {name}:pname (message channel): closed")
    finally:
        listen.stop()
        serve.stop()
        server.close()


def test_unix_listen_socket(doms: Doms, tmp_path: Path) -> None:
    server = TcpServer(echo)
    path = tmp_path / "px.sock"
    serve = Proxy(doms, doms.peer, "serve", "--name", "punix", "--to", server.addr,
                  "--allow", str(doms.me), ready="serving")
    listen = Proxy(doms, doms.me, "listen", "--listen", f"unix:{path}", "--to",
                   f"{doms.peer}:punix", ready="listening")
    try:
        data = random.Random(7).randbytes(2 << 20)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while len(got) < len(data) and (chunk := s.recv(1 << 20)):
                got += chunk
        assert bytes(got) == data
    finally:
        listen.stop()
        serve.stop()
        server.close()


def test_busybox_nc_half_closes_through_the_proxy(doms: Doms, tmp_path: Path) -> None:
    busybox = shutil.which("busybox")
    if busybox is None or b"nc" not in subprocess.run(
            [busybox, "--list"], capture_output=True).stdout.split():
        pytest.skip("busybox with its nc applet is not installed")
    data = random.Random(8).randbytes(4 << 20)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    with proxied(doms, digest_after_eof, "pnc") as (path, _), src.open("rb") as f:
        out = subprocess.run([busybox, "nc", "127.0.0.1", str(path.port)], stdin=f,
                             capture_output=True, timeout=DEADLINE)
    assert out.stdout == f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()


def test_curl_fetches_from_http_server_through_the_proxy(doms: Doms, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    data = random.Random(9).randbytes(6 << 20)
    (tmp_path / "blob").write_bytes(data)
    http_port = free_port()
    http = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "-b", "127.0.0.1",
                             str(http_port)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        assert http.stdout is not None
        assert http.stdout.readline().startswith(b"Serving HTTP")    # it listens
        port = free_port()
        serve = Proxy(doms, doms.peer, "serve", "phttp", "--to", f"127.0.0.1:{http_port}",
                      ready="serving")
        listen = Proxy(doms, doms.me, "listen", f"127.0.0.1:{port}", "--to",
                       f"{doms.peer}:phttp", ready="listening")
        try:
            out = subprocess.run([curl, "-sS", "--fail", f"http://127.0.0.1:{port}/blob"],
                                 capture_output=True, timeout=DEADLINE)
            assert out.returncode == 0, out.stderr
            assert hashlib.sha256(out.stdout).digest() == hashlib.sha256(data).digest()
        finally:
            listen.stop()
            serve.stop()
    finally:
        http.terminate()
        http.wait(DEADLINE)


@pytest.mark.parametrize("argv", [
    ["proxy", "listen", "--to", "5:kv"],                            # no address
    ["proxy", "listen", "127.0.0.1:80", "--to", "5"],               # no service
    ["proxy", "listen", "localhost:http", "--to", "5:kv"],          # port not a number
    ["proxy", "listen", "127.0.0.1:0", "--to", "5:kv"],             # port 0
    ["proxy", "listen", "unix:", "--to", "5:kv"],                   # no path
    ["proxy", "listen", "127.0.0.1:80", "--to", "5:bad/name"],
    ["proxy", "listen", "127.0.0.1:80", "--to", "5:kv", "--fallback", "unix:/x"],
    ["proxy", "listen", "127.0.0.1:80", "--listen", "127.0.0.1:81", "--to", "5:kv"],
    ["proxy", "listen", "127.0.0.1:80", "--to", "5:kv", "--allow", "3"],
    ["proxy", "serve", "--to", "127.0.0.1:80"],                     # no name
    ["proxy", "serve", "kv", "--to", "5:kv"],                       # not a socket
    ["proxy", "serve", "kv", "--to", "127.0.0.1:80", "--allow", "3,x"],
    ["proxy", "serve", "kv", "--to", "127.0.0.1:80", "--allow", "99999"],
    ["proxy", "serve", "kv", "--to", "127.0.0.1:80", "--tcp-listen", "unix:/x"],
    ["proxy", "serve", "kv", "--to", "127.0.0.1:80", "--max-per-domain", "0"],
    ["proxy", "serve", "kv"],                                       # no --to
    ["proxy", "connect", "kv", "--to", "5:kv"],                     # no such action
])
def test_bad_arguments_say_one_line_and_exit_2(argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert IVCOM.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("ivcom: error: "), err
