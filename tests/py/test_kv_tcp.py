"""The kv service over TCP (loopback): `ivcom-kv serve NAME --tcp ADDR:PORT`
and `ivcom-kv --tcp HOST:PORT ...` -- the same request handler, framing
and checks as over IVCOM, each message prefixed by its u32 LE length.
The client's every command, bench with every reply checked, four bench
clients at once (started together with --at-wall), bad lengths and
hostile frames from a raw socket, a restarted service (--reconnect), bad
arguments.  No Xen, no sim: plain sockets."""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ivcom import sim as simmod

MAX_MSG = (1 << 16) - 8         # what a channel of order 16 carries


def _exe() -> str:
    exe = simmod.build_dir() / "bin" / "ivcom-kv"
    if not exe.exists():
        pytest.skip(f"{exe} not built (make core)")
    return str(exe)


class TcpKV:
    """An `ivcom-kv serve --tcp` process on 127.0.0.1 and clients of it."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    def start(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [_exe(), "serve", "kv", "--tcp", f"127.0.0.1:{self.port}", "-t", "20000", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self._line(20)
        assert "serving kv on tcp 127.0.0.1:" in line, line
        self.port = int(line.rsplit(":", 1)[1])

    def _line(self, limit: float) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        if not select.select([self.proc.stderr], [], [], limit)[0]:
            pytest.fail("ivcom-kv serve --tcp: no line on stderr")
        line = self.proc.stderr.readline()
        if not line:
            pytest.fail(f"ivcom-kv serve --tcp exited: {self.proc.wait()}")
        self.lines.append(line)
        return line.strip()

    def stderr_line(self, limit: float = 20) -> str:
        return self._line(limit)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        assert self.proc is not None
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, "".join(self.lines) + err

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run(self, *args: str, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_exe(), "--tcp", self.addr, *args], input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        r = self.run(*args, stdin=stdin)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def bench(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([_exe(), "--tcp", self.addr, "-t", "20000", "-j", "bench",
                                 *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


@pytest.fixture
def kv() -> Iterator[Callable[..., TcpKV]]:
    made: list[TcpKV] = []

    def start(*args: str, port: int = 0) -> TcpKV:
        k = TcpKV(port)
        k.start(*args)
        made.append(k)
        return k

    yield start
    for k in made:
        k.kill()


def _result(p: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    res = json.loads(out.strip().splitlines()[-1])
    assert isinstance(res, dict)
    return res


def test_cli_commands(kv: Callable[..., TcpKV]) -> None:
    k = kv()
    assert k.ok("put", "greeting", "hello") == ""
    assert k.ok("get", "greeting") == "hello"
    assert k.ok("put", "blob", "-", stdin="from\nstdin\0") == ""
    assert k.ok("get", "blob") == "from\nstdin\0"
    r = k.run("get", "missing")
    assert r.returncode == 1 and r.stderr == "ivcom-kv: error: get: not found\n"
    assert k.ok("del", "greeting") == ""
    assert k.ok("list") == "blob\n"
    stats = json.loads(k.ok("-j", "stats"))
    assert stats["keys"] == 1 and stats["puts"] == 2 and stats["dels"] == 1
    assert stats["value_max"] == MAX_MSG - 12 and stats["bad_frames"] == 0


def test_list_pages_order_12(kv: Callable[..., TcpKV]) -> None:
    """--order bounds the messages at both ends, as over a channel."""
    k = kv("--order", "12")
    keys = sorted(f"p/{i:03d}".ljust(200, "x") for i in range(100))
    for key in keys:
        k.ok("-o", "12", "put", key, "v")
    assert k.ok("-o", "12", "list", "p/").splitlines() == keys
    stats = json.loads(k.ok("-o", "12", "-j", "stats"))
    assert stats["lists"] == 5 and stats["value_max"] == 4096 - 8 - 12


def test_bench_every_reply_checked(kv: Callable[..., TcpKV]) -> None:
    k = kv("--clients", "1", "-j")
    res = _result(k.bench("-c", "3000", "--keys", "50", "--size", "100"))
    assert res["transport"] == "tcp" and res["service"] == k.addr
    assert res["count"] == 3000 and res["reconnects"] == 0 and res["lists"] >= 1
    assert res["gets"] + res["puts"] + res["dels"] == 3000
    assert 0 < res["lat_ns"]["p50"] <= res["lat_ns"]["p99"]
    rc, out, err = k.finish()
    assert rc == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    # 50 puts to populate, the 3000, the list pages
    assert report["requests"] == 50 + 3000 + res["lists"] and report["error"] == ""
    assert "1 clients ended, at most 1 at once" in err


def test_four_clients_at_once(kv: Callable[..., TcpKV]) -> None:
    """Four benches start together (--at-wall) and run side by side; the
    sum of their ops/s is the service's; the service saw four at once."""
    k = kv("--clients", "4")
    at = time.time() + 1.5
    benches = [k.bench("-D", "2", "-c", "100000000", "--keys", "40", "--at-wall", f"{at:.3f}")
               for _ in range(4)]
    results = [_result(p) for p in benches]
    begins = [r["wall_begin"] for r in results]
    assert max(begins) - min(begins) < 0.25, begins
    assert min(begins) >= at - 0.01
    for r in results:
        assert r["count"] > 0 and r["reconnects"] == 0
        assert r["gets"] + r["puts"] + r["dels"] == r["count"]
    prefixes = {r.get("service") for r in results}
    assert prefixes == {k.addr}
    rc, _, err = k.finish()
    assert rc == 0, err
    assert "4 clients ended, at most 4 at once" in err, err
    total = sum(r["ops_per_s"] for r in results)
    print(f"\nkv over TCP loopback, 4 clients: {total:.0f} ops/s in all")


