//  c_scenario.c - the conformance scenario through our public C API
//  SPDX-License-Identifier: MIT
//
//  usage: c_scenario --base-url URL --api-key KEY --project P [--entity E]
//                    [--workdir DIR] [--flush-interval-ms N]
//
//  The same logical runs as python_scenario.py, with an in-process
//  aggregator (no "aggregator" setting) talking to base_url:
//    run 1: project/group/job_type/tags/notes/name and a nested config,
//           define_metric (step metric, summary min/max), log() in the three
//           step/commit forms with NaN, +-Infinity and nested values, a
//           rejected lower step, summary overrides, a config update, an
//           alert, save() with policies now/live/end (the live file changes
//           afterwards), mark_preempting, finish(0);
//    run 2: a second run in the same group, finish(1).
//    run 3: resume="must" of run 1 (it must report resumed and the step after
//           run 1's last), one more row, finish(0).
//  Prints one JSON line on stdout: {"client":"c","project":..,"runs":[{"key","id"}]}.
//  Exit: 0 when every call returned what it should, 1 otherwise, 2 usage.
#include "wandb.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// The command line.
typedef struct {
    const char *base_url; // --base-url
    const char *api_key;  // --api-key
    const char *project;  // --project
    const char *entity;   // --entity (NULL: the server's default)
    const char *workdir;  // --workdir (files to save are written there)
    const char *flush_ms; // --flush-interval-ms (like the Python driver's --fast)
} s_args_t;

static int s_failures; // calls that did not return what they should

// Counts and reports a call that returned something unexpected.
static void s_expect(wandb_err got, wandb_err want, const char *what)
{
    if (got == want)
        return;
    s_failures++;
    fprintf(stderr, "c_scenario: %s: got %s, want %s\n", what, wandb_strerror(got),
            wandb_strerror(want));
}

