//  outlet.c - the aggregator's sink: journal every output, then hand it to the backend
//  SPDX-License-Identifier: MIT
//
//  Each sink call appends one record (journal/records.h) before the backend
//  sees the data, so whatever the backend does not acknowledge stays on disk
//  for `wandb-mpi sync`. The backend's acknowledgements come back on its own
//  thread (s_on_ack) and are journaled as ACK records.
//  One file (about 710 lines): each sink call is a journal append and a
//  backend call side by side, and that pairing is the point of the file.
//  A run opened with a resume mode is journaled only once the backend
//  decided (s_decide): a refused run never is (docs/aggregator.md "Resume").
#include "outlet/outlet.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "journal/journal.h"
#include "journal/records.h"
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_FLUSH_MS 1000 // default journal flush interval

// One run as the outlet knows it.
typedef struct s_orun {
    struct s_orun *next;                      // next run of the outlet
    _Atomic uint32_t no;                      // the run's number in the journal (1, 2, ...);
                                              // 0 until a resume decision lets it in
    json_t *pending_rec;                      // its RUN record, while resume is undecided
    bool refused;                             // resume refused: nothing of it is journaled
    char *run_id;                             // for messages
    char *project;                            // with run_id: what find() matches
    wbi_backend_run_t *bk;                    // the backend's run; NULL offline
    uint64_t lines;                           // history lines handed over (loop thread)
    atomic_uint_fast64_t acked;               // lines the backend acknowledged (backend thread)
    atomic_bool completed;                    // the final state was acknowledged (backend thread)
    bool finished;                            // finish handed over
    uint64_t slines[WBI_STREAMS];             // stream lines handed over (loop thread)
    atomic_uint_fast64_t sacked[WBI_STREAMS]; // of those, acknowledged (backend thread)
    bool finish_due;                          // the backend's finish waits for the grace
    int64_t finish_at_ms;                     // when it goes
    int exit_code;                            // its exit code
} s_orun_t;

struct wbi_outlet {
    wbi_journal_t *journal; // the journal; NULL when none was asked for
    wbi_backend_t *backend; // NULL offline
    s_orun_t *runs;         // every run, newest first
    uint32_t nruns;         // runs opened (the last number given)
    int flush_ms;           // journal flush interval
    int grace_ms;           // finish grace (console capture)
    int64_t last_flush_ms;  // when the journal was last flushed
    uint64_t journal_drops; // appends the journal refused
    uint64_t bad_rows;      // rows that could not be encoded (over the line cap)
    wbi_buf_t line;         // reused history line (loop thread)
    bool warned_journal;    // the first refusal was logged
    uint64_t late_lines;    // stream lines after a run's finish reached the backend (dropped)
    bool warned_late;       // the first of those was logged
    char dir[PATH_MAX];     // the journal directory ("" without one)
    char art_dir[PATH_MAX]; // the artifact store, <journal parent>/artifacts ("" without one)
};

// Appends one record; a refusal is counted and logged once (the data still
// goes to the backend, but is no longer safe from its failures). A run
// numbered 0 is not in the journal (its resume is undecided, or refused):
// only SESSION goes under 0.
static void s_append2(wbi_outlet_t *self, uint8_t type, uint32_t run, const void *a, size_t alen,
                      const void *b, size_t blen)
{
    if (!self->journal || (run == 0 && type != WBI_JR_SESSION))
        return;
    wandb_err rc = wbi_journal_append2(self->journal, type, run, a, alen, b, blen);
    if (rc == WANDB_OK)
        return;
    self->journal_drops++;
    if (!self->warned_journal) {
        self->warned_journal = true;
        wbi_err("journal '%s': record refused: %s (%s); later refusals are counted", self->dir,
                wandb_strerror(rc), wbi_journal_errmsg(self->journal));
    }
}

// Appends a record with one payload part.
static void s_append(wbi_outlet_t *self, uint8_t type, uint32_t run, const void *p, size_t len)
{
    s_append2(self, type, run, p, len, NULL, 0);
}

