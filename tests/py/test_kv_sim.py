"""The kv service on the sim: `ivcom-kv serve` in one domain, clients in
others -- the command-line client's every command, four bench clients at
once with every reply checked, a hostile client (bad frames, lengths
beyond the message, a request flood) beside them, clients killed and
restarted mid-run, the service killed and restarted (the clients
reconnect), a full store, bad arguments."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ivcom import sim as simmod

SERVER = 150


def _exe() -> str:
    exe = simmod.build_dir() / "bin" / "ivcom-kv"
    if not exe.exists():
        pytest.skip(f"{exe} not built (make core)")
    return str(exe)


class KV:
    """An `ivcom-kv serve` process in domain SERVER and clients of it."""

    def __init__(self, sim: simmod.Sim, name: str) -> None:
        self.sim = sim
        self.name = name
        self.proc: subprocess.Popen[str] | None = None

    def start(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [_exe(), "serve", self.name, "-t", "20000", *args], env=self.env(SERVER),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 20
        line = ""
        while "serving" not in line:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stderr], [], [], left)[0]:
                pytest.fail(f"ivcom-kv serve: no 'serving' line: {line!r}")
            line = self.proc.stderr.readline()
            if not line:
                pytest.fail(f"ivcom-kv serve exited: {self.proc.wait()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self, domid: int) -> dict[str, str]:
        return {**os.environ, **self.sim.domain_env(domid)}

    def run(self, domid: int, *args: str, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_exe(), "-d", str(SERVER), "-n", self.name, *args],
                              env=self.env(domid), input=stdin, capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, domid: int, *args: str, stdin: str | None = None) -> str:
        r = self.run(domid, *args, stdin=stdin)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def bench(self, domid: int, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([_exe(), "-d", str(SERVER), "-n", self.name, "-t", "20000",
                                 "-j", "bench", *args], env=self.env(domid),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def kv(sim: simmod.Sim, request: pytest.FixtureRequest) -> Iterator[Callable[..., KV]]:
    made: list[KV] = []

    def start(*args: str) -> KV:
        k = KV(sim, f"kv-{request.node.name[5:25]}-{len(made)}".replace("[", "").replace("]", ""))
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


def test_cli_commands(kv: Callable[..., KV]) -> None:
    k = kv()
    assert k.ok(151, "put", "greeting", "hello") == ""
    assert k.ok(151, "get", "greeting") == "hello"
    assert k.ok(152, "get", "greeting") == "hello"          # another domain, same store
    assert k.ok(152, "put", "blob", "-", stdin="from\nstdin\0") == ""
    assert k.ok(151, "get", "blob") == "from\nstdin\0"
    r = k.run(151, "get", "missing")
    assert r.returncode == 1 and r.stderr == "ivcom-kv: error: get: not found\n"
    assert k.ok(151, "del", "greeting") == ""
    r = k.run(151, "del", "greeting")
    assert r.returncode == 1 and r.stderr == "ivcom-kv: error: del: not found\n"
    assert k.ok(151, "list") == "blob\n"
    stats = json.loads(k.ok(151, "-j", "stats"))
    assert stats["keys"] == 1 and stats["puts"] == 2 and stats["dels"] == 2
    assert stats["gets"] == 4 and stats["hits"] == 3 and stats["bad_frames"] == 0
    assert stats["key_max"] == 512 and stats["bytes_budget"] == 16 << 20


def test_list_pages(kv: Callable[..., KV]) -> None:
    # 4 KiB rings: 20 keys of 200 bytes to a reply, 100 keys -> 5 pages
    k = kv("--order", "12")
    keys = sorted(f"p/{i:03d}".ljust(200, "x") for i in range(100))
    for key in keys:
        k.ok(151, "put", key, "v")
    k.ok(151, "put", "q", "v")
    assert k.ok(152, "list", "p/").splitlines() == keys
    assert json.loads(k.ok(152, "-j", "list")) == [*keys, "q"]
    stats = json.loads(k.ok(152, "-j", "stats"))
    assert stats["lists"] == 10 and stats["value_max"] == 4096 - 8 - 12


def test_full_store_and_limits(kv: Callable[..., KV]) -> None:
    k = kv("--memory", "64K")
    value = "v" * 1000
    n = 0
    while True:
        r = k.run(151, "put", f"key{n}", value)
        if r.returncode:
            break
        n += 1
    assert r.stderr == "ivcom-kv: error: put: store full\n"
    assert 40 < n < 64
    assert k.ok(151, "get", "key0") == value                 # nothing was lost
    stats = json.loads(k.ok(151, "-j", "stats"))
    assert stats["bytes_used"] <= 65536 and stats["keys"] == n
    k.ok(151, "del", "key0")
    k.ok(151, "put", f"key{n}", value)                       # room again
    r = k.run(151, "put", "big", "-", stdin="x" * 70000)
    assert r.returncode == 1 and "too large" in r.stderr
    assert k.alive()


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["get"], ["get", "a", "b"], ["put", "k"], ["list", "a", "b"],
    ["serve"], ["-d", "x", "stats"], ["-d", "99999", "stats"], ["--memory", "1M", "get", "k"],
    ["--count", "5", "get", "k"], ["bench", "--keys", "0"], ["serve", "kv", "--memory", "12"],
    ["get", ""], ["get", "k" * 600], ["--bogus", "stats"], ["serve", "kv", "-n", "other"],
], ids=lambda a: " ".join(a) or "none")
def test_bad_arguments_one_line(argv: list[str]) -> None:
    r = subprocess.run([_exe(), *argv], capture_output=True, text=True, timeout=10,
                       env={**os.environ, "IVCOM_PLATFORM": "none"})
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("ivcom-kv: error: "), r.stderr


HOSTILE = r"""
import struct, sys
import ivcom

