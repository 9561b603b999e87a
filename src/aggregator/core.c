//  core.c - the aggregator's message handler: peers, decoding, timers
//  SPDX-License-Identifier: MIT
//
//  Error policy: a message whose framing is broken (header, a record length
//  past the end) ends there: the rest is skipped and counted once. A record
//  whose framing is fine but whose payload is invalid (bad JSON, bad ROW,
//  lower step, record before HELLO) is counted and skipped alone, because
//  its length already says where the next record starts. The first problem
//  of a peer is logged at WARN, the rest at DEBUG.
//
//  Peer table: a routing id gets an entry only once it sent a valid HELLO
//  (with the right secret). Messages from unknown ids that do not start
//  with one are dropped and counted in `ignored` (a failed HELLO counts in
//  `malformed`), under one rate-limited warning for all of them, so junk
//  connections can neither fill the table nor flood the log.
//
//  Connections: a peer remembers the connection (ZAP User-Id) of its
//  HELLO. Its routing id arriving over another connection (a reconnect, or
//  somebody else using the id) counts only after a HELLO with the secret
//  for the same run and rank on that connection (docs/security.md).
#include "aggregator/core.h"
#include "aggregator/jobview.h"
#include "aggregator/map.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_STRANGER_WARN_MS 60000 // at most one WARN about unknown peers this often
#define S_CONN_MAX 32            // bytes kept of a connection id (ZAP User-Id)

typedef enum {
    S_ACTIVE,   // HELLO accepted, run open
    S_FINISHED, // FINISH received
    S_CRASHED,  // silent past the heartbeat timeout
} s_state_t;

typedef struct {
    char *id;                     // routing id (copy)
    size_t id_len;                // its length
    char conn[S_CONN_MAX];        // connection of the accepted HELLO ("" without ZAP)
    uint32_t index;               // position in the peer table
    s_state_t state;              // see s_state_t
    wbi_agg_run_t *run;           // the run (ACTIVE, FINISHED, CRASHED)
    wbi_jobview_member_t *member; // its place in the job run (NULL: none)
    int64_t last_seen_ms;         // monotonic time of the last message
    int timeout_ms;               // heartbeat timeout of this peer (HELLO heartbeat_ms)
    int64_t last_summary_ms;      // monotonic time of the last summary
    uint32_t next_seq;            // expected next seq
    bool seq_known;               // next_seq is valid
    uint32_t out_seq;             // seq of our next message to the peer
    bool warned;                  // first problem already logged at WARN
    bool warned_gap;              // first sequence gap already logged at WARN
    bool welcome_sent;            // WELCOME was sent
    bool preempting;              // PREEMPTING was received
    double start_time;            // HELLO start_time (Unix seconds; the HELLO's arrival without)
} s_peer_t;

struct wbi_agg_core {
    char *secret;             // required secret (NULL: none)
    char *base_url;           // for WELCOME urls (NULL: none)
    int heartbeat_timeout_ms; // see opts
    int summary_interval_ms;  // see opts
    wbi_agg_sink_t sink;      // where output goes
    void (*reply)(void *, const void *, size_t, const void *, size_t); // see the options
    void *reply_arg;                                                   // first argument of reply
    wbi_agg_sink_t quiet;       // the sink of members' runs when per-rank runs are off
    bool rank_runs;             // per-rank runs reach the sink
    bool warned_quiet;          // "files/alerts of members are not sent" was logged
    wbi_jobview_t *jobview;     // the job runs (NULL: off)
    s_peer_t **peers;           // peer table
    size_t npeers;              // peers used
    size_t peers_cap;           // peers allocated
    wbi_smap_t by_id;           // routing id -> peer index
    wbi_agg_names_t names;      // key names shared by all runs
    wbi_agg_stats_t stats;      // public counters
    wbi_agg_core_extra_t extra; // internal counters
    int64_t last_tick_ms;       // when the last summary pass ran
    int64_t prev_tick_ms;       // when the last tick ran (any)
    bool ticked;                // prev_tick_ms is valid
    uint64_t strangers;         // unknown-peer messages since the last WARN about them
    int64_t stranger_warn_ms;   // when that WARN was logged
    bool stranger_warned;       // stranger_warn_ms is valid
    bool full_warned;           // "peer table full" was logged
};

