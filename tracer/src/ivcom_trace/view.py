"""The inspect view: rates from index deltas, batch lines, JSON lines and
the rich live table.  Everything takes its data from a `RingSource`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from ivcom import layouts as L

from ivcom_trace.sources import ChannelClosed, RingSnapshot, RingSource

HALF = 1 << 31


@dataclass(frozen=True)
class DirRate:
    bytes_per_s: float | None
    msgs_per_s: float | None
    msgs_exact: bool = False


NONCE_MISMATCH = "nonce-mismatch"


@dataclass(frozen=True)
class StoreViolation:
    """Where the page and XenStore disagree (the decoder sees bytes only)."""

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} [{self.where}]: {self.message}"


@dataclass(frozen=True)
class Frame:
    snap: RingSnapshot
    decoded: L.Decoded
    rates: tuple[DirRate, ...]
    waiting: tuple[str, ...]  # per direction: "C" consumer armed, "P" producer armed
    store: tuple[StoreViolation, ...] = ()
    store_nonce: str | None = None

    @property
    def violations(self) -> tuple[L.Violation | StoreViolation, ...]:
        return (*self.decoded.violations, *self.store)

    @property
    def nonce(self) -> str | None:
        """The control page's nonce, as XenStore writes it (16 hex digits)."""
        h = self.decoded.header
        return f"{h.nonce:016x}" if isinstance(h, L.IvcomCtrl) else None


def nonce_check(d: L.Decoded, store_nonce: str | None) -> tuple[StoreViolation, ...]:
    """A violation when the offer's nonce in XenStore is not the page's."""
    h = d.header
    if store_nonce is None or not isinstance(h, L.IvcomCtrl):
        return ()
    page = f"{h.nonce:016x}"
    if store_nonce == page:
        return ()
    return (StoreViolation(NONCE_MISMATCH, "ctrl",
                           f"page nonce {page}, XenStore nonce {store_nonce[:20]!r}"),)


def _ahead(event: int | None, idx: int) -> bool:
    """True when an event index asks for a wakeup beyond idx."""
    return event is not None and 0 < (event - idx) % L.U32 < HALF


def waiting_flags(d: L.Decoded) -> tuple[str, ...]:
    if d.kind == "vchan" and isinstance(d.header, L.VchanIface):
        h = d.header
        left = ("C" if h.cli_notify & L.VCHAN_NOTIFY_WRITE else "-") + (
            "P" if h.srv_notify & L.VCHAN_NOTIFY_READ else "-"
        )
        right = ("C" if h.srv_notify & L.VCHAN_NOTIFY_WRITE else "-") + (
            "P" if h.cli_notify & L.VCHAN_NOTIFY_READ else "-"
        )
        return (left, right)
    return tuple(
        ("C" if _ahead(x.prod_event, x.prod) else "-")
        + ("P" if _ahead(x.cons_event, x.cons) else "-")
        for x in d.directions
    )


def compute_rates(prev: Frame | None, snap: RingSnapshot, d: L.Decoded) -> tuple[DirRate, ...]:
    """bytes/s from producer index deltas; msgs/s by walking the records
    published since the previous frame when they are still in the copy,
    else estimated from the mean record span queued now."""
    if prev is None or not prev.decoded.directions:
        return tuple(DirRate(None, None) for _ in d.directions)
    dt = snap.timestamp - prev.snap.timestamp
    if dt <= 0:
        return tuple(DirRate(None, None) for _ in d.directions)
    out = []
    msg_mode = isinstance(d.header, L.IvcomCtrl) and d.header.mode == L.IVCOM_MODE_MESSAGE
    for i, cur in enumerate(d.directions):
        if i >= len(prev.decoded.directions):
            out.append(DirRate(None, None))
            continue
        old = prev.decoded.directions[i]
        delta = (cur.prod - old.prod) % L.U32
        if cur.size is not None and delta > cur.size * 1024:
            out.append(DirRate(None, None))  # index jumped: no meaningful rate
            continue
        msgs: float | None = None
        exact = False
        ring = snap.rings[i] if i < len(snap.rings) else b""
        if msg_mode and cur.size is not None and ring:
            if delta == 0:
                msgs, exact = 0.0, True
            elif delta <= cur.size:
                recs, bad = L.walk_messages(ring, cur.size, old.prod, cur.prod)
                if not bad:
                    msgs, exact = float(sum(r.type == L.IVCOM_MSG_DATA for r in recs)), True
            if msgs is None and cur.valid and cur.fill:
                recs, bad = L.walk_messages(ring, cur.size, cur.cons, cur.prod)
                if recs and not bad:
                    span = sum(r.span for r in recs) / len(recs)
                    msgs = delta / span
        out.append(DirRate(delta / dt, None if msgs is None else msgs / dt, exact))
    return tuple(out)


