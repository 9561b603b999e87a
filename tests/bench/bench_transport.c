//  bench_transport.c - B3 + B5: rank -> aggregator throughput and bytes per point
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_transport [points-per-burst] [--curve-only]   (default 4000000)
//  One real logger (wandb_init with the "aggregator" setting) sends rows of
//  10, 100 and 1000 doubles as fast as it can (ring_full=wait, so nothing is
//  dropped) to a ZeroMQ ROUTER bound here on ipc:// and tcp://127.0.0.1. A
//  receiving thread plays the aggregator's part of the transport: it
//  receives every message, runs the real wire decoder (record walk, ROW
//  validation, value iteration), counts bytes and points, and answers FINISH
//  with FINISHED. The baseline is raw ZeroMQ: the messages the logger sent in
//  its warm-up burst (captured byte for byte) are replayed by a plain DEALER
//  with the same send high-water mark into the same receiving thread.
//  Two CPU layouts, both reported:
//   rank:  the "rank" (logging thread, its I/O thread, its ZeroMQ context; or
//          the raw sender and its context) on CPU 0, the receiver on CPU 1
//          (one rank per core, the aggregator on another);
//   split: only the logging thread (or the raw sender thread) on CPU 0;
//          the I/O thread, both contexts and the receiver on CPU 1 (the
//          layout of bench_log).
//  Then B3 with CURVE: the same logger sessions (layout rank) against a
//  receiver that is a CURVE server, as the aggregator is by default
//  (docs/security.md), reported as a ratio to CURVE off measured in the same
//  run. --curve-only runs just that comparison.
#include "bench_util.h"
#include "common/wire.h"
#include "wandb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_REPS 5        // timed bursts per variant (after one warm-up)
#define S_MAX_KEYS 1000 // widest row
#define S_SNDHWM 16     // the logger's DEALER high-water mark (docs/logger.md)
#define S_RCVHWM 100000 // the aggregator's ROUTER high-water mark

typedef struct {
    void *sock;              // ROUTER (this thread only, after start)
    atomic_bool stop;        // main -> thread: end the loop
    atomic_bool capture;     // main -> thread: keep a copy of every message
    _Atomic uint64_t points; // values in decoded ROW records
    _Atomic uint64_t rows;   // ROW records
    _Atomic uint64_t msgs;   // messages
    _Atomic uint64_t bytes;  // message bytes (our header and records)
    _Atomic uint64_t zmtp;   // the same plus ZMTP frame headers (2 or 9 bytes)
    _Atomic uint64_t bad;    // messages or records the decoder refused
    uint8_t *cap;            // captured bytes
    size_t cap_len;          // used
    size_t cap_size;         // allocated
    uint32_t *sizes;         // captured message sizes
    size_t nsizes;           // used
    size_t sizes_cap;        // allocated
    uint64_t cap_points;     // points in the captured messages
    double checksum;         // sum of decoded values (keeps the decode honest)
} s_rx_t;

// Keeps a copy of one message (capture mode).
static void s_capture(s_rx_t *rx, const void *data, size_t len, uint64_t points)
{
    if (rx->cap_len + len > rx->cap_size) {
        size_t n = rx->cap_size ? rx->cap_size * 2 : ((size_t)64 << 20);
        while (n < rx->cap_len + len)
            n *= 2;
        uint8_t *p = realloc(rx->cap, n);
        if (!p)
            return;
        rx->cap = p;
        rx->cap_size = n;
    }
    if (rx->nsizes == rx->sizes_cap) {
        size_t n = rx->sizes_cap ? rx->sizes_cap * 2 : 4096;
        uint32_t *p = realloc(rx->sizes, n * sizeof(*p));
        if (!p)
            return;
        rx->sizes = p;
        rx->sizes_cap = n;
    }
    memcpy(rx->cap + rx->cap_len, data, len);
    rx->cap_len += len;
    rx->sizes[rx->nsizes++] = (uint32_t)len;
    rx->cap_points += points;
}