wandb_err wbi_agg_core_new(wbi_agg_core_t **out, const wbi_agg_core_opts_t *opts,
                           const wbi_agg_sink_t *sink)
{
    *out = NULL;
    wbi_agg_core_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    self->sink = *sink;
    self->quiet = (wbi_agg_sink_t){.arg = sink->arg};
    self->reply = opts->reply;
    self->reply_arg = opts->reply_arg;
    self->rank_runs = !opts->no_rank_runs;
    if (!opts->no_job_run) {
        wbi_jobview_opts_t jo = {.lateness_ms = opts->job_lateness_ms};
        if (wbi_jobview_new(&self->jobview, &jo, sink, &self->names) != WANDB_OK)
            goto out_free;
    }
    self->heartbeat_timeout_ms =
        opts->heartbeat_timeout_ms > 0 ? opts->heartbeat_timeout_ms : 15000;
    self->summary_interval_ms = opts->summary_interval_ms > 0 ? opts->summary_interval_ms : 200;
    wbi_smap_init(&self->by_id, WBI_AGG_MAX_PEERS);
    wbi_agg_names_init(&self->names);
    if (opts->secret && opts->secret[0]) {
        self->secret = wbi_strdup(opts->secret);
        if (!self->secret)
            goto out_free;
    }
    if (opts->base_url) {
        self->base_url = wbi_strdup(opts->base_url);
        if (!self->base_url)
            goto out_free;
        size_t n = strlen(self->base_url);
        while (n > 0 && self->base_url[n - 1] == '/')
            self->base_url[--n] = '\0';
    }
    *out = self;
    return WANDB_OK;
out_free:
    wbi_agg_core_destroy(&self);
    return WANDB_ENOMEM;
}

void wbi_agg_core_destroy(wbi_agg_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_agg_core_t *self = *self_p;
    wbi_jobview_destroy(&self->jobview); // before the runs it observes
    for (size_t i = 0; i < self->npeers; i++) {
        wbi_agg_run_destroy(&self->peers[i]->run);
        wbi_free(self->peers[i]->id);
        wbi_free(self->peers[i]);
    }
    wbi_free(self->peers);
    wbi_smap_release(&self->by_id);
    wbi_agg_names_release(&self->names);
    wbi_free(self->secret);
    wbi_free(self->base_url);
    wbi_free(self);
    *self_p = NULL;
}

// A short name of the peer for log lines.
static void s_peer_name(const s_peer_t *p, char *buf, size_t len)
{
    if (p->run)
        snprintf(buf, len, "run '%s' (rank %d)", wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run));
    else
        snprintf(buf, len, "peer #%" PRIu32, p->index);
}

