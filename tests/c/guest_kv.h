/* SPDX-License-Identifier: MIT */
/*
 * Host harness for the kv engine (minios-app/apps/kv, bundled with its
 * symbols renamed g_*): the engine's names mapped onto the bundle's, and
 * the heap it calls (g_malloc/g_realloc/g_free) on the host's, counting
 * live blocks and failing on demand.
 */
#ifndef GUEST_KV_H
#define GUEST_KV_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_host.h"

#define kv_store_init    g_kv_store_init
#define kv_store_fini    g_kv_store_fini
#define kv_store_get     g_kv_store_get
#define kv_store_put     g_kv_store_put
#define kv_store_del     g_kv_store_del
#define kv_store_list    g_kv_store_list
#define kv_store_charge  g_kv_store_charge
#define kv_store_check   g_kv_store_check
#define kv_serve         g_kv_serve
#define kv_value_limit   g_kv_value_limit
#include "kv_proto.h"
#include "kv_store.h"
#include "kv_serve.h"

static long heap_live;          /* blocks allocated and not freed */
static long heap_fails;         /* fail this many allocations from now */

static int heap_should_fail(void)
{
    if ( heap_fails <= 0 )
        return 0;
    heap_fails--;
    return 1;
}

void *g_malloc(size_t n);
void *g_realloc(void *p, size_t n);
void  g_free(void *p);

void *g_malloc(size_t n)
{
    void *p;

    if ( heap_should_fail() )
        return NULL;
    p = malloc(n ? n : 1);
    if ( p )
        heap_live++;
    return p;
}

void *g_realloc(void *p, size_t n)
{
    void *q;

    if ( heap_should_fail() )
        return NULL;
    q = realloc(p, n ? n : 1);
    if ( q && !p )
        heap_live++;
    return q;
}

void g_free(void *p)
{
    if ( p )
        heap_live--;
    free(p);
}

#define K(s) (const uint8_t *)(s), strlen(s)

#endif
