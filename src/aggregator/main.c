//  main.c - wandb-mpi-aggregator: the aggregator as its own process
//  SPDX-License-Identifier: MIT
//
//  Started by the launcher before mpirun. Binds, prints one readiness line
//  on stdout ("wandb-mpi-aggregator listening on tcp://..."), then forwards
//  every run to the backend. Ends when the expected runs finished (or
//  crashed) and the backend drained, or on SIGTERM/SIGINT: then it waits a
//  short grace period for runs, drains, and leaves unfinished runs without a
//  finish so the backend marks them crashed. Exit status: 0 when everything
//  was delivered, 1 when something was pending at the end, 2 on bad usage.
#include "aggregator/agg_ext.h"
#include "common/log.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t s_signalled; // set by the SIGTERM/SIGINT handler

// Records the signal; the main loop does the work.
static void s_on_signal(int sig)
{
    (void)sig;
    s_signalled = 1;
}

// Service log line: timestamp, level, component, message (stderr).
static void s_logger(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    static const char *names[] = {"", "", "", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG"};
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s %s\n", ts, (int)level >= 3 && (int)level <= 7 ? names[level] : "?", msg);
}

// Prints usage to stderr.
static void s_usage(void)
{
    fprintf(stderr, "usage: wandb-mpi-aggregator --bind ENDPOINT --base-url URL [--api-key KEY]\n"
                    "         [--secret S] [--expected-runs N] [--flush-interval-ms N]\n"
                    "         [--heartbeat-timeout-ms N] [--drain-timeout-ms N]\n"
                    "         [--log-level err|warn|notice|info|debug]\n"
                    "  ENDPOINT e.g. tcp://127.0.0.1:0 (ephemeral port); KEY and S default to\n"
                    "  $WANDB_API_KEY and $WANDB_AGGREGATOR_SECRET.\n");
}

// Parses a non-negative int option; false on junk.
static bool s_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

int main(int argc, char **argv)
{
    wbi_agg_opts_t opts = {.bind = NULL};
    int drain_ms = 60000;
    opts.backend.api_key = getenv("WANDB_API_KEY");
    opts.secret = getenv("WANDB_AGGREGATOR_SECRET");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage();
            return 0;
        } else if (strcmp(a, "--bind") == 0) {
            opts.bind = v;
        } else if (strcmp(a, "--base-url") == 0) {
            opts.backend.base_url = v;
        } else if (strcmp(a, "--api-key") == 0) {
            opts.backend.api_key = v;
        } else if (strcmp(a, "--secret") == 0) {
            opts.secret = v;
        } else if (strcmp(a, "--expected-runs") == 0) {
            ok = ok && s_int(v, &opts.expected_runs);
        } else if (strcmp(a, "--flush-interval-ms") == 0) {
            ok = ok && s_int(v, &opts.backend.flush_interval_ms);
        } else if (strcmp(a, "--heartbeat-timeout-ms") == 0) {
            ok = ok && s_int(v, &opts.heartbeat_timeout_ms);
        } else if (strcmp(a, "--drain-timeout-ms") == 0) {
            ok = ok && s_int(v, &drain_ms);
        } else if (strcmp(a, "--log-level") == 0) {
            ok = ok && setenv("WANDB_LOG_LEVEL", v, 1) == 0; // read at the first log call
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "wandb-mpi-aggregator: bad or incomplete option '%s'\n", a);
            s_usage();
            return 2;
        }
        i++;
    }
    if (!opts.bind || !opts.backend.base_url) {
        s_usage();
        return 2;
    }
    wandb_set_logger(s_logger, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    wbi_agg_t *agg = NULL;
    wandb_err rc = wbi_agg_start(&agg, &opts);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb-mpi-aggregator: cannot start on '%s': %s\n", opts.bind,
                wandb_strerror(rc));
        return 1;
    }
    printf("wandb-mpi-aggregator listening on %s\n", wbi_agg_endpoint(agg));
    fflush(stdout);

    // Without --expected-runs only a signal ends the service.
    while (!s_signalled && !(opts.expected_runs > 0 && wbi_agg_settled(agg)))
        wbi_agg_sleep_ms(50);
    int grace_ms = s_signalled ? 2000 : 0;
    if (s_signalled)
        wbi_info("aggregator: signal received: stopping");
    wbi_agg_stats_t st;
    rc = wbi_agg_stop_ex(&agg, grace_ms, drain_ms, &st);
    fprintf(stderr,
            "wandb-mpi-aggregator: %llu runs (%llu finished, %llu crashed), %llu rows, "
            "%llu malformed: %s\n",
            (unsigned long long)st.runs, (unsigned long long)st.runs_finished,
            (unsigned long long)st.runs_crashed, (unsigned long long)st.rows,
            (unsigned long long)st.malformed, rc == WANDB_OK ? "done" : wandb_strerror(rc));
    return rc == WANDB_OK ? 0 : 1;
}
