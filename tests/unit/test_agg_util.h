//  test_agg_util.h - message builders and a recording sink for aggregator tests
//  SPDX-License-Identifier: MIT
//
//  Builds wire messages the way a rank's I/O thread would (docs/wire-format.md)
//  and records everything the aggregator core hands to its sink, so tests can
//  drive the real handler without sockets or HTTP.
#ifndef TEST_AGG_UTIL_H
#define TEST_AGG_UTIL_H

#include "aggregator/core.h"
#include "common/alloc.h"
#include "common/wire.h"
#include "testutil.h"
#include <poll.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define T_MAX_LINES 4096

// Milliseconds of the monotonic clock, for bounded waits.
static inline int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// What the core sent to its sink.
typedef struct {
    int opened;               // runs opened
    char run_id[64];          // last opened run id
    char *open_config;        // config_json of the last open
    char *lines[T_MAX_LINES]; // history lines in order
    int nlines;               // lines recorded
    char *summary;            // last summary
    int nsummaries;           // summaries recorded
    char *config;             // last config
    int nconfigs;             // configs recorded
    int finished;             // finish calls
    int exit_code;            // last exit code
    int alerts;               // alert calls
    char alert[256];          // "title|text|level|wait"
    int preempting;           // preempting calls
    int replies;              // replies sent
    uint8_t reply_type;       // record type of the last reply
    char reply_payload[512];  // payload of the last reply
    const char *entity;       // what the entity callback reports (NULL: unknown)
    int files;                // saved files handed over
    char file_name[256];      // name of the last one
    char *file_data;          // its bytes (taken from the core; wbi_free)
    size_t file_len;          // their length
} t_rec_t;

static inline char *t_dup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static inline void *t_open(void *arg, const wbi_run_meta_t *meta)
{
    t_rec_t *r = arg;
    r->opened++;
    snprintf(r->run_id, sizeof r->run_id, "%s", meta->run_id);
    free(r->open_config);
    r->open_config = t_dup(meta->config_json, strlen(meta->config_json));
    return r;
}

static inline void t_history(void *arg, void *run, const wbi_agg_row_t *row)
{
    t_rec_t *r = arg;
    CHECK(run == r);
    wbi_buf_t line;
    wbi_buf_init(&line, (size_t)64 << 20);
    // Out of memory (failure injection): not recorded, as the outlet refuses it.
    if (wbi_agg_row_encode(row, &line) == WANDB_OK && r->nlines < T_MAX_LINES)
        r->lines[r->nlines++] = t_dup(line.data, line.len);
    wbi_buf_release(&line);
}

static inline void t_summary(void *arg, void *run, const char *json, size_t len)
{
    t_rec_t *r = arg;
    (void)run;
    free(r->summary);
    r->summary = t_dup(json, len);
    r->nsummaries++;
}

static inline void t_config(void *arg, void *run, const char *json)
{
    t_rec_t *r = arg;
    (void)run;
    free(r->config);
    r->config = t_dup(json, strlen(json));
    r->nconfigs++;
}

static inline void t_alert(void *arg, void *run, const char *title, const char *text,
                           const char *level, int64_t wait_ms)
{
    t_rec_t *r = arg;
    (void)run;
    r->alerts++;
    snprintf(r->alert, sizeof r->alert, "%s|%s|%s|%lld", title, text, level, (long long)wait_ms);
}

static inline void t_preempting(void *arg, void *run)
{
    (void)run;
    ((t_rec_t *)arg)->preempting++;
}

static inline void t_file(void *arg, void *run, const char *name, char **data_p, size_t len)
{
    t_rec_t *r = arg;
    (void)run;
    r->files++;
    snprintf(r->file_name, sizeof r->file_name, "%s", name);
    wbi_free(r->file_data);
    r->file_data = *data_p; // taken, as the backend does
    *data_p = NULL;
    r->file_len = len;
}

static inline void t_finish(void *arg, void *run, int exit_code)
{
    t_rec_t *r = arg;
    (void)run;
    r->finished++;
    r->exit_code = exit_code;
}

static inline bool t_entity(void *arg, void *run, char *buf, size_t len)
{
    t_rec_t *r = arg;
    (void)run;
    if (!r->entity)
        return false;
    snprintf(buf, len, "%s", r->entity);
    return true;
}

