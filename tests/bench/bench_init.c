//  bench_init.c - B11: wall time of wandb_init and wandb_finish
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_init [server-binary]
//  Baselines first, in the same process: libzmq context + DEALER + connect +
//  first message delivered to a ROUTER bound here on tcp loopback (and
//  close + term), and curl_global_init + curl_easy_init (and cleanup). Then
//  against a real wandb-mpi-server in a temporary directory:
//   - non-zero rank: wandb_init with the "aggregator" setting pointing at an
//     aggregator hosted in this process (wandb_aggregator_start, tcp), rank 1
//     of 2; then wandb_finish (until the aggregator's FINISHED);
//   - rank 0 / single process: wandb_init with the in-process aggregator,
//     then wandb_finish (run upsert, file_stream, complete, drained);
//   - finish with 1 M pending points: 100 000 rows of 10 doubles logged as
//     fast as possible into a 32 MiB ring (ring_full=wait: none dropped),
//     then wandb_finish is timed (ring -> aggregator -> server, all acked);
//   - unreachable aggregator: init, and finish bounded by finish_timeout_ms.
//  Each: one warm-up, then repetitions; median and p10/p90.
#include "bench_util.h"
#include "common/wire.h"
#include "wandb.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_REPS 10    // repetitions of the quick measurements
#define S_BIG_REPS 5 // repetitions of the 1 M point finish
#define S_BIG_ROWS 100000

static char s_names[10][16];

// Prints one figure: median (p10..p90) in ms.
static void s_row(const char *name, const bu_stats_t *st, const char *note)
{
    fprintf(stderr, "%-48s %9.4f (%9.4f..%9.4f) ms  %s\n", name, st->median, st->p10, st->p90,
            note);
}

// Baseline: curl_global_init + curl_easy_init (ms); also reports the first
// (cold) call in *cold.
static bu_stats_t s_curl_baseline(double *cold)
{
    double v[S_REPS];
    for (int i = -1; i < S_REPS; i++) {
        uint64_t t0 = bu_now_ns();
        curl_global_init(CURL_GLOBAL_ALL);
        CURL *c = curl_easy_init();
        uint64_t t1 = bu_now_ns();
        curl_easy_cleanup(c);
        curl_global_cleanup();
        if (i < 0)
            *cold = (double)(t1 - t0) / 1e6;
        else
            v[i] = (double)(t1 - t0) / 1e6;
    }
    return bu_stats(v, S_REPS);
}

// Baseline: zmq ctx + socket + connect + first message delivered, and
// close + term (ms).
static void s_zmq_baseline(bu_stats_t *open_st, bu_stats_t *close_st, bu_stats_t *sock_st,
                           bu_stats_t *send_st)
{
    double sock_ms[S_REPS], send_ms[S_REPS];
    void *rctx = zmq_ctx_new();
    void *router = zmq_socket(rctx, ZMQ_ROUTER);
    zmq_bind(router, "tcp://127.0.0.1:*");
    char ep[256];
    size_t eplen = sizeof ep;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen);
    double o[S_REPS], c[S_REPS];
    for (int i = -1; i < S_REPS; i++) {
        uint64_t t0 = bu_now_ns();
        void *ctx = zmq_ctx_new();
        void *d = zmq_socket(ctx, ZMQ_DEALER);
        uint64_t ts = bu_now_ns();
        zmq_connect(d, ep);
        zmq_send(d, "WB\1\0\0\0\0\0", 8, 0);
        uint64_t tq = bu_now_ns();
        char id[256], body[64];
        zmq_recv(router, id, sizeof id, 0);
        zmq_recv(router, body, sizeof body, 0);
        uint64_t t1 = bu_now_ns();
        if (i >= 0) {
            sock_ms[i] = (double)(ts - t0) / 1e6;
            send_ms[i] = (double)(tq - ts) / 1e6;
        }
        int linger = 0;
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(d);
        zmq_ctx_term(ctx);
        uint64_t t2 = bu_now_ns();
        if (i >= 0) {
            o[i] = (double)(t1 - t0) / 1e6;
            c[i] = (double)(t2 - t1) / 1e6;
        }
    }
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(router);
    zmq_ctx_term(rctx);
    *open_st = bu_stats(o, S_REPS);
    *close_st = bu_stats(c, S_REPS);
    *sock_st = bu_stats(sock_ms, S_REPS);
    *send_st = bu_stats(send_ms, S_REPS);
}

