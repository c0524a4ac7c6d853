/* SPDX-License-Identifier: MIT */
/*
 * Bookkeeping of the page allocator: a bitmap over a range of page frame
 * numbers, 1 = in use, and a second one marking the first page of every
 * allocation, so that a free of the wrong length is refused rather than
 * releasing a neighbour's pages.  No hypercalls here: host-tested.
 */
#ifndef KERNEL_PAGE_ALLOC_H
#define KERNEL_PAGE_ALLOC_H

#include <stdint.h>

#define PA_MAX_PAGES 32768u     /* 128 MiB: far more than a 4 MiB guest */

struct page_alloc {
    unsigned long base;         /* first pfn managed */
    unsigned long npages;       /* pfns [base, base + npages) */
    unsigned long nfree;
    uint64_t bits[PA_MAX_PAGES / 64];
    uint64_t heads[PA_MAX_PAGES / 64];  /* first page of each allocation */
};

/* Manage [base, base + npages); npages is capped at PA_MAX_PAGES. */
void pa_init(struct page_alloc *pa, unsigned long base, unsigned long npages);
/* First fit, naturally aligned to 2^order: returns the pfn or -1ul. */
unsigned long pa_alloc(struct page_alloc *pa, unsigned int order);
/* 0, or -EINVAL for a range not wholly allocated / outside / misaligned. */
int pa_free(struct page_alloc *pa, unsigned long pfn, unsigned int order);
/* Exactly n contiguous pages starting at a multiple of `align` (a power
 * of two): the pfn or -1ul.  Freed with pa_free_run(pfn, n). */
unsigned long pa_alloc_run(struct page_alloc *pa, unsigned long n,
                           unsigned long align);
int pa_free_run(struct page_alloc *pa, unsigned long pfn, unsigned long n);

#endif
