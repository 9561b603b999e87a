//  bench_backend.c - B6 + B7 end to end, the drain over a slow link, B6 against the budget
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_backend [server-binary [sections]]
//  sections: a comma-separated choice of "agg" (B6 paced and B7 through the
//  aggregator), "drain" (D), "drain-h2" (D, the HTTP/2 half only) and "budget"
//  (B6 budget); default: all.
//  The real aggregator (wbi_outlet_start_agg: ROUTER socket, message handler, the
//  backend client with its one HTTP connection) forwards to a real
//  wandb-mpi-server on loopback. N = 1, 4, 16, 64 simulated ranks are N
//  DEALER sockets in this process sending the messages a rank's I/O thread
//  would send (HELLO + KEY, then ROW records, then FINISH), encoded with the
//  encoders of src/common/wire.h. Why not N loggers: the rank library allows
//  one run per process, and N processes would measure process scheduling on
//  2 cores; the aggregator cannot tell the DEALERs from loggers (same bytes,
//  same socket type, one routing id and one run each).
//   paced (B6): each rank logs R = 100 steps/s x 10 keys (one ROW a message,
//     as a logger at that rate sends) for 3 s, flush_interval_ms = 1000.
//     HTTP requests/s and TCP connections come from the server's own
//     counters (GET /api/v1/stats, read over one kept-alive connection of
//     this program, subtracted).
//   unthrottled (B7 e2e): each rank sends its share of 300 000 points as
//     fast as ZeroMQ takes them (64 rows a message), then FINISH; the clock
//     stops when wbi_agg_stop returns, i.e. every line was acknowledged by
//     the server; history_count in the server is checked. The time at which
//     the aggregator had emitted every row is reported too. Baseline: the
//     server's own ingest rate, one curl handle POSTing file_stream bodies of
//     the same number of equivalent lines (<= 10 MiB a body, as the backend
//     splits them) over one kept-alive connection.
//  Every rank is its own W&B run (file_stream is per run), so requests grow
//  with the number of RUNS; the model compared with is W&B's: one client per
//  run, one file_stream request per flush interval, N or more connections.
#include "backend/backend.h"
#include "bench_util.h"
#include "common/buf.h"
#include "common/wire.h"
#include "harness/delay_proxy.h"
#include "outlet/outlet.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

extern char **environ;

#define S_KEYS 10
#define S_RATE 100          // steps/s per rank, paced mode
#define S_PACED_S 3         // paced duration
#define S_FLUSH_MS 1000     // flush_interval_ms
#define S_E2E_POINTS 300000 // points per unthrottled repetition
#define S_E2E_REPS 5        // timed repetitions (after one warm-up)
#define S_ROWS_PER_MSG 64   // unthrottled batching
#define S_MAX_RANKS 64

static char s_names[S_KEYS][16];

typedef struct {
    void *ctx;                 // this program's ZeroMQ context
    void *socks[S_MAX_RANKS];  // one DEALER per simulated rank
    uint32_t seq[S_MAX_RANKS]; // next message sequence number
    int n;                     // ranks
    char tag[32];              // run id prefix
} s_ranks_t;

// Unix seconds.
static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Sends b (a whole message) from rank r, blocking.
static void s_send(s_ranks_t *rk, int r, wbi_buf_t *b)
{
    wbi_wire_header_put((uint8_t *)b->data, rk->seq[r]++);
    zmq_send(rk->socks[r], b->data, b->len, 0);
}

// Starts a message in b (room for the header).
static void s_msg_begin(wbi_buf_t *b)
{
    uint8_t hdr[WBI_WIRE_HEADER_BYTES] = {0};
    wbi_buf_reset(b);
    wbi_buf_append(b, hdr, sizeof hdr);
}

// Appends one ROW of S_KEYS doubles at step.
static void s_put_row(wbi_buf_t *b, int r, int64_t step, double ts)
{
    uint8_t row[WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER + S_KEYS * 12];
    wbi_wire_record_put(row, WBI_REC_ROW, WBI_WIRE_ROW_HEADER + S_KEYS * 12);
    wbi_wire_row_put(row + WBI_WIRE_RECORD_HEADER, step, ts, WBI_WIRE_ROW_COMMIT, S_KEYS);
    uint8_t *p = row + WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER;
    for (int k = 0; k < S_KEYS; k++) {
        wandb_value_t v =
            WANDB_DOUBLE(s_names[k], 1.0 / (1.0 + (double)step * 0.001) + (double)(k + r) * 1e-7);
        p += wbi_wire_value_put(p, (uint32_t)k + 1, &v, 0);
    }
    wbi_buf_append(b, row, sizeof row);
}

