//  test_save_path.c - wandb_save's path rules (src/logger/save_path.c) alone
//  SPDX-License-Identifier: MIT
//
//  The normalization of absolute paths and, from a known working directory,
//  the run-relative part of every base_path example of the seed's Run.save
//  and each glob the official client refuses. No run, no file system but a
//  temporary working directory.
#include "logger/save.h"
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static char s_cwd[PATH_MAX]; // the working directory of every case (no symlink in it)

// Normalizes in and compares with want.
static void s_norm(const char *in, const char *want)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", in);
    wbi_save_normalize(buf);
    if (strcmp(buf, want) != 0)
        WBT_FAIL("normalize('%s') = '%s', want '%s'", in, buf, want);
}

// Absolute paths lose "." and repeated '/', ".." takes the segment before.
static void test_normalize(void)
{
    s_norm("/", "/");
    s_norm("//", "/");
    s_norm("/a/./b//c/../d/", "/a/b/d");
    s_norm("/..", "/");
    s_norm("/a/b/../../..", "/");
    s_norm("/a/..b/c..", "/a/..b/c..");
    s_norm("/tmp/x/ok.txt", "/tmp/x/ok.txt");
    s_norm("/a/b/../c/./d/..", "/a/c");
}

// Resolves glob/base and checks the run-relative part (after base and '/').
static void s_rel(const char *glob, const char *base, const char *want)
{
    char abs[WBI_SAVE_PATH_MAX];
    size_t blen = 99;
    char msg[512] = "";
    wandb_err rc = wbi_save_resolve(glob, base, abs, sizeof abs, &blen, msg, sizeof msg);
    if (rc != WANDB_OK)
        WBT_FAIL("resolve('%s', '%s'): %s (%s)", glob, base ? base : "NULL", wandb_strerror(rc),
                 msg);
    if (strcmp(abs + blen + 1, want) != 0)
        WBT_FAIL("resolve('%s', '%s'): '%s', want '%s'", glob, base ? base : "NULL", abs + blen + 1,
                 want);
}

// Expects resolve to fail with err and a message holding text.
static void s_bad(const char *glob, const char *base, wandb_err err, const char *text)
{
    char abs[WBI_SAVE_PATH_MAX];
    size_t blen = 99;
    char msg[512] = "";
    CHECK_ERR(wbi_save_resolve(glob, base, abs, sizeof abs, &blen, msg, sizeof msg), err);
    if (!strstr(msg, text))
        WBT_FAIL("resolve('%s', '%s'): message '%s' lacks '%s'", glob, base ? base : "NULL", msg,
                 text);
}

// The examples of the seed's save docstring, and the default bases.
static void test_seed_examples(void)
{
    s_rel("these/are/myfiles/*", NULL, "these/are/myfiles/*");
    s_rel("these/are/myfiles/*", "these", "are/myfiles/*");
    s_rel("/User/username/Documents/run123/*.txt", NULL, "run123/*.txt");
    s_rel("/User/username/Documents/run123/*.txt", "/User", "username/Documents/run123/*.txt");
    s_rel("files/*/saveme.txt", NULL, "files/*/saveme.txt");
    // Relative paths are relative to the working directory, normalized.
    s_rel("./a/../b/c.txt", NULL, "b/c.txt");
    s_rel("*.txt", NULL, "*.txt");
    s_rel("these/are/x", "these/", "are/x");
    s_rel("these/are/x", "./these/../these", "are/x");
    char abs_base[PATH_MAX + 8];
    snprintf(abs_base, sizeof abs_base, "%s/these", s_cwd);
    s_rel("these/are/x", abs_base, "are/x");
    // An absolute glob keeps one directory level, down to the root.
    s_rel("/a.txt", NULL, "a.txt");
    s_rel("/d/a.txt", NULL, "d/a.txt");
    s_rel("/x/a.txt", "/", "x/a.txt");
    s_rel("../up/x.txt", "..", "up/x.txt");
}

// What the official client refuses.
static void test_refused(void)
{
    s_bad("these/are/*", "other", WANDB_EINVAL, "walk above the base path");
    s_bad("/a/bc/x", "/a/b", WANDB_EINVAL, "not below base_path");
    s_bad("../x/*", NULL, WANDB_EINVAL, "walk above");
    s_bad("these", "these", WANDB_EINVAL, "base path itself");
    s_bad("these/.", "these", WANDB_EINVAL, "base path itself");
    s_bad("*/a.txt", NULL, WANDB_EINVAL, "starts with '*'");
    s_bad("these/*", "these", WANDB_EINVAL, "starts with '*'");
    s_bad("gs://bucket/x", NULL, WANDB_EINVAL, "cloud storage URL");
    s_bad("s3://bucket/x", NULL, WANDB_EINVAL, "cloud storage URL");
    char *longp = malloc(WBI_SAVE_PATH_MAX + 10);
    CHECK(longp != NULL);
    memset(longp, 'a', WBI_SAVE_PATH_MAX + 9);
    longp[WBI_SAVE_PATH_MAX + 9] = '\0';
    s_bad(longp, NULL, WANDB_ETOOBIG, "longer than");
    free(longp);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/wbt-save-path-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(realpath(dir, s_cwd) != NULL);
    CHECK(chdir(s_cwd) == 0);
    static const wbt_case_t cases[] = {{"normalize", test_normalize},
                                       {"seed_examples", test_seed_examples},
                                       {"refused", test_refused}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    CHECK(chdir("/") == 0);
    rmdir(s_cwd);
    return rc;
}
