/* SPDX-License-Identifier: MIT */
/*
 * Boot glue of the PVH build.  head_pvh.S enters pvh_start() in long mode
 * with the identity map and the physical address of hvm_start_info.  We
 * set up the hypercall page the HVM way (CPUID names the MSR), collect
 * what a PV guest finds in start_info (command line, flags, HVM
 * parameters for the console and XenStore rings) into a start_info_t of
 * our own, so the shared kernel reads one structure in both builds, and
 * call kmain().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arch/cpu.h>
#include <arch/hypercall.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <kernel/console.h>
#include <kernel/hypervisor.h>
#include <kernel/page_alloc.h>
#include <kernel/pvh.h>
#include <kernel/sched.h>

extern char _text[], _end[];
extern uint64_t pt_l4[];

void kmain(start_info_t *si);
void pvh_start(const struct hvm_start_info *hsi) __attribute__((noreturn));

static start_info_t boot_info;
static const struct hvm_start_info *hvm_info;

/* The top of the low 1 GiB of the identity map: the window ends below. */
#define LOW_MAP_END     (1ul << 30)
#define WINDOW_ALIGN    (2ul << 20)

static struct page_alloc window;

/* "XenVMMXenVMM" in ebx, ecx, edx of the hypervisor's base leaf. */
#define XEN_CPUID_EBX   0x566e6558u
#define XEN_CPUID_ECX   0x65584d4du
#define XEN_CPUID_EDX   0x4d4d566eu

static int hypercall_page_init(void)
{
    uint32_t a, b, c, d;

    /* Xen's leaves may sit at 0x40000100 (after Viridian's) or later. */
    for ( uint32_t base = 0x40000000u; base < 0x40010000u; base += 0x100 )
    {
        cpuid(base, &a, &b, &c, &d);
        if ( b != XEN_CPUID_EBX || c != XEN_CPUID_ECX ||
             d != XEN_CPUID_EDX || a < base + 2 )
            continue;
        /* base + 2: eax = number of hypercall pages, ebx = the MSR. */
        cpuid(base + 2, &a, &b, &c, &d);
        if ( a == 0 )
            return -ENODEV;
        wrmsr(b, (uint64_t)(unsigned long)hypercall_page);
        return 0;
    }
    return -ENODEV;
}

static uint64_t hvm_param(uint32_t index)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };

    if ( hypercall_hvm_op(HVMOP_get_param, &p) )
        return 0;
    return p.value;
}

/* The memory map from XENMEM_memory_map, when hvm_start_info has none
 * (version 0: what Xen's own PVH dom0 builder hands over). */
#define MAX_E820 64
struct e820_entry {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));
static struct hvm_memmap_table_entry e820_map[MAX_E820];
static unsigned int e820_entries;

static void e820_init(void)
{
    static struct e820_entry raw[MAX_E820];
    struct xen_memory_map mm = { .nr_entries = MAX_E820 };

    set_xen_guest_handle(mm.buffer, raw);
    if ( hypercall_memory_op(XENMEM_memory_map, &mm) )
        return;
    for ( unsigned int i = 0; i < mm.nr_entries && i < MAX_E820; i++ )
    {
        e820_map[i].addr = raw[i].addr;
        e820_map[i].size = raw[i].size;
        e820_map[i].type = raw[i].type;
    }
    e820_entries = mm.nr_entries < MAX_E820 ? mm.nr_entries : MAX_E820;
}

static int have_start_info_memmap(void)
{
    return hvm_info->version >= 1 && hvm_info->memmap_entries != 0;
}

static const struct hvm_memmap_table_entry *memmap(unsigned int *n)
{
    if ( have_start_info_memmap() )
    {
        *n = hvm_info->memmap_entries;
        return (const void *)(unsigned long)hvm_info->memmap_paddr;
    }
    *n = e820_entries;
    return e820_entries ? e820_map : NULL;
}

static unsigned long ram_pages(void)
{
    const struct hvm_memmap_table_entry *map;
    unsigned int n;
    unsigned long pages = 0;

    map = memmap(&n);
    for ( unsigned int i = 0; i < n; i++ )
        if ( map[i].type == XEN_HVM_MEMMAP_TYPE_RAM )
            pages += map[i].size >> PAGE_SHIFT;
    return pages;
}

void pvh_start(const struct hvm_start_info *hsi)
{
    start_info_t *si = &boot_info;
    const char *cmdline;

    /* Without hypercalls there is no console to complain on. */
    if ( hypercall_page_init() || hsi->magic != XEN_HVM_START_MAGIC_VALUE )
        halt_forever();
    hvm_info = hsi;
    if ( !have_start_info_memmap() )
        e820_init();

    snprintf(si->magic, sizeof(si->magic), "hvm_start_info v%u",
             hsi->version);
    si->flags = hsi->flags;
    si->nr_pages = ram_pages();
    si->pt_base = (unsigned long)pt_l4;
    si->nr_pt_frames = 5;      /* l4, l3, two l2, one l1: head_pvh.S */
    si->store_mfn = hvm_param(HVM_PARAM_STORE_PFN);
    si->store_evtchn = (uint32_t)hvm_param(HVM_PARAM_STORE_EVTCHN);
    si->console.domU.mfn = hvm_param(HVM_PARAM_CONSOLE_PFN);
    si->console.domU.evtchn = (uint32_t)hvm_param(HVM_PARAM_CONSOLE_EVTCHN);
    cmdline = (const char *)(unsigned long)hsi->cmdline_paddr;
    if ( cmdline )
        strncpy((char *)si->cmd_line, cmdline, sizeof(si->cmd_line) - 1);

    kmain(si);
    panic("kmain returned");
}

