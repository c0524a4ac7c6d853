/* SPDX-License-Identifier: MIT */
/* Grant tables, v1 entries, for a PV guest or (CONFIG_PVH) an
 * auto-translated one: there, table frames and mapped grants live at
 * guest frames of the physmap window (kernel/pvh.c), addressed by their
 * guest-physical address, with no PTE of ours to change. */
#include <errno.h>
#include <string.h>
#include <arch/cpu.h>
#include <arch/hypercall.h>
#include <kernel/console.h>
#include <kernel/gnttab.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/pvh.h>
#ifdef CONFIG_PVH
#include <xen/memory.h>
#endif

#define ENTRIES_PER_FRAME   (PAGE_SIZE / sizeof(grant_entry_v1_t))
#define MAX_ENTRIES         (GNTTAB_NR_FRAMES * ENTRIES_PER_FRAME)
#define NR_RESERVED         8u      /* GNTTAB_NR_RESERVED_ENTRIES */
#define MAX_MAPPINGS        32u
#define MAX_MAP_PAGES       (PAGE_SIZE / sizeof(grant_handle_t))
#define BATCH               16u

static grant_entry_v1_t *table;
static unsigned int nr_entries;

/* Free refs: a stack.  `granted` marks refs handed out, so that ending a
 * ref we never granted is an error rather than a corrupt free list. */
static grant_ref_t free_stack[MAX_ENTRIES];
static unsigned int nr_free;
static uint64_t granted[MAX_ENTRIES / 64];

struct mapping {
    void *va;                   /* NULL = slot unused */
    unsigned int n;
    grant_handle_t *handles;    /* one page */
};
static struct mapping mappings[MAX_MAPPINGS];

int gnttab_status_to_errno(int16_t status)
{
    switch ( status )
    {
    case GNTST_okay:                return 0;
    case GNTST_bad_domain:          return -ESRCH;
    case GNTST_bad_gntref:          return -EINVAL;
    case GNTST_bad_handle:          return -EINVAL;
    case GNTST_bad_virt_addr:       return -EFAULT;
    case GNTST_bad_dev_addr:        return -EFAULT;
    case GNTST_no_device_space:     return -ENOSPC;
    case GNTST_permission_denied:   return -EPERM;
    case GNTST_bad_page:            return -EFAULT;
    case GNTST_bad_copy_arg:        return -EINVAL;
    case GNTST_address_too_big:     return -ERANGE;
    case GNTST_eagain:              return -EAGAIN;
    case GNTST_no_space:            return -ENOSPC;
    default:                        return -EIO;
    }
}

#ifdef CONFIG_PVH
/* Table frames: Xen grows the table up to frame idx as we map it, so ask
 * for GNTTAB_NR_FRAMES and keep what the toolstack's cap allows. */
static int table_frames(unsigned int *nr_out, void **va_out)
{
    char *va = pvh_window_alloc(GNTTAB_NR_FRAMES);
    unsigned int nr;
    int rc = 0;

    if ( !va )
        return -ENOMEM;
    for ( nr = 0; nr < GNTTAB_NR_FRAMES; nr++ )
    {
        rc = pvh_add_to_physmap(XENMAPSPACE_grant_table, nr,
                                va + nr * PAGE_SIZE);
        if ( rc )
            break;
    }
    /* Window pages past the last frame stay allocated: never reused. */
    if ( nr == 0 )
        return rc ? rc : -EIO;
    *nr_out = nr;
    *va_out = va;
    return 0;
}

/* Where grants are mapped: window frames, no RAM behind them. */
static void *map_area_alloc(unsigned long n)
{
    return pvh_window_alloc(n);
}

static void map_area_free(void *va, unsigned long n)
{
    pvh_window_free(va, n);
}

/* Unmapping left the frame empty, which is all a window frame needs. */
static int map_area_restore(void *va)
{
    (void)va;
    return 0;
}

/* Xen changed only its own p2m (and flushed): our page tables still map
 * the window as they always did. */