// Connects n DEALERs to endpoint and sends each one's HELLO + KEY records.
static void s_ranks_open(s_ranks_t *rk, int n, const char *endpoint, const char *tag)
{
    memset(rk, 0, sizeof *rk);
    rk->ctx = zmq_ctx_new();
    rk->n = n;
    snprintf(rk->tag, sizeof rk->tag, "%s", tag);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    double now = s_wall();
    for (int r = 0; r < n; r++) {
        rk->socks[r] = zmq_socket(rk->ctx, ZMQ_DEALER);
        char id[64];
        int idn = snprintf(id, sizeof id, "%s-%d", tag, r);
        zmq_setsockopt(rk->socks[r], ZMQ_ROUTING_ID, id, (size_t)idn);
        zmq_connect(rk->socks[r], endpoint);
        s_msg_begin(&b);
        char hello[384];
        int hn = snprintf(hello, sizeof hello,
                          "{\"run_id\":\"%s-%d\",\"project\":\"bench\",\"group\":\"%s\","
                          "\"job_type\":\"train\",\"name\":\"rank-%d\",\"rank\":%d,"
                          "\"world_size\":%d,\"start_time\":%.3f,\"config\":{\"lr\":0.01}}",
                          tag, r, tag, r, r, n, now);
        wbi_wire_put(&b, WBI_REC_HELLO, hello, (size_t)hn);
        for (int k = 0; k < S_KEYS; k++)
            wbi_wire_put_key(&b, (uint32_t)k + 1, s_names[k], strlen(s_names[k]));
        s_send(rk, r, &b);
    }
    wbi_buf_release(&b);
}

// Sends FINISH from every rank.
static void s_ranks_finish(s_ranks_t *rk)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 16);
    for (int r = 0; r < rk->n; r++) {
        s_msg_begin(&b);
        wbi_wire_put_finish(&b, 0, 0, 0);
        s_send(rk, r, &b);
    }
    wbi_buf_release(&b);
}

static void s_ranks_close(s_ranks_t *rk)
{
    for (int r = 0; r < rk->n; r++) {
        int linger = 0;
        zmq_setsockopt(rk->socks[r], ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(rk->socks[r]);
    }
    zmq_ctx_term(rk->ctx);
}

// Starts the aggregator (thread on CPU 1) for n runs.
static wbi_agg_t *s_agg_start(const char *url, const char *key, int n)
{
    bu_pin(1);
    wbi_agg_opts_t opts = {.bind = "tcp://127.0.0.1:*", .expected_runs = n};
    wbi_outlet_opts_t oopts = {
        .backend = {.base_url = url, .api_key = key, .flush_interval_ms = S_FLUSH_MS}};
    wbi_agg_t *agg = NULL;
    wandb_err rc = wbi_outlet_start_agg(&agg, &opts, &oopts, NULL);
    bu_pin(0);
    if (rc != WANDB_OK)
        fprintf(stderr, "bench_backend: wbi_agg_start: %s\n", wandb_strerror(rc));
    return agg;
}

typedef struct {
    long long graphql, file_stream, upload, other, connections;
} s_counts_t;

// Reads the server's counters (this program's own API requests excluded by
// the caller: they are counted under "api").
static s_counts_t s_counts(bu_http_t *http)
{
    s_counts_t c = {0};
    json_t *j = bu_http_get(http, "/api/v1/stats");
    if (!j) {
        fprintf(stderr, "bench_backend: GET /api/v1/stats failed\n");
        return c;
    }
    c.graphql = bu_json_int(j, "requests.graphql");
    c.file_stream = bu_json_int(j, "requests.file_stream");
    c.upload = bu_json_int(j, "requests.upload");
    c.other = bu_json_int(j, "requests.other");
    c.connections = bu_json_int(j, "connections");
    json_decref(j);
    return c;
}

// Sum of history_count of the runs of group tag.
static long long s_history_rows(bu_http_t *http, const char *tag)
{
    json_t *j = bu_http_get(http, "/api/v1/runs?project=bench");
    long long rows = 0;
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(j, "runs"), i, run)
    {
        const char *g = json_string_value(json_object_get(run, "group"));
        if (g && strcmp(g, tag) == 0)
            rows += json_integer_value(json_object_get(run, "history_count"));
    }
    json_decref(j);
    return rows;
}