name, server = sys.argv[1], int(sys.argv[2])
ch = ivcom.Channel.connect(name, server, timeout=20)

def hdr(op, flags, klen, ident, vlen):
    return struct.pack("<BBHII", op, flags, klen, ident, vlen)

def call(msg, want_status, want_op=None, want_id=None):
    ch.send(msg, timeout=10)
    rep = ch.recv(timeout=10)
    op, status, flags, ident, plen = struct.unpack_from("<BBHII", rep)
    assert len(rep) == 12 + plen, rep
    assert status == want_status, (msg[:16], status)
    if want_op is not None:
        assert op == want_op and ident == want_id, (op, ident)
    return rep

BADFRAME, BADOP, BADKEY, TOOLARGE = 4, 5, 6, 2
call(b"", BADFRAME, 0, 0)
call(b"\x01\x00", BADFRAME, 1, 0)
call(hdr(1, 0, 1, 77, 0)[:10], BADFRAME, 1, 77)
call(hdr(1, 0, 65535, 78, 0) + b"k", BADFRAME, 1, 78)              # key beyond the message
call(hdr(2, 0, 1, 79, 0xFFFFFFFF) + b"kv", BADFRAME, 2, 79)        # value beyond it
call(hdr(2, 0, 1, 80, 0xFFFFFFF3) + b"k", BADFRAME, 2, 80)         # lengths that wrap
call(hdr(1, 0, 1, 81, 0) + b"kk", BADFRAME, 1, 81)                 # trailing bytes
call(hdr(1, 0xFF, 1, 82, 0) + b"k", BADFRAME, 1, 82)               # flags
call(hdr(99, 0, 1, 83, 0) + b"k", BADOP, 99, 83)
call(hdr(2, 0, 0, 84, 1) + b"v", BADKEY, 2, 84)
call(hdr(1, 0, 600, 85, 0) + b"k" * 600, TOOLARGE, 1, 85)
big = ch.max_msg - 13                                              # the largest value
call(hdr(2, 0, 1, 86, big) + b"k" + b"v" * big, 0, 2, 86)           # a message can carry
assert len(call(hdr(1, 0, 1, 87, 0) + b"k", 0, 1, 87)) == 12 + big
call(b"\xff" * ch.max_msg, BADFRAME)                               # the largest message