def make_frame(prev: Frame | None, snap: RingSnapshot, store_nonce: str | None = None) -> Frame:
    d = snap.decode()
    return Frame(snap, d, compute_rates(prev, snap, d), waiting_flags(d),
                 nonce_check(d, store_nonce), store_nonce)


class CloseWatch:
    """Turns live flags into a one-line reason once a side is gone."""

    def __init__(self) -> None:
        self.client_seen = False

    def check(self, d: L.Decoded) -> str | None:
        h = d.header
        if isinstance(h, L.IvcomCtrl):
            if h.server_live == L.IVCOM_LIVE_CLOSED:
                return "server closed the channel (server_live=closed)"
            if h.server_live == L.IVCOM_LIVE_DEAD:
                return "server is gone (server_live=dead)"
            if h.client_live == L.IVCOM_LIVE_CLOSED:
                return "client closed the channel (client_live=closed)"
            if h.client_live == L.IVCOM_LIVE_UP:
                self.client_seen = True
            elif h.client_live == L.IVCOM_LIVE_DEAD and self.client_seen:
                return "client is gone (client_live=dead)"
        elif isinstance(h, L.VchanIface):
            if h.srv_live == L.VCHAN_LIVE_EXITED:
                return "server exited (srv_live=0)"
            if h.cli_live == L.VCHAN_LIVE_EXITED:
                return "client exited (cli_live=0)"
        return None


# ---- formatting ----------------------------------------------------------------


def human(n: float | None, width: int = 6) -> str:
    """A number in at most `width` characters: 999, 12.3K, 4.0M, 1.2G."""
    if n is None:
        return "-"
    for unit, div in (("", 1.0), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)):
        v = n / div
        s = f"{v:.0f}" if unit == "" else f"{v:.1f}{unit}"
        if len(s) <= width and ((unit == "" and v < 1e4) or (unit != "" and v < 1000)):
            return s
    return f"{n:.0e}"


def hbytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("", 1), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        v = n / div
        if v < 1024 or unit == "G":
            return f"{v:.0f}" if unit == "" else f"{v:.1f}{unit}"
    return "-"


def pct(d: L.Direction) -> str:
    if d.size is None:
        return "-"
    if d.fill > d.size:
        return ">100%"
    return f"{100.0 * d.fill / d.size:.1f}%"


COLS = [  # (title, width, right-aligned)
    ("DIR", 5, False),
    ("PROD", 8, True),
    ("CONS", 8, True),
    ("FILL", 6, True),
    ("FILL%", 6, True),
    ("MSG/s", 6, True),
    ("BYTE/s", 6, True),
    ("WAIT", 4, False),
    ("NTFY P/C", 13, False),
]
TIME_WIDTH = 8


def _row_cells(f: Frame, i: int) -> list[str]:
    d = f.decoded.directions[i]
    r = f.rates[i] if i < len(f.rates) else DirRate(None, None)
    ntfy = "-"
    if d.prod_notifies is not None:
        ntfy = f"{human(d.prod_notifies)}/{human(d.cons_notifies)}"
    msgs = human(r.msgs_per_s)
    if r.msgs_per_s is not None and not r.msgs_exact:
        msgs = "~" + human(r.msgs_per_s, 5)
    return [
        d.name,
        f"{d.prod:08x}",
        f"{d.cons:08x}",
        hbytes(d.fill) if d.valid else "BAD",
        pct(d),
        msgs,
        hbytes(r.bytes_per_s),
        f.waiting[i] if i < len(f.waiting) else "--",
        ntfy,
    ]


def _fit(cells: list[str], stamp: str | None) -> str:
    parts = [stamp] if stamp is not None else []
    for (_, w, right), c in zip(COLS, cells, strict=True):
        c = c[:w]
        parts.append(c.rjust(w) if right else c.ljust(w))
    return " ".join(parts).rstrip()


def header_line(timestamps: bool) -> str:
    return _fit([t for t, _, _ in COLS], "TIME".ljust(TIME_WIDTH) if timestamps else None)