// Appends a JSON object record made by json_pack (NULL: out of memory, counted).
static void s_append_json(wbi_outlet_t *self, uint8_t type, uint32_t run, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text) {
        self->journal_drops += self->journal != NULL;
        return;
    }
    s_append(self, type, run, text, strlen(text));
    free(text);
}

// --- the backend's acknowledgements (backend thread) ------------------------

static void s_on_ack(void *arg, void *tag, const wbi_backend_ack_t *ack)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = tag;
    atomic_store(&run->acked, ack->lines);
    for (int f = 0; f < WBI_STREAMS; f++)
        atomic_store(&run->sacked[f], ack->streams[f].lines);
    if (ack->completed)
        atomic_store(&run->completed, true);
    char buf[512];
    int n = snprintf(buf, sizeof buf, "{\"first_offset\":%lld,\"lines\":%llu,\"completed\":%s",
                     (long long)ack->first_offset, (unsigned long long)ack->lines,
                     ack->completed ? "true" : "false");
    // The stream files, once any of their lines was acknowledged.
    bool any = false;
    for (int f = 0; f < WBI_STREAMS; f++) {
        if (!ack->streams[f].lines)
            continue;
        n += snprintf(buf + n, sizeof buf - (size_t)n,
                      "%s\"%s\":{\"first_offset\":%lld,\"lines\":%llu}", any ? "," : ",\"files\":{",
                      wbi_backend_stream_name(f), (long long)ack->streams[f].first_offset,
                      (unsigned long long)ack->streams[f].lines);
        any = true;
    }
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s}", any ? "}" : "");
    uint32_t no = atomic_load(&run->no); // 0: not journaled yet; a later ACK repeats the counts
    if (self->journal && no)
        wbi_journal_append(self->journal, WBI_JR_ACK, no, buf, (size_t)n);
}

// --- the sink ----------------------------------------------------------------

static void *s_open(void *arg, const wbi_run_meta_t *meta)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = wbi_calloc(1, sizeof(*run));
    if (!run)
        return NULL;
    run->run_id = wbi_strdup(meta->run_id);
    run->project = wbi_strdup(meta->project);
    if (!run->run_id || !run->project) {
        wbi_free(run->run_id);
        wbi_free(run->project);
        wbi_free(run);
        return NULL;
    }
    atomic_init(&run->no, 0);
    atomic_init(&run->acked, 0);
    for (int f = 0; f < WBI_STREAMS; f++)
        atomic_init(&run->sacked[f], 0);
    atomic_init(&run->completed, false);
    json_error_t jerr;
    json_t *config = meta->config_json ? json_loads(meta->config_json, 0, &jerr) : NULL;
    json_t *rec = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o?}", "run_id", meta->run_id,
        "project", meta->project, "entity", meta->entity, "group", meta->group, "job_type",
        meta->job_type, "display_name", meta->display_name, "notes", meta->notes, "host",
        meta->host, "program", meta->program, "tags", meta->tags, "config", config);
    if (meta->resume != WBI_RESUME_NONE && self->backend) {
        run->pending_rec = rec; // journaled once the backend decided (s_decide)
    } else {
        atomic_store(&run->no, ++self->nruns);
        s_append_json(self, WBI_JR_RUN, run->no, rec);
    }
    if (self->backend) {
        wbi_run_meta_t m = *meta;
        m.tag = run;
        run->bk = wbi_backend_run_open(self->backend, &m);
        if (!run->bk) {
            json_decref(run->pending_rec);
            wbi_free(run->run_id);
            wbi_free(run->project);
            wbi_free(run);
            return NULL;
        }
    }
    run->next = self->runs;
    self->runs = run;
    return run;
}

static void s_history(void *arg, void *r, const wbi_agg_row_t *row)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    wandb_err rc = wbi_agg_row_encode(row, &self->line);
    if (rc != WANDB_OK) {
        // Too large for any backend: refused here, loudly, before the journal.
        self->bad_rows++;
        wbi_warn("aggregator: run '%s': history row at step %lld dropped: %s (%zu values)",
                 run->run_id, (long long)row->step, wandb_strerror(rc), row->n);
        return;
    }
    const char *line = self->line.data;
    size_t len = self->line.len;
    s_append(self, WBI_JR_HISTORY, run->no, line, len);
    run->lines++;
    if (run->bk)
        wbi_backend_run_history(self->backend, run->bk, line, len);
}