// Writes the text data to dir/name (creating dir/sub when needed).
static int s_write(const char *dir, const char *name, const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sub", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(data);
    int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

// Settings shared by both runs.
static wandb_settings_t *s_settings(const s_args_t *a, const char *group, const char *job_type,
                                    const char *name)
{
    wandb_settings_t *s = NULL;
    if (wandb_settings_new(&s) != WANDB_OK)
        return NULL;
    const char *pairs[][2] = {
        {"base_url", a->base_url},     {"api_key", a->api_key}, {"project", a->project},
        {"entity", a->entity},         {"mode", "online"},      {"group", group},
        {"job_type", job_type},        {"name", name},          {"flush_interval_ms", a->flush_ms},
        {"finish_timeout_ms", "60000"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (!pairs[i][1])
            continue;
        if (wandb_settings_set(s, pairs[i][0], pairs[i][1]) != WANDB_OK) {
            fprintf(stderr, "c_scenario: setting %s: %s\n", pairs[i][0], wandb_settings_errmsg(s));
            wandb_settings_destroy(&s);
            return NULL;
        }
    }
    return s;
}

// Run 1: everything the Python scenario's run 1 does, except console output.
static int s_run1(const s_args_t *a, char *id, size_t idlen)
{
    wandb_settings_t *s = s_settings(a, "grp", "train", "display-1");
    if (!s)
        return -1;
    wandb_settings_set(s, "tags", "t1,t2");
    wandb_settings_set(s, "notes", "conformance notes");
    s_expect(wandb_settings_config_json(
                 s, "{\"lr\": 0.01, \"batch\": 32, "
                    "\"model\": {\"depth\": 4, \"act\": \"relu\", \"sizes\": [64, 32]}}"),
             WANDB_OK, "settings config");
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(s, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "c_scenario: wandb_init: %s: %s\n", wandb_strerror(rc),
                wandb_settings_errmsg(s));
        wandb_settings_destroy(&s);
        return -1;
    }
    wandb_settings_destroy(&s);
    snprintf(id, idlen, "%s", wandb_run_id(run));

    s_expect(wandb_define_metric(run, "epoch", NULL, NULL, NULL, 0), WANDB_OK, "define epoch");
    s_expect(wandb_define_metric(run, "val/loss", "epoch", "min", NULL, 0), WANDB_OK,
             "define val/loss");
    s_expect(wandb_define_metric(run, "acc", NULL, "max", NULL, 0), WANDB_OK, "define acc");

    // The three forms of Run.log(data, step, commit), as the Python driver.
    s_expect(wandb_log(run, WANDB_DOUBLE("loss", 1.0), WANDB_DOUBLE("acc", 0.1)), WANDB_OK,
             "log step 0");
    s_expect(wandb_log_partial(run, WANDB_DOUBLE("loss", 0.9)), WANDB_OK, "log commit=false");
    s_expect(wandb_log(run, WANDB_DOUBLE("acc", 0.2)), WANDB_OK, "log step 1");
    s_expect(wandb_log_step(run, 2, WANDB_DOUBLE("loss", 0.8)), WANDB_OK, "log step=2");
    s_expect(wandb_log_step(run, 2, WANDB_DOUBLE("acc", 0.3)), WANDB_OK, "log step=2 again");
    s_expect(wandb_log_step(run, 3, WANDB_DOUBLE("lr_now", 0.01)), WANDB_OK, "log step=3");
    const wandb_value_t loss07[] = {WANDB_DOUBLE("loss", 0.7)};
    s_expect(wandb_log_values(run, loss07, 1, 3, WANDB_COMMIT_TRUE), WANDB_OK, "log step=3 commit");
    s_expect(wandb_log(run, WANDB_JSON("nested", "{\"a\": 1, \"b\": {\"c\": 2.5}}"),
                       WANDB_DOUBLE("weird", NAN), WANDB_DOUBLE("big", INFINITY),
                       WANDB_DOUBLE("small", -INFINITY), WANDB_BOOL("flag", true),
                       WANDB_STRING("label", "text")),
             WANDB_OK, "log step 4");
    const int epochs[] = {1, 2, 3};
    const double vloss[] = {0.5, 0.3, 0.4};
    for (int i = 0; i < 3; i++)
        s_expect(wandb_log(run, WANDB_INT("epoch", epochs[i]), WANDB_DOUBLE("val/loss", vloss[i])),
                 WANDB_OK, "log steps 5..7");
    s_expect(wandb_log_step(run, 1, WANDB_DOUBLE("loss", 0.6)), WANDB_ESTEP, "lower step");

    s_expect(wandb_summary_update(run, WANDB_DOUBLE("best", 0.2), WANDB_DOUBLE("loss", 0.123),
                                  WANDB_JSON("final", "{\"x\": 1, \"y\": \"z\"}")),
             WANDB_OK, "summary");
    s_expect(wandb_config_update(run, WANDB_STRING("extra", "yes"), WANDB_DOUBLE("lr", 0.02)),
             WANDB_OK, "config update");
    s_expect(wandb_alert(run, "conformance alert", "hello from c", "WARN", 120000), WANDB_OK,
             "alert");

    // save(): the three policies; the live file changes after its save.
    char fdir[4096];
    snprintf(fdir, sizeof fdir, "%s/files", a->workdir);
    if (mkdir(fdir, 0700) != 0 && errno != EEXIST)
        s_failures++;
    char p_now[4200], p_live[4200], p_end[4200];
    snprintf(p_now, sizeof p_now, "%s/now.txt", fdir);
    snprintf(p_live, sizeof p_live, "%s/live.txt", fdir);
    snprintf(p_end, sizeof p_end, "%s/sub/end.txt", fdir);
    if (s_write(fdir, "now.txt", "saved with policy now\n") != 0 ||
        s_write(fdir, "live.txt", "live v1\n") != 0 ||
        s_write(fdir, "sub/end.txt", "saved with policy end\n") != 0) {
        fprintf(stderr, "c_scenario: cannot write the files to save in %s\n", fdir);
        s_failures++;
    }
    s_expect(wandb_save(run, p_now, fdir, WANDB_SAVE_NOW), WANDB_OK, "save now");
    s_expect(wandb_save(run, p_live, fdir, WANDB_SAVE_LIVE), WANDB_OK, "save live");
    s_expect(wandb_save(run, p_end, fdir, WANDB_SAVE_END), WANDB_OK, "save end");
    if (s_write(fdir, "live.txt", "live v2, changed after save\n") != 0)
        s_failures++;

    s_expect(wandb_mark_preempting(run), WANDB_OK, "mark_preempting");
    s_expect(wandb_finish(&run, 0), WANDB_OK, "finish(0)");
    return 0;
}

// Run 2: a second run in the same group that fails.
static int s_run2(const s_args_t *a, char *id, size_t idlen)
{
    wandb_settings_t *s = s_settings(a, "grp", "eval", "display-2");
    if (!s)
        return -1;
    s_expect(wandb_settings_config_json(s, "{\"a\": 1, \"b\": [1, 2, 3]}"), WANDB_OK,
             "settings config 2");
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(s, &run);
    wandb_settings_destroy(&s);
    if (rc != WANDB_OK) {
        fprintf(stderr, "c_scenario: wandb_init (run 2): %s\n", wandb_strerror(rc));
        return -1;
    }
    snprintf(id, idlen, "%s", wandb_run_id(run));
    s_expect(wandb_log(run, WANDB_INT("m", 1)), WANDB_OK, "run 2 log 1");
    s_expect(wandb_log(run, WANDB_INT("m", 2)), WANDB_OK, "run 2 log 2");
    s_expect(wandb_finish(&run, 1), WANDB_OK, "finish(1)");
    return 0;
}

// Run 3: resumes run 1 (resume "must"), one more row.
static int s_run3(const s_args_t *a, const char *id1)
{
    wandb_settings_t *s = s_settings(a, NULL, NULL, NULL);
    if (!s)
        return -1;
    s_expect(wandb_settings_set(s, "run_id", id1), WANDB_OK, "run 3 run_id");
    s_expect(wandb_settings_set(s, "resume", "must"), WANDB_OK, "run 3 resume");
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(s, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "c_scenario: wandb_init (run 3, resume must): %s: %s\n", wandb_strerror(rc),
                wandb_settings_errmsg(s));
        wandb_settings_destroy(&s);
        return -1;
    }
    wandb_settings_destroy(&s);
    if (!wandb_run_resumed(run) || wandb_run_starting_step(run) < 1) {
        fprintf(stderr, "c_scenario: run 3: resumed %d, starting_step %lld\n",
                (int)wandb_run_resumed(run), (long long)wandb_run_starting_step(run));
        s_failures++;
    }
    s_expect(wandb_log(run, WANDB_DOUBLE("loss", 0.5), WANDB_INT("resumed", 1)), WANDB_OK,
             "run 3 log");
    s_expect(wandb_finish(&run, 0), WANDB_OK, "run 3 finish");
    return 0;
}

