//  mpi_train.c - a synthetic training loop that logs from every rank
//  SPDX-License-Identifier: MIT
//
//  Usage: mpi_train [steps] [step_ms] [crash_rank]
//         mpi_train [--steps N] [--step-ms MS] [--slow-rank R --slow-ms MS]
//                   [--crash-rank R [--crash-step S]] [--progress-dir D]
//  Run it through the launcher: wandb-mpirun -np 4 ./mpi_train 200
//  With a crash rank, that rank dies at the crash step (default: halfway;
//  _exit(3), no finish), to show how a crashed rank's run and the job run
//  end up. A slow rank spends MS more per step: the job run's straggler
//  figures (mpi/slowest_rank, mpi_lag/rank-R) name it. With a progress
//  directory, each rank keeps the last step it logged in D/rank-<r> (so a
//  test can count what a killed rank had logged).
//  Each rank logs loss and accuracy every step into its own run; the runs
//  of one job share a group that the launcher names, and the aggregator adds
//  the job run with loss reduced across ranks (mean, min, max, std and the
//  ranks of min and max).
#include "wandb.h"
#include "wandb_mpi.h"

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

// Reads the value of flag argv[*i] into *out; false when missing or junk.
static bool s_flag(int argc, char **argv, int *i, double *out)
{
    if (*i + 1 >= argc)
        return false;
    char *end;
    *out = strtod(argv[++*i], &end);
    return end != argv[*i] && *end == '\0';
}

int main(int argc, char **argv)
{
    double steps = 100, step_ms = 1.0, crash_rank = -1, crash_step = -1, slow_rank = -1,
           slow_ms = 0;
    const char *progress_dir = NULL;
    double *positional[] = {&steps, &step_ms, &crash_rank};
    size_t npos = 0;
    bool ok = true;
    for (int i = 1; i < argc && ok; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--steps") == 0)
            ok = s_flag(argc, argv, &i, &steps);
        else if (strcmp(a, "--step-ms") == 0)
            ok = s_flag(argc, argv, &i, &step_ms);
        else if (strcmp(a, "--crash-rank") == 0)
            ok = s_flag(argc, argv, &i, &crash_rank);
        else if (strcmp(a, "--crash-step") == 0)
            ok = s_flag(argc, argv, &i, &crash_step);
        else if (strcmp(a, "--slow-rank") == 0)
            ok = s_flag(argc, argv, &i, &slow_rank);
        else if (strcmp(a, "--slow-ms") == 0)
            ok = s_flag(argc, argv, &i, &slow_ms);
        else if (strcmp(a, "--progress-dir") == 0 && i + 1 < argc)
            progress_dir = argv[++i];
        else if (a[0] != '-' && npos < 3) {
            char *end;
            *positional[npos++] = strtod(a, &end);
            ok = end != a && *end == '\0';
        } else
            ok = false;
    }
    if (!ok || steps < 1 || steps > 10000000 || step_ms < 0 || slow_ms < 0) {
        fprintf(stderr, "usage: mpi_train [--steps 1..10000000] [--step-ms MS] "
                        "[--slow-rank R --slow-ms MS] [--crash-rank R [--crash-step S]] "
                        "[--progress-dir D]\n"
                        "       mpi_train [steps] [step_ms] [crash_rank]\n");
        return 2;
    }
    if (crash_step < 0)
        crash_step = (long)steps / 2;
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
        (long)steps);
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

    int progress_fd = -1;
    if (progress_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/rank-%d", progress_dir, rank);
        progress_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }

    // The job run reduces loss in every way; the other metrics by their mean.
    wandb_define_reduce(run, "loss", "mean,min,max,std,argmin,argmax");

    // A loss that decays with noise that depends on the rank.
    unsigned seed = 1234u + (unsigned)rank;
    long nsteps = (long)steps;
    for (long step = 0; step < nsteps; step++) {
        s_busy_work(step_ms + (rank == (long)slow_rank ? slow_ms : 0));
        if (rank == (long)crash_rank && step == (long)crash_step)
            _exit(3); // a crash during the step: no wandb_finish, no MPI_Finalize
        double noise = (double)rand_r(&seed) / RAND_MAX - 0.5;
        double loss = 2.0 * exp(-(double)step / (double)(nsteps / 4 + 1)) + 0.05 * noise;
        double acc = 1.0 - loss / 2.5;
        wandb_log(run, WANDB_DOUBLE("loss", loss), WANDB_DOUBLE("accuracy", acc),
                  WANDB_INT("epoch", step / 10));
        if (progress_fd >= 0) {
            char text[24];
            int n = snprintf(text, sizeof text, "%-20ld\n", step);
            (void)!pwrite(progress_fd, text, (size_t)n, 0);
        }
    }
    wandb_summary_update(run, WANDB_STRING("status", "done"));
    if (rank == 0)
        fprintf(stderr, "mpi_train: %ld steps logged; run %s in group %s\n", nsteps,
                wandb_run_id(run), wandb_run_group(run));
    rc = wandb_mpi_finish(&run, 0);
    MPI_Finalize();
    wandb_shutdown();
    return rc == WANDB_OK ? 0 : 1;
}
