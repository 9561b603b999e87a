//  test_resume.c - wandb_init with each resume value against the real server
//  SPDX-License-Identifier: MIT
//
//  A first run logs steps 0..9 and finishes (or crashes: a child process
//  that exits without wandb_finish once the server holds its 10 rows); a
//  second wandb_init with the same run id and a resume value then either
//  continues it (steps 10..19, `_runtime` going on, config and summary
//  kept), starts a new run, or fails with the reason, and the test reads
//  what the server stored: every step once, nothing touched on a refusal;
//  `wandb-mpi sync` of all their journals afterwards changes none of it.
//  Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_PROJECT "resume"

static wbt_server_t s_srv; // the server of every test
static char s_dir[64];     // run directory for resume "auto"

// Settings for run_id (NULL: none) with resume (NULL: unset).
static wandb_settings_t *s_settings(const char *run_id, const char *resume)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", S_PROJECT));
    CHECK_OK(wandb_settings_set(s, "dir", s_dir));
    if (run_id)
        CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    if (resume)
        CHECK_OK(wandb_settings_set(s, "resume", resume));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "init_timeout_ms", "20000"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    return s;
}

// The run object of the server, or NULL when it has no such run (new ref).
static json_t *s_run(const char *id)
{
    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=" S_PROJECT);
    size_t i;
    json_t *r;
    json_t *found = NULL;
    json_array_foreach(json_object_get(list, "runs"), i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strcmp(n, id) == 0)
            found = json_incref(r);
    }
    json_decref(list);
    return found;
}

// The stored history rows of id (new ref).
static json_t *s_history(const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=" S_PROJECT, id);
    json_t *h = wbt_http_get(&s_srv, path);
    json_t *rows = json_incref(json_object_get(h, "rows"));
    json_decref(h);
    return rows;
}

// Logs steps from..to-1 (loss = step); sleeps 1 s before the last so the
// run's `_runtime` is at least 1 s.
static void s_log(wandb_run_t *run, int from, int to)
{
    for (int k = from; k < to; k++) {
        if (k == to - 1)
            usleep(1000 * 1000);
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", k)));
    }
}