int main(int argc, char **argv)
{
    s_args_t a = {.workdir = ".", .flush_ms = "1000"};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--base-url") == 0)
            a.base_url = v;
        else if (strcmp(k, "--api-key") == 0)
            a.api_key = v;
        else if (strcmp(k, "--project") == 0)
            a.project = v;
        else if (strcmp(k, "--entity") == 0)
            a.entity = v;
        else if (strcmp(k, "--workdir") == 0)
            a.workdir = v;
        else if (strcmp(k, "--flush-interval-ms") == 0)
            a.flush_ms = v;
        else
            argc = 0; // unknown option: usage
    }
    if (argc % 2 == 0 || !a.base_url || !a.api_key || !a.project) {
        fprintf(stderr, "usage: c_scenario --base-url URL --api-key KEY --project P "
                        "[--entity E] [--workdir DIR] [--flush-interval-ms N]\n");
        return 2;
    }
    char id1[160] = "", id2[160] = "";
    int rc1 = s_run1(&a, id1, sizeof id1);
    int rc2 = rc1 == 0 ? s_run2(&a, id2, sizeof id2) : -1;
    int rc3 = rc2 == 0 ? s_run3(&a, id1) : -1;
    wandb_shutdown();
    printf("{\"client\":\"c\",\"wandb_mpi_version\":\"%d.%d.%d\",\"project\":\"%s\","
           "\"runs\":[{\"key\":\"run1\",\"id\":\"%s\",\"exit_code\":0},"
           "{\"key\":\"run2\",\"id\":\"%s\",\"exit_code\":1}]}\n",
           WANDB_VERSION_MAJOR, WANDB_VERSION_MINOR, WANDB_VERSION_PATCH, a.project, id1, id2);
    return rc1 == 0 && rc2 == 0 && rc3 == 0 && s_failures == 0 ? 0 : 1;
}
