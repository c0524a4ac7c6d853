"""Decoding of xentrace(8) files (Xen 4.17) and per-domain summaries.

File format (tools/xentrace/xentrace.c, public/trace.h):

  file    := window*
  window  := cpu_change record-bytes[window_size]
  cpu_change := u32 header (0x2001f003: TRC_TRACE_CPU_CHANGE, 2 extra
                words, no TSC), u32 cpu, u32 window_size
  record  := u32 header, [u64 tsc], u32 extra[n]
             header bits 0-27 event id, 28-30 n (0..7), 31 TSC present

Each window holds a run of records from one physical CPU's trace buffer,
copied verbatim; windows of different CPUs interleave in the file.  Xen
itself inserts TRC_LOST_RECORDS (records dropped because the buffer was
full) and TRC_TRACE_WRAP_BUFFER (padding up to the end of the ring).

Two decoders read the same bytes: the `construct` layouts below are the
truth, and a `struct`-based bulk path does the same walk several times
faster.  Tests hold them to identical output, errors included.

Every file is hostile input: a bad header, a window that runs past the
end of the file or a record that runs past its window is a
`TraceFormatError` carrying the byte offset, never any other exception.
"""

from __future__ import annotations

import heapq
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from construct import Array, Const, ConstructError, If, Int16ul, Int32ul, Int64ul, Struct
from ivcom.errors import IvcomError

# --------------------------------------------------------------------------
# Event ids (public/trace.h, Xen 4.17)
# --------------------------------------------------------------------------

TRC_GEN = 0x0001F000
TRC_SCHED = 0x0002F000
TRC_DOM0OP = 0x0004F000
TRC_HVM = 0x0008F000
TRC_MEM = 0x0010F000
TRC_PV = 0x0020F000
TRC_SHADOW = 0x0040F000
TRC_HW = 0x0080F000

TRC_LOST_RECORDS = 0x0001F001
TRC_TRACE_WRAP_BUFFER = 0x0001F002
TRC_TRACE_CPU_CHANGE = 0x0001F003
TRC_TRACE_IRQ = 0x0001F004  # gone from 4.17's header; older tools still name it

TRC_SCHED_MIN = 0x00021000
TRC_SCHED_VERBOSE = 0x00028000
TRC_SCHED_RUNSTATE_CHANGE = TRC_SCHED_MIN + 1
TRC_SCHED_CONTINUE_RUNNING = TRC_SCHED_MIN + 2
TRC_SCHED_DOM_ADD = TRC_SCHED_VERBOSE + 1
TRC_SCHED_DOM_REM = TRC_SCHED_VERBOSE + 2
TRC_SCHED_SLEEP = TRC_SCHED_VERBOSE + 3
TRC_SCHED_WAKE = TRC_SCHED_VERBOSE + 4
TRC_SCHED_YIELD = TRC_SCHED_VERBOSE + 5
TRC_SCHED_BLOCK = TRC_SCHED_VERBOSE + 6
TRC_SCHED_SHUTDOWN = TRC_SCHED_VERBOSE + 7
TRC_SCHED_SWITCH = TRC_SCHED_VERBOSE + 10
TRC_SCHED_SWITCH_INFPREV = TRC_SCHED_VERBOSE + 14
TRC_SCHED_SWITCH_INFNEXT = TRC_SCHED_VERBOSE + 15
TRC_SCHED_SWITCH_INFCONT = TRC_SCHED_VERBOSE + 17

TRC_64_FLAG = 0x100
TRC_PV_ENTRY = 0x00201000
TRC_PV_SUBCALL = 0x00202000
TRC_PV_HYPERCALL = TRC_PV_ENTRY + 1
TRC_PV_HYPERCALL_V2 = TRC_PV_ENTRY + 13
TRC_PV_HYPERCALL_SUBCALL = TRC_PV_SUBCALL + 14

TRC_HVM_NESTEDFLAG = 0x400
TRC_HVM_VMENTRY = 0x00081001
TRC_HVM_VMEXIT = 0x00081002
TRC_HVM_VMEXIT64 = 0x00081102
TRC_HVM_VMMCALL = 0x00082012

TRC_MEM_PAGE_GRANT_MAP = TRC_MEM + 1
TRC_MEM_PAGE_GRANT_UNMAP = TRC_MEM + 2

