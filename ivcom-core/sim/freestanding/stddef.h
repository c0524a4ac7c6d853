/* SPDX-License-Identifier: MIT */
/* Minimal freestanding <stddef.h>. */
#ifndef IVCOM_FS_STDDEF_H
#define IVCOM_FS_STDDEF_H
typedef unsigned long       size_t;
typedef long                ptrdiff_t;
#define NULL                ((void *)0)
#define offsetof(t, m)      __builtin_offsetof(t, m)
#endif
