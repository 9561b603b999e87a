//  test_agg_metric.c - define_metric merging, overwrite and the "best" summary
//  SPDX-License-Identifier: MIT
//
//  Drives the real aggregator core with hand-built wire messages and checks
//  the `_wandb.m` configs and summaries it hands to its sink: a second
//  definition merges with the first as wandb-core merges MetricRecords,
//  overwrite replaces it, "best" follows the goal.
#include "test_agg_util.h"

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})

static wbi_agg_core_t *s_open(t_rec_t *r, t_msg_t *m)
{
    wbi_agg_core_t *c = t_core(r, NULL);
    t_begin(m);
    t_put(m, WBI_REC_HELLO, T_HELLO);
    t_key(m, 1, "loss");
    t_key(m, 2, "acc");
    t_send(c, 0, m, 0);
    CHECK_EQ(r->opened, 1);
    return c;
}

static void s_close(wbi_agg_core_t **c, t_rec_t *r, t_msg_t *m)
{
    wbi_agg_core_destroy(c);
    t_rec_free(r);
    t_msg_free(m);
}

// A second call without overwrite keeps hidden and step_sync (false does not
// clear them), adds summary words and keeps the step metric.
static void test_merge_keeps_fields(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"loss\",\"step_metric\":\"epoch\",\"step_sync\":true,\"hidden\":true,"
          "\"summary\":\"min\",\"overwrite\":false}");
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"loss\",\"step_sync\":false,\"hidden\":false,\"summary\":\"max\","
          "\"goal\":\"maximize\",\"overwrite\":false}");
    t_send(c, 0, &m, 1);
    CHECK_STREQ(r.config, "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"epoch\",\"6\":[],\"7\":[]},"
                          "{\"1\":\"loss\",\"5\":1,\"6\":[1,2,3],\"7\":[1,2],\"8\":2}],"
                          "\"t\":{}}}");
    // "none" is replaced by the next call that names a summary
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"acc\",\"summary\":\"none\"}");
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"acc\",\"summary\":\"last\"}");
    t_row(&m, 0, 100.0, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 2.0), WANDB_DOUBLE("", 0.5)));
    t_row(&m, 1, 101.0, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 1.0), WANDB_DOUBLE("", 0.7)));
    t_send(c, 0, &m, 2);
    wbi_agg_core_tick(c, 1000, 200.0);
    CHECK_STREQ(r.summary, "{\"loss\":{\"min\":1.0,\"max\":2.0},\"acc\":{\"last\":0.7},"
                           "\"_step\":1,\"_runtime\":1.0,\"_timestamp\":101.0,"
                           "\"_wandb\":{\"runtime\":1}}");
    s_close(&c, &r, &m);
}

// overwrite=true starts from an empty definition: no step metric (its entry
// leaves `_wandb.m`), no hidden, only the new summary.
static void test_overwrite_replaces(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"loss\",\"step_metric\":\"epoch\",\"step_sync\":true,\"hidden\":true,"
          "\"summary\":\"min,mean\"}");
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"loss\",\"step_sync\":false,\"hidden\":false,\"summary\":\"last\","
          "\"overwrite\":true}");
    t_send(c, 0, &m, 1);
    CHECK_STREQ(r.config,
                "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"loss\",\"6\":[3],\"7\":[5]}],\"t\":{}}}");
    // a glob is replaced the same way
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"g/*\",\"step_metric\":\"epoch\",\"hidden\":true}");
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"g/*\",\"summary\":\"max\",\"overwrite\":true}");
    t_key(&m, 3, "g/x");
    t_row(&m, 0, 100.0, true, 1, IDS(3), V(WANDB_DOUBLE("", 4.0)));
    t_send(c, 0, &m, 2);
    wbi_agg_core_tick(c, 1000, 200.0);
    CHECK_STREQ(r.config, "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"loss\",\"6\":[3],\"7\":[5]},"
                          "{\"1\":\"g/x\",\"6\":[],\"7\":[2]}],\"t\":{}}}");
    s_close(&c, &r, &m);
}

// "best" is the min without a goal or with minimize, the max with maximize;
// it is computed here and not sent in `_wandb.m` (wandb-core drops flag 4).
static void test_best(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"loss\",\"summary\":\"best\"}");
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"acc\",\"summary\":\"best,last\",\"goal\":\"maximize\"}");
    t_row(&m, 0, 100.0, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 0.5), WANDB_DOUBLE("", 0.2)));
    t_row(&m, 1, 100.0, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 0.1), WANDB_DOUBLE("", 0.9)));
    t_row(&m, 2, 100.0, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 0.3), WANDB_DOUBLE("", 0.4)));
    t_send(c, 0, &m, 1);
    wbi_agg_core_tick(c, 1000, 200.0);
    CHECK_STREQ(r.summary, "{\"loss\":{\"best\":0.1},\"acc\":{\"best\":0.9,\"last\":0.4},"
                           "\"_step\":2,\"_runtime\":0.0,\"_timestamp\":100.0,"
                           "\"_wandb\":{\"runtime\":0}}");
    CHECK_STREQ(r.config, "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"loss\",\"6\":[3],\"7\":[]},"
                          "{\"1\":\"acc\",\"6\":[3],\"7\":[5],\"8\":2}],\"t\":{}}}");
    // goal minimize given later flips acc's best to the min (merge replaces the goal)
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"acc\",\"goal\":\"minimize\"}");
    t_send(c, 0, &m, 2);
    wbi_agg_core_tick(c, 2000, 200.0);
    CHECK(strstr(r.summary, "\"acc\":{\"best\":0.2,\"last\":0.4}") != NULL);
    s_close(&c, &r, &m);
}

WBT_MAIN({"merge_keeps_fields", test_merge_keeps_fields},
         {"overwrite_replaces", test_overwrite_replaces}, {"best", test_best})