TRACE_EXTRA_SHIFT = 28
TRACE_EXTRA_MAX = 7
TRC_HD_CYCLE_FLAG = 1 << 31
CPU_CHANGE_HEADER = TRC_TRACE_CPU_CHANGE | (2 << TRACE_EXTRA_SHIFT)  # 0x2001f003

# Runstates (public/vcpu.h) as carried in TRC_SCHED_RUNSTATE_CHANGE.
RUNSTATE_RUNNING, RUNSTATE_RUNNABLE, RUNSTATE_BLOCKED, RUNSTATE_OFFLINE = range(4)
DOMID_IDLE = 0x7FFF
MAX_CPUS = 4096  # larger than any NR_CPUS Xen ships with

EVENT_NAMES: dict[int, str] = {
    TRC_LOST_RECORDS: "lost_records",
    TRC_TRACE_WRAP_BUFFER: "wrap_buffer",
    TRC_TRACE_CPU_CHANGE: "cpu_change",
    TRC_TRACE_IRQ: "trace_irq",
    TRC_SCHED_RUNSTATE_CHANGE: "runstate_change",
    TRC_SCHED_CONTINUE_RUNNING: "continue_running",
    TRC_SCHED_DOM_ADD: "sched_dom_add",
    TRC_SCHED_DOM_REM: "sched_dom_rem",
    TRC_SCHED_SLEEP: "sched_sleep",
    TRC_SCHED_WAKE: "sched_wake",
    TRC_SCHED_YIELD: "sched_yield",
    TRC_SCHED_BLOCK: "sched_block",
    TRC_SCHED_SHUTDOWN: "sched_shutdown",
    TRC_SCHED_SWITCH: "sched_switch",
    TRC_SCHED_SWITCH_INFPREV: "switch_infprev",
    TRC_SCHED_SWITCH_INFNEXT: "switch_infnext",
    TRC_SCHED_SWITCH_INFCONT: "switch_infcont",
    TRC_PV_HYPERCALL: "pv_hypercall",
    TRC_PV_HYPERCALL | TRC_64_FLAG: "pv_hypercall64",
    TRC_PV_HYPERCALL_V2: "pv_hypercall_v2",
    TRC_PV_HYPERCALL_SUBCALL: "pv_hypercall_subcall",
    TRC_HVM_VMENTRY: "hvm_vmentry",
    TRC_HVM_VMEXIT: "hvm_vmexit",
    TRC_HVM_VMEXIT64: "hvm_vmexit64",
    TRC_HVM_VMMCALL: "hvm_vmmcall",
    TRC_MEM_PAGE_GRANT_MAP: "page_grant_map",
    TRC_MEM_PAGE_GRANT_UNMAP: "page_grant_unmap",
}

# public/xen.h __HYPERVISOR_*
HYPERCALL_NAMES: dict[int, str] = {
    0: "set_trap_table", 1: "mmu_update", 2: "set_gdt", 3: "stack_switch",
    4: "set_callbacks", 5: "fpu_taskswitch", 6: "sched_op_compat", 7: "platform_op",
    8: "set_debugreg", 9: "get_debugreg", 10: "update_descriptor", 12: "memory_op",
    13: "multicall", 14: "update_va_mapping", 15: "set_timer_op",
    16: "event_channel_op_compat", 17: "xen_version", 18: "console_io",
    19: "physdev_op_compat", 20: "grant_table_op", 21: "vm_assist",
    22: "update_va_mapping_otherdomain", 23: "iret", 24: "vcpu_op",
    25: "set_segment_base", 26: "mmuext_op", 27: "xsm_op", 28: "nmi_op",
    29: "sched_op", 30: "callback_op", 31: "xenoprof_op", 32: "event_channel_op",
    33: "physdev_op", 34: "hvm_op", 35: "sysctl", 36: "domctl", 37: "kexec_op",
    38: "tmem_op", 39: "argo_op", 40: "xenpmu_op", 41: "dm_op", 42: "hypfs_op",
}  # fmt: skip
HYPERCALL_GRANT_TABLE_OP = 20
HYPERCALL_EVENT_CHANNEL_OP = 32
HYPERCALL_EVENT_CHANNEL_OP_COMPAT = 16

# public/event_channel.h EVTCHNOP_*
EVTCHNOP_NAMES: dict[int, str] = {
    0: "bind_interdomain", 1: "bind_virq", 2: "bind_pirq", 3: "close", 4: "send",
    5: "status", 6: "alloc_unbound", 7: "bind_ipi", 8: "bind_vcpu", 9: "unmask",
    10: "reset", 11: "init_control", 12: "expand_array", 13: "set_priority",
    14: "reset_cont",
}  # fmt: skip
EVTCHNOP_SEND = 4

