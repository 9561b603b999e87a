//  mpi_artifact.c - one dataset artifact written by every rank of a job, then used by another
//  SPDX-License-Identifier: MIT
//
//  Usage (through the launcher):
//    wandb-mpirun -np 4 ./mpi_artifact produce WORKDIR [SHARD_MIB]
//    wandb-mpirun -np 1 ./mpi_artifact consume OUTDIR
//  produce: every rank writes its own shard WORKDIR/shard-<rank>.bin (a few
//  KiB, or SHARD_MIB MiB) and upserts it into the artifact "shards" (type
//  dataset; the distributed_id is the job's group). After a barrier (every
//  upsert has returned, so the aggregator holds every shard) rank 0 finishes
//  the artifact: ONE version with every rank's shard. Ranks need no shared
//  file system: the bytes travel to the aggregator over the job's transport.
//  consume: rank 0 uses "shards:latest" and downloads it into OUTDIR.
//  Each rank prints its peak RSS (VmHWM) to stderr at the end.
#include "wandb.h"
#include "wandb_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Writes the shard of rank: mib MiB (0: 4 KiB + rank bytes) of bytes that
// depend on the rank, 1 MiB at a time.
static int s_write_shard(const char *path, int rank, long mib)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t block = 1u << 20;
    unsigned char *buf = malloc(block);
    if (!buf) {
        fclose(f);
        return -1;
    }
    long blocks = mib > 0 ? mib : 1;
    size_t last = mib > 0 ? block : 4096 + (size_t)rank;
    unsigned x = 2166136261u ^ (unsigned)rank;
    int rc = 0;
    for (long b = 0; b < blocks && rc == 0; b++) {
        size_t n = b + 1 == blocks ? last : block;
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            buf[i] = (unsigned char)(x >> 24);
        }
        if (fwrite(buf, 1, n, f) != n)
            rc = -1;
    }
    free(buf);
    return fclose(f) == 0 ? rc : -1;
}

static void s_print_hwm(int rank)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            fprintf(stderr, "mpi_artifact: rank %d %s", rank, line);
    if (f)
        fclose(f);
}

static int s_produce(wandb_run_t *run, int rank, const char *workdir, long mib)
{
    char path[4096], name[64];
    snprintf(name, sizeof name, "shard-%d.bin", rank);
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    if (s_write_shard(path, rank, mib) != 0) {
        fprintf(stderr, "rank %d: cannot write %s\n", rank, path);
        return 1;
    }
    wandb_artifact_t *a = NULL;
    wandb_err rc = wandb_artifact_new("shards", "dataset", &a);
    if (rc == WANDB_OK)
        rc = wandb_artifact_add_file(a, path, name);
    if (rc == WANDB_OK)
        rc = wandb_upsert_artifact(run, a, NULL); // returns once the aggregator has it
    if (rc != WANDB_OK)
        fprintf(stderr, "rank %d: upsert: %s: %s\n", rank, wandb_strerror(rc),
                wandb_artifact_errmsg(a));
    wandb_artifact_destroy(&a);
    // Every upsert returned before this barrier, so every shard is in the version.
    int ok = rc == WANDB_OK, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0 && all) {
        rc = wandb_artifact_new("shards", "dataset", &a);
        if (rc == WANDB_OK)
            rc = wandb_finish_artifact(run, a, NULL);
        if (rc == WANDB_OK)
            fprintf(stderr, "mpi_artifact: shards:%s committed\n", wandb_artifact_version(a));
        else
            fprintf(stderr, "rank 0: finish: %s: %s\n", wandb_strerror(rc),
                    wandb_artifact_errmsg(a));
        wandb_artifact_destroy(&a);
    }
    return rc == WANDB_OK && all ? 0 : 1;
}

static int s_consume(wandb_run_t *run, int rank, const char *outdir)
{
    if (rank != 0)
        return 0;
    wandb_artifact_t *a = NULL;
    wandb_err rc = wandb_use_artifact(run, "shards:latest", &a);
    if (rc == WANDB_OK)
        rc = wandb_artifact_download(a, outdir);
    if (rc == WANDB_OK)
        fprintf(stderr, "mpi_artifact: shards:%s (%zu files) downloaded to %s\n",
                wandb_artifact_version(a), wandb_artifact_entry_count(a), outdir);
    else
        fprintf(stderr, "rank 0: use: %s: %s\n", wandb_strerror(rc),
                a ? wandb_artifact_errmsg(a) : "see the log above");
    wandb_artifact_destroy(&a);
    return rc == WANDB_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "produce") != 0 && strcmp(argv[1], "consume") != 0)) {
        fprintf(stderr, "usage: mpi_artifact produce WORKDIR [SHARD_MIB]\n"
                        "       mpi_artifact consume OUTDIR\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    wandb_settings_t *settings = NULL;
    wandb_settings_new(&settings);
    wandb_settings_set(settings, "job_type", argv[1]);
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_mpi_init(MPI_COMM_WORLD, settings, &run);
    wandb_settings_destroy(&settings);
    if (rc != WANDB_OK) {
        fprintf(stderr, "rank %d: wandb_mpi_init: %s\n", rank, wandb_strerror(rc));
        MPI_Finalize();
        return 1;
    }
    int bad = strcmp(argv[1], "produce") == 0
                  ? s_produce(run, rank, argv[2], argc > 3 ? strtol(argv[3], NULL, 10) : 0)
                  : s_consume(run, rank, argv[2]);
    s_print_hwm(rank);
    rc = wandb_mpi_finish(&run, bad);
    MPI_Finalize();
    wandb_shutdown();
    return bad || rc != WANDB_OK ? 1 : 0;
}
