//  test_latency_sync.c - 256 runs behind a backend 250 ms away: HTTP/2 in time, HTTP/1.1 by sync
//  SPDX-License-Identifier: MIT
//
//  The real outlet (journal in a temporary directory, online) sends 256 runs
//  of 20 rows each through a proxy that holds every answer 250 ms
//  (harness/delay_proxy.c), then nghttpx (cleartext: h2c by prior knowledge
//  and HTTP/1.1 on one port), then the real wandb-mpi-server:
//   h2: over HTTP/2 the requests overlap on the one connection, and
//     wbi_outlet_finish with a 20 s deadline returns WANDB_OK with every row
//     of every run stored and every run finished;
//   h1_sync: over HTTP/1.1 one request is on the wire at a time, 250 ms
//     each, so a 10 s deadline ends with rows pending (WANDB_ETIMEDOUT); the
//     real `wandb-mpi sync` then sends what the journal holds and the server
//     lacks, and every row is stored exactly once (steps 0..19 in order) and
//     every run finished; a second sync has nothing to upload.
//  Both print the drain time and rows/s. The request budget (default 50/s)
//  is raised to S_BUDGET in the outlet and in sync, so that the 250 ms per
//  answer, not the budget, bounds the drain (512 requests at 50/s alone
//  take over 10 s). Exits 77 (CTest: skipped) when nghttpx, the server or
//  the CLI is missing. Every wait is bounded.
#include "harness/agg_rows.h"
#include "harness/delay_proxy.h"
#include "harness/server_harness.h"
#include "outlet/outlet.h"
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-0123456789012345678901234567890123456789"
#define S_RUNS 256
#define S_ROWS 20
#define S_DELAY_MS 250      // added to every answer by the proxy
#define S_H2_DEADLINE 20000 // finish deadline over HTTP/2 (ms)
#define S_H1_DEADLINE 10000 // finish deadline over HTTP/1.1 (ms): too short for 256 runs
#define S_BUDGET "2000"     // requests/s of the outlet's backend and of sync
#define S_SYNC_MS 90000     // bound on one sync run

static char s_server_bin[1024]; // wandb-mpi-server
static char s_cli[1024];        // wandb-mpi
static char s_nghttpx[256];     // nghttpx
static wbt_server_t s_srv;      // the server behind nghttpx
static pid_t s_ng_pid;          // nghttpx while it runs (s_at_exit stops it)
static int s_ng_out = -1;       // its stdout
static pid_t s_ng_owner;        // the process that started nghttpx
static int s_ng_port;           // its port
static wbt_delay_proxy_t *s_px; // the delaying proxy in front of nghttpx (one a case)
static char s_url[64];          // the proxy's base URL

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// A failed check exits: nghttpx goes too (its worker follows its master).
static void s_at_exit(void)
{
    if (s_ng_pid > 0 && s_ng_owner == getpid())
        kill(s_ng_pid, SIGTERM);
}

// Starts the delaying proxy in front of nghttpx, in the case's own process
// (its thread is the case's: testutil.h runs each case in a child).
static void s_proxy_start(void)
{
    int port = wbt_delay_proxy_start(&s_px, s_ng_port, S_DELAY_MS);
    CHECK(port > 0);
    snprintf(s_url, sizeof s_url, "http://127.0.0.1:%d", port);
}

// Starts nghttpx on a free port in front of the server: cleartext, HTTP/1.1
// and h2c; its HTTP/2 windows raised to 1 MiB per stream and 16 MiB per
// connection (with the spec's 64 KiB every 64 KiB of request bodies would
// wait a round trip, 250 ms here, for WINDOW_UPDATE). Returns its port.
static int s_nghttpx_start(void)
{
    char back[64];
    snprintf(back, sizeof back, "-b127.0.0.1,%s", strrchr(s_srv.url, ':') + 1);
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = wbt_loopback_free_port();
        char front[64];
        snprintf(front, sizeof front, "-f127.0.0.1,%d;no-tls", port);
        const char *argv[] = {s_nghttpx,
                              front,
                              back,
                              "--conf=/dev/null",
                              "--single-thread",
                              "--no-ocsp",
                              "--log-level=ERROR",
                              "--errorlog-file=/dev/null",
                              "--backend-connections-per-host=128",
                              "--frontend-http2-connection-window-size=16M",
                              "--frontend-http2-window-size=1M",
                              NULL};
        s_ng_pid = wbt_spawn(argv, &s_ng_out);
        s_ng_owner = getpid();
        for (int64_t end = s_now_ms() + 5000; s_now_ms() < end;) {
            int fd = wbt_loopback_connect(port);
            if (fd >= 0) {
                close(fd);
                return port;
            }
            if (wbt_wait_exit(s_ng_pid, 20) >= 0)
                break; // it exited (the port was taken meanwhile): another one
        }
        kill(s_ng_pid, SIGKILL);
        wbt_wait_exit(s_ng_pid, 2000);
        close(s_ng_out);
    }
    WBT_FAIL("nghttpx did not start");
    return -1;
}

