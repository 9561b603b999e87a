//  bench_backend.c - B6 + B7 end to end: aggregator -> backend -> wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_backend [server-binary]
//  The real aggregator (wbi_agg_start: ROUTER socket, message handler, the
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
#include "aggregator/aggregator.h"
#include "bench_util.h"
#include "common/buf.h"
#include "common/wire.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

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
    wbi_agg_opts_t opts = {
        .bind = "tcp://127.0.0.1:*",
        .expected_runs = n,
        .backend = {.base_url = url, .api_key = key, .flush_interval_ms = S_FLUSH_MS},
    };
    wbi_agg_t *agg = NULL;
    wandb_err rc = wbi_agg_start(&agg, &opts);
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
    fprintf(stderr,
            "simulated ranks on CPU 0; aggregator + backend threads on CPU 1; server unpinned.\n"
            "Total %.1f s.\n",
            (double)(bu_now_ns() - t_start) / 1e9);
    bu_http_destroy(&http);
    bu_server_stop(server, dir);
    return 0;
}
