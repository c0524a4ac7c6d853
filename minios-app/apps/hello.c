/* SPDX-License-Identifier: MIT */
/*
 * hello: print what Xen told us, then check the kernel's services against
 * the real hypervisor: clock, page allocator, event channel loopback,
 * grant self-map, and (domU) a XenStore round trip.
 *
 * Command line: domid=N overrides our domain id (dom0 is 0; a domU reads
 * it from the store).  crash=null|pf|ud makes the app fault on purpose
 * (NULL read, unmapped read, invalid opcode), to check that faults end in
 * a FAILURE result line.
 */
#include <errno.h>
#include <string.h>
#include <arch/hypercall.h>
#include <xen/version.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/evtchn.h>
#include <kernel/gnttab.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/pvh.h>
#include <kernel/report.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#define CHECK(cond, ...)                        \
    do {                                        \
        if ( !(cond) )                          \
        {                                       \
            report_failure(__VA_ARGS__);        \
            return -EIO;                        \
        }                                       \
    } while ( 0 )

static void show_start_info(void)
{
    const start_info_t *si = start_info;

    printk("hello: magic \"%.32s\" flags %#x nr_pages %lu\n", si->magic,
           si->flags, (unsigned long)si->nr_pages);
    printk("hello: shared_info %#lx pt_base %#lx nr_pt_frames %lu "
           "mfn_list %#lx\n", (unsigned long)si->shared_info,
           (unsigned long)si->pt_base, (unsigned long)si->nr_pt_frames,
           (unsigned long)si->mfn_list);
    if ( is_initial_domain() )
        printk("hello: dom0 console: vga %#x\n", si->console.dom0.info_off);
    else
        printk("hello: store mfn %#lx evtchn %u, console mfn %#lx evtchn %u\n",
               (unsigned long)si->store_mfn, si->store_evtchn,
               (unsigned long)si->console.domU.mfn, si->console.domU.evtchn);
}

static int check_clock(void)
{
    uint64_t t0 = monotonic_clock(), t1;

    sleep_ns(10 * NSEC_PER_MSEC);
    t1 = monotonic_clock();
    CHECK(t1 >= t0 + 10 * NSEC_PER_MSEC,
          "clock: slept 10 ms but %lu ns passed", (unsigned long)(t1 - t0));
    printk("hello: clock %lu ns, 10 ms sleep took %lu us\n",
           (unsigned long)t1, (unsigned long)((t1 - t0) / 1000));
    return 0;
}

static int check_mm(void)
{
    unsigned long before = mm_free_pages();
    char *a = alloc_page(), *b = alloc_pages(2);

    CHECK(a && b, "mm: allocation failed (%lu free)", before);
    CHECK(((unsigned long)b & (4 * PAGE_SIZE - 1)) == 0,
          "mm: order-2 block %p not aligned", (void *)b);
    CHECK(mm_free_pages() == before - 5, "mm: free count %lu, expected %lu",
          mm_free_pages(), before - 5);
    memset(b, 0x5a, 4 * PAGE_SIZE);
    CHECK(b[4 * PAGE_SIZE - 1] == 0x5a && a[0] == 0, "mm: page contents");
    free_pages(b, 2);
    free_page(a);
    CHECK(mm_free_pages() == before, "mm: free count not restored");
    return 0;
}

static int check_evtchn(domid_t self)
{
    evtchn_port_t port, lport;
    int rc;

    rc = evtchn_alloc_unbound(self, &port);
    CHECK(rc == 0, "evtchn: alloc_unbound: %d", rc);
    rc = evtchn_bind_interdomain(self, port, &lport);
    CHECK(rc == 0, "evtchn: bind_interdomain to own port %u: %d", port, rc);
    rc = evtchn_wait(port, 20 * NSEC_PER_MSEC);
    CHECK(rc == -ETIMEDOUT, "evtchn: idle wait returned %d", rc);
    rc = notify_remote_via_evtchn(lport);
    CHECK(rc == 0, "evtchn: send: %d", rc);
    rc = evtchn_wait(port, NSEC_PER_SEC);
    CHECK(rc == 0, "evtchn: loopback event not seen (%d)", rc);
    CHECK(!evtchn_is_pending(port), "evtchn: pending bit not consumed");
    CHECK(evtchn_close(lport) == 0 && evtchn_close(port) == 0,
          "evtchn: close failed");
    printk("hello: evtchn loopback %u -> %u ok\n", lport, port);
    return 0;
}