static void s_nghttpx_stop(void)
{
    kill(s_ng_pid, SIGTERM);
    if (wbt_wait_exit(s_ng_pid, 5000) < 0) {
        kill(s_ng_pid, SIGKILL);
        wbt_wait_exit(s_ng_pid, 2000);
    }
    close(s_ng_out);
    s_ng_pid = 0;
}

// An online outlet into the proxy, its journal under parent.
static wbi_outlet_t *s_outlet(const char *parent, int http2, wbi_agg_sink_t *sink)
{
    wbi_outlet_opts_t o = {.journal_dir = parent,
                           .backend = {.base_url = s_url,
                                       .api_key = S_KEY,
                                       .flush_interval_ms = 1000,
                                       .heartbeat_ms = 600000,
                                       .request_timeout_ms = 30000,
                                       .http2 = http2,
                                       .request_budget = strtod(S_BUDGET, NULL)}};
    wbi_outlet_t *out = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&out, &o, err, sizeof err));
    wbi_outlet_sink(out, sink);
    return out;
}

// Opens S_RUNS runs of project, hands over S_ROWS rows each and finishes them.
static void s_feed(wbi_agg_sink_t *sk, const char *project)
{
    static void *runs[S_RUNS];
    for (int r = 0; r < S_RUNS; r++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%03d", project, r);
        wbi_run_meta_t m = {.run_id = id, .project = project, .config_json = "{\"r\":1}"};
        runs[r] = sk->open(sk->arg, &m);
        CHECK(runs[r] != NULL);
    }
    for (int k = 0; k < S_ROWS; k++) {
        for (int r = 0; r < S_RUNS; r++)
            wbt_sink_loss_row(sk, runs[r], k, k + 0.25, k);
    }
    for (int r = 0; r < S_RUNS; r++)
        sk->finish(sk->arg, runs[r], 0);
}

// Every run of project is on the server, finished, with exactly the rows
// of steps 0..S_ROWS-1 in order.
static void s_check_server(const char *project)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/runs?project=%s", project);
    json_t *list = wbt_http_get(&s_srv, path);
    json_t *runs = json_object_get(list, "runs");
    CHECK_EQ(json_array_size(runs), S_RUNS);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        long long count = json_integer_value(json_object_get(r, "history_count"));
        const char *state = json_string_value(json_object_get(r, "state"));
        if (count != S_ROWS || !state || strcmp(state, "finished") != 0)
            WBT_FAIL("run '%s': history_count %lld, state '%s'; want %d, finished", name, count,
                     state ? state : "", S_ROWS);
    }
    json_decref(list);
    for (int k = 0; k < S_RUNS; k++) {
        snprintf(path, sizeof path, "/api/v1/runs/%s-%03d/history?project=%s", project, k, project);
        json_t *hist = wbt_http_get(&s_srv, path);
        json_t *rows = json_object_get(hist, "rows");
        if (json_array_size(rows) != S_ROWS)
            WBT_FAIL("run '%s-%03d': %zu rows stored, want %d", project, k, json_array_size(rows),
                     S_ROWS);
        for (size_t j = 0; j < S_ROWS; j++) {
            json_int_t step = json_integer_value(json_object_get(json_array_get(rows, j), "_step"));
            if (step != (json_int_t)j)
                WBT_FAIL("run '%s-%03d': row %zu has _step %lld", project, k, j, (long long)step);
        }
        json_decref(hist);
    }
}

// Runs `wandb-mpi sync` over h2c through the proxy into the server;
// returns its exit code, its stdout in out, and the time it took in *ms.
static int s_sync(const char *parent, char *out, size_t len, int64_t *ms)
{
    const char *argv[] = {
        s_cli,       "sync", "--http2",          "prior-knowledge", "--base-url",   s_url,
        "--api-key", S_KEY,  "--request-budget", S_BUDGET,          "--timeout-ms", "60000",
        parent,      NULL};
    int64_t t0 = s_now_ms();
    int code = wbt_run_capture(argv, out, len, S_SYNC_MS);
    *ms = s_now_ms() - t0;
    return code;
}

