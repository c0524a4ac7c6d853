/* SPDX-License-Identifier: MIT */
/*
 * Hypercalls, in two layers.
 *
 * Layer 1: _hypercall64_N() put the arguments in the 64-bit PV ABI
 * registers (rdi, rsi, rdx, r10, r8) and call the stub for hypercall `nr`
 * at hypercall_page + nr * 32, which Xen filled in while building us.
 * Every argument register is an in/out operand because Xen may rewrite it
 * (continuations); "memory" because hypercalls read and write our memory.
 *
 * Layer 2: typed static inline hypercall_<name>() wrappers, one per
 * hypercall the guest uses.  They return Xen's result: >= 0 or -errno.
 */
#ifndef ARCH_HYPERCALL_H
#define ARCH_HYPERCALL_H

#include <stdint.h>
#include <xen/xen.h>

extern uint8_t hypercall_page[4096];

#define _hypercall64_1(type, nr, a1)                                    \
    ({                                                                  \
        long res_, a1_ = (long)(a1);                                    \
        asm volatile ( "call hypercall_page + %c[off]"                  \
                       : "=a" (res_), "+D" (a1_)                        \
                       : [off] "i" ((nr) * 32)                          \
                       : "memory" );                                    \
        (type)res_;                                                     \
    })

#define _hypercall64_2(type, nr, a1, a2)                                \
    ({                                                                  \
        long res_, a1_ = (long)(a1), a2_ = (long)(a2);                  \
        asm volatile ( "call hypercall_page + %c[off]"                  \
                       : "=a" (res_), "+D" (a1_), "+S" (a2_)            \
                       : [off] "i" ((nr) * 32)                          \
                       : "memory" );                                    \
        (type)res_;                                                     \
    })

#define _hypercall64_3(type, nr, a1, a2, a3)                            \
    ({                                                                  \
        long res_, a1_ = (long)(a1), a2_ = (long)(a2), a3_ = (long)(a3);\
        asm volatile ( "call hypercall_page + %c[off]"                  \
                       : "=a" (res_), "+D" (a1_), "+S" (a2_), "+d" (a3_)\
                       : [off] "i" ((nr) * 32)                          \
                       : "memory" );                                    \
        (type)res_;                                                     \
    })

#define _hypercall64_4(type, nr, a1, a2, a3, a4)                        \
    ({                                                                  \
        long res_, a1_ = (long)(a1), a2_ = (long)(a2), a3_ = (long)(a3);\
        register long a4_ asm ("r10") = (long)(a4);                     \
        asm volatile ( "call hypercall_page + %c[off]"                  \
                       : "=a" (res_), "+D" (a1_), "+S" (a2_), "+d" (a3_),\
                         "+r" (a4_)                                     \
                       : [off] "i" ((nr) * 32)                          \
                       : "memory" );                                    \
        (type)res_;                                                     \
    })

/* ---- layer 2 ------------------------------------------------------- */

static inline long hypercall_set_trap_table(const struct trap_info *table)
{
    return _hypercall64_1(long, __HYPERVISOR_set_trap_table, table);
}

static inline long hypercall_mmu_update(const mmu_update_t *reqs,
                                        unsigned int count,
                                        unsigned int *done, domid_t dom)
{
    return _hypercall64_4(long, __HYPERVISOR_mmu_update, reqs, count, done,
                          dom);
}

static inline long hypercall_update_va_mapping(unsigned long va,
                                               uint64_t pte,
                                               unsigned long flags)
{
    return _hypercall64_3(long, __HYPERVISOR_update_va_mapping, va, pte,
                          flags);
}

static inline long hypercall_mmuext_op(struct mmuext_op *ops,
                                       unsigned int count,
                                       unsigned int *done, domid_t dom)
{
    return _hypercall64_4(long, __HYPERVISOR_mmuext_op, ops, count, done,
                          dom);
}

static inline long hypercall_memory_op(unsigned int cmd, void *arg)
{
    return _hypercall64_2(long, __HYPERVISOR_memory_op, cmd, arg);
}

static inline long hypercall_xen_version(unsigned int cmd, void *arg)
{
    return _hypercall64_2(long, __HYPERVISOR_xen_version, cmd, arg);
}

static inline long hypercall_console_io(unsigned int cmd, unsigned int count,
                                        const char *buf)
{
    return _hypercall64_3(long, __HYPERVISOR_console_io, cmd, count, buf);
}

static inline long hypercall_grant_table_op(unsigned int cmd, void *uop,
                                            unsigned int count)
{
    return _hypercall64_3(long, __HYPERVISOR_grant_table_op, cmd, uop,
                          count);
}

static inline long hypercall_sched_op(unsigned int cmd, void *arg)
{
    return _hypercall64_2(long, __HYPERVISOR_sched_op, cmd, arg);
}

static inline long hypercall_event_channel_op(unsigned int cmd, void *arg)
{
    return _hypercall64_2(long, __HYPERVISOR_event_channel_op, cmd, arg);
}

/* HVM guests only (the PVH build): HVM parameters. */
static inline long hypercall_hvm_op(unsigned int cmd, void *arg)
{
    return _hypercall64_2(long, __HYPERVISOR_hvm_op, cmd, arg);
}

#endif /* ARCH_HYPERCALL_H */
