/* SPDX-License-Identifier: MIT */
/*
 * lab-vecstate SECONDS: does a process's vector register state survive
 * context switches on this (virtual) machine?
 *
 * Each round loads a pattern into all sixteen vector registers (ymm with
 * AVX, else xmm), gives the CPU away 200 times with raw sched_yield
 * system calls -- nothing in between touches a vector register, so every
 * byte must come back -- then stores the registers and compares.  Run two
 * or three at once so that the yields switch between them.
 *
 * Prints one line:
 *   lab-vecstate: regs=ymm|xmm rounds=N bad_rounds=B bad_bytes=K
 * and exits 0 when B is 0, 1 otherwise.  (On QEMU 7.2's TCG with XSAVE
 * offered to Xen 4.17, a quarter of the rounds came back wrong; without
 * XSAVE none did.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define YIELDS 200

/* Sixteen registers of W bytes: load from in, yield, store to out. */
#define VEC_ROUND(LD, ST, W, in, out)                                           \
    __asm__ volatile(                                                           \
        LD " 0*" #W "(%0), %%" R(0) "\n\t" LD " 1*" #W "(%0), %%" R(1) "\n\t"  \
        LD " 2*" #W "(%0), %%" R(2) "\n\t" LD " 3*" #W "(%0), %%" R(3) "\n\t"  \
        LD " 4*" #W "(%0), %%" R(4) "\n\t" LD " 5*" #W "(%0), %%" R(5) "\n\t"  \
        LD " 6*" #W "(%0), %%" R(6) "\n\t" LD " 7*" #W "(%0), %%" R(7) "\n\t"  \
        LD " 8*" #W "(%0), %%" R(8) "\n\t" LD " 9*" #W "(%0), %%" R(9) "\n\t"  \
        LD " 10*" #W "(%0), %%" R(10) "\n\t" LD " 11*" #W "(%0), %%" R(11) "\n\t" \
        LD " 12*" #W "(%0), %%" R(12) "\n\t" LD " 13*" #W "(%0), %%" R(13) "\n\t" \
        LD " 14*" #W "(%0), %%" R(14) "\n\t" LD " 15*" #W "(%0), %%" R(15) "\n\t" \
        "mov %2, %%r12\n\t"                                                     \
        "1: mov $24, %%eax\n\t"          /* __NR_sched_yield */                \
        "syscall\n\t"                                                           \
        "dec %%r12\n\t"                                                         \
        "jnz 1b\n\t"                                                            \
        ST " %%" R(0) ", 0*" #W "(%1)\n\t" ST " %%" R(1) ", 1*" #W "(%1)\n\t"  \
        ST " %%" R(2) ", 2*" #W "(%1)\n\t" ST " %%" R(3) ", 3*" #W "(%1)\n\t"  \
        ST " %%" R(4) ", 4*" #W "(%1)\n\t" ST " %%" R(5) ", 5*" #W "(%1)\n\t"  \
        ST " %%" R(6) ", 6*" #W "(%1)\n\t" ST " %%" R(7) ", 7*" #W "(%1)\n\t"  \
        ST " %%" R(8) ", 8*" #W "(%1)\n\t" ST " %%" R(9) ", 9*" #W "(%1)\n\t"  \
        ST " %%" R(10) ", 10*" #W "(%1)\n\t" ST " %%" R(11) ", 11*" #W "(%1)\n\t" \
        ST " %%" R(12) ", 12*" #W "(%1)\n\t" ST " %%" R(13) ", 13*" #W "(%1)\n\t" \
        ST " %%" R(14) ", 14*" #W "(%1)\n\t" ST " %%" R(15) ", 15*" #W "(%1)\n\t" \
        : : "r"(in), "r"(out), "r"((long)YIELDS)                               \
        : "rax", "rcx", "r11", "r12", "memory", "xmm0", "xmm1", "xmm2", "xmm3",  \
          "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",      \
          "xmm12", "xmm13", "xmm14", "xmm15")

static uint8_t in[16 * 32] __attribute__((aligned(32)));
static uint8_t out[16 * 32] __attribute__((aligned(32)));

#define R(n) "ymm" #n
static void round_ymm(void)
{
    VEC_ROUND("vmovdqu", "vmovdqu", 32, in, out);
    __asm__ volatile("vzeroupper" ::: "memory");
}
#undef R
#define R(n) "xmm" #n
static void round_xmm(void)
{
    VEC_ROUND("movdqu", "movdqu", 16, in, out);
}
#undef R

int main(int argc, char **argv)
{
    char *end;
    long secs = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    int avx = __builtin_cpu_supports("avx");
    size_t bytes = avx ? sizeof(in) : sizeof(in) / 2, i;
    unsigned long rounds = 0, bad_rounds = 0, bad_bytes = 0;
    time_t stop;

    if (secs <= 0 || secs > 3600 || *end) {
        fprintf(stderr, "usage: lab-vecstate SECONDS (1..3600)\n");
        return 2;
    }
    stop = time(NULL) + secs;
    while (time(NULL) < stop) {
        unsigned long bad = 0;

        for (i = 0; i < bytes; i++)
            in[i] = (uint8_t)((rounds * 131 + i) | 1);      /* never 0 */
        memset(out, 0, sizeof(out));
        if (avx)
            round_ymm();
        else
            round_xmm();
        for (i = 0; i < bytes; i++)
            bad += in[i] != out[i];
        bad_rounds += bad != 0;
        bad_bytes += bad;
        rounds++;
    }
    printf("lab-vecstate: regs=%s rounds=%lu bad_rounds=%lu bad_bytes=%lu\n",
           avx ? "ymm" : "xmm", rounds, bad_rounds, bad_bytes);
    return bad_rounds ? 1 : 0;
}
