/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the C tests: one behaviour per program, exit 0 pass,
 * 1 fail, 77 skip (the automake convention the runner understands).
 */
#ifndef IVCOM_TEST_HELPERS_H
#define IVCOM_TEST_HELPERS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

#define T_FAIL(...) do {                                                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        exit(T_EXIT_FAIL);                                                  \
    } while (0)

#define T_SKIP(...) do {                                                    \
        fprintf(stderr, "SKIP: ");                                          \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        exit(T_EXIT_SKIP);                                                  \
    } while (0)

#define T_ASSERT(cond) do {                                                 \
        if (!(cond))                                                        \
            T_FAIL("assertion failed: %s", #cond);                          \
    } while (0)

/* Compare integers, printing both sides (errnos as names help). */
#define T_EQ(a, b) do {                                                     \
        long long _a = (long long)(a), _b = (long long)(b);                 \
        if (_a != _b)                                                       \
            T_FAIL("%s == %lld, expected %s == %lld", #a, _a, #b, _b);      \
    } while (0)

/* Deterministic pattern so that every delivered byte can be checked. */
static inline unsigned char t_pattern(unsigned long long pos)
{
    unsigned long long x = pos * 0x9e3779b97f4a7c15ull;
    return (unsigned char)(x >> 56);
}

#endif
