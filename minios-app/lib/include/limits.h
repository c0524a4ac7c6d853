/* SPDX-License-Identifier: MIT */
#ifndef GUEST_LIMITS_H
#define GUEST_LIMITS_H
#define CHAR_BIT  8
#define INT_MAX   2147483647
#define INT_MIN   (-INT_MAX - 1)
#define UINT_MAX  4294967295u
#define LONG_MAX  9223372036854775807L
#define LONG_MIN  (-LONG_MAX - 1)
#define ULONG_MAX 18446744073709551615ul
#endif
