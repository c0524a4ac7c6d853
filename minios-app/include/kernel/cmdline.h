/* SPDX-License-Identifier: MIT */
/*
 * The guest command line ("extra=" in the xl config): space-separated
 * words, each `key=value` or a bare `flag`.  Pure C, host-tested.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stddef.h>

/* Copy the value of `key` into buf: its length (>= 0), -ENOENT when
 * absent, -ENAMETOOLONG when it does not fit (buf holds a truncation).
 * A bare word `key` has the empty value. */
int cmdline_get(const char *cmdline, const char *key, char *buf, size_t len);
/* Numeric value: 0, -ENOENT, -EINVAL (not a number), -ERANGE. */
int cmdline_get_ulong(const char *cmdline, const char *key,
                      unsigned long *out);
/* 1 when the bare word or key is present, else 0. */
int cmdline_has(const char *cmdline, const char *key);
/* Every word's key (before '=', or the bare word) is one of known[]
 * (NULL-terminated) and appears once: 0.  Else the first offending word is
 * copied into bad (truncated to len - 1) and the result is -ENOENT (a key
 * not in the list, or an empty one) or -EEXIST (a key given twice). */
int cmdline_check(const char *cmdline, const char *const *known, char *bad,
                  size_t len);

#endif
