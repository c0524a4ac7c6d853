/* SPDX-License-Identifier: MIT */
/* Bitmap page allocator bookkeeping (no hypercalls: host-tested). */
#include <errno.h>
#include <string.h>
#include <kernel/page_alloc.h>

static int get(const uint64_t *map, unsigned long i)
{
    return (map[i / 64] >> (i % 64)) & 1;
}

static void set(uint64_t *map, unsigned long i, int v)
{
    if ( v )
        map[i / 64] |= 1ull << (i % 64);
    else
        map[i / 64] &= ~(1ull << (i % 64));
}

#define bit_get(pa, i)    get((pa)->bits, i)
#define bit_set(pa, i, v) set((pa)->bits, i, v)

void pa_init(struct page_alloc *pa, unsigned long base, unsigned long npages)
{
    if ( npages > PA_MAX_PAGES )
        npages = PA_MAX_PAGES;
    memset(pa->bits, 0, sizeof(pa->bits));
    memset(pa->heads, 0, sizeof(pa->heads));
    pa->base = base;
    pa->npages = npages;
    pa->nfree = npages;
}

unsigned long pa_alloc_run(struct page_alloc *pa, unsigned long n,
                           unsigned long align)
{
    unsigned long start, i;

    if ( n == 0 || n > pa->nfree || align == 0 || (align & (align - 1)) )
        return -1ul;

    start = (pa->base + align - 1) & ~(align - 1);
    for ( ; start + n <= pa->base + pa->npages; start += align )
    {
        unsigned long off = start - pa->base;

        for ( i = 0; i < n; i++ )
            if ( bit_get(pa, off + i) )
                break;
        if ( i == n )
        {
            for ( i = 0; i < n; i++ )
                bit_set(pa, off + i, 1);
            set(pa->heads, off, 1);
            pa->nfree -= n;
            return start;
        }
    }
    return -1ul;
}

unsigned long pa_alloc(struct page_alloc *pa, unsigned int order)
{
    if ( order >= 8 * sizeof(unsigned long) - 1 )
        return -1ul;
    /* Natural alignment in pfn space, so the runs stay buddy-shaped. */
    return pa_alloc_run(pa, 1ul << order, 1ul << order);
}

int pa_free_run(struct page_alloc *pa, unsigned long pfn, unsigned long n)
{
    unsigned long off, i;

    if ( n == 0 || pfn < pa->base || pfn - pa->base > pa->npages ||
         n > pa->npages - (pfn - pa->base) )
        return -EINVAL;
    off = pfn - pa->base;
    /* Exactly one allocation: starts here, every page in use, no other
     * allocation starts inside, and it does not go on past the end. */
    if ( !get(pa->heads, off) )
        return -EINVAL;
    for ( i = 0; i < n; i++ )
        if ( !bit_get(pa, off + i) || (i && get(pa->heads, off + i)) )
            return -EINVAL;
    if ( off + n < pa->npages && bit_get(pa, off + n) &&
         !get(pa->heads, off + n) )
        return -EINVAL;
    for ( i = 0; i < n; i++ )
        bit_set(pa, off + i, 0);
    set(pa->heads, off, 0);
    pa->nfree += n;
    return 0;
}

int pa_free(struct page_alloc *pa, unsigned long pfn, unsigned int order)
{
    unsigned long n;

    if ( order >= 8 * sizeof(unsigned long) - 1 )
        return -EINVAL;
    n = 1ul << order;
    if ( pfn & (n - 1) )
        return -EINVAL;
    return pa_free_run(pa, pfn, n);
}
