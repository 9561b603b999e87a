//  media_watch.c - wandb_watch on a tiny model trained by gradient descent
//  SPDX-License-Identifier: MIT
//
//  Python:
//      run = wandb.init()
//      run.watch(model, log="all", log_freq=10)
//      for step in range(50):
//          loss = train_step(model)
//          run.log({"loss": loss})
//  Here the "model" is y = w . x + b with 8 weights, fitted to a fixed
//  target; its weights and gradients are plain arrays that wandb_watch
//  reads every 10th step, inside wandb_log. Settings come from the
//  environment. Exit 0 when every call succeeded.
#include "wandb.h"

#include <stdio.h>

#define N 8

int main(void)
{
    double weights[N] = {0};
    double grads[N] = {0};
    const double target[N] = {0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2};
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb_init: %s\n", wandb_strerror(rc));
        return 1;
    }
    rc = wandb_watch(run, "linear.weight", WANDB_DTYPE_FLOAT64, weights, grads, N, WANDB_WATCH_ALL,
                     10);
    for (int step = 0; step < 50 && rc == WANDB_OK; step++) {
        double loss = 0;
        for (int i = 0; i < N; i++) {
            double err = weights[i] - target[i];
            loss += err * err / N;
            grads[i] = 2 * err / N;
            weights[i] -= 0.5 * grads[i];
        }
        rc = wandb_log(run, WANDB_DOUBLE("loss", loss));
    }
    if (rc == WANDB_OK)
        rc = wandb_unwatch(run, "linear.weight");
    wandb_err frc = wandb_finish(&run, rc == WANDB_OK ? 0 : 1);
    if (rc != WANDB_OK || frc != WANDB_OK) {
        fprintf(stderr, "media_watch: %s\n", wandb_strerror(rc != WANDB_OK ? rc : frc));
        return 1;
    }
    return 0;
}