// Counts one malformed message or record and logs it (WARN once per peer).
static void s_bad(wbi_agg_core_t *self, s_peer_t *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_bad(wbi_agg_core_t *self, s_peer_t *p, const char *fmt, ...)
{
    self->stats.malformed++;
    wandb_log_level level = p->warned ? WANDB_LOG_DEBUG : WANDB_LOG_WARN;
    if (!wbi_log_enabled(level))
        return;
    char what[256];
    char name[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    s_peer_name(p, name, sizeof name);
    wbi_log(level, "aggregator: %s: %s%s", name, what,
            p->warned ? "" : " (further problems of this peer at debug level)");
    p->warned = true;
}

// Counts one message (or HELLO) from a peer without a table entry and logs
// it: WARN at most once per S_STRANGER_WARN_MS for all such peers together,
// DEBUG otherwise. Counted in `malformed` for a failed HELLO, else `ignored`.
static void s_stranger(wbi_agg_core_t *self, int64_t mono_ms, bool malformed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_stranger(wbi_agg_core_t *self, int64_t mono_ms, bool malformed, const char *fmt, ...)
{
    if (malformed)
        self->stats.malformed++;
    else
        self->extra.ignored++;
    self->strangers++;
    bool warn = !self->stranger_warned || mono_ms - self->stranger_warn_ms >= S_STRANGER_WARN_MS ||
                mono_ms < self->stranger_warn_ms;
    wandb_log_level level = warn ? WANDB_LOG_WARN : WANDB_LOG_DEBUG;
    if (wbi_log_enabled(level)) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (warn)
            wbi_log(level,
                    "aggregator: %s; %" PRIu64 " message(s) from peers without a valid HELLO "
                    "dropped (further ones at debug level for %d s)",
                    what, self->strangers, S_STRANGER_WARN_MS / 1000);
        else
            wbi_log(level, "aggregator: %s", what);
    }
    if (warn) {
        self->stranger_warned = true;
        self->stranger_warn_ms = mono_ms;
        self->strangers = 0;
    }
}

// Adds a peer for this routing id with its open run (a valid HELLO).
// NULL when the table is full or out of memory (the caller keeps the run).
static s_peer_t *s_peer_add(wbi_agg_core_t *self, const void *id, size_t len, const char *conn,
                            wbi_agg_run_t *run)
{
    if (self->npeers >= WBI_AGG_MAX_PEERS)
        return NULL;
    if (self->npeers == self->peers_cap) {
        size_t cap = self->peers_cap ? self->peers_cap * 2 : 16;
        s_peer_t **np = wbi_realloc(self->peers, cap * sizeof(*np));
        if (!np)
            return NULL;
        self->peers = np;
        self->peers_cap = cap;
    }
    s_peer_t *p = wbi_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = wbi_malloc(len ? len : 1);
    if (!p->id || wbi_smap_put(&self->by_id, id, len, (uint32_t)self->npeers) != WANDB_OK) {
        wbi_free(p->id);
        wbi_free(p);
        return NULL;
    }
    memcpy(p->id, id, len);
    p->id_len = len;
    snprintf(p->conn, sizeof p->conn, "%s", conn);
    p->index = (uint32_t)self->npeers;
    p->run = run;
    p->timeout_ms = self->heartbeat_timeout_ms;
    self->peers[self->npeers++] = p;
    return p;
}

// Sends one record to the peer in its own message.
static void s_reply(wbi_agg_core_t *self, s_peer_t *p, wbi_rec_type type, const char *payload,
                    size_t len)
{
    if (!self->reply)
        return;
    wbi_buf_t b;
    wbi_buf_init(&b, WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER + len + 1);
    uint8_t hdr[WBI_WIRE_HEADER_BYTES];
    wbi_wire_header_put(hdr, p->out_seq++);
    if (wbi_buf_append(&b, hdr, sizeof hdr) == WANDB_OK &&
        wbi_wire_put(&b, type, payload, len) == WANDB_OK)
        self->reply(self->reply_arg, p->id, p->id_len, b.data, b.len);
    wbi_buf_release(&b);
}

// Sends WELCOME once the entity is known.
static void s_try_welcome(wbi_agg_core_t *self, s_peer_t *p)
{
    if (p->welcome_sent || !p->run)
        return;
    // Without per-rank runs, the job run is where the rank's data shows.
    wbi_agg_run_t *shown =
        !self->rank_runs && p->member ? wbi_jobview_member_job_run(p->member) : p->run;
    const char *entity = wbi_agg_run_entity(shown);
    if (!entity)
        return;
    json_t *w = json_object();
    if (!w)
        return;
    json_object_set_new(w, "entity", json_string(entity));
    if (self->base_url) {
        char url[2048];
        snprintf(url, sizeof url, "%s/%s/%s/runs/%s", self->base_url, entity,
                 wbi_agg_run_project(shown), wbi_agg_run_id(shown));
        json_object_set_new(w, "url", json_string(url));
    }
    json_object_set_new(w, "starting_step", json_integer(wbi_agg_run_starting_step(p->run)));
    char *text = wbi_jsonx_dumps(w, JSON_COMPACT);
    json_decref(w);
    if (!text)
        return;
    s_reply(self, p, WBI_REC_WELCOME, text, strlen(text));
    wbi_free(text);
    p->welcome_sent = true;
}

// True when the secrets are equal, in time independent of where they differ.
static bool s_secret_ok(const char *want, const char *got)
{
    if (!got)
        return false;
    size_t n = strlen(want);
    if (strlen(got) != n)
        return false;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)got[i];
    return diff == 0;
}

// HELLO from an unknown routing id: checks the secret, opens the run and
// only then adds the peer. NULL when the HELLO failed (counted, logged).
static s_peer_t *s_hello(wbi_agg_core_t *self, const void *id, size_t id_len, const char *conn,
                         const wbi_wire_record_t *rec, int64_t mono_ms)
{
    json_error_t jerr;
    json_t *hello = wbi_jsonx_loadb((const char *)rec->payload, rec->len, 0, &jerr);
    if (!hello) {
        s_stranger(self, mono_ms, true, "HELLO is not valid JSON (%s at %d): peer ignored",
                   jerr.text, jerr.position);
        return NULL;
    }
    if (self->secret &&
        !s_secret_ok(self->secret, json_string_value(json_object_get(hello, "secret")))) {
        json_decref(hello);
        s_stranger(self, mono_ms, true, "HELLO with a wrong secret: peer ignored");
        return NULL;
    }
    if (self->npeers >= WBI_AGG_MAX_PEERS) {
        // Only welcomed runs take entries, so the table is really full.
        json_decref(hello);
        self->stats.malformed++;
        if (!self->full_warned)
            wbi_warn("aggregator: the peer table is full (%d runs); later runs are dropped",
                     WBI_AGG_MAX_PEERS);
        self->full_warned = true;
        return NULL;
    }
    // The rank's heartbeat period, when it says: allow three missed beats.
    int timeout_ms = self->heartbeat_timeout_ms;
    const json_t *hb = json_object_get(hello, "heartbeat_ms");
    if (json_is_integer(hb) && json_integer_value(hb) > 0 &&
        json_integer_value(hb) <= INT32_MAX / 3 && 3 * (int)json_integer_value(hb) > timeout_ms)
        timeout_ms = 3 * (int)json_integer_value(hb);
    const json_t *st = json_object_get(hello, "start_time");
    double start_time = json_is_number(st) ? json_number_value(st) : 0;
    const char *why = NULL;
    wbi_agg_run_t *run = NULL;
    wbi_jobview_member_t *member = NULL;
    bool quiet = !self->rank_runs && self->jobview && wbi_jobview_wants(hello);
    wandb_err rc =
        wbi_agg_run_open(&run, quiet ? &self->quiet : &self->sink, hello, &self->names, &why);
    if (rc == WANDB_OK && self->jobview) {
        member = wbi_jobview_join(self->jobview, run, hello, mono_ms);
        if (!member && quiet) { // no job run to carry it: the rank's own run does
            wbi_agg_run_destroy(&run);
            rc = wbi_agg_run_open(&run, &self->sink, hello, &self->names, &why);
        }
    }
    json_decref(hello);
    if (rc != WANDB_OK) {
        s_stranger(self, mono_ms, true, "cannot open the run: %s: peer ignored",
                   why ? why : wandb_strerror(rc));
        return NULL;
    }
    s_peer_t *p = s_peer_add(self, id, id_len, conn, run);
    if (!p) {
        self->stats.malformed++;
        wbi_warn("aggregator: run '%s' (rank %d) dropped: out of memory", wbi_agg_run_id(run),
                 wbi_agg_run_rank(run));
        wbi_agg_run_abandon(run, 0); // stop the backend's heartbeats for it
        wbi_agg_run_destroy(&run);
        return NULL;
    }
    p->state = S_ACTIVE;
    p->member = member;
    p->start_time = start_time;
    p->timeout_ms = timeout_ms;
    p->last_seen_ms = mono_ms;
    p->last_summary_ms = mono_ms;
    self->stats.runs++;
    wbi_info("aggregator: run '%s' (rank %d) started", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run));
    s_try_welcome(self, p);
    return p;
}

