/* SPDX-License-Identifier: MIT */
/*
 * Memory set-up for a 64-bit PV guest linked at virtual 0.  (The PVH
 * build takes its free range from hvm_start_info's memory map instead:
 * kernel/pvh.c; the allocator on top is the same.)
 *
 * Xen's builder maps, 1:1 from virtual 0 (= pfn 0): the image, the
 * initial ramdisk, the p2m list, start_info, the console and xenstore
 * pages, the bootstrap page tables (read-only) and a bootstrap stack, and
 * pads the mapping to a 4 MiB boundary with at least 512 KiB to spare.
 * Everything mapped after the last of those elements is free memory.  We
 * walk the bootstrap page tables to find how far the mapping really goes.
 */
#include <errno.h>
#include <string.h>
#include <arch/hypercall.h>
#include <kernel/console.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/page_alloc.h>
#include <kernel/pvh.h>
#include <kernel/sched.h>

extern char _end[];

static struct page_alloc pa;
static unsigned long total_pages;

#ifndef CONFIG_PVH
#define PTE_MFN(pte)   (((pte) & 0x000ffffffffff000ul) >> PAGE_SHIFT)
#define PTE_PSE        0x080ul

static unsigned long round_up(unsigned long x, unsigned long a)
{
    return (x + a - 1) & ~(a - 1);
}

static const uint64_t *table_at(uint64_t pte)
{
    return mfn_to_virt(PTE_MFN(pte));
}

/* Number of pages mapped contiguously from virtual 0. */
static unsigned long mapped_pages(void)
{
    const uint64_t *l4 = (const uint64_t *)start_info->pt_base;
    unsigned long va = 0;

    /* The bootstrap region is far below 512 GiB: only l4[0] matters. */
    for ( unsigned int i3 = 0; i3 < 512 && (l4[0] & _PAGE_PRESENT); i3++ )
    {
        const uint64_t *l3 = table_at(l4[0]);

        if ( !(l3[i3] & _PAGE_PRESENT) )
            break;
        for ( unsigned int i2 = 0; i2 < 512; i2++ )
        {
            const uint64_t *l2 = table_at(l3[i3]);

            if ( !(l2[i2] & _PAGE_PRESENT) )
                return va >> PAGE_SHIFT;
            if ( l2[i2] & PTE_PSE )
            {
                va += 512 * PAGE_SIZE;
                continue;
            }
            for ( unsigned int i1 = 0; i1 < 512; i1++ )
            {
                const uint64_t *l1 = table_at(l2[i2]);

                if ( !(l1[i1] & _PAGE_PRESENT) )
                    return va >> PAGE_SHIFT;
                va += PAGE_SIZE;
            }
        }
    }
    return va >> PAGE_SHIFT;
}

#endif /* !CONFIG_PVH */

#ifdef CONFIG_PVH
void mm_init(void)
{
    unsigned long first, last;

    /* Page 0 was never mapped (head_pvh.S): NULL already faults. */
    pvh_boot_memory(&first, &last);
    if ( last <= first )
        panic("no free memory: boot data ends at pfn %lu, RAM at %lu",
              first, last);
    total_pages = last - first;
    pa_init(&pa, first, total_pages);
    if ( total_pages > PA_MAX_PAGES )
        total_pages = PA_MAX_PAGES;
    printk("mm: %lu pages (%lu KiB) free at pfn %lu..%lu, %lu in domain\n",
           total_pages, total_pages * 4, first, first + total_pages - 1,
           (unsigned long)start_info->nr_pages);
}
#else
void mm_init(void)
{
    unsigned long end = (unsigned long)_end, e, first, last, mapped;

    /* The end of the last bootstrap element we know of. */
    e = (unsigned long)start_info + PAGE_SIZE;
    end = e > end ? e : end;
    e = start_info->mfn_list + start_info->nr_pages * sizeof(unsigned long);
    end = e > end ? e : end;
    if ( start_info->mod_start && !(start_info->flags & SIF_MOD_START_PFN) )
    {
        e = start_info->mod_start + start_info->mod_len;
        end = e > end ? e : end;
    }
    /* Page tables, then the one-page bootstrap stack after them. */
    e = start_info->pt_base + (start_info->nr_pt_frames + 1) * PAGE_SIZE;
    end = e > end ? e : end;

    first = round_up(end, PAGE_SIZE) >> PAGE_SHIFT;
    mapped = mapped_pages();
    last = mapped < start_info->nr_pages ? mapped : start_info->nr_pages;
    if ( last <= first )
        panic("no free memory: bootstrap ends at pfn %lu, mapping at %lu",
              first, last);

    /* Nothing lives in page 0 after boot (only _start's few bytes):
     * unmap it so a NULL dereference faults instead of corrupting code. */
    if ( hypercall_update_va_mapping(0, 0, UVMF_INVLPG | UVMF_LOCAL) )
        printk("mm: could not unmap page 0: NULL is not caught\n");

    total_pages = last - first;
    pa_init(&pa, first, total_pages);
    if ( total_pages > PA_MAX_PAGES )
        total_pages = PA_MAX_PAGES;
    printk("mm: %lu pages (%lu KiB) free at pfn %lu..%lu, %lu mapped, "
           "%lu in domain\n", total_pages, total_pages * 4, first,
           first + total_pages - 1, mapped,
           (unsigned long)start_info->nr_pages);
}
#endif

void *alloc_pages(unsigned int order)
{
    unsigned long pfn = pa_alloc(&pa, order);
    void *va;

    if ( pfn == -1ul )
        return NULL;
    va = pfn_to_virt(pfn);
    memset(va, 0, PAGE_SIZE << order);
    return va;
}

void free_pages(void *va, unsigned int order)
{
    if ( pa_free(&pa, virt_to_pfn(va), order) )
        panic("free_pages(%p, %u): not allocated", va, order);
}

void *alloc_pages_n(unsigned long n)
{
    unsigned long pfn = pa_alloc_run(&pa, n, 1);
    void *va;

    if ( pfn == -1ul )
        return NULL;
    va = pfn_to_virt(pfn);
    memset(va, 0, n * PAGE_SIZE);
    return va;
}

void free_pages_n(void *va, unsigned long n)
{
    if ( pa_free_run(&pa, virt_to_pfn(va), n) )
        panic("free_pages_n(%p, %lu): not allocated", va, n);
}

unsigned long mm_free_pages(void)
{
    return pa.nfree;
}

unsigned long mm_total_pages(void)
{
    return total_pages;
}

#ifndef CONFIG_PVH
int mm_map_mfn(void *va, unsigned long mfn, int writable)
{
    uint64_t pte = ((uint64_t)mfn << PAGE_SHIFT) |
                   (writable ? PTE_KERNEL_RW : PTE_KERNEL_RO);

    return (int)hypercall_update_va_mapping((unsigned long)va, pte,
                                            UVMF_INVLPG | UVMF_LOCAL);
}

int mm_restore(void *va)
{
    return mm_map_mfn(va, virt_to_mfn(va), 1);
}

int mm_flush_tlb_local(void)
{
    struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };

    return (int)hypercall_mmuext_op(&op, 1, NULL, DOMID_SELF);
}
#endif
