/* SPDX-License-Identifier: MIT */
#ifndef GUEST_STDLIB_H
#define GUEST_STDLIB_H
#include <stddef.h>

/* Strict unsigned parse: 0 on success, -EINVAL on junk, -ERANGE. */
int parse_ulong(const char *s, unsigned long *out);
unsigned long strtoul(const char *s, char **end, int base);
long strtol(const char *s, char **end, int base);

/* The heap (kernel/malloc.c, on top of alloc_pages): 16-byte aligned. */
void *malloc(size_t n);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *p, size_t n);
void  free(void *p);
#endif
