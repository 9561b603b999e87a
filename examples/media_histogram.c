//  media_histogram.c - the seed's histogram example, in C
//  SPDX-License-Identifier: MIT
//
//  Python (the reference page of wandb.Run.log):
//      gradients = np.random.randn(100, 100)
//      run = wandb.init()
//      run.log({"gradients": wandb.Histogram(gradients)})
//  Settings come from the environment (WANDB_PROJECT, WANDB_BASE_URL,
//  WANDB_API_KEY, ...). Exit 0 when every call succeeded.
#include "wandb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

// A standard normal sample (Box-Muller over a xorshift generator).
static double s_randn(uint64_t *state)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        u[i] = ((double)(*state >> 11) + 0.5) / 9007199254740992.0; // (0, 1)
    }
    return sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]);
}

int main(void)
{
    static double gradients[100 * 100];
    uint64_t state = 42;
    for (size_t i = 0; i < sizeof gradients / sizeof gradients[0]; i++)
        gradients[i] = s_randn(&state);

    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb_init: %s\n", wandb_strerror(rc));
        return 1;
    }
    wandb_histogram_t *hist = NULL;
    rc = wandb_histogram_new(&hist, gradients, WANDB_DTYPE_FLOAT64, 100 * 100, 0); // 64 bins
    if (rc == WANDB_OK)
        rc = wandb_log(run, WANDB_HISTOGRAM("gradients", hist));
    wandb_histogram_destroy(&hist);
    wandb_err frc = wandb_finish(&run, rc == WANDB_OK ? 0 : 1);
    if (rc != WANDB_OK || frc != WANDB_OK) {
        fprintf(stderr, "media_histogram: %s\n", wandb_strerror(rc != WANDB_OK ? rc : frc));
        return 1;
    }
    return 0;
}
