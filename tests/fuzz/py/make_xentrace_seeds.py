"""Regenerate the xentrace seed corpus (small, valid files).

    python tests/fuzz/py/make_xentrace_seeds.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "py" / "xentrace"))

from ivcom_trace import xentrace as xt  # noqa: E402
from xt_tracegen import hcall_v2, rec, runstate, scenario, switch, vmexit  # noqa: E402


def seeds() -> dict[str, bytes]:
    return {
        "scenario.bin": scenario(),
        "empty-window.bin": xt.build_window(0, b""),
        "one-record.bin": xt.build_window(1, rec(xt.TRC_SCHED_WAKE, [1, 0], 5)),
        "hypercalls.bin": xt.build_window(
            0, runstate(0, 0, 1, 0, 1) + hcall_v2(32, {0: 4}, tsc=2)
            + hcall_v2(20, {0: 0, 2: 3}, tsc=3, wide=(2,)) + hcall_v2(29, tsc=4)
        ),
        "hvm.bin": xt.build_window(
            1, switch((0x7FFF, 1), (5, 0), 10) + rec(xt.TRC_HVM_VMENTRY, [], 20)
            + vmexit(0x400, 30) + rec(xt.TRC_HVM_VMMCALL, [32], 31)
        ),
        "lost-wrap.bin": xt.build_window(
            0, rec(xt.TRC_LOST_RECORDS, [3, 1, 7, 0], 9) + rec(xt.TRC_TRACE_WRAP_BUFFER, [0] * 5)
        ),
    }


if __name__ == "__main__":
    out = HERE / "corpus" / "xentrace"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (out / name).write_bytes(data)
        print(f"{out / name}: {len(data)} bytes")
