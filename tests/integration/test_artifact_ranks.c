//  test_artifact_ranks.c - two rank processes upsert into one artifact through the public API
//  SPDX-License-Identifier: MIT
//
//  This process hosts an aggregator (wandb_aggregator_start, tcp, offline:
//  the store under a temporary dir); two child processes are the ranks of
//  one job (group "job-g"), each with its own run, driven step by step over
//  pipes so the order is known. Checks what the ranks' calls return (a
//  conflict is WANDB_EEXIST with the path and the holder in the message,
//  nothing of that upsert merged; the same bytes are kept once) and the
//  versions on disk (one with every merged file; an upsert after the finish
//  starts the next one). The children are forked before any thread exists.
#include "common/md5.h"
#include "testutil.h"

#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef struct {
    pid_t pid;
    int cmd; // write end: commands to the child
    int res; // read end: its answers
    int ep;  // write end: the aggregator's endpoint, once
} s_child_t;

static char s_dir[64];

static void s_write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

// The child: one run, then commands "op name:file[,name:file...]" until "end".
static int s_child_main(int rank, int cmd, int res, const char *endpoint)
{
    wandb_settings_t *s = NULL;
    wandb_settings_new(&s);
    wandb_settings_set(s, "mode", "offline");
    wandb_settings_set(s, "aggregator", endpoint);
    wandb_settings_set(s, "transport_security", "plain");
    wandb_settings_set(s, "project", "ranks");
    wandb_settings_set(s, "group", "job-g");
    char r[8], id[32];
    snprintf(r, sizeof r, "%d", rank);
    snprintf(id, sizeof id, "rank%d-run", rank); // the run is "<id>-<rank>" (docs/settings.md)
    wandb_settings_set(s, "rank", r);
    wandb_settings_set(s, "world_size", "2");
    wandb_settings_set(s, "run_id", id);
    wandb_settings_set(s, "finish_timeout_ms", "15000");
    wandb_run_t *run = NULL;
    wandb_err irc = wandb_init(s, &run);
    if (irc != WANDB_OK) {
        fprintf(stderr, "rank %d: wandb_init: %s: %s\n", rank, wandb_strerror(irc),
                wandb_settings_errmsg(s));
        return 3;
    }
    wandb_settings_destroy(&s);
    FILE *in = fdopen(cmd, "r");
    char line[512];
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "end") == 0)
            break;
        char *files = strchr(line, ' ');
        if (files)
            *files++ = '\0';
        wandb_artifact_t *a = NULL;
        char *save = NULL;
        wandb_err rc = wandb_artifact_new("merged", "dataset", &a);
        for (char *tok = files ? strtok_r(files, ",", &save) : NULL; tok && rc == WANDB_OK;
             tok = strtok_r(NULL, ",", &save)) {
            char path[256];
            snprintf(path, sizeof path, "%s/%s", s_dir, strchr(tok, ':') + 1);
            *strchr(tok, ':') = '\0';
            rc = wandb_artifact_add_file(a, path, tok);
        }
        if (rc == WANDB_OK)
            rc = strcmp(line, "finish") == 0 ? wandb_finish_artifact(run, a, NULL)
                                             : wandb_upsert_artifact(run, a, NULL);
        char answer[600];
        int n = snprintf(answer, sizeof answer, "%d %s|%s\n", (int)rc, wandb_artifact_version(a),
                         wandb_artifact_errmsg(a));
        wandb_artifact_destroy(&a);
        if (write(res, answer, (size_t)(n < (int)sizeof answer ? n : (int)sizeof answer - 1)) < 0)
            break;
    }
    fclose(in);
    wandb_finish(&run, 0);
    return 0;
}

static s_child_t s_fork(int rank)
{
    int c[2], r[2], ep_pipe[2];
    CHECK(pipe(c) == 0 && pipe(r) == 0 && pipe(ep_pipe) == 0);
    s_child_t ch = {.pid = fork()};
    CHECK(ch.pid >= 0);
    if (ch.pid == 0) {
        close(c[1]);
        close(r[0]);
        close(ep_pipe[1]);
        char ep[256] = {0};
        ssize_t n = read(ep_pipe[0], ep, sizeof ep - 1);
        if (n <= 0)
            _exit(4);
        ep[strcspn(ep, "\n")] = '\0';
        _exit(s_child_main(rank, c[0], r[1], ep));
    }
    close(c[0]);
    close(r[1]);
    close(ep_pipe[0]);
    ch.ep = ep_pipe[1];
    ch.cmd = c[1];
    ch.res = r[0];
    return ch;
}

