//  wandb_mpi.c - collective start of a job's runs around one aggregator
//  SPDX-License-Identifier: MIT
//
//  Uses only the public API of wandb.h plus MPI, so libwandb itself never
//  depends on MPI. One MPI_Bcast in wandb_mpi_init; nothing after it.
#include "wandb_mpi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// What rank 0 tells every rank. Fixed size: one broadcast.
typedef struct {
    int32_t status;         // wandb_err of the aggregator start on rank 0
    char endpoint[256];     // aggregator endpoint
    char secret[65];        // per-job secret
    char server_key[41];    // the aggregator's CURVE public key ("" when plain)
    char client_key[41];    // the job's CURVE client public key
    char client_secret[41]; // the job's CURVE client secret key
    char plain;             // rank 0 runs with transport_security=plain
    char group[129];        // the job's group
} s_job_info_t;

// The aggregator this process hosts, if any: wandb_mpi_init sets it on rank
// 0 and wandb_mpi_finish stops it. One job per process, documented.
static wandb_aggregator_t *s_hosted;
static int s_finish_timeout_ms = 30000; // the finish_timeout_ms default (docs/settings.md)

// Fills out with 2*bytes lowercase hex characters from /dev/urandom.
static void s_random_hex(char *out, size_t bytes)
{
    unsigned char raw[32] = {0};
    if (bytes > sizeof raw)
        bytes = sizeof raw;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, bytes) != (ssize_t)bytes) {
        struct timespec ts; // weak fallback, still unique per job
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < bytes; i++)
            raw[i] = (unsigned char)((ts.tv_nsec >> (i % 4) * 8) ^ (getpid() >> (i % 2) * 8) ^ i);
    }
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

// The job's group: the setting, else "<program>-<scheduler job id or time>".
static void s_default_group(const wandb_settings_t *settings, char *out, size_t len)
{
    const char *set = wandb_settings_get(settings, "group");
    if (set && *set) {
        snprintf(out, len, "%s", set);
        return;
    }
    char exe[256] = "job";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    const char *prog = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    const char *ids[] = {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "FLUX_JOB_ID"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *id = getenv(ids[i]);
        if (id && *id) {
            snprintf(out, len, "%s-%s", prog, id);
            return;
        }
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, len, "%s-%s", prog, stamp);
}

// True when every rank of comm runs on this node (loopback is enough).
static bool s_single_node(MPI_Comm comm)
{
    MPI_Comm local;
    int local_size = 0, size = 0;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size);
    MPI_Comm_free(&local);
    MPI_Comm_size(comm, &size);
    return local_size == size;
}

// True when the run will not talk to an aggregator (mode disabled). Offline
// jobs have one: rank 0's, which journals instead of sending.
static bool s_no_transport(const wandb_settings_t *settings)
{
    const char *mode = wandb_settings_get(settings, "mode");
    return mode && strcmp(mode, "disabled") == 0;
}

// Copies the transport security settings of rank 0 (the CURVE keys of the
// aggregator, or plain) into what it broadcasts.
static void s_copy_keys(const wandb_settings_t *settings, s_job_info_t *info)
{
    const char *names[] = {"aggregator_server_key", "aggregator_client_key",
                           "aggregator_client_secret"};
    char *dst[] = {info->server_key, info->client_key, info->client_secret};
    for (int i = 0; i < 3; i++) {
        const char *v = wandb_settings_get(settings, names[i]);
        snprintf(dst[i], sizeof info->server_key, "%s", v ? v : "");
    }
    const char *sec = wandb_settings_get(settings, "transport_security");
    info->plain = sec && strcmp(sec, "plain") == 0;
}

