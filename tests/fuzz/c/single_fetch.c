/* SPDX-License-Identifier: MIT */
/* Description: the COMPILED consumer and producer data path reads every
 * peer-writable shared field (a record header's 8 bytes, prod, cons, the
 * event indexes) with exactly one instruction per operation.  C lets a
 * compiler split a copy out of shared memory or fetch a field again after
 * it was checked (a compiler-made double fetch, the XSA-155 class); the
 * source check cannot see that, this probe counts what the code does.
 *
 * Built and run by tests/fuzz/check_shared_reads.py with each compiler
 * and optimisation level it checks (not part of fuzz.mk):
 *   cc -O2 -g -D_GNU_SOURCE -std=gnu11 -Iivcom-core/include -Iivcom-core/src \
 *      single_fetch.c ivcom-core/src/ring.c
 *
 * How: the control page and the ring bytes are mapped PROT_NONE while an
 * operation runs.  Each access to them faults; the SIGSEGV handler records
 * the instruction, the address and whether it wrote (bit 1 of the x86-64
 * page-fault error code), opens the pages and sets the trap flag, so that
 * this one instruction runs; the SIGTRAP after it clears the flag and
 * closes the pages again.  Every instruction execution touching shared
 * memory is so seen once, at the first shared byte it touched (a
 * read-modify-write counts as a write).
 *
 * Output: one line per finding,
 *   finding|OP|FIELD|READS|WANT|WRITES|VADDR,VADDR,...
 * (READS instructions read FIELD, WANT should have; WRITES wrote it where
 * nothing may; VADDR: each instruction's address in this ELF, for
 * addr2line), then
 *   summary|OPS|ACCESSES
 * Exit 0 clean, 1 findings, 2 the counting itself failed, 77 not x86-64.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "ring.h"

#if defined(__x86_64__) && defined(__linux__)

#define ORDER       12u
#define RING_SIZE   (1u << ORDER)
#define EFLAGS_TF   0x100
#define PF_WRITE    0x2
#define MAX_ACCESS  64

struct access {
    uintptr_t rip;
    uintptr_t addr;
    int write;
};

/* Written by the signal handlers, read between operations. */
static struct access seen[MAX_ACCESS];
static volatile sig_atomic_t nseen, overflow, stepping;
static uint8_t *area;               /* control page, then the ring bytes */
static size_t area_len;
static uintptr_t load_base;         /* rip - load_base = ELF address */

static struct ivcom_ctrl *ctrl;
static uint8_t *data;

static void area_close(void)
{
    mprotect(area, area_len, PROT_NONE);
}

static void area_open(void)
{
    mprotect(area, area_len, PROT_READ | PROT_WRITE);
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uintptr_t a = (uintptr_t)si->si_addr;

    (void)sig;
    if (stepping || a < (uintptr_t)area || a >= (uintptr_t)area + area_len) {
        /* Not ours: return into the same fault with the default action. */
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    if (nseen < MAX_ACCESS) {
        seen[nseen].rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        seen[nseen].addr = a;
        seen[nseen].write = (uc->uc_mcontext.gregs[REG_ERR] & PF_WRITE) != 0;
        nseen++;
    } else {
        overflow = 1;
    }
    /* Run this one instruction with the pages open, then trap. */
    area_open();
    stepping = 1;
    uc->uc_mcontext.gregs[REG_EFL] |= EFLAGS_TF;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;

    (void)sig, (void)si;
    if (!stepping) {
        signal(SIGTRAP, SIG_DFL);
        return;
    }
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)EFLAGS_TF;
    stepping = 0;
    area_close();
}

static int main_base(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uintptr_t *)arg = (uintptr_t)info->dlpi_addr;
    return 1;                       /* the first object is the program */
}

/* ---- one operation, and what it may touch ------------------------------ */

struct want {
    const char *name;
    const void *p;
    size_t len;
    int reads;                      /* instructions that must read it */
    int writes_ok;                  /* our own index: published here */
};

static unsigned nops, naccess, nfindings;

static void finding(const char *op, const char *field, int reads, int want, int writes,
                    const uintptr_t *rips, unsigned nrips)
{
    printf("finding|%s|%s|%d|%d|%d|", op, field, reads, want, writes);
    for (unsigned i = 0; i < nrips; i++)
        printf("%s0x%lx", i ? "," : "", (unsigned long)(rips[i] - load_base));
    printf("\n");
    nfindings++;
}

static void begin(void)
{
    nseen = 0;
    overflow = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    area_close();
}