static void map_area_flush(void)
{
}
#else
static int table_frames(unsigned int *nr_out, void **va_out)
{
    xen_pfn_t frames[GNTTAB_NR_FRAMES];
    unsigned int nr;
    void *va;
    long rc = -EIO;

    /* Ask for our preferred size, then less if the toolstack capped us. */
    for ( nr = GNTTAB_NR_FRAMES; nr > 0; nr /= 2 )
    {
        struct gnttab_setup_table setup = { .dom = DOMID_SELF, .nr_frames = nr };

        set_xen_guest_handle(setup.frame_list, frames);
        rc = hypercall_grant_table_op(GNTTABOP_setup_table, &setup, 1);
        if ( rc == 0 && setup.status == GNTST_okay )
            break;
        if ( rc == 0 )
            rc = gnttab_status_to_errno(setup.status);
    }
    if ( nr == 0 )
        return (int)rc;

    /* The frames are Xen's; map them over pages of ours. */
    va = alloc_pages(order_for_pages(nr));
    if ( !va )
        return -ENOMEM;
    for ( unsigned int i = 0; i < nr; i++ )
    {
        rc = mm_map_mfn((char *)va + i * PAGE_SIZE, frames[i], 1);
        if ( rc )
            return (int)rc;
    }
    *nr_out = nr;
    *va_out = va;
    return 0;
}

/* Where grants are mapped: pages of ours, whose PTEs Xen rewrites. */
static void *map_area_alloc(unsigned long n)
{
    return alloc_pages_n(n);
}

static void map_area_free(void *va, unsigned long n)
{
    free_pages_n(va, n);
}

/* Unmapping left the PTE empty: put our RAM page back. */
static int map_area_restore(void *va)
{
    return mm_restore(va);
}

/* Xen replaced present PTEs of ours: the TLB may still hold the old
 * translations (we zeroed those pages a moment ago). */
static void map_area_flush(void)
{
    mm_flush_tlb_local();
}
#endif

int gnttab_init(void)
{
    unsigned int nr = 0;
    void *va = NULL;
    int rc;

    rc = table_frames(&nr, &va);
    if ( rc )
        return rc;
    table = va;
    nr_entries = nr * ENTRIES_PER_FRAME;
    nr_free = 0;
    for ( grant_ref_t ref = nr_entries - 1; ref >= NR_RESERVED; ref-- )
        free_stack[nr_free++] = ref;
    printk("gnttab: %u frames, %u entries\n", nr, nr_entries);
    return 0;
}

unsigned int gnttab_nr_entries(void)
{
    return nr_entries;
}

unsigned int gnttab_free_entries(void)
{
    return nr_free;
}

grant_ref_t gnttab_grant_access(domid_t domid, unsigned long frame,
                                int readonly)
{
    grant_ref_t ref;

    if ( nr_free == 0 )
        return GRANT_INVALID_REF;
    ref = free_stack[--nr_free];
    granted[ref / 64] |= 1ull << (ref % 64);

    table[ref].frame = (uint32_t)frame;
    table[ref].domid = domid;
    /* W1: frame and domid before the flags that make the entry valid;
     * Xen reads flags first, then the rest. */
    wmb();
    WRITE_ONCE(table[ref].flags,
               (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)));
    return ref;
}

int gnttab_end_access(grant_ref_t ref)
{
    uint16_t flags, prev;

    if ( ref >= nr_entries || !(granted[ref / 64] & (1ull << (ref % 64))) )
        return -EINVAL;

    /* Clear the entry only if no mapping is in progress: Xen sets
     * GTF_reading/GTF_writing with the same cmpxchg protocol. */
    flags = READ_ONCE(table[ref].flags);
    for ( ;; )
    {
        if ( flags & (GTF_reading | GTF_writing) )
            return -EBUSY;
        prev = cmpxchg16(&table[ref].flags, flags, 0);
        if ( prev == flags )
            break;
        flags = prev;
    }
    granted[ref / 64] &= ~(1ull << (ref % 64));
    free_stack[nr_free++] = ref;
    return 0;
}

static struct mapping *mapping_find(void *va)
{
    for ( unsigned int i = 0; i < MAX_MAPPINGS; i++ )
        if ( mappings[i].va == va )
            return &mappings[i];
    return NULL;
}

#define HANDLE_NONE ((grant_handle_t)~0u)

