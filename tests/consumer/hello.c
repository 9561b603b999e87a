//  hello.c - the smallest program on the installed wandb-mpi library
//  SPDX-License-Identifier: MIT
//
//  Built by tests/consumer/run.sh against an installed prefix, once with
//  find_package(wandb) and once with pkg-config, to prove that the installed
//  headers, library and package files are enough. The settings come from the
//  environment: with WANDB_MODE=disabled it needs no server.
#include "wandb.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    printf("wandb %s (0x%06x)\n", WANDB_VERSION_STRING, (unsigned)WANDB_VERSION_HEX);
    wandb_run_t *run = NULL;
    wandb_err err = wandb_init(NULL, &run);
    if (err != WANDB_OK) {
        fprintf(stderr, "hello: wandb_init: %s\n", wandb_strerror(err));
        return 1;
    }
    for (int step = 0; step < 10; step++) {
        err = wandb_log(run, WANDB_DOUBLE("loss", 1.0 / (step + 1)), WANDB_INT("step", step));
        if (err != WANDB_OK) {
            fprintf(stderr, "hello: wandb_log: %s\n", wandb_strerror(err));
            return 1;
        }
    }
    printf("run %s logged 10 steps\n", wandb_run_id(run));
    err = wandb_finish(&run, 0);
    wandb_shutdown();
    if (err != WANDB_OK) {
        fprintf(stderr, "hello: wandb_finish: %s\n", wandb_strerror(err));
        return 1;
    }
    return 0;
}