// Sends one command and reads the answer "rc version|message".
static int s_ask(s_child_t *ch, const char *command, char *msg, size_t len)
{
    char line[600];
    snprintf(line, sizeof line, "%s\n", command);
    CHECK(write(ch->cmd, line, strlen(line)) == (ssize_t)strlen(line));
    char buf[1024] = {0};
    size_t got = 0;
    while (got < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t n = read(ch->res, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            WBT_FAIL("rank process died during '%s'", command);
        got += (size_t)n;
    }
    int rc = (int)strtol(buf, NULL, 10);
    snprintf(msg, len, "%s", strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "");
    return rc;
}

// Waits at most ms for pid; its exit code, or -1 (then it is killed).
static int s_wait_child(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static json_t *s_manifest(const char *version)
{
    char path[256];
    snprintf(path, sizeof path, "%s/wd/artifacts/ranks/merged/%s/manifest.json", s_dir, version);
    json_error_t jerr;
    json_t *m = json_load_file(path, 0, &jerr);
    if (!m)
        WBT_FAIL("no manifest %s", path);
    json_t *c = json_incref(json_object_get(m, "contents"));
    json_decref(m);
    return c;
}

static void test_two_ranks(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-artranks-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    s_write_file("a-x.txt", "x from rank 0");
    s_write_file("b-x.txt", "x from rank 1");
    s_write_file("same.txt", "the same bytes");
    s_write_file("b-y.txt", "y only rank 1 has");
    s_write_file("late.txt", "after the finish");
    s_child_t r0 = s_fork(0), r1 = s_fork(1); // before any thread
    wandb_settings_t *as = NULL;
    char wd[128];
    snprintf(wd, sizeof wd, "%s/wd", s_dir);
    CHECK_OK(wandb_settings_new(&as));
    CHECK_OK(wandb_settings_set(as, "mode", "offline"));
    CHECK_OK(wandb_settings_set(as, "dir", wd));
    CHECK_OK(wandb_settings_set(as, "transport_security", "plain"));
    wandb_aggregator_t *agg = NULL;
    CHECK_OK(wandb_aggregator_start(as, "tcp://127.0.0.1:*", 2, &agg));
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", wandb_aggregator_endpoint(agg));
    CHECK(write(r0.ep, line, (size_t)n) == n && write(r1.ep, line, (size_t)n) == n);
    close(r0.ep);
    close(r1.ep);

    char msg[700];
    CHECK_EQ(s_ask(&r0, "upsert x.txt:a-x.txt,same.txt:same.txt", msg, sizeof msg), WANDB_OK);
    // rank 1: another x.txt: refused whole (its y.txt is not merged either)
    CHECK_EQ(s_ask(&r1, "upsert x.txt:b-x.txt,y.txt:b-y.txt", msg, sizeof msg), WANDB_EEXIST);
    CHECK(strstr(msg, "conflict on 'x.txt'") && strstr(msg, "run 'rank0-run-0' (rank 0)"));
    // the same bytes under the same path: kept once
    CHECK_EQ(s_ask(&r1, "upsert same.txt:same.txt,y.txt:b-y.txt", msg, sizeof msg), WANDB_OK);
    CHECK_EQ(s_ask(&r0, "finish", msg, sizeof msg), WANDB_OK);
    CHECK(strncmp(msg, "v0|", 3) == 0);
    // an upsert after the finish starts the next version
    CHECK_EQ(s_ask(&r1, "upsert late.txt:late.txt", msg, sizeof msg), WANDB_OK);
    CHECK_EQ(s_ask(&r0, "finish", msg, sizeof msg), WANDB_OK);
    CHECK(strncmp(msg, "v1|", 3) == 0);
    CHECK(write(r0.cmd, "end\n", 4) == 4 && write(r1.cmd, "end\n", 4) == 4);
    CHECK_EQ(s_wait_child(r0.pid, 30000), 0);
    CHECK_EQ(s_wait_child(r1.pid, 30000), 0);
    CHECK_OK(wandb_aggregator_stop(&agg, 10000));
    wandb_settings_destroy(&as);

    json_t *v0 = s_manifest("v0"), *v1 = s_manifest("v1");
    CHECK_EQ(json_object_size(v0), 3);
    CHECK(json_object_get(v0, "x.txt") && json_object_get(v0, "same.txt") &&
          json_object_get(v0, "y.txt"));
    char d[WBI_MD5_B64];
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    wbi_md5_update(&md5, "x from rank 0", 13);
    wbi_md5_final_b64(&md5, d);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(v0, "x.txt"), "digest")), d);
    CHECK_EQ(json_object_size(v1), 1);
    CHECK(json_object_get(v1, "late.txt") != NULL);
    json_decref(v0);
    json_decref(v1);
    wbt_rm_tree(s_dir);
}

WBT_MAIN({"two_ranks", test_two_ranks})
