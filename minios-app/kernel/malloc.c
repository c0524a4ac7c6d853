/* SPDX-License-Identifier: MIT */
/*
 * malloc/calloc/realloc/free on top of alloc_pages(), for code that wants
 * a C heap (libivcom allocates its channel state with calloc).
 *
 * Every block starts with a 16-byte header (so user pointers are 16-byte
 * aligned) naming its size class.  Small blocks (up to 2 KiB with the
 * header) come from power-of-two classes carved out of whole pages and
 * are kept on per-class free lists; larger ones are a run of pages of
 * their own.  A header that is not ours, or a double free, panics.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arch/cpu.h>
#include <kernel/mm.h>
#include <kernel/sched.h>

#define HDR_SIZE      16u
#define MIN_SHIFT     5u              /* 32-byte blocks (16 usable) */
#define MAX_SHIFT     11u             /* 2048-byte blocks */
#define NR_CLASSES    (MAX_SHIFT - MIN_SHIFT + 1)
#define MAGIC_LIVE    0x6c697665u     /* "live" */
#define MAGIC_FREE    0x66726565u     /* "free" */
#define LARGE         0xffu

struct hdr {
    uint32_t magic;
    uint8_t  cls;                     /* class index, or LARGE */
    uint8_t  order;                   /* LARGE: page order */
    uint16_t pad0;
    uint64_t size;                    /* requested bytes (for realloc) */
};
_Static_assert(sizeof(struct hdr) == HDR_SIZE, "malloc header");

struct free_blk {
    struct hdr h;
    struct free_blk *next;
};

static struct free_blk *free_list[NR_CLASSES];

static unsigned int class_for(size_t total)
{
    unsigned int c = 0;

    while ( (1ul << (MIN_SHIFT + c)) < total )
        c++;
    return c;
}

static int refill(unsigned int c)
{
    size_t bs = 1ul << (MIN_SHIFT + c);
    char *page = alloc_page();

    if ( !page )
        return -ENOMEM;
    for ( size_t off = 0; off + bs <= PAGE_SIZE; off += bs )
    {
        struct free_blk *b = (struct free_blk *)(page + off);

        b->h.magic = MAGIC_FREE;
        b->h.cls = (uint8_t)c;
        b->next = free_list[c];
        free_list[c] = b;
    }
    return 0;
}

void *malloc(size_t n)
{
    struct hdr *h;

    if ( n > (1ul << 30) )
        return NULL;
    if ( n + HDR_SIZE <= (1ul << MAX_SHIFT) )
    {
        unsigned int c = class_for(n + HDR_SIZE);
        struct free_blk *b;

        if ( !free_list[c] && refill(c) )
            return NULL;
        b = free_list[c];
        free_list[c] = b->next;
        h = &b->h;
        h->cls = (uint8_t)c;
    }
    else
    {
        unsigned int order = order_for_pages((n + HDR_SIZE + PAGE_SIZE - 1) /
                                             PAGE_SIZE);

        h = alloc_pages(order);
        if ( !h )
            return NULL;
        h->cls = LARGE;
        h->order = (uint8_t)order;
    }
    h->magic = MAGIC_LIVE;
    h->size = n;
    return (char *)h + HDR_SIZE;
}

void *calloc(size_t nmemb, size_t size)
{
    void *p;

    if ( size && nmemb > SIZE_MAX / size )
        return NULL;
    p = malloc(nmemb * size);
    if ( p )
        memset(p, 0, nmemb * size);
    return p;
}

static struct hdr *hdr_of(void *p)
{
    struct hdr *h = (struct hdr *)((char *)p - HDR_SIZE);

    if ( ((uintptr_t)p & (HDR_SIZE - 1)) || h->magic != MAGIC_LIVE ||
         (h->cls != LARGE && h->cls >= NR_CLASSES) )
        panic("free/realloc of %p: not a live heap block", p);
    return h;
}

void free(void *p)
{
    struct hdr *h;

    if ( !p )
        return;
    h = hdr_of(p);
    if ( h->cls == LARGE )
    {
        h->magic = MAGIC_FREE;
        free_pages(h, h->order);
        return;
    }
    h->magic = MAGIC_FREE;
    ((struct free_blk *)h)->next = free_list[h->cls];
    free_list[h->cls] = (struct free_blk *)h;
}

void *realloc(void *p, size_t n)
{
    struct hdr *h;
    void *q;

    if ( !p )
        return malloc(n);
    if ( n == 0 )
    {
        free(p);
        return NULL;
    }
    h = hdr_of(p);
    q = malloc(n);
    if ( !q )
        return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    free(p);
    return q;
}
