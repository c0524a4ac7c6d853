/* Description: the guest heap returns 16-byte aligned, non-overlapping
 * blocks of every size class and large sizes, reuses freed blocks, keeps
 * contents across realloc, zeroes calloc, refuses overflowing calloc and
 * panics on a double free or a foreign pointer. */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include "guest_host.h"

void *g_malloc(size_t n);
void *g_calloc(size_t nmemb, size_t size);
void *g_realloc(void *p, size_t n);
void  g_free(void *p);

/* The kernel services the heap sits on, backed by the host. */
static long pages_live;
static jmp_buf panic_jmp;
static int panics;

void *g_alloc_pages(unsigned int order)
{
    void *p = aligned_alloc(4096, 4096ul << order);

    if ( p )
    {
        memset(p, 0, 4096ul << order);
        pages_live += 1l << order;
    }
    return p;
}

void g_free_pages(void *va, unsigned int order)
{
    pages_live -= 1l << order;
    free(va);
}

void g_panic(const char *fmt, ...)
{
    (void)fmt;
    panics++;
    longjmp(panic_jmp, 1);
}

int main(void)
{
    static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 500, 1000, 2032,
                                    2033, 4000, 4096, 10000, 70000 };
    enum { N = sizeof(sizes) / sizeof(sizes[0]) };
    unsigned char *p[N];
    void *q;

    for ( unsigned int i = 0; i < N; i++ )
    {
        p[i] = g_malloc(sizes[i]);
        CHECK(p[i] != NULL);
        CHECK(((uintptr_t)p[i] & 15) == 0);
        memset(p[i], (int)i + 1, sizes[i]);
    }
    /* No block overwrote another. */
    for ( unsigned int i = 0; i < N; i++ )
        for ( size_t k = 0; k < sizes[i]; k++ )
            if ( p[i][k] != (unsigned char)(i + 1) )
            {
                CHECK(!"block contents clobbered");
                break;
            }

    /* A freed small block is reused for the same class. */
    q = p[5];
    g_free(p[5]);
    p[5] = g_malloc(sizes[5]);
    CHECK(p[5] == q);

    /* realloc keeps the prefix, both growing and shrinking. */
    memset(p[6], 0x77, sizes[6]);
    q = g_realloc(p[6], 9000);
    CHECK(q != NULL && ((unsigned char *)q)[499] == 0x77);
    q = g_realloc(q, 10);
    CHECK(q != NULL && ((unsigned char *)q)[9] == 0x77);
    p[6] = q;
    CHECK(g_realloc(NULL, 8) != NULL);

    /* calloc zeroes (even a recycled block) and refuses overflow. */
    g_free(p[7]);
    q = g_calloc(10, 100);
    CHECK(q != NULL);
    for ( int k = 0; k < 1000; k++ )
        if ( ((unsigned char *)q)[k] != 0 )
        {
            CHECK(!"calloc not zeroed");
            break;
        }
    p[7] = q;
    CHECK(g_calloc(SIZE_MAX / 2, 4) == NULL);
    CHECK(g_malloc((size_t)1 << 40) == NULL);

    /* Large blocks give their pages back. */
    {
        long before = pages_live;

        q = g_malloc(70000);
        CHECK(pages_live > before);
        g_free(q);
        CHECK(pages_live == before);
    }

    /* Double free and foreign pointers panic instead of corrupting. */
    q = g_malloc(64);
    g_free(q);
    if ( setjmp(panic_jmp) == 0 )
        g_free(q);
    CHECK(panics == 1);
    {
        static _Alignas(16) unsigned char junk[64];

        if ( setjmp(panic_jmp) == 0 )
            g_free(junk + 16);
        CHECK(panics == 2);
    }
    g_free(NULL);   /* allowed */

    for ( unsigned int i = 0; i < N; i++ )
        g_free(p[i]);
    return test_result();
}
