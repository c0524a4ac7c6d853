/* SPDX-License-Identifier: MIT */
/*
 * The PVH build's platform layer (kernel/pvh.c): what the PV build gets
 * from start_info and the PV MMU, an HVM container gets from CPUID, HVM
 * parameters, hvm_start_info and XENMEM_add_to_physmap.
 *
 * Guest-physical addresses are virtual addresses (identity map, see
 * arch/x86_64/head_pvh.S) and the frame numbers handed to Xen are guest
 * frames (gfn == pfn): an auto-translated guest never sees machine frames.
 *
 * Frames that are not our RAM (grant table frames, peers' granted pages)
 * go into a window of otherwise empty guest-physical space above the
 * memory map, so that mapping them never takes away a page of RAM.
 */
#ifndef KERNEL_PVH_H
#define KERNEL_PVH_H

#ifdef CONFIG_PVH

#define PVH_WINDOW_PAGES 4096u  /* 16 MiB of guest-physical window */

/* Put Xen's shared_info frame at the guest frame of `page`. */
int pvh_map_shared_info(void *page);
/* Free RAM after the image and the boot data: pfns [*first, *end); also
 * sets up the window.  Panics without a usable memory map. */
void pvh_boot_memory(unsigned long *first, unsigned long *end);
/* n contiguous pages of the window (no RAM behind them), or NULL. */
void *pvh_window_alloc(unsigned long n);
void pvh_window_free(void *va, unsigned long n);
/* A fresh zeroed page of RAM at the (empty) guest frame of `va`. */
int pvh_populate(void *va);
/* XENMEM_add_to_physmap for DOMID_SELF: frame `idx` of `space` at `va`. */
int pvh_add_to_physmap(unsigned int space, unsigned long idx, void *va);

#endif

#endif