static void end(void)
{
    area_open();
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Compare what the operation touched with what it should. */
static void judge(const char *op, const struct want *w, unsigned nw)
{
    int claimed[MAX_ACCESS] = { 0 };
    unsigned n = (unsigned)nseen;

    nops++;
    naccess += n;
    if (overflow) {
        finding(op, "more shared accesses than the probe records", (int)n, 0, 0, NULL, 0);
        return;
    }
    for (unsigned i = 0; i < nw; i++) {
        uintptr_t lo = (uintptr_t)w[i].p, hi = lo + w[i].len;
        uintptr_t rips[MAX_ACCESS];
        int reads = 0, writes = 0;
        unsigned nrips = 0;

        for (unsigned k = 0; k < n; k++) {
            if (seen[k].addr < lo || seen[k].addr >= hi)
                continue;
            claimed[k] = 1;
            rips[nrips++] = seen[k].rip;
            if (seen[k].write)
                writes++;
            else
                reads++;
        }
        if (w[i].writes_ok)
            writes = 0;
        if (reads != w[i].reads || writes)
            finding(op, w[i].name, reads, w[i].reads, writes, rips, nrips);
    }
    for (unsigned k = 0; k < n; k++) {
        char what[64];

        if (claimed[k])
            continue;
        if (seen[k].addr < (uintptr_t)data)
            snprintf(what, sizeof(what), "control page byte 0x%lx",
                     (unsigned long)(seen[k].addr - (uintptr_t)ctrl));
        else
            snprintf(what, sizeof(what), "ring byte 0x%lx",
                     (unsigned long)(seen[k].addr - (uintptr_t)data));
        finding(op, what, !seen[k].write, 0, seen[k].write, &seen[k].rip, 1);
    }
}

/* The operations, out of line so that nothing of the set-up is known to
 * the compiler where the shared bytes are read. */
#define NOINLINE __attribute__((noinline))

static NOINLINE int64_t op_free(struct ivcom_ring *r)
{
    return ivcom_ring_free(r);
}

static NOINLINE int64_t op_avail(struct ivcom_ring *r)
{
    return ivcom_ring_avail(r);
}

static NOINLINE int op_msg_peek(struct ivcom_ring *r, const void **buf, size_t *len)
{
    return ivcom_ring_msg_peek(r, buf, len);
}

static NOINLINE int op_cons_publish(struct ivcom_ring *r)
{
    return ivcom_ring_cons_publish(r);
}

static NOINLINE int op_prod_publish(struct ivcom_ring *r)
{
    return ivcom_ring_prod_publish(r);
}

/* The counter itself: one volatile read is one access, two are two. */
static NOINLINE uint32_t op_calibrate(const volatile uint32_t *p, int twice)
{
    uint32_t v = *p;

    if (twice)
        v += *p;
    return v;
}

static void put(struct ivcom_ring *prod, size_t len)
{
    void *buf = NULL;

    if (ivcom_ring_msg_reserve(prod, len, &buf) != 0) {
        fprintf(stderr, "single_fetch: reserve of %zu bytes failed\n", len);
        exit(2);
    }
    memset(buf, 0x5a, len);
    ivcom_ring_msg_commit(prod);
}

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "single_fetch: %s\n", what);
        exit(2);
    }
}