# public/grant_table.h GNTTABOP_*
GNTTABOP_NAMES: dict[int, str] = {
    0: "map_grant_ref", 1: "unmap_grant_ref", 2: "setup_table", 3: "dump_table",
    4: "transfer", 5: "copy", 6: "query_size", 7: "unmap_and_replace",
    8: "set_version", 9: "get_status_frames", 10: "get_version",
    11: "swap_grant_ref", 12: "cache_flush",
}  # fmt: skip

# AMD SVM #VMEXIT codes (AMD APM vol. 2, appendix C; xen/arch/x86/include/asm/hvm/svm/vmcb.h)
SVM_EXIT_NAMES: dict[int, str] = {
    **{i: f"cr{i}_read" for i in range(16)},
    **{0x10 + i: f"cr{i}_write" for i in range(16)},
    **{0x20 + i: f"dr{i}_read" for i in range(16)},
    **{0x30 + i: f"dr{i}_write" for i in range(16)},
    **{0x40 + i: f"exception_{i}" for i in range(32)},
    0x40 + 1: "exception_db", 0x40 + 3: "exception_bp", 0x40 + 6: "exception_ud",
    0x40 + 7: "exception_nm", 0x40 + 13: "exception_gp", 0x40 + 14: "exception_pf",
    0x40 + 18: "exception_mc", 0x40 + 17: "exception_ac",
    0x60: "intr", 0x61: "nmi", 0x62: "smi", 0x63: "init", 0x64: "vintr",
    0x65: "cr0_sel_write", 0x66: "idtr_read", 0x67: "gdtr_read", 0x68: "ldtr_read",
    0x69: "tr_read", 0x6A: "idtr_write", 0x6B: "gdtr_write", 0x6C: "ldtr_write",
    0x6D: "tr_write", 0x6E: "rdtsc", 0x6F: "rdpmc", 0x70: "pushf", 0x71: "popf",
    0x72: "cpuid", 0x73: "rsm", 0x74: "iret", 0x75: "swint", 0x76: "invd",
    0x77: "pause", 0x78: "hlt", 0x79: "invlpg", 0x7A: "invlpga", 0x7B: "ioio",
    0x7C: "msr", 0x7D: "task_switch", 0x7E: "ferr_freeze", 0x7F: "shutdown",
    0x80: "vmrun", 0x81: "vmmcall", 0x82: "vmload", 0x83: "vmsave", 0x84: "stgi",
    0x85: "clgi", 0x86: "skinit", 0x87: "rdtscp", 0x88: "icebp", 0x89: "wbinvd",
    0x8A: "monitor", 0x8B: "mwait", 0x8C: "mwait_conditional", 0x8D: "xsetbv",
    0x8E: "rdpru", 0x8F: "efer_write_trap",
    **{0x90 + i: f"cr{i}_write_trap" for i in range(16)},
    0xA0: "invlpgb", 0xA1: "invlpgb_illegal", 0xA2: "invpcid", 0xA3: "mcommit",
    0xA4: "tlbsync",
    0x400: "npf", 0x401: "avic_incomplete_ipi", 0x402: "avic_noaccel",
    0x403: "vmgexit", 0xFFFFFFFF: "invalid",
}  # fmt: skip

# Intel VMX basic exit reasons (SDM vol. 3 appendix C; asm/hvm/vmx/vmx.h)
VMX_EXIT_NAMES: dict[int, str] = {
    0: "exception_nmi", 1: "external_interrupt", 2: "triple_fault", 3: "init",
    4: "sipi", 5: "io_smi", 6: "other_smi", 7: "pending_virt_intr",
    8: "pending_virt_nmi", 9: "task_switch", 10: "cpuid", 11: "getsec", 12: "hlt",
    13: "invd", 14: "invlpg", 15: "rdpmc", 16: "rdtsc", 17: "rsm", 18: "vmcall",
    19: "vmclear", 20: "vmlaunch", 21: "vmptrld", 22: "vmptrst", 23: "vmread",
    24: "vmresume", 25: "vmwrite", 26: "vmxoff", 27: "vmxon", 28: "cr_access",
    29: "dr_access", 30: "io_instruction", 31: "msr_read", 32: "msr_write",
    33: "invalid_guest_state", 34: "msr_loading", 36: "mwait_instruction",
    37: "monitor_trap_flag", 39: "monitor_instruction", 40: "pause_instruction",
    41: "mce_during_vmentry", 43: "tpr_below_threshold", 44: "apic_access",
    45: "eoi_induced", 46: "access_gdtr_or_idtr", 47: "access_ldtr_or_tr",
    48: "ept_violation", 49: "ept_misconfig", 50: "invept", 51: "rdtscp",
    52: "vmx_preemption_timer_expired", 53: "invvpid", 54: "wbinvd", 55: "xsetbv",
    56: "apic_write", 57: "rdrand", 58: "invpcid", 59: "vmfunc", 60: "encls",
    61: "rdseed", 62: "pml_full", 63: "xsaves", 64: "xrstors", 67: "umwait",
    68: "tpause", 74: "bus_lock", 75: "notify",
}  # fmt: skip