typedef struct {
    void *router;           // bound here; served by s_serve only
    _Atomic uint64_t first; // bu_now_ns of the first message of the current run (0: none)
    atomic_bool stop;       // ends s_serve
} s_srv_t;

// Plays the aggregator for s_hello_delivered: notes the first message's
// arrival and answers FINISH with FINISHED.
static void *s_serve(void *arg)
{
    s_srv_t *srv = arg;
    bu_pin(1);
    zmq_pollitem_t item = {.socket = srv->router, .events = ZMQ_POLLIN};
    while (!atomic_load(&srv->stop)) {
        if (zmq_poll(&item, 1, 5) <= 0)
            continue;
        char id[256];
        static uint8_t body[1 << 16];
        int idn = zmq_recv(srv->router, id, sizeof id, ZMQ_DONTWAIT);
        if (idn < 0)
            continue;
        int n = zmq_recv(srv->router, body, sizeof body, 0);
        uint64_t now = bu_now_ns();
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&srv->first, &zero, now);
        wbi_wire_reader_t r;
        wbi_wire_record_t rec;
        if (n <= 0 || wbi_wire_reader_init(
                          &r, body, (size_t)n < sizeof body ? (size_t)n : sizeof body) != WANDB_OK)
            continue;
        while (wbi_wire_next(&r, &rec) == WANDB_OK) {
            if (rec.type != WBI_REC_FINISH)
                continue;
            uint8_t msg[WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER];
            wbi_wire_header_put(msg, 0);
            wbi_wire_record_put(msg + WBI_WIRE_HEADER_BYTES, WBI_REC_FINISHED, 0);
            zmq_send(srv->router, id, (size_t)idn, ZMQ_SNDMORE);
            zmq_send(srv->router, msg, sizeof msg, 0);
        }
    }
    return NULL;
}

