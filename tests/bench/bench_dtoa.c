//  bench_dtoa.c - the cost of wbi_dtoa next to snprintf("%.17g") and the old loop
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_dtoa [count]   (default 1000000 values a data set)
//  Formats count random finite doubles (random bit patterns) and count
//  metric-like values (decaying losses, accuracies, learning rates, step
//  times) with three variants: wbi_dtoa, snprintf("%.17g") and the old
//  wbi_jsonx_put_double loop (%.15g..%.17g until strtod reads it back).
//  Reports the best of five passes as ns per value, one JSON line a figure
//  ({bench, variant, metric, value, unit, baseline, ratio}, ratio = value /
//  baseline, so 0.1 means ten times faster), and a summary on stderr.
#include "common/dtoa.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PASSES 5

typedef size_t (*s_format_fn)(double d, char *out);

// Monotonic clock in nanoseconds.
static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// xorshift64*: a fixed-seed source of bit patterns.
static uint64_t s_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

// The variant under test.
static size_t s_format_dtoa(double d, char *out)
{
    return wbi_dtoa(d, out);
}

// What a plain printf-based writer pays (not shortest: 0.1 -> 0.10000000000000001).
static size_t s_format_17g(double d, char *out)
{
    return (size_t)snprintf(out, WBI_DTOA_BUFSIZE, "%.17g", d);
}

// The loop wbi_jsonx_put_double used before wbi_dtoa.
static size_t s_format_old(double d, char *out)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, WBI_DTOA_BUFSIZE, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    return (size_t)n;
}

// Fills v with n finite doubles from random bit patterns.
static void s_fill_random(double *v, size_t n)
{
    uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
    for (size_t i = 0; i < n;) {
        uint64_t bits = s_rand(&state);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isfinite(d))
            v[i++] = d;
    }
}

// Fills v with what training scripts log: losses, accuracies, rates, times.
static void s_fill_metric(double *v, size_t n)
{
    uint64_t state = 42;
    for (size_t i = 0; i < n; i++) {
        double step = (double)(i / 4);
        double noise = (double)(s_rand(&state) >> 11) / 9007199254740992.0 - 0.5;
        switch (i % 4) {
        case 0: // loss
            v[i] = 2.5 * exp(-step / 50000.0) + 0.05 + 0.01 * noise;
            break;
        case 1: // accuracy
            v[i] = 1.0 - 0.9 * exp(-step / 80000.0) + 0.001 * noise;
            break;
        case 2: // learning rate
            v[i] = 3e-4 * pow(0.99999, step);
            break;
        default: // seconds per step
            v[i] = 0.125 + 0.002 * noise;
            break;
        }
    }
}

// Best of S_PASSES passes over v, in ns per value; *sink keeps the work alive.
static double s_time(s_format_fn fn, const double *v, size_t n, uint64_t *sink)
{
    double best = INFINITY;
    char out[WBI_DTOA_BUFSIZE];
    for (int pass = 0; pass < S_PASSES; pass++) {
        uint64_t t0 = s_now_ns();
        for (size_t i = 0; i < n; i++)
            *sink += fn(v[i], out) + (unsigned char)out[0];
        double ns = (double)(s_now_ns() - t0) / (double)n;
        if (ns < best)
            best = ns;
    }
    return best;
}

// Prints one figure as a JSON line.
static void s_emit(const char *variant, const char *metric, double value, const char *baseline,
                   double base_value)
{
    printf("{\"bench\":\"dtoa\",\"variant\":\"%s\",\"metric\":\"%s\",\"value\":%.1f,"
           "\"unit\":\"ns\",\"baseline\":\"%s\",\"ratio\":%.3f}\n",
           variant, metric, value, baseline, base_value > 0 ? value / base_value : 0.0);
}

// Times the three variants on one data set and reports them.
static void s_run(const char *set, const double *v, size_t n, uint64_t *sink)
{
    char metric[64];
    snprintf(metric, sizeof metric, "ns_per_value_%s", set);
    double t17 = s_time(s_format_17g, v, n, sink);
    double told = s_time(s_format_old, v, n, sink);
    double tdtoa = s_time(s_format_dtoa, v, n, sink);
    s_emit("snprintf %.17g", metric, t17, "", 0);
    s_emit("old loop", metric, told, "snprintf %.17g", t17);
    s_emit("wbi_dtoa", metric, tdtoa, "snprintf %.17g", t17);
    s_emit("wbi_dtoa", metric, tdtoa, "old loop", told);
    fprintf(stderr, "%-7s  wbi_dtoa %6.1f ns  %%.17g %6.1f ns (%.1fx)  old loop %6.1f ns (%.1fx)\n",
            set, tdtoa, t17, t17 / tdtoa, told, told / tdtoa);
}

// Builds both data sets and runs the variants on each.
int main(int argc, char **argv)
{
    size_t n = 1000000;
    if (argc > 1) {
        char *end;
        unsigned long long c = strtoull(argv[1], &end, 10);
        if (*end != '\0' || c == 0 || c > 100000000) {
            fprintf(stderr, "usage: bench_dtoa [count]\n");
            return 2;
        }
        n = (size_t)c;
    }
    double *v = malloc(n * sizeof *v);
    if (!v) {
        fprintf(stderr, "bench_dtoa: out of memory\n");
        return 1;
    }
    uint64_t sink = 0;
    s_fill_random(v, n);
    s_run("random", v, n, &sink);
    s_fill_metric(v, n);
    s_run("metric", v, n, &sink);
    free(v);
    fprintf(stderr, "(checksum %llu)\n", (unsigned long long)sink);
    return 0;
}