static int check_gnttab(domid_t self)
{
    uint8_t *page = alloc_page();
    uint8_t *map;
    grant_ref_t ref, bad;
    void *va;
    int rc;

    CHECK(page, "gnttab: no page");
    for ( unsigned int i = 0; i < PAGE_SIZE; i++ )
        page[i] = (uint8_t)(i * 7 + 1);

    ref = gnttab_grant_access(self, virt_to_mfn(page), 0);
    CHECK(ref != GRANT_INVALID_REF, "gnttab: grant failed");
    rc = gnttab_map_refs(self, &ref, 1, 1, &va);
    CHECK(rc == 0, "gnttab: self-map of ref %u failed: %d", ref, rc);
    map = va;
#ifdef CONFIG_PVH
    /* Auto-translated, a page of ours has one guest frame only: Xen moves
     * a self-granted page to the frame it is mapped at (a peer's page
     * stays where it is), and our own frame is empty until refilled.
     * So check the mapping against the pattern, not against `page`. */
    for ( unsigned int i = 0; i < PAGE_SIZE; i++ )
        CHECK(map[i] == (uint8_t)(i * 7 + 1), "gnttab: mapped page differs");
    map[100] = 0xee;
    CHECK(map[100] == 0xee, "gnttab: write through mapping not seen");
#else
    CHECK(map != page && memcmp(map, page, PAGE_SIZE) == 0,
          "gnttab: mapped page differs");
    map[100] = 0xee;
    CHECK(page[100] == 0xee, "gnttab: write through mapping not seen");
#endif
    rc = gnttab_end_access(ref);
    CHECK(rc == -EBUSY, "gnttab: end_access while mapped returned %d", rc);
    rc = gnttab_unmap(va, 1);
    CHECK(rc == 0, "gnttab: unmap: %d", rc);
    rc = gnttab_end_access(ref);
    CHECK(rc == 0, "gnttab: end_access: %d", rc);
#ifdef CONFIG_PVH
    rc = pvh_populate(page);
    CHECK(rc == 0, "gnttab: refilling the self-mapped frame: %d", rc);
#endif

    /* A revoked ref must not map. */
    bad = ref;
    rc = gnttab_map_refs(self, &bad, 1, 1, &va);
    CHECK(rc == -EACCES, "gnttab: revoked ref %u: map returned %d", bad, rc);
    CHECK(gnttab_end_access(ref) == -EINVAL, "gnttab: double end_access");
    free_page(page);
    printk("hello: gnttab self-map of ref %u ok (revoked ref: %d)\n", ref, rc);
    return 0;
}

static int check_xenbus(void)
{
    char buf[64];
    xenbus_transaction_t t;
    int rc;

    rc = xenbus_write(XBT_NIL, "data/ivcom-hello", "hi");
    CHECK(rc == 0, "xenbus: write: %d", rc);
    rc = xenbus_read(XBT_NIL, "data/ivcom-hello", buf, sizeof(buf));
    CHECK(rc == 2 && strcmp(buf, "hi") == 0, "xenbus: read back: %d", rc);
    rc = xenbus_transaction_start(&t);
    CHECK(rc == 0, "xenbus: transaction start: %d", rc);
    rc = xenbus_write(t, "data/ivcom-hello", "tx");
    CHECK(rc == 0, "xenbus: write in transaction: %d", rc);
    rc = xenbus_transaction_end(t, 0);
    CHECK(rc == 0, "xenbus: commit: %d", rc);
    rc = xenbus_read(XBT_NIL, "data/ivcom-hello", buf, sizeof(buf));
    CHECK(rc == 2 && strcmp(buf, "tx") == 0, "xenbus: committed value");
    rc = xenbus_rm(XBT_NIL, "data/ivcom-hello");
    CHECK(rc == 0, "xenbus: rm: %d", rc);
    rc = xenbus_read(XBT_NIL, "data/ivcom-hello", buf, sizeof(buf));
    CHECK(rc == -ENOENT, "xenbus: read after rm: %d", rc);
    rc = xenbus_read(XBT_NIL, "name", buf, sizeof(buf));
    CHECK(rc > 0, "xenbus: read name: %d", rc);
    printk("hello: xenstore ok, name \"%s\"\n", buf);
    return 0;
}

static int crash(const char *how)
{
    volatile unsigned long *p;

    if ( strcmp(how, "null") == 0 )
        p = NULL;
    else if ( strcmp(how, "pf") == 0 )
        p = (volatile unsigned long *)0x40000000ul;     /* 1 GiB: unmapped */
    else if ( strcmp(how, "ud") == 0 )
    {
        asm volatile ( "ud2" );
        return -EIO;
    }
    else
    {
        report_failure("bad crash= value \"%s\" (null, pf or ud)", how);
        return -EINVAL;
    }
    return (int)*p;
}

int app_main(const char *args)
{
    char how[16];
    long ver = hypercall_xen_version(XENVER_version, NULL);
    xen_extraversion_t extra;
    unsigned long id;
    domid_t self;
    int rc, has_store = !is_initial_domain() && start_info->store_mfn;

    memset(extra, 0, sizeof(extra));
    hypercall_xen_version(XENVER_extraversion, extra);
    extra[sizeof(extra) - 1] = '\0';
    printk("hello: Xen %ld.%ld%s\n", ver >> 16, ver & 0xffff, extra);
    show_start_info();

    if ( cmdline_get(args, "crash", how, sizeof(how)) >= 0 )
        return crash(how);

    rc = cmdline_get_ulong(args, "domid", &id);
    if ( rc == 0 )
        self = (domid_t)id;
    else if ( rc != -ENOENT )
        return report_failure("bad domid= on the command line"), -EINVAL;
    else if ( has_store )
        self = (domid_t)xenbus_domid();
    else
        self = 0;

    if ( (rc = check_clock()) || (rc = check_mm()) ||
         (rc = check_evtchn(self)) || (rc = check_gnttab(self)) )
        return rc;
    if ( has_store && (rc = check_xenbus()) )
        return rc;

    report_success("hello: xen %ld.%ld, domid %u, %lu pages free, "
                   "clock+mm+evtchn+gnttab%s ok", ver >> 16, ver & 0xffff,
                   self, mm_free_pages(), has_store ? "+xenstore" : "");
    return 0;
}
