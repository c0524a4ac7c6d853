/* SPDX-License-Identifier: MIT */
/* Minimal freestanding <stdint.h>: proves xs_ring.c needs nothing more. */
#ifndef IVCOM_FS_STDINT_H
#define IVCOM_FS_STDINT_H
typedef signed char         int8_t;
typedef unsigned char       uint8_t;
typedef short               int16_t;
typedef unsigned short      uint16_t;
typedef int                 int32_t;
typedef unsigned int        uint32_t;
typedef long                int64_t;
typedef unsigned long       uint64_t;
typedef unsigned long       uintptr_t;
#define UINT32_MAX          0xffffffffu
#endif
