"""atheris harness for the xentrace decoder.

    python tests/fuzz/py/fuzz_xentrace.py NEW_CORPUS_DIR tests/fuzz/py/corpus/xentrace \
        -atheris_runs=100000

The first directory receives new inputs; keep the seed corpus second so
it stays as committed.  Any exception other than TraceFormatError, or the
construct and struct decoders disagreeing, is a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ivcom_trace import xentrace as xt


def outcome(data: bytes, engine: str) -> object:
    try:
        trace = xt.decode_bytes(data, engine=engine)  # type: ignore[arg-type]
    except xt.TraceFormatError as exc:
        if not 0 <= exc.offset <= len(data) or "\n" in str(exc):
            raise AssertionError(f"bad error report: {exc!r}") from None
        return ("error", exc.offset, str(exc))
    xt.summarize(trace)
    xt.summarize(trace, vendor="vmx", domid=0)
    return trace


def TestOneInput(data: bytes) -> None:
    fast = outcome(data, "fast")
    ref = outcome(data, "construct")
    if fast != ref:
        raise AssertionError(f"decoders disagree: {fast!r} != {ref!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
