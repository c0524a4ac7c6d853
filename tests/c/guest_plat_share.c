/* Description: the minios backend (ivcom-core/src/plat_minios.c) never
 * frees a page the peer may still map.  When granting fails part way
 * through share, the refs already granted are revoked; if one of those
 * revokes is busy the share fails and its pages are leaked, not freed;
 * if all succeed the pages are freed.  An unshare whose revoke stays busy
 * (after retrying for its grace period) fails and does not free either;
 * one whose revokes succeed frees. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <xen/xen.h>
#include "guest_host.h"
#include "platform.h"

extern const struct ivcom_platform_ops g_ivcom_plat_minios_ops;

/* ---- the kernel the backend runs on, faked --------------------------- */

#define PAGE        4096ul
#define POOL_PAGES  64u
#define MFN_BASE    0x5000ul
#define FIRST_REF   8u          /* refs 0..7 are Xen's */
#define MAX_REFS    64u

static uint8_t pool[POOL_PAGES][PAGE] __attribute__((aligned(4096)));
static unsigned pool_used;
static unsigned long mfns[POOL_PAGES];
static start_info_t fake_start_info;
start_info_t *g_start_info = &fake_start_info;

/* Pages: a bump allocator over the pool, and a record of what was freed. */
static unsigned frees;
static void *freed_va;
static unsigned long freed_n;

void *g_alloc_pages_n(unsigned long n)
{
    void *p;

    if ( pool_used + n > POOL_PAGES )
        return NULL;
    p = pool[pool_used];
    pool_used += (unsigned)n;
    memset(p, 0, n * PAGE);
    return p;
}

void g_free_pages_n(void *va, unsigned long n)
{
    frees++;
    freed_va = va;
    freed_n = n;
}

/* Grants: call number `grant_fail_at` (1-based) finds the table full;
 * ref `busy_ref` stays mapped by the peer (its revoke is -EBUSY). */
static unsigned grants, grant_fail_at;
static uint32_t busy_ref;
static uint32_t next_ref = FIRST_REF;
static int granted[FIRST_REF + MAX_REFS];
static unsigned long granted_frame[FIRST_REF + MAX_REFS];
static unsigned end_calls;

uint32_t g_gnttab_grant_access(uint16_t domid, unsigned long frame, int readonly)
{
    uint32_t ref;

    (void)domid, (void)readonly;
    if ( ++grants == grant_fail_at || next_ref == FIRST_REF + MAX_REFS )
        return 0;               /* GRANT_INVALID_REF */
    ref = next_ref++;
    granted[ref] = 1;
    granted_frame[ref] = frame;
    return ref;
}

int g_gnttab_end_access(uint32_t ref)
{
    end_calls++;
    if ( ref >= FIRST_REF + MAX_REFS || !granted[ref] )
        return -EINVAL;
    if ( ref == busy_ref )
        return -EBUSY;
    granted[ref] = 0;
    return 0;
}

int g_gnttab_map_refs(uint16_t domid, const uint32_t *refs, unsigned int n, int writable,
                      void **va)
{
    (void)domid, (void)refs, (void)n, (void)writable, (void)va;
    return -ENOSYS;
}

int g_gnttab_unmap(void *va, unsigned int n)
{
    (void)va, (void)n;
    return -ENOSYS;
}

/* Time: sleeping moves the clock. */
static uint64_t now_ns = 1000;
static unsigned sleeps;

uint64_t g_monotonic_clock(void)
{
    return now_ns;
}

void g_sleep_ns(uint64_t ns)
{
    sleeps++;
    now_ns += ns;
}

/* The heap: the host's, counted. */
static long heap_live;

void *g_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    heap_live += p != NULL;
    return p;
}

void g_free(void *p)
{
    heap_live -= p != NULL;
    free(p);
}

/* Event channels and XenStore: not used by share/unshare. */
int g_evtchn_alloc_unbound(uint16_t remote, uint32_t *port)
{
    (void)remote, (void)port;
    return -ENOSYS;
}