static inline void t_reply(void *arg, const void *peer, size_t peer_len, const void *msg,
                           size_t len)
{
    t_rec_t *r = arg;
    (void)peer;
    (void)peer_len;
    r->replies++;
    CHECK(len >= WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER);
    const uint8_t *m = msg;
    r->reply_type = m[WBI_WIRE_HEADER_BYTES];
    size_t plen = len - WBI_WIRE_HEADER_BYTES - WBI_WIRE_RECORD_HEADER;
    if (plen >= sizeof r->reply_payload)
        plen = sizeof r->reply_payload - 1;
    memcpy(r->reply_payload, m + WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER, plen);
    r->reply_payload[plen] = '\0';
}

static inline wbi_agg_sink_t t_sink(t_rec_t *r)
{
    wbi_agg_sink_t s = {.arg = r,
                        .open = t_open,
                        .history = t_history,
                        .summary = t_summary,
                        .config = t_config,
                        .alert = t_alert,
                        .preempting = t_preempting,
                        .file = t_file,
                        .finish = t_finish,
                        .entity = t_entity};
    return s;
}

static inline void t_rec_free(t_rec_t *r)
{
    for (int i = 0; i < r->nlines; i++)
        free(r->lines[i]);
    free(r->summary);
    free(r->config);
    free(r->open_config);
    wbi_free(r->file_data);
    memset(r, 0, sizeof(*r));
}

// --- message builder -----------------------------------------------------------

typedef struct {
    wbi_buf_t b;  // the message being built
    uint32_t seq; // next sequence number
} t_msg_t;

static inline void t_begin(t_msg_t *m)
{
    if (!m->b.max)
        wbi_buf_init(&m->b, 64u << 20);
    wbi_buf_reset(&m->b);
    uint8_t hdr[WBI_WIRE_HEADER_BYTES];
    wbi_wire_header_put(hdr, m->seq++);
    CHECK_OK(wbi_buf_append(&m->b, hdr, sizeof hdr));
}

static inline void t_put(t_msg_t *m, wbi_rec_type type, const char *json)
{
    CHECK_OK(wbi_wire_put(&m->b, type, json, strlen(json)));
}

static inline void t_key(t_msg_t *m, uint32_t id, const char *key)
{
    CHECK_OK(wbi_wire_put_key(&m->b, id, key, strlen(key)));
}

static inline void t_finish_rec(t_msg_t *m, int32_t code, uint64_t dropped, uint64_t rejected)
{
    CHECK_OK(wbi_wire_put_finish(&m->b, code, dropped, rejected));
}

// Appends a ROW with n values; ids[i] is the key id of vals[i].
static inline void t_row(t_msg_t *m, int64_t step, double ts, bool commit, size_t n,
                         const uint32_t *ids, const wandb_value_t *vals)
{
    size_t plen = WBI_WIRE_ROW_HEADER;
    for (size_t i = 0; i < n; i++) {
        size_t slen = (vals[i].type == WANDB_TYPE_STRING || vals[i].type == WANDB_TYPE_JSON)
                          ? strlen(vals[i].as.s)
                          : 0;
        plen += wbi_wire_value_size(vals[i].type, slen);
    }
    CHECK_OK(wbi_buf_reserve(&m->b, WBI_WIRE_RECORD_HEADER + plen));
    uint8_t *p = (uint8_t *)m->b.data + m->b.len;
    wbi_wire_record_put(p, WBI_REC_ROW, (uint32_t)plen);
    wbi_wire_row_put(p + WBI_WIRE_RECORD_HEADER, step, ts, commit ? WBI_WIRE_ROW_COMMIT : 0,
                     (uint16_t)n);
    size_t off = WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER;
    for (size_t i = 0; i < n; i++) {
        size_t slen = (vals[i].type == WANDB_TYPE_STRING || vals[i].type == WANDB_TYPE_JSON)
                          ? strlen(vals[i].as.s)
                          : 0;
        off += wbi_wire_value_put(p + off, ids[i], &vals[i], slen);
    }
    CHECK_EQ(off, WBI_WIRE_RECORD_HEADER + plen);
    m->b.len += off;
    m->b.data[m->b.len] = '\0';
}

static inline void t_msg_free(t_msg_t *m)
{
    wbi_buf_release(&m->b);
}

#define T_HELLO                                                                                    \
    "{\"run_id\":\"r1\",\"project\":\"p\",\"entity\":null,\"rank\":0,\"world_size\":1,"            \
    "\"start_time\":100.0,\"config\":{\"lr\":0.01}}"