// A line of wandb-events.jsonl or output.log: journaled (u8 name length,
// name, line), then queued at the backend like a history line.
static void s_stream(void *arg, void *r, int file, const char *line, size_t len)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    const char *name = wbi_backend_stream_name(file);
    if (!run || !name)
        return;
    if (len > WBI_LINE_MAX) {
        self->bad_rows++;
        wbi_warn("aggregator: run '%s': %s line of %zu bytes dropped: over the line cap",
                 run->run_id, name, len);
        return;
    }
    if (run->bk && run->finished && !run->finish_due) {
        // The backend has the run's final state: a later line is not taken
        // (console output of a rank that goes on printing after its finish).
        self->late_lines++;
        if (!self->warned_late)
            wbi_warn("aggregator: run '%s': %s line after the run's finish dropped (later ones "
                     "are counted)",
                     run->run_id, name);
        self->warned_late = true;
        return;
    }
    uint8_t head[32];
    size_t nlen = strlen(name);
    head[0] = (uint8_t)nlen;
    memcpy(head + 1, name, nlen);
    s_append2(self, WBI_JR_STREAM, run->no, head, 1 + nlen, line, len);
    run->slines[file]++;
    if (run->bk)
        wbi_backend_run_stream(self->backend, run->bk, file, line, len);
}

// A new display name, notes or tags: journaled, then to the backend.
static void s_update(void *arg, void *r, const char *display_name, const char *notes,
                     const char *tags)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    if (!run)
        return;
    s_append_json(self, WBI_JR_RUN_UPDATE, run->no,
                  json_pack("{s:s?, s:s?, s:s?}", "display_name", display_name, "notes", notes,
                            "tags", tags));
    if (run->bk)
        wbi_backend_run_update(self->backend, run->bk, display_name, notes, tags);
}

// The newest run of this project and id.
static void *s_find(void *arg, const char *project, const char *run_id)
{
    wbi_outlet_t *self = arg;
    for (s_orun_t *run = self->runs; run && project && run_id; run = run->next)
        if (strcmp(run->run_id, run_id) == 0 && strcmp(run->project, project) == 0)
            return run;
    return NULL;
}

static void s_summary(void *arg, void *r, const char *json, size_t len)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append(self, WBI_JR_SUMMARY, run->no, json, len);
    if (run->bk)
        wbi_backend_run_summary(self->backend, run->bk, json, len);
}

static void s_config(void *arg, void *r, const char *json)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append(self, WBI_JR_CONFIG, run->no, json, strlen(json));
    if (run->bk)
        wbi_backend_run_config(self->backend, run->bk, json);
}

static void s_alert(void *arg, void *r, const char *title, const char *text, const char *level,
                    int64_t wait_ms)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append_json(self, WBI_JR_ALERT, run->no,
                  json_pack("{s:s, s:s, s:s, s:I}", "title", title, "text", text ? text : "",
                            "level", level ? level : "INFO", "wait_ms", (json_int_t)wait_ms));
    if (run->bk)
        wbi_backend_run_alert(self->backend, run->bk, title, text, level, wait_ms);
}

static void s_preempting(void *arg, void *r)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append(self, WBI_JR_PREEMPTING, run->no, "", 0);
    if (run->bk)
        wbi_backend_run_preempting(self->backend, run->bk);
}

static void s_file(void *arg, void *r, const char *name, char **data_p, size_t len)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    size_t nlen = strlen(name);
    uint8_t *head = wbi_malloc(4 + nlen);
    if (head) {
        uint32_t n32 = (uint32_t)nlen;
        for (int i = 0; i < 4; i++)
            head[i] = (uint8_t)(n32 >> (8 * i));
        memcpy(head + 4, name, nlen);
        s_append2(self, WBI_JR_FILE, run->no, head, 4 + nlen, *data_p, len);
        wbi_free(head);
    } else {
        self->journal_drops += self->journal != NULL;
    }
    if (run->bk) {
        wandb_err rc = wbi_backend_run_file(self->backend, run->bk, name, data_p, len);
        if (rc != WANDB_OK)
            wbi_warn("run '%s': file '%s' not queued for upload: %s (kept in the journal)",
                     run->run_id, name, wandb_strerror(rc));
    } else {
        wbi_free(*data_p);
        *data_p = NULL;
    }
}

