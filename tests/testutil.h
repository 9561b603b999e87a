//  testutil.h - checks and a runner shared by every test program
//  SPDX-License-Identifier: MIT
//
//  A test file defines static void test_<behaviour>(void) functions and ends
//  with WBT_MAIN({"name", fn}, ...). A failed check prints file:line, both
//  values (CHECK_EQ_I64/U64/DBL/STR in their own format) and wandb_strerror()
//  of an unexpected code, then the runner's summary, then exits 1.
//
//  Each case runs in its own process with a timeout (libuv's runner is the
//  model): a case that crashes or hangs is named, and the others still run.
//
//  Exit codes, as CTest reads them (every test has SKIP_RETURN_CODE 77):
//  0 every case passed, 1 a case failed, 77 skipped. WBT_SKIP() inside a
//  case skips that case (the others still run, then the program exits 77, so
//  CTest reports it as skipped, never as passed); WBT_SKIP_ALL() exits 77 at
//  once, for a missing prerequisite of the whole program.
#ifndef WANDB_TESTUTIL_H
#define WANDB_TESTUTIL_H

#include "wandb.h"
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

// True at compile time when x has a floating type.
#define WBT_IS_FLOAT(x) _Generic((x), float : 1, double : 1, long double : 1, default : 0)

// Integers of any type, compared as long long. A floating value is refused
// at compile time (it would be truncated): use CHECK_EQ_DBL.
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        _Static_assert(!WBT_IS_FLOAT(a) && !WBT_IS_FLOAT(b),                                       \
                       "CHECK_EQ on a floating value: use CHECK_EQ_DBL");                          \
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

// Removes one entry of a tree (nftw callback, children first).
static inline int wbt_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

// Removes the directory tree dir (rm -rf without a shell). Returns 0 on
// success, else -1.
static inline int wbt_rm_tree(const char *dir)
{
    return nftw(dir, wbt_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

// The scratch directory of wbt_work_dir and the process that made it.
static inline char *wbt__work_path(void)
{
    static char path[96];
    return path;
}
static inline pid_t *wbt__work_owner(void)
{
    static pid_t pid;
    return &pid;
}

// Removes the scratch directory of wbt_work_dir, only in the process that
// made it (a forked case leaves it alone). Registered at exit; safe to call
// again.
static inline void wbt_work_dir_remove(void)
{
    char *path = wbt__work_path();
    if (path[0] && *wbt__work_owner() == getpid())
        wbt_rm_tree(path);
    path[0] = '\0';
}

// Makes the test program's scratch directory /tmp/wbt-<name>-XXXXXX, removed
// at exit. Returns its path (static storage); exits with a message when it
// cannot be made.
static inline const char *wbt_work_dir(const char *name)
{
    char *path = wbt__work_path();
    snprintf(path, 96, "/tmp/wbt-%.60s-XXXXXX", name);
    if (!mkdtemp(path)) {
        fprintf(stderr, "wbt_work_dir: cannot make %s\n", path);
        exit(1);
    }
    *wbt__work_owner() = getpid();
    atexit(wbt_work_dir_remove);
    return path;
}

// Exit codes between a case's process and the runner (inside wbt_run only).
#define WBT_EXIT_CASE_SKIP 75 // the case called WBT_SKIP; WBT_SKIP_ALL exits 77

// Seconds a case may take in its own process: $WBT_CASE_TIMEOUT_S (CMake sets
// it from the test's scaled TIMEOUT), else 300.
static inline double wbt_case_timeout_s(void)
{
    const char *env = getenv("WBT_CASE_TIMEOUT_S");
    double t = env ? strtod(env, NULL) : 0;
    return t > 0 ? t : 300;
}

// Runs one case in a child process and returns what it ended with: 0
// passed, WBT_EXIT_CASE_SKIP, WBT_EXIT_SKIP (WBT_SKIP_ALL), else failed. A
// case still running after the timeout is killed and named; so is one that
// dies of a signal. The child dies with the runner (PR_SET_PDEATHSIG), so a
// runner killed by CTest leaves no case behind.
static inline int wbt_run_forked(const wbt_case_t *c)
{
    wbt_state_t *st = wbt_state();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "case '%s': fork failed\n", c->name);
        return 1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        st->active = false; // a failed check exits 1; the runner counts it
        st->case_skip = false;
        c->fn();
        fflush(NULL);
        exit(st->case_skip ? WBT_EXIT_CASE_SKIP : 0);
    }
    double timeout_s = wbt_case_timeout_s();
    struct timespec t0, now, nap = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (got < 0 || waited > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "case '%s' timed out after %.1f s: killed\n", c->name, timeout_s);
            return 1;
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 50000000)
            nap.tv_nsec *= 2;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "case '%s' died of signal %d (%s)\n", c->name, WTERMSIG(status),
                strsignal(WTERMSIG(status)));
        return 1;
    }
    return WEXITSTATUS(status);
}

// Runs every case (or only the one named in argv[1]), each in its own
// process (wbt_run_forked; with WBT_NO_FORK=1 in this one, for a debugger),
// printing one line a case and then the summary line. A failed case does not
// stop the others (in-process, it does: the state after a failed check is
// unknown). Returns 1 when a case failed or no case has that name, else 77
// when one was skipped, else 0.
static inline int wbt_run(const wbt_case_t *cases, size_t n, int argc, char **argv)
{
    wbt_state_t *st = wbt_state();
    *st = (wbt_state_t){.active = true};
    const char *no_fork = getenv("WBT_NO_FORK");
    bool forked = !(no_fork && *no_fork && strcmp(no_fork, "0") != 0);
    for (size_t i = 0; i < n; i++)
        st->selected += !(argc > 1 && strcmp(argv[1], cases[i].name) != 0);
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        fprintf(stderr, "-- %s\n", cases[i].name);
        st->case_skip = false;
        if (!forked) {
            cases[i].fn();
            st->case_skip ? st->skipped++ : st->passed++;
            continue;
        }
        int rc = wbt_run_forked(&cases[i]);
        if (rc == WBT_EXIT_SKIP) { // WBT_SKIP_ALL: the program's prerequisite is missing
            fflush(NULL);
            exit(WBT_EXIT_SKIP);
        }
        if (rc == 0)
            st->passed++;
        else if (rc == WBT_EXIT_CASE_SKIP)
            st->skipped++;
        else
            st->failed++;
    }
    st->active = false;
    if (st->selected == 0) {
        fprintf(stderr, "no case named '%s'\n", argc > 1 ? argv[1] : "");
        return 1;
    }
    wbt_summary(st);
    return st->failed ? 1 : st->skipped ? WBT_EXIT_SKIP : 0;
}

#define WBT_MAIN(...)                                                                              \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const wbt_case_t cases[] = {__VA_ARGS__};                                           \
        return wbt_run(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);                       \
    }

#endif
