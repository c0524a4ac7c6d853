/* SPDX-License-Identifier: MIT */
/*
 * Memory.  The bootstrap region Xen mapped for us (1:1 from virtual 0) is
 * all the memory we use; pages after the last bootstrap element are handed
 * out by a bitmap allocator in power-of-two runs (contiguous in virtual
 * and pseudo-physical space, not in machine frames).
 */
#ifndef KERNEL_MM_H
#define KERNEL_MM_H

#include <stdint.h>
#include <arch/cpu.h>

void mm_init(void);

/* 2^order zeroed pages, or NULL. */
void *alloc_pages(unsigned int order);
void free_pages(void *va, unsigned int order);
/* Exactly n zeroed contiguous pages (no rounding up to a power of two). */
void *alloc_pages_n(unsigned long n);
void free_pages_n(void *va, unsigned long n);
static inline void *alloc_page(void) { return alloc_pages(0); }
static inline void free_page(void *va) { free_pages(va, 0); }

unsigned long mm_free_pages(void);
unsigned long mm_total_pages(void);

#ifndef CONFIG_PVH
/* PV MMU only (the PVH build has no update_va_mapping).
 * Point the page at `va` (one of ours) at machine frame `mfn`.  The RAM
 * page that was there stays ours; mm_restore() maps it back. */
int mm_map_mfn(void *va, unsigned long mfn, int writable);
int mm_restore(void *va);
/* Drop this vCPU's stale TLB entries after Xen rewrote our PTEs behind
 * our back (grant maps do not flush the entry they replace). */
int mm_flush_tlb_local(void);
#endif

/* Smallest order with 2^order >= n. */
static inline unsigned int order_for_pages(unsigned long n)
{
    unsigned int order = 0;

    while ( (1ul << order) < n )
        order++;
    return order;
}

#endif