int pvh_add_to_physmap(unsigned int space, unsigned long idx, void *va)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = space, .idx = idx,
        .gpfn = virt_to_pfn(va),
    };

    return (int)hypercall_memory_op(XENMEM_add_to_physmap, &xatp);
}

int pvh_populate(void *va)
{
    xen_pfn_t gfn = virt_to_pfn(va);
    struct xen_memory_reservation r = {
        .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF,
    };
    long rc;

    set_xen_guest_handle(r.extent_start, &gfn);
    rc = hypercall_memory_op(XENMEM_populate_physmap, &r);
    return rc == 1 ? 0 : rc < 0 ? (int)rc : -ENOMEM;
}

int pvh_map_shared_info(void *page)
{
    /* Xen frees the RAM page that was at this frame: the page of our
     * image is the shared_info frame from now on. */
    int rc = pvh_add_to_physmap(XENMAPSPACE_shared_info, 0, page);

    if ( rc == 0 )
        boot_info.shared_info = virt_to_pfn(page) << PAGE_SHIFT;
    return rc;
}

static unsigned long round_up(unsigned long x, unsigned long a)
{
    return (x + a - 1) & ~(a - 1);
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
    return a > b ? a : b;
}

void pvh_boot_memory(unsigned long *first, unsigned long *end)
{
    const struct hvm_memmap_table_entry *map;
    unsigned long image = (unsigned long)_text, boot_end, ram_end = 0;
    unsigned long top = 0, wbase;
    unsigned int n;

    map = memmap(&n);
    if ( !map )
        panic("pvh: no memory map (hvm_start_info version %u, "
              "XENMEM_memory_map failed)", hvm_info->version);

    /* The builder put hvm_start_info, the command line, the module list
     * and the memory map after the image: none of it is free. */
    boot_end = max_ul((unsigned long)_end,
                      (unsigned long)hvm_info + sizeof(*hvm_info));
    if ( hvm_info->cmdline_paddr )
        boot_end = max_ul(boot_end, hvm_info->cmdline_paddr +
                          strlen((const char *)(unsigned long)
                                 hvm_info->cmdline_paddr) + 1);
    if ( have_start_info_memmap() )
        boot_end = max_ul(boot_end, hvm_info->memmap_paddr +
                          n * sizeof(*map));
    if ( hvm_info->nr_modules )
    {
        const struct hvm_modlist_entry *mods =
            (const void *)(unsigned long)hvm_info->modlist_paddr;

        boot_end = max_ul(boot_end, hvm_info->modlist_paddr +
                          hvm_info->nr_modules * sizeof(*mods));
        for ( unsigned int i = 0; i < hvm_info->nr_modules; i++ )
            boot_end = max_ul(boot_end, mods[i].paddr + mods[i].size);
    }

    for ( unsigned int i = 0; i < n; i++ )
    {
        unsigned long s = map[i].addr, e = map[i].addr + map[i].size;

        /* The RAM range the image sits in is our free memory. */
        if ( map[i].type == XEN_HVM_MEMMAP_TYPE_RAM && s <= image &&
             image < e )
            ram_end = e;
        if ( s < LOW_MAP_END )
            top = max_ul(top, e);
    }
    if ( !ram_end || ram_end > LOW_MAP_END )
        panic("pvh: image at %#lx not in low RAM (ends %#lx)", image,
              ram_end);

    /* The window: empty guest-physical space after everything the memory
     * map names, still inside the identity map's low gigabyte. */
    wbase = round_up(top, WINDOW_ALIGN);
    if ( wbase + PVH_WINDOW_PAGES * PAGE_SIZE > LOW_MAP_END )
        panic("pvh: no room for the physmap window above %#lx", top);
    pa_init(&window, wbase >> PAGE_SHIFT, PVH_WINDOW_PAGES);
    printk("pvh: %u memmap entries (%s), RAM to %#lx, window %#lx..%#lx\n",
           n, have_start_info_memmap() ? "hvm_start_info" : "e820", ram_end,
           wbase, wbase + PVH_WINDOW_PAGES * PAGE_SIZE - 1);

    *first = round_up(boot_end, PAGE_SIZE) >> PAGE_SHIFT;
    *end = ram_end >> PAGE_SHIFT;
}

void *pvh_window_alloc(unsigned long n)
{
    unsigned long pfn = pa_alloc_run(&window, n, 1);

    return pfn == -1ul ? NULL : pfn_to_virt(pfn);
}

void pvh_window_free(void *va, unsigned long n)
{
    if ( pa_free_run(&window, virt_to_pfn(va), n) )
        panic("pvh_window_free(%p, %lu): not allocated", va, n);
}