// Non-zero rank: wandb_init until its HELLO reached a ROUTER bound here,
// the counterpart of the zmq baseline (ms).
static bu_stats_t s_hello_delivered(void)
{
    s_srv_t srv = {0};
    void *ctx = zmq_ctx_new();
    srv.router = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_bind(srv.router, "tcp://127.0.0.1:*");
    char ep[256];
    size_t eplen = sizeof ep;
    zmq_getsockopt(srv.router, ZMQ_LAST_ENDPOINT, ep, &eplen);
    pthread_t th;
    pthread_create(&th, NULL, s_serve, &srv);
    wandb_settings_t *s = NULL;
    wandb_settings_new(&s);
    wandb_settings_set(s, "project", "bench");
    wandb_settings_set(s, "aggregator", ep);
    wandb_settings_set(s, "rank", "1");
    wandb_settings_set(s, "world_size", "2");
    double v[S_REPS];
    for (int i = -1; i < S_REPS; i++) {
        atomic_store(&srv.first, 0);
        wandb_run_t *run = NULL;
        uint64_t t0 = bu_now_ns();
        if (wandb_init(s, &run) != WANDB_OK)
            break;
        while (atomic_load(&srv.first) == 0 && bu_now_ns() - t0 < 2000000000ull)
            usleep(20);
        uint64_t t1 = atomic_load(&srv.first);
        wandb_finish(&run, 0);
        if (i >= 0)
            v[i] = t1 > t0 ? (double)(t1 - t0) / 1e6 : 2000.0;
    }
    wandb_settings_destroy(&s);
    atomic_store(&srv.stop, true);
    pthread_join(th, NULL);
    int linger = 0;
    zmq_setsockopt(srv.router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(srv.router);
    zmq_ctx_term(ctx);
    return bu_stats(v, S_REPS);
}

// New settings for project "bench" (caller destroys).
static wandb_settings_t *s_settings(const char *url, const char *key)
{
    wandb_settings_t *s = NULL;
    wandb_settings_new(&s);
    wandb_settings_set(s, "project", "bench");
    wandb_settings_set(s, "base_url", url);
    wandb_settings_set(s, "api_key", key);
    wandb_settings_set(s, "flush_interval_ms", "1000");
    return s;
}

// Logs a few rows so that finish has something (a typical short run).
static void s_log_some(wandb_run_t *run, int rows)
{
    for (int i = 0; i < rows; i++)
        wandb_log(run, WANDB_DOUBLE("loss", 1.0 / (i + 1)), WANDB_DOUBLE("acc", i * 0.01));
}

typedef struct {
    bu_stats_t init;   // ms
    bu_stats_t finish; // ms
    bu_stats_t total;  // ms
    int failures;      // init or finish not OK
} s_times_t;

// Times wandb_init and wandb_finish `reps` times (after one warm-up) with
// the settings s; rows logged in between (untimed).
static s_times_t s_time_runs(wandb_settings_t *s, int reps, int rows)
{
    s_times_t out = {0};
    double in[BU_MAX_REPS], fin[BU_MAX_REPS], tot[BU_MAX_REPS];
    for (int i = -1; i < reps; i++) {
        wandb_run_t *run = NULL;
        uint64_t t0 = bu_now_ns();
        wandb_err rc = wandb_init(s, &run);
        uint64_t t1 = bu_now_ns();
        if (rc != WANDB_OK) {
            fprintf(stderr, "bench_init: wandb_init: %s\n", wandb_settings_errmsg(s));
            out.failures++;
            continue;
        }
        s_log_some(run, rows);
        uint64_t t2 = bu_now_ns();
        rc = wandb_finish(&run, 0);
        uint64_t t3 = bu_now_ns();
        if (rc != WANDB_OK)
            out.failures++;
        if (i >= 0) {
            in[i] = (double)(t1 - t0) / 1e6;
            fin[i] = (double)(t3 - t2) / 1e6;
            tot[i] = in[i] + fin[i];
        }
    }
    out.init = bu_stats(in, reps);
    out.finish = bu_stats(fin, reps);
    out.total = bu_stats(tot, reps);
    return out;
}

// finish with 1 M pending points: returns finish ms per rep in st, log
// time in *log_ms (median) and drops in *dropped.
static bu_stats_t s_big_finish(const char *url, const char *key, double *log_ms, uint64_t *dropped,
                               int *failures)
{
    wandb_settings_t *s = s_settings(url, key);
    wandb_settings_set(s, "ring_bytes", "33554432");
    wandb_settings_set(s, "ring_full", "wait");
    wandb_settings_set(s, "ring_wait_ms", "60000");
    wandb_settings_set(s, "finish_timeout_ms", "30000");
    double fin[S_BIG_REPS], lg[S_BIG_REPS];
    wandb_value_t vals[10];
    for (int k = 0; k < 10; k++)
        vals[k] = WANDB_DOUBLE(s_names[k], 0.0);
    *dropped = 0;
    for (int i = -1; i < S_BIG_REPS; i++) {
        wandb_run_t *run = NULL;
        if (wandb_init(s, &run) != WANDB_OK) {
            (*failures)++;
            continue;
        }
        uint64_t t0 = bu_now_ns();
        for (int r = 0; r < S_BIG_ROWS; r++) {
            for (int k = 0; k < 10; k++)
                vals[k].as.d = 1.0 / (1.0 + r * 0.001) + k * 1e-3;
            wandb_log_values(run, vals, 10, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO);
        }
        uint64_t t1 = bu_now_ns();
        *dropped += wandb_run_dropped(run);
        wandb_err rc = wandb_finish(&run, 0);
        uint64_t t2 = bu_now_ns();
        if (rc != WANDB_OK) {
            fprintf(stderr, "bench_init: finish with 1 M points: %s\n", wandb_strerror(rc));
            (*failures)++;
        }
        if (i >= 0) {
            lg[i] = (double)(t1 - t0) / 1e6;
            fin[i] = (double)(t2 - t1) / 1e6;
        }
    }
    wandb_settings_destroy(&s);
    *log_ms = bu_stats(lg, S_BIG_REPS).median;
    return bu_stats(fin, S_BIG_REPS);
}

// The server's history rows over all runs (check of the 1 M point finish).
static long long s_stored_rows(bu_http_t *http)
{
    json_t *j = bu_http_get(http, "/api/v1/runs?project=bench");
    long long rows = 0;
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(j, "runs"), i, run)
    {
        rows += json_integer_value(json_object_get(run, "history_count"));
    }
    json_decref(j);
    return rows;
}

// Logger that drops the library's messages.
static void s_quiet(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg, (void)level, (void)msg;
}