// Answers a FINISH with FINISHED, so that wandb_finish returns at once.
static void s_reply_finished(s_rx_t *rx, zmq_msg_t *id)
{
    uint8_t msg[WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER];
    wbi_wire_header_put(msg, 0);
    wbi_wire_record_put(msg + WBI_WIRE_HEADER_BYTES, WBI_REC_FINISHED, 0);
    zmq_send(rx->sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(rx->sock, msg, sizeof msg, ZMQ_DONTWAIT);
}

// Decodes one message as the aggregator would; returns the points in it.
static uint64_t s_decode(s_rx_t *rx, const uint8_t *data, size_t len, bool *finish)
{
    wbi_wire_reader_t r;
    if (wbi_wire_reader_init(&r, data, len) != WANDB_OK) {
        atomic_fetch_add_explicit(&rx->bad, 1, memory_order_relaxed);
        return 0;
    }
    uint64_t points = 0;
    uint64_t rows = 0;
    wbi_wire_record_t rec;
    wandb_err rc;
    while ((rc = wbi_wire_next(&r, &rec)) == WANDB_OK) {
        if (rec.type == WBI_REC_ROW) {
            wbi_wire_row_t row;
            size_t bad_at;
            if (wbi_wire_row_parse(&rec, &row, &bad_at) != WANDB_OK) {
                atomic_fetch_add_explicit(&rx->bad, 1, memory_order_relaxed);
                continue;
            }
            const uint8_t *cur = row.values;
            wbi_wire_value_t v;
            while (wbi_wire_row_next(&row, &cur, &v)) {
                if (v.type == WANDB_TYPE_DOUBLE)
                    rx->checksum += v.as.d;
                points++;
            }
            rows++;
        } else if (rec.type == WBI_REC_KEY) {
            uint32_t id;
            const char *key;
            size_t key_len;
            if (wbi_wire_key_parse(&rec, &id, &key, &key_len) != WANDB_OK)
                atomic_fetch_add_explicit(&rx->bad, 1, memory_order_relaxed);
        } else if (rec.type == WBI_REC_FINISH) {
            *finish = true;
        }
    }
    if (rc == WANDB_EPROTO)
        atomic_fetch_add_explicit(&rx->bad, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rx->rows, rows, memory_order_relaxed);
    return points;
}

// The receiving thread: ROUTER -> decoder -> counters.
static void *s_rx_thread(void *arg)
{
    s_rx_t *rx = arg;
    bu_pin(1);
    zmq_pollitem_t item = {.socket = rx->sock, .events = ZMQ_POLLIN};
    while (!atomic_load(&rx->stop)) {
        if (zmq_poll(&item, 1, 10) <= 0)
            continue;
        for (int i = 0; i < 4096; i++) {
            zmq_msg_t id;
            zmq_msg_t body;
            zmq_msg_init(&id);
            if (zmq_msg_recv(&id, rx->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&id);
                break;
            }
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, rx->sock, 0) < 0) {
                zmq_msg_close(&body);
                zmq_msg_close(&id);
                break;
            }
            size_t len = zmq_msg_size(&body);
            bool finish = false;
            uint64_t points = s_decode(rx, zmq_msg_data(&body), len, &finish);
            if (atomic_load_explicit(&rx->capture, memory_order_relaxed))
                s_capture(rx, zmq_msg_data(&body), len, points);
            atomic_fetch_add_explicit(&rx->msgs, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&rx->bytes, len, memory_order_relaxed);
            atomic_fetch_add_explicit(&rx->zmtp, len + (len > 255 ? 9 : 2), memory_order_relaxed);
            atomic_fetch_add_explicit(&rx->points, points, memory_order_release);
            if (finish)
                s_reply_finished(rx, &id);
            zmq_msg_close(&body);
            zmq_msg_close(&id);
        }
    }
    return NULL;
}

