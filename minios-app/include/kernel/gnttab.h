/* SPDX-License-Identifier: MIT */
/*
 * Grant tables (v1), Mini-OS-shaped.
 *
 * Granting: we own the table (GNTTABOP_setup_table, frames mapped into our
 * address space) and write v1 entries: domid + frame first, then flags.
 * Mapping a peer's grants: GNTTABOP_map_grant_ref onto pages of ours, so
 * a run of refs appears contiguously; unmapping restores our pages.
 */
#ifndef KERNEL_GNTTAB_H
#define KERNEL_GNTTAB_H

#include <stdint.h>
#include <xen/grant_table.h>

#define GRANT_INVALID_REF   0u      /* refs 0..7 are reserved by Xen */
#define GNTTAB_NR_FRAMES    4u      /* 4 * 512 v1 entries */

int gnttab_init(void);
unsigned int gnttab_nr_entries(void);
unsigned int gnttab_free_entries(void);

/* Grant `domid` access to machine frame `frame`.  Returns the ref, or
 * GRANT_INVALID_REF when the table is full. */
grant_ref_t gnttab_grant_access(domid_t domid, unsigned long frame,
                                int readonly);
/* Revoke: 0, -EBUSY while the peer still has it mapped (the entry stays
 * valid; retry), -EINVAL for a ref we never granted. */
int gnttab_end_access(grant_ref_t ref);

/* Map n refs of `domid` contiguously: 0 and *va, or -errno: -EACCES for
 * a ref that is not a valid grant to us (revoked, other domid), -EPERM
 * for a read-only grant mapped writable, -EINVAL for a ref out of range,
 * -ESRCH for a domain that does not exist.  On failure nothing stays
 * mapped. */
int gnttab_map_refs(domid_t domid, const grant_ref_t *refs, unsigned int n,
                    int writable, void **va);
/* Undo gnttab_map_refs(va, n). */
int gnttab_unmap(void *va, unsigned int n);

/* GNTST_* -> -errno. */
int gnttab_status_to_errno(int16_t status);

#endif