typedef struct {
    double req_per_s;         // graphql + file_stream + upload per second, paced window
    double fs_per_s;          // file_stream per second, paced window
    long long total_requests; // the whole session (open to drained)
    long long connections;    // TCP connections the aggregator opened
    long long rows_stored;    // history rows in the server
    long long rows_sent;      // rows the ranks sent
} s_paced_t;

// B6: N ranks at S_RATE steps/s for S_PACED_S seconds.
static s_paced_t s_paced(bu_http_t *http, const char *url, const char *key, int n)
{
    s_paced_t out = {0};
    char tag[32];
    snprintf(tag, sizeof tag, "paced%d", n);
    s_counts_t c0 = s_counts(http);
    wbi_agg_t *agg = s_agg_start(url, key, n);
    if (!agg)
        return out;
    s_ranks_t rk;
    s_ranks_open(&rk, n, wbi_agg_endpoint(agg), tag);
    usleep(300000); // first UpsertBuckets answered
    s_counts_t ca = s_counts(http);
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    uint64_t start = bu_now_ns();
    int64_t ticks = (int64_t)S_RATE * S_PACED_S;
    for (int64_t step = 0; step < ticks; step++) {
        uint64_t due = start + (uint64_t)step * (1000000000ull / S_RATE);
        while (bu_now_ns() < due) {
            struct timespec ts = {0, (long)(due - bu_now_ns())};
            nanosleep(&ts, NULL);
        }
        double now = s_wall();
        for (int r = 0; r < n; r++) {
            s_msg_begin(&b);
            s_put_row(&b, r, step, now);
            s_send(&rk, r, &b);
        }
        out.rows_sent += n;
    }
    double window = (double)(bu_now_ns() - start) / 1e9;
    s_counts_t cb = s_counts(http);
    s_ranks_finish(&rk);
    wandb_err rc = wbi_agg_stop(&agg, 20000);
    if (rc != WANDB_OK)
        fprintf(stderr, "bench_backend: wbi_agg_stop: %s\n", wandb_strerror(rc));
    s_counts_t cc = s_counts(http);
    s_ranks_close(&rk);
    wbi_buf_release(&b);
    out.req_per_s = (double)((cb.graphql - ca.graphql) + (cb.file_stream - ca.file_stream) +
                             (cb.upload - ca.upload)) /
                    window;
    out.fs_per_s = (double)(cb.file_stream - ca.file_stream) / window;
    out.total_requests = (cc.graphql - c0.graphql) + (cc.file_stream - c0.file_stream) +
                         (cc.upload - c0.upload) + (cc.other - c0.other);
    out.connections = cc.connections - c0.connections;
    out.rows_stored = s_history_rows(http, tag);
    return out;
}

typedef struct {
    double pps;            // points per second, first send to drained
    double agg_pps;        // points per second, first send to every row emitted
    long long rows_stored; // history rows in the server (all reps)
    long long rows_sent;   // rows sent (all reps)
    long long connections; // TCP connections opened by the aggregator
    long long requests;    // HTTP requests of the aggregator
} s_e2e_t;

