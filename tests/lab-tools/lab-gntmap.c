/* SPDX-License-Identifier: MIT */
/*
 * Description: try to map one grant reference of another domain through
 * /dev/xen/gntdev (the access check a third domain must fail).  Prints one
 * line and exits 0 if the page could be mapped, 3 if Xen refused, 1 on any
 * other error, 2 on usage.
 *
 *   lab-gntmap DOMID REF
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/sys/gntdev.h>

int main(int argc, char **argv)
{
    struct ioctl_gntdev_map_grant_ref op;
    struct ioctl_gntdev_unmap_grant_ref del;
    char *end1, *end2;
    unsigned long dom, ref;
    void *va;
    int fd;

    if (argc != 3)
        goto usage;
    dom = strtoul(argv[1], &end1, 0);
    ref = strtoul(argv[2], &end2, 0);
    if (*argv[1] == '\0' || *end1 || *argv[2] == '\0' || *end2 || dom > 0x7fef ||
        ref > UINT32_MAX)
        goto usage;
    fd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("lab-gntmap: cannot open /dev/xen/gntdev: %s\n", strerror(errno));
        return 1;
    }
    memset(&op, 0, sizeof(op));
    op.count = 1;
    op.refs[0].domid = (uint32_t)dom;
    op.refs[0].ref = (uint32_t)ref;
    if (ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, &op) < 0) {
        printf("lab-gntmap: gntdev refused the request: %s\n", strerror(errno));
        return 1;
    }
    /* The grant map hypercall runs here. */
    va = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)op.index);
    if (va == MAP_FAILED) {
        printf("lab-gntmap: map of domain %lu ref %lu refused: %s\n", dom, ref,
               strerror(errno));
        del = (struct ioctl_gntdev_unmap_grant_ref){ .index = op.index, .count = 1 };
        ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &del);
        return 3;
    }
    printf("lab-gntmap: mapped domain %lu ref %lu (first byte %u)\n", dom, ref,
           *(volatile unsigned char *)va);
    munmap(va, 4096);
    del = (struct ioctl_gntdev_unmap_grant_ref){ .index = op.index, .count = 1 };
    ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &del);
    close(fd);
    return 0;

usage:
    fprintf(stderr, "usage: lab-gntmap DOMID REF\n");
    return 2;
}
