"""atheris harness for the ring layout decoders (toolkit/src/ivcom/layouts/).

    python tests/fuzz/py/fuzz_layouts.py NEW_CORPUS_DIR tests/fuzz/corpus/layouts \
        -atheris_runs=100000

The first byte picks the decoder (ivcom with/without ring bytes, vchan,
sring, flex, or walk_messages); the rest is the page.  The documented
contract: decoders never raise on hostile input; they return a Decoded
whose violations describe what is wrong, and `ok` is exactly "no
violations".  Any exception is a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ivcom import layouts as L


def check(d: L.Decoded) -> None:
    assert d.ok == (not d.violations)
    for v in d.violations:
        assert isinstance(v.kind, L.ViolationKind)
        assert "\n" not in str(v)
    for dr in d.directions:
        assert 0 <= dr.fill < L.U32
        if dr.valid:
            assert dr.size is not None and dr.fill <= dr.size
    list(L.iter_violations(d))


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    sel, body = data[0] % 6, data[1:]
    if sel == 0:
        check(L.decode_ivcom(body))
    elif sel == 1:
        # control page, then the bytes of both rings
        page, ring = body[: L.PAGE_SIZE], body[L.PAGE_SIZE :]
        check(L.decode_ivcom(page, ring, ring))
    elif sel == 2:
        check(L.decode_vchan(body))
    elif sel == 3:
        check(L.decode_sring(body, (body[0] % 64 + 1) if body else None))
    elif sel == 4:
        check(L.decode_flex(body))
    else:
        if len(body) < 9:
            return
        order = 12 + body[0] % 3
        cons = int.from_bytes(body[1:5], "little")
        prod = int.from_bytes(body[5:9], "little")
        recs, viol = L.walk_messages(body[9:], 1 << order, cons, prod)
        assert len(recs) <= L.MAX_WALK
        for r in recs:
            assert r.span >= 8 and r.span % 8 == 0


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