// Waits (sleeping, so the rank's threads keep CPU 0) until the receiver has
// counted `target` points or 20 s passed; returns the monotonic time then.
static uint64_t s_wait_points(s_rx_t *rx, uint64_t target)
{
    uint64_t deadline = bu_now_ns() + 20000000000ull;
    struct timespec pause = {0, 50000};
    while (atomic_load_explicit(&rx->points, memory_order_acquire) < target) {
        if (bu_now_ns() > deadline) {
            fprintf(stderr, "bench_transport: timed out waiting for points\n");
            break;
        }
        nanosleep(&pause, NULL);
    }
    return bu_now_ns();
}

typedef struct {
    double logger_pps[S_REPS]; // points/s per burst, logger
    double raw_pps[S_REPS];    // points/s per replay, raw ZeroMQ
    double bytes_per_point;    // message bytes / points over the whole logger session
    double zmtp_per_point;     // the same with ZMTP frame headers
    double logger_msg_bytes;   // mean message size, logger (timed bursts)
    double raw_msg_bytes;      // mean message size, raw replay
    uint64_t dropped;          // wandb_run_dropped at the end (must be 0)
    uint64_t bad;              // decoder complaints (must be 0)
    bool ok;                   // the session ran
} s_result_t;

// One logger session: init, a warm-up burst (captured), S_REPS timed bursts,
// finish. Returns false when init failed.
static bool s_logger_session(s_rx_t *rx, const char *endpoint, int nkeys, uint64_t burst_points,
                             const char **keys, const char *server_key, s_result_t *res)
{
    wandb_settings_t *s = NULL;
    wandb_settings_new(&s);
    wandb_settings_set(s, "project", "bench");
    wandb_settings_set(s, "aggregator", endpoint);
    if (server_key) {
        char pub[41], sec[41];
        zmq_curve_keypair(pub, sec);
        wandb_settings_set(s, "aggregator_server_key", server_key);
        wandb_settings_set(s, "aggregator_client_key", pub);
        wandb_settings_set(s, "aggregator_client_secret", sec);
    } else {
        wandb_settings_set(s, "transport_security", "plain");
    }
    wandb_settings_set(s, "ring_full", "wait");
    wandb_settings_set(s, "ring_wait_ms", "60000");
    wandb_settings_set(s, "finish_timeout_ms", "10000");
    wandb_run_t *run = NULL;
    if (wandb_init(s, &run) != WANDB_OK) {
        fprintf(stderr, "bench_transport: wandb_init: %s\n", wandb_settings_errmsg(s));
        wandb_settings_destroy(&s);
        return false;
    }
    bu_pin(0); // split: the I/O thread and the context stay on CPU 1
    wandb_value_t vals[S_MAX_KEYS];
    for (int k = 0; k < nkeys; k++)
        vals[k] = WANDB_DOUBLE(keys[k], 0.0);
    uint64_t rows = burst_points / (uint64_t)nkeys;
    uint64_t p0 = atomic_load(&rx->points);
    uint64_t b0 = atomic_load(&rx->bytes);
    uint64_t z0 = atomic_load(&rx->zmtp);
    uint64_t m_timed = 0, b_timed = 0;
    uint64_t step = 0;
    for (int rep = -1; rep < S_REPS; rep++) {
        if (rep < 0)
            atomic_store(&rx->capture, true);
        uint64_t target = atomic_load(&rx->points) + rows * (uint64_t)nkeys;
        uint64_t m1 = atomic_load(&rx->msgs), b1 = atomic_load(&rx->bytes);
        uint64_t t0 = bu_now_ns();
        for (uint64_t i = 0; i < rows; i++, step++) {
            for (int k = 0; k < nkeys; k++)
                vals[k].as.d = (double)step * 0.001 + k;
            wandb_log_values(run, vals, (size_t)nkeys, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO);
        }
        uint64_t t1 = s_wait_points(rx, target);
        if (rep < 0) {
            atomic_store(&rx->capture, false);
            continue;
        }
        res->logger_pps[rep] = (double)(rows * (uint64_t)nkeys) / ((double)(t1 - t0) / 1e9);
        m_timed += atomic_load(&rx->msgs) - m1;
        b_timed += atomic_load(&rx->bytes) - b1;
    }
    res->dropped = wandb_run_dropped(run);
    wandb_err frc = wandb_finish(&run, 0);
    if (frc != WANDB_OK)
        fprintf(stderr, "bench_transport: wandb_finish: %s\n", wandb_strerror(frc));
    usleep(20000); // the FINISH message and its bytes
    uint64_t points = atomic_load(&rx->points) - p0;
    res->bytes_per_point = (double)(atomic_load(&rx->bytes) - b0) / (double)points;
    res->zmtp_per_point = (double)(atomic_load(&rx->zmtp) - z0) / (double)points;
    res->logger_msg_bytes = m_timed ? (double)b_timed / (double)m_timed : 0;
    wandb_settings_destroy(&s);
    return true;
}

