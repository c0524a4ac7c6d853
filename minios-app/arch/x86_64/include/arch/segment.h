/* SPDX-License-Identifier: MIT */
/* Segment selectors of the PVH build's own GDT (arch/x86_64/head_pvh.S).
 * The PV build runs on Xen's flat segments (FLAT_KERNEL_CS). */
#ifndef ARCH_SEGMENT_H
#define ARCH_SEGMENT_H

#define PVH_CS      0x08    /* 64-bit code, DPL0 */
#define PVH_DS      0x10    /* flat data */

#endif