// B7 end to end: one repetition, unthrottled.
static s_e2e_t s_e2e_rep(bu_http_t *http, const char *url, const char *key, int n, int rep)
{
    s_e2e_t out = {0};
    char tag[32];
    snprintf(tag, sizeof tag, "e2e%d-%d", n, rep);
    s_counts_t c0 = s_counts(http);
    wbi_agg_t *agg = s_agg_start(url, key, n);
    if (!agg)
        return out;
    int64_t rows_per_rank = S_E2E_POINTS / S_KEYS / n;
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 24);
    uint64_t t0 = bu_now_ns();
    s_ranks_t rk;
    s_ranks_open(&rk, n, wbi_agg_endpoint(agg), tag);
    double now = s_wall();
    for (int64_t step = 0; step < rows_per_rank; step += S_ROWS_PER_MSG) {
        for (int r = 0; r < n; r++) {
            s_msg_begin(&b);
            for (int64_t i = step; i < step + S_ROWS_PER_MSG && i < rows_per_rank; i++)
                s_put_row(&b, r, i, now + (double)i * 1e-4);
            s_send(&rk, r, &b);
        }
    }
    s_ranks_finish(&rk);
    uint64_t deadline = bu_now_ns() + 30000000000ull;
    wbi_agg_stats_t st = {0};
    while (bu_now_ns() < deadline) {
        wbi_agg_get_stats(agg, &st);
        if ((int64_t)st.rows >= rows_per_rank * n)
            break;
        usleep(200);
    }
    uint64_t t_agg = bu_now_ns();
    wandb_err rc = wbi_agg_stop(&agg, 30000);
    uint64_t t1 = bu_now_ns();
    if (rc != WANDB_OK)
        fprintf(stderr, "bench_backend: wbi_agg_stop: %s\n", wandb_strerror(rc));
    s_ranks_close(&rk);
    wbi_buf_release(&b);
    s_counts_t c1 = s_counts(http);
    out.rows_sent = rows_per_rank * n;
    out.pps = (double)(out.rows_sent * S_KEYS) / ((double)(t1 - t0) / 1e9);
    out.agg_pps = (double)(out.rows_sent * S_KEYS) / ((double)(t_agg - t0) / 1e9);
    out.rows_stored = s_history_rows(http, tag);
    out.connections = c1.connections - c0.connections;
    out.requests = (c1.graphql - c0.graphql) + (c1.file_stream - c0.file_stream) +
                   (c1.upload - c0.upload) + (c1.other - c0.other);
    return out;
}

// curl write callback: discards the answer.
static size_t s_discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data, (void)arg;
    return size * nmemb;
}

// Baseline: the server's ingest of `lines` history lines POSTed as
// file_stream bodies of <= 10 MiB over one kept-alive connection. Returns
// points/s (10 a line).
static double s_curl_baseline(const char *url, const char *key, int64_t lines, int rep)
{
    CURL *c = curl_easy_init();
    char target[512];
    snprintf(target, sizeof target, "%s/files/local/bench/curlbase%d/file_stream", url, rep);
    char user[300];
    snprintf(user, sizeof user, "api:%s", key);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, target);
    curl_easy_setopt(c, CURLOPT_USERPWD, user);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    // The bodies are built first: only the POSTs are timed.
    wbi_buf_t bodies[64];
    int nbodies = 0;
    double t0s = s_wall();
    int64_t offset = 0;
    while (offset < lines && nbodies < 64) {
        wbi_buf_t *body = &bodies[nbodies++];
        wbi_buf_init(body, (size_t)11 << 20);
        wbi_buf_printf(body,
                       "{\"files\":{\"wandb-history.jsonl\":{\"offset\":%lld,"
                       "\"content\":[",
                       (long long)offset);
        int64_t i = offset;
        for (; i < lines && body->len < (size_t)10 << 20; i++) {
            double ts = t0s + (double)i * 1e-4;
            wbi_buf_printf(body, "%s\"{", i > offset ? "," : "");
            for (int k = 0; k < S_KEYS; k++)
                wbi_buf_printf(body, "\\\"%s\\\":%.17g,", s_names[k],
                               1.0 / (1.0 + (double)i * 0.001) + (double)k * 1e-7);
            wbi_buf_printf(body,
                           "\\\"_step\\\":%lld,\\\"_runtime\\\":%.17g,\\\"_timestamp\\\":%.17g}\"",
                           (long long)i, ts - t0s, ts);
        }
        wbi_buf_puts(body, "]}}}");
        offset = i;
    }
    uint64_t t0 = bu_now_ns();
    int sent = 0;
    for (; sent < nbodies; sent++) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodies[sent].data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodies[sent].len);
        long status = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
            fprintf(stderr, "bench_backend: baseline POST failed (HTTP %ld)\n", status);
            offset = 0;
            break;
        }
    }
    uint64_t t1 = bu_now_ns();
    for (int i = 0; i < nbodies; i++)
        wbi_buf_release(&bodies[i]);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return (double)(offset * S_KEYS) / ((double)(t1 - t0) / 1e9);
}

