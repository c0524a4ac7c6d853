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
    else if (strcmp(s, "bulk") == 0)
        *mode = LAB_MODE_BULK;
    else
        return -1;
    return 0;
}

/* Round trips: sorts `us` in place and prints the distribution. */
static inline void lab_report_rr(const char *transport, uint32_t size, uint32_t count,
                                 double *us)
{
    qsort(us, count, sizeof(*us), lab_cmp_double);
    printf("ivcom-result: {\"transport\": \"%s\", \"mode\": \"rr\", \"size\": %u, "
           "\"count\": %u, \"median_us\": %.2f, \"p10_us\": %.2f, \"p90_us\": %.2f, "
           "\"min_us\": %.2f, \"max_us\": %.2f}\n",
           transport, size, count, us[count / 2], us[count / 10],
           us[(count * 9) / 10], us[0], us[count - 1]);
    fflush(stdout);
}

static inline void lab_report_bulk(const char *transport, uint64_t bytes, double us,
                                   int verified)
{
    printf("ivcom-result: {\"transport\": \"%s\", \"mode\": \"bulk\", \"bytes\": %llu, "
           "\"seconds\": %.6f, \"mb_per_s\": %.2f, \"verified\": %s}\n",
           transport, (unsigned long long)bytes, us / 1e6,
           us > 0 ? (double)bytes / us : 0.0, verified ? "true" : "false");
    fflush(stdout);
}

#endif