static void s_finish(void *arg, void *r, int exit_code)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    char buf[48];
    int n = snprintf(buf, sizeof buf, "{\"exit_code\":%d}", exit_code);
    s_append(self, WBI_JR_FINISH, run->no, buf, (size_t)n);
    run->finished = true;
    if (run->bk && self->grace_ms > 0) {
        // Console lines printed before the rank exits are still on their way.
        run->finish_due = true;
        run->finish_at_ms = wbi_now_ms() + self->grace_ms;
        run->exit_code = exit_code;
    } else if (run->bk) {
        wbi_backend_run_finish(self->backend, run->bk, exit_code);
    }
}

// Hands the backend the deferred finishes due at mono_ms (all with INT64_MAX).
static void s_finish_due(wbi_outlet_t *self, int64_t mono_ms)
{
    for (s_orun_t *run = self->runs; run; run = run->next) {
        if (run->finish_due && mono_ms >= run->finish_at_ms) {
            run->finish_due = false;
            wbi_backend_run_finish(self->backend, run->bk, run->exit_code);
        }
    }
}

static void s_abandon(void *arg, void *r)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append(self, WBI_JR_ABANDON, run->no, "", 0);
    if (run->bk)
        wbi_backend_run_abandon(self->backend, run->bk);
}

// The backend decided a resuming run: journaled from now on (RUN with
// "resumed" and "starting_step"), or never when refused. Loop thread.
static void s_decide(wbi_outlet_t *self, s_orun_t *run, const wbi_run_resume_t *rs)
{
    json_t *rec = run->pending_rec;
    run->pending_rec = NULL;
    if (!rec)
        return;
    if (rs->state != WBI_RESUMED_NEW && rs->state != WBI_RESUMED_YES) {
        run->refused = true;
        json_decref(rec);
        return;
    }
    json_object_set_new(rec, "resumed", json_boolean(rs->state == WBI_RESUMED_YES));
    json_object_set_new(rec, "starting_step", json_integer(rs->starting_step));
    atomic_store(&run->no, ++self->nruns);
    s_append_json(self, WBI_JR_RUN, run->no, rec);
}

// Offline there is nobody to ask: resume is ignored (a new run), as the
// official client does offline.
static bool s_resume(void *arg, void *r, wbi_run_resume_t *out)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    if (!run->bk) {
        *out = (wbi_run_resume_t){.state = WBI_RESUMED_NEW};
        return true;
    }
    if (!wbi_backend_run_resume(self->backend, run->bk, out))
        return false;
    s_decide(self, run, out);
    return true;
}

static bool s_entity(void *arg, void *r, char *buf, size_t len)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    return run->bk && wbi_backend_run_entity(self->backend, run->bk, buf, len);
}

// The sink's own life: the aggregator's timer pass, end of service, free.
static void s_tick(void *arg, int64_t mono_ms)
{
    wbi_outlet_tick(arg, mono_ms);
}

static wandb_err s_drain(void *arg, int timeout_ms)
{
    return wbi_outlet_finish(arg, timeout_ms);
}

static void s_close(void *arg)
{
    wbi_outlet_t *self = arg;
    wbi_outlet_destroy(&self);
}

static const char *s_artifact_dir(void *arg)
{
    wbi_outlet_t *self = arg;
    return self->art_dir[0] ? self->art_dir : NULL;
}

// An artifact event (a version committed, used, linked): journaled. The
// bytes themselves stay in the artifact store (docs/artifacts.md).
static void s_artifact(void *arg, void *r, const char *json, size_t len)
{
    wbi_outlet_t *self = arg;
    s_orun_t *run = r;
    s_append2(self, WBI_JR_ARTIFACT, run->no, json, len, NULL, 0);
    if (run->bk && self->art_dir[0])
        wbi_backend_run_artifact(self->backend, run->bk, json, len, self->art_dir);
}