// --- D: drain through a slow link; B6: requests/s against the budget ---------
//
// D: 256 runs x 50 rows, then finish and drain, into wandb-mpi-server behind
// nghttpx (h2c and HTTP/1.1 on one cleartext port) behind a delaying TCP
// proxy (tests/harness/delay_proxy.c) that holds every byte of an answer S_DELAY_MS before
// passing it on (requests pass at once). Over HTTP/1.1 the backend has one
// request on the wire at a time; over HTTP/2 up to max_streams share the
// one connection. nghttpx's frontend HTTP/2 windows are raised to 1 MiB per
// stream and 16 MiB per connection (with the spec's 64 KiB, every 64 KiB of
// request bodies waits a round trip for WINDOW_UPDATE). B6 (budget): the backend alone into the
// server, every run logging one line each 50 ms, flush interval 250 ms, request budget
// S_B6_BUDGET/s; requests/s in a window of S_B6_WINDOW_S after the runs
// exist, from the server's counters.

#define S_DELAY_MS 250    // held per answer chunk by the proxy
#define S_DRAIN_RUNS 256  // runs in the drain bench
#define S_DRAIN_ROWS 50   // rows per run
#define S_B6_BUDGET 100.0 // requests/s of the budget bench
#define S_B6_WINDOW_S 5   // measured window
#define S_B6_MAX_RUNS 1024