// FINISH: closes the run and acknowledges it.
static void s_finish(wbi_agg_core_t *self, s_peer_t *p, const wbi_wire_record_t *rec, double wall)
{
    int32_t code;
    uint64_t dropped;
    uint64_t rejected;
    if (wbi_wire_finish_parse(rec, &code, &dropped, &rejected) != WANDB_OK) {
        s_bad(self, p, "malformed FINISH record");
        return;
    }
    wbi_agg_run_finish(p->run, code, dropped, rejected, wall);
    if (p->member)
        wbi_jobview_end(p->member, false, code, wall, wall);
    p->state = S_FINISHED;
    self->stats.runs_finished++;
    if (dropped || rejected)
        wbi_warn("aggregator: run '%s' (rank %d) finished with %" PRIu64
                 " dropped values and %" PRIu64 " rejected steps",
                 wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run), dropped, rejected);
    wbi_info("aggregator: run '%s' (rank %d) finished, exit code %d", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run), (int)code);
    s_reply(self, p, WBI_REC_FINISHED, "", 0);
}

// Names a record type for log lines.
static const char *s_type_name(uint8_t type)
{
    static const char *names[] = {"?",          "HELLO",         "KEY",      "ROW",    "CONFIG",
                                  "SUMMARY",    "DEFINE_METRIC", "ALERT",    "FINISH", "PREEMPTING",
                                  "FILE_BEGIN", "FILE_CHUNK",    "FILE_END", "REDUCE", "SYSTEM"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

// Per-rank runs off: what only a rank's own run could carry is not sent (once).
static void s_quiet_note(wbi_agg_core_t *self, const s_peer_t *p, const char *what)
{
    if (self->rank_runs || !p->member || self->warned_quiet)
        return;
    self->warned_quiet = true;
    wbi_warn("aggregator: per-rank runs are off: %s of ranks (first: rank %d) are not sent; "
             "later ones are not reported",
             what, wbi_agg_run_rank(p->run));
}

// The sink's handle of a run, or NULL (a member's run when per-rank runs
// are off never reached the sink).
static void *s_handle_of(wbi_agg_core_t *self, wbi_agg_run_t *run)
{
    if (!run || !self->sink.find || !self->sink.stream)
        return NULL;
    return self->sink.find(self->sink.arg, wbi_agg_run_project(run), wbi_agg_run_id(run));
}

// Writes one wandb-events.jsonl line: the metrics (each key with suffix,
// "" for none), then "_wandb", "_timestamp" and "_runtime" as the official
// client writes them.
static wandb_err s_events_line(wbi_agg_core_t *self, void *handle, const json_t *metrics,
                               const char *suffix, double ts, double runtime)
{
    json_t *line = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)metrics, key, v)
    {
        if (!json_is_number(v))
            continue;
        char k[320];
        snprintf(k, sizeof k, "%s%s", key, suffix);
        json_object_set(line, k, v);
    }
    json_object_set_new(line, "_wandb", json_true());
    json_object_set_new(line, "_timestamp", json_real(ts));
    json_object_set_new(line, "_runtime", json_real(runtime > 0 ? runtime : 0));
    char *text = wbi_jsonx_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return WANDB_ENOMEM;
    self->sink.stream(self->sink.arg, handle, WBI_STREAM_EVENTS, text, strlen(text));
    wbi_free(text);
    return WANDB_OK;
}

