"""Construct twins of every shared ring we speak, and pure decoders.

One layout per C struct, declared once at module level, one module per
protocol:

- `wire`: the IVCOM wire ABI v1 (ivcom-core/include/ivcom/wire.h):
  `PROD_LINE`, `CONS_LINE`, `IVCOM_CTRL`, `MSG_HDR`;
- `vchan`: libxenvchan's shared page (xen/io/libxenvchan.h): `RING_SHARED`,
  `VCHAN_INTERFACE`;
- `sring`: Xen's io/ring.h generic shared ring header `SRING_HDR`;
- `flex`: Xen's io/ring.h flex ring indexes page `FLEX_DATA_INTF`;
- `common`: what they share (page constants, `Direction`, `Decoded`,
  `Violation`).

Everything is re-exported here: `from ivcom.layouts import decode_ivcom`.

`ivcom-layout` (ivcom-core/tools/ivcom-layout.c) prints the C offsets and a
test checks every field here against it.

The decoders (`decode_ivcom`, `decode_vchan`, `decode_sring`, `decode_flex`)
are pure functions of bytes: they never raise on hostile input, and return
frozen dataclasses plus a tuple of `Violation`s describing everything that
breaks the protocol.
"""

from __future__ import annotations

from collections.abc import Callable

from construct import Construct

from ivcom.layouts.common import (
    CACHELINE,
    PAGE_SHIFT,
    PAGE_SIZE,
    U32,
    Decoded,
    Direction,
    Violation,
    ViolationKind,
    iter_violations,
    layout_fields,
)
from ivcom.layouts.flex import (
    FLEX_DATA_INTF,
    FLEX_MAX_ORDER,
    FLEX_REFS_OFFSET,
    FlexIntf,
    build_flex,
    decode_flex,
    flex_ring_size,
)
from ivcom.layouts.sring import (
    SRING_ENTRIES_OFFSET,
    SRING_HDR,
    SringHdr,
    build_sring,
    decode_sring,
    sring_entries,
)
from ivcom.layouts.vchan import (
    RING_SHARED,
    VCHAN_GRANTS_OFFSET,
    VCHAN_INPAGE_OFFSET,
    VCHAN_INTERFACE,
    VCHAN_LARGE_ORDER,
    VCHAN_LIVE_CONNECTED,
    VCHAN_LIVE_EXITED,
    VCHAN_LIVE_WAITING,
    VCHAN_NOTIFY_READ,
    VCHAN_NOTIFY_WRITE,
    VCHAN_ORDER_MAX,
    VCHAN_ORDER_MIN,
    VCHAN_SMALL_ORDER,
    VchanIface,
    build_vchan,
    decode_vchan,
    vchan_pages,
)
from ivcom.layouts.wire import (
    CONS_LINE,
    IVCOM_CTRL,
    IVCOM_CTRL_GREFS_OFFSET,
    IVCOM_CTRL_MAX_GREFS,
    IVCOM_LIVE_CLOSED,
    IVCOM_LIVE_DEAD,
    IVCOM_LIVE_UP,
    IVCOM_MODE_MESSAGE,
    IVCOM_MODE_STREAM,
    IVCOM_MSG_ALIGN,
    IVCOM_MSG_DATA,
    IVCOM_MSG_PAD,
    IVCOM_RING_ORDER_MAX,
    IVCOM_RING_ORDER_MIN,
    IVCOM_WIRE_MAGIC,
    IVCOM_WIRE_VERSION,
    LIVE_NAMES,
    MAX_WALK,
    MODE_NAMES,
    MSG_HDR,
    PROD_LINE,
    IvcomCtrl,
    Record,
    build_ivcom,
    build_messages,
    decode_ivcom,
    ivcom_nr_grefs,
    walk_messages,
)

# Every layout by its C name (as printed by ivcom-layout), with the offset
# of its trailing flexible array where it has one.
LAYOUTS: dict[str, Construct] = {
    "ivcom_prod_line": PROD_LINE,
    "ivcom_cons_line": CONS_LINE,
    "ivcom_ctrl": IVCOM_CTRL,
    "ivcom_msg_hdr": MSG_HDR,
    "ring_shared": RING_SHARED,
    "vchan_interface": VCHAN_INTERFACE,
    "sring_hdr": SRING_HDR,
    "flex_data_intf": FLEX_DATA_INTF,
}
TAILS: dict[str, tuple[str, int]] = {
    "ivcom_ctrl": ("grefs", IVCOM_CTRL_GREFS_OFFSET),
    "vchan_interface": ("grants", VCHAN_GRANTS_OFFSET),
    "sring_hdr": ("ring", SRING_ENTRIES_OFFSET),
    "flex_data_intf": ("ref", FLEX_REFS_OFFSET),
}

# The channel kinds XenStore lists, by the decoder of their control page.
DECODERS: dict[str, Callable[[bytes], Decoded]] = {"ivcom": decode_ivcom, "vchan": decode_vchan}

__all__ = [
    "CACHELINE",
    "CONS_LINE",
    "DECODERS",
    "FLEX_DATA_INTF",
    "FLEX_MAX_ORDER",
    "FLEX_REFS_OFFSET",
    "IVCOM_CTRL",
    "IVCOM_CTRL_GREFS_OFFSET",
    "IVCOM_CTRL_MAX_GREFS",
    "IVCOM_LIVE_CLOSED",
    "IVCOM_LIVE_DEAD",
    "IVCOM_LIVE_UP",
    "IVCOM_MODE_MESSAGE",
    "IVCOM_MODE_STREAM",
    "IVCOM_MSG_ALIGN",
    "IVCOM_MSG_DATA",
    "IVCOM_MSG_PAD",
    "IVCOM_RING_ORDER_MAX",
    "IVCOM_RING_ORDER_MIN",
    "IVCOM_WIRE_MAGIC",
    "IVCOM_WIRE_VERSION",
    "LAYOUTS",
    "LIVE_NAMES",
    "MAX_WALK",
    "MODE_NAMES",
    "MSG_HDR",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PROD_LINE",
    "RING_SHARED",
    "SRING_ENTRIES_OFFSET",
    "SRING_HDR",
    "TAILS",
    "U32",
    "VCHAN_GRANTS_OFFSET",
    "VCHAN_INPAGE_OFFSET",
    "VCHAN_INTERFACE",
    "VCHAN_LARGE_ORDER",
    "VCHAN_LIVE_CONNECTED",
    "VCHAN_LIVE_EXITED",
    "VCHAN_LIVE_WAITING",
    "VCHAN_NOTIFY_READ",
    "VCHAN_NOTIFY_WRITE",
    "VCHAN_ORDER_MAX",
    "VCHAN_ORDER_MIN",
    "VCHAN_SMALL_ORDER",
    "Decoded",
    "Direction",
    "FlexIntf",
    "IvcomCtrl",
    "Record",
    "SringHdr",
    "VchanIface",
    "Violation",
    "ViolationKind",
    "build_flex",
    "build_ivcom",
    "build_messages",
    "build_sring",
    "build_vchan",
    "decode_flex",
    "decode_ivcom",
    "decode_sring",
    "decode_vchan",
    "flex_ring_size",
    "iter_violations",
    "ivcom_nr_grefs",
    "layout_fields",
    "sring_entries",
    "vchan_pages",
    "walk_messages",
]