// The first run: steps 0..9, config a=1, summary old_only=7, finished.
static void s_first(const char *id)
{
    wandb_settings_t *s = s_settings(id, NULL);
    CHECK_OK(wandb_settings_config_json(s, "{\"a\": 1}"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    CHECK_OK(wandb_summary_update(run, WANDB_INT("old_only", 7)));
    s_log(run, 0, 10);
    CHECK_OK(wandb_finish(&run, 0));
}

// The first run, crashed: a child logs steps 0..9 and exits without
// wandb_finish once the server holds the 10 rows (bounded wait).
static void s_first_crashed(const char *id, const char *resume)
{
    pid_t pid = fork();
    if (pid < 0)
        WBT_FAIL("fork failed");
    if (pid == 0) {
        wandb_settings_t *s = s_settings(id, resume);
        wandb_run_t *run = NULL;
        if (wandb_init(s, &run) != WANDB_OK)
            _exit(2);
        s_log(run, 0, 10);
        for (int i = 0; i < 200; i++) {
            json_t *r = s_run(wandb_run_id(run));
            json_int_t n = r ? json_integer_value(json_object_get(r, "history_count")) : 0;
            json_decref(r);
            if (n >= 10)
                _exit(0); // a crash: no wandb_finish
            usleep(50 * 1000);
        }
        _exit(3);
    }
    CHECK_EQ(wbt_wait_exit(pid, 30000), 0);
}

// Steps 0..to-1 each once, in order, loss = step; `_runtime` never goes back.
static void s_check_steps(const char *id, int to)
{
    json_t *rows = s_history(id);
    CHECK_EQ(json_array_size(rows), to);
    double last_runtime = -1;
    for (size_t k = 0; k < json_array_size(rows); k++) {
        json_t *row = json_array_get(rows, k);
        CHECK_EQ(json_integer_value(json_object_get(row, "_step")), k);
        double v = NAN, rt = NAN;
        CHECK(wbi_jsonx_number(json_object_get(row, "loss"), &v) && v == (double)k);
        CHECK(wbi_jsonx_number(json_object_get(row, "_runtime"), &rt) && rt >= last_runtime);
        last_runtime = rt;
    }
    json_decref(rows);
}

// Resumes id with resume, logs steps 10..19 and finishes.
static void s_resume_and_log(const char *id, const char *resume)
{
    wandb_settings_t *s = s_settings(id, resume);
    CHECK_OK(wandb_settings_config_json(s, "{\"b\": 2}"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    CHECK(wandb_run_resumed(run));
    CHECK_EQ(wandb_run_starting_step(run), 10);
    CHECK_EQ(wandb_run_step(run), 10);
    s_log(run, 10, 20);
    CHECK_OK(wandb_finish(&run, 0));
}

// The resumed run holds both runs' config and summary keys.
static void s_check_kept(const char *id)
{
    json_t *r = s_run(id);
    if (!r)
        WBT_FAIL("run %s not stored", id);
    json_t *cfg = json_object_get(r, "config");
    CHECK_EQ(json_integer_value(json_object_get(cfg, "a")), 1);
    CHECK_EQ(json_integer_value(json_object_get(cfg, "b")), 2);
    json_t *sum = json_object_get(r, "summary");
    CHECK_EQ(json_integer_value(json_object_get(sum, "old_only")), 7);
    double loss = NAN;
    CHECK(wbi_jsonx_number(json_object_get(sum, "loss"), &loss) && loss == 19);
    CHECK_EQ(json_integer_value(json_object_get(sum, "_step")), 19);
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    json_decref(r);
}

static void test_allow_existing(void)
{
    s_first("res-allow");
    s_resume_and_log("res-allow", "allow");
    s_check_steps("res-allow", 20);
    s_check_kept("res-allow");
}

static void test_must_after_crash(void)
{
    s_first_crashed("res-must", NULL);
    s_resume_and_log("res-must", "must");
    s_check_steps("res-must", 20);
}

// allow and never with an unknown id: a new run from step 0.
static void test_new_runs(void)
{
    const char *modes[] = {"allow", "never"};
    const char *ids[] = {"res-new-allow", "res-new-never"};
    for (int i = 0; i < 2; i++) {
        wandb_settings_t *s = s_settings(ids[i], modes[i]);
        wandb_run_t *run = NULL;
        CHECK_OK(wandb_init(s, &run));
        wandb_settings_destroy(&s);
        CHECK(!wandb_run_resumed(run));
        CHECK_EQ(wandb_run_starting_step(run), 0);
        s_log(run, 0, 3);
        CHECK_OK(wandb_finish(&run, 0));
        s_check_steps(ids[i], 3);
    }
}

// must with an unknown id, never with an existing one: init fails with the
// reason, and the server gets nothing (no run; the old one untouched).
static void test_refused(void)
{
    wandb_settings_t *s = s_settings("res-missing", "must");
    wandb_run_t *run = NULL;
    CHECK_ERR(wandb_init(s, &run), WANDB_ENOTFOUND);
    CHECK(run == NULL && wandb_run() == NULL);
    CHECK(strstr(wandb_settings_errmsg(s), "does not exist") != NULL);
    wandb_settings_destroy(&s);
    json_t *r = s_run("res-missing");
    CHECK(r == NULL);
    json_decref(r);

    s_first("res-never");
    s = s_settings("res-never", "never");
    CHECK_ERR(wandb_init(s, &run), WANDB_EEXIST);
    CHECK(strstr(wandb_settings_errmsg(s), "already exists") != NULL);
    wandb_settings_destroy(&s);
    s_check_steps("res-never", 10);
    r = s_run("res-never");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    json_decref(r);
}

// auto: a crashed run of this directory is continued without naming it;
// after a finished one, auto starts a new run.
static void test_auto(void)
{
    s_first_crashed(NULL, "auto");
    wandb_settings_t *s = s_settings(NULL, "auto");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    char id[160];
    snprintf(id, sizeof id, "%s", wandb_run_id(run));
    CHECK(wandb_run_resumed(run));
    CHECK_EQ(wandb_run_starting_step(run), 10);
    s_log(run, 10, 20);
    CHECK_OK(wandb_finish(&run, 0));
    s_check_steps(id, 20);
    s = s_settings(NULL, "auto");
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    CHECK(strcmp(wandb_run_id(run), id) != 0);
    CHECK(!wandb_run_resumed(run));
    CHECK_OK(wandb_finish(&run, 0));
}

// Unset with an existing id: what the official client does (no
// RunResumeStatus; the upsert continues the stored run and its history goes
// on after the stored lines with steps from 0; docs/decisions.md).
static void test_unset_existing(void)
{
    s_first("res-unset");
    wandb_settings_t *s = s_settings("res-unset", NULL);
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    CHECK(!wandb_run_resumed(run));
    CHECK_EQ(wandb_run_starting_step(run), 0);
    s_log(run, 0, 2);
    CHECK_OK(wandb_finish(&run, 0));
    json_t *rows = s_history("res-unset");
    CHECK_EQ(json_array_size(rows), 12); // 10 stored lines kept, 2 appended
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(rows, 10), "_step")), 0);
    json_decref(rows);
}

// The journals of every run above, synced again: nothing is sent twice and
// nothing of a refused run is sent (its RUN was never journaled).
static void test_sync_after(void)
{
    char cli[1024];
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    snprintf(cli, sizeof cli, "%s/src/cli/wandb-mpi", bin ? bin : ".");
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "no %s: sync not checked\n", cli);
        return;
    }
    const char *argv[] = {cli, "sync", "--base-url", s_srv.url, "--api-key", S_KEY, s_dir, NULL};
    char out[8192];
    CHECK_EQ(wbt_run_capture(argv, out, sizeof out, 60000), 0);
    s_check_steps("res-allow", 20);
    s_check_steps("res-must", 20);
    s_check_steps("res-never", 10);
    json_t *r = s_run("res-missing");
    CHECK(r == NULL);
    json_decref(r);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    snprintf(s_dir, sizeof s_dir, "/tmp/wandb-resume-XXXXXX");
    if (!mkdtemp(s_dir))
        WBT_FAIL("mkdtemp failed");
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"allow_existing", test_allow_existing},
                                       {"must_after_crash", test_must_after_crash},
                                       {"new_runs", test_new_runs},
                                       {"refused", test_refused},
                                       {"auto", test_auto},
                                       {"unset_existing", test_unset_existing},
                                       {"sync_after", test_sync_after}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_rm_tree(s_dir);
    return rc;
}
