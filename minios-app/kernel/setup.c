/* SPDX-License-Identifier: MIT */
/*
 * kmain: bring the kernel up in one fixed order, run the app, report,
 * shut down.
 *
 *   1. check the hypercall page      (nothing works without it)
 *   2. map shared_info               (event bits, clock)
 *   3. console                       (ring for a domU, console_io for dom0)
 *   4. trap table                    (faults are reported, not silent)
 *   5. memory                        (free pages after the boot region)
 *   6. grant table
 *   7. xenstore                      (domU only: dom0 has no store yet)
 *   8. app_main(cmdline), result line, shutdown
 *
 * The PVH build reaches kmain through pvh_start() (kernel/pvh.c), which
 * has registered the hypercall page and built the start_info we read;
 * steps 2, 4, 5 and 6 take their PVH paths (add_to_physmap, IDT, memory
 * map, grant frames in the physmap window).
 */
#include <errno.h>
#include <string.h>
#include <arch/cpu.h>
#include <arch/hypercall.h>
#include <kernel/app.h>
#include <kernel/console.h>
#include <kernel/gnttab.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/pvh.h>
#include <kernel/report.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <kernel/traps.h>
#include <kernel/xenbus.h>

start_info_t *start_info;
shared_info_t *shared_info;

/* A page of our image that we point at the shared_info frame instead. */
static uint8_t shared_info_page[PAGE_SIZE]
    __attribute__((aligned(PAGE_SIZE), section(".bss.page_aligned")));

static char cmdline[MAX_GUEST_CMDLINE];

void kmain(start_info_t *si);

static void check_hypercall_page(void)
{
    static const unsigned int used[] = {
        __HYPERVISOR_set_trap_table, __HYPERVISOR_mmu_update, __HYPERVISOR_update_va_mapping,
        __HYPERVISOR_mmuext_op,
        __HYPERVISOR_memory_op, __HYPERVISOR_xen_version,
        __HYPERVISOR_console_io, __HYPERVISOR_grant_table_op,
        __HYPERVISOR_sched_op, __HYPERVISOR_event_channel_op,
    };

    /* Still the 0xc3 poison: Xen did not write the stubs, so no
     * hypercall (not even the console) can work.  Crash loudly. */
    for ( unsigned int i = 0; i < sizeof(used) / sizeof(used[0]); i++ )
        if ( hypercall_page[used[i] * 32] == 0xc3 )
            halt_forever();
}

static void map_shared_info(void)
{
#ifdef CONFIG_PVH
    /* Auto-translated: ask Xen to put the frame at our page's gfn. */
    if ( pvh_map_shared_info(shared_info_page) )
        halt_forever();
#else
    /* start_info->shared_info is a machine address. */
    if ( mm_map_mfn(shared_info_page, start_info->shared_info >> PAGE_SHIFT, 1) )
        halt_forever();
#endif
    shared_info = (shared_info_t *)shared_info_page;
}

__attribute__((weak)) int app_main(const char *args)
{
    (void)args;
    report_failure("no app linked into this image");
    return -ENOSYS;
}

void kmain(start_info_t *si)
{
    int rc;

    start_info = si;
    check_hypercall_page();
    map_shared_info();
    console_init();

    printk("ivcom-guest: booting (%s%s, %lu pages, magic %.32s)\n",
           is_initial_domain() ? "dom0" : "domU", IS_PVH ? " PVH" : "",
           (unsigned long)start_info->nr_pages, start_info->magic);

    rc = traps_init();
    if ( rc )
        panic("set_trap_table failed: %d", rc);

    mm_init();

    rc = gnttab_init();
    if ( rc )
        panic("grant table set-up failed: %d", rc);

    if ( !is_initial_domain() && start_info->store_mfn )
    {
        rc = xenbus_init();
        if ( rc )
            panic("xenstore set-up failed: %d", rc);
    }

    memcpy(cmdline, start_info->cmd_line, sizeof(cmdline));
    cmdline[sizeof(cmdline) - 1] = '\0';
    printk("ivcom-guest: cmdline \"%s\"\n", cmdline);

    rc = app_main(cmdline);
    if ( !report_done() )
    {
        if ( rc == 0 )
            report_success("app returned 0");
        else
            report_failure("app returned %d", rc);
    }

    /* A dom0 that powers off makes Xen halt forever; a reboot request
     * ends a -no-reboot QEMU, which is what the smoke test wants. */
    shutdown(is_initial_domain() ? SHUTDOWN_reboot : SHUTDOWN_poweroff);
}