// The raw baseline: replays the captured messages through a plain DEALER.
static void s_raw_session(s_rx_t *rx, const char *endpoint, s_result_t *res)
{
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER); // its I/O thread starts here
    bu_pin(0);                                // the sending thread
    int hwm = S_SNDHWM;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, "raw", 3);
    zmq_connect(sock, endpoint);
    uint64_t m_timed = 0, b_timed = 0;
    for (int rep = -1; rep < S_REPS; rep++) {
        uint64_t target = atomic_load(&rx->points) + rx->cap_points;
        uint64_t m1 = atomic_load(&rx->msgs), b1 = atomic_load(&rx->bytes);
        uint64_t t0 = bu_now_ns();
        size_t off = 0;
        for (size_t i = 0; i < rx->nsizes; i++) {
            zmq_send(sock, rx->cap + off, rx->sizes[i], 0);
            off += rx->sizes[i];
        }
        uint64_t t1 = s_wait_points(rx, target);
        if (rep < 0)
            continue;
        res->raw_pps[rep] = (double)rx->cap_points / ((double)(t1 - t0) / 1e9);
        m_timed += atomic_load(&rx->msgs) - m1;
        b_timed += atomic_load(&rx->bytes) - b1;
    }
    res->raw_msg_bytes = m_timed ? (double)b_timed / (double)m_timed : 0;
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

