/* SPDX-License-Identifier: MIT */
/* Fixed-width integer types for the freestanding guest (LP64). */
#ifndef GUEST_STDINT_H
#define GUEST_STDINT_H

typedef signed char         int8_t;
typedef unsigned char       uint8_t;
typedef short               int16_t;
typedef unsigned short      uint16_t;
typedef int                 int32_t;
typedef unsigned int        uint32_t;
typedef long                int64_t;
typedef unsigned long       uint64_t;
typedef long                intptr_t;
typedef unsigned long       uintptr_t;
typedef long                intmax_t;
typedef unsigned long       uintmax_t;

#define INT8_MAX    127
#define INT16_MAX   32767
#define INT32_MAX   2147483647
#define INT64_MAX   9223372036854775807L
#define INT32_MIN   (-INT32_MAX - 1)
#define INT64_MIN   (-INT64_MAX - 1)
#define UINT8_MAX   255u
#define UINT16_MAX  65535u
#define UINT32_MAX  4294967295u
#define UINT64_MAX  18446744073709551615ul
#define UINTPTR_MAX UINT64_MAX
#define SIZE_MAX    UINT64_MAX

#define UINT64_C(x) x ## ul
#define INT64_C(x)  x ## l

#endif
