//  log_forms.c - the seed's Run.log examples in C
//  SPDX-License-Identifier: MIT
//
//  Usage: log_forms RUN_ID_PREFIX
//  Settings come from the environment (WANDB_BASE_URL, WANDB_API_KEY,
//  WANDB_PROJECT, ...). Makes four runs:
//    PREFIX-normal, PREFIX-partial, PREFIX-explicit: the three equivalent
//      ways of the seed ("The following are all equivalent") to log two
//      steps of {"train-loss", "accuracy"};
//    PREFIX-sections: keys with a '/' ("train/accuracy", ...) that the W&B
//      UI groups into the sections "train" and "validate", and an "epoch"
//      metric to use as an x axis.
#include "wandb.h"

#include <stdio.h>
#include <string.h>

// Starts a run named prefix-suffix from the environment's settings.
static wandb_run_t *start(const char *prefix, const char *suffix)
{
    char id[128];
    snprintf(id, sizeof id, "%s-%s", prefix, suffix);
    wandb_settings_t *s = NULL;
    wandb_run_t *run = NULL;
    if (wandb_settings_new(&s) != WANDB_OK)
        return NULL;
    if (wandb_settings_set(s, "run_id", id) != WANDB_OK || wandb_init(s, &run) != WANDB_OK)
        fprintf(stderr, "log_forms: cannot start run %s: %s\n", id, wandb_settings_errmsg(s));
    wandb_settings_destroy(&s);
    return run;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: log_forms RUN_ID_PREFIX\n");
        return 2;
    }
    const char *prefix = argv[1];
    int bad = 0;

    // Normal usage: run.log({"train-loss": 0.5, "accuracy": 0.8})
    wandb_run_t *run = start(prefix, "normal");
    if (!run)
        return 1;
    bad |= wandb_log(run, WANDB_DOUBLE("train-loss", 0.5), WANDB_DOUBLE("accuracy", 0.8));
    bad |= wandb_log(run, WANDB_DOUBLE("train-loss", 0.4), WANDB_DOUBLE("accuracy", 0.9));
    bad |= wandb_finish(&run, 0);

    // Implicit step without auto-incrementing: commit=False, then a commit.
    run = start(prefix, "partial");
    if (!run)
        return 1;
    bad |= wandb_log_partial(run, WANDB_DOUBLE("train-loss", 0.5));
    bad |= wandb_log(run, WANDB_DOUBLE("accuracy", 0.8));
    bad |= wandb_log_partial(run, WANDB_DOUBLE("train-loss", 0.4));
    bad |= wandb_log(run, WANDB_DOUBLE("accuracy", 0.9));
    bad |= wandb_finish(&run, 0);

    // Explicit step: run.log({...}, step=current_step).
    run = start(prefix, "explicit");
    if (!run)
        return 1;
    int64_t current_step = 0;
    bad |= wandb_log_step(run, current_step, WANDB_DOUBLE("train-loss", 0.5));
    bad |= wandb_log_step(run, current_step, WANDB_DOUBLE("accuracy", 0.8));
    current_step += 1;
    bad |= wandb_log_step(run, current_step, WANDB_DOUBLE("train-loss", 0.4));
    bad |= wandb_log_step(run, current_step, WANDB_DOUBLE("accuracy", 0.9));
    bad |= wandb_finish(&run, 0);

    // Sections: "train/..." and "validate/..."; "epoch" as an x axis.
    run = start(prefix, "sections");
    if (!run)
        return 1;
    bad |= wandb_log(run, WANDB_DOUBLE("train/accuracy", 0.9), WANDB_INT("train/loss", 30),
                     WANDB_DOUBLE("validate/accuracy", 0.8), WANDB_INT("validate/loss", 20));
    bad |= wandb_log(run, WANDB_INT("epoch", 40), WANDB_DOUBLE("train-loss", 0.5));
    bad |= wandb_finish(&run, 0);
    return bad ? 1 : 0;
}