Vendor = Literal["svm", "vmx"]

# --------------------------------------------------------------------------
# construct layouts: the truth
# --------------------------------------------------------------------------

#: The record xentrace writes at the start of every per-CPU window.
CpuChange = Struct(
    "header" / Const(CPU_CHANGE_HEADER, Int32ul),
    "cpu" / Int32ul,
    "window_size" / Int32ul,  # bytes of records that follow
)

#: struct t_rec.  The header is one Int32ul; its fields are derived by
#: hd_event/hd_extra/hd_has_tsc (no BitStruct: bit order surprises).
TRec = Struct(
    "header" / Int32ul,
    "tsc" / If(lambda ctx: bool(ctx.header & TRC_HD_CYCLE_FLAG), Int64ul),
    "extra" / Array(lambda ctx: (ctx.header >> TRACE_EXTRA_SHIFT) & TRACE_EXTRA_MAX, Int32ul),
)

#: Extra words of TRC_LOST_RECORDS (common/trace.c insert_lost_records()).
LostRecordsData = Struct(
    "lost_records" / Int32ul,
    "did" / Int16ul,
    "vid" / Int16ul,
    "first_tsc" / Int64ul,
)


def hd_event(header: int) -> int:
    return header & 0x0FFFFFFF


def hd_extra(header: int) -> int:
    return (header >> TRACE_EXTRA_SHIFT) & TRACE_EXTRA_MAX


def hd_has_tsc(header: int) -> bool:
    return bool(header & TRC_HD_CYCLE_FLAG)


def hd_size(header: int) -> int:
    """Bytes taken by a record with this header word."""
    return 4 + (8 if header & TRC_HD_CYCLE_FLAG else 0) + 4 * hd_extra(header)


def make_header(event: int, n_extra: int, has_tsc: bool) -> int:
    if not 0 <= n_extra <= TRACE_EXTRA_MAX:
        raise ValueError(f"a record carries 0..7 extra words, not {n_extra}")
    return (event & 0x0FFFFFFF) | (n_extra << TRACE_EXTRA_SHIFT) | (
        TRC_HD_CYCLE_FLAG if has_tsc else 0
    )


def build_record(event: int, extra: Sequence[int] = (), tsc: int | None = None) -> bytes:
    """Encode one t_rec with the construct layout (used by tests and tools)."""
    header = make_header(event, len(extra), tsc is not None)
    return bytes(TRec.build({"header": header, "tsc": tsc, "extra": list(extra)}))


def build_window(cpu: int, records: bytes) -> bytes:
    """Encode one xentrace window: a CPU change record then the records."""
    cc = CpuChange.build({"cpu": cpu, "window_size": len(records)})
    return bytes(cc) + records


# --------------------------------------------------------------------------
# Errors and decoded records
# --------------------------------------------------------------------------


class TraceFormatError(IvcomError):
    """A malformed or truncated trace file; `offset` is the byte offset."""

    exit_code = 3

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"bad xentrace data at byte {offset}: {message}")
        self.offset = offset
        self.reason = message