int main(void)
{
    struct sigaction sa;
    struct ivcom_ring prod, cons, c;
    struct ivcom_prod_line *pl;
    struct ivcom_cons_line *cl;
    /* Both indexes start 64 bytes before the 32-bit wrap and the end of
     * the ring: the first record does not fit there and gets a PAD. */
    const uint32_t start = 0u - 64u;
    const void *buf;
    size_t len;
    char hdr_name[64], pad_name[64];
    uint32_t pad_off, data_off;

    dl_iterate_phdr(main_base, &load_base);
    area_len = IVCOM_PAGE_SIZE + RING_SIZE;
    area = mmap(NULL, area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(area != MAP_FAILED, "mmap failed");
    ctrl = (struct ivcom_ctrl *)(void *)area;
    data = area + IVCOM_PAGE_SIZE;
    pl = &ctrl->s2c_prod;
    cl = &ctrl->s2c_cons;

    memset(&sa, 0, sizeof(sa));
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGSEGV);
    sigaddset(&sa.sa_mask, SIGTRAP);
    sa.sa_sigaction = on_segv;
    expect(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction(SIGSEGV) failed");
    sa.sa_sigaction = on_trap;
    expect(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction(SIGTRAP) failed");

    /* The counter counts: one read is one, two reads are two. */
    begin();
    op_calibrate(&pl->wait_count, 0);
    end();
    expect(nseen == 1 && !seen[0].write, "one volatile read was not counted once");
    begin();
    op_calibrate(&pl->wait_count, 1);
    end();
    expect(nseen == 2, "two volatile reads were not counted twice");

    ivcom_ring_init(&prod, data, ORDER, pl, cl);
    ivcom_ring_init(&cons, data, ORDER, pl, cl);
    pl->prod = cl->cons = start;
    prod.pvt = prod.published = prod.peer = start;
    cons.pvt = cons.published = cons.peer = start;

    /* Producer: free space reads cons once. */
    {
        const struct want w[] = { { "cons", &cl->cons, 4, 1, 0 } };

        begin();
        expect(op_free(&prod) == RING_SIZE, "free space of an empty ring");
        end();
        judge("ivcom_ring_free", w, 1);
    }
    {
        const struct want w[] = { { "cons", &cl->cons, 4, 1, 0 } };
        void *sbuf;
        size_t slen;
        struct ivcom_ring p = prod;

        begin();
        expect(ivcom_ring_stream_reserve(&p, &sbuf, &slen) == 0, "stream reserve");
        end();
        judge("ivcom_ring_stream_reserve", w, 1);
    }

    /* A PAD over the last 64 bytes, then a DATA record at offset 0. */
    pad_off = prod.pvt & prod.mask;
    put(&prod, 100);
    data_off = 0;
    expect(pad_off == RING_SIZE - 64 && (prod.pvt & prod.mask) == ivcom_msg_record(100),
           "the first record wraps with a PAD");
    {
        const struct want w[] = {
            { "prod", &pl->prod, 4, 0, 1 },
            { "prod_event", &cl->prod_event, 4, 1, 0 },
        };

        begin();
        op_prod_publish(&prod);
        end();
        judge("ivcom_ring_prod_publish", w, 2);
    }

    /* Consumer: filled bytes read prod once. */
    {
        const struct want w[] = { { "prod", &pl->prod, 4, 1, 0 } };

        c = cons;
        begin();
        expect(op_avail(&c) == 64 + ivcom_msg_record(100), "filled bytes");
        end();
        judge("ivcom_ring_avail", w, 1);
    }
    {
        const struct want w[] = { { "prod", &pl->prod, 4, 1, 0 } };

        c = cons;
        begin();
        expect(ivcom_ring_stream_peek(&c, &buf, &len) == 0 && len == 64, "stream peek");
        end();
        judge("ivcom_ring_stream_peek", w, 1);
    }

    /* Message peek over the PAD and the DATA record behind it: prod once,
     * each header once. */
    snprintf(pad_name, sizeof(pad_name), "PAD record header at ring byte 0x%x", pad_off);
    snprintf(hdr_name, sizeof(hdr_name), "DATA record header at ring byte 0x%x", data_off);
    {
        const struct want w[] = {
            { "prod", &pl->prod, 4, 1, 0 },
            { pad_name, data + pad_off, sizeof(struct ivcom_msg_hdr), 1, 0 },
            { hdr_name, data + data_off, sizeof(struct ivcom_msg_hdr), 1, 0 },
        };

        begin();
        expect(op_msg_peek(&cons, &buf, &len) == 0 && len == 100 &&
               buf == data + data_off + sizeof(struct ivcom_msg_hdr), "peek past a PAD");
        end();
        judge("ivcom_ring_msg_peek", w, 3);
    }
    ivcom_ring_msg_release(&cons);
    {
        const struct want w[] = {
            { "cons", &cl->cons, 4, 0, 1 },
            { "cons_event", &pl->cons_event, 4, 1, 0 },
        };

        begin();
        op_cons_publish(&cons);
        end();
        judge("ivcom_ring_cons_publish", w, 2);
    }

    /* A DATA record with nothing before it (prod read afresh: the consumer
     * used up what it saw). */
    data_off = prod.pvt & prod.mask;
    put(&prod, 20);
    ivcom_ring_prod_publish(&prod);
    snprintf(hdr_name, sizeof(hdr_name), "DATA record header at ring byte 0x%x", data_off);
    {
        const struct want w[] = {
            { "prod", &pl->prod, 4, 1, 0 },
            { hdr_name, data + data_off, sizeof(struct ivcom_msg_hdr), 1, 0 },
        };

        begin();
        expect(op_msg_peek(&cons, &buf, &len) == 0 && len == 20, "peek of a DATA record");
        end();
        judge("ivcom_ring_msg_peek", w, 2);
    }

    printf("summary|%u|%u\n", nops, naccess);
    return nfindings ? 1 : 0;
}

#else

int main(void)
{
    printf("skip|the fault counter needs x86-64 Linux\n");
    return 77;
}

#endif
