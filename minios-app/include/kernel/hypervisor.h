/* SPDX-License-Identifier: MIT */
/* What Xen handed us at boot, and pseudo-physical <-> machine frames. */
#ifndef KERNEL_HYPERVISOR_H
#define KERNEL_HYPERVISOR_H

#include <stdint.h>
#include <xen/xen.h>
#include <arch/cpu.h>

extern start_info_t *start_info;
extern shared_info_t *shared_info;


/* Linked so that virtual == pseudo-physical (PV: VIRT_BASE 0; PVH: the
 * identity map of head_pvh.S). */
static inline unsigned long virt_to_pfn(const void *va)
{
    return (unsigned long)va >> PAGE_SHIFT;
}

static inline void *pfn_to_virt(unsigned long pfn)
{
    return (void *)(pfn << PAGE_SHIFT);
}

#ifdef CONFIG_PVH
#define IS_PVH 1

/* Auto-translated: every frame number Xen takes or hands us (grants,
 * rings, shared_info) is a guest frame.  "mfn" in the kernel's API reads
 * "the frame number Xen wants", which is the pfn itself here. */
static inline unsigned long pfn_to_mfn(unsigned long pfn)
{
    return pfn;
}

static inline unsigned long mfn_to_pfn(unsigned long mfn)
{
    return mfn;
}
#else
#define IS_PVH 0

/* machine_to_phys_mapping (xen-x86_64.h): the read-only M2P table Xen
 * maps into every 64-bit PV guest at the start of the hypervisor hole. */
static inline unsigned long pfn_to_mfn(unsigned long pfn)
{
    return ((const unsigned long *)start_info->mfn_list)[pfn];
}

static inline unsigned long mfn_to_pfn(unsigned long mfn)
{
    return machine_to_phys_mapping[mfn];
}
#endif

static inline unsigned long virt_to_mfn(const void *va)
{
    return pfn_to_mfn(virt_to_pfn(va));
}

static inline void *mfn_to_virt(unsigned long mfn)
{
    return pfn_to_virt(mfn_to_pfn(mfn));
}

static inline int is_initial_domain(void)
{
    return (start_info->flags & SIF_INITDOMAIN) != 0;
}

#endif
