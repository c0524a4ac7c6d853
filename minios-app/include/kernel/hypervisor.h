/* SPDX-License-Identifier: MIT */
/* What Xen handed us at boot, and pseudo-physical <-> machine frames. */
#ifndef KERNEL_HYPERVISOR_H
#define KERNEL_HYPERVISOR_H

#include <stdint.h>
#include <xen/xen.h>
#include <arch/cpu.h>

extern start_info_t *start_info;
extern shared_info_t *shared_info;


/* machine_to_phys_mapping (xen-x86_64.h): the read-only M2P table Xen
 * maps into every 64-bit PV guest at the start of the hypervisor hole. */

/* Linked at VIRT_BASE 0: virtual == pseudo-physical in the boot region. */
static inline unsigned long virt_to_pfn(const void *va)
{
    return (unsigned long)va >> PAGE_SHIFT;
}

static inline void *pfn_to_virt(unsigned long pfn)
{
    return (void *)(pfn << PAGE_SHIFT);
}

static inline unsigned long pfn_to_mfn(unsigned long pfn)
{
    return ((const unsigned long *)start_info->mfn_list)[pfn];
}

static inline unsigned long mfn_to_pfn(unsigned long mfn)
{
    return machine_to_phys_mapping[mfn];
}

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