void wbi_outlet_sink(wbi_outlet_t *self, wbi_agg_sink_t *sink)
{
    sink->artifact_dir = s_artifact_dir;
    sink->artifact = s_artifact;
    sink->arg = self;
    sink->open = s_open;
    sink->update = s_update;
    sink->history = s_history;
    sink->stream = s_stream;
    sink->find = s_find;
    sink->summary = s_summary;
    sink->config = s_config;
    sink->alert = s_alert;
    sink->preempting = s_preempting;
    sink->file = s_file;
    sink->finish = s_finish;
    sink->abandon = s_abandon;
    sink->entity = s_entity;
    sink->resume = s_resume;
    sink->tick = s_tick;
    sink->drain = s_drain;
    sink->close = s_close;
}

// --- life cycle ----------------------------------------------------------------

// Creates the journal directory under parent and writes the SESSION record.
static wandb_err s_open_journal(wbi_outlet_t *self, const wbi_outlet_opts_t *opts, char *err,
                                size_t errlen)
{
    char stamp[32];
    char rnd[9];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (wbi_random_id(rnd, 8) != WANDB_OK) {
        snprintf(err, errlen, "cannot name the journal: no randomness");
        return WANDB_EIO;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/journal-%s-%s", opts->journal_dir, stamp, rnd);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "journal directory '%.200s' is too long", opts->journal_dir);
        return WANDB_EINVAL;
    }
    wbi_journal_opts_t jo = {.max_bytes = opts->journal_max_bytes};
    wandb_err rc = wbi_journal_open(&self->journal, path, &jo, err, errlen);
    if (rc != WANDB_OK)
        return rc;
    if (!realpath(path, self->dir))
        snprintf(self->dir, sizeof self->dir, "%s", path);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *url = opts->offline ? NULL : opts->backend.base_url;
    s_append_json(self, WBI_JR_SESSION, 0,
                  json_pack("{s:i, s:f, s:s, s:s?, s:s, s:i}", "version", WBI_JR_VERSION, "created",
                            wbi_now_unix(), "mode", opts->offline ? "offline" : "online",
                            "base_url", url, "host", host, "pid", (int)getpid()));
    return wbi_journal_flush(self->journal);
}

wandb_err wbi_outlet_new(wbi_outlet_t **out, const wbi_outlet_opts_t *opts, char *err,
                         size_t errlen)
{
    char scratch[8];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (!out || !opts)
        return WANDB_EINVAL;
    *out = NULL;
    if (opts->offline && !opts->journal_dir) {
        snprintf(err, errlen, "offline mode needs a journal directory (the dir setting)");
        return WANDB_EINVAL;
    }
    wbi_outlet_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    wbi_buf_init(&self->line, WBI_LINE_MAX);
    self->flush_ms = opts->journal_flush_ms > 0 ? opts->journal_flush_ms : S_FLUSH_MS;
    self->grace_ms = opts->finish_grace_ms > 0 ? opts->finish_grace_ms : 0;
    self->last_flush_ms = wbi_now_ms();
    wandb_err rc = WANDB_OK;
    if (opts->journal_dir && snprintf(self->art_dir, sizeof self->art_dir, "%s/artifacts",
                                      opts->journal_dir) >= (int)sizeof self->art_dir)
        self->art_dir[0] = '\0';
    if (opts->journal_dir) {
        rc = s_open_journal(self, opts, err, errlen);
        if (rc != WANDB_OK)
            goto out_free;
    }
    if (!opts->offline) {
        wbi_backend_opts_t bo = opts->backend;
        bo.on_ack = s_on_ack;
        bo.ack_arg = self;
        rc = wbi_backend_new(&self->backend, &bo);
        if (rc != WANDB_OK) {
            snprintf(err, errlen, "cannot start the backend client for '%.200s': %s",
                     bo.base_url ? bo.base_url : "", wandb_strerror(rc));
            goto out_free;
        }
    }
    *out = self;
    return WANDB_OK;
out_free:
    wbi_outlet_destroy(&self);
    return rc;
}

