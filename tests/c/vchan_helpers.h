/* SPDX-License-Identifier: MIT */
/* vchan tests: patterned transfers over ivcom/vchan.h, checked byte by
 * byte (t_pattern of the stream position). */
#ifndef IVCOM_VCHAN_HELPERS_H
#define IVCOM_VCHAN_HELPERS_H

#include "chan_helpers.h"
#include "ivcom/vchan.h"

#define T_VCHAN_TIMEOUT 10000

/* The server's path, relative (as programs pass it) and absolute. */
static inline void t_vchan_path(char *buf, size_t len, int server, int client,
                                const char *name, int absolute)
{
    if (absolute)
        snprintf(buf, len, "/local/domain/%d/data/vchan/%d/%s", server, client, name);
    else
        snprintf(buf, len, "data/vchan/%d/%s", client, name);
}

/* Write `total` patterned bytes in chunks of varying size (stream). */
static inline void t_vchan_write_pattern(struct ivcom_vchan *v, size_t total)
{
    unsigned char buf[7919];
    size_t pos = 0, chunk = 1;

    while (pos < total) {
        size_t n = chunk < total - pos ? chunk : total - pos, i;
        ssize_t r;

        for (i = 0; i < n; i++)
            buf[i] = t_pattern(pos + i);
        r = ivcom_vchan_write(v, buf, n, T_VCHAN_TIMEOUT);
        if (r <= 0)
            T_FAIL("vchan write at %zu: %s", pos, ivcom_strerror((int)r));
        pos += (size_t)r;
        chunk = chunk * 3 % sizeof(buf) + 1;
    }
}

static inline void t_vchan_read_pattern(struct ivcom_vchan *v, size_t total)
{
    unsigned char buf[6007];
    size_t pos = 0, chunk = 5;

    while (pos < total) {
        size_t n = chunk < total - pos ? chunk : total - pos, i;
        ssize_t r = ivcom_vchan_read(v, buf, n, T_VCHAN_TIMEOUT);

        if (r <= 0)
            T_FAIL("vchan read at %zu: %s", pos, ivcom_strerror((int)r));
        for (i = 0; i < (size_t)r; i++)
            if (buf[i] != t_pattern(pos + i))
                T_FAIL("byte %zu: got %#x, expected %#x", pos + i, buf[i], t_pattern(pos + i));
        pos += (size_t)r;
        chunk = chunk * 7 % sizeof(buf) + 1;
    }
}

/* Packets of `size` bytes each, numbered by their first bytes. */
static inline void t_vchan_send_packets(struct ivcom_vchan *v, size_t size, unsigned count)
{
    static unsigned char buf[1u << 20];
    unsigned k;
    size_t i;

    for (k = 0; k < count; k++) {
        for (i = 0; i < size; i++)
            buf[i] = t_pattern((unsigned long long)k * size + i);
        T_EQ(ivcom_vchan_send(v, buf, size, T_VCHAN_TIMEOUT), (long long)size);
    }
}

static inline void t_vchan_recv_packets(struct ivcom_vchan *v, size_t size, unsigned count)
{
    static unsigned char buf[1u << 20];
    unsigned k;
    size_t i;

    for (k = 0; k < count; k++) {
        T_EQ(ivcom_vchan_recv(v, buf, size, T_VCHAN_TIMEOUT), (long long)size);
        for (i = 0; i < size; i++)
            if (buf[i] != t_pattern((unsigned long long)k * size + i))
                T_FAIL("packet %u byte %zu differs", k, i);
    }
}

#endif
