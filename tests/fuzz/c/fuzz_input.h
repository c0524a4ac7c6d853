/* SPDX-License-Identifier: MIT */
/*
 * Fuzz input as a byte cursor.  Reads past the end yield zeros, so every
 * input -- even an empty one -- is a complete program.  Also the checks
 * every target shares: a failed invariant prints one line and aborts, so
 * libFuzzer (or the replay main) reports the input as a crash.
 */
#ifndef IVCOM_FUZZ_INPUT_H
#define IVCOM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fin {
    const uint8_t *p;
    size_t n;
};

static inline int fin_more(const struct fin *f)
{
    return f->n > 0;
}

static inline uint8_t fin_u8(struct fin *f)
{
    uint8_t v = 0;

    if (f->n) {
        v = *f->p++;
        f->n--;
    }
    return v;
}

static inline uint16_t fin_u16(struct fin *f)
{
    uint16_t lo = fin_u8(f);

    return (uint16_t)(lo | (uint16_t)fin_u8(f) << 8);
}

static inline uint32_t fin_u32(struct fin *f)
{
    uint32_t lo = fin_u16(f);

    return lo | (uint32_t)fin_u16(f) << 16;
}

/* Copy up to len bytes (the rest zero); returns how many came from input. */
static inline size_t fin_bytes(struct fin *f, void *out, size_t len)
{
    size_t n = len < f->n ? len : f->n;

    memcpy(out, f->p, n);
    memset((uint8_t *)out + n, 0, len - n);
    f->p += n;
    f->n -= n;
    return n;
}

#define FUZZ_CHECK(cond, ...) do {                                          \
        if (!(cond)) {                                                      \
            fprintf(stderr, "invariant broken at %s:%d: %s: ",              \
                    __FILE__, __LINE__, #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Read every byte of a span the library handed out, so that ASan sees an
 * access to each of them; the sum keeps the loop from being elided. */
static inline unsigned fuzz_touch(const void *buf, size_t len)
{
    const volatile uint8_t *b = buf;
    unsigned s = 0;
    size_t i;

    for (i = 0; i < len; i++)
        s += b[i];
    return s;
}

#endif
