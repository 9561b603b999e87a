//  mpi_train.c - a synthetic training loop that logs from every rank
//  SPDX-License-Identifier: MIT
//
//  Usage: mpi_train [steps] [step_ms] [crash_rank]
//  Run it through the launcher: wandb-mpirun -np 4 ./mpi_train 200
//  With crash_rank, that rank dies halfway (_exit, no finish), to show how
//  a crashed rank's run ends up.
//  Each rank logs loss and accuracy every step into its own run; the runs
//  of one job share a group that the launcher names.
#include "wandb.h"
#include "wandb_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

// Spins for about ms milliseconds of "training".
static void s_busy_work(double ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6 < ms);
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    double step_ms = argc > 2 ? strtod(argv[2], NULL) : 1.0;
    long crash_rank = argc > 3 ? strtol(argv[3], NULL, 10) : -1;
    if (steps <= 0 || steps > 10000000 || step_ms < 0) {
        fprintf(stderr, "usage: mpi_train [steps 1..10000000] [step_ms >= 0]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);

    wandb_settings_t *settings = NULL;
    wandb_settings_new(&settings);
    wandb_settings_set(settings, "job_type", "train");
    char config[256];
    snprintf(
        config, sizeof config,
        "{\"lr\": 0.01, \"steps\": %ld, \"optimizer\": {\"name\": \"sgd\", \"momentum\": 0.9}}",
        steps);
    wandb_settings_config_json(settings, config);

    wandb_run_t *run = NULL;
    wandb_err rc = wandb_mpi_init(MPI_COMM_WORLD, settings, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "rank %d: wandb_mpi_init: %s: %s\n", rank, wandb_strerror(rc),
                wandb_settings_errmsg(settings));
        wandb_settings_destroy(&settings);
        MPI_Finalize();
        return 1;
    }
    wandb_settings_destroy(&settings);

    // A loss that decays with noise that depends on the rank.
    unsigned seed = 1234u + (unsigned)rank;
    for (long step = 0; step < steps; step++) {
        if (rank == crash_rank && step == steps / 2)
            _exit(3); // a crash: no wandb_finish, no MPI_Finalize
        s_busy_work(step_ms);
        double noise = (double)rand_r(&seed) / RAND_MAX - 0.5;
        double loss = 2.0 * exp(-(double)step / (double)(steps / 4 + 1)) + 0.05 * noise;
        double acc = 1.0 - loss / 2.5;
        wandb_log(run, WANDB_DOUBLE("loss", loss), WANDB_DOUBLE("accuracy", acc),
                  WANDB_INT("epoch", step / 10));
    }
    wandb_summary_update(run, WANDB_STRING("status", "done"));
    if (rank == 0)
        fprintf(stderr, "mpi_train: %ld steps logged; run %s in group %s\n", steps,
                wandb_run_id(run), wandb_run_group(run));
    rc = wandb_mpi_finish(&run, 0);
    MPI_Finalize();
    wandb_shutdown();
    return rc == WANDB_OK ? 0 : 1;
}
