/* SPDX-License-Identifier: MIT */
/*
 * The only memory-ordering primitives libivcom uses on shared memory.
 * Every use names its partner (A1 pairs with R1, ...).  No bare volatile,
 * no __sync_*: C11-style atomics via the GCC/Clang builtins, which also
 * compile freestanding (the tiny guest).
 */
#ifndef IVCOM_BARRIER_H
#define IVCOM_BARRIER_H

#include <stdint.h>

/* One read of a peer-writable word, with acquire ordering: everything the
 * peer wrote before its matching release is visible after this load. */
#define ivcom_load_acquire(p)       __atomic_load_n((p), __ATOMIC_ACQUIRE)
/* One read with no ordering; still exactly one access (never re-fetched). */
#define ivcom_load_once(p)          __atomic_load_n((p), __ATOMIC_RELAXED)
/* Publish: everything written before is visible to whoever acquires it. */
#define ivcom_store_release(p, v)   __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ivcom_store_once(p, v)      __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Full fence: orders an earlier store before a later load (store-load),
 * which release/acquire alone do not. */
#define ivcom_smp_mb()              __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Atomic read-modify-write of a word both sides update (libxenvchan's
 * notify bytes); returns the old value.  Full barrier. */
#define ivcom_fetch_or(p, v)        __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define ivcom_fetch_and(p, v)       __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)

static inline void ivcom_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* IVCOM_BARRIER_H */
