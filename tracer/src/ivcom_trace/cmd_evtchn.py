"""`ivcom-trace evtchn`: event channel notifications and delivery latency (bcc).

    ivcom-trace evtchn [interval [count]] [-d DOMID] [-p PID] [-j] [-T] [--msg-size N]

Ctrl-C or SIGTERM ends it after one last, partial interval (marked
`"partial": true` in JSON), so that a transfer can be traced from start to
end and its event counts compared with what the processes counted.

Runs inside a Linux Xen domain (the lab's dom0) with kprobes and bcc from
Debian's python3-bpfcc (the PyPI package named `bcc` is unrelated).  The
BPF program lives in evtchn.bpf.c; the hidden `--ebpf` prints it and
works anywhere.  Per interval it shows user-space sends per port (with
the remote domain when `lsevtchn` can tell), in-kernel sends per irq,
deliveries to user-space event channels per irq, upcalls per cpu, gntdev
grant maps per process, and log2 histograms of upcall-to-handler latency.

Per channel (JSON key "channels"; attribution.py): the ports are joined
with the IVCOM and libxenvchan channels XenStore lists, so each row says
which channel the sends went to, the bytes the channel moved (from its
control page, when this domain is its client) and sends per 1000 messages
(messages DERIVED from bytes and --msg-size) or per MiB, and its wakeups:
deliveries are counted per irq and Linux exposes no irq-to-port map, so
the map is learned when a port is bound (a kprobe and a kretprobe on
bind_evtchn_to_irqhandler_lateeoi); a port bound before the tracer
started has no wakeup count, and the row says why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ivcom.command import Command
from ivcom.errors import IvcomError, UsageError

from ivcom_trace import attribution as at
from ivcom_trace.common import add_interval_count, domid, first_line, whole_interval_count
from ivcom_trace.discovery import open_store

BPF_SOURCE = "evtchn.bpf.c"
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
LSEVTCHN_CANDIDATES = ("/usr/lib/xen-4.17/bin/lsevtchn", "/usr/sbin/lsevtchn", "lsevtchn")

#: Optional kprobes: (kernel symbol, BPF function).
KPROBES = (
    ("notify_remote_via_irq", "trace_notify_remote"),
    ("xen_evtchn_do_upcall", "trace_upcall"),
    ("bind_evtchn_to_irqhandler_lateeoi", "trace_bind_entry"),
)
# ... and on return: the irq a user-space port was bound to.
KRETPROBES = (("bind_evtchn_to_irqhandler_lateeoi", "trace_bind_return"),)


def bpf_text(pid: int | None = None, upcall_probe: bool = True) -> str:
    """The BPF program with its compile-time settings in front."""
    try:
        src = Path(__file__).with_name(BPF_SOURCE).read_text()
    except OSError as exc:
        raise IvcomError(f"cannot read the BPF program {BPF_SOURCE}: {exc.strerror}") from None
    head = [f"#define FILTER_TGID {pid or 0}"]
    if upcall_probe:
        head.append("#define HAVE_UPCALL_PROBE 1")
    return "\n".join(head) + "\n" + src


def load_bcc() -> Any:
    """Import bcc lazily, from Debian's python3-bpfcc even inside a venv."""
    try:
        import bcc

        return bcc
    except ImportError:
        pass
    if Path(DEBIAN_DIST_PACKAGES, "bcc").is_dir() and DEBIAN_DIST_PACKAGES not in sys.path:
        sys.path.append(DEBIAN_DIST_PACKAGES)
        try:
            import bcc

            return bcc
        except ImportError:
            pass
    raise IvcomError(
        "bcc/kprobes are unavailable here: event channel tracing needs python3-bpfcc "
        "and a Xen domain kernel (run it in the lab's dom0)"
    )


_LSEVTCHN_RE = re.compile(
    r"^\s*(\d+): VCPU \d+: Interdomain \((?:Connected|Waiting connection)\) - "
    r"Remote Domain (\d+)"
)


_REMOTE_PORT_RE = re.compile(r", Port (\d+)")


def parse_lsevtchn(text: str) -> dict[int, int]:
    """lsevtchn output -> {local port: remote domid} for interdomain channels."""
    return {port: dom for port, (dom, _) in parse_lsevtchn_peers(text).items()}


