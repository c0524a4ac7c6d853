/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the lab measurement tools: the session header both
 * ends agree on, the byte pattern bulk transfers carry (so the receiver can
 * verify every byte), timing, and the one-line JSON result format
 * ("ivcom-result: {...}") the lab scenarios collect.
 */
#ifndef IVCOM_LAB_LABSTAT_H
#define IVCOM_LAB_LABSTAT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAB_MAGIC   0x49564c42u  /* "IVLB" */
#define LAB_MODE_RR   1u         /* ping-pong of `size` bytes, `count` times */
#define LAB_MODE_BULK 2u         /* size * count bytes one way, then a verdict */
#define LAB_MODE_RRT  3u         /* ping-pong of `size` bytes for `count` seconds */

struct lab_hdr {
    uint32_t magic;
    uint32_t mode;
    uint32_t size;
    uint32_t count;
};

/* Byte i of a bulk stream: position dependent so that loss, reordering or
 * duplication all show up as a mismatch. */
static inline uint8_t lab_pattern(uint64_t i)
{
    return (uint8_t)(i * 131u + (i >> 9) + 7u);
}

static inline double lab_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int lab_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline int lab_parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (*s == '\0' || *end != '\0' || v == 0 || v > 0x7fffffffUL)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static inline int lab_parse_mode(const char *s, uint32_t *mode)
{
    if (strcmp(s, "rr") == 0)
        *mode = LAB_MODE_RR;
    else if (strcmp(s, "rrt") == 0)
        *mode = LAB_MODE_RRT;
    else if (strcmp(s, "bulk") == 0)
        *mode = LAB_MODE_BULK;
    else
        return -1;
    return 0;
}

/* The TSC span of the measured loop (Xen stamps its trace records with the
 * same counter): set by lab_span(0) before and lab_span(1) after. */
static uint64_t lab_tsc[2];

static inline void lab_span(int end)
{
#if defined(__x86_64__) || defined(__i386__)
    uint32_t lo, hi;

    __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    lab_tsc[end ? 1 : 0] = ((uint64_t)hi << 32) | lo;
#else
    lab_tsc[end ? 1 : 0] = 0;
#endif
}

/* Round trips: sorts `us` in place and prints the distribution. */
static inline void lab_report_rr(const char *transport, uint32_t size, uint32_t count,
                                 double *us)
{
    qsort(us, count, sizeof(*us), lab_cmp_double);
    printf("ivcom-result: {\"transport\": \"%s\", \"mode\": \"rr\", \"size\": %u, "
           "\"count\": %u, \"median_us\": %.2f, \"p10_us\": %.2f, \"p90_us\": %.2f, "
           "\"min_us\": %.2f, \"max_us\": %.2f, \"tsc_begin\": %llu, \"tsc_end\": %llu}\n",
           transport, size, count, us[count / 2], us[count / 10],
           us[(count * 9) / 10], us[0], us[count - 1], (unsigned long long)lab_tsc[0],
           (unsigned long long)lab_tsc[1]);
    fflush(stdout);
}

static inline void lab_report_bulk(const char *transport, uint64_t bytes, double us,
                                   int verified)
{
    printf("ivcom-result: {\"transport\": \"%s\", \"mode\": \"bulk\", \"bytes\": %llu, "
           "\"seconds\": %.6f, \"mb_per_s\": %.2f, \"verified\": %s, \"tsc_begin\": %llu, "
           "\"tsc_end\": %llu}\n",
           transport, (unsigned long long)bytes, us / 1e6,
           us > 0 ? (double)bytes / us : 0.0, verified ? "true" : "false",
           (unsigned long long)lab_tsc[0], (unsigned long long)lab_tsc[1]);
    fflush(stdout);
}

/* A transport: partial reads and writes, each returning how many bytes
 * moved (0: none yet, try again) or < 0 once it failed or the peer left. */
struct lab_io {
    long (*read_some)(void *ctx, void *buf, size_t len);
    long (*write_some)(void *ctx, const void *buf, size_t len);
    void *ctx;
};

