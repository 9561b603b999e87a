//  c_metric.c - our side of test_metric_conformance.py: the define_metric
//  sequence of python_metric.py through the public C API
//  SPDX-License-Identifier: MIT
//
//  usage: c_metric BASE_URL API_KEY PROJECT RUN_ID
//  The same calls as the official client's driver (in-process aggregator):
//  definitions merged (no WANDB_METRIC_OVERWRITE), one replaced
//  (WANDB_METRIC_OVERWRITE), a glob, summary none; then four rows.
//  Exit: 0 when every call returned WANDB_OK, 1 otherwise, 2 usage.
#include "wandb.h"

#include <stdio.h>

static int s_failures; // calls that did not return WANDB_OK

static void s_ok(wandb_err rc, const char *what)
{
    if (rc == WANDB_OK)
        return;
    s_failures++;
    fprintf(stderr, "c_metric: %s: %s\n", what, wandb_strerror(rc));
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: c_metric BASE_URL API_KEY PROJECT RUN_ID\n");
        return 2;
    }
    wandb_settings_t *s = NULL;
    s_ok(wandb_settings_new(&s), "settings");
    const char *pairs[][2] = {{"base_url", argv[1]},        {"api_key", argv[2]},
                              {"project", argv[3]},         {"run_id", argv[4]},
                              {"flush_interval_ms", "200"}, {"finish_timeout_ms", "60000"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        s_ok(wandb_settings_set(s, pairs[i][0], pairs[i][1]), pairs[i][0]);
    wandb_run_t *run = NULL;
    s_ok(wandb_init(s, &run), "init");
    wandb_settings_destroy(&s);
    if (!run)
        return 1;
    s_ok(wandb_define_metric(run, "epoch", NULL, NULL, NULL, 0), "epoch");
    s_ok(wandb_define_metric(run, "val/loss", "epoch", "min", NULL, WANDB_METRIC_HIDDEN), "val 1");
    s_ok(wandb_define_metric(run, "val/loss", NULL, "max", NULL, 0), "val 2");
    s_ok(wandb_define_metric(run, "acc", "epoch", "mean,first", NULL, 0), "acc 1");
    s_ok(wandb_define_metric(run, "acc", NULL, "last", NULL, WANDB_METRIC_OVERWRITE), "acc 2");
    s_ok(wandb_define_metric(run, "train/*", NULL, "max", NULL, 0), "train/*");
    s_ok(wandb_define_metric(run, "gone", NULL, "none", NULL, 0), "gone");
    s_ok(wandb_define_metric(run, "lr", NULL, "mean,first,min", NULL, 0), "lr");
    const double loss[] = {0.5, 0.2, 0.4, 0.3}, acc[] = {0.1, 0.6, 0.3, 0.5};
    for (int i = 0; i < 4; i++)
        s_ok(wandb_log(run, WANDB_INT("epoch", i), WANDB_DOUBLE("val/loss", loss[i]),
                       WANDB_DOUBLE("acc", acc[i]), WANDB_DOUBLE("train/x", (double)i),
                       WANDB_INT("gone", i), WANDB_DOUBLE("lr", 0.1 * (i + 1))),
             "log");
    s_ok(wandb_finish(&run, 0), "finish");
    return s_failures ? 1 : 0;
}