// SYSTEM {node, ts, metrics}: one line of the rank's run's wandb-events.jsonl
// (when per-rank runs reach the sink) and one of its job run's, with every key
// suffixed "/l:<node>" so the job run holds one series per node
// (docs/job-view.md "System metrics and console").
static wandb_err s_system(wbi_agg_core_t *self, s_peer_t *p, const char *text, size_t len,
                          double wall)
{
    json_error_t jerr;
    json_t *o = wbi_jsonx_loadb(text, len, 0, &jerr);
    const char *node = json_string_value(json_object_get(o, "node"));
    json_t *metrics = json_object_get(o, "metrics");
    const json_t *tsj = json_object_get(o, "ts");
    if (!node || !*node || strlen(node) > 128 || !json_is_object(metrics)) {
        json_decref(o);
        return WANDB_EPROTO;
    }
    double ts = json_is_number(tsj) ? json_number_value(tsj) : wall;
    double start = p->start_time > 0 ? p->start_time : ts;
    wandb_err rc = WANDB_OK;
    void *own = s_handle_of(self, p->run);
    if (own)
        rc = s_events_line(self, own, metrics, "", ts, ts - start);
    void *job = p->member ? s_handle_of(self, wbi_jobview_member_job_run(p->member)) : NULL;
    if (job && rc == WANDB_OK) {
        char suffix[140];
        snprintf(suffix, sizeof suffix, "/l:%s", node);
        rc = s_events_line(self, job, metrics, suffix, ts, ts - start);
    }
    json_decref(o);
    return rc;
}

// Handles one record of an ACTIVE peer.
static void s_record(wbi_agg_core_t *self, s_peer_t *p, const wbi_wire_record_t *rec,
                     int64_t mono_ms, double wall)
{
    if (rec->type == WBI_REC_HELLO) {
        s_bad(self, p, "second HELLO ignored");
        return;
    }
    if (rec->type > WBI_REC_SYSTEM || rec->type == 0)
        return; // unknown types are skipped (forward compatibility)
    if (p->state != S_ACTIVE) {
        s_bad(self, p, "%s record after FINISH", s_type_name(rec->type));
        return;
    }
    const char *text = (const char *)rec->payload;
    size_t bad_off = 0;
    wandb_err rc = WANDB_OK;
    switch (rec->type) {
    case WBI_REC_KEY: {
        uint32_t id;
        const char *key;
        size_t key_len;
        rc = wbi_wire_key_parse(rec, &id, &key, &key_len);
        if (rc == WANDB_OK)
            rc = wbi_agg_run_key(p->run, id, key, key_len);
        break;
    }
    case WBI_REC_ROW: {
        wbi_wire_row_t row;
        rc = wbi_wire_row_parse(rec, &row, &bad_off);
        if (rc != WANDB_OK) {
            s_bad(self, p, "malformed ROW at offset %zu",
                  rec->offset + WBI_WIRE_RECORD_HEADER + bad_off);
            return;
        }
        int64_t before = wbi_agg_run_last_step(p->run);
        rc = wbi_agg_run_row(p->run, &row, mono_ms);
        if (rc != WANDB_OK) {
            s_bad(self, p, "ROW at step %lld rejected or partly dropped (last step %lld)",
                  (long long)row.step, (long long)before);
            return;
        }
        break;
    }
    case WBI_REC_CONFIG:
        rc = wbi_agg_run_config(p->run, text, rec->len);
        if (rc == WANDB_OK && p->member)
            wbi_jobview_config_changed(p->member);
        break;
    case WBI_REC_SUMMARY:
        rc = wbi_agg_run_summary(p->run, text, rec->len);
        break;
    case WBI_REC_DEFINE_METRIC:
        rc = wbi_agg_run_define_metric(p->run, text, rec->len);
        if (rc == WANDB_OK && p->member)
            wbi_jobview_define_metric(p->member, text, rec->len);
        break;
    case WBI_REC_REDUCE:
        rc = p->member ? wbi_jobview_reduce(p->member, text, rec->len) : WANDB_OK;
        break;
    case WBI_REC_SYSTEM:
        rc = s_system(self, p, text, rec->len, wall);
        break;
    case WBI_REC_ALERT:
        s_quiet_note(self, p, "alerts");
        rc = wbi_agg_run_alert(p->run, text, rec->len);
        break;
    case WBI_REC_FILE_BEGIN:
        s_quiet_note(self, p, "saved files");
        rc = wbi_agg_run_file_begin(p->run, text, rec->len);
        break;
    case WBI_REC_FILE_CHUNK:
        rc = wbi_agg_run_file_chunk(p->run, rec->payload, rec->len);
        break;
    case WBI_REC_FILE_END:
        rc = wbi_agg_run_file_end(p->run, rec->payload, rec->len);
        break;
    case WBI_REC_FINISH:
        s_finish(self, p, rec, wall);
        return;
    case WBI_REC_PREEMPTING:
        p->preempting = true;
        wbi_agg_run_preempting(p->run);
        if (p->member)
            wbi_jobview_preempting(p->member);
        return;
    default:
        return;
    }
    if (rc != WANDB_OK)
        s_bad(self, p, "%s record rejected: %s", s_type_name(rec->type), wandb_strerror(rc));
}