// Runs the logger and (unless curve) the raw baseline for one transport and
// row width. curve: the receiver is a CURVE server and the logger its client.
static s_result_t s_run(const char *transport, bool split, int nkeys, uint64_t burst_points,
                        const char **keys, bool curve)
{
    s_result_t res = {0};
    s_rx_t rx = {0};
    bu_pin(1); // the receiving context's I/O thread is created on CPU 1
    void *ctx = zmq_ctx_new();
    rx.sock = zmq_socket(ctx, ZMQ_ROUTER);
    int hwm = S_RCVHWM;
    zmq_setsockopt(rx.sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    char server_pub[41] = "";
    char server_sec[41] = "";
    if (curve) {
        int on = 1;
        zmq_curve_keypair(server_pub, server_sec);
        zmq_setsockopt(rx.sock, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt(rx.sock, ZMQ_CURVE_SECRETKEY, server_sec, 40);
    }
    char bind[128];
    if (strcmp(transport, "ipc") == 0)
        snprintf(bind, sizeof bind, "ipc:///tmp/wandb-bench-transport-%d.ipc", (int)getpid());
    else
        snprintf(bind, sizeof bind, "tcp://127.0.0.1:*");
    char endpoint[256] = "";
    size_t elen = sizeof endpoint;
    if (zmq_bind(rx.sock, bind) != 0 ||
        zmq_getsockopt(rx.sock, ZMQ_LAST_ENDPOINT, endpoint, &elen) != 0) {
        fprintf(stderr, "bench_transport: cannot bind %s: %s\n", bind, zmq_strerror(zmq_errno()));
        zmq_close(rx.sock);
        zmq_ctx_term(ctx);
        return res;
    }
    pthread_t th;
    pthread_create(&th, NULL, s_rx_thread, &rx);
    if (!split)
        bu_pin(0); // the rank: logging thread, I/O thread, its context
    res.ok =
        s_logger_session(&rx, endpoint, nkeys, burst_points, keys, curve ? server_pub : NULL, &res);
    if (res.ok && rx.nsizes > 0 && !curve) {
        bu_pin(split ? 1 : 0);
        s_raw_session(&rx, endpoint, &res);
    }
    res.bad = atomic_load(&rx.bad);
    atomic_store(&rx.stop, true);
    pthread_join(th, NULL);
    int linger = 0;
    zmq_setsockopt(rx.sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(rx.sock);
    zmq_ctx_term(ctx);
    if (strcmp(transport, "ipc") == 0)
        unlink(bind + 6);
    free(rx.cap);
    free(rx.sizes);
    return res;
}

// B3 with CURVE on and off, layout rank, alternating per width so that
// both see the same machine state. Returns false when a session failed.
static bool s_curve_table(uint64_t burst_points, const char **keys)
{
    const char *transports[] = {"ipc", "tcp"};
    const int widths[] = {10, 100, 1000};
    fprintf(stderr,
            "\nB3 with CURVE (layout rank), median (p10..p90) of %d bursts of %llu points\n"
            "%-4s %5s %28s %28s %6s\n",
            S_REPS, (unsigned long long)burst_points, "", "keys", "CURVE off Mpoints/s",
            "CURVE on Mpoints/s", "ratio");
    for (int t = 0; t < 2; t++) {
        for (int w = 0; w < 3; w++) {
            s_result_t off = s_run(transports[t], false, widths[w], burst_points, keys, false);
            s_result_t on = s_run(transports[t], false, widths[w], burst_points, keys, true);
            if (!off.ok || !on.ok)
                return false;
            bu_stats_t a = bu_stats(off.logger_pps, S_REPS);
            bu_stats_t b = bu_stats(on.logger_pps, S_REPS);
            char variant[96];
            snprintf(variant, sizeof variant, "rank %s %d keys logger curve", transports[t],
                     widths[w]);
            bu_emit_stats("B3", variant, "points_per_s", &b, "points/s",
                          "the same logger with CURVE off, same run", a.median);
            char sa[40], sb[40];
            snprintf(sa, sizeof sa, "%.2f (%.2f..%.2f)", a.median / 1e6, a.p10 / 1e6, a.p90 / 1e6);
            snprintf(sb, sizeof sb, "%.2f (%.2f..%.2f)", b.median / 1e6, b.p10 / 1e6, b.p90 / 1e6);
            fprintf(stderr, "%-4s %5d %28s %28s %6.2f%s\n", transports[t], widths[w], sa, sb,
                    b.median / a.median,
                    off.dropped || off.bad || on.dropped || on.bad ? "  (DROPPED OR MALFORMED)"
                                                                   : "");
        }
    }
    fprintf(stderr, "ratio = CURVE on / CURVE off (the logger's points/s).\n");
    return true;
}

int main(int argc, char **argv)
{
    uint64_t burst_points = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    if (burst_points < 10000)
        burst_points = 10000;
    bool curve_only = argc > 2 && strcmp(argv[2], "--curve-only") == 0;
    bu_machine_line("B3/B5 bench_transport");
    static char names[S_MAX_KEYS][24];
    static const char *keys[S_MAX_KEYS];
    for (int k = 0; k < S_MAX_KEYS; k++) {
        snprintf(names[k], sizeof names[k], k < 10 ? "train/m%d" : "layer%d/norm", k);
        keys[k] = names[k];
    }
    if (curve_only) {
        bool ok = s_curve_table(burst_points, keys);
        wandb_shutdown();
        return ok ? 0 : 1;
    }
    const char *transports[] = {"ipc", "tcp"};
    const int widths[] = {10, 100, 1000};
    fprintf(stderr,
            "\nB3/B5 rank -> aggregator, %llu points a burst, median (p10..p90) of %d bursts\n"
            "%-4s %5s %28s %28s %6s %8s %8s %7s %7s\n",
            (unsigned long long)burst_points, S_REPS, "", "keys", "logger Mpoints/s",
            "raw zmq Mpoints/s", "ratio", "B/point", "+ZMTP", "msgB lg", "msgB raw");
    uint64_t t_start = bu_now_ns();
    for (int l = 0; l < 2; l++) {
        bool split = l == 1;
        const char *layout = split ? "split" : "rank";
        fprintf(stderr, "layout %s\n", layout);
        for (int t = 0; t < 2; t++) {
            for (int w = 0; w < 3; w++) {
                s_result_t r = s_run(transports[t], split, widths[w], burst_points, keys, false);
                if (!r.ok)
                    return 1;
                bu_stats_t lg = bu_stats(r.logger_pps, S_REPS);
                bu_stats_t raw = bu_stats(r.raw_pps, S_REPS);
                char variant[96];
                snprintf(variant, sizeof variant, "%s %s %d keys logger", layout, transports[t],
                         widths[w]);
                bu_emit_stats("B3", variant, "points_per_s", &lg, "points/s",
                              "raw zmq DEALER/ROUTER same bytes", raw.median);
                snprintf(variant, sizeof variant, "%s %s %d keys raw zmq", layout, transports[t],
                         widths[w]);
                bu_emit_stats("B3", variant, "points_per_s", &raw, "points/s", "", 0);
                snprintf(variant, sizeof variant, "%s %d keys", transports[t], widths[w]);
                bu_emit("B5", variant, "wire_bytes_per_point", r.bytes_per_point, "B",
                        "12 B/point (4 B id + 8 B double)", 12.0);
                bu_emit("B5", variant, "wire_bytes_per_point_with_zmtp", r.zmtp_per_point, "B",
                        "12 B/point (4 B id + 8 B double)", 12.0);
                bu_emit("B3", variant, "dropped_values", (double)r.dropped, "count", "", 0);
                char a[40], b[40];
                snprintf(a, sizeof a, "%.2f (%.2f..%.2f)", lg.median / 1e6, lg.p10 / 1e6,
                         lg.p90 / 1e6);
                snprintf(b, sizeof b, "%.2f (%.2f..%.2f)", raw.median / 1e6, raw.p10 / 1e6,
                         raw.p90 / 1e6);
                fprintf(stderr, "%-4s %5d %28s %28s %6.2f %8.2f %8.2f %7.0f %7.0f%s\n",
                        transports[t], widths[w], a, b, lg.median / raw.median, r.bytes_per_point,
                        r.zmtp_per_point, r.logger_msg_bytes, r.raw_msg_bytes,
                        r.dropped || r.bad ? "  (DROPPED OR MALFORMED)" : "");
            }
        }
    }
    fprintf(stderr,
            "layout rank: logging thread + I/O thread + its ZeroMQ context (or the raw sender and\n"
            "its context) on CPU 0, receiver on CPU 1. layout split: only the logging (sending)\n"
            "thread on CPU 0, everything else on CPU 1. Receiver = ROUTER + real wire decoder.\n"
            "ratio = logger / raw (target >= 0.8).\n"
            "B/point = message bytes incl. our 8-byte headers, HELLO, KEY, FINISH, heartbeats;\n"
            "+ZMTP adds libzmq's frame header. Target <= 13 B/point. Total %.1f s.\n",
            (double)(bu_now_ns() - t_start) / 1e9);
    bool ok = s_curve_table(burst_points, keys);
    wandb_shutdown();
    return ok ? 0 : 1;
}
