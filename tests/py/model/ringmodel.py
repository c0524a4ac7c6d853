"""An explicit-state model checker of one direction of an IVCOM channel.

One producer and one consumer share a message-mode ring, as the channel code
drives ivcom-core/src/ring.h (ivcom_send/ivcom_recv, tx_publish/rx_publish,
chan_wait: ready() -> arm() -> ready() -> block).  Every interleaving of
their steps is enumerated breadth-first with a visited set, under SC or
x86-TSO, and every reachable state is checked.  From tests/py,
`python -m model.ringmodel [-v]` checks the standard configurations.

One step is at most one access to shared memory plus the private work
around it.  The ring is held in 8-byte words: a header is one 8-byte copy,
payload word w of message k holds k (the sinks' fill).  Indexes are real
free-running 32-bit values; `Config.start` makes them wrap through 0.

Producer steps (`Prod.pc`), with ring.h's barrier labels:
  reserve  ivcom_ring_msg_reserve: free_cached, else one load of cons
           (A2, ivcom_ring_free, validated); PAD / fits / -EAGAIN + need
  pad      put_hdr(PAD) covering the tail [off, size); pvt += contig
  hdr      put_hdr(DATA) at pvt
  body     the caller's memcpy, one word a step; the last is
           ivcom_ring_msg_commit (pvt += rec)
  publish  ivcom_ring_prod_publish: store-release prod (R1)
  f2       F2 (ivcom_smp_mb), then one load of prod_event: want_event?
  notify   send_event
  check    chan_wait's first ready(WAIT_TX): load cons (A2), free >= need?
  arm      ivcom_ring_prod_arm: store cons_event = pvt + need - size
  f3       F3 (ivcom_smp_mb), then ready(WAIT_TX) again
  block    evtchn_wait: runs once an event is pending, consumes it, and
           chan_wait's loop arms again
Consumer steps (`Cons.pc`):
  peek     ivcom_ring_msg_peek: avail_cached, else one load of prod (A1,
           ivcom_ring_avail, validated)
  hdr      the one copy of the header; validate; a PAD adds contig to
           pvt and goes back to peek
  body     the caller's memcpy, one word a step; the last is
           ivcom_ring_msg_release (pvt += rec)
  publish  ivcom_ring_cons_publish: store-release cons (R2); before a wait
           this is msg_peek_once publishing the PADs it skipped
  f4       F4 (ivcom_smp_mb), then one load of cons_event: want_event?
  notify   send_event
  check    chan_wait's first ready(WAIT_RX): load prod (A1), avail > 0?
  arm      ivcom_ring_cons_arm: store prod_event = pvt + 1
  f1       F1 (ivcom_smp_mb), then ready(WAIT_RX) again
  block    as for the producer
A first -EAGAIN is the fast path (ivcom_send/ivcom_recv) failing: the slow
path tries once more, then publishes and waits.  chan_wait's spin only
repeats ready(), which one check at any moment covers.  Events are sticky
(a notify sets the peer's pending bit).  Peers never close.

x86-TSO: each side has a FIFO store buffer, which its own loads read
first; `flush` (its oldest store to memory) is a separate step at any
time; a fence, or a notify (a hypercall), runs only on an empty buffer.
Release and acquire are plain accesses on x86.  A fence removed
(`Config.fences`) leaves a plain load.  The real chan_wait re-checks every
IVCOM_PROBE_MS, so there a lost wakeup is a 200 ms stall, not a hang; the
model waits forever, which is what makes it visible.

Checked: the consumer gets messages 0..N-1 in order, each with its length
and its number in every payload word (no stale, torn or skipped record),
and no side ever sees -EPROTO; the producer never writes a ring word the
cons in shared memory has not freed (no overrun); every state without a
step has both sides done (no lost wakeup), and from every state some run
ends so (no livelock).  `Config.mutations` breaks the protocol on purpose
so that each check can be seen to fire: `arm-at-pvt` (prod_event = pvt),
`publish-early` (prod published before the payload is written),
`pad-unchecked` (reserve forgets the PAD's bytes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

MOD = 1 << 32
WORD = 8                          # header size, record alignment, model word
DATA, PAD = 1, 2
FENCES = frozenset({"F1", "F2", "F3", "F4"})
MUTATIONS = frozenset({"arm-at-pvt", "publish-early", "pad-unchecked"})
# Shared addresses: the four index words, then the ring's words.
PROD, CONS, PROD_EVENT, CONS_EVENT, RING0 = 0, 1, 2, 3, 4
ADDR_NAMES = ("prod", "cons", "prod_event", "cons_event")

Value = int | tuple[str, int, int]      # an index; ("hdr", len, type); ("msg", k, word)
Buffer = tuple[tuple[int, Value], ...]  # (address, value), oldest first


class Prod(NamedTuple):
    pc: str = "reserve"
    k: int = 0                    # message being sent
    pvt: int = 0
    pub: int = 0                  # r->published
    peer: int = 0                 # cons as last validated
    need: int = 0                 # r->need while waiting
    tmp: int = 0                  # free bytes (reserve -> pad), word (body)
    old: int = 0                  # published before this publish
    wait: bool = False            # this publish precedes a wait
    slow: bool = False            # the fast path failed for this message


class Cons(NamedTuple):
    pc: str = "peek"
    k: int = 0                    # message expected next
    pvt: int = 0
    pub: int = 0
    peer: int = 0                 # prod as last validated
    avail: int = 0
    word: int = 0
    old: int = 0
    wait: bool = False
    slow: bool = False


class State(NamedTuple):
    mem: tuple[Value, ...]
    pbuf: Buffer                  # store buffers (TSO; always empty under SC)
    cbuf: Buffer
    prod: Prod
    cons: Cons
    pend_p: bool                  # an event pending at the producer's end
    pend_c: bool


@dataclass(frozen=True)
class Config:
    ring: int = 32                          # bytes, a power of two
    msgs: tuple[int, ...] = (8, 16, 8)      # payload lengths, in order
    start: int = 0                          # initial value of every index
    tso: bool = False
    fences: frozenset[str] = FENCES
    mutations: frozenset[str] = frozenset()
    max_states: int = 2_000_000

    def __post_init__(self) -> None:
        if self.ring < 2 * WORD or self.ring & (self.ring - 1):
            raise ValueError(f"ring {self.ring}: a power of two >= 16")
        if any(not 0 <= n <= self.ring - WORD for n in self.msgs):
            raise ValueError(f"messages {self.msgs}: each at most {self.ring - WORD} bytes")
        if not (self.fences <= FENCES and self.mutations <= MUTATIONS):
            raise ValueError(f"unknown fences {self.fences} or mutations {self.mutations}")

    def describe(self) -> str:
        extra = "".join(f" -{f}" for f in sorted(FENCES - self.fences))
        extra += "".join(f" +{m}" for m in sorted(self.mutations))
        return (f"{'TSO' if self.tso else 'SC'} ring={self.ring} msgs={list(self.msgs)} "
                f"start={show(self.start)}{extra}")


@dataclass
class Result:
    config: Config
    states: int = 0
    transitions: int = 0
    finals: int = 0                         # states with both sides done
    violation: str | None = None
    trace: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.violation is None

    def report(self) -> str:
        head = f"{self.config.describe()}: {self.states} states, {self.transitions} transitions"
        if self.ok:
            return f"{head}, {self.finals} final states: all properties hold"
        lines = [f"{head}: VIOLATION: {self.violation}", "counterexample:"]
        lines += [f"  {i:3d}. {step}" for i, step in enumerate(self.trace, 1)]
        return "\n".join(lines)


class Violation(Exception):
    """A step that breaks a property (its message says which)."""


Succ = tuple[str, State]                    # a step's label and the state after it


def record(length: int) -> int:
    """ivcom_msg_record: header plus payload, padded to 8 bytes."""
    return (WORD + length + WORD - 1) & ~(WORD - 1)


def want_event(new: int, old: int, event: int) -> bool:
    """ivcom_ring_want_event: the event index lies in (old, new]."""
    return (new - event) % MOD < (new - old) % MOD


def show(v: Value) -> str:
    if isinstance(v, int):
        return f"{v:#x}" if v > 0xFFFF else str(v)
    if v[0] == "hdr":
        return f"[{'DATA' if v[2] == DATA else 'PAD'} len {v[1]}]"
    return f"[msg {v[1]} word {v[2]}]"


class Model:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.size, self.mask, self.n = cfg.ring, cfg.ring - 1, len(cfg.msgs)
        self.recs = tuple(record(n) for n in cfg.msgs)
        self.words = tuple((n + WORD - 1) // WORD for n in cfg.msgs)
        self.mut = cfg.mutations

    def initial(self) -> State:
        s = self.cfg.start % MOD
        mem: tuple[Value, ...] = (s, s, s, s) + (0,) * (self.size // WORD)
        return State(mem, (), (), Prod(pvt=s, pub=s, peer=s), Cons(pvt=s, pub=s, peer=s),
                     False, False)

    def cell(self, index: int) -> int:
        return RING0 + (index & self.mask) // WORD

    # ---- memory: SC writes through, TSO buffers ------------------------------

    @staticmethod
    def load(st: State, buf: Buffer, addr: int) -> Value:
        for a, v in reversed(buf):
            if a == addr:
                return v
        return st.mem[addr]

    def store(self, st: State, who: str, addr: int, val: Value) -> State:
        if self.cfg.tso:
            if who == "P":
                return st._replace(pbuf=(*st.pbuf, (addr, val)))
            return st._replace(cbuf=(*st.cbuf, (addr, val)))
        mem = list(st.mem)
        mem[addr] = val
        return st._replace(mem=tuple(mem))

    def fenced(self, name: str, buf: Buffer) -> bool:
        """May the step behind fence `name` run?  (TSO: once the buffer drained.)"""
        return not (self.cfg.tso and buf and name in self.cfg.fences)

    def flushes(self, st: State) -> list[Succ]:
        out: list[Succ] = []
        for who, buf in (("P", st.pbuf), ("C", st.cbuf)):
            if buf:
                (addr, val), rest = buf[0], buf[1:]
                mem = list(st.mem)
                mem[addr] = val
                nxt = st._replace(mem=tuple(mem))
                nxt = nxt._replace(pbuf=rest) if who == "P" else nxt._replace(cbuf=rest)
                name = ADDR_NAMES[addr] if addr < RING0 else f"ring[{(addr - RING0) * WORD}]"
                out.append((f"{who}  flush {name} = {show(val)} to memory", nxt))
        return out

    # ---- the producer ------------------------------------------------------------

    def free_of(self, p: Prod, cons: Value, where: str) -> tuple[Prod, int]:
        """ivcom_ring_free's validation of a loaded cons."""
        assert isinstance(cons, int)
        used = (p.pvt - cons) % MOD
        if used > self.size or (cons - p.peer) % MOD > (p.pvt - p.peer) % MOD:
            raise Violation(f"producer: -EPROTO in {where} (cons {show(cons)}, pvt {show(p.pvt)})")
        return p._replace(peer=cons), self.size - used

    def put(self, st: State, index: int, val: Value) -> State:
        """A producer store into the ring, checked against overrun."""
        cons = st.mem[CONS]
        assert isinstance(cons, int)
        if (index + WORD - cons) % MOD > self.size:
            raise Violation(f"overrun: producer writes ring index {show(index)} while cons in "
                            f"memory is {show(cons)} (consumer's pvt {show(st.cons.pvt)})")
        return self.store(st, "P", self.cell(index), val)

    @staticmethod
    def prod_eagain(p: Prod, need: int) -> Prod:
        """ivcom_send's fast path failed: send_slow tries once more; after
        that msg_reserve_once publishes (a PAD) and chan_wait waits."""
        if not p.slow:
            return p._replace(pc="reserve", tmp=0, slow=True)
        return p._replace(pc="publish", need=need, tmp=0, wait=True)

    def after_publish(self, p: Prod) -> Prod:
        if p.wait:
            return p._replace(pc="check", old=0, wait=False)
        k = p.k + 1
        return p._replace(pc="done" if k == self.n else "reserve", k=k, old=0, slow=False)

    def prod_step(self, st: State) -> Succ | None:
        p, size, pc = st.prod, self.size, st.prod.pc
        if pc == "reserve":
            rec, off = self.recs[p.k], p.pvt & self.mask
            contig = size - off
            wrap = rec > contig
            if wrap and "pad-unchecked" in self.mut:
                contig = 0                      # the bug: the PAD's bytes not counted
            cached = size - (p.pvt - p.peer) % MOD
            if cached >= (contig + rec if wrap else rec):
                free, what = cached, f"cached free {cached}"
            else:
                cons = self.load(st, st.pbuf, CONS)
                p, free = self.free_of(p, cons, "reserve")
                what = f"A2 load cons = {show(cons)}, free {free}"
            lbl = f"P  reserve msg {p.k} (record {rec}): {what}"
            if wrap and free < contig:
                p = self.prod_eagain(p, contig)
                return f"{lbl}; no room for the PAD: -EAGAIN", st._replace(prod=p)
            if wrap:
                return f"{lbl}; PAD the tail", st._replace(prod=p._replace(pc="pad", tmp=free))
            if free < rec:
                return f"{lbl}; -EAGAIN", st._replace(prod=self.prod_eagain(p, rec))
            return f"{lbl}; fits", st._replace(prod=p._replace(pc="hdr"))
        if pc == "pad":
            off = p.pvt & self.mask
            contig = size - off
            st = self.put(st, p.pvt, ("hdr", contig - WORD, PAD))
            free = p.tmp - (0 if "pad-unchecked" in self.mut else contig)
            p = p._replace(pvt=(p.pvt + contig) % MOD, tmp=0)
            lbl = f"P  write PAD header at {off} (len {contig - WORD})"
            if free < self.recs[p.k]:
                p = self.prod_eagain(p, self.recs[p.k])
                return f"{lbl}; no room for msg {p.k}: -EAGAIN", st._replace(prod=p)
            return lbl, st._replace(prod=p._replace(pc="hdr"))
        if pc == "hdr":
            st = self.put(st, p.pvt, ("hdr", self.cfg.msgs[p.k], DATA))
            lbl = f"P  write DATA header of msg {p.k} at {p.pvt & self.mask}"
            if "publish-early" in self.mut:
                new = (p.pvt + self.recs[p.k]) % MOD
                st = self.store(st, "P", PROD, new)
                p = p._replace(pub=new, old=p.pub)
                lbl += f"; store prod = {show(new)} too early"
            return lbl, st._replace(prod=p._replace(pc="body", tmp=0))
        if pc == "body":
            lbl = f"P  msg {p.k} has no payload"
            if p.tmp < self.words[p.k]:
                at = p.pvt + WORD * (1 + p.tmp)
                st = self.put(st, at, ("msg", p.k, p.tmp))
                lbl = f"P  write msg {p.k} word {p.tmp} at {at & self.mask}"
                p = p._replace(tmp=p.tmp + 1)
            if p.tmp < self.words[p.k]:
                return lbl, st._replace(prod=p)
            p = p._replace(pc="f2" if "publish-early" in self.mut else "publish",
                           pvt=(p.pvt + self.recs[p.k]) % MOD, tmp=0)
            return f"{lbl}; commit, pvt = {show(p.pvt)}", st._replace(prod=p)
        if pc == "publish":
            if p.pvt == p.pub:
                return "P  nothing to publish", st._replace(prod=self.after_publish(p))
            st = self.store(st, "P", PROD, p.pvt)
            p = p._replace(pc="f2", old=p.pub, pub=p.pvt)
            return f"P  R1 store-release prod = {show(p.pvt)}", st._replace(prod=p)
        if pc == "f2":
            if not self.fenced("F2", st.pbuf):
                return None
            ev = self.load(st, st.pbuf, PROD_EVENT)
            assert isinstance(ev, int)
            want = want_event(p.pub, p.old, ev)
            p = p._replace(pc="notify") if want else self.after_publish(p)
            fence = "F2; " if "F2" in self.cfg.fences else ""
            return (f"P  {fence}load prod_event = {show(ev)}: {'notify' if want else 'no notify'}",
                    st._replace(prod=p))
        if pc == "notify":
            if st.pbuf:
                return None
            return "P  notify the consumer", st._replace(prod=self.after_publish(p), pend_c=True)
        if pc in ("check", "f3"):
            if pc == "f3" and not self.fenced("F3", st.pbuf):
                return None
            cons = self.load(st, st.pbuf, CONS)
            p, free = self.free_of(p, cons, "ready()")
            how = "ready(): " if pc == "check" else "F3; " if "F3" in self.cfg.fences else ""
            lbl = f"P  {how}load cons = {show(cons)}: free {free}, need {p.need}: "
            if free >= p.need:
                return lbl + "retry", st._replace(prod=p._replace(pc="reserve", need=0))
            nxt = "arm" if pc == "check" else "block"
            return lbl + nxt, st._replace(prod=p._replace(pc=nxt))
        if pc == "arm":
            ev = (p.pvt + p.need - size) % MOD
            st = self.store(st, "P", CONS_EVENT, ev)
            return f"P  arm: store cons_event = {show(ev)}", st._replace(prod=p._replace(pc="f3"))
        if pc == "block":
            if not st.pend_p:
                return None
            return "P  woken by an event", st._replace(prod=p._replace(pc="arm"), pend_p=False)
        raise AssertionError(pc)

    # ---- the consumer ------------------------------------------------------------

    def avail_of(self, c: Cons, prod: Value, where: str) -> tuple[Cons, int]:
        """ivcom_ring_avail's validation of a loaded prod."""
        assert isinstance(prod, int)
        avail = (prod - c.pvt) % MOD
        if avail > self.size or avail < (c.peer - c.pvt) % MOD:
            raise Violation(f"consumer: -EPROTO in {where} (prod {show(prod)}, pvt {show(c.pvt)})")
        return c._replace(peer=prod), avail

    def after_cons_publish(self, c: Cons) -> Cons:
        if c.wait:
            return c._replace(pc="check", old=0, wait=False)
        return c._replace(pc="done" if c.k == self.n else "peek", old=0)

    def cons_step(self, st: State) -> Succ | None:
        c, size, pc = st.cons, self.size, st.cons.pc
        if pc == "peek":
            seen = (c.peer - c.pvt) % MOD
            if seen:
                avail, lbl = seen, f"C  peek: cached avail {seen}"
            else:
                prod = self.load(st, st.cbuf, PROD)
                c, avail = self.avail_of(c, prod, "peek")
                lbl = f"C  peek: A1 load prod = {show(prod)}, avail {avail}"
            if avail == 0:
                # ivcom_recv's fast path failed: recv_slow peeks once more;
                # then msg_peek_once publishes skipped PADs and waits.
                c = c._replace(pc="publish", wait=True) if c.slow else c._replace(slow=True)
                return f"{lbl}: -EAGAIN", st._replace(cons=c)
            if avail < WORD:
                raise Violation(f"consumer: -EPROTO, avail {avail} < one header")
            return lbl, st._replace(cons=c._replace(pc="hdr", avail=avail))
        if pc == "hdr":
            off = c.pvt & self.mask
            contig = size - off
            h = self.load(st, st.cbuf, self.cell(c.pvt))
            lbl = f"C  copy header at {off}: {show(h)}"
            if not isinstance(h, tuple) or h[0] != "hdr":
                raise Violation(f"consumer: stale or torn header at {off}, {show(h)}: -EPROTO")
            _, length, kind = h
            if kind == PAD:
                if length != contig - WORD or c.avail < contig:
                    raise Violation(f"consumer: bad PAD {show(h)}, avail {c.avail}: -EPROTO")
                c = c._replace(pc="peek", pvt=(c.pvt + contig) % MOD, avail=0)
                return f"{lbl}: skip PAD", st._replace(cons=c)
            rec = record(length)
            if length > size - WORD or rec > contig or rec > c.avail:
                raise Violation(f"consumer: bad DATA header {show(h)}, avail {c.avail}: -EPROTO")
            if length != self.cfg.msgs[c.k]:
                raise Violation(f"consumer: stale or skipped record: header says len {length}, "
                                f"message {c.k} has {self.cfg.msgs[c.k]}")
            return lbl, st._replace(cons=c._replace(pc="body", avail=0, word=0))
        if pc == "body":
            lbl = f"C  msg {c.k} has no payload"
            if c.word < self.words[c.k]:
                at = c.pvt + WORD * (1 + c.word)
                v = self.load(st, st.cbuf, self.cell(at))
                if v != ("msg", c.k, c.word):
                    raise Violation(f"consumer: stale or torn payload: msg {c.k} word {c.word} "
                                    f"at {at & self.mask} holds {show(v)}")
                lbl = f"C  read msg {c.k} word {c.word}: ok"
                c = c._replace(word=c.word + 1)
            if c.word < self.words[c.k]:
                return lbl, st._replace(cons=c)
            c = c._replace(pc="publish", pvt=(c.pvt + self.recs[c.k]) % MOD, k=c.k + 1, word=0,
                           slow=False)
            return f"{lbl}; release, pvt = {show(c.pvt)}", st._replace(cons=c)
        if pc == "publish":
            if c.pvt == c.pub:
                return "C  nothing to publish", st._replace(cons=self.after_cons_publish(c))
            st = self.store(st, "C", CONS, c.pvt)
            c = c._replace(pc="f4", old=c.pub, pub=c.pvt)
            return f"C  R2 store-release cons = {show(c.pvt)}", st._replace(cons=c)
        if pc == "f4":
            if not self.fenced("F4", st.cbuf):
                return None
            ev = self.load(st, st.cbuf, CONS_EVENT)
            assert isinstance(ev, int)
            want = want_event(c.pub, c.old, ev)
            c = c._replace(pc="notify") if want else self.after_cons_publish(c)
            fence = "F4; " if "F4" in self.cfg.fences else ""
            return (f"C  {fence}load cons_event = {show(ev)}: {'notify' if want else 'no notify'}",
                    st._replace(cons=c))
        if pc == "notify":
            if st.cbuf:
                return None
            return ("C  notify the producer",
                    st._replace(cons=self.after_cons_publish(c), pend_p=True))
        if pc in ("check", "f1"):
            if pc == "f1" and not self.fenced("F1", st.cbuf):
                return None
            prod = self.load(st, st.cbuf, PROD)
            c, avail = self.avail_of(c, prod, "ready()")
            how = "ready(): " if pc == "check" else "F1; " if "F1" in self.cfg.fences else ""
            lbl = f"C  {how}load prod = {show(prod)}: avail {avail}: "
            if avail:
                return lbl + "peek", st._replace(cons=c._replace(pc="peek"))
            nxt = "arm" if pc == "check" else "block"
            return lbl + nxt, st._replace(cons=c._replace(pc=nxt))
        if pc == "arm":
            ev = (c.pvt + (0 if "arm-at-pvt" in self.mut else 1)) % MOD
            st = self.store(st, "C", PROD_EVENT, ev)
            return f"C  arm: store prod_event = {show(ev)}", st._replace(cons=c._replace(pc="f1"))
        if pc == "block":
            if not st.pend_c:
                return None
            return "C  woken by an event", st._replace(cons=c._replace(pc="arm"), pend_c=False)
        raise AssertionError(pc)

    # ---- the search ----------------------------------------------------------------

    def successors(self, st: State) -> list[Succ]:
        """Every step enabled in `st`; raises Violation for a bad one."""
        out = self.flushes(st)
        for pc, step in ((st.prod.pc, self.prod_step), (st.cons.pc, self.cons_step)):
            nxt = step(st) if pc != "done" else None
            if nxt is not None:
                out.append(nxt)
        return out

    def stuck(self, st: State) -> str:
        p, c, mem = st.prod, st.cons, st.mem
        sides = [f"{who} {'blocked, no event pending' if pc == 'block' else pc}"
                 for who, pc in (("producer", p.pc), ("consumer", c.pc))]
        return (f"lost wakeup: {' / '.join(sides)}; sent {p.k} of {self.n}, received {c.k}; "
                f"memory prod={show(mem[PROD])} cons={show(mem[CONS])} "
                f"prod_event={show(mem[PROD_EVENT])} cons_event={show(mem[CONS_EVENT])}")

    def check(self) -> Result:
        """Breadth-first over every interleaving, so a counterexample is a
        shortest one."""
        res = Result(self.cfg)
        init = self.initial()
        ids: dict[State, int] = {init: 0}
        states, parent = [init], [-1]
        preds: list[list[int]] = [[]]
        finals: list[int] = []
        for me, st in enumerate(states):        # grows while we walk it
            try:
                succs = self.successors(st)
            except Violation as v:
                return self.fail(res, states, parent, me, str(v), bad_step=True)
            if not succs and st.prod.pc == st.cons.pc == "done":
                finals.append(me)
                continue
            if not succs:
                return self.fail(res, states, parent, me, self.stuck(st))
            res.transitions += len(succs)
            for _, nxt in succs:
                to = ids.get(nxt)
                if to is None:
                    to = ids[nxt] = len(states)
                    states.append(nxt)
                    parent.append(me)
                    preds.append([])
                preds[to].append(me)
            if len(states) > self.cfg.max_states:
                raise RuntimeError(f"{self.cfg.describe()}: over {self.cfg.max_states} states")
        res.states, res.finals = len(states), len(finals)
        # No livelock: walk back from the final states; all must be reached.
        live, todo = bytearray(len(states)), finals
        for f in finals:
            live[f] = 1
        while todo:
            found = []
            for s in todo:
                for q in preds[s]:
                    if not live[q]:
                        live[q] = 1
                        found.append(q)
            todo = found
        dead = live.find(0)
        if dead >= 0:
            why = "livelock: no run from this state ends with both sides done"
            return self.fail(res, states, parent, dead, why)
        return res

    def fail(self, res: Result, states: list[State], parent: list[int], at: int, why: str,
             bad_step: bool = False) -> Result:
        """The violation and the labelled steps from the start to state `at`."""
        path = [at]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        path.reverse()
        for a, b in pairwise(path):
            res.trace.append(next(lbl for lbl, nxt in self.successors(states[a])
                                  if nxt == states[b]))
        if bad_step:
            res.trace.append(f"!! {why}")
        res.states, res.violation = len(states), why
        return res


def check(cfg: Config) -> Result:
    return Model(cfg).check()


# Each has a PAD at the wrap; the starts make the 32-bit indexes wrap too.
STANDARD = (
    Config(ring=32, msgs=(8, 16, 8, 8)),
    Config(ring=32, msgs=(8, 16, 8, 8), start=MOD - 40),
    Config(ring=16, msgs=(8, 0, 8, 0), start=MOD - 8),
    Config(ring=64, msgs=(24, 40, 16, 8), start=MOD - 48),
    Config(ring=32, msgs=(8, 16, 8), tso=True),
    Config(ring=32, msgs=(8, 16, 8, 8), tso=True, start=MOD - 40),
    Config(ring=16, msgs=(8, 0, 8), tso=True, start=MOD - 8),
    Config(ring=64, msgs=(24, 40, 16), tso=True, start=MOD - 48),
)


def main(argv: list[str]) -> int:
    """Check the standard configurations; -v prints counterexamples in full."""
    results = [check(cfg) for cfg in STANDARD]
    for res in results:
        print(res.report() if "-v" in argv else res.report().splitlines()[0])
    return 0 if all(res.ok for res in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