// Handles the records left in r (the rest of one message) for peer p.
static void s_records(wbi_agg_core_t *self, s_peer_t *p, wbi_wire_reader_t *r, int64_t mono_ms,
                      double wall)
{
    for (;;) {
        wbi_wire_record_t rec;
        wandb_err rc = wbi_wire_next(r, &rec);
        if (rc == WANDB_ECLOSED)
            break;
        if (rc != WANDB_OK) {
            s_bad(self, p, "malformed record at offset %zu: rest of the message skipped", r->pos);
            break;
        }
        self->stats.records++;
        s_record(self, p, &rec, mono_ms, wall);
    }
}

// True when the HELLO in rec carries the secret and names p's run and rank.
static bool s_rehello_ok(wbi_agg_core_t *self, s_peer_t *p, const wbi_wire_record_t *rec)
{
    json_error_t jerr;
    json_t *hello = wbi_jsonx_loadb((const char *)rec->payload, rec->len, 0, &jerr);
    if (!hello)
        return false;
    const char *run_id = json_string_value(json_object_get(hello, "run_id"));
    const json_t *rank = json_object_get(hello, "rank"); // absent: 0, as for the first HELLO
    json_int_t r = json_is_integer(rank) ? json_integer_value(rank) : rank ? -1 : 0;
    bool ok = (!self->secret ||
               s_secret_ok(self->secret, json_string_value(json_object_get(hello, "secret")))) &&
              run_id && strcmp(run_id, wbi_agg_run_id(p->run)) == 0 &&
              r == wbi_agg_run_rank(p->run);
    json_decref(hello);
    return ok;
}

// A message of p's routing id over another connection: accepted only when
// it starts with a HELLO that proves the run again, which moves p to conn.
// On success r is positioned after that HELLO.
static bool s_reconnect(wbi_agg_core_t *self, s_peer_t *p, const char *conn, const void *msg,
                        size_t len, wbi_wire_reader_t *r, int64_t mono_ms)
{
    wbi_wire_record_t rec;
    if (wbi_wire_reader_init(r, msg, len) != WANDB_OK || wbi_wire_next(r, &rec) != WANDB_OK ||
        rec.type != WBI_REC_HELLO || !s_rehello_ok(self, p, &rec)) {
        self->extra.refused_reconnects++;
        s_stranger(self, mono_ms, false,
                   "message for run '%s' (rank %d) over a new connection without its HELLO "
                   "refused",
                   wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run));
        return false;
    }
    self->stats.records++;
    snprintf(p->conn, sizeof p->conn, "%s", conn);
    self->extra.reconnects++;
    wbi_info("aggregator: run '%s' (rank %d) reconnected", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run));
    return true;
}

void wbi_agg_core_handle(wbi_agg_core_t *self, const void *peer, size_t peer_len, const void *msg,
                         size_t len, int64_t mono_ms, double wall)
{
    wbi_agg_core_handle_conn(self, peer, peer_len, NULL, msg, len, mono_ms, wall);
}

