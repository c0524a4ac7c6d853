/* SPDX-License-Identifier: MIT */
/* x86-64 helpers: barriers, atomics on shared words, TSC, PTE bits. */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <stdint.h>

#define PAGE_SHIFT      12
#define PAGE_SIZE       (1ul << PAGE_SHIFT)
#define PAGE_MASK       (~(PAGE_SIZE - 1))

/* PTE bits a 64-bit PV kernel hands to update_va_mapping.  _PAGE_USER
 * because a 64-bit PV kernel runs in ring 3. */
#define _PAGE_PRESENT   0x001ul
#define _PAGE_RW        0x002ul
#define _PAGE_USER      0x004ul
#define _PAGE_ACCESSED  0x020ul
#define _PAGE_DIRTY     0x040ul
#define PTE_KERNEL_RW   (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | \
                         _PAGE_ACCESSED | _PAGE_DIRTY)
#define PTE_KERNEL_RO   (_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)

/*
 * x86 is TSO: loads are not reordered with loads, stores not with stores,
 * so read/write barriers only need to stop the compiler.  A full barrier
 * (store -> load ordering) needs a locked instruction.
 */
#define barrier()   asm volatile ( "" ::: "memory" )
#define rmb()       barrier()
#define wmb()       barrier()
#define mb()        asm volatile ( "lock addl $0, -4(%%rsp)" ::: "memory" )

#define READ_ONCE(x)     (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile ( "rdtsc" : "=a" (lo), "=d" (hi) );
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
    asm volatile ( "pause" ::: "memory" );
}

/* Bit operations on shared bitmaps (event channel pending/mask words). */
static inline int test_and_clear_bit(unsigned long nr, volatile unsigned long *addr)
{
    unsigned char old;

    asm volatile ( "lock btrq %2, %1; setc %0"
                   : "=qm" (old), "+m" (*addr) : "r" (nr) : "memory" );
    return old;
}

static inline int test_bit(unsigned long nr, const volatile unsigned long *addr)
{
    return (addr[nr / 64] >> (nr % 64)) & 1;
}

static inline void clear_bit(unsigned long nr, volatile unsigned long *addr)
{
    asm volatile ( "lock btrq %1, %0" : "+m" (*addr) : "r" (nr) : "memory" );
}

static inline uint16_t cmpxchg16(volatile uint16_t *p, uint16_t old,
                                 uint16_t new)
{
    uint16_t prev;

    asm volatile ( "lock cmpxchgw %2, %1"
                   : "=a" (prev), "+m" (*p) : "r" (new), "0" (old)
                   : "memory" );
    return prev;
}

#ifdef CONFIG_PVH
/* Ring 0 only: the PVH build runs at CPL0 in an HVM container. */
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b,
                         uint32_t *c, uint32_t *d)
{
    asm volatile ( "cpuid" : "=a" (*a), "=b" (*b), "=c" (*c), "=d" (*d)
                   : "0" (leaf), "2" (0) );
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
    asm volatile ( "wrmsr" :: "c" (msr), "a" ((uint32_t)val),
                   "d" ((uint32_t)(val >> 32)) : "memory" );
}

static inline unsigned long read_cr2(void)
{
    unsigned long cr2;

    asm volatile ( "mov %%cr2, %0" : "=r" (cr2) );
    return cr2;
}
#endif

static inline void halt_forever(void) __attribute__((noreturn));
static inline void halt_forever(void)
{
    /* No hlt at CPL3 (PV): fault so Xen ends the domain, then spin.
     * PVH: an invalid opcode before our IDT is up is a triple fault,
     * which ends the domain too. */
    for ( ;; )
        asm volatile ( "ud2" );
}

#endif /* ARCH_CPU_H */
