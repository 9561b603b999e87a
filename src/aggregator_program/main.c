//  main.c - wandb-mpi-aggregator: the aggregator as its own process
//  SPDX-License-Identifier: MIT
//
//  Started by the launcher before mpirun. Binds, prints one readiness line
//  on stdout ("wandb-mpi-aggregator listening on tcp://..."), then forwards
//  every run to its journal (under --dir) and to the backend (none with
//  --mode offline). Ends when the expected runs finished (or crashed) and the
//  backend drained, or on SIGTERM/SIGINT: then it waits a short grace period
//  for runs, drains, and leaves unfinished runs without a finish so the
//  backend marks them crashed. SIGUSR1 (from the launcher, when the job
//  is being preempted) marks every active run preempting: those the
//  scheduler then kills end preempted, not crashed. Exit status: 0 when everything was delivered
//  (offline: journaled), 1 when something is pending (it stays in the
//  journal: the log names the `wandb-mpi sync` command), 2 on bad usage,
//  3 when everything was delivered but some runs never finished (their
//  ranks died: they end crashed, or preempted).
#include "aggregator/agg_ext.h"
#include "aggregator/zap.h"
#include "backend/backend.h"
#include "common/log.h"
#include "outlet/outlet.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static volatile sig_atomic_t s_signalled; // set by the SIGTERM/SIGINT handler
static volatile sig_atomic_t s_preempt;   // set by the SIGUSR1 handler

// Records the signal; the main loop does the work.
static void s_on_signal(int sig)
{
    if (sig == SIGUSR1)
        s_preempt = 1;
    else
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
    fprintf(stderr,
            "usage: wandb-mpi-aggregator --bind ENDPOINT [--base-url URL] [--api-key KEY]\n"
            "         [--mode online|offline] [--dir D] [--journal-flush-ms N]\n"
            "         [--journal-max-bytes N] [--http2 auto|prior-knowledge|off]\n"
            "         [--ca-cert FILE] [--request-budget N]\n"
            "         [--secret S] [--expected-runs N] [--flush-interval-ms N]\n"
            "         [--heartbeat-timeout-ms N] [--drain-timeout-ms N]\n"
            "         [--log-level err|warn|notice|info|debug] [--transport-security curve|plain]\n"
            "         [--console-dir DIR]\n"
            "         [--mpirun-report FILE]\n"
            "  ENDPOINT e.g. tcp://127.0.0.1:0 (ephemeral port); KEY and S default to\n"
            "  $WANDB_API_KEY and $WANDB_AGGREGATOR_SECRET. The journal goes under D\n"
            "  (default $WANDB_DIR, else ./wandb); --base-url is needed online.\n"
            "  Job run (docs/job-view.md): $WANDB_JOB_RUN=false turns it off,\n"
            "  $WANDB_PER_RANK_RUNS=false sends a job's ranks only through it,\n"
            "  $WANDB_JOB_LATENESS_MS bounds the wait for a slow rank (default 10000).\n"
            "  --console-dir (or $WANDB_CONSOLE_DIR): mpirun's --output-filename directory;\n"
            "  every rank's stdout/stderr lines go to output.log of its run.\n");
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

// Reads the launcher's summary of mpirun's end: lines "first R C" (the
// process mpirun says failed first) and "exit R C" (another rank's exit
// code C; 128 + n for signal n). A missing file says nothing.
static void s_read_report(wbi_agg_t *agg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char word[8];
    int rank, code;
    while (fscanf(f, "%7s %d %d", word, &rank, &code) == 3)
        if (rank >= 0 && code >= 0 && (strcmp(word, "first") == 0 || strcmp(word, "exit") == 0))
            wbi_agg_report_exit(agg, rank, code, word[0] == 'f');
    fclose(f);
}

// True for a setting that says no: false, 0, off, no (any case).
static bool s_false(const char *s)
{
    return strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "off") == 0 ||
           strcasecmp(s, "no") == 0;
}