// HTTP/2: every row stored before the finish deadline, over one connection.
static void test_h2(void)
{
    char parent[64];
    snprintf(parent, sizeof parent, "/tmp/wbt-lat-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    s_proxy_start();
    int conns = wbt_delay_proxy_connections(s_px);
    wbi_agg_sink_t sk;
    int64_t t0 = s_now_ms();
    wbi_outlet_t *o = s_outlet(parent, WBI_HTTP2_PRIOR_KNOWLEDGE, &sk);
    s_feed(&sk, "lat2");
    int64_t t_fin = s_now_ms();
    CHECK_OK(wbi_outlet_finish(o, S_H2_DEADLINE));
    int64_t t1 = s_now_ms();
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(o, &st);
    wbi_outlet_destroy(&o);
    CHECK_EQ(st.lines, S_RUNS * S_ROWS);
    CHECK_EQ(st.lines_acked, S_RUNS * S_ROWS);
    CHECK_EQ(st.finishes_acked, S_RUNS);
    conns = wbt_delay_proxy_connections(s_px) - conns;
    double s = (double)(t1 - t0) / 1000.0;
    printf("   HTTP/2 (h2c), %d ms per answer: %d runs x %d rows stored in %.2f s (finish took "
           "%.2f s of its %d s deadline), %.0f rows/s, %d TCP connection(s)\n",
           S_DELAY_MS, S_RUNS, S_ROWS, s, (double)(t1 - t_fin) / 1000.0, S_H2_DEADLINE / 1000,
           (double)st.lines_acked / s, conns);
    CHECK_EQ(conns, 1);
    s_check_server("lat2");
    wbt_delay_proxy_stop(&s_px);
    wbt_rm_tree(parent);
}

// HTTP/1.1: the deadline leaves rows pending; they are in the journal and
// one sync completes them, exactly once. Sync goes through the same proxy
// (answers still 250 ms late) by h2c to nghttpx: the journal is completed
// over the slow link itself, as it would be from the job's node.
static void test_h1_sync(void)
{
    char parent[64];
    snprintf(parent, sizeof parent, "/tmp/wbt-lat-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    s_proxy_start();
    wbi_agg_sink_t sk;
    int64_t t0 = s_now_ms();
    wbi_outlet_t *o = s_outlet(parent, WBI_HTTP2_OFF, &sk);
    s_feed(&sk, "lat1");
    CHECK_ERR(wbi_outlet_finish(o, S_H1_DEADLINE), WANDB_ETIMEDOUT);
    int64_t t1 = s_now_ms();
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(o, &st);
    wbi_outlet_destroy(&o);
    CHECK_EQ(st.lines, S_RUNS * S_ROWS);
    CHECK(st.lines_acked < st.lines);
    double s = (double)(t1 - t0) / 1000.0;
    printf("   HTTP/1.1, %d ms per answer: %.2f s to the %d s deadline, %llu of %d rows and "
           "%llu of %d final states acknowledged (%.0f rows/s), %llu rows pending\n",
           S_DELAY_MS, s, S_H1_DEADLINE / 1000, (unsigned long long)st.lines_acked, S_RUNS * S_ROWS,
           (unsigned long long)st.finishes_acked, S_RUNS, (double)st.lines_acked / s,
           (unsigned long long)(st.lines - st.lines_acked));

    char out[4096];
    int64_t ms = 0;
    CHECK_EQ(s_sync(parent, out, sizeof out, &ms), 0);
    out[strcspn(out, "\n")] = '\0';
    printf("   sync over h2c through the proxy: %.2f s, %.0f rows/s (%s)\n", (double)ms / 1000.0,
           (double)(st.lines - st.lines_acked) * 1000.0 / (double)(ms > 0 ? ms : 1), out);
    s_check_server("lat1");
    CHECK_EQ(s_sync(parent, out, sizeof out, &ms), 0);
    if (!strstr(out, "nothing to upload"))
        WBT_FAIL("second sync: %s", out);
    s_check_server("lat1");
    wbt_delay_proxy_stop(&s_px);
    wbt_rm_tree(parent);
}

int main(int argc, char **argv)
{
    wbt_run_env_clear();
    wbt_server_path(s_server_bin, sizeof s_server_bin, true);
    wbt_server_require(s_server_bin);
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    snprintf(s_cli, sizeof s_cli, "%s/src/cli/wandb-mpi", bin ? bin : ".");
    snprintf(s_nghttpx, sizeof s_nghttpx, "/usr/sbin/nghttpx");
    if (access(s_nghttpx, X_OK) != 0 || access(s_cli, X_OK) != 0) {
        printf("skipped: %s or %s not found (Debian: nghttp2-proxy)\n", s_nghttpx, s_cli);
        return 77;
    }
    atexit(s_at_exit);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, s_server_bin, NULL, extra);
    s_ng_port = s_nghttpx_start();
    static const wbt_case_t cases[] = {{"h2", test_h2}, {"h1_sync", test_h1_sync}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    s_nghttpx_stop();
    wbt_server_release(&s_srv);
    return rc;
}
