//  core_peer.c - the aggregator's peer table: HELLO, secrets, connections, replies, messages in
//  SPDX-License-Identifier: MIT
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
#include "aggregator/core_int.h"
#include "aggregator/jobview.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_STRANGER_WARN_MS 60000 // at most one WARN about unknown peers this often

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
static wbi_agg_peer_t *s_peer_add(wbi_agg_core_t *self, const void *id, size_t len,
                                  const char *conn, wbi_agg_run_t *run)
{
    if (self->npeers >= WBI_AGG_MAX_PEERS)
        return NULL;
    if (self->npeers == self->peers_cap) {
        size_t cap = self->peers_cap ? self->peers_cap * 2 : 16;
        wbi_agg_peer_t **np = wbi_realloc(self->peers, cap * sizeof(*np));
        if (!np)
            return NULL;
        self->peers = np;
        self->peers_cap = cap;
    }
    wbi_agg_peer_t *p = wbi_calloc(1, sizeof(*p));
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
void wbi_agg_core_reply(wbi_agg_core_t *self, wbi_agg_peer_t *p, wbi_rec_type type,
                        const char *payload, size_t len)
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

// A run whose resume the backend refused: WELCOME carries the reason
// ({"error", "refused"}), the rank's wandb_init fails with it, and the run
// is closed without reaching the sink's finish (nothing was journaled or
// sent for it). Counted as finished, so the aggregator does not wait for it.
static void s_refuse(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_run_resume_t *rs)
{
    static const char *const why[] = {[WBI_RESUMED_EXISTS] = "exists",
                                      [WBI_RESUMED_MISSING] = "missing",
                                      [WBI_RESUMED_FAILED] = "failed"};
    const char *code =
        rs->state <= WBI_RESUMED_FAILED && why[rs->state] ? why[rs->state] : "failed";
    json_t *w = json_pack("{s:s, s:s}", "error", rs->msg, "refused", code);
    char *text = w ? wbi_jsonx_dumps(w, JSON_COMPACT) : NULL;
    json_decref(w);
    if (text)
        wbi_agg_core_reply(self, p, WBI_REC_WELCOME, text, strlen(text));
    wbi_free(text);
    wbi_warn("aggregator: run '%s' (rank %d) not started: %s", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run), rs->msg);
    if (p->member) { // the job run does not wait for a rank that never started
        double wall = (double)time(NULL);
        wbi_jobview_end(p->member, false, 1, wall, wall);
    }
    p->welcome_sent = true;
    p->refused = true;
    p->state = WBI_AGG_PEER_FINISHED;
    self->stats.runs_finished++;
}

// Sends WELCOME once the entity is known and, for a run with a resume mode,
// once the backend decided whether it continues an existing run.
void wbi_agg_core_try_welcome(wbi_agg_core_t *self, wbi_agg_peer_t *p)
{
    if (p->welcome_sent || !p->run)
        return;
    if (!p->resume_done) {
        wbi_run_resume_t rs;
        if (!wbi_agg_run_resume_poll(p->run, &rs))
            return;
        p->resume_done = true;
        if (rs.state == WBI_RESUMED_YES || rs.state == WBI_RESUMED_NEW) {
            wbi_agg_run_apply_resume(p->run, &rs);
        } else {
            s_refuse(self, p, &rs);
            wbi_run_resume_release(&rs);
            return;
        }
        wbi_run_resume_release(&rs);
    }
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
    json_object_set_new(w, "resumed", json_boolean(wbi_agg_run_resumed(p->run)));
    if (wbi_agg_run_resumed_runtime(p->run) > 0)
        json_object_set_new(w, "runtime", json_real(wbi_agg_run_resumed_runtime(p->run)));
    char *text = wbi_jsonx_dumps(w, JSON_COMPACT);
    json_decref(w);
    if (!text)
        return;
    wbi_agg_core_reply(self, p, WBI_REC_WELCOME, text, strlen(text));
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
static wbi_agg_peer_t *s_hello(wbi_agg_core_t *self, const void *id, size_t id_len,
                               const char *conn, const wbi_wire_record_t *rec, int64_t mono_ms)
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
    wbi_agg_peer_t *p = s_peer_add(self, id, id_len, conn, run);
    if (!p) {
        self->stats.malformed++;
        wbi_warn("aggregator: run '%s' (rank %d) dropped: out of memory", wbi_agg_run_id(run),
                 wbi_agg_run_rank(run));
        wbi_agg_run_abandon(run, 0); // stop the backend's heartbeats for it
        wbi_agg_run_destroy(&run);
        return NULL;
    }
    p->state = WBI_AGG_PEER_ACTIVE;
    p->member = member;
    p->start_time = start_time;
    p->timeout_ms = timeout_ms;
    p->last_seen_ms = mono_ms;
    p->last_summary_ms = mono_ms;
    self->stats.runs++;
    wbi_info("aggregator: run '%s' (rank %d) started", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run));
    wbi_agg_core_try_welcome(self, p);
    return p;
}

// True when the HELLO in rec carries the secret and names p's run and rank.
static bool s_rehello_ok(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_wire_record_t *rec)
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
static bool s_reconnect(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *conn, const void *msg,
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

// One message without a connection id (no ZAP).
void wbi_agg_core_handle(wbi_agg_core_t *self, const void *peer, size_t peer_len, const void *msg,
                         size_t len, int64_t mono_ms, double wall)
{
    wbi_agg_core_handle_conn(self, peer, peer_len, NULL, msg, len, mono_ms, wall);
}

// One message: an unknown id must start with HELLO, a known one on another connection
// must prove its run again; then the sequence is checked and the records handled.
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
    wbi_agg_peer_t *p = idx != WBI_MAP_NONE ? self->peers[idx] : NULL;
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
        wbi_agg_core_records(self, p, &r, mono_ms, wall);
        return;
    }
    bool rebound = false;
    if (strncmp(p->conn, conn, sizeof p->conn - 1) != 0) {
        if (!s_reconnect(self, p, conn, msg, len, &r, mono_ms))
            return;
        rebound = true; // r is past the HELLO
    }
    p->last_seen_ms = mono_ms;
    if (p->state == WBI_AGG_PEER_CRASHED) {
        // Late but alive: the run goes on (its rows so far were emitted).
        p->state = WBI_AGG_PEER_ACTIVE;
        if (p->member)
            wbi_jobview_revive(p->member);
        uint64_t *count = p->preempting ? &self->stats.runs_preempted : &self->stats.runs_crashed;
        if (*count)
            (*count)--;
        wbi_warn("aggregator: run '%s' (rank %d) is sending again after being marked crashed",
                 wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run));
    }
    if (!rebound && wbi_wire_reader_init(&r, msg, len) != WANDB_OK) {
        wbi_agg_core_bad(self, p, "malformed message header (%zu bytes)", len);
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
    wbi_agg_core_records(self, p, &r, mono_ms, wall);
}