# A flood: requests without reading a reply, until the rings are full
# (the service stops reading us once it cannot reply), then every reply.
sent = 0
get = hdr(1, 0, 5, 0, 0) + b"flood"
while True:
    try:
        ch.send(get[:4] + struct.pack("<I", sent) + get[8:], timeout=0)
    except BlockingIOError:
        break
    sent += 1
    assert sent < 1_000_000
print("flood", sent, flush=True)
for i in range(sent):
    rep = ch.recv(timeout=20)
    op, status, flags, ident, plen = struct.unpack_from("<BBHII", rep)
    assert (op, status, ident, plen) == (1, 1, i, 0), (i, rep)
if len(sys.argv) > 3:                                              # flood again, then go
    while True:
        try:
            ch.send(get, timeout=0)
        except BlockingIOError:
            break
    print("flooded, leaving", flush=True)
    sys.exit(0)
ch.close()
print("hostile done", flush=True)
"""


def _hostile(k: KV, domid: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", HOSTILE, k.name, str(SERVER), *extra],
                            env=k.env(domid), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_four_clients_and_a_hostile_one(kv: Callable[..., KV]) -> None:
    k = kv()
    benches = [k.bench(d, "-c", "4000", "--keys", "50", "--size", "100") for d in range(151, 155)]
    hostile = [_hostile(k, 155), _hostile(k, 156, "leave")]
    for p in hostile:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "flood" in out
    results = [_result(p) for p in benches]
    for res in results:
        assert res["count"] == 4000 and res["reconnects"] == 0
        assert res["gets"] + res["puts"] + res["dels"] == 4000
    stats = json.loads(k.ok(157, "-j", "stats"))
    assert stats["bad_frames"] >= 2 * 10
    assert k.alive()
    k.ok(157, "put", "after", "all")
    assert k.ok(158, "get", "after") == "all"


def test_clients_killed_and_restarted(kv: Callable[..., KV]) -> None:
    k = kv()
    steady = [k.bench(d, "-D", "4", "-c", "100000000", "--keys", "30") for d in (151, 152)]
    victims = [k.bench(d, "-D", "30", "-c", "100000000") for d in (153, 154)]
    time.sleep(1.0)
    for p in victims:
        p.send_signal(signal.SIGKILL)
        p.wait()
    again = [k.bench(d, "-c", "2000") for d in (153, 154)]
    for p in steady + again:
        res = _result(p)
        assert res["reconnects"] == 0 and isinstance(res["count"], int) and res["count"] > 0
    assert k.alive()


def test_service_restarted_clients_reconnect(kv: Callable[..., KV]) -> None:
    k = kv()
    clients = [k.bench(d, "-D", "5", "-c", "100000000", "--reconnect", "--keys", "20")
               for d in range(151, 155)]
    time.sleep(1.5)
    k.kill()
    time.sleep(0.5)
    k.start()
    results = [_result(p) for p in clients]
    for res in results:
        assert isinstance(res["reconnects"], int) and res["reconnects"] >= 1
        assert isinstance(res["count"], int) and res["count"] > 0
    k.ok(151, "put", "x", "y")


def test_bench_figures_one_and_four_clients(kv: Callable[..., KV]) -> None:
    """ops/s and p50/p99 with 1 and 4 clients (printed, loosely checked)."""
    k = kv()
    one = _result(k.bench(151, "-D", "2", "-c", "100000000"))
    four = [_result(p) for p in [k.bench(d, "-D", "2", "-c", "100000000")
                                 for d in range(151, 155)]]
    total = sum(r["ops_per_s"] for r in four)
    print(f"\nkv on the sim: 1 client {one['ops_per_s']:.0f} ops/s, "
          f"p50 {one['lat_ns']['p50'] / 1e3:.1f} us, p99 {one['lat_ns']['p99'] / 1e3:.1f} us; "
          f"4 clients {total:.0f} ops/s in all, p50 "
          + "/".join(f"{r['lat_ns']['p50'] / 1e3:.0f}" for r in four) + " us, p99 "
          + "/".join(f"{r['lat_ns']['p99'] / 1e3:.0f}" for r in four) + " us")
    assert one["ops_per_s"] > 100 and total > 100
    assert all(r["lat_ns"]["p50"] <= r["lat_ns"]["p99"] for r in [one, *four])
