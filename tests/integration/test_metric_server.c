//  test_metric_server.c - wandb_define_metric: the summary and config that
//  reach the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Runs the public API (in-process aggregator) into the server binary and
//  reads the run back through its JSON API: "best" with and without a goal,
//  a second definition merged with the first (hidden and step_sync kept,
//  summary words added), WANDB_METRIC_OVERWRITE replacing it, "none".
//  Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server of every test

static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "metric"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    return s;
}

// The number at path a.b of obj, NAN when absent.
static double s_num(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    double d = NAN;
    return wbi_jsonx_number(v, &d) ? d : NAN;
}

// The `_wandb.m` entry named name in the stored config, NULL when absent.
static const json_t *s_mentry(const json_t *cfg, const char *name)
{
    const json_t *m = json_object_get(json_object_get(cfg, "_wandb"), "m");
    size_t i;
    const json_t *e;
    json_array_foreach(m, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "1"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

// The flag list of entry e under field ("6" options, "7" summary) as text.
static char *s_flags(const json_t *e, const char *field)
{
    return json_dumps(json_object_get(e, field), JSON_COMPACT);
}

static void test_summary_and_config(void)
{
    wandb_settings_t *s = s_settings("metric-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    // best: no goal minimizes, maximize takes the max
    CHECK_OK(wandb_define_metric(run, "loss", NULL, "best", NULL, 0));
    CHECK_OK(wandb_define_metric(run, "acc", NULL, "best,last", "maximize", 0));
    // merge: the second call keeps hidden and the step metric's step_sync
    CHECK_OK(wandb_define_metric(run, "val", "epoch", "min", NULL, WANDB_METRIC_HIDDEN));
    CHECK_OK(wandb_define_metric(run, "val", NULL, "max", NULL, 0));
    // overwrite: the second call replaces the first
    CHECK_OK(wandb_define_metric(run, "lr", "epoch", "mean", NULL, WANDB_METRIC_HIDDEN));
    CHECK_OK(wandb_define_metric(run, "lr", NULL, "first", NULL, WANDB_METRIC_OVERWRITE));
    CHECK_OK(wandb_define_metric(run, "noise", NULL, "none", NULL, 0));
    const double loss[] = {0.5, 0.1, 0.3}, acc[] = {0.2, 0.9, 0.4}, val[] = {3, 1, 2};
    for (int i = 0; i < 3; i++)
        CHECK_OK(wandb_log(run, WANDB_INT("epoch", i), WANDB_DOUBLE("loss", loss[i]),
                           WANDB_DOUBLE("acc", acc[i]), WANDB_DOUBLE("val", val[i]),
                           WANDB_DOUBLE("lr", 0.1 * (i + 1)), WANDB_INT("noise", i)));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    json_t *r = wbt_http_get(&s_srv, "/api/v1/runs/metric-1?project=metric");
    json_t *sum = json_object_get(r, "summary");
    CHECK(s_num(sum, "loss", "best") == 0.1);
    CHECK_EQ(json_object_size(json_object_get(sum, "loss")), 1);
    CHECK(s_num(sum, "acc", "best") == 0.9);
    CHECK(s_num(sum, "acc", "last") == 0.4);
    CHECK(s_num(sum, "val", "min") == 1);
    CHECK(s_num(sum, "val", "max") == 3);
    CHECK(s_num(sum, "lr", "first") == 0.1);
    CHECK_EQ(json_object_size(json_object_get(sum, "lr")), 1); // no mean: replaced
    CHECK(json_object_get(sum, "noise") == NULL);
    CHECK(s_num(sum, "epoch", NULL) == 2);

    json_t *cfg = json_object_get(r, "config");
    const json_t *v = s_mentry(cfg, "val");
    const json_t *l = s_mentry(cfg, "lr");
    const json_t *e = s_mentry(cfg, "epoch");
    CHECK(v && l && e);
    char *vo = s_flags(v, "6"), *vs = s_flags(v, "7"), *lo = s_flags(l, "6"), *ls = s_flags(l, "7");
    CHECK_STREQ(vo, "[1,2,3]"); // step_sync, hidden, defined: kept by the merge
    CHECK_STREQ(vs, "[1,2]");   // min and max
    CHECK_STREQ(lo, "[3]");     // defined only: hidden gone with the overwrite
    CHECK_STREQ(ls, "[8]");     // first only
    CHECK(json_object_get(v, "5") != NULL);
    CHECK(json_object_get(l, "5") == NULL); // no step metric any more
    // "best" is not sent in `_wandb.m` (wandb-core drops it); the goal is
    const json_t *a = s_mentry(cfg, "acc");
    char *as = s_flags(a, "7");
    CHECK_STREQ(as, "[5]");
    CHECK_EQ(json_integer_value(json_object_get(a, "8")), 2);
    free(vo);
    free(vs);
    free(lo);
    free(ls);
    free(as);
    json_decref(r);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"summary_and_config", test_summary_and_config}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    return rc;
}