// Starts nghttpx (cleartext: HTTP/1.1 and h2c) in front of the server; its
// pid, or -1. *port gets its port.
static pid_t s_nghttpx_start(const char *srv_url, int *port)
{
    const char *bin = access("/usr/sbin/nghttpx", X_OK) == 0 ? "/usr/sbin/nghttpx" : NULL;
    if (!bin)
        return -1;
    char front[64], back[64];
    *port = wbt_loopback_free_port();
    snprintf(front, sizeof front, "-f127.0.0.1,%d;no-tls", *port);
    snprintf(back, sizeof back, "-b127.0.0.1,%s", strrchr(srv_url, ':') + 1);
    const char *argv[] = {bin,
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
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    for (int i = 0; i < 250; i++) { // up to 5 s
        int fd = wbt_loopback_connect(*port);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void s_nghttpx_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

typedef struct {
    double seconds;         // from the first run opened to drain returning
    double rows_per_s;      // rows acknowledged per second
    uint64_t requests;      // requests answered
    uint64_t max_in_flight; // most requests on the wire at once
    int connections;        // TCP connections through the proxy
    wandb_err rc;           // drain's result
} s_drain_t;

// 256 runs x 50 rows through the slow link, then drain.
static s_drain_t s_drain(const char *url, const char *key, int http2, const char *project,
                         wbt_delay_proxy_t *px)
{
    s_drain_t d = {0};
    int before = wbt_delay_proxy_connections(px);
    wbi_backend_opts_t o = {.base_url = url,
                            .api_key = key,
                            .flush_interval_ms = 1000,
                            .heartbeat_ms = 600000,
                            .request_timeout_ms = 60000,
                            .http2 = http2,
                            .max_streams = 64,
                            .request_budget = 10000};
    wbi_backend_t *b = NULL;
    if (wbi_backend_new(&b, &o) != WANDB_OK) {
        d.rc = WANDB_EINVAL;
        return d;
    }
    uint64_t t0 = bu_now_ns();
    static wbi_backend_run_t *runs[S_DRAIN_RUNS];
    for (int r = 0; r < S_DRAIN_RUNS; r++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%03d", project, r);
        wbi_run_meta_t m = {.run_id = id, .project = project};
        runs[r] = wbi_backend_run_open(b, &m);
    }
    for (int k = 0; k < S_DRAIN_ROWS; k++) {
        for (int r = 0; r < S_DRAIN_RUNS; r++) {
            char line[160];
            int n =
                snprintf(line, sizeof line,
                         "{\"loss\":%d.5,\"acc\":0.%d,\"_step\":%d,\"_runtime\":%d.0}", k, k, k, k);
            wbi_backend_run_history(b, runs[r], line, (size_t)n);
        }
    }
    for (int r = 0; r < S_DRAIN_RUNS; r++)
        wbi_backend_run_finish(b, runs[r], 0);
    d.rc = wbi_backend_drain(b, 600000);
    d.seconds = (double)(bu_now_ns() - t0) / 1e9;
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    wbi_backend_destroy(&b);
    d.rows_per_s = (double)st.history_lines_sent / d.seconds;
    d.requests = st.requests;
    d.max_in_flight = st.max_in_flight;
    d.connections = wbt_delay_proxy_connections(px) - before;
    return d;
}

// The drain bench: HTTP/2 (h2c) against HTTP/1.1 over the same slow link.
static void s_bench_drain(const char *url, const char *key, bool with_h1)
{
    int ng_port = 0;
    pid_t ng = s_nghttpx_start(url, &ng_port);
    if (ng < 0) {
        fprintf(stderr, "\nD drain: skipped (nghttpx not found: Debian nghttp2-proxy)\n");
        return;
    }
    wbt_delay_proxy_t *px = NULL;
    int px_port = wbt_delay_proxy_start(&px, ng_port, S_DELAY_MS);
    if (px_port < 0) {
        fprintf(stderr, "bench_backend: cannot start the delaying proxy\n");
        s_nghttpx_stop(ng);
        return;
    }
    char purl[64];
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d", px_port);
    fprintf(stderr,
            "\nD drain: %d runs x %d rows, finish, drain; answers held %d ms by a proxy in front\n"
            "of nghttpx -> wandb-mpi-server (loopback)\n%-22s %10s %12s %10s %14s %12s\n",
            S_DRAIN_RUNS, S_DRAIN_ROWS, S_DELAY_MS, "variant", "drain s", "rows/s", "requests",
            "max in flight", "connections");
    struct {
        const char *name, *project;
        int http2;
    } v[] = {{"HTTP/2 (h2c)", "drainh2", WBI_HTTP2_PRIOR_KNOWLEDGE},
             {"HTTP/1.1", "drainh1", WBI_HTTP2_OFF}};
    double h1 = 0, h2 = 0;
    for (int i = with_h1 ? 1 : 0; i >= 0; i--) { // HTTP/1.1 first: the baseline
        s_drain_t d = s_drain(purl, key, v[i].http2, v[i].project, px);
        if (d.rc != WANDB_OK)
            fprintf(stderr, "bench_backend: drain %s: %s\n", v[i].name, wandb_strerror(d.rc));
        *(i ? &h1 : &h2) = d.seconds;
        char variant[64];
        snprintf(variant, sizeof variant, "%s, %d ms per answer", v[i].name, S_DELAY_MS);
        bu_emit("D", variant, "drain_s", d.seconds, "s", i ? "" : "HTTP/1.1 same link", i ? 0 : h1);
        bu_emit("D", variant, "rows_per_s", d.rows_per_s, "rows/s", "", 0);
        bu_emit("D", variant, "tcp_connections", (double)d.connections, "count", "", 0);
        bu_emit("D", variant, "max_in_flight", (double)d.max_in_flight, "count", "", 0);
        fprintf(stderr, "%-22s %10.2f %12.0f %10llu %14llu %12d\n", v[i].name, d.seconds,
                d.rows_per_s, (unsigned long long)d.requests, (unsigned long long)d.max_in_flight,
                d.connections);
    }
    if (h1 > 0 && h2 > 0)
        fprintf(stderr, "HTTP/2 drains %.1fx faster over the same link.\n", h1 / h2);
    wbt_delay_proxy_stop(&px);
    s_nghttpx_stop(ng);
}

// B6 with the budget: requests/s for 1 ... 1024 runs (flat once over it).
static void s_bench_budget(bu_http_t *http, const char *url, const char *key)
{
    const int sizes[] = {1, 4, 16, 64, 256, 1024};
    fprintf(stderr,
            "\nB6 budget: backend alone, N runs each logging a line every 50 ms, flush 250 ms,\n"
            "request budget %.0f/s; requests/s over %d s from the server's counters\n"
            "%6s %12s %12s %14s %12s\n",
            S_B6_BUDGET, S_B6_WINDOW_S, "N", "req/s", "wanted/s", "ratio budget", "connections");
    static wbi_backend_run_t *runs[S_B6_MAX_RUNS];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int n = sizes[i];
        wbi_backend_opts_t o = {.base_url = url,
                                .api_key = key,
                                .flush_interval_ms = 250,
                                .heartbeat_ms = 600000,
                                .request_budget = S_B6_BUDGET};
        wbi_backend_t *b = NULL;
        if (wbi_backend_new(&b, &o) != WANDB_OK)
            return;
        for (int r = 0; r < n; r++) {
            char id[32];
            snprintf(id, sizeof id, "b6-%d-%04d", n, r);
            wbi_run_meta_t m = {.run_id = id, .project = "bench-b6"};
            runs[r] = wbi_backend_run_open(b, &m);
        }
        int step = 0;
        wbi_backend_drain(b, 120000); // every run exists: the window sees the steady state
        s_counts_t c0 = s_counts(http);
        uint64_t t0 = bu_now_ns(), t1 = t0;
        while ((t1 = bu_now_ns()) - t0 < (uint64_t)S_B6_WINDOW_S * 1000000000ull) {
            for (int r = 0; r < n; r++) {
                char line[64];
                int len = snprintf(line, sizeof line, "{\"x\":%d,\"_step\":%d}", step, step);
                wbi_backend_run_history(b, runs[r], line, (size_t)len);
            }
            step++;
            usleep(50 * 1000);
        }
        s_counts_t c1 = s_counts(http);
        for (int r = 0; r < n; r++)
            wbi_backend_run_finish(b, runs[r], 0);
        wbi_backend_drain(b, 120000);
        wbi_backend_destroy(&b);
        double secs = (double)(t1 - t0) / 1e9;
        double rps = (double)((c1.graphql - c0.graphql) + (c1.file_stream - c0.file_stream)) / secs;
        double wanted = n * 1000.0 / 250;
        char variant[64];
        snprintf(variant, sizeof variant, "N=%d runs, budget %.0f/s", n, S_B6_BUDGET);
        bu_emit("B6", variant, "http_requests_per_s", rps, "req/s", "request budget", S_B6_BUDGET);
        fprintf(stderr, "%6d %12.2f %12.2f %14.2f %12lld\n", n, rps, wanted, rps / S_B6_BUDGET,
                c1.connections - c0.connections);
    }
}

// True when section is in the comma-separated list (NULL: every section).
static bool s_want(const char *list, const char *section)
{
    if (!list)
        return true;
    size_t n = strlen(section);
    for (const char *p = list; (p = strstr(p, section)); p += n) {
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    bu_machine_line("B6/B7 bench_backend");
    for (int k = 0; k < S_KEYS; k++)
        snprintf(s_names[k], sizeof s_names[k], "train/m%d", k);
    const char *bin = bu_server_bin(argc > 1 ? argv[1] : NULL);
    char dir[64], url[256], key[256];
    pid_t server = bu_server_start(bin, dir, url, sizeof url, key, sizeof key);
    if (server < 0) {
        fprintf(stderr, "bench_backend: cannot start %s\n", bin);
        return 1;
    }
    bu_http_t *http = bu_http_new(url, key);
    uint64_t t_start = bu_now_ns();
    const char *sections = argc > 2 ? argv[2] : NULL;
    if (s_want(sections, "drain") || s_want(sections, "drain-h2"))
        s_bench_drain(url, key, s_want(sections, "drain"));
    if (s_want(sections, "budget"))
        s_bench_budget(http, url, key);
    if (!s_want(sections, "agg"))
        goto out;
    const int ns_list[] = {1, 4, 16, 64};

    fprintf(stderr,
            "\nB6 paced: N runs x %d steps/s x %d keys for %d s, flush_interval_ms %d\n"
            "%4s %12s %12s %12s %10s %12s %14s %14s\n",
            S_RATE, S_KEYS, S_PACED_S, S_FLUSH_MS, "N", "req/s", "file_stream/s", "W&B model/s",
            "ratio", "connections", "W&B model conn", "rows stored");
    for (int i = 0; i < 4; i++) {
        int n = ns_list[i];
        s_paced_t p = s_paced(http, url, key, n);
        // W&B model: one client per run, 1 file_stream per flush interval,
        // no heartbeat while data flows (heartbeats only when idle 30 s).
        double model = (double)n * 1000.0 / S_FLUSH_MS;
        char variant[64];
        snprintf(variant, sizeof variant, "paced N=%d runs", n);
        bu_emit("B6", variant, "http_requests_per_s", p.req_per_s, "req/s",
                "W&B model N x 1/flush_interval", model);
        bu_emit("B6", variant, "file_stream_per_s", p.fs_per_s, "req/s", "", 0);
        bu_emit("B6", variant, "tcp_connections", (double)p.connections, "count",
                "W&B model >= N (one client per run)", (double)n);
        bu_emit("B6", variant, "requests_total", (double)p.total_requests, "count", "", 0);
        bu_emit("B6", variant, "rows_stored_over_sent", (double)p.rows_stored, "rows", "sent",
                (double)p.rows_sent);
        fprintf(stderr, "%4d %12.2f %12.2f %12.2f %10.2f %12lld %14d %8lld/%lld\n", n, p.req_per_s,
                p.fs_per_s, model, p.req_per_s / model, p.connections, n, p.rows_stored,
                p.rows_sent);
    }
    fprintf(stderr,
            "Requests grow with the number of RUNS: file_stream is per run, and every simulated\n"
            "rank is its own run. What stays at the minimum is the connection count (1).\n");

    double base[S_E2E_REPS];
    s_curl_baseline(url, key, S_E2E_POINTS / S_KEYS, -1);
    for (int rep = 0; rep < S_E2E_REPS; rep++)
        base[rep] = s_curl_baseline(url, key, S_E2E_POINTS / S_KEYS, rep);
    bu_stats_t bs = bu_stats(base, S_E2E_REPS);
    bu_emit_stats("B7", "curl POST file_stream to server (baseline)", "points_per_s", &bs,
                  "points/s", "", 0);
    fprintf(
        stderr,
        "\nB7 end to end unthrottled: %d points (10 keys a row) split over N runs, %d rows a\n"
        "message, then FINISH; clock stops when the backend drained (server acknowledged).\n"
        "baseline: curl POST of the same lines to the same server: %.3f (%.3f..%.3f) Mpoints/s\n"
        "%4s %26s %8s %18s %12s %10s %14s\n",
        S_E2E_POINTS, S_ROWS_PER_MSG, bs.median / 1e6, bs.p10 / 1e6, bs.p90 / 1e6, "N",
        "Mpoints/s median (p10..p90)", "ratio", "agg emit Mpoints/s", "connections", "requests",
        "rows stored");
    for (int i = 0; i < 4; i++) {
        int n = ns_list[i];
        double pps[S_E2E_REPS], agg_pps[S_E2E_REPS];
        s_e2e_t e = s_e2e_rep(http, url, key, n, -1); // warm-up
        long long stored = 0, sent = 0, conns = 0, reqs = 0;
        for (int rep = 0; rep < S_E2E_REPS; rep++) {
            e = s_e2e_rep(http, url, key, n, rep);
            pps[rep] = e.pps;
            agg_pps[rep] = e.agg_pps;
            stored += e.rows_stored;
            sent += e.rows_sent;
            conns = e.connections > conns ? e.connections : conns;
            reqs += e.requests;
        }
        bu_stats_t st = bu_stats(pps, S_E2E_REPS);
        bu_stats_t as = bu_stats(agg_pps, S_E2E_REPS);
        char variant[64];
        snprintf(variant, sizeof variant, "unthrottled N=%d runs", n);
        bu_emit_stats("B7", variant, "e2e_points_per_s", &st, "points/s", "target 5 M points/s",
                      5e6);
        bu_emit_stats("B7", variant, "e2e_points_per_s", &st, "points/s",
                      "curl POST file_stream same lines", bs.median);
        bu_emit_stats("B7", variant, "aggregator_emit_points_per_s", &as, "points/s", "", 0);
        bu_emit("B7", variant, "tcp_connections_max", (double)conns, "count", "", 0);
        bu_emit("B7", variant, "rows_stored_over_sent", (double)stored, "rows", "sent",
                (double)sent);
        char a[48];
        snprintf(a, sizeof a, "%.3f (%.3f..%.3f)", st.median / 1e6, st.p10 / 1e6, st.p90 / 1e6);
        fprintf(stderr, "%4d %26s %8.2f %18.3f %12lld %10.1f %7lld/%lld\n", n, a,
                st.median / bs.median, as.median / 1e6, conns, (double)reqs / S_E2E_REPS, stored,
                sent);
    }
    fprintf(stderr, "simulated ranks on CPU 0; aggregator + backend threads on CPU 1; server "
                    "unpinned.\n");
out:
    fprintf(stderr, "Total %.1f s.\n", (double)(bu_now_ns() - t_start) / 1e9);
    bu_http_destroy(&http);
    bu_server_stop(server, dir);
    return 0;
}