void wbi_outlet_destroy(wbi_outlet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_outlet_t *self = *self_p;
    *self_p = NULL;
    if (self->late_lines)
        wbi_warn("aggregator: %llu event/console lines arrived after their run's finish and were "
                 "dropped",
                 (unsigned long long)self->late_lines);
    wbi_backend_destroy(&self->backend); // no acknowledgement arrives after this
    wbi_journal_close(&self->journal);
    while (self->runs) {
        s_orun_t *run = self->runs;
        self->runs = run->next;
        json_decref(run->pending_rec);
        wbi_free(run->run_id);
        wbi_free(run->project);
        wbi_free(run);
    }
    wbi_buf_release(&self->line);
    wbi_free(self);
}

void wbi_outlet_tick(wbi_outlet_t *self, int64_t mono_ms)
{
    if (self->grace_ms > 0 && self->backend)
        s_finish_due(self, mono_ms);
    if (!self->journal || mono_ms - self->last_flush_ms < self->flush_ms)
        return;
    self->last_flush_ms = mono_ms;
    wandb_err rc = wbi_journal_flush(self->journal);
    if (rc != WANDB_OK && !self->warned_journal) {
        self->warned_journal = true;
        wbi_err("journal '%s': flush failed: %s (%s)", self->dir, wandb_strerror(rc),
                wbi_journal_errmsg(self->journal));
    }
}

void wbi_outlet_get_stats(wbi_outlet_t *self, wbi_outlet_stats_t *out)
{
    *out = (wbi_outlet_stats_t){.journal_drops = self->journal_drops};
    for (const s_orun_t *run = self->runs; run; run = run->next) {
        uint64_t acked = atomic_load(&run->acked);
        out->runs++;
        out->lines += run->lines;
        out->lines_acked += acked < run->lines ? acked : run->lines;
        out->finishes += run->finished;
        out->finishes_acked += run->finished && atomic_load(&run->completed);
        for (int f = 0; f < WBI_STREAMS; f++) {
            uint64_t sacked = atomic_load(&run->sacked[f]);
            out->stream_lines += run->slines[f];
            out->stream_lines_acked += sacked < run->slines[f] ? sacked : run->slines[f];
        }
    }
    if (self->journal) {
        wbi_journal_stats_t js;
        wbi_journal_get_stats(self->journal, &js);
        out->journal_drops = js.dropped_full + js.dropped_io;
    }
}

const char *wbi_outlet_journal_dir(const wbi_outlet_t *self)
{
    return self ? self->dir : "";
}

// The error that explains the journal's refusals.
static wandb_err s_journal_err(wbi_outlet_t *self)
{
    wbi_journal_stats_t js;
    wbi_journal_get_stats(self->journal, &js);
    return js.dropped_io ? WANDB_EIO : WANDB_EFULL;
}