// Rank 0: decides the group and starts (or adopts) the aggregator.
static void s_prepare_job(wandb_settings_t *settings, int size, bool single_node,
                          s_job_info_t *info)
{
    s_default_group(settings, info->group, sizeof info->group);
    info->status = WANDB_OK;
    if (s_no_transport(settings))
        return; // no aggregator: every rank's wandb_init decides alone
    // An endpoint from the settings or WANDB_AGGREGATOR: the launcher's process.
    const char *external = wandb_settings_get(settings, "aggregator");
    if (external && *external) {
        const char *secret = wandb_settings_get(settings, "secret");
        snprintf(info->endpoint, sizeof info->endpoint, "%s", external);
        snprintf(info->secret, sizeof info->secret, "%s", secret ? secret : "");
        s_copy_keys(settings, info);
        return;
    }
    s_random_hex(info->secret, 32);
    wandb_settings_set(settings, "secret", info->secret);
    const char *bind = single_node ? "tcp://127.0.0.1:*" : "tcp://*:*";
    info->status = wandb_aggregator_start(settings, bind, size, &s_hosted);
    if (info->status != WANDB_OK)
        return;
    s_copy_keys(settings, info); // set by wandb_aggregator_start (CURVE)
    const char *ep = wandb_aggregator_endpoint(s_hosted);
    if (single_node) {
        snprintf(info->endpoint, sizeof info->endpoint, "%s", ep);
        return;
    }
    // Bound to every interface: advertise this host's name instead of '*'.
    char host[200] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *port = strrchr(ep, ':');
    snprintf(info->endpoint, sizeof info->endpoint, "tcp://%s%s", host, port ? port : ":0");
}

wandb_err wandb_mpi_init(MPI_Comm comm, wandb_settings_t *settings, wandb_run_t **run_out)
{
    if (!run_out)
        return WANDB_EINVAL;
    *run_out = NULL;
    wandb_settings_t *own = NULL;
    if (!settings) {
        wandb_err rc = wandb_settings_new(&own);
        if (rc != WANDB_OK)
            return rc;
        settings = own;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    bool single_node = s_single_node(comm);

    s_job_info_t info = {.status = WANDB_OK};
    if (rank == 0)
        s_prepare_job(settings, size, single_node, &info);
    MPI_Bcast(&info, (int)sizeof info, MPI_BYTE, 0, comm);

    wandb_err rc = (wandb_err)info.status;
    if (rc == WANDB_OK) {
        char num[32], name[48];
        snprintf(num, sizeof num, "%d", rank);
        wandb_settings_set(settings, "rank", num);
        snprintf(num, sizeof num, "%d", size);
        wandb_settings_set(settings, "world_size", num);
        const char *set_name = wandb_settings_get(settings, "name");
        if (!set_name || !*set_name) {
            snprintf(name, sizeof name, "rank-%d", rank);
            wandb_settings_set(settings, "name", name);
        }
        wandb_settings_set(settings, "group", info.group);
        if (info.endpoint[0]) {
            wandb_settings_set(settings, "aggregator", info.endpoint);
            wandb_settings_set(settings, "secret", info.secret);
            if (info.server_key[0]) {
                wandb_settings_set(settings, "aggregator_server_key", info.server_key);
                wandb_settings_set(settings, "aggregator_client_key", info.client_key);
                wandb_settings_set(settings, "aggregator_client_secret", info.client_secret);
            }
            if (info.plain)
                wandb_settings_set(settings, "transport_security", "plain");
        }
        const char *t = wandb_settings_get(settings, "finish_timeout_ms");
        long ms = t ? strtol(t, NULL, 10) : 0; // validated by wandb_init
        if (ms > 0 && ms < INT32_MAX)
            s_finish_timeout_ms = (int)ms;
        rc = wandb_init(settings, run_out);
    } else {
        rc = WANDB_EIO;
    }
    // All ranks agree on the outcome (still inside init: nothing collective
    // follows). One failed rank would otherwise leave rank 0's aggregator
    // waiting for a run that never comes, or the others logging into nothing.
    int local = (int)rc, worst = 0;
    MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst != WANDB_OK && rc == WANDB_OK) {
        wandb_finish(run_out, 1); // a failed run, not silently dropped
        rc = WANDB_EIO;
    }
    if (rc != WANDB_OK && s_hosted) // a moment for the other ranks' FINISH to be acknowledged
        wandb_aggregator_stop(&s_hosted, 2000);
    wandb_settings_destroy(&own);
    return rc;
}

// Milliseconds on the monotonic clock.
static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wandb_err wandb_mpi_finish(wandb_run_t **run_p, int exit_code)
{
    // One deadline for both waits: finish_timeout_ms bounds the whole call.
    int64_t deadline = s_now_ms() + s_finish_timeout_ms;
    wandb_err rc = wandb_finish(run_p, exit_code);
    if (s_hosted) {
        int64_t left = deadline - s_now_ms();
        wandb_err stop = wandb_aggregator_stop(&s_hosted, left > 100 ? (int)left : 100);
        if (rc == WANDB_OK)
            rc = stop;
    }
    return rc;
}
