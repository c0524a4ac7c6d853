"""`ivcom bench`, sim section: `ivcom proxy` beside a direct TCP connection.

One echo server (a Python process of its own) on TCP loopback; the same
client code talks to it directly and through `ivcom proxy listen` (domain
2) -> channel -> `ivcom proxy serve` (domain 1), in one run:

- round trip: 64 B written, 64 B read back, `rtt_count` times; the median
  of each repetition;
- stream: `stream_bytes` written while the echo is read back; bytes each
  way over the time from the first write to the echo's end.

The proxied path adds two TCP loopback hops and two Python event loops to
the channel, so on the sim it cannot beat the direct connection: the
ratios below are its cost, reported, not judged.  The proxy's target (at
least 2x netfront's requests/s, at most 0.5x its p50) is a lab one: two
domUs whose direct path is netfront, not loopback.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ivcom.bench import CLIENT_DOM, SERVER_DOM, BenchError, Json, SimBench, _summary

SERVICE = "benchpx"
LABELS = {"tcp": "TCP loopback, direct", "proxy": "ivcom proxy (listen -> serve)"}

# The echo server: one thread per connection (a process of its own, so
# that it does not share the measuring client's interpreter).
ECHO = """
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
def run(c):
    with c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while d := c.recv(1 << 16):
            c.sendall(d)
while True:
    threading.Thread(target=run, args=(s.accept()[0],), daemon=True).start()
"""


@dataclass(frozen=True)
class ProxyPlan:
    reps: int
    rtt_count: int
    stream_bytes: int

    @staticmethod
    def for_mode(quick: bool) -> ProxyPlan:
        if quick:
            return ProxyPlan(1, 500, 16 << 20)
        return ProxyPlan(3, 5000, 128 << 20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _started(proc: subprocess.Popen[str], what: str, marker: str) -> str:
    """The first stderr line holding marker (the proxy's -v banner)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if marker in line:
            return line
    raise BenchError(f"{what} exited ({proc.wait()}) before it was up")


@contextmanager
def _path(b: SimBench) -> Iterator[tuple[int, int]]:
    """(direct port, proxied port): the echo server, and the two proxies
    in front of it."""
    procs: list[subprocess.Popen[str]] = []
    try:
        echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE,
                                text=True)
        procs.append(echo)
        assert echo.stdout is not None
        port = int(echo.stdout.readline())
        cmd = [sys.executable, "-m", "ivcom", "proxy"]
        serve = subprocess.Popen([*cmd, "serve", SERVICE, "--to", f"127.0.0.1:{port}", "-v"],
                                 env={**os.environ, **b.sim.domain_env(SERVER_DOM)},
                                 stderr=subprocess.PIPE, text=True)
        procs.append(serve)
        _started(serve, "proxy serve", "serving")
        lport = _free_port()
        listen = subprocess.Popen([*cmd, "listen", f"127.0.0.1:{lport}", "--to",
                                   f"{SERVER_DOM}:{SERVICE}", "-v"],
                                  env={**os.environ, **b.sim.domain_env(CLIENT_DOM)},
                                  stderr=subprocess.PIPE, text=True)
        procs.append(listen)
        _started(listen, "proxy listen", "listening")
        # Their -v lines go on; drain them so that no pipe fills.
        for p in (serve, listen):
            threading.Thread(target=p.communicate, daemon=True).start()
        yield port, lport
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def round_trips(port: int, count: int) -> float:
    """Median 64 B round trip in microseconds."""
    msg = b"x" * 64
    times: list[float] = []
    with _connect(port) as s:
        for _ in range(count):
            t0 = time.perf_counter()
            s.sendall(msg)
            got = 0
            while got < len(msg):
                n = len(s.recv(64 - got))
                if n == 0:
                    raise BenchError("the echo ended early")
                got += n
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def stream(port: int, total: int) -> float:
    """GB/s each way: total bytes written while the echo is read back."""
    chunk = b"\xa5" * (1 << 16)
    with _connect(port) as s:
        def send() -> None:
            left = total
            while left > 0:
                left -= s.send(chunk[:min(left, len(chunk))])
            s.shutdown(socket.SHUT_WR)

        t0 = time.perf_counter()
        sender = threading.Thread(target=send)
        sender.start()
        got = 0
        while data := s.recv(1 << 20):
            got += len(data)
        sender.join()
        dt = time.perf_counter() - t0
    if got != total:
        raise BenchError(f"stream: {got} bytes came back of {total}")
    return total / dt / 1e9


def run(b: SimBench, plan: ProxyPlan) -> Json:
    rows: list[Json] = []
    with _path(b) as (direct, proxied):
        for transport, port in (("tcp", direct), ("proxy", proxied)):
            rtt = [round_trips(port, plan.rtt_count) for _ in range(plan.reps)]
            gbs = [stream(port, plan.stream_bytes) for _ in range(plan.reps)]
            rows.append({"transport": transport, "rtt_us": _summary(rtt),
                         "gbytes_per_s": _summary(gbs)})
            b.log(f"proxy {transport:6} rtt {rows[-1]['rtt_us']['median']:.1f} us, "
                  f"{rows[-1]['gbytes_per_s']['median']:.3f} GB/s")
    return {"plan": plan.__dict__, "rows": rows, "ratios": ratios(rows)}


def ratios(rows: list[Json]) -> Json:
    by = {r["transport"]: r for r in rows}
    tcp, px = by["tcp"], by["proxy"]
    return {"rtt_proxy_over_tcp": px["rtt_us"]["median"] / tcp["rtt_us"]["median"],
            "gbs_proxy_over_tcp": px["gbytes_per_s"]["median"]
            / tcp["gbytes_per_s"]["median"]}


def render(res: Json) -> str:
    plan = res["plan"]
    lines = [f"ivcom proxy, sim: an echo server direct and through listen -> channel -> "
             f"serve (median [min..max] of {plan['reps']})",
             f"  {'path':<30} {'64 B round trip us':>22} {'stream GB/s each way':>24}"]
    for r in res["rows"]:
        t, g = r["rtt_us"], r["gbytes_per_s"]
        lines.append(f"  {LABELS.get(r['transport'], r['transport']):<30} "
                     f"{t['median']:>8.1f} [{t['min']:.1f}..{t['max']:.1f}]"
                     f"{g['median']:>12.3f} [{g['min']:.3f}..{g['max']:.3f}]")
    q = res["ratios"]
    lines.append(f"  proxy / direct: round trip {q['rtt_proxy_over_tcp']:.2f}x, stream "
                 f"{q['gbs_proxy_over_tcp']:.2f}x (the proxy's cost on one host; its "
                 "target is the lab's, against netfront)")
    return "\n".join(lines)