wandb_err wbi_outlet_finish(wbi_outlet_t *self, int timeout_ms)
{
    int64_t deadline = wbi_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    wandb_err jrc = self->journal ? wbi_journal_flush(self->journal) : WANDB_OK;
    wandb_err drc = WANDB_OK;
    if (self->backend)
        s_finish_due(self, INT64_MAX); // no console line comes any more
    if (self->backend) {
        int64_t left = deadline - wbi_now_ms();
        drc = wbi_backend_drain(self->backend, left > 0 ? (int)left : 0);
    }
    // Acknowledgements that arrived during the drain are journaled too.
    if (self->journal && wbi_journal_flush(self->journal) != WANDB_OK && jrc == WANDB_OK)
        jrc = WANDB_EIO;
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(self, &st);
    uint64_t pending = st.lines - st.lines_acked;
    uint64_t spending = st.stream_lines - st.stream_lines_acked;
    uint64_t states = st.finishes - st.finishes_acked;
    if (!self->backend) {
        if (st.journal_drops || jrc != WANDB_OK) {
            wbi_err("offline: the journal '%s' lost %llu records: %s", self->dir,
                    (unsigned long long)st.journal_drops, wbi_journal_errmsg(self->journal));
            return st.journal_drops ? s_journal_err(self) : jrc;
        }
        wbi_log(WANDB_LOG_NOTICE,
                "offline: %llu runs, %llu history rows kept in '%s'; upload them with: "
                "wandb-mpi sync '%s'",
                (unsigned long long)st.runs, (unsigned long long)st.lines, self->dir, self->dir);
        return WANDB_OK;
    }
    wandb_err rc = wbi_backend_result(self->backend);
    if (rc == WANDB_OK && (pending || spending || states || drc != WANDB_OK))
        rc = WANDB_ETIMEDOUT;
    if (rc == WANDB_OK) {
        // Everything arrived; the journal only could not have saved it from an outage.
        if (st.journal_drops)
            wbi_warn("journal '%s' refused %llu records (%s); the backend acknowledged them all",
                     self->dir, (unsigned long long)st.journal_drops,
                     wbi_journal_errmsg(self->journal));
        return WANDB_OK;
    }
    const char *why = rc == WANDB_ETIMEDOUT ? "not acknowledged before the finish deadline"
                                            : wbi_backend_errmsg(self->backend);
    if (self->journal && !st.journal_drops) {
        wbi_err("%llu history rows, %llu event/console lines and %llu final states of %llu runs "
                "are not on the backend "
                "(%s); they are kept in the journal: wandb-mpi sync '%s'",
                (unsigned long long)pending, (unsigned long long)spending,
                (unsigned long long)states, (unsigned long long)st.runs, why, self->dir);
    } else if (self->journal) {
        wbi_err("%llu history rows, %llu event/console lines and %llu final states of %llu runs "
                "are not on the backend "
                "(%s), and the journal refused %llu records (%s): what it kept is uploaded by "
                "wandb-mpi sync '%s'",
                (unsigned long long)pending, (unsigned long long)spending,
                (unsigned long long)states, (unsigned long long)st.runs, why,
                (unsigned long long)st.journal_drops, wbi_journal_errmsg(self->journal), self->dir);
    } else {
        wbi_err("%llu history rows, %llu event/console lines and %llu final states of %llu runs "
                "are not on the backend "
                "(%s), and there is no journal: they are lost",
                (unsigned long long)pending, (unsigned long long)spending,
                (unsigned long long)states, (unsigned long long)st.runs, why);
    }
    return rc;
}

// --- an aggregator writing to an outlet ----------------------------------------

#define S_CONSOLE_GRACE_MS 2000 // finish grace while the console is captured

// What wbi_outlet_start_agg hands to the aggregator's open_sink.
typedef struct {
    wbi_outlet_opts_t opts; // the outlet's options
    wbi_outlet_t *outlet;   // the outlet, once opened
} s_start_t;

// The aggregator's open_sink: a new outlet, called once the endpoint is bound.
static wandb_err s_open_sink(void *arg, wbi_agg_sink_t *sink)
{
    s_start_t *start = arg;
    char why[512];
    wandb_err rc = wbi_outlet_new(&start->outlet, &start->opts, why, sizeof why);
    if (rc != WANDB_OK) {
        wbi_err("aggregator: %s", why);
        return rc;
    }
    wbi_outlet_sink(start->outlet, sink);
    return WANDB_OK;
}

wandb_err wbi_outlet_start_agg(wbi_agg_t **out, const wbi_agg_opts_t *opts,
                               const wbi_outlet_opts_t *oopts, wbi_outlet_t **outlet)
{
    if (outlet)
        *outlet = NULL;
    if (!opts || !oopts) {
        if (out)
            *out = NULL;
        return WANDB_EINVAL;
    }
    s_start_t start = {.opts = *oopts};
    start.opts.finish_grace_ms = opts->console_dir ? S_CONSOLE_GRACE_MS : 0;
    wbi_agg_opts_t aopts = *opts;
    aopts.base_url = oopts->offline ? NULL : oopts->backend.base_url;
    aopts.open_sink = s_open_sink;
    aopts.sink_arg = &start;
    wandb_err rc = wbi_agg_start(out, &aopts);
    if (rc == WANDB_OK && outlet)
        *outlet = start.outlet;
    return rc;
}
