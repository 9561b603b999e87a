//  test_testutil.c - the checks and the runner of tests/testutil.h
//  SPDX-License-Identifier: MIT
//
//  Each case runs a small set of inner cases in a forked child, with its
//  output in a file, and checks the exit code CTest will see (0 passed,
//  1 failed, 77 skipped) and the lines printed: both values of a failed
//  typed check, and the summary with the real counts.
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_out[8192];

// Runs cases[0..n) through wbt_run in a child, argv[1] = only when not NULL;
// leaves the child's stdout and stderr in s_out and returns its exit code.
static int s_child(const wbt_case_t *cases, size_t n, const char *only)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/wbt-testutil-%d.out", (int)getpid());
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(99);
        close(fd);
        char *argv[] = {(char *)"test_testutil", (char *)only, NULL};
        int rc = wbt_run(cases, n, only ? 2 : 1, argv);
        fflush(NULL);
        _exit(rc);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t len = fread(s_out, 1, sizeof s_out - 1, f);
    s_out[len] = '\0';
    fclose(f);
    unlink(path);
    return WEXITSTATUS(status);
}

#define CHECK_OUT(text)                                                                            \
    do {                                                                                           \
        if (!strstr(s_out, (text)))                                                                \
            WBT_FAIL("output lacks \"%s\":\n%s", (text), s_out);                                   \
    } while (0)

static void s_pass(void)
{
    CHECK_EQ(1, 1);
}

static void s_skip(void)
{
    WBT_SKIP("not here: %d", 42);
}

static void s_skip_all(void)
{
    WBT_SKIP_ALL("no %s", "prerequisite");
}

static void s_fail_i64(void)
{
    CHECK_EQ_I64(INT64_MIN, 7);
}

static void s_fail_u64(void)
{
    CHECK_EQ_U64(UINT64_MAX, 255u);
}

static void s_fail_dbl(void)
{
    CHECK_EQ_DBL(0.1 + 0.2, 0.3);
}

static void s_fail_str(void)
{
    CHECK_EQ_STR("abc", NULL);
}

// The typed checks accept equal values, each in its own type.
static void test_typed_checks_pass(void)
{
    CHECK_EQ_I64(INT64_MIN, INT64_MIN);
    CHECK_EQ_I64(-1, (int8_t)-1);
    CHECK_EQ_U64(UINT64_MAX, ~(uint64_t)0);
    CHECK_EQ_DBL(0.1 + 0.2, 0.30000000000000004);
    CHECK_EQ_DBL(-0.0, 0.0);
    CHECK_EQ_STR("abc", "abc");
    CHECK_EQ_STR(NULL, NULL);
    CHECK(!(NAN == NAN)); // so CHECK_EQ_DBL(NAN, NAN) fails: use CHECK(isnan(x))
}

// A failed typed check prints both values in their own format, then the
// summary with one failure, and exits 1.
static void test_typed_checks_print_values(void)
{
    const wbt_case_t i64[] = {{"i64", s_fail_i64}};
    CHECK_EQ(s_child(i64, 1, NULL), 1);
    CHECK_OUT("INT64_MIN == 7: -9223372036854775808 != 7");
    CHECK_OUT("0 passed, 1 failed, 0 skipped");

    const wbt_case_t u64[] = {{"u64", s_fail_u64}};
    CHECK_EQ(s_child(u64, 1, NULL), 1);
    CHECK_OUT("18446744073709551615 (0xffffffffffffffff) != 255 (0xff)");

    const wbt_case_t dbl[] = {{"dbl", s_fail_dbl}};
    CHECK_EQ(s_child(dbl, 1, NULL), 1);
    CHECK_OUT("0.30000000000000004 != 0.29999999999999999");

    const wbt_case_t str[] = {{"str", s_fail_str}};
    CHECK_EQ(s_child(str, 1, NULL), 1);
    CHECK_OUT("\"abc\" != \"(null)\"");
}

// A skipped case does not stop the others; the program exits 77 (CTest:
// skipped) and the summary counts it.
static void test_skip_is_not_a_pass(void)
{
    const wbt_case_t cases[] = {{"one", s_pass}, {"two", s_skip}, {"three", s_pass}};
    CHECK_EQ(s_child(cases, 3, NULL), WBT_EXIT_SKIP);
    CHECK_OUT("SKIP ");
    CHECK_OUT("not here: 42");
    CHECK_OUT("-- three");
    CHECK_OUT("2 passed, 0 failed, 1 skipped");

    CHECK_EQ(s_child(cases, 3, "one"), 0);
    CHECK_OUT("1 passed, 0 failed, 0 skipped");

    const wbt_case_t all[] = {{"one", s_pass}, {"all", s_skip_all}, {"three", s_pass}};
    CHECK_EQ(s_child(all, 3, NULL), WBT_EXIT_SKIP);
    CHECK_OUT("SKIP: no prerequisite");
    CHECK(!strstr(s_out, "-- three"));
}

// Each case runs in its own process: a failure does not stop the others,
// and the summary counts every case. In one process (WBT_NO_FORK=1) a
// failure stops the run and the summary says what did not run.
static void test_summary_counts_failures(void)
{
    const wbt_case_t cases[] = {{"one", s_pass}, {"two", s_fail_i64}, {"three", s_pass}};
    CHECK_EQ(s_child(cases, 3, NULL), 1);
    CHECK_OUT("-- three");
    CHECK_OUT("2 passed, 1 failed, 0 skipped\n");

    setenv("WBT_NO_FORK", "1", 1);
    CHECK_EQ(s_child(cases, 3, NULL), 1);
    unsetenv("WBT_NO_FORK");
    CHECK_OUT("1 passed, 1 failed, 0 skipped, 1 not run");
    CHECK(!strstr(s_out, "-- three"));

    CHECK_EQ(s_child(cases, 3, "nosuch"), 1);
    CHECK_OUT("no case named 'nosuch'");
}

static void s_abort(void)
{
    abort();
}

static void s_hang(void)
{
    for (;;)
        pause();
}

// A case that dies of a signal, or that outlives WBT_CASE_TIMEOUT_S, fails
// by name; the cases after it still run.
static void test_crash_and_hang_are_named(void)
{
    const wbt_case_t crash[] = {{"boom", s_abort}, {"after", s_pass}};
    CHECK_EQ(s_child(crash, 2, NULL), 1);
    CHECK_OUT("case 'boom' died of signal 6");
    CHECK_OUT("1 passed, 1 failed, 0 skipped\n");

    setenv("WBT_CASE_TIMEOUT_S", "0.3", 1);
    const wbt_case_t hang[] = {{"stuck", s_hang}, {"after", s_pass}};
    CHECK_EQ(s_child(hang, 2, NULL), 1);
    unsetenv("WBT_CASE_TIMEOUT_S");
    CHECK_OUT("case 'stuck' timed out after 0.3 s: killed");
    CHECK_OUT("1 passed, 1 failed, 0 skipped\n");
}

WBT_MAIN({"typed_checks_pass", test_typed_checks_pass},
         {"typed_checks_print_values", test_typed_checks_print_values},
         {"skip_is_not_a_pass", test_skip_is_not_a_pass},
         {"summary_counts_failures", test_summary_counts_failures},
         {"crash_and_hang_are_named", test_crash_and_hang_are_named})