void wbi_agg_core_handle_conn(wbi_agg_core_t *self, const void *peer, size_t peer_len,
                              const char *conn, const void *msg, size_t len, int64_t mono_ms,
                              double wall)
{
    if (!conn)
        conn = "";
    self->stats.messages++;
    if (peer_len > WBI_AGG_PEER_ID_MAX) {
        self->stats.malformed++;
        return;
    }
    wbi_wire_reader_t r;
    uint32_t idx = wbi_smap_get(&self->by_id, peer, peer_len);
    s_peer_t *p = idx != WBI_MAP_NONE ? self->peers[idx] : NULL;
    if (!p) {
        // Unknown id: only a message that starts with a valid HELLO makes a
        // peer; anything else is dropped without an entry.
        wbi_wire_record_t rec;
        if (wbi_wire_reader_init(&r, msg, len) != WANDB_OK) {
            s_stranger(self, mono_ms, false,
                       "message with a broken header (%zu bytes) from a peer without HELLO", len);
            return;
        }
        if (wbi_wire_next(&r, &rec) != WANDB_OK || rec.type != WBI_REC_HELLO) {
            s_stranger(self, mono_ms, false, "message from a peer that did not say HELLO");
            return;
        }
        self->stats.records++;
        p = s_hello(self, peer, peer_len, conn, &rec, mono_ms);
        if (!p)
            return;
        p->seq_known = true;
        p->next_seq = r.seq + 1;
        s_records(self, p, &r, mono_ms, wall);
        return;
    }
    bool rebound = false;
    if (strncmp(p->conn, conn, sizeof p->conn - 1) != 0) {
        if (!s_reconnect(self, p, conn, msg, len, &r, mono_ms))
            return;
        rebound = true; // r is past the HELLO
    }
    p->last_seen_ms = mono_ms;
    if (p->state == S_CRASHED) {
        // Late but alive: the run goes on (its rows so far were emitted).
        p->state = S_ACTIVE;
        if (p->member)
            wbi_jobview_revive(p->member);
        uint64_t *count = p->preempting ? &self->stats.runs_preempted : &self->stats.runs_crashed;
        if (*count)
            (*count)--;
        wbi_warn("aggregator: run '%s' (rank %d) is sending again after being marked crashed",
                 wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run));
    }
    if (!rebound && wbi_wire_reader_init(&r, msg, len) != WANDB_OK) {
        s_bad(self, p, "malformed message header (%zu bytes)", len);
        return;
    }
    if (p->seq_known && r.seq != p->next_seq) {
        uint32_t gap = r.seq - p->next_seq;
        if (gap < 0x80000000u) {
            self->extra.lost_messages += gap;
            wandb_log_level level = p->warned_gap ? WANDB_LOG_DEBUG : WANDB_LOG_WARN;
            p->warned_gap = true;
            wbi_log(level,
                    "aggregator: lost %" PRIu32 " message(s) from peer #%" PRIu32 " (seq %" PRIu32
                    ", expected %" PRIu32 ")",
                    gap, p->index, r.seq, p->next_seq);
        }
    }
    p->seq_known = true;
    p->next_seq = r.seq + 1;
    s_records(self, p, &r, mono_ms, wall);
}

// The Unix time of monotonic instant then, given both clocks now.
static double s_wall_at(int64_t mono_ms, double wall, int64_t then_ms)
{
    return wall - (double)(mono_ms - then_ms) / 1000.0;
}

void wbi_agg_core_tick(wbi_agg_core_t *self, int64_t mono_ms, double wall)
{
    // The loop itself stalled (a slow step, a backlog, a stopped process):
    // nobody could be heard meanwhile, so the gap is not the peers' silence.
    int64_t stall = self->ticked ? mono_ms - self->prev_tick_ms : 0;
    if (stall > self->heartbeat_timeout_ms / 2) {
        wbi_debug("aggregator: no timer pass for %lld ms: heartbeat clocks moved forward",
                  (long long)stall);
        for (size_t i = 0; i < self->npeers; i++) {
            s_peer_t *p = self->peers[i];
            if (p->state != S_ACTIVE)
                continue;
            p->last_seen_ms += stall;
            if (p->last_seen_ms > mono_ms)
                p->last_seen_ms = mono_ms; // heard during the stall: silent since then at most
        }
    }
    self->prev_tick_ms = mono_ms;
    self->ticked = true;
    bool summaries_due = mono_ms - self->last_tick_ms >= self->summary_interval_ms;
    if (summaries_due)
        self->last_tick_ms = mono_ms;
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = self->peers[i];
        if (p->state != S_ACTIVE)
            continue;
        if (mono_ms - p->last_seen_ms > p->timeout_ms) {
            wbi_agg_run_abandon(p->run, wall);
            p->state = S_CRASHED;
            p->preempting ? self->stats.runs_preempted++ : self->stats.runs_crashed++;
            if (p->member)
                wbi_jobview_end(p->member, true, -1, s_wall_at(mono_ms, wall, p->last_seen_ms),
                                wall);
            wbi_warn("aggregator: run '%s' (rank %d) silent for %lld ms after step %lld%s: "
                     "marked crashed",
                     wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run),
                     (long long)(mono_ms - p->last_seen_ms),
                     (long long)wbi_agg_run_last_step(p->run),
                     p->preempting ? " (it announced preemption)" : "");
            continue;
        }
        if (summaries_due && mono_ms - p->last_summary_ms >= self->summary_interval_ms) {
            wbi_agg_run_flush(p->run);
            p->last_summary_ms = mono_ms;
        }
        if (summaries_due)
            s_try_welcome(self, p);
    }
    if (self->jobview && summaries_due)
        wbi_jobview_tick(self->jobview, mono_ms, wall);
}