def stamp_of(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def live_line(f: Frame) -> str:
    return "# live " + " ".join(f"{k}={v}" for k, v in f.decoded.live.items())


def batch_lines(f: Frame, timestamps: bool) -> list[str]:
    st = stamp_of(f.snap.timestamp) if timestamps else None
    lines = [_fit(_row_cells(f, i), st) for i in range(len(f.decoded.directions))]
    for v in f.violations:
        lines.append(f"!! {v}"[:80])
    return lines


def frame_json(f: Frame, channel: str) -> dict[str, Any]:
    dirs = []
    for i, d in enumerate(f.decoded.directions):
        r = f.rates[i] if i < len(f.rates) else DirRate(None, None)
        dirs.append(
            {
                "name": d.name,
                "prod": d.prod,
                "cons": d.cons,
                "size": d.size,
                "fill": d.fill,
                "prod_event": d.prod_event,
                "cons_event": d.cons_event,
                "prod_notifies": d.prod_notifies,
                "cons_notifies": d.cons_notifies,
                "prod_waits": d.prod_waits,
                "cons_waits": d.cons_waits,
                "msgs_queued": d.msgs,
                "bytes_per_s": r.bytes_per_s,
                "msgs_per_s": r.msgs_per_s,
                "msgs_exact": r.msgs_exact,
                "waiting": f.waiting[i] if i < len(f.waiting) else None,
            }
        )
    return {
        "time": f.snap.timestamp,
        "channel": channel,
        "kind": f.decoded.kind,
        "live": f.decoded.live,
        "nonce": f.nonce,
        "store_nonce": f.store_nonce,
        "directions": dirs,
        "violations": [
            {"kind": str(v.kind), "where": v.where, "message": v.message}
            for v in f.violations
        ],
    }


def render_rich(f: Frame, channel: str, description: str) -> Any:
    """One frame as a rich renderable, 80 columns wide."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text()
    head.append(f"{channel}", style="bold")
    head.append(f"  {f.decoded.kind}  {stamp_of(f.snap.timestamp)}\n")
    head.append(description[:78] + "\n", style="dim")
    for k, val in f.decoded.live.items():
        style = "green" if val in ("up", "connected") else "yellow"
        if val in ("dead", "closed", "exited"):
            style = "red"
        head.append(f"{k}=", style="dim")
        head.append(f"{val}  ", style=style)
    h = f.decoded.header
    if isinstance(h, L.IvcomCtrl):
        head.append(f"mode={L.MODE_NAMES.get(h.mode, h.mode)} grefs={h.nr_grefs} "
                    f"nonce={h.nonce:016x}", style="dim")
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for title, w, right in COLS:
        table.add_column(title, width=w, no_wrap=True, justify="right" if right else "left")
    for i, d in enumerate(f.decoded.directions):
        table.add_row(*_row_cells(f, i), style=None if d.valid else "red")
    parts: list[Any] = [head, table]
    if f.violations:
        vt = Text()
        for bad in f.violations[:6]:
            vt.append(f"!! {bad}\n", style="bold red")
        parts.append(vt)
    else:
        parts.append(Text("no protocol violations", style="green"))
    return Group(*parts)


# ---- the loop -------------------------------------------------------------------


@dataclass
class Outcome:
    frames: int
    reason: str


def run_inspect(
    source: RingSource,
    *,
    channel: str,
    style: str = "batch",  # "batch", "json" or "live"
    interval: float = 1.0,
    count: int | None = None,
    timestamps: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    console: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    store_state: Callable[[], str | None] | None = None,
    banner: str | None = "",
    store_nonce: str | None = None,
) -> Outcome:
    """Show frames until `count`, the channel closes or Ctrl-C; the reason
    is printed as one line on `err` and returned.  `banner` replaces the
    batch mode's first line ("" = the default, None = no banner);
    `store_nonce` is the nonce XenStore holds for the page (a page that
    differs is a violation)."""
    out = out or sys.stdout
    err = err or sys.stderr
    watch = CloseWatch()
    prev: Frame | None = None
    frames = 0
    last_live: dict[str, str] | None = None
    last_nonce: str | None = None
    live_ctx: Any = None
    if style == "batch" and banner is not None:
        print(banner or f"Tracing {channel}: {source.describe()}. Ctrl-C to end.", file=out)
        print(header_line(timestamps), file=out)
    if style == "live":
        from rich.console import Console
        from rich.live import Live

        console = console or Console(width=80)
        live_ctx = Live(console=console, auto_refresh=False, transient=False)
        live_ctx.start()
    reason = "done"
    try:
        while count is None or frames < count:
            if frames:
                sleep(interval)
            try:
                snap = source.snapshot()
            except ChannelClosed as exc:
                reason = exc.reason
                break
            f = make_frame(prev, snap, store_nonce)
            frames += 1
            if style == "json":
                print(json.dumps(frame_json(f, channel)), file=out, flush=True)
            elif style == "batch":
                if f.decoded.live != last_live:
                    print(live_line(f), file=out)
                    last_live = f.decoded.live
                if f.nonce is not None and f.nonce != last_nonce:
                    print(f"# nonce {f.nonce}", file=out)
                    last_nonce = f.nonce
                for line in batch_lines(f, timestamps):
                    print(line, file=out)
                out.flush()
            else:
                live_ctx.update(render_rich(f, channel, source.describe()), refresh=True)
            prev = f
            closed = watch.check(f.decoded)
            if closed is None and store_state is not None:
                st = store_state()
                if st is None:
                    closed = "channel removed from XenStore"
                elif st == "closed":
                    closed = "channel state is closed in XenStore"
            if closed:
                reason = f"channel closed: {closed}"
                break
        else:
            reason = f"{frames} frame(s)"
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        if live_ctx is not None:
            live_ctx.stop()
    print(f"ivcom-trace: {reason}", file=err)
    return Outcome(frames, reason)