def _raw(k: TcpKV) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", k.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        got = s.recv(n - len(buf))
        assert got, f"closed after {len(buf)} of {n} bytes"
        buf += got
    return buf


def _call(s: socket.socket, msg: bytes) -> tuple[int, int, int, int, bytes]:
    s.sendall(struct.pack("<I", len(msg)) + msg)
    (n,) = struct.unpack("<I", _recv_exact(s, 4))
    rep = _recv_exact(s, n)
    op, status, _flags, ident, plen = struct.unpack_from("<BBHII", rep)
    assert len(rep) == 12 + plen
    return op, status, ident, plen, rep[12:]


def _hdr(op: int, flags: int, klen: int, ident: int, vlen: int) -> bytes:
    return struct.pack("<BBHII", op, flags, klen, ident, vlen)


def _closed(s: socket.socket) -> bool:
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


BADFRAME, BADOP, BADKEY, TOOLARGE, NOTFOUND = 4, 5, 6, 2, 1


def test_hostile_frames_error_replies(kv: Callable[..., TcpKV]) -> None:
    """The IVCOM hostile client's frames, framed for TCP: error replies,
    the connection kept; then a flood of requests before any reply is
    read, every reply in order."""
    k = kv()
    s = _raw(k)
    assert _call(s, b"")[:3] == (0, BADFRAME, 0)
    assert _call(s, b"\x01\x00")[:3] == (1, BADFRAME, 0)
    assert _call(s, _hdr(1, 0, 1, 77, 0)[:10])[:3] == (1, BADFRAME, 77)
    assert _call(s, _hdr(1, 0, 65535, 78, 0) + b"k")[:3] == (1, BADFRAME, 78)
    assert _call(s, _hdr(2, 0, 1, 79, 0xFFFFFFFF) + b"kv")[:3] == (2, BADFRAME, 79)
    assert _call(s, _hdr(1, 0, 1, 81, 0) + b"kk")[:3] == (1, BADFRAME, 81)
    assert _call(s, _hdr(1, 0xFF, 1, 82, 0) + b"k")[:3] == (1, BADFRAME, 82)
    assert _call(s, _hdr(99, 0, 1, 83, 0) + b"k")[:3] == (99, BADOP, 83)
    assert _call(s, _hdr(2, 0, 0, 84, 1) + b"v")[:3] == (2, BADKEY, 84)
    assert _call(s, _hdr(1, 0, 600, 85, 0) + b"k" * 600)[:3] == (1, TOOLARGE, 85)
    big = MAX_MSG - 13                                  # the largest value
    assert _call(s, _hdr(2, 0, 1, 86, big) + b"k" + b"v" * big)[:3] == (2, 0, 86)
    op, st, ident, plen, _ = _call(s, _hdr(1, 0, 1, 87, 0) + b"k")
    assert (op, st, ident, plen) == (1, 0, 87, big)
    assert _call(s, b"\xff" * MAX_MSG)[1] == BADFRAME  # the largest message
    # A flood: 2000 GETs written before a single reply is read.
    get = _hdr(1, 0, 5, 0, 0) + b"flood"
    flood = b"".join(struct.pack("<I", len(get)) + get[:4] + struct.pack("<I", i) + get[8:]
                     for i in range(2000))
    s.sendall(flood)
    for i in range(2000):
        (n,) = struct.unpack("<I", _recv_exact(s, 4))
        op, st, _f, ident, plen = struct.unpack("<BBHII", _recv_exact(s, n))
        assert (op, st, ident, plen) == (1, NOTFOUND, i, 0)
    s.close()
    assert k.alive()
    stats = json.loads(k.ok("-j", "stats"))
    assert stats["bad_frames"] == 9 and stats["puts"] == 2