#: What both scanners produce: (offset, cpu, header word, tsc or None, extra words)
RawRecord = tuple[int, int, int, int | None, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Record:
    """One trace record, with the domain that was running when it was logged."""

    offset: int  # byte offset of the record header in the file
    cpu: int
    event: int  # 28-bit event id
    tsc: int | None  # own TSC, None when the record carries none
    time: int  # own TSC or the last one seen on this CPU (sort key)
    extra: tuple[int, ...]
    domid: int | None  # running domain on this CPU (None: not yet known)
    vcpu: int | None

    @property
    def name(self) -> str:
        return event_name(self.event)


def event_name(event: int) -> str:
    if is_runstate_change(event):
        return "runstate_change"
    base = event & ~TRC_HVM_NESTEDFLAG if event & 0x0FFFF000 in (0x00081000, 0x00082000) else event
    return EVENT_NAMES.get(base, f"0x{event:08x}")


def is_runstate_change(event: int) -> bool:
    # The old and new runstates ride in bits 8-9 and 4-5 of the event id.
    return (event & ~0x330) == TRC_SCHED_RUNSTATE_CHANGE


# --------------------------------------------------------------------------
# Scanners: construct (reference) and struct (fast)
# --------------------------------------------------------------------------

_CC_SIZE = CpuChange.sizeof()


def _check_cpu_change(data: bytes | memoryview, off: int, header: int) -> None:
    if header != CPU_CHANGE_HEADER:
        raise TraceFormatError(
            off,
            f"expected a CPU change record (header 0x{CPU_CHANGE_HEADER:08x}), "
            f"found 0x{header:08x}",
        )


def _check_window(off: int, cpu: int, size: int, remaining: int) -> None:
    if cpu >= MAX_CPUS:
        raise TraceFormatError(off, f"implausible cpu number {cpu}")
    if size % 4:
        raise TraceFormatError(off, f"window size {size} is not a multiple of 4")
    if size > remaining:
        raise TraceFormatError(
            off, f"window of cpu {cpu} claims {size} bytes but only {remaining} remain"
        )


def _overrun(pos: int, header: int, left: int) -> TraceFormatError:
    return TraceFormatError(
        pos,
        f"record 0x{header:08x} needs {hd_size(header)} bytes but its window has {left} left",
    )


def _short_header(pos: int, left: int) -> TraceFormatError:
    return TraceFormatError(pos, f"truncated record header ({left} bytes left in window)")


def scan_construct(data: bytes) -> list[RawRecord]:
    """Walk a xentrace file with the construct layouts (reference decoder)."""
    out: list[RawRecord] = []
    n = len(data)
    off = 0
    while off < n:
        if n - off < _CC_SIZE:
            if n - off >= 4:
                _check_cpu_change(data, off, int(Int32ul.parse(data[off : off + 4])))
            raise TraceFormatError(off, f"truncated CPU change record ({n - off} bytes)")
        try:
            cc = CpuChange.parse(data[off : off + _CC_SIZE])
        except ConstructError:
            _check_cpu_change(data, off, int(Int32ul.parse(data[off : off + 4])))
            raise  # unreachable: only the Const can fail on 12 bytes
        cpu, size = int(cc.cpu), int(cc.window_size)
        start = off + _CC_SIZE
        _check_window(off, cpu, size, n - start)
        stream = BytesIO(data[start : start + size])
        rel = 0
        while rel < size:
            pos = start + rel
            left = size - rel
            if left < 4:
                raise _short_header(pos, left)
            try:
                rec = TRec.parse_stream(stream)
            except ConstructError:
                stream.seek(rel)
                raise _overrun(pos, int(Int32ul.parse_stream(stream)), left) from None
            header = int(rec.header)
            tsc = None if rec.tsc is None else int(rec.tsc)
            out.append((pos, cpu, header, tsc, tuple(int(x) for x in rec.extra)))
            rel = stream.tell()
        off = start + size
    return out


_U32 = struct.Struct("<I")
_CC = struct.Struct("<III")
_WORDS = [struct.Struct(f"<{k}I") for k in range(TRACE_EXTRA_MAX + 1)]
_TSC_WORDS = [struct.Struct(f"<Q{k}I") for k in range(TRACE_EXTRA_MAX + 1)]


def scan_fast(data: bytes) -> list[RawRecord]:
    """Walk a xentrace file with struct.unpack_from; same output as scan_construct."""
    out: list[RawRecord] = []
    append = out.append
    mv = memoryview(data)
    n = len(data)
    off = 0
    u32 = _U32.unpack_from
    while off < n:
        if n - off < 12:
            if n - off >= 4:
                _check_cpu_change(mv, off, u32(mv, off)[0])
            raise TraceFormatError(off, f"truncated CPU change record ({n - off} bytes)")
        header, cpu, size = _CC.unpack_from(mv, off)
        _check_cpu_change(mv, off, header)
        start = off + 12
        _check_window(off, cpu, size, n - start)
        pos = start
        end = start + size
        while pos < end:
            left = end - pos
            if left < 4:
                raise _short_header(pos, left)
            header = u32(mv, pos)[0]
            k = (header >> 28) & 7
            if header & 0x80000000:
                rsize = 12 + 4 * k
                if rsize > left:
                    raise _overrun(pos, header, left)
                words = _TSC_WORDS[k].unpack_from(mv, pos + 4)
                append((pos, cpu, header, words[0], words[1:]))
            else:
                rsize = 4 + 4 * k
                if rsize > left:
                    raise _overrun(pos, header, left)
                append((pos, cpu, header, None, _WORDS[k].unpack_from(mv, pos + 4)))
            pos += rsize
        off = end
    return out


# --------------------------------------------------------------------------
# Building the ordered, attributed record list
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """A decoded trace file: records in TSC order across CPUs."""

    records: tuple[Record, ...]
    cpus: tuple[int, ...]
    windows: int
    size: int

    def __len__(self) -> int:
        return len(self.records)


def _context_update(event: int, extra: tuple[int, ...]) -> tuple[int, int] | None:
    """The (domid, vcpu) that a record says is now running on its CPU, if any."""
    if is_runstate_change(event):
        if extra and (event >> 4) & 3 == RUNSTATE_RUNNING:
            return extra[0] >> 16, extra[0] & 0xFFFF
        return None
    if event in (TRC_SCHED_SWITCH_INFNEXT, TRC_SCHED_SWITCH_INFCONT):
        if len(extra) >= 2:
            return extra[0] & 0xFFFF, extra[1]
    elif event == TRC_SCHED_SWITCH:
        if len(extra) >= 4:
            return extra[2] & 0xFFFF, extra[3]
    elif event == TRC_SCHED_CONTINUE_RUNNING:
        if extra:
            return extra[0] >> 16, extra[0] & 0xFFFF
    elif event == TRC_LOST_RECORDS and len(extra) >= 2:
        # The domain running when the records were dropped.
        return extra[1] & 0xFFFF, extra[1] >> 16
    return None


def build_trace(raw: Iterable[RawRecord], size: int, windows: int) -> Trace:
    """Attribute records to domains per CPU, then merge the CPUs by TSC.

    Attribution follows the scheduler, as xenalyze does: each CPU's
    running vCPU is set by runstate changes to running, switch records and
    continue-running records; a record is charged to the vCPU running on
    its CPU when it was logged.  Merging keeps each CPU's own order.
    """
    per_cpu: dict[int, list[Record]] = {}
    context: dict[int, tuple[int, int] | None] = {}
    last_tsc: dict[int, int] = {}
    for off, cpu, header, tsc, extra in raw:
        event = header & 0x0FFFFFFF
        if tsc is not None:
            last_tsc[cpu] = tsc
        ctx = context.get(cpu)
        dom, vcpu = (None, None) if ctx is None else ctx
        per_cpu.setdefault(cpu, []).append(
            Record(off, cpu, event, tsc, last_tsc.get(cpu, 0), extra, dom, vcpu)
        )
        upd = _context_update(event, extra)
        if upd is not None:
            context[cpu] = upd
    merged = heapq.merge(*per_cpu.values(), key=lambda r: (r.time, r.cpu, r.offset))
    return Trace(tuple(merged), tuple(sorted(per_cpu)), windows, size)


def count_windows(data: bytes) -> int:
    """Number of CPU windows in a well-formed file."""
    n = 0
    off = 0
    while off + 12 <= len(data):
        _, _, size = _CC.unpack_from(data, off)
        off += 12 + size
        n += 1
    return n


def decode_bytes(data: bytes, *, engine: Literal["fast", "construct"] = "fast") -> Trace:
    raw = scan_fast(data) if engine == "fast" else scan_construct(data)
    return build_trace(raw, len(data), count_windows(data))


def decode_file(path: str | Path, *, engine: Literal["fast", "construct"] = "fast") -> Trace:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IvcomError(f"cannot read trace file {path}: {exc.strerror or exc}") from None
    return decode_bytes(data, engine=engine)


# --------------------------------------------------------------------------
# Record field decoding
# --------------------------------------------------------------------------


def hypercall_v2_args(extra: Sequence[int]) -> tuple[int, dict[int, int]]:
    """Decode TRC_PV_HYPERCALL_V2 extra words -> (op, {arg index: value}).

    Word 0 holds the op in bits 0-19 and, per argument i, two bits at
    20 + 2i: 01 a 32-bit value follows, 10 a 64-bit one (low word first).
    Missing words or the reserved code 11 end the decode quietly.
    """
    if not extra:
        return -1, {}
    w = extra[0]
    op = w & 0xFFFFF
    args: dict[int, int] = {}
    i_word = 1
    for i in range(6):
        code = (w >> (20 + 2 * i)) & 3
        if code == 0:
            continue
        if code == 1 and i_word < len(extra):
            args[i] = extra[i_word]
            i_word += 1
        elif code == 2 and i_word + 1 < len(extra):
            args[i] = extra[i_word] | (extra[i_word + 1] << 32)
            i_word += 2
        else:
            break
    return op, args


def hypercall_op(event: int, extra: Sequence[int]) -> tuple[int, dict[int, int]] | None:
    """(op, args) of any PV hypercall record, None for other records."""
    if event in (TRC_PV_HYPERCALL_V2, TRC_PV_HYPERCALL_SUBCALL):
        return hypercall_v2_args(extra) if extra else None
    if event in (TRC_PV_HYPERCALL, TRC_PV_HYPERCALL | TRC_64_FLAG):
        # Old form: eip (one or two words) then eax.
        return (extra[-1], {}) if extra else None
    return None


def vmexit_reason(event: int, extra: Sequence[int]) -> int | None:
    if (event & ~TRC_HVM_NESTEDFLAG) in (TRC_HVM_VMEXIT, TRC_HVM_VMEXIT64) and extra:
        return extra[0]
    return None


def detect_vendor(reasons: Iterable[int]) -> Vendor:
    """SVM exit codes for interrupts, I/O and NPF are >= 0x60; VMX's stop below."""
    return "svm" if any(r != 0xFFFFFFFF and (r & 0xFFFF) >= 0x60 for r in reasons) else "vmx"


def exit_name(reason: int, vendor: Vendor) -> str:
    if vendor == "svm":
        return SVM_EXIT_NAMES.get(reason, f"svm_0x{reason:x}")
    basic = reason & 0xFFFF
    name = VMX_EXIT_NAMES.get(basic, f"vmx_{basic}")
    return name + ("_entry_failure" if reason & 0x80000000 else "")


def hypercall_name(op: int) -> str:
    return HYPERCALL_NAMES.get(op, f"hypercall_{op}")


# --------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------


@dataclass
class DomainSummary:
    domid: int | None
    records: int = 0
    hypercalls: Counter[str] = field(default_factory=Counter)
    evtchn_ops: Counter[str] = field(default_factory=Counter)  # by sub-op when recorded
    evtchn_sends: int = 0  # EVTCHNOP_send seen with its sub-op recorded
    grant_ops: Counter[str] = field(default_factory=Counter)
    vmexits: Counter[str] = field(default_factory=Counter)
    vmentries: int = 0
    vmmcalls: Counter[str] = field(default_factory=Counter)  # HVM hypercalls by eax
    wakes: int = 0
    blocks: int = 0
    switches_in: int = 0

    @property
    def label(self) -> str:
        return domain_label(self.domid)

    def to_json(self) -> dict[str, Any]:
        return {
            "domid": self.domid,
            "label": self.label,
            "records": self.records,
            "hypercalls": dict(self.hypercalls.most_common()),
            "hypercalls_total": sum(self.hypercalls.values()),
            "evtchn_ops": dict(self.evtchn_ops.most_common()),
            "evtchn_sends": self.evtchn_sends,
            "grant_ops": dict(self.grant_ops.most_common()),
            "vmexits": dict(self.vmexits.most_common()),
            "vmexits_total": sum(self.vmexits.values()),
            "vmentries": self.vmentries,
            "vmmcalls": dict(self.vmmcalls.most_common()),
            "wakes": self.wakes,
            "blocks": self.blocks,
            "switches_in": self.switches_in,
        }


def domain_label(domid: int | None) -> str:
    if domid is None:
        return "unknown"
    if domid == DOMID_IDLE:
        return "idle"
    return f"d{domid}"


@dataclass
class TraceSummary:
    records: int
    size: int
    cpus: tuple[int, ...]
    windows: int
    lost_records: int
    lost_events: int  # TRC_LOST_RECORDS records seen
    wraps: int
    first_tsc: int | None
    last_tsc: int | None
    vendor: Vendor
    events: Counter[str]
    domains: dict[int | None, DomainSummary]

    def to_json(self) -> dict[str, Any]:
        order = sorted(self.domains, key=lambda d: (d is None, d if d is not None else 0))
        return {
            "records": self.records,
            "bytes": self.size,
            "cpus": list(self.cpus),
            "windows": self.windows,
            "lost_records": self.lost_records,
            "lost_record_events": self.lost_events,
            "wraps": self.wraps,
            "first_tsc": self.first_tsc,
            "last_tsc": self.last_tsc,
            "vendor": self.vendor,
            "events": dict(self.events.most_common()),
            "domains": [self.domains[d].to_json() for d in order],
        }


_SUBJECT_EVENTS = (TRC_SCHED_WAKE, TRC_SCHED_BLOCK, TRC_SCHED_SLEEP)


def summarize(
    trace: Trace, *, vendor: Vendor | None = None, domid: int | None = None
) -> TraceSummary:
    """Per-domain counts; `domid` keeps only that domain's table."""
    reasons = [
        r for rec in trace.records if (r := vmexit_reason(rec.event, rec.extra)) is not None
    ]
    vend: Vendor = vendor or detect_vendor(reasons)
    doms: dict[int | None, DomainSummary] = {}

    def dom(d: int | None) -> DomainSummary:
        s = doms.get(d)
        if s is None:
            s = doms[d] = DomainSummary(d)
        return s

    events: Counter[str] = Counter()
    lost = lost_events = wraps = 0
    first = last = None
    for rec in trace.records:
        ev = rec.event
        events[rec.name] += 1
        if rec.tsc is not None:
            first = rec.tsc if first is None else min(first, rec.tsc)
            last = rec.tsc if last is None else max(last, rec.tsc)
        if ev == TRC_LOST_RECORDS:
            lost_events += 1
            if rec.extra:
                lost += rec.extra[0]
            continue
        if ev == TRC_TRACE_WRAP_BUFFER:
            wraps += 1
            continue
        # Scheduler records about a vCPU name it themselves.
        if ev in _SUBJECT_EVENTS and len(rec.extra) >= 1:
            s = dom(rec.extra[0] & 0xFFFF)
            s.records += 1
            if ev == TRC_SCHED_WAKE:
                s.wakes += 1
            elif ev == TRC_SCHED_BLOCK:
                s.blocks += 1
            continue
        if is_runstate_change(ev) and rec.extra:
            s = dom(rec.extra[0] >> 16)
            s.records += 1
            if (ev >> 4) & 3 == RUNSTATE_RUNNING:
                s.switches_in += 1
            continue
        s = dom(rec.domid)
        s.records += 1
        hc = hypercall_op(ev, rec.extra)
        if hc is not None:
            op, args = hc
            s.hypercalls[hypercall_name(op)] += 1
            if op in (HYPERCALL_EVENT_CHANNEL_OP, HYPERCALL_EVENT_CHANNEL_OP_COMPAT):
                cmd = args.get(0)
                sub = "unrecorded" if cmd is None else EVTCHNOP_NAMES.get(cmd, str(cmd))
                s.evtchn_ops[sub] += 1
                if cmd == EVTCHNOP_SEND:
                    s.evtchn_sends += 1
            elif op == HYPERCALL_GRANT_TABLE_OP:
                cmd = args.get(0)
                sub = "unrecorded" if cmd is None else GNTTABOP_NAMES.get(cmd, str(cmd))
                s.grant_ops[sub] += 1
            continue
        reason = vmexit_reason(ev, rec.extra)
        if reason is not None:
            s.vmexits[exit_name(reason, vend)] += 1
        elif (ev & ~TRC_HVM_NESTEDFLAG) == TRC_HVM_VMENTRY:
            s.vmentries += 1
        elif ev == TRC_HVM_VMMCALL and rec.extra:
            s.vmmcalls[hypercall_name(rec.extra[0])] += 1
    if domid is not None:
        doms = {d: v for d, v in doms.items() if d == domid}
    return TraceSummary(
        records=len(trace.records),
        size=trace.size,
        cpus=trace.cpus,
        windows=trace.windows,
        lost_records=lost,
        lost_events=lost_events,
        wraps=wraps,
        first_tsc=first,
        last_tsc=last,
        vendor=vend,
        events=events,
        domains=doms,
    )


def iter_records(trace: Trace, domid: int | None = None) -> Iterator[Record]:
    for rec in trace.records:
        if domid is None or rec.domid == domid:
            yield rec
