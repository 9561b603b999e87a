//  test_server_cli.c - the wandb-mpi CLI reads a server data directory
//  SPDX-License-Identifier: MIT
//
//  Fills a real store (as the server would), then runs the wandb-mpi binary
//  and checks its table and JSON-lines output.

#include "testutil.h"

#include "harness/server_harness.h"

#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_dir[64];

// Runs the CLI with args; returns its exit code and output (stdout).
static int s_cli(const char *args, char *out, size_t len)
{
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/src/cli/wandb-mpi' %s 2>/dev/null", bin ? bin : ".", args);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t used = fread(out, 1, len - 1, p);
    out[used] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Two projects, three runs, a history with a NaN.
static void s_fill(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-cli-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    char db[128];
    snprintf(db, sizeof db, "%s/wandb.db", s_dir);
    wbi_store_t *s = NULL;
    char err[256];
    CHECK_OK(wbi_store_open(&s, db, false, err, sizeof err));
    json_t *cfg = json_pack("{sf}", "lr", 0.5);
    wbi_run_upsert_t in = {.entity = "local",
                           .project = "mnist",
                           .name = "aaa111",
                           .group = "job-1",
                           .job_type = "train",
                           .display_name = "rank-0",
                           .config = cfg};
    int64_t id = 0;
    bool inserted = false;
    CHECK_OK(wbi_store_run_upsert(s, &in, 1000.0, &id, &inserted));
    const char *rows[] = {"{\"_step\":0,\"loss\":0.5,\"_runtime\":1.5}",
                          "{\"_step\":1,\"loss\":NaN,\"acc\":0.25}",
                          "{\"_step\":2,\"loss\":0.125}"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, i, rows[i], strlen(rows[i])));
    CHECK_OK(wbi_store_run_finish(s, id, 0, 1010.0));
    in.name = "bbb222";
    in.display_name = "rank-1";
    CHECK_OK(wbi_store_run_upsert(s, &in, 1001.0, &id, &inserted));
    wbi_run_upsert_t other = {.entity = "local", .project = "cifar", .name = "ccc333"};
    CHECK_OK(wbi_store_run_upsert(s, &other, 1002.0, &id, &inserted));
    json_decref(cfg);
    wbi_store_destroy(&s);
}

static void s_clean(void)
{
    CHECK(wbt_rm_tree(s_dir) == 0);
}

// `runs` prints an aligned table; --project filters; --json is one object a line.
static void test_runs(void)
{
    s_fill();
    char out[8192], args[256];
    snprintf(args, sizeof args, "runs --dir '%s'", s_dir);
    CHECK_EQ(s_cli(args, out, sizeof out), 0);
    CHECK(strncmp(out, "RUN ", 4) == 0);
    CHECK(strstr(out, "aaa111") && strstr(out, "bbb222") && strstr(out, "ccc333"));
    // Aligned: the STATE column starts at the same offset on every line.
    const char *l1 = strchr(out, '\n') + 1;
    const char *l2 = strchr(l1, '\n') + 1;
    CHECK(strstr(out, "STATE") - out == strstr(l1, "finished") - l1);
    CHECK(strstr(l2, "running") - l2 == strstr(l1, "finished") - l1);

    snprintf(args, sizeof args, "runs --dir '%s' --project mnist --json", s_dir);
    CHECK_EQ(s_cli(args, out, sizeof out), 0);
    int n = 0;
    for (char *line = out, *nl = NULL; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            WBT_FAIL("not a JSON line: %s", line);
        CHECK_STREQ(json_string_value(json_object_get(j, "project")), "mnist");
        CHECK_STREQ(json_string_value(json_object_get(j, "group")), "job-1");
        CHECK(json_real_value(json_object_get(json_object_get(j, "config"), "lr")) == 0.5);
        json_decref(j);
        n++;
    }
    CHECK_EQ(n, 2);

    // WANDB_MPI_DIR is the default directory.
    setenv("WANDB_MPI_DIR", s_dir, 1);
    CHECK_EQ(s_cli("runs --project cifar", out, sizeof out), 0);
    CHECK(strstr(out, "ccc333") && !strstr(out, "aaa111"));
    unsetenv("WANDB_MPI_DIR");
    s_clean();
}

// `history` prints the rows; --json keeps the stored lines (bare NaN).
static void test_history(void)
{
    s_fill();
    char out[8192], args[256];
    snprintf(args, sizeof args, "history aaa111 --dir '%s'", s_dir);
    CHECK_EQ(s_cli(args, out, sizeof out), 0);
    // _step first, user keys next, other _keys last.
    CHECK(strncmp(out, "_step  acc   loss   _runtime", 28) == 0);
    CHECK(strstr(out, "NaN") != NULL);
    CHECK(strstr(out, "0.125") != NULL);
    snprintf(args, sizeof args, "history aaa111 --dir '%s' --json", s_dir);
    CHECK_EQ(s_cli(args, out, sizeof out), 0);
    CHECK_STREQ(out, "{\"_step\":0,\"loss\":0.5,\"_runtime\":1.5}\n"
                     "{\"_step\":1,\"loss\":NaN,\"acc\":0.25}\n{\"_step\":2,\"loss\":0.125}\n");
    s_clean();
}

// Errors: unknown run, missing directory, bad usage; --help works.
static void test_errors(void)
{
    s_fill();
    char out[4096], args[256];
    snprintf(args, sizeof args, "history nope --dir '%s'", s_dir);
    CHECK_EQ(s_cli(args, out, sizeof out), 1);
    CHECK_EQ(s_cli("runs --dir /nonexistent/wandb-mpi", out, sizeof out), 1);
    CHECK_EQ(s_cli("frobnicate", out, sizeof out), 2);
    CHECK_EQ(s_cli("history", out, sizeof out), 2);
    CHECK_EQ(s_cli("--help", out, sizeof out), 0);
    CHECK(strstr(out, "usage: wandb-mpi runs") != NULL);
    s_clean();
}

WBT_MAIN({"runs", test_runs}, {"history", test_history}, {"errors", test_errors})