def test_bad_lengths_close_that_connection(kv: Callable[..., TcpKV]) -> None:
    """A length over the largest message closes that connection with one
    stderr line; so does a close within a message; a client served
    meanwhile (a bench running) is not disturbed."""
    k = kv()
    bench = k.bench("-D", "3", "-c", "100000000", "--keys", "20")
    time.sleep(0.5)
    for length in (MAX_MSG + 1, 0xFFFFFFFF, 1 << 31):
        s = _raw(k)
        assert _call(s, _hdr(5, 0, 0, 1, 0))[1] == 0       # served first
        s.sendall(struct.pack("<I", length) + b"xyz")
        assert _closed(s)
        s.close()
        line = k.stderr_line()
        assert f"a message of {length} bytes, over the largest {MAX_MSG}: " \
               "connection closed" in line, line
    s = _raw(k)
    s.sendall(struct.pack("<I", 100) + b"half")
    s.close()
    line = k.stderr_line()
    assert "closed within a message (8 bytes of it): connection closed" in line, line
    res = _result(bench)
    assert res["count"] > 0 and res["reconnects"] == 0
    assert k.alive()
    # the exact largest message is still a message (a bad frame, answered)
    s = _raw(k)
    assert _call(s, b"\x00" * MAX_MSG)[1] == BADFRAME
    s.close()
    assert k.proc is not None
    k.proc.terminate()
    _, _, err = k.finish()
    assert err.count("connection closed") == 4, err      # one line for each bad one


def test_service_restarted_bench_reconnects(kv: Callable[..., TcpKV]) -> None:
    k = kv()
    port = k.port
    p = k.bench("-D", "4", "-c", "100000000", "--reconnect", "--keys", "20")
    time.sleep(1.5)
    k.kill()
    time.sleep(0.3)
    kv(port=port)
    res = _result(p)
    assert res["reconnects"] >= 1 and res["count"] > 0


def test_no_service_connect_times_out() -> None:
    with socket.socket() as s:                          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    r = subprocess.run([_exe(), "--tcp", f"127.0.0.1:{port}", "-t", "300", "stats"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"ivcom-kv: error: connect tcp 127.0.0.1:{port}: "), r.stderr
    assert 0.25 < time.monotonic() - t0 < 10


@pytest.mark.parametrize("argv", [
    ["--tcp", "nohost", "stats"], ["--tcp", "h:99999", "stats"], ["--tcp", "h:", "stats"],
    ["--tcp", "h:12x", "stats"], ["--tcp", "127.0.0.1:1", "-d", "3", "stats"],
    ["--tcp", "127.0.0.1:1", "-n", "kv", "stats"],
    ["--tcp", "127.0.0.1:1", "-P", "sim", "get", "k"],
    ["serve", "kv", "--tcp", "127.0.0.1:1", "--allow", "1"], ["--order", "12", "stats"],
    ["--at-wall", "x", "bench"], ["--at-wall", "5", "get", "k"], ["--at-wall", "-3", "bench"],
    ["--tcp", "127.0.0.1:1", "--order", "99", "stats"], ["--tcp"],
], ids=lambda a: " ".join(a))
def test_bad_arguments_one_line(argv: list[str]) -> None:
    r = subprocess.run([_exe(), *argv], capture_output=True, text=True, timeout=10,
                       env={**os.environ, "IVCOM_PLATFORM": "none"})
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("ivcom-kv: error: "), r.stderr


def test_listen_on_a_taken_port_one_line(kv: Callable[..., TcpKV]) -> None:
    k = kv()
    r = subprocess.run([_exe(), "serve", "kv", "--tcp", k.addr], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "listen on" in r.stderr and "in use" in r.stderr


def test_loopback_figures_one_and_four_clients(kv: Callable[..., TcpKV]) -> None:
    """ops/s and p50/p99 over TCP loopback with 1 and 4 clients (printed,
    loosely checked): the host's baseline for the kv benchmark."""
    k = kv()
    one = _result(k.bench("-D", "2", "-c", "100000000"))
    at = time.time() + 1.0
    four = [_result(p) for p in [k.bench("-D", "2", "-c", "100000000", "--at-wall", f"{at:.3f}")
                                 for _ in range(4)]]
    total = sum(r["ops_per_s"] for r in four)
    print(f"\nkv over TCP loopback: 1 client {one['ops_per_s']:.0f} ops/s, "
          f"p50 {one['lat_ns']['p50'] / 1e3:.1f} us, p99 {one['lat_ns']['p99'] / 1e3:.1f} us; "
          f"4 clients {total:.0f} ops/s in all")
    assert one["ops_per_s"] > 100 and total > 100