int main(int argc, char **argv)
{
    bu_machine_line("B11 bench_init");
    for (int k = 0; k < 10; k++)
        snprintf(s_names[k], sizeof s_names[k], "train/m%d", k);
    uint64_t t_start = bu_now_ns();

    double curl_cold = 0;
    bu_stats_t curl_st = s_curl_baseline(&curl_cold);
    bu_stats_t zmq_open, zmq_close, zmq_sock, zmq_send_st;
    s_zmq_baseline(&zmq_open, &zmq_close, &zmq_sock, &zmq_send_st);
    bu_stats_t hello = s_hello_delivered();

    const char *bin = bu_server_bin(argc > 1 ? argv[1] : NULL);
    char dir[64], url[256], key[256];
    pid_t server = bu_server_start(bin, dir, url, sizeof url, key, sizeof key);
    if (server < 0) {
        fprintf(stderr, "bench_init: cannot start %s\n", bin);
        return 1;
    }
    bu_http_t *http = bu_http_new(url, key);
    int failures = 0;

    // Non-zero rank: an aggregator hosted here, reached over tcp.
    wandb_settings_t *as = s_settings(url, key);
    wandb_aggregator_t *agg = NULL;
    if (wandb_aggregator_start(as, "tcp://127.0.0.1:*", 0, &agg) != WANDB_OK) {
        fprintf(stderr, "bench_init: wandb_aggregator_start failed\n");
        bu_server_stop(server, dir);
        return 1;
    }
    wandb_settings_t *rs = s_settings(url, key);
    wandb_settings_set(rs, "aggregator", wandb_aggregator_endpoint(agg));
    wandb_settings_set(rs, "rank", "1");
    wandb_settings_set(rs, "world_size", "2");
    s_times_t nz = s_time_runs(rs, S_REPS, 10);
    failures += nz.failures;
    wandb_settings_destroy(&rs);
    wandb_err arc = wandb_aggregator_stop(&agg, 10000);
    if (arc != WANDB_OK)
        fprintf(stderr, "bench_init: wandb_aggregator_stop: %s\n", wandb_strerror(arc));
    wandb_settings_destroy(&as);

    // Rank 0 / single process: in-process aggregator, real server.
    wandb_settings_t *ps = s_settings(url, key);
    s_times_t r0 = s_time_runs(ps, S_REPS, 10);
    failures += r0.failures;
    wandb_settings_destroy(&ps);

    // Unreachable aggregator: init must not wait; finish bounded (200 ms).
    wandb_settings_t *us = s_settings(url, key);
    wandb_settings_set(us, "aggregator", "tcp://127.0.0.1:9");
    wandb_settings_set(us, "finish_timeout_ms", "200");
    wandb_set_logger(s_quiet, NULL); // the expected timeout warnings
    s_times_t un = s_time_runs(us, 3, 10);
    wandb_set_logger(NULL, NULL);
    wandb_settings_destroy(&us);

    // finish with 1 M pending points.
    double log_ms = 0;
    uint64_t dropped = 0;
    long long rows0 = s_stored_rows(http);
    bu_stats_t big = s_big_finish(url, key, &log_ms, &dropped, &failures);
    long long stored = s_stored_rows(http) - rows0;
    long long expect = (long long)(S_BIG_REPS + 1) * S_BIG_ROWS;

    // JSON lines.
    bu_emit_stats("B11", "curl_global_init+curl_easy_init", "wall_ms", &curl_st, "ms", "", 0);
    bu_emit("B11", "curl_global_init+curl_easy_init first call", "wall_ms", curl_cold, "ms", "", 0);
    bu_emit_stats("B11", "zmq ctx+socket+connect+first message", "wall_ms", &zmq_open, "ms", "", 0);
    bu_emit_stats("B11", "zmq close+term", "wall_ms", &zmq_close, "ms", "", 0);
    bu_emit_stats("B11", "zmq ctx+socket (part of the above)", "wall_ms", &zmq_sock, "ms", "", 0);
    bu_emit_stats("B11", "non-zero rank wandb_init until HELLO delivered (tcp)", "wall_ms", &hello,
                  "ms", "zmq ctx+socket+connect+first message", zmq_open.median);
    bu_emit_stats("B11", "non-zero rank wandb_init (tcp aggregator)", "wall_ms", &nz.init, "ms",
                  "zmq ctx+socket+connect+first message", zmq_open.median);
    bu_emit_stats("B11", "non-zero rank wandb_init (tcp aggregator)", "wall_ms", &nz.init, "ms",
                  "target 2 ms", 2.0);
    bu_emit_stats("B11", "non-zero rank wandb_finish", "wall_ms", &nz.finish, "ms",
                  "zmq close+term", zmq_close.median);
    bu_emit_stats("B11", "rank-0 wandb_init (in-process aggregator)", "wall_ms", &r0.init, "ms",
                  "curl_global_init+curl_easy_init first call", curl_cold);
    bu_emit_stats("B11", "rank-0 wandb_finish (drained to server)", "wall_ms", &r0.finish, "ms",
                  "target 50 ms", 50.0);
    bu_emit_stats("B11", "rank-0 wandb_init+wandb_finish", "wall_ms", &r0.total, "ms",
                  "W&B published online 1850 ms (not in-run)", 1850.0);
    bu_emit_stats("B11", "unreachable aggregator wandb_init", "wall_ms", &un.init, "ms", "", 0);
    bu_emit_stats("B11", "unreachable aggregator wandb_finish (timeout 200 ms)", "wall_ms",
                  &un.finish, "ms", "finish_timeout_ms", 200.0);
    bu_emit_stats("B11", "wandb_finish with 1 M pending points", "wall_ms", &big, "ms",
                  "target 50 ms + 1 M points at 5 M points/s = 250 ms", 250.0);
    bu_emit("B11", "wandb_finish with 1 M pending points", "points_per_s", 1e6 / (big.median / 1e3),
            "points/s", "", 0);
    bu_emit("B11", "wandb_finish with 1 M pending points", "rows_stored", (double)stored, "rows",
            "rows logged", (double)expect);

    fprintf(stderr, "\nB11 init/finish wall time, median (p10..p90) of %d (1 M points: %d)\n",
            S_REPS, S_BIG_REPS);
    char note[128];
    snprintf(note, sizeof note, "first call %.3f ms", curl_cold);
    s_row("curl_global_init+curl_easy_init", &curl_st, note);
    s_row("zmq ctx+socket+connect+first msg delivered", &zmq_open, "");
    s_row("  of which ctx+socket", &zmq_sock, "");
    s_row("  of which connect+send (queued)", &zmq_send_st, "");
    snprintf(note, sizeof note, "%.2fx zmq baseline", hello.median / zmq_open.median);
    s_row("non-zero rank wandb_init until HELLO delivered", &hello, note);
    s_row("zmq close+term", &zmq_close, "");
    snprintf(note, sizeof note, "%.2fx zmq baseline; target <= 2 ms",
             nz.init.median / zmq_open.median);
    s_row("non-zero rank wandb_init", &nz.init, note);
    s_row("non-zero rank wandb_finish (FINISHED ack)", &nz.finish, "");
    snprintf(note, sizeof note, "%.2fx curl init (first call); target <= 20 ms + 2 RTT",
             r0.init.median / curl_cold);
    s_row("rank-0 wandb_init (in-process aggregator)", &r0.init, note);
    s_row("rank-0 wandb_finish (drained to server)", &r0.finish, "target <= 50 ms");
    snprintf(note, sizeof note, "W&B published 1850 ms online: %.0fx faster",
             1850.0 / r0.total.median);
    s_row("rank-0 init+finish", &r0.total, note);
    s_row("unreachable aggregator wandb_init", &un.init, "3 reps");
    s_row("unreachable aggregator wandb_finish", &un.finish, "finish_timeout_ms 200");
    snprintf(note, sizeof note, "%.2f M points/s; logging took %.0f ms; target <= 250 ms",
             1.0 / (big.median / 1e3), log_ms);
    s_row("wandb_finish with 1 M pending points", &big, note);
    fprintf(stderr,
            "checks: failures %d, unreachable-aggregator finishes timed out %d of 4 (expected),"
            " dropped %llu, rows stored %lld of %lld\nTotal %.1f s.\n",
            failures, un.failures, (unsigned long long)dropped, stored, expect,
            (double)(bu_now_ns() - t_start) / 1e9);
    bu_http_destroy(&http);
    wandb_shutdown();
    bu_server_stop(server, dir);
    return 0;
}
