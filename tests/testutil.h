//  testutil.h - checks and a runner shared by every test program
//  SPDX-License-Identifier: MIT
//
//  A test file defines static void test_<behaviour>(void) functions and ends
//  with WBT_MAIN({"name", fn}, ...). A failed check prints file:line, both
//  values and wandb_strerror() of an unexpected code, then exits 1.
#ifndef WANDB_TESTUTIL_H
#define WANDB_TESTUTIL_H

#include "wandb.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WBT_FAIL(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
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

// Runs every case (or only the one named in argv[1]) and prints one line a
// case plus the closing "N passed, 0 failed" line.
static inline int wbt_run(const wbt_case_t *cases, size_t n, int argc, char **argv)
{
    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        fprintf(stderr, "-- %s\n", cases[i].name);
        cases[i].fn();
        ran++;
    }
    printf("%zu passed, 0 failed\n", ran);
    return ran ? 0 : 1;
}

#define WBT_MAIN(...)                                                                              \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const wbt_case_t cases[] = {__VA_ARGS__};                                           \
        return wbt_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);                       \
    }

#endif
