//  core_record.c - the records of a known peer: its run, its job run, SYSTEM and console lines
//  SPDX-License-Identifier: MIT
//
//  Error policy: a message whose framing is broken (header, a record length
//  past the end) ends there: the rest is skipped and counted once. A record
//  whose framing is fine but whose payload is invalid (bad JSON, bad ROW,
//  lower step, record before HELLO) is counted and skipped alone, because
//  its length already says where the next record starts. The first problem
//  of a peer is logged at WARN, the rest at DEBUG.
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

// A short name of the peer for log lines.
static void s_peer_name(const wbi_agg_peer_t *p, char *buf, size_t len)
{
    if (p->run)
        snprintf(buf, len, "run '%s' (rank %d)", wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run));
    else
        snprintf(buf, len, "peer #%" PRIu32, p->index);
}

// Counts one malformed message or record and logs it (WARN once per peer).
void wbi_agg_core_bad(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *fmt, ...)
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

// FINISH: closes the run and acknowledges it.
static void s_finish(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_wire_record_t *rec,
                     double wall)
{
    int32_t code;
    uint64_t dropped;
    uint64_t rejected;
    if (wbi_wire_finish_parse(rec, &code, &dropped, &rejected) != WANDB_OK) {
        wbi_agg_core_bad(self, p, "malformed FINISH record");
        return;
    }
    wbi_agg_run_finish(p->run, code, dropped, rejected, wall);
    if (p->member)
        wbi_jobview_end(p->member, false, code, wall, wall);
    p->state = WBI_AGG_PEER_FINISHED;
    self->stats.runs_finished++;
    if (dropped || rejected)
        wbi_warn("aggregator: run '%s' (rank %d) finished with %" PRIu64
                 " dropped values and %" PRIu64 " rejected steps",
                 wbi_agg_run_id(p->run), wbi_agg_run_rank(p->run), dropped, rejected);
    wbi_info("aggregator: run '%s' (rank %d) finished, exit code %d", wbi_agg_run_id(p->run),
             wbi_agg_run_rank(p->run), (int)code);
    wbi_agg_core_reply(self, p, WBI_REC_FINISHED, "", 0);
}

// Names a record type for log lines.
static const char *s_type_name(uint8_t type)
{
    static const char *names[] = {"?",        "HELLO",      "KEY",           "ROW",
                                  "CONFIG",   "SUMMARY",    "DEFINE_METRIC", "ALERT",
                                  "FINISH",   "PREEMPTING", "FILE_BEGIN",    "FILE_CHUNK",
                                  "FILE_END", "REDUCE",     "SYSTEM",        "RUN_UPDATE"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

// Per-rank runs off: what only a rank's own run could carry is not sent (once).
static void s_quiet_note(wbi_agg_core_t *self, const wbi_agg_peer_t *p, const char *what)
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
static wandb_err s_system(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *text, size_t len,
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
static void s_record(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_wire_record_t *rec,
                     int64_t mono_ms, double wall)
{
    if (rec->type == WBI_REC_HELLO) {
        wbi_agg_core_bad(self, p, "second HELLO ignored");
        return;
    }
    bool art = rec->type >= WBI_REC_ART_BEGIN && rec->type <= WBI_REC_ART_READ;
    if ((rec->type > WBI_REC_RUN_UPDATE && !art) || rec->type == 0)
        return; // unknown types are skipped (forward compatibility)
    if (p->state != WBI_AGG_PEER_ACTIVE) {
        wbi_agg_core_bad(self, p, "%s record after FINISH", s_type_name(rec->type));
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
            wbi_agg_core_bad(self, p, "malformed ROW at offset %zu",
                             rec->offset + WBI_WIRE_RECORD_HEADER + bad_off);
            return;
        }
        int64_t before = wbi_agg_run_last_step(p->run);
        rc = wbi_agg_run_row(p->run, &row, mono_ms);
        if (rc != WANDB_OK) {
            wbi_agg_core_bad(self, p,
                             "ROW at step %lld rejected or partly dropped (last step %lld)",
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
    case WBI_REC_RUN_UPDATE:
        rc = wbi_agg_run_update(p->run, text, rec->len);
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
    case WBI_REC_ART_BEGIN:
    case WBI_REC_ART_FILE:
    case WBI_REC_ART_CHUNK:
    case WBI_REC_ART_FILE_END:
    case WBI_REC_ART_COMMIT:
    case WBI_REC_ART_ABORT:
    case WBI_REC_ART_READ:
        wbi_agg_core_artifact(self, p, rec);
        return;
    case WBI_REC_FINISH:
        wbi_agg_core_artifact_drop(self, p, "the run finished first");
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
        wbi_agg_core_bad(self, p, "%s record rejected: %s", s_type_name(rec->type),
                         wandb_strerror(rc));
}

// Handles the records left in r (the rest of one message) for peer p.
void wbi_agg_core_records(wbi_agg_core_t *self, wbi_agg_peer_t *p, wbi_wire_reader_t *r,
                          int64_t mono_ms, double wall)
{
    for (;;) {
        wbi_wire_record_t rec;
        wandb_err rc = wbi_wire_next(r, &rec);
        if (rc == WANDB_ECLOSED)
            break;
        if (rc != WANDB_OK) {
            wbi_agg_core_bad(self, p, "malformed record at offset %zu: rest of the message skipped",
                             r->pos);
            break;
        }
        self->stats.records++;
        s_record(self, p, &rec, mono_ms, wall);
    }
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

// One console line of a rank, to output.log of that rank's newest run.
bool wbi_agg_core_console(wbi_agg_core_t *self, int rank, bool err, const char *line, size_t len,
                          double wall)
{
    wbi_agg_peer_t *p = NULL;
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