int g_evtchn_bind_interdomain(uint16_t remote, uint32_t remote_port, uint32_t *port)
{
    (void)remote, (void)remote_port, (void)port;
    return -ENOSYS;
}

int g_evtchn_close(uint32_t port)
{
    (void)port;
    return -ENOSYS;
}

int g_evtchn_test_and_clear(uint32_t port)
{
    (void)port;
    return 0;
}

int g_evtchn_wait_any(const uint32_t *ports, unsigned int n, uint64_t timeout_ns)
{
    (void)ports, (void)n, (void)timeout_ns;
    return -ENOSYS;
}

int g_notify_remote_via_evtchn(uint32_t port)
{
    (void)port;
    return -ENOSYS;
}

int g_xenbus_domid(void)
{
    return 1;
}

int g_xenbus_read(uint32_t t, const char *path, char *buf, size_t len)
{
    (void)t, (void)path, (void)buf, (void)len;
    return -ENOSYS;
}

int g_xenbus_write(uint32_t t, const char *path, const char *value)
{
    (void)t, (void)path, (void)value;
    return -ENOSYS;
}

int g_xenbus_rm(uint32_t t, const char *path)
{
    (void)t, (void)path;
    return -ENOSYS;
}

int g_xenbus_set_perms(uint32_t t, const char *path, const void *perms, unsigned int n)
{
    (void)t, (void)path, (void)perms, (void)n;
    return -ENOSYS;
}

int g_xenbus_get_perms(uint32_t t, const char *path, void *perms, unsigned int max)
{
    (void)t, (void)path, (void)perms, (void)max;
    return -ENOSYS;
}

int g_xenbus_directory(uint32_t t, const char *path, char *buf, size_t len)
{
    (void)t, (void)path, (void)buf, (void)len;
    return -ENOSYS;
}

int g_xenbus_transaction_start(uint32_t *t)
{
    (void)t;
    return -ENOSYS;
}

int g_xenbus_transaction_end(uint32_t t, int abort)
{
    (void)t, (void)abort;
    return -ENOSYS;
}

int g_xenbus_watch(const char *path, const char *token)
{
    (void)path, (void)token;
    return -ENOSYS;
}

int g_xenbus_unwatch(const char *path, const char *token)
{
    (void)path, (void)token;
    return -ENOSYS;
}

int g_xenbus_wait_watch(uint64_t timeout_ns, char *path, size_t path_len, char *token,
                        size_t token_len)
{
    (void)timeout_ns, (void)path, (void)path_len, (void)token, (void)token_len;
    return -ETIMEDOUT;
}

/* ---- the checks ---------------------------------------------------------- */

static const struct ivcom_platform_ops *ops = &g_ivcom_plat_minios_ops;
static struct ivcom_platform plat = { .ops = &g_ivcom_plat_minios_ops };

static void reset(unsigned fail_at, uint32_t busy)
{
    grants = 0;
    grant_fail_at = fail_at;
    busy_ref = busy;
    frees = 0;
    freed_va = NULL;
    freed_n = 0;
    end_calls = 0;
    sleeps = 0;
}

/* Granting fails at the third page: the two refs granted before are
 * revoked, the second one busy.  The pages stay allocated (leaked). */
static void share_fails_revoke_busy(void)
{
    long heap = heap_live;
    unsigned pages = pool_used;
    void *addr = NULL;
    uint32_t refs[4];
    uint32_t first = next_ref;
    int err;

    reset(3, first + 1);
    err = ops->share(&plat, 0, 4, &addr, refs);
    CHECK(err < 0);
    CHECK(grants == 3);
    CHECK(frees == 0);                  /* the peer may map them: leaked */
    CHECK(pool_used == pages + 4);
    CHECK(!granted[first]);             /* the other ref was revoked ... */
    CHECK(granted[first + 1]);          /* ... the busy one stays granted */
    CHECK(end_calls >= 2);
    CHECK(heap_live == heap);           /* the area's record is gone */
    busy_ref = 0;
    granted[first + 1] = 0;
}