int main(int argc, char **argv)
{
    wbi_agg_opts_t opts = {.bind = NULL};
    wbi_outlet_opts_t oopts = {.journal_dir = NULL};
    int drain_ms = 60000;
    int budget = 0;
    long long max_bytes = 0;
    const char *mode = "online";
    const char *report = NULL; // --mpirun-report: mpirun's exit report, read at the end
    oopts.journal_dir = getenv("WANDB_DIR") && *getenv("WANDB_DIR") ? getenv("WANDB_DIR") : "wandb";
    // The settings a rank reads from the environment, as defaults for the flags.
    const char *e;
    if ((e = getenv("WANDB_JOURNAL_FLUSH_MS")) && !s_int(e, &oopts.journal_flush_ms))
        oopts.journal_flush_ms = 0;
    if ((e = getenv("WANDB_JOURNAL_MAX_BYTES")) && *e)
        max_bytes = strtoll(e, NULL, 10) > 0 ? strtoll(e, NULL, 10) : 0;
    if ((e = getenv("WANDB_HTTP2")) && *e)
        wbi_backend_parse_http2(e, &oopts.backend.http2);
    if ((e = getenv("WANDB_CA_CERT")) && *e)
        oopts.backend.ca_cert = e;
    if ((e = getenv("WANDB_REQUEST_BUDGET")) && !s_int(e, &budget))
        budget = 0;
    if ((e = getenv("WANDB_FLUSH_INTERVAL_MS")) && !s_int(e, &oopts.backend.flush_interval_ms))
        oopts.backend.flush_interval_ms = 0;
    if ((e = getenv("WANDB_JOB_RUN")) && s_false(e))
        opts.no_job_run = true;
    if ((e = getenv("WANDB_PER_RANK_RUNS")) && s_false(e))
        opts.no_rank_runs = true;
    if ((e = getenv("WANDB_JOB_LATENESS_MS")) && !s_int(e, &opts.job_lateness_ms))
        opts.job_lateness_ms = 0;
    if ((e = getenv("WANDB_CONSOLE_DIR")) && *e)
        opts.console_dir = e;
    oopts.backend.api_key = getenv("WANDB_API_KEY");
    opts.secret = getenv("WANDB_AGGREGATOR_SECRET");
    const char *security = getenv("WANDB_TRANSPORT_SECURITY");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage();
            return 0;
        } else if (strcmp(a, "--bind") == 0) {
            opts.bind = v;
        } else if (strcmp(a, "--mpirun-report") == 0) {
            report = v;
        } else if (strcmp(a, "--base-url") == 0) {
            oopts.backend.base_url = v;
        } else if (strcmp(a, "--api-key") == 0) {
            oopts.backend.api_key = v;
        } else if (strcmp(a, "--mode") == 0) {
            mode = v;
            ok = ok && (strcmp(v, "online") == 0 || strcmp(v, "offline") == 0);
        } else if (strcmp(a, "--dir") == 0) {
            oopts.journal_dir = v;
        } else if (strcmp(a, "--journal-flush-ms") == 0) {
            ok = ok && s_int(v, &oopts.journal_flush_ms);
        } else if (strcmp(a, "--journal-max-bytes") == 0) {
            char *end;
            max_bytes = ok ? strtoll(v, &end, 10) : 0;
            ok = ok && *v && !*end && max_bytes > 0;
        } else if (strcmp(a, "--http2") == 0) {
            ok = ok && wbi_backend_parse_http2(v, &oopts.backend.http2) == WANDB_OK;
        } else if (strcmp(a, "--ca-cert") == 0) {
            oopts.backend.ca_cert = v;
        } else if (strcmp(a, "--request-budget") == 0) {
            ok = ok && s_int(v, &budget) && budget > 0;
        } else if (strcmp(a, "--console-dir") == 0) {
            opts.console_dir = ok && *v ? v : NULL;
        } else if (strcmp(a, "--transport-security") == 0) {
            security = v;
        } else if (strcmp(a, "--secret") == 0) {
            opts.secret = v;
        } else if (strcmp(a, "--expected-runs") == 0) {
            ok = ok && s_int(v, &opts.expected_runs);
        } else if (strcmp(a, "--flush-interval-ms") == 0) {
            ok = ok && s_int(v, &oopts.backend.flush_interval_ms);
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
    oopts.offline = strcmp(mode, "offline") == 0;
    if (security && *security && strcmp(security, "curve") != 0 && strcmp(security, "plain") != 0) {
        fprintf(stderr, "wandb-mpi-aggregator: transport security must be curve or plain\n");
        return 2;
    }
    opts.plain = security && strcmp(security, "plain") == 0;
    oopts.journal_max_bytes = (uint64_t)max_bytes;
    oopts.backend.request_budget = budget;
    if (!opts.bind || (!oopts.offline && !oopts.backend.base_url)) {
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
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); // a file-size limit makes journal writes fail (EFBIG), counted

    wbi_agg_t *agg = NULL;
    wbi_outlet_t *outlet = NULL; // borrowed until wbi_agg_stop_ex
    wandb_err rc = wbi_outlet_start_agg(&agg, &opts, &oopts, &outlet);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb-mpi-aggregator: cannot start on '%s': %s\n", opts.bind,
                wandb_strerror(rc));
        return 1;
    }
    printf("wandb-mpi-aggregator listening on %s\n", wbi_agg_endpoint(agg));
    // The keys go to the launcher through this pipe, never through argv.
    const wbi_zap_keys_t *keys = wbi_agg_keys(agg);
    if (keys)
        printf("wandb-mpi-aggregator server_key %s\nwandb-mpi-aggregator client_key %s\n"
               "wandb-mpi-aggregator client_secret %s\n",
               keys->server_key, keys->client_key, keys->client_secret);
    printf("wandb-mpi-aggregator journal %s\n", wbi_outlet_journal_dir(outlet));
    fflush(stdout);

    // Without --expected-runs only a signal ends the service.
    while (!s_signalled && !(opts.expected_runs > 0 && wbi_agg_settled(agg))) {
        if (s_preempt) {
            s_preempt = 0;
            wbi_agg_preempt(agg);
        }
        wbi_agg_sleep_ms(50);
    }
    if (report)
        s_read_report(agg, report);
    int grace_ms = s_signalled ? 2000 : 0;
    if (s_signalled)
        wbi_info("aggregator: signal received: stopping");
    wbi_agg_stats_t st;
    wandb_err delivery = WANDB_OK;
    rc = wbi_agg_stop_ex(&agg, grace_ms, drain_ms, &st, &delivery);
    bool unsettled = rc != WANDB_OK && delivery == WANDB_OK; // runs that did not finish
    fprintf(stderr,
            "wandb-mpi-aggregator: %llu runs (%llu finished, %llu crashed, %llu preempted), "
            "%llu rows, %llu malformed: %s\n",
            (unsigned long long)st.runs, (unsigned long long)st.runs_finished,
            (unsigned long long)st.runs_crashed, (unsigned long long)st.runs_preempted,
            (unsigned long long)st.rows, (unsigned long long)st.malformed,
            rc == WANDB_OK ? "done"
            : unsettled    ? "not every run finished"
                           : wandb_strerror(rc));
    if (unsettled) {
        // Everything that arrived was delivered (offline: journaled); some
        // ranks never finished.
        fprintf(stderr,
                "wandb-mpi-aggregator: everything received was %s; runs that did not "
                "finish are left to be marked crashed (or preempted) by the backend\n",
                oopts.offline ? "journaled" : "delivered");
        return 3;
    }
    return rc == WANDB_OK ? 0 : 1;
}
