/* SPDX-License-Identifier: MIT */
/* Fatal exceptions: register the trap table, report what happened. */
#include <stdint.h>
#include <arch/cpu.h>
#include <arch/hypercall.h>
#include <kernel/console.h>
#include <kernel/hypervisor.h>
#include <kernel/report.h>
#include <kernel/sched.h>
#include <kernel/traps.h>

#define EXC(n) extern char exc_##n[]
EXC(0); EXC(3); EXC(4); EXC(5); EXC(6); EXC(7); EXC(10); EXC(11); EXC(12);
EXC(13); EXC(14); EXC(16); EXC(17); EXC(19);
#undef EXC

/* Our kernel runs in ring 3 (64-bit PV): FLAT_KERNEL_CS is that ring's
 * flat code segment.  int3 may be raised from any ring (DPL 3). */
#define T(v, dpl) { v, dpl, FLAT_KERNEL_CS, (unsigned long)exc_##v }
static const struct trap_info trap_table[] = {
    T(0, 0), T(3, 3), T(4, 3), T(5, 0), T(6, 0), T(7, 0), T(10, 0), T(11, 0),
    T(12, 0), T(13, 0), T(14, 0), T(16, 0), T(17, 0), T(19, 0),
    { 0, 0, 0, 0 },
};
#undef T

const char *trap_name(unsigned int vec)
{
    switch ( vec )
    {
    case 0:  return "divide error";
    case 3:  return "breakpoint";
    case 4:  return "overflow";
    case 5:  return "bound range";
    case 6:  return "invalid opcode";
    case 7:  return "device not available";
    case 10: return "invalid TSS";
    case 11: return "segment not present";
    case 12: return "stack fault";
    case 13: return "general protection";
    case 14: return "page fault";
    case 16: return "x87 error";
    case 17: return "alignment check";
    case 19: return "SIMD error";
    default: return "exception";
    }
}

int traps_init(void)
{
    return (int)hypercall_set_trap_table(trap_table);
}

void do_fatal_trap(unsigned int vec, const unsigned long *frame, int has_err)
{
    static int nested;
    unsigned long err = has_err ? frame[2] : 0;
    unsigned long rip = frame[2 + (has_err ? 1 : 0)];

    /* A fault while reporting a fault: just end the domain. */
    if ( nested++ )
    {
        struct sched_shutdown sd = { .reason = SHUTDOWN_crash };

        hypercall_sched_op(SCHEDOP_shutdown, &sd);
        halt_forever();
    }
    if ( vec == 14 )
        panic("trap %u (%s) at rip %#lx, error %#lx, address %#lx", vec,
              trap_name(vec), rip, err,
              (unsigned long)shared_info->vcpu_info[0].arch.cr2);
    panic("trap %u (%s) at rip %#lx, error %#lx", vec, trap_name(vec), rip,
          err);
}
