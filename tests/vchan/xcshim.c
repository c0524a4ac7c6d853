/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for running Debian's vchan-socket-proxy in the sim:
 * its client mode asks libxenctrl whether the server's domain still
 * exists (xc_interface_open needs /dev/xen/privcmd, absent in the sim).
 * Here every domain asked about exists and is not dying; nothing else of
 * libxenctrl is replaced.  Everything vchan goes through the drop-in
 * libxenvchan (LD_LIBRARY_PATH), XenStore through libxenstore and the
 * sim's xenstored socket (XENSTORED_PATH).
 */
#include <string.h>

#include <xenctrl.h>

#define SHIM_API __attribute__((visibility("default")))

static int handle;

SHIM_API xc_interface *xc_interface_open(xentoollog_logger *logger,
                                         xentoollog_logger *dombuild_logger,
                                         unsigned open_flags)
{
    (void)logger;
    (void)dombuild_logger;
    (void)open_flags;
    return (xc_interface *)(void *)&handle;
}

SHIM_API int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

SHIM_API int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                               xc_dominfo_t *info)
{
    (void)xch;
    if (max_doms < 1)
        return 0;
    memset(info, 0, sizeof(*info));
    info->domid = first_domid;
    return 1;
}