/* Read exactly len bytes: 0, or -1. */
static inline int lab_read(const struct lab_io *io, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        long n = io->read_some(io->ctx, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write exactly len bytes: 0, or -1. */
static inline int lab_write(const struct lab_io *io, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        long n = io->write_some(io->ctx, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Round trips, server side: echo `count` messages (rr), or until the
 * client marks its last one with byte 0 = 1 (rrt). */
static inline int lab_rr_serve(const struct lab_hdr *h, const struct lab_io *io,
                               uint8_t *buf, size_t cap)
{
    if (h->size > cap)
        return -1;
    for (uint32_t i = 0; h->mode == LAB_MODE_RRT || i < h->count; i++) {
        if (lab_read(io, buf, h->size) || lab_write(io, buf, h->size))
            return -1;
        if (h->mode == LAB_MODE_RRT && buf[0] == 1)
            break;
    }
    return 0;
}

/* Bulk, receiving side: size * count bytes, each checked against
 * lab_pattern(); the verdict sent back is that count if all matched, else
 * 0.  0, or -1 if the transport failed. */
static inline int lab_bulk_serve(const struct lab_hdr *h, const struct lab_io *io,
                                 uint8_t *buf, size_t cap)
{
    uint64_t total = (uint64_t)h->size * h->count, got = 0, good;
    int ok = 1;

    while (got < total) {
        size_t want = total - got < cap ? (size_t)(total - got) : cap;
        long n = io->read_some(io->ctx, buf, want);
        if (n < 0)
            return -1;
        for (long i = 0; i < n; i++)
            if (buf[i] != lab_pattern(got + (uint64_t)i))
                ok = 0;
        got += (uint64_t)n;
    }
    good = ok ? got : 0;
    return lab_write(io, &good, sizeof(good));
}

/* A session, server side (the header already read): 0, or -1. */
static inline int lab_serve(const struct lab_hdr *h, const struct lab_io *io, uint8_t *buf,
                            size_t cap)
{
    if (h->mode == LAB_MODE_RR || h->mode == LAB_MODE_RRT)
        return lab_rr_serve(h, io, buf, cap);
    if (h->mode == LAB_MODE_BULK)
        return lab_bulk_serve(h, io, buf, cap);
    return -1;
}

/* Bulk, sending side (the header already sent): the pattern in writes of
 * up to `cap` bytes, then the receiver's verdict; prints the result.  0 if
 * every byte arrived intact, else 1. */
static inline int lab_bulk_client(const char *transport, const struct lab_hdr *h,
                                  const struct lab_io *io, uint8_t *out, size_t cap)
{
    uint64_t total = (uint64_t)h->size * h->count, sent = 0, verdict = 0;
    double t0 = lab_now_us();

    lab_span(0);
    while (sent < total) {
        size_t n = total - sent < cap ? (size_t)(total - sent) : cap;
        for (size_t i = 0; i < n; i++)
            out[i] = lab_pattern(sent + i);
        if (lab_write(io, out, n))
            return 1;
        sent += n;
    }
    if (lab_read(io, &verdict, sizeof(verdict)))
        return 1;
    lab_span(1);
    lab_report_bulk(transport, total, lab_now_us() - t0, verdict == total);
    return verdict == total ? 0 : 1;
}

/* Round trips, client side (the header already sent): `count` rounds, or
 * rounds for `count` seconds; every echo is checked; prints the result.
 * 0, or 1. */
static inline int lab_rr_client(const char *transport, const struct lab_hdr *h,
                                const struct lab_io *io, uint8_t *out, uint8_t *in)
{
    int timed = h->mode == LAB_MODE_RRT;
    size_t cap = timed ? 65536 : h->count, n = 0;
    double end = timed ? lab_now_us() + h->count * 1e6 : 0;
    double *us = calloc(cap, sizeof(*us));
    int last = 0;

    if (!us)
        return 1;
    for (uint32_t i = 0; i < h->size; i++)
        out[i] = lab_pattern(i);
    lab_span(0);
    while (!last) {
        double t0 = lab_now_us();
        if (timed) {
            last = t0 >= end;
            out[0] = (uint8_t)last;
            if (h->size > 1)
                out[1] = (uint8_t)n;
        } else {
            out[0] = (uint8_t)n;
            last = n + 1 == h->count;
        }
        if (lab_write(io, out, h->size) || lab_read(io, in, h->size)) {
            fprintf(stderr, "lab-%s: round %zu failed\n", transport, n);
            free(us);
            return 1;
        }
        if (memcmp(in, out, h->size) != 0) {
            fprintf(stderr, "lab-%s: echo mismatch at round %zu\n", transport, n);
            free(us);
            return 1;
        }
        if (n == cap) {
            double *more = realloc(us, 2 * cap * sizeof(*us));
            if (!more) {
                free(us);
                return 1;
            }
            us = more;
            cap *= 2;
        }
        us[n++] = lab_now_us() - t0;
    }
    lab_span(1);
    lab_report_rr(transport, h->size, (uint32_t)n, us);
    free(us);
    return 0;
}

#endif
