/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct ivcom_platform_ops *const platforms[] = {
#ifdef IVCOM_HAVE_SIM
    &ivcom_plat_sim_ops,
#endif
#ifdef IVCOM_HAVE_XEN_LINUX
    &ivcom_plat_xen_linux_ops,
#endif
#ifdef IVCOM_HAVE_MINIOS
    &ivcom_plat_minios_ops,
#endif
};

IVCOM_EXPORT int ivcom_platform_open(const char *name, struct ivcom_platform **out)
{
    struct ivcom_platform *plat;
    size_t i;
    int err;

    if (!name)
        name = ivcom_default_platform();
    for (i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++) {
        if (strcmp(platforms[i]->name, name) != 0)
            continue;
        plat = calloc(1, sizeof(*plat));
        if (!plat)
            return -ENOMEM;
        plat->ops = platforms[i];
        err = plat->ops->open(plat);
        if (err) {
            free(plat);
            return err;
        }
        *out = plat;
        return 0;
    }
    return -ENODEV;
}

IVCOM_EXPORT void ivcom_platform_close(struct ivcom_platform *plat)
{
    if (!plat)
        return;
    plat->ops->close(plat);
    free(plat);
}

IVCOM_EXPORT const char *ivcom_platform_name(const struct ivcom_platform *plat)
{
    return plat->ops->name;
}

IVCOM_EXPORT int ivcom_platform_domid(const struct ivcom_platform *plat)
{
    return plat->domid;
}