// Sends the message built in m from peer "peer-<n>".
static inline void t_send(wbi_agg_core_t *core, int peer, t_msg_t *m, int64_t mono_ms)
{
    char id[32];
    int n = snprintf(id, sizeof id, "peer-%d", peer);
    wbi_agg_core_handle(core, id, (size_t)n, m->b.data, m->b.len, mono_ms, 200.0);
}

// Ticks every 20 ms (as the real loop does) from from_ms to to_ms inclusive.
static inline void t_ticks(wbi_agg_core_t *core, int64_t from_ms, int64_t to_ms)
{
    for (int64_t t = from_ms; t <= to_ms; t += 20)
        wbi_agg_core_tick(core, t, 200.0);
}

// Counts WARN lines (install with wandb_set_logger(t_count_warn, &n)).
static inline void t_count_warn(void *arg, wandb_log_level level, const char *msg)
{
    (void)msg;
    if (level == WANDB_LOG_WARN)
        (*(int *)arg)++;
}

static inline wbi_agg_core_t *t_core(t_rec_t *r, const char *secret)
{
    wbi_agg_core_opts_t o = {.secret = secret,
                             .base_url = "http://127.0.0.1:1/",
                             .heartbeat_timeout_ms = 1000,
                             .summary_interval_ms = 100,
                             .reply = t_reply,
                             .reply_arg = r};
    wbi_agg_sink_t s = t_sink(r);
    wbi_agg_core_t *c = NULL;
    CHECK_OK(wbi_agg_core_new(&c, &o, &s));
    return c;
}

// --- CURVE clients -----------------------------------------------------------

// What a rank needs to reach a CURVE aggregator (Z85 text).
typedef struct {
    char server_key[41];    // the aggregator's public key
    char client_key[41];    // the job's client public key
    char client_secret[41]; // the job's client secret key
} t_keys_t;

// Makes sock a CURVE client of server_key with the key pair (pub, sec).
static inline void t_curve(void *sock, const char *server_key, const char *pub, const char *sec)
{
    CHECK_EQ(zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 40), 0);
    CHECK_EQ(zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    CHECK_EQ(zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
}

// Makes sock a CURVE client with the job's keys k.
static inline void t_curve_job(void *sock, const t_keys_t *k)
{
    t_curve(sock, k->server_key, k->client_key, k->client_secret);
}

// A DEALER that speaks for a rank of the job: CURVE with the job's keys,
// connected to ep, lingering linger_ms at close.
static inline void *t_dealer_job(void *ctx, const char *ep, const t_keys_t *k, int linger_ms)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(d != NULL);
    zmq_setsockopt(d, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    t_curve_job(d, k);
    CHECK_EQ(zmq_connect(d, ep), 0);
    return d;
}

// Copies the text after "<prefix>" up to the end of its line in text.
static inline bool t_line_after(const char *text, const char *prefix, char *out, size_t len)
{
    const char *p = strstr(text, prefix);
    const char *nl = p ? strchr(p, '\n') : NULL;
    if (!nl)
        return false;
    p += strlen(prefix);
    snprintf(out, len, "%.*s", (int)(nl - p), p);
    return true;
}

// Reads the aggregator executable's stdout (fd) until its endpoint line
// and, unless plain, its three key lines arrived (at most timeout_ms).
static inline void t_read_agg(int fd, bool plain, int timeout_ms, char *ep, size_t eplen,
                              t_keys_t *k)
{
    char buf[8192];
    size_t used = 0;
    buf[0] = '\0';
    int64_t deadline = t_now_ms() + timeout_ms;
    while (t_now_ms() < deadline && used < sizeof buf - 1) {
        bool ok = t_line_after(buf, "wandb-mpi-aggregator listening on ", ep, eplen);
        if (ok && !plain)
            ok = t_line_after(buf, "wandb-mpi-aggregator server_key ", k->server_key, 41) &&
                 t_line_after(buf, "wandb-mpi-aggregator client_key ", k->client_key, 41) &&
                 t_line_after(buf, "wandb-mpi-aggregator client_secret ", k->client_secret, 41);
        if (ok)
            return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
    }
    WBT_FAIL("the aggregator did not print its endpoint and keys (got '%s')", buf);
}

#endif