/* The same failure with every revoke succeeding: the pages are freed. */
static void share_fails_revokes_ok(void)
{
    long heap = heap_live;
    unsigned pages = pool_used;
    void *addr = NULL;
    uint32_t refs[4];
    uint32_t first = next_ref;
    int err;

    reset(3, 0);
    err = ops->share(&plat, 0, 4, &addr, refs);
    CHECK(err < 0);
    CHECK(frees == 1);
    CHECK(freed_va == pool[pages] && freed_n == 4);
    CHECK(!granted[first] && !granted[first + 1]);
    CHECK(heap_live == heap);

    /* Nothing granted at all: freed too. */
    pages = pool_used;
    reset(1, 0);
    err = ops->share(&plat, 0, 2, &addr, refs);
    CHECK(err < 0);
    CHECK(frees == 1 && freed_va == pool[pages] && freed_n == 2);
    CHECK(heap_live == heap);
}

/* A share that works, then an unshare whose revoke stays busy through the
 * grace period: an error, and the pages are not freed. */
static void unshare_revoke_busy(void)
{
    long heap = heap_live;
    unsigned pages = pool_used;
    void *addr = NULL;
    uint32_t refs[2];
    int err;

    reset(0, 0);
    err = ops->share(&plat, 0, 2, &addr, refs);
    CHECK(err == 0);
    CHECK(addr == pool[pages]);
    CHECK(refs[0] != refs[1] && granted[refs[0]] && granted[refs[1]]);
    CHECK(granted_frame[refs[0]] == mfns[pages] && granted_frame[refs[1]] == mfns[pages + 1]);
    CHECK(frees == 0);

    reset(0, refs[1]);
    err = ops->unshare(&plat, addr, 2);
    CHECK(err == -EBUSY);
    CHECK(sleeps > 0);                  /* it retried before giving up */
    CHECK(frees == 0);
    CHECK(!granted[refs[0]] && granted[refs[1]]);
    CHECK(heap_live == heap);
    /* The area is forgotten: a second unshare does not find it. */
    CHECK(ops->unshare(&plat, addr, 2) == -EINVAL);
    busy_ref = 0;
    granted[refs[1]] = 0;
}

/* A share and an unshare whose revokes succeed: the pages are freed. */
static void unshare_revokes_ok(void)
{
    long heap = heap_live;
    void *addr = NULL;
    uint32_t refs[3];
    int err;

    reset(0, 0);
    err = ops->share(&plat, 0, 3, &addr, refs);
    CHECK(err == 0);
    reset(0, 0);
    err = ops->unshare(&plat, addr, 3);
    CHECK(err == 0);
    CHECK(frees == 1 && freed_va == addr && freed_n == 3);
    CHECK(!granted[refs[0]] && !granted[refs[1]] && !granted[refs[2]]);
    CHECK(heap_live == heap);
}

int main(void)
{
    /* virt_to_mfn() reads start_info->mfn_list[va >> PAGE_SHIFT]: point
     * the list so that the pool's pages find their entries in mfns[]. */
    unsigned long first_pfn = (unsigned long)(uintptr_t)pool[0] / PAGE;

    for ( unsigned i = 0; i < POOL_PAGES; i++ )
        mfns[i] = MFN_BASE + i;
    fake_start_info.mfn_list = (unsigned long)(uintptr_t)mfns -
                               first_pfn * sizeof(unsigned long);

    CHECK(ops->open(&plat) == 0);
    CHECK(plat.domid == 1);
    share_fails_revoke_busy();
    share_fails_revokes_ok();
    unshare_revoke_busy();
    unshare_revokes_ok();
    ops->close(&plat);
    CHECK(heap_live == 0);
    return test_result();
}
