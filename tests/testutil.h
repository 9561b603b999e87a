//  testutil.h - checks and a runner shared by every test program
//  SPDX-License-Identifier: MIT
//
//  A test file defines static void test_<behaviour>(void) functions and ends
//  with WBT_MAIN({"name", fn}, ...). A failed check prints file:line, both
//  values (CHECK_EQ_I64/U64/DBL/STR in their own format) and wandb_strerror()
//  of an unexpected code, then the runner's summary, then exits 1.
//
//  Exit codes, as CTest reads them (every test has SKIP_RETURN_CODE 77):
//  0 every case passed, 1 a check failed, 77 skipped. WBT_SKIP() inside a
//  case skips that case (the others still run, then the program exits 77, so
//  CTest reports it as skipped, never as passed); WBT_SKIP_ALL() exits 77 at
//  once, for a missing prerequisite of the whole program.
#ifndef WANDB_TESTUTIL_H
#define WANDB_TESTUTIL_H

#include "wandb.h"
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WBT_EXIT_SKIP 77

// The runner's counts. One per translation unit: checks that fail in another
// file (a harness) exit without the summary.
typedef struct {
    bool active;     // inside wbt_run
    bool case_skip;  // the running case called WBT_SKIP
    size_t selected; // cases wbt_run will run
    size_t passed;
    size_t skipped;
    size_t failed;
} wbt_state_t;

static inline wbt_state_t *wbt_state(void)
{
    static wbt_state_t state;
    return &state;
}

// Prints the closing "N passed, F failed, S skipped" line (plus the cases a
// failure left unrun).
static inline void wbt_summary(const wbt_state_t *st)
{
    size_t done = st->passed + st->failed + st->skipped;
    printf("%zu passed, %zu failed, %zu skipped", st->passed, st->failed, st->skipped);
    if (done < st->selected)
        printf(", %zu not run", st->selected - done);
    printf("\n");
    fflush(stdout);
}

// A check failed: counts it, prints the summary and exits 1. The process may
// be in any state after a failed check, so the remaining cases do not run.
static inline _Noreturn void wbt_fail_exit(void)
{
    wbt_state_t *st = wbt_state();
    if (st->active) {
        st->active = false;
        st->failed++;
        wbt_summary(st);
    }
    exit(1);
}

#define WBT_FAIL(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        wbt_fail_exit();                                                                           \
    } while (0)

// Skips the whole program: prints "SKIP: <why>" and exits 77 at once.
#define WBT_SKIP_ALL(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        fflush(NULL);                                                                              \
        exit(WBT_EXIT_SKIP);                                                                       \
    } while (0)

// Skips the running case: prints "SKIP <file>:<line>: <why>" and returns from
// the case function (use it there, not in a helper). The program then exits
// 77 once the other cases have run.
#define WBT_SKIP(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        wbt_state()->case_skip = true;                                                             \
        return;                                                                                    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            WBT_FAIL("check failed: %s", #cond);                                                   \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b)                                                                              \
            WBT_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);                                    \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (!_a || !_b || strcmp(_a, _b) != 0)                                                     \
            WBT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",                     \
                     _b ? _b : "(null)");                                                          \
    } while (0)

// Typed equality checks: the values are converted to the named type and
// printed in its format. CHECK_EQ_DBL compares with == (NaN equals nothing)
// and prints 17 significant digits; CHECK_EQ_STR takes NULL as equal to NULL
// only.
#define CHECK_EQ_I64(a, b)                                                                         \
    do {                                                                                           \
        int64_t wbt_a_ = (int64_t)(a), wbt_b_ = (int64_t)(b);                                      \
        if (wbt_a_ != wbt_b_)                                                                      \
            WBT_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, wbt_a_, wbt_b_);                 \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t wbt_a_ = (uint64_t)(a), wbt_b_ = (uint64_t)(b);                                   \
        if (wbt_a_ != wbt_b_)                                                                      \
            WBT_FAIL("%s == %s: %" PRIu64 " (0x%" PRIx64 ") != %" PRIu64 " (0x%" PRIx64 ")", #a,   \
                     #b, wbt_a_, wbt_a_, wbt_b_, wbt_b_);                                          \
    } while (0)

#define CHECK_EQ_DBL(a, b)                                                                         \
    do {                                                                                           \
        double wbt_a_ = (double)(a), wbt_b_ = (double)(b);                                         \
        if (!(wbt_a_ == wbt_b_))                                                                   \
            WBT_FAIL("%s == %s: %.17g != %.17g", #a, #b, wbt_a_, wbt_b_);                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *wbt_a_ = (a), *wbt_b_ = (b);                                                   \
        if ((wbt_a_ || wbt_b_) && (!wbt_a_ || !wbt_b_ || strcmp(wbt_a_, wbt_b_) != 0))             \
            WBT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, wbt_a_ ? wbt_a_ : "(null)",             \
                     wbt_b_ ? wbt_b_ : "(null)");                                                  \
    } while (0)

#define CHECK_ERR(expr, want)                                                                      \
    do {                                                                                           \
        wandb_err _e = (expr);                                                                     \
        if (_e != (want))                                                                          \
            WBT_FAIL("%s: got %d (%s), want %d (%s)", #expr, (int)_e, wandb_strerror(_e),          \
                     (int)(want), wandb_strerror(want));                                           \
    } while (0)

#define CHECK_OK(expr) CHECK_ERR(expr, WANDB_OK)

typedef struct {
    const char *name;
    void (*fn)(void);
} wbt_case_t;

// Runs every case (or only the one named in argv[1]), printing one line a
// case and then the summary line. Returns 0 when every case passed, 77 when
// one was skipped, 1 when no case has that name; a failed check exits 1.
static inline int wbt_run(const wbt_case_t *cases, size_t n, int argc, char **argv)
{
    wbt_state_t *st = wbt_state();
    *st = (wbt_state_t){.active = true};
    for (size_t i = 0; i < n; i++)
        st->selected += !(argc > 1 && strcmp(argv[1], cases[i].name) != 0);
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        fprintf(stderr, "-- %s\n", cases[i].name);
        st->case_skip = false;
        cases[i].fn();
        if (st->case_skip)
            st->skipped++;
        else
            st->passed++;
    }
    st->active = false;
    if (st->selected == 0) {
        fprintf(stderr, "no case named '%s'\n", argc > 1 ? argv[1] : "");
        return 1;
    }
    wbt_summary(st);
    return st->skipped ? WBT_EXIT_SKIP : 0;
}

#define WBT_MAIN(...)                                                                              \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const wbt_case_t cases[] = {__VA_ARGS__};                                           \
        return wbt_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);                       \
    }

#endif