def parse_lsevtchn_peers(text: str) -> dict[int, tuple[int, int | None]]:
    """lsevtchn output -> {local port: (remote domid, remote port or None)};
    a port still waiting for its peer has no remote port."""
    out: dict[int, tuple[int, int | None]] = {}
    for line in text.splitlines():
        m = _LSEVTCHN_RE.match(line)
        if m:
            r = _REMOTE_PORT_RE.match(line, m.end())
            out[int(m.group(1))] = (int(m.group(2)), int(r.group(1)) if r else None)
    return out


def _lsevtchn() -> str | None:
    for cand in LSEVTCHN_CANDIDATES:
        try:
            proc = subprocess.run([cand], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0:
            return proc.stdout
    return None


def port_domains() -> dict[int, int]:
    """Ask lsevtchn about this domain's ports; empty when it cannot say."""
    text = _lsevtchn()
    return {} if text is None else parse_lsevtchn(text)


def port_peers() -> dict[int, tuple[int, int | None]]:
    """Ask lsevtchn who is at the other end of each port; empty when it cannot say."""
    text = _lsevtchn()
    return {} if text is None else parse_lsevtchn_peers(text)


@dataclass(frozen=True)
class Snapshot:
    """One interval's counts, copied out of the BPF maps."""

    user_sends: Mapping[tuple[int, int], int] = field(default_factory=dict)  # (tgid, port)
    kernel_sends: Mapping[int, int] = field(default_factory=dict)  # irq
    deliveries: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (irq, name)
    upcalls: Mapping[int, int] = field(default_factory=dict)  # cpu
    grant_maps: Mapping[int, int] = field(default_factory=dict)  # tgid
    latency: Mapping[int, Mapping[int, int]] = field(default_factory=dict)  # irq -> log2 slot
    irq_port: Mapping[int, int] = field(default_factory=dict)  # irq -> port (bound while tracing)

    def wakeups_by_port(self) -> dict[int, int]:
        """Deliveries per port, for the irqs whose port is known."""
        out: dict[int, int] = {}
        for (irq, _name), n in self.deliveries.items():
            port = self.irq_port.get(irq)
            if port is not None:
                out[port] = out.get(port, 0) + n
        return out


def snapshot_json(
    snap: Snapshot, ports: Mapping[int, int], domid: int | None = None,
    view: at.IntervalView | None = None, msg_size: int | None = None,
) -> dict[str, Any]:
    sends = []
    per_dom: dict[str, int] = {}
    for (tgid, port), n in sorted(snap.user_sends.items()):
        remote = ports.get(port)
        if domid is not None and remote != domid:
            continue
        sends.append({"tgid": tgid, "port": port, "remote_domid": remote, "count": n})
        key = "unknown" if remote is None else str(remote)
        per_dom[key] = per_dom.get(key, 0) + n
    doc: dict[str, Any] = {
        "user_sends": sends,
        "sends_by_domain": per_dom,
        "deliveries": [
            {"irq": irq, "name": name, "count": n}
            for (irq, name), n in sorted(snap.deliveries.items())
        ],
        "latency_log2_ns": {
            str(irq): {str(slot): n for slot, n in sorted(h.items())}
            for irq, h in sorted(snap.latency.items())
        },
    }
    if domid is None:
        doc["kernel_sends"] = [
            {"irq": irq, "count": n} for irq, n in sorted(snap.kernel_sends.items())
        ]
        doc["upcalls"] = {str(cpu): n for cpu, n in sorted(snap.upcalls.items())}
        doc["grant_maps"] = [
            {"tgid": tgid, "count": n} for tgid, n in sorted(snap.grant_maps.items())
        ]
    if view is not None:
        doc.update(channels_json(view, ports, domid, msg_size))
    return doc


def channels_json(view: at.IntervalView, ports: Mapping[int, int], domid: int | None,
                  msg_size: int | None) -> dict[str, Any]:
    """The per-channel part of one interval's JSON."""
    doc: dict[str, Any] = {
        "channels": [r.to_json() for r in view.rows],
        "unattributed_sends": [
            {"port": p, "remote_domid": ports.get(p), "count": n}
            for p, n in view.unattributed.items()
            if domid is None or ports.get(p) == domid
        ],
        "msg_size": msg_size,
    }
    if view.notes:
        doc["channels_note"] = "; ".join(view.notes)
    return doc


def _num(v: float | int | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if v >= 100 else f"{v:.3g}"
    return str(v)


def format_channels(view: at.IntervalView, doc: Mapping[str, Any],
                    msg_size: int | None) -> list[str]:
    """The per-channel table (80 columns) and its footnotes."""
    per = "SENDS/1K MSG" if msg_size is not None else "SENDS/MiB"
    out = [f"{'CHANNEL':<14} {'KIND':<5} {'END':<6} {'PORT':>5} {'PEER':>5} {'SENDS':>8} "
           f"{'WAKES':>6} {'BYTES':>11} {per:>12}"]
    for r in doc["channels"]:
        peer = "?" if r["peer_domid"] is None else f"d{r['peer_domid']}"
        port = "?" if r["port"] is None else str(r["port"])
        rate = r.get("sends_per_1000_messages") if msg_size is not None else r.get(
            "sends_per_mib")
        out.append(
            f"{r['channel'][:14]:<14} {r['kind']:<5} {(r['end'] or '?'):<6} {port:>5} "
            f"{peer:>5} {r['sends']:>8} {_num(r['wakeups']):>6} {_num(r['bytes_total']):>11} "
            f"{_num(rate):>12}"
        )
    if not doc["channels"]:
        out.append("(no channel active)")
    if msg_size is not None:
        out.append(f"messages are derived: bytes moved (both directions) / {msg_size}")
    notes = sorted({r["bytes_note"] for r in doc["channels"] if r.get("bytes_note")})
    out.extend(f"bytes: {n}" for n in notes)
    wnotes = sorted({r["wakeups_note"] for r in doc["channels"] if r.get("wakeups_note")})
    out.extend(f"wakes '-': {n}" for n in wnotes)
    if doc["unattributed_sends"]:
        out.append("sends on no known channel: " + ", ".join(
            f"port {u['port']} {u['count']}" for u in doc["unattributed_sends"]))
    if doc.get("channels_note"):
        out.append(f"channels: {doc['channels_note']}")
    return out


def log2_hist_lines(hist: Mapping[int, int], unit: str = "ns", width: int = 30) -> list[str]:
    """bcc-style power-of-two histogram (slot k counts values in [2^(k-1), 2^k))."""
    if not hist:
        return []
    top = max(hist.values())
    lines = [f"{unit:>22} : count     distribution"]
    for slot in range(min(hist), max(hist) + 1):
        n = hist.get(slot, 0)
        lo = 0 if slot == 0 else 1 << (slot - 1)
        hi = (1 << slot) - 1
        bar = "*" * (n * width // top if top else 0)
        lines.append(f"{lo:>10} -> {hi:<10}: {n:<9} |{bar:<{width}}|")
    return lines


def format_snapshot(
    snap: Snapshot, ports: Mapping[int, int], domid: int | None = None, stamp: str | None = None,
    view: at.IntervalView | None = None, msg_size: int | None = None,
) -> str:
    doc = snapshot_json(snap, ports, domid, view, msg_size)
    out = [stamp] if stamp else []
    out.append(f"{'TGID':>8} {'PORT':>6} {'REMOTE':>7} {'SENDS':>10}")
    for s in doc["user_sends"]:
        remote = "?" if s["remote_domid"] is None else f"d{s['remote_domid']}"
        out.append(f"{s['tgid']:>8} {s['port']:>6} {remote:>7} {s['count']:>10}")
    if doc["sends_by_domain"]:
        out.append(
            "sends by remote domain: "
            + ", ".join(
                f"{'d' + k if k != 'unknown' else k} {v}" for k, v in doc["sends_by_domain"].items()
            )
        )
    if doc.get("kernel_sends"):
        out.append(f"{'IRQ':>8} {'KERNEL SENDS':>15}")
        out.extend(f"{k['irq']:>8} {k['count']:>15}" for k in doc["kernel_sends"])
    out.append(f"{'IRQ':>8} {'NAME':<26} {'DELIVERIES':>10}")
    out.extend(f"{d['irq']:>8} {d['name']:<26} {d['count']:>10}" for d in doc["deliveries"])
    if doc.get("upcalls"):
        out.append("upcalls by cpu: " + ", ".join(f"{c} {n}" for c, n in doc["upcalls"].items()))
    if doc.get("grant_maps"):
        maps = ", ".join(f"{g['tgid']} {g['count']}" for g in doc["grant_maps"])
        out.append(f"gntdev maps by tgid: {maps}")
    if view is not None:
        out.extend(format_channels(view, doc, msg_size))
    for irq, h in snap.latency.items():
        out.append(f"\nirq {irq}: upcall-to-handler latency")
        out.extend(log2_hist_lines(h))
    return "\n".join(out)


def _raw_counts(b: Any) -> dict[str, dict[Any, int]]:
    """Every counter map as {key: cumulative count} (keys as plain values)."""

    def items(name: str) -> list[tuple[Any, int]]:
        return [(k, int(v.value)) for k, v in b[name].items()]

    return {
        "user_sends": {(int(k.tgid), int(k.port)): n for k, n in items("user_sends")},
        "kernel_sends": {int(k.value): n for k, n in items("kernel_sends")},
        "deliveries": {
            (int(k.irq), bytes(k.name).split(b"\0", 1)[0].decode(errors="replace")): n
            for k, n in items("deliveries")
        },
        "upcalls": {int(k.value): n for k, n in items("upcalls")},
        "grant_maps": {int(k.value): n for k, n in items("grant_maps")},
        "latency": {(int(k.irq), int(k.slot)): n for k, n in items("latency")},
        "irq_port": {int(k.value): n for k, n in items("irq_port")},
    }


def delta_snapshot(now: Mapping[str, Mapping[Any, int]],
                   before: Mapping[str, Mapping[Any, int]]) -> Snapshot:
    """The counts of one interval from two cumulative readings.

    The BPF maps are never cleared: reading a map and then clearing it
    loses whatever the probes count in between (measured on the lab's dom0:
    3 of 19858 sends in 45 intervals), while the difference of two
    monotonic readings loses nothing."""

    def diff(name: str) -> dict[Any, int]:
        old = before.get(name, {})
        out = {}
        for k, n in now.get(name, {}).items():
            d = n - old.get(k, 0)
            if d > 0:
                out[k] = d
        return out

    lat: dict[int, dict[int, int]] = {}
    for (irq, slot), n in diff("latency").items():
        lat.setdefault(irq, {})[slot] = n
    return Snapshot(
        user_sends=diff("user_sends"),
        kernel_sends=diff("kernel_sends"),
        deliveries=diff("deliveries"),
        upcalls=diff("upcalls"),
        grant_maps=diff("grant_maps"),
        latency=lat,
        irq_port=dict(now.get("irq_port", {})),     # a map, not a count
    )


def msg_size_arg(text: str | None) -> int | None:
    """--msg-size: a whole number of bytes, at least one 8-byte record header."""
    if text is None:
        return None
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"--msg-size must be a whole number of bytes, not {text!r}") from None
    if v < 8 or v > 1 << 20:
        raise UsageError(f"--msg-size must be between 8 and {1 << 20} bytes, not {v}")
    return v


def open_attribution(stack: contextlib.ExitStack) -> at.Attribution:
    """The channel join on the real XenStore (a note says why when it is absent)."""
    try:
        store = stack.enter_context(open_store())
    except IvcomError as exc:
        return at.Attribution(None, None, note=f"XenStore not reachable: {exc}")
    me = at.local_domid(store)
    if me is None:
        return at.Attribution(None, None, note="cannot tell this domain's id (no domid node)")
    opener = at.xen_ctrl_opener if Path("/dev/xen/gntdev").exists() else None
    return at.Attribution(store, me, peers=port_peers, ctrl_opener=opener)


class EvtchnCommand(Command):
    name = "evtchn"
    help = "event channel sends, deliveries and latency per port/domain (bcc, Xen domain only)"
    examples = (
        ("evtchn", "sends, deliveries, latency each second"),
        ("evtchn 5 3", "three 5 s intervals"),
        ("evtchn -T -d 3", "channels to domain 3 only, timed"),
        ("evtchn -p 1234", "only what process 1234 sends"),
        ("evtchn -j --msg-size 72 1 10", "JSON; sends per 1000 64 B messages"),
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        add_interval_count(parser, default="1")
        parser.add_argument("-d", "--domid", type=domid, help="only channels to this domain")
        parser.add_argument("-p", "--pid", type=int, help="only this process (tgid)")
        parser.add_argument("-j", "--json", action="store_true", help="JSON lines")
        parser.add_argument("-T", "--timestamp", action="store_true", help="time of day")
        parser.add_argument(
            "--msg-size", metavar="N",
            help="bytes per message record in the ring (IVCOM message mode: 8-byte header "
                 "+ payload, padded to 8, e.g. 72 for 64-byte messages).  Message counts "
                 "are DERIVED, not counted: bytes moved in both directions / N (end-of-ring "
                 "PAD records count as bytes).  Without it, sends are given per MiB moved",
        )  # fmt: skip
        parser.add_argument("--ebpf", action="store_true", help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        interval, count = whole_interval_count(args.interval, args.count, default=1)
        args.msg_size = msg_size_arg(args.msg_size)
        if args.ebpf:
            print(bpf_text(args.pid))
            return 0
        bcc = load_bcc()
        if not Path("/dev/xen/evtchn").exists():
            raise IvcomError("no /dev/xen/evtchn: this kernel is not running as a Xen domain")
        return self._trace(bcc, args, interval, count, sys.stdout)

    def _trace(
        self, bcc: Any, args: argparse.Namespace, interval: int, count: int | None, out: TextIO,
        attribution: at.Attribution | None = None,
    ) -> int:
        with contextlib.ExitStack() as stack:
            attrib = attribution if attribution is not None else open_attribution(stack)
            stack.callback(attrib.close)
            return self._trace_with(bcc, args, interval, count, out, attrib)

    def _trace_with(
        self, bcc: Any, args: argparse.Namespace, interval: int, count: int | None, out: TextIO,
        attrib: at.Attribution,
    ) -> int:
        msg_size: int | None = getattr(args, "msg_size", None)
        have = {
            sym: bool(bcc.BPF.get_kprobe_functions(f"^{sym}$".encode())) for sym, _ in KPROBES
        }
        try:
            b = bcc.BPF(text=bpf_text(args.pid, have["xen_evtchn_do_upcall"]))
            for sym, fn in KPROBES:
                if have[sym]:
                    b.attach_kprobe(event=sym, fn_name=fn)
            for sym, fn in KRETPROBES:
                if have[sym]:
                    b.attach_kretprobe(event=sym, fn_name=fn)
        except Exception as exc:  # bcc raises bare Exception on compile/attach failure
            why = first_line(exc, "unknown error")
            raise IvcomError(f"cannot load the BPF program: {why}") from None
        missing = [sym for sym, ok in have.items() if not ok]
        bind_probe = have["bind_evtchn_to_irqhandler_lateeoi"]
        # The baseline before the banner: whoever waits for the banner to
        # start what it traces must find every one of its events counted
        # (lsevtchn and the attribution start below take seconds under TCG).
        last = _raw_counts(b)
        banner = "Tracing Xen event channels... Hit Ctrl-C to end."
        if missing:
            banner += f" (no kprobe for: {', '.join(missing)})"
        print(banner, file=sys.stderr if args.json else out, flush=True)
        ports = port_domains()
        done = 0
        attrib.start()

        def emit(partial: bool) -> None:
            nonlocal last
            now = _raw_counts(b)
            snap = delta_snapshot(now, last)
            last = now
            # Ports bound since the last lsevtchn: ask again (while the
            # process that bound them is likely still running).
            if any(port not in ports for _, port in snap.user_sends):
                ports.update(port_domains())
            # ... and XenStore, for ports no channel claims yet.
            view = attrib.interval(
                snap.user_sends, msg_size, args.domid,
                wakeups=snap.wakeups_by_port() if bind_probe else None,
                wakeup_ports=set(snap.irq_port.values()) if bind_probe else None)
            stamp = time.strftime("%H:%M:%S") if args.timestamp else None
            if args.json:
                doc = snapshot_json(snap, ports, args.domid, view, msg_size)
                if stamp:
                    doc["time"] = stamp
                if partial:
                    doc["partial"] = True
                print(json.dumps(doc, sort_keys=True), file=out, flush=True)
            else:
                text = format_snapshot(snap, ports, args.domid, stamp, view, msg_size)
                print(text + ("\n(partial interval)" if partial else "") + "\n", file=out,
                      flush=True)

        # Ctrl-C or SIGTERM ends the trace after printing what the current
        # interval counted so far, so that nothing sent is left uncounted
        # (a background job of a non-interactive shell starts with SIGINT
        # ignored: set both handlers explicitly).
        with _stop_signals():
            try:
                while count is None or done < count:
                    _sleep_polling(attrib, interval)
                    emit(False)
                    done += 1
            except KeyboardInterrupt:
                with _stop_signals(ignore=True):
                    emit(True)
        return 0


#: How often the ports of channels still connecting are looked for.
PENDING_POLL_S = 0.1


def _sleep_polling(attrib: at.Attribution, seconds: float) -> None:
    """Sleep one interval; meanwhile, while a channel this domain is the
    client of has not published its port yet, read that node every
    PENDING_POLL_S (the channel's nodes are gone once it closes, which can
    be before the interval ends)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not attrib.pending():
            time.sleep(left)
            return
        time.sleep(min(left, PENDING_POLL_S))
        attrib.poll_pending()


@contextlib.contextmanager
def _stop_signals(ignore: bool = False) -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (or are ignored)."""

    def stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    handler: Any = signal.SIG_IGN if ignore else stop
    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
