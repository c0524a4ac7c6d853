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

#ifdef CONFIG_PVH
#include <arch/segment.h>

/* The PVH build runs at CPL0 on the real CPU's IDT: 64-bit interrupt
 * gates (interrupts stay off in the handler) on our code segment.
 * Vectors without a gate raise #GP, which is reported as such. */
struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
};

#define NR_GATES 20
static struct idt_gate idt[NR_GATES] __attribute__((aligned(16)));

static void set_gate(unsigned int vec, const void *fn, unsigned int dpl)
{
    unsigned long a = (unsigned long)fn;

    idt[vec].off_lo = (uint16_t)a;
    idt[vec].sel = PVH_CS;
    idt[vec].ist = 0;
    idt[vec].type = (uint8_t)(0x8e | (dpl << 5));  /* present, int gate */
    idt[vec].off_mid = (uint16_t)(a >> 16);
    idt[vec].off_hi = (uint32_t)(a >> 32);
    idt[vec].zero = 0;
}
#else
/* Our kernel runs in ring 3 (64-bit PV): FLAT_KERNEL_CS is that ring's
 * flat code segment.  int3 may be raised from any ring (DPL 3). */
#define T(v, dpl) { v, dpl, FLAT_KERNEL_CS, (unsigned long)exc_##v }
static const struct trap_info trap_table[] = {
    T(0, 0), T(3, 3), T(4, 3), T(5, 0), T(6, 0), T(7, 0), T(10, 0), T(11, 0),
    T(12, 0), T(13, 0), T(14, 0), T(16, 0), T(17, 0), T(19, 0),
    { 0, 0, 0, 0 },
};
#undef T
#endif

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

#ifdef CONFIG_PVH
int traps_init(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (unsigned long)idt };

#define G(v, dpl) set_gate(v, exc_##v, dpl)
    G(0, 0); G(3, 3); G(4, 3); G(5, 0); G(6, 0); G(7, 0); G(10, 0); G(11, 0);
    G(12, 0); G(13, 0); G(14, 0); G(16, 0); G(17, 0); G(19, 0);
#undef G
    asm volatile ( "lidt %0" :: "m" (desc) );
    return 0;
}

static unsigned long fault_address(void)
{
    return read_cr2();
}
#else
int traps_init(void)
{
    return (int)hypercall_set_trap_table(trap_table);
}

static unsigned long fault_address(void)
{
    /* Xen saves %cr2 for us: a PV kernel cannot read it. */
    return (unsigned long)shared_info->vcpu_info[0].arch.cr2;
}
#endif

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
              trap_name(vec), rip, err, fault_address());
    panic("trap %u (%s) at rip %#lx, error %#lx", vec, trap_name(vec), rip,
          err);
}
