/* SPDX-License-Identifier: MIT */
#ifndef GUEST_SYS_TYPES_H
#define GUEST_SYS_TYPES_H
#include <stddef.h>
typedef long ssize_t;
#endif