/* Unmap the valid handles[0..n) at va, restoring our own pages. */
static int unmap_range(char *va, const grant_handle_t *handles,
                       unsigned int n)
{
    int err = 0;

    for ( unsigned int done = 0; done < n; done += BATCH )
    {
        struct gnttab_unmap_grant_ref ops[BATCH];
        unsigned int idx[BATCH];
        unsigned int k = 0;
        long rc;

        for ( unsigned int i = done; i < n && i < done + BATCH; i++ )
        {
            if ( handles[i] == HANDLE_NONE )
                continue;
            ops[k].host_addr = (uint64_t)(va + i * PAGE_SIZE);
            ops[k].dev_bus_addr = 0;
            ops[k].handle = handles[i];
            ops[k].status = 0;
            idx[k++] = i;
        }
        if ( k == 0 )
            continue;
        rc = hypercall_grant_table_op(GNTTABOP_unmap_grant_ref, ops, k);
        if ( rc && !err )
            err = (int)rc;
        for ( unsigned int j = 0; j < k; j++ )
        {
            if ( rc == 0 && ops[j].status != GNTST_okay && !err )
                err = gnttab_status_to_errno(ops[j].status);
            rc = map_area_restore(va + idx[j] * PAGE_SIZE);
            if ( rc && !err )
                err = (int)rc;
        }
    }
    return err;
}

int gnttab_map_refs(domid_t domid, const grant_ref_t *refs, unsigned int n,
                    int writable, void **out)
{
    struct mapping *m;
    char *va;
    grant_handle_t *handles;
    unsigned int done = 0;
    int err = 0;

    if ( n == 0 || n > MAX_MAP_PAGES || !refs || !out )
        return -EINVAL;
    m = mapping_find(NULL);
    if ( !m )
        return -ENOSPC;
    handles = alloc_page();
    if ( !handles )
        return -ENOMEM;
    va = map_area_alloc(n);
    if ( !va )
    {
        err = -ENOMEM;
        goto out_free_handles;
    }

    /* Each op of a batch succeeds or fails on its own: record a handle
     * per page (HANDLE_NONE where it failed) and stop after the first
     * batch with a failure. */
    while ( done < n && !err )
    {
        struct gnttab_map_grant_ref ops[BATCH];
        unsigned int k = n - done < BATCH ? n - done : BATCH;
        long rc;

        for ( unsigned int i = 0; i < k; i++ )
        {
            memset(&ops[i], 0, sizeof(ops[i]));
            ops[i].host_addr = (uint64_t)(va + (done + i) * PAGE_SIZE);
            ops[i].flags = GNTMAP_host_map | (writable ? 0 : GNTMAP_readonly);
            ops[i].ref = refs[done + i];
            ops[i].dom = domid;
            ops[i].status = GNTST_general_error;
        }
        rc = hypercall_grant_table_op(GNTTABOP_map_grant_ref, ops, k);
        if ( rc )
            err = (int)rc;
        for ( unsigned int i = 0; i < k; i++ )
        {
            /* Trust the per-op status even when the call failed part
             * way: ops before the failure did map. */
            if ( ops[i].status == GNTST_okay )
                handles[done + i] = ops[i].handle;
            else
            {
                handles[done + i] = HANDLE_NONE;
                /* For a map, Xen's "general error" means the entry is not
                 * a valid grant to us (wrong domid, revoked, bad flags). */
                if ( !err )
                    err = ops[i].status == GNTST_general_error
                          ? -EACCES : gnttab_status_to_errno(ops[i].status);
            }
        }
        done += k;
    }
    map_area_flush();
    if ( err )
        goto out_unmap;

    m->va = va;
    m->n = n;
    m->handles = handles;
    *out = va;
    return 0;

out_unmap:
    unmap_range(va, handles, done);
    map_area_free(va, n);
out_free_handles:
    free_page(handles);
    return err;
}

int gnttab_unmap(void *va, unsigned int n)
{
    struct mapping *m = va ? mapping_find(va) : NULL;
    int rc;

    if ( !m || m->n != n )
        return -EINVAL;
    rc = unmap_range(va, m->handles, n);
    map_area_free(va, n);
    free_page(m->handles);
    m->va = NULL;
    return rc;
}
