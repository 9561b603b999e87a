//  run_url.c - logs one small run through the public C API and prints its URL
//  SPDX-License-Identifier: MIT
//
//  Used by tests/browser/test_dashboard.py: the settings come from the
//  environment (WANDB_BASE_URL, WANDB_API_KEY, WANDB_PROJECT); the run logs
//  "loss" for 8 steps and a config value, waits until the run is welcomed
//  (its entity known), then prints "URL <wandb_run_url>"
//  and "ID <run id>" on stdout, and finishes.
#include "wandb.h"

#include <stdio.h>
#include <time.h>

int main(void)
{
    wandb_run_t *run = NULL;
    wandb_err err = wandb_init(NULL, &run);
    if (err != WANDB_OK) {
        fprintf(stderr, "run_url: wandb_init: %s\n", wandb_strerror(err));
        return 1;
    }
    err = wandb_config_update(run, WANDB_DOUBLE("lr", 0.25), WANDB_STRING("opt", "adam"));
    for (int step = 0; step < 8 && err == WANDB_OK; step++)
        err = wandb_log(run, WANDB_DOUBLE("loss", 1.0 / (step + 1)));
    if (err != WANDB_OK) {
        fprintf(stderr, "run_url: wandb_log: %s\n", wandb_strerror(err));
        return 1;
    }
    // The URL is "" until the entity is known: the aggregator names it when
    // the backend has welcomed the run (bounded wait: 20 s).
    for (int i = 0; i < 200 && !*wandb_run_url(run); i++)
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    printf("URL %s\nID %s\n", wandb_run_url(run), wandb_run_id(run));
    err = wandb_finish(&run, 0);
    wandb_shutdown();
    if (err != WANDB_OK) {
        fprintf(stderr, "run_url: wandb_finish: %s\n", wandb_strerror(err));
        return 1;
    }
    return 0;
}