void wbi_agg_core_rank_exit(wbi_agg_core_t *self, int rank, int exit_code, bool first)
{
    if (self->jobview)
        wbi_jobview_rank_exit(self->jobview, rank, exit_code, first);
}

int wbi_agg_core_preempt(wbi_agg_core_t *self)
{
    int marked = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = self->peers[i];
        if (p->state != S_ACTIVE || p->preempting)
            continue;
        p->preempting = true;
        wbi_agg_run_preempting(p->run);
        if (p->member)
            wbi_jobview_preempting(p->member);
        marked++;
    }
    return marked;
}

bool wbi_agg_core_settled(const wbi_agg_core_t *self, int expected)
{
    if (expected > 0)
        return self->stats.runs_finished + self->stats.runs_crashed + self->stats.runs_preempted >=
               (uint64_t)expected;
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i]->state == S_ACTIVE)
            return false;
    return true;
}

int wbi_agg_core_shutdown(wbi_agg_core_t *self, double wall)
{
    int active = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = self->peers[i];
        if (p->state == S_FINISHED)
            continue;
        // Crashed runs kept their open row (the rank might have come back):
        // nothing accepted is lost, so it goes out now.
        wbi_agg_run_close(p->run, wall);
        if (p->state != S_ACTIVE)
            continue;
        wbi_agg_run_abandon(p->run, wall);
        p->state = S_CRASHED;
        p->preempting ? self->stats.runs_preempted++ : self->stats.runs_crashed++;
        active++;
        if (p->member) // its last message: when it was last heard of
            wbi_jobview_end(
                p->member, true, -1,
                self->ticked ? s_wall_at(self->prev_tick_ms, wall, p->last_seen_ms) : wall, wall);
        wbi_warn("aggregator: run '%s' (rank %d) never finished (last step %lld): left to be "
                 "marked %s",
                 wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run),
                 (long long)wbi_agg_run_last_step(p->run), p->preempting ? "preempted" : "crashed");
    }
    if (self->jobview)
        wbi_jobview_shutdown(self->jobview, wall);
    return active;
}

void wbi_agg_core_get_stats(const wbi_agg_core_t *self, wbi_agg_stats_t *out,
                            wbi_agg_core_extra_t *extra)
{
    wbi_agg_stats_t s = self->stats;
    wbi_agg_core_extra_t x = self->extra;
    for (size_t i = 0; i < self->npeers; i++) {
        if (!self->peers[i]->run)
            continue;
        wbi_agg_run_counters_t c;
        wbi_agg_run_get_counters(self->peers[i]->run, &c);
        s.rows += c.rows;
        x.bad_values += c.bad_values;
        x.dropped_lines += c.dropped_lines;
    }
    if (out)
        *out = s;
    if (extra)
        *extra = x;
}

// Appends s[0..len) to out with every byte sequence that is not UTF-8
// replaced by U+FFFD and control bytes other than tab dropped.
static wandb_err s_put_text(wbi_buf_t *out, const char *s, size_t len)
{
    wandb_err rc = WANDB_OK;
    for (size_t i = 0; rc == WANDB_OK && i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 1) {
            if (c >= 0x20 || c == '\t')
                rc = wbi_buf_putc(out, (char)c);
            i++;
        } else if (n > 1 && i + n <= len && wbi_utf8_valid(s + i, n)) {
            rc = wbi_buf_append(out, s + i, n);
            i += n;
        } else {
            rc = wbi_buf_puts(out, "\xef\xbf\xbd");
            i++;
        }
    }
    return rc;
}

bool wbi_agg_core_console(wbi_agg_core_t *self, int rank, bool err, const char *line, size_t len,
                          double wall)
{
    s_peer_t *p = NULL;
    for (size_t i = self->npeers; i-- > 0 && !p;)
        if (self->peers[i]->run && wbi_agg_run_rank(self->peers[i]->run) == rank)
            p = self->peers[i];
    if (!p)
        return false;
    void *handle = s_handle_of(self, p->run);
    if (!handle)
        return true; // its run does not reach the sink (per-rank runs off)
    time_t secs = (time_t)wall;
    long usec = (long)((wall - (double)secs) * 1e6);
    if (usec < 0 || usec > 999999)
        usec = 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[48];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%06ld %s", usec, err ? "ERROR " : "");
    wbi_buf_t b;
    wbi_buf_init(&b, WBI_LINE_MAX);
    wandb_err rc = wbi_buf_puts(&b, stamp);
    if (rc == WANDB_OK)
        rc = s_put_text(&b, line, len);
    if (rc == WANDB_OK)
        self->sink.stream(self->sink.arg, handle, WBI_STREAM_OUTPUT, b.data, b.len);
    wbi_buf_release(&b);
    return true;
}
