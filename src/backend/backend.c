//  backend.c - the W&B HTTP client: every run of a job over ONE connection
//  SPDX-License-Identifier: MIT
//
//  Callers only enqueue under the mutex and signal `wake`. One thread picks
//  the next request (round robin over runs), builds it and POSTs it without
//  the lock, then applies the answer under the lock and signals `done` for
//  drain. Each run has at most one request in flight or waiting for a
//  retry; a retried request is re-sent unchanged. The policy is described
//  in docs/backend.md.
#include "backend/backend.h"
#include "backend/http.h"
#include "backend/request.h"
#include "backend/retry.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_QUEUE_MAX ((size_t)256 << 20) // history bytes queued per backend
#define S_FEATURES_ATTEMPTS 3           // ServerFeaturesQuery is optional (answer unused)
#define S_CONFIG_DEBOUNCE_MS 5000       // like wandb-core's run upserter
#define S_IDLE_WAKE_MS 1000             // longest sleep of the thread
#define S_FILES_MAX ((size_t)512 << 20) // run-file bytes queued per backend
#define S_FILES_BATCH 100               // names per CreateRunFiles
#define S_UPLOADED_MAX 100000           // names waiting to be reported per run
#define S_ALERTS_MAX 64                 // alerts queued per run
#define S_ALERT_TITLES 16               // titles remembered per run (waitDuration)

typedef enum {
    S_REQ_NONE = 0,
    S_REQ_FEATURES, // ServerFeaturesQuery (backend-wide, once, after the first upsert)
    S_REQ_UPSERT,   // first UpsertBucket of a run
    S_REQ_CONFIG,   // later, debounced UpsertBucket with the config
    S_REQ_ALERT,    // NotifyScriptableRunAlert
    S_REQ_FS,       // file_stream: data, heartbeat or complete
    S_REQ_FILES,    // CreateRunFiles for a batch of saved files
    S_REQ_PUT,      // the upload of one file to its uploadUrl
} s_req_kind;

// A run file (wandb_save) on its way: CreateRunFiles, then PUT.
typedef struct s_file {
    struct s_file *next; // next file in the same queue
    char *name;          // run-relative, '/'-separated path
    char *data;          // the bytes (owned)
    size_t len;          // bytes in data
    char *url;           // uploadUrl from CreateRunFiles; NULL before
} s_file_t;

typedef struct s_alert {
    struct s_alert *next; // next queued alert of the run
    char *title;          // alert title
    char *text;           // alert text
    char *level;          // INFO, WARN or ERROR
    int64_t wait_ms;      // waitDuration
} s_alert_t;

// An alert title sent lately: a new alert of that title within its
// waitDuration is not sent again.
typedef struct {
    char *title;   // the title (owned), NULL: free slot
    int64_t at_ms; // when its alert was acknowledged
} s_sent_t;

// The alert titles a run sent lately.
typedef struct {
    s_sent_t at[S_ALERT_TITLES]; // the titles, any order
} s_titles_t;

// One request of a run, from the moment it is taken until it is answered.
typedef struct {
    s_req_kind kind;    // S_REQ_NONE: no request
    bool built;         // url and body are ready (retries re-send them)
    int attempt;        // attempts made so far
    int64_t due_ms;     // monotonic time of the next attempt
    wbi_buf_t url;      // target URL
    wbi_buf_t body;     // request body
    char *config;       // UPSERT/CONFIG: the unwrapped config taken (owned)
    s_alert_t *alert;   // ALERT: the alert (owned)
    char *summary;      // FS: the summary taken (owned)
    size_t summary_len; // FS: its length
    bool preempting;    // FS: send "preempting": true
    bool finishing;     // FS: complete if every line fits
    int exit_code;      // FS: exitcode with complete
    size_t avail;       // FS: taken lines available when the request was taken
    size_t nlines;      // FS: history lines in the body
    bool completed;     // FS: the body carries complete/exitcode
    s_file_t *files;    // FILES: the batch asked about; PUT: the one file (owned)
    char **uploaded;    // FS: names reported in "uploaded" (owned)
    size_t nuploaded;   // FS: entries in uploaded
} s_req_t;

struct wbi_backend_run {
    wbi_backend_run_t *next; // next run of the backend
    char *run_id;            // meta (immutable after open)
    char *project;           // project name
    char *entity;            // entity from meta, or NULL
    char *group;             // groupName
    char *job_type;          // jobType
    char *display_name;      // displayName
    char *notes;             // notes
    char *host;              // host
    char *program;           // program
    char *tags;              // comma-separated tags
    // --- guarded by the backend mutex ---
    wbi_bk_line_t *q_head; // lines queued by callers
    wbi_bk_line_t *q_tail; // last queued line
    size_t q_count;        // lines in q
    wbi_bk_line_t *p_head; // lines taken by the thread, not yet acknowledged
    wbi_bk_line_t *p_tail; // last taken line
    size_t p_count;        // lines in p
    char *summary;         // pending summary (replaced by newer ones)
    size_t summary_len;    // its length
    char *config;          // pending unwrapped config
    bool config_dirty;     // config changed since the last upsert took it
    int64_t config_ms;     // when the config last changed (debounce)
    s_alert_t *a_head;     // queued alerts
    s_alert_t *a_tail;     // last queued alert
    size_t a_count;        // alerts in a
    uint64_t a_dropped;    // alerts dropped: queue full, or title sent within its wait
    bool a_warned;         // the alert-queue-full warning was logged
    s_titles_t sent;       // alert titles sent lately (thread writes)
    bool fs_turn;          // a due file_stream goes before the next alert or file request
    uint64_t late;         // summaries, configs, alerts, files refused after finish
    s_file_t *f_head;      // files waiting for CreateRunFiles
    s_file_t *f_tail;      // last of them
    s_file_t *u_head;      // files with an uploadUrl, waiting for their PUT
    s_file_t *u_tail;      // last of them
    char **up_headers;     // uploadHeaders of the last CreateRunFiles (thread writes)
    size_t n_up_headers;   // entries in up_headers
    char **uploaded;       // names uploaded and not yet reported in file_stream
    size_t n_uploaded;     // entries in uploaded
    size_t cap_uploaded;   // allocated entries
    bool preempt;          // preempting to send
    bool finish;           // finish requested
    bool abandoned;        // no heartbeats: the run's process went silent
    int exit_code;         // exit code of finish
    bool upserted;         // the first UpsertBucket succeeded
    bool dead;             // given up on: queued data dropped, new data refused
    bool completed;        // complete/exitcode acknowledged
    char *bucket_id;       // bucket.id from the server
    char *srv_entity;      // entity the server named
    int64_t hist_offset;   // offset of the first unacknowledged history line
    int64_t last_fs_ms;    // last file_stream answer (heartbeat clock)
    int64_t next_flush_ms; // earliest next data request
    uint64_t dropped;      // lines dropped (too big, invalid, full, dead)
    s_req_t req;           // the request in flight or waiting to be retried
};

struct wbi_backend {
    pthread_mutex_t mu;        // guards everything below except the thread-only fields
    pthread_cond_t wake;       // wakes the thread: new work, drain, stop
    pthread_cond_t done;       // a request finished: wakes drain
    pthread_t thread;          // the sending thread
    bool thread_started;       // thread must be joined
    atomic_bool stop;          // set by destroy; aborts transfers
    char *base_url;            // base URL without a trailing slash
    char *graphql_url;         // base + "/graphql"
    int flush_ms;              // file_stream interval
    int heartbeat_ms;          // heartbeat after this idle time
    int max_retries;           // retries per request
    int retry_min_ms;          // first backoff
    int retry_max_ms;          // backoff cap
    int debounce_ms;           // config upsert debounce
    wbi_backend_run_t *runs;   // every run, in open order
    wbi_backend_run_t *last;   // last run of the list
    wbi_backend_run_t *cursor; // run served last (round robin)
    int draining;              // drain calls waiting
    bool features_done;        // ServerFeaturesQuery queued (after the first upsert)
    s_req_t features;          // the ServerFeaturesQuery request
    size_t queued_bytes;       // history bytes queued or unacknowledged
    size_t file_bytes;         // run-file bytes queued or being uploaded
    bool warned_full;          // the queue-full warning was logged
    uint64_t dropped;          // lines refused because the queue was full
    wbi_backend_stats_t stats; // counters
    char errmsg[256];          // last failure or retry reason
    char errmsg_out[256];      // copy handed out by wbi_backend_errmsg
    unsigned rand_state;       // jitter (thread only)
    wbi_http_t *http;          // the one connection (thread only)
};

// The outcome of one attempt, decided outside the lock.
typedef struct {
    wbi_bk_verdict verdict; // done, retry or fail
    bool answered;          // an HTTP answer arrived
    int64_t wait_ms;        // RETRY: wait before the next attempt
    wbi_bk_bucket_t bucket; // UPSERT: what the answer said
    wbi_bk_files_t files;   // FILES: what the answer said
    char msg[384];          // FAIL: why
} s_outcome_t;

// Milliseconds on the monotonic clock.
static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits on cond until the monotonic time at_ms (or a signal).
static int s_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t at_ms)
{
    struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (long)(at_ms % 1000) * 1000000};
    return pthread_cond_timedwait(cond, mu, &ts);
}

// Copies s (NULL stays NULL); *ok is cleared when the copy fails.
static char *s_dup(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = wbi_strdup(s);
    if (!d)
        *ok = false;
    return d;
}

// Records the last failure or retry reason (caller holds the lock).
static void s_set_error(wbi_backend_t *self, const char *msg)
{
    snprintf(self->errmsg, sizeof self->errmsg, "%s", msg);
}

// Frees a list of lines and returns their total length.
static size_t s_free_lines(wbi_bk_line_t *line)
{
    size_t bytes = 0;
    while (line) {
        wbi_bk_line_t *next = line->next;
        bytes += line->len;
        wbi_free(line);
        line = next;
    }
    return bytes;
}

// Frees an alert and its strings (NULL-safe).
static void s_alert_free(s_alert_t *a)
{
    if (!a)
        return;
    wbi_free(a->title);
    wbi_free(a->text);
    wbi_free(a->level);
    wbi_free(a);
}

// Frees a list of files and returns their total length (NULL-safe).
static size_t s_files_free(s_file_t *f)
{
    size_t bytes = 0;
    while (f) {
        s_file_t *next = f->next;
        bytes += f->len;
        wbi_free(f->name);
        wbi_free(f->data);
        wbi_free(f->url);
        wbi_free(f);
        f = next;
    }
    return bytes;
}

// Frees an array of n strings.
static void s_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        wbi_free(v[i]);
    wbi_free(v);
}

// Releases what a request owns and makes the slot empty.
static void s_req_clear(s_req_t *req)
{
    wbi_buf_release(&req->url);
    wbi_buf_release(&req->body);
    wbi_free(req->config);
    s_alert_free(req->alert);
    wbi_free(req->summary);
    s_files_free(req->files);
    s_strv_free(req->uploaded, req->nuploaded);
    *req = (s_req_t){0};
}

// Drops everything queued for a run that was given up on (lock held).
static void s_run_drop(wbi_backend_t *self, wbi_backend_run_t *run)
{
    run->dropped += run->q_count + run->p_count;
    size_t bytes = s_free_lines(run->q_head) + s_free_lines(run->p_head);
    self->queued_bytes -= bytes < self->queued_bytes ? bytes : self->queued_bytes;
    run->q_head = run->q_tail = run->p_head = run->p_tail = NULL;
    run->q_count = run->p_count = 0;
    wbi_free(run->summary);
    run->summary = NULL;
    wbi_free(run->config);
    run->config = NULL;
    run->config_dirty = false;
    while (run->a_head) {
        s_alert_t *a = run->a_head;
        run->a_head = a->next;
        s_alert_free(a);
    }
    run->a_tail = NULL;
    run->a_count = 0;
    size_t fbytes = s_files_free(run->f_head) + s_files_free(run->u_head);
    self->file_bytes -= fbytes < self->file_bytes ? fbytes : self->file_bytes;
    run->f_head = run->f_tail = run->u_head = run->u_tail = NULL;
    s_strv_free(run->uploaded, run->n_uploaded);
    run->uploaded = NULL;
    run->n_uploaded = run->cap_uploaded = 0;
    run->preempt = false;
    run->dead = true;
}

// The entity for URLs and alerts: the caller's, else the server's.
static const char *s_entity(const wbi_backend_run_t *run)
{
    return run->entity ? run->entity : run->srv_entity;
}

// --- choosing the next request (lock held) ----------------------------------

// True when a file_stream request of the run is due now; else lowers *wake
// to when it will be (lock held).
static bool s_fs_due(const wbi_backend_t *self, const wbi_backend_run_t *run, int64_t now,
                     int64_t *wake)
{
    bool has_data = run->q_count || run->p_count || run->summary || run->preempt || run->n_uploaded;
    if (has_data) {
        if (run->preempt || self->draining || run->finish || now >= run->next_flush_ms)
            return true;
        *wake = run->next_flush_ms < *wake ? run->next_flush_ms : *wake;
        return false;
    }
    if (run->finish) // the final complete/exitcode, once nothing else is queued
        return !run->a_head && !run->f_head && !run->u_head;
    if (run->abandoned)
        return false; // silence lets the server mark it crashed
    int64_t at = run->last_fs_ms + self->heartbeat_ms;
    if (now >= at)
        return true; // "{}" heartbeat
    *wake = at < *wake ? at : *wake;
    return false;
}

// Sets up a file_stream request with everything queued (lock held).
static void s_take_fs(wbi_backend_run_t *run, int64_t now)
{
    s_req_t *req = &run->req;
    if (run->q_head) { // hand the queued lines to the thread
        if (run->p_tail)
            run->p_tail->next = run->q_head;
        else
            run->p_head = run->q_head;
        run->p_tail = run->q_tail;
        run->p_count += run->q_count;
        run->q_head = run->q_tail = NULL;
        run->q_count = 0;
    }
    // complete/exitcode only once no alert or file is left to go first
    bool last = run->finish && !run->a_head && !run->f_head && !run->u_head;
    *req = (s_req_t){.kind = S_REQ_FS,
                     .due_ms = now,
                     .summary = run->summary,
                     .summary_len = run->summary_len,
                     .preempting = run->preempt,
                     .finishing = last,
                     .exit_code = run->exit_code,
                     .avail = run->p_count,
                     .uploaded = run->uploaded,
                     .nuploaded = run->n_uploaded};
    run->summary = NULL;
    run->preempt = false;
    run->uploaded = NULL;
    run->n_uploaded = run->cap_uploaded = 0;
    run->fs_turn = false;
}

// True when an alert of the same title was acknowledged within a's waitDuration.
static bool s_alert_recent(const wbi_backend_run_t *run, const s_alert_t *a, int64_t now)
{
    for (size_t i = 0; i < S_ALERT_TITLES; i++) {
        const s_sent_t *t = &run->sent.at[i];
        if (t->title && strcmp(t->title, a->title) == 0 && now - t->at_ms < a->wait_ms)
            return true;
    }
    return false;
}

// Remembers that an alert of this title was acknowledged now (replacing the
// same title or the oldest entry).
static void s_alert_sent(wbi_backend_run_t *run, const char *title, int64_t now)
{
    s_sent_t *slot = &run->sent.at[0];
    for (size_t i = 0; i < S_ALERT_TITLES; i++) {
        s_sent_t *t = &run->sent.at[i];
        if (t->title && strcmp(t->title, title) == 0) {
            t->at_ms = now;
            return;
        }
        if (!t->title || (slot->title && t->at_ms < slot->at_ms))
            slot = t;
    }
    char *copy = wbi_strdup(title);
    if (!copy)
        return;
    wbi_free(slot->title);
    *slot = (s_sent_t){.title = copy, .at_ms = now};
}

// Sets up the next request of an upserted run, or lowers *wake to when
// there will be one. Returns false when there is nothing to do now.
static bool s_take_work(wbi_backend_t *self, wbi_backend_run_t *run, int64_t now, int64_t *wake)
{
    s_req_t *req = &run->req;
    if (run->config_dirty) {
        int64_t at = run->config_ms + self->debounce_ms;
        if (self->draining || run->finish || now >= at) {
            *req = (s_req_t){.kind = S_REQ_CONFIG, .config = run->config, .due_ms = now};
            run->config = NULL;
            run->config_dirty = false;
            return true;
        }
        *wake = at < *wake ? at : *wake;
    }
    if (run->fs_turn && s_fs_due(self, run, now, wake)) {
        s_take_fs(run, now); // alternate: no alert or file queue starves the stream
        return true;
    }
    while (run->a_head && s_alert_recent(run, run->a_head, now)) {
        s_alert_t *a = run->a_head; // its title went out within its waitDuration
        run->a_head = a->next;
        if (!run->a_head)
            run->a_tail = NULL;
        run->a_count--;
        run->a_dropped++;
        wbi_debug("run '%s': alert '%s' skipped: sent within its wait", run->run_id, a->title);
        s_alert_free(a);
    }
    if (run->a_head) {
        *req = (s_req_t){.kind = S_REQ_ALERT, .alert = run->a_head, .due_ms = now};
        run->a_head = run->a_head->next;
        if (!run->a_head)
            run->a_tail = NULL;
        run->a_count--;
        req->alert->next = NULL;
        run->fs_turn = true;
        return true;
    }
    if (run->u_head) { // PUTs first: the next CreateRunFiles replaces the upload headers
        *req = (s_req_t){.kind = S_REQ_PUT, .files = run->u_head, .due_ms = now};
        run->u_head = run->u_head->next;
        if (!run->u_head)
            run->u_tail = NULL;
        req->files->next = NULL;
        run->fs_turn = true;
        return true;
    }
    if (run->f_head) { // CreateRunFiles for the next batch of names
        *req = (s_req_t){.kind = S_REQ_FILES, .files = run->f_head, .due_ms = now};
        s_file_t *last = run->f_head;
        for (size_t n = 1; n < S_FILES_BATCH && last->next; n++)
            last = last->next;
        run->f_head = last->next;
        if (!run->f_head)
            run->f_tail = NULL;
        last->next = NULL;
        run->fs_turn = true;
        return true;
    }
    if (!s_fs_due(self, run, now, wake))
        return false;
    s_take_fs(run, now);
    return true;
}

// Finds the next request that is due; lowers *wake otherwise.
static s_req_t *s_pick(wbi_backend_t *self, int64_t now, int64_t *wake, wbi_backend_run_t **run_out)
{
    *run_out = NULL;
    if (self->features.kind != S_REQ_NONE) { // queued by the first upsert; nobody waits for it
        if (self->features.due_ms <= now)
            return &self->features;
        *wake = self->features.due_ms < *wake ? self->features.due_ms : *wake;
    }
    wbi_backend_run_t *start = self->cursor && self->cursor->next ? self->cursor->next : self->runs;
    wbi_backend_run_t *r = start;
    for (; r; r = r->next ? r->next : self->runs) {
        if (!r->dead && !r->completed) {
            if (r->req.kind != S_REQ_NONE) {
                if (r->req.due_ms <= now) {
                    *run_out = self->cursor = r;
                    return &r->req;
                }
                *wake = r->req.due_ms < *wake ? r->req.due_ms : *wake;
            } else if (!r->upserted) {
                r->req = (s_req_t){.kind = S_REQ_UPSERT, .config = r->config, .due_ms = now};
                r->config = NULL;
                r->config_dirty = false;
                *run_out = self->cursor = r;
                return &r->req;
            } else if (s_take_work(self, r, now, wake)) {
                *run_out = self->cursor = r;
                return &r->req;
            }
        }
        if ((r->next ? r->next : self->runs) == start)
            break;
    }
    return NULL;
}

// --- doing a request (no lock) ----------------------------------------------

// Builds url and body of a request the first time it is attempted.
static wandb_err s_build(wbi_backend_t *self, wbi_backend_run_t *run, s_req_t *req, char *msg,
                         size_t msglen)
{
    wbi_buf_init(&req->url, 64 * 1024);
    wbi_buf_init(&req->body, 8 * WBI_BK_REQUEST_MAX);
    wandb_err rc = WANDB_OK;
    if (req->kind != S_REQ_FS)
        rc = wbi_buf_puts(&req->url, self->graphql_url);
    if (rc != WANDB_OK)
        return rc;
    switch (req->kind) {
    case S_REQ_FEATURES:
        return wbi_bk_features_body(&req->body);
    case S_REQ_UPSERT:
    case S_REQ_CONFIG: {
        char *wrapped = NULL;
        if (req->config) {
            char err[160];
            if (wbi_bk_config_wrap(req->config, &wrapped, err, sizeof err) == WANDB_EPROTO)
                wbi_warn("run '%s': config not sent: %s", run->run_id, err);
        }
        bool first = req->kind == S_REQ_UPSERT;
        // The first upsert names the caller's entity (null: the server's
        // default); later ones name the entity the server answered, as
        // wandb-core does.
        wbi_bk_upsert_t u = {.id = run->bucket_id,
                             .name = run->run_id,
                             .project = run->project,
                             .entity = first ? run->entity : s_entity(run),
                             .config = wrapped};
        if (first) {
            u.group = run->group;
            u.display_name = run->display_name;
            u.notes = run->notes;
            u.host = run->host;
            u.program = run->program;
            u.job_type = run->job_type;
            u.tags = run->tags;
        }
        rc = wbi_bk_upsert_body(&req->body, &u);
        wbi_free(wrapped);
        return rc;
    }
    case S_REQ_ALERT:
        return wbi_bk_alert_body(&req->body, s_entity(run), run->project, run->run_id,
                                 req->alert->title, req->alert->text, req->alert->level,
                                 req->alert->wait_ms);
    case S_REQ_FILES: {
        const char *names[S_FILES_BATCH];
        size_t n = 0;
        for (const s_file_t *f = req->files; f && n < S_FILES_BATCH; f = f->next)
            names[n++] = f->name;
        return wbi_bk_files_body(&req->body, s_entity(run), run->project, run->run_id, names, n);
    }
    case S_REQ_PUT:
        // The bytes stay in the file; only the URL is kept here.
        wbi_buf_reset(&req->url);
        return wbi_buf_puts(&req->url, req->files->url);
    case S_REQ_FS: {
        const char *entity = s_entity(run);
        if (!entity) {
            snprintf(msg, msglen, "run '%s': no entity for the file_stream URL", run->run_id);
            return WANDB_EINVAL;
        }
        rc = wbi_bk_fs_url(&req->url, self->base_url, entity, run->project, run->run_id);
        if (rc != WANDB_OK)
            return rc;
        wbi_bk_fs_t fs = {.offset = run->hist_offset,
                          .lines = run->p_head,
                          .nlines = req->avail,
                          .summary = req->summary,
                          .summary_len = req->summary_len,
                          .uploaded = (const char *const *)req->uploaded,
                          .nuploaded = req->nuploaded,
                          .preempting = req->preempting,
                          .finishing = req->finishing,
                          .exit_code = req->exit_code};
        return wbi_bk_fs_body(&req->body, &fs, &req->nlines, &req->completed);
    }
    default:
        return WANDB_EINVAL;
    }
}

// Name of a request kind, for messages.
static const char *s_kind_name(s_req_kind kind)
{
    switch (kind) {
    case S_REQ_FEATURES:
        return "ServerFeaturesQuery";
    case S_REQ_UPSERT:
    case S_REQ_CONFIG:
        return "UpsertBucket";
    case S_REQ_ALERT:
        return "NotifyScriptableRunAlert";
    case S_REQ_FS:
        return "file_stream";
    case S_REQ_FILES:
        return "CreateRunFiles";
    case S_REQ_PUT:
        return "upload";
    default:
        return "request";
    }
}

// Makes one attempt and decides what comes next.
static void s_attempt(wbi_backend_t *self, wbi_backend_run_t *run, s_req_t *req, s_outcome_t *o)
{
    *o = (s_outcome_t){.verdict = WBI_BK_FAIL};
    const char *what = s_kind_name(req->kind);
    const char *rid = run ? run->run_id : "-";
    if (!req->built) {
        char msg[256] = "";
        wandb_err rc = s_build(self, run, req, msg, sizeof msg);
        if (rc != WANDB_OK) {
            if (!msg[0])
                snprintf(msg, sizeof msg, "run '%.64s': cannot build %s: %s", rid, what,
                         wandb_strerror(rc));
            snprintf(o->msg, sizeof o->msg, "%s", msg);
            wbi_err("%s", o->msg);
            return;
        }
        req->built = true;
    }
    req->attempt++;
    wbi_http_result_t res;
    if (req->kind == S_REQ_PUT)
        wbi_http_put(self->http, req->url.data, req->files->data, req->files->len,
                     (const char *const *)run->up_headers, run->n_up_headers, &res);
    else
        wbi_http_post(self->http, req->url.data, req->body.data, req->body.len,
                      req->kind != S_REQ_FS, &res);
    o->answered = res.err == WANDB_OK;
    if (res.err != WANDB_OK) {
        o->verdict =
            (res.err == WANDB_EINVAL || res.err == WANDB_ECLOSED) ? WBI_BK_FAIL : WBI_BK_RETRY;
        snprintf(o->msg, sizeof o->msg, "run '%.64s': %s failed: %.160s", rid, what, res.errmsg);
    } else {
        o->verdict =
            wbi_bk_classify(res.status, req->kind == S_REQ_UPSERT || req->kind == S_REQ_CONFIG);
        if (o->verdict != WBI_BK_DONE)
            snprintf(o->msg, sizeof o->msg, "run '%.64s': %s answered HTTP %ld (%s)", rid, what,
                     res.status, wandb_strerror(wbi_http_status_err(res.status)));
    }
    if (o->verdict == WBI_BK_DONE && req->kind != S_REQ_FS && req->kind != S_REQ_PUT) {
        // A GraphQL 200 with errors is a failure that a retry does not fix.
        char err[200] = "";
        wandb_err rc;
        if (res.truncated) {
            rc = WANDB_ETOOBIG;
            snprintf(err, sizeof err, "answer over %zu bytes", (size_t)WBI_HTTP_ANSWER_MAX);
        } else if (req->kind == S_REQ_UPSERT) {
            rc = wbi_bk_parse_upsert(res.body, res.body_len, &o->bucket, err, sizeof err);
        } else if (req->kind == S_REQ_FILES) {
            const char *names[S_FILES_BATCH];
            size_t n = 0;
            for (const s_file_t *f = req->files; f && n < S_FILES_BATCH; f = f->next)
                names[n++] = f->name;
            rc = wbi_bk_parse_files(res.body, res.body_len, names, n, &o->files, err, sizeof err);
        } else {
            json_t *data = NULL;
            rc = wbi_bk_graphql_data(res.body, res.body_len, &data, err, sizeof err);
            json_decref(data);
        }
        bool upsert = req->kind == S_REQ_UPSERT || req->kind == S_REQ_CONFIG;
        if (rc != WANDB_OK && upsert && rc != WANDB_EBACKEND) {
            // A 2xx without GraphQL errors upserted the bucket; only what the
            // answer says is lost: go on with name, project and entity.
            wbi_bk_bucket_release(&o->bucket);
            wbi_warn("run '%.64s': %s answer unusable (%.160s); going on without bucket id "
                     "and server entity",
                     rid, what, err);
        } else if (rc != WANDB_OK) {
            o->verdict = WBI_BK_FAIL;
            snprintf(o->msg, sizeof o->msg, "run '%.64s': %s: %.160s", rid, what, err);
        }
    }
    if (o->verdict == WBI_BK_RETRY) {
        int max_attempts =
            req->kind == S_REQ_FEATURES ? S_FEATURES_ATTEMPTS : 1 + self->max_retries;
        if (atomic_load(&self->stop) || req->attempt >= max_attempts) {
            o->verdict = WBI_BK_FAIL;
            size_t n = strlen(o->msg);
            snprintf(o->msg + n, sizeof o->msg - n, "; gave up after %d attempts", req->attempt);
        } else if (res.retry_after_ms >= 0) {
            o->wait_ms = res.retry_after_ms;
        } else {
            double j = (double)rand_r(&self->rand_state) / (double)RAND_MAX;
            o->wait_ms =
                wbi_bk_backoff_ms(req->attempt - 1, self->retry_min_ms, self->retry_max_ms, j);
        }
    }
    if (atomic_load(&self->stop))
        return;
    if (o->verdict == WBI_BK_RETRY)
        wbi_info("%s; retrying in %lld ms", o->msg, (long long)o->wait_ms);
    else if (o->verdict == WBI_BK_FAIL && req->kind == S_REQ_FEATURES)
        wbi_info("%s; continuing without server features", o->msg);
    else if (o->verdict == WBI_BK_FAIL)
        wbi_err("%s", o->msg);
}

// --- applying the outcome (lock held) ---------------------------------------

// Moves the name of an uploaded file into the run's "uploaded" list (taking
// the file), so that the next file_stream request reports it.
static void s_note_uploaded(wbi_backend_run_t *run, s_file_t *f)
{
    for (size_t i = 0; i < run->n_uploaded; i++) {
        if (strcmp(run->uploaded[i], f->name) == 0) {
            s_files_free(f); // already waiting to be reported
            return;
        }
    }
    if (run->n_uploaded == run->cap_uploaded && run->cap_uploaded < S_UPLOADED_MAX) {
        size_t cap = run->cap_uploaded ? run->cap_uploaded * 2 : 8;
        if (cap > S_UPLOADED_MAX)
            cap = S_UPLOADED_MAX;
        char **p = wbi_realloc(run->uploaded, cap * sizeof *p);
        if (p) {
            run->uploaded = p;
            run->cap_uploaded = cap;
        }
    }
    if (run->n_uploaded < run->cap_uploaded) {
        run->uploaded[run->n_uploaded++] = f->name;
        f->name = NULL;
    } else {
        wbi_warn("run '%s': '%s' uploaded but not reported: too many names", run->run_id, f->name);
    }
    s_files_free(f);
}

// CreateRunFiles answered: files with an uploadUrl wait for their PUT, the
// others are done (the server needs no upload); the uploadHeaders are kept.
// They hold for this batch only: every PUT of it goes before the next
// CreateRunFiles (s_take_work), so replacing them here is safe.
static void s_on_files(wbi_backend_t *self, wbi_backend_run_t *run, s_req_t *req,
                       wbi_bk_files_t *ans)
{
    s_file_t *f = req->files;
    req->files = NULL;
    for (size_t i = 0; f; i++) {
        s_file_t *next = f->next;
        f->next = NULL;
        char *url = i < ans->n ? ans->urls[i] : NULL;
        if (url) {
            ans->urls[i] = NULL;
            f->url = url;
            if (run->u_tail)
                run->u_tail->next = f;
            else
                run->u_head = f;
            run->u_tail = f;
        } else {
            self->file_bytes -= f->len < self->file_bytes ? f->len : self->file_bytes;
            wbi_debug("run '%s': no upload URL for '%s': skipped", run->run_id, f->name);
            s_files_free(f);
        }
        f = next;
    }
    s_strv_free(run->up_headers, run->n_up_headers);
    run->up_headers = ans->headers;
    run->n_up_headers = ans->nheaders;
    ans->headers = NULL;
    ans->nheaders = 0;
}

// The request was accepted: advance the run's state.
static void s_on_done(wbi_backend_t *self, wbi_backend_run_t *run, s_req_t *req, s_outcome_t *o,
                      int64_t now)
{
    switch (req->kind) {
    case S_REQ_FEATURES:
        break; // the answer is not used yet
    case S_REQ_UPSERT:
        if (!self->features_done) { // once per backend, after the first upsert (as wandb-core)
            self->features_done = true;
            self->features = (s_req_t){.kind = S_REQ_FEATURES, .due_ms = now};
        }
        run->upserted = true;
        run->bucket_id = o->bucket.bucket_id;
        run->srv_entity = o->bucket.entity;
        if (o->bucket.history_line_count > 0)
            run->hist_offset = o->bucket.history_line_count;
        o->bucket = (wbi_bk_bucket_t){0};
        run->last_fs_ms = now;
        run->next_flush_ms = now;
        break;
    case S_REQ_FS: {
        size_t bytes = 0;
        for (size_t i = 0; i < req->nlines && run->p_head; i++) {
            wbi_bk_line_t *line = run->p_head;
            run->p_head = line->next;
            run->p_count--;
            bytes += line->len;
            wbi_free(line);
        }
        if (!run->p_head)
            run->p_tail = NULL;
        self->queued_bytes -= bytes < self->queued_bytes ? bytes : self->queued_bytes;
        run->hist_offset += (int64_t)req->nlines;
        self->stats.history_lines_sent += req->nlines;
        run->completed |= req->completed;
        run->last_fs_ms = now;
        run->next_flush_ms = run->p_count ? now : now + self->flush_ms;
        break;
    }
    case S_REQ_ALERT:
        s_alert_sent(run, req->alert->title, now);
        break;
    case S_REQ_FILES:
        s_on_files(self, run, req, &o->files);
        break;
    case S_REQ_PUT: {
        s_file_t *f = req->files;
        req->files = NULL;
        self->file_bytes -= f->len < self->file_bytes ? f->len : self->file_bytes;
        s_note_uploaded(run, f);
        break;
    }
    default:
        break;
    }
}

// Applies one attempt's outcome to the request and its run.
static void s_apply(wbi_backend_t *self, wbi_backend_run_t *run, s_req_t *req, s_outcome_t *o)
{
    int64_t now = s_now_ms();
    if (o->answered)
        self->stats.requests++;
    if (o->verdict == WBI_BK_RETRY) {
        self->stats.retries++;
        req->due_ms = now + o->wait_ms;
        if (!atomic_load(&self->stop)) {
            char msg[sizeof self->errmsg];
            snprintf(msg, sizeof msg, "%.200s; retrying in %lld ms", o->msg, (long long)o->wait_ms);
            s_set_error(self, msg);
        }
        return;
    }
    if (o->verdict == WBI_BK_DONE) {
        s_on_done(self, run, req, o, now);
    } else if (!atomic_load(&self->stop)) {
        self->stats.failures++;
        s_set_error(self, o->msg);
        // a failed ServerFeaturesQuery means no features: not fatal
        if (req->kind == S_REQ_UPSERT || req->kind == S_REQ_FS)
            s_run_drop(self, run); // the run cannot go on without these
        else if (req->kind == S_REQ_FILES || req->kind == S_REQ_PUT) {
            size_t bytes = s_files_free(req->files); // those files are lost; the run goes on
            req->files = NULL;
            self->file_bytes -= bytes < self->file_bytes ? bytes : self->file_bytes;
        }
    }
    wbi_bk_bucket_release(&o->bucket);
    wbi_bk_files_release(&o->files);
    s_req_clear(req);
}

// The sending thread.
static void *s_main(void *arg)
{
    wbi_backend_t *self = arg;
    pthread_mutex_lock(&self->mu);
    while (!atomic_load(&self->stop)) {
        int64_t now = s_now_ms();
        int64_t wake = now + S_IDLE_WAKE_MS;
        wbi_backend_run_t *run = NULL;
        s_req_t *req = s_pick(self, now, &wake, &run);
        if (!req) {
            s_wait_until(&self->wake, &self->mu, wake);
            continue;
        }
        pthread_mutex_unlock(&self->mu);
        s_outcome_t o;
        s_attempt(self, run, req, &o);
        pthread_mutex_lock(&self->mu);
        s_apply(self, run, req, &o);
        pthread_cond_broadcast(&self->done);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

// --- public API -------------------------------------------------------------

// Initialises a condition variable on the monotonic clock.
static int s_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

// Normalises the options, creates the CURL handle and starts the thread.
wandb_err wbi_backend_new(wbi_backend_t **out, const wbi_backend_opts_t *opts)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!opts || !opts->base_url || !*opts->base_url)
        return WANDB_EINVAL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return WANDB_EIO;
    wbi_backend_t *self = wbi_calloc(1, sizeof *self);
    if (!self) {
        curl_global_cleanup();
        return WANDB_ENOMEM;
    }
    atomic_init(&self->stop, false);
    self->flush_ms = opts->flush_interval_ms > 0 ? opts->flush_interval_ms : 15000;
    self->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 30000;
    self->max_retries = opts->max_retries > 0 ? opts->max_retries : opts->max_retries < 0 ? 0 : 20;
    self->retry_min_ms = opts->retry_min_ms > 0 ? opts->retry_min_ms : 2000;
    self->retry_max_ms = opts->retry_max_ms > 0 ? opts->retry_max_ms : 60000;
    if (self->retry_max_ms < self->retry_min_ms)
        self->retry_max_ms = self->retry_min_ms;
    self->debounce_ms =
        self->flush_ms < S_CONFIG_DEBOUNCE_MS ? self->flush_ms : S_CONFIG_DEBOUNCE_MS;
    self->rand_state = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)self;
    pthread_mutex_init(&self->mu, NULL);
    s_cond_init(&self->wake);
    s_cond_init(&self->done);
    wandb_err rc = WANDB_ENOMEM;
    size_t blen = strlen(opts->base_url);
    while (blen > 0 && opts->base_url[blen - 1] == '/')
        blen--;
    self->base_url = wbi_strndup(opts->base_url, blen);
    self->graphql_url = self->base_url ? wbi_malloc(blen + sizeof "/graphql") : NULL;
    if (!self->graphql_url)
        goto fail;
    snprintf(self->graphql_url, blen + sizeof "/graphql", "%s/graphql", self->base_url);
    rc = wbi_http_new(&self->http, opts->api_key, opts->request_timeout_ms, &self->stop);
    if (rc != WANDB_OK)
        goto fail;
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        rc = WANDB_EIO;
        goto fail;
    }
    self->thread_started = true;
    *out = self;
    return WANDB_OK;
fail:
    wbi_backend_destroy(&self);
    return rc;
}

// Frees a run and everything it holds (the thread is gone).
static void s_run_free(wbi_backend_run_t *run)
{
    s_free_lines(run->q_head);
    s_free_lines(run->p_head);
    while (run->a_head) {
        s_alert_t *a = run->a_head;
        run->a_head = a->next;
        s_alert_free(a);
    }
    s_req_clear(&run->req);
    s_files_free(run->f_head);
    s_files_free(run->u_head);
    s_strv_free(run->up_headers, run->n_up_headers);
    s_strv_free(run->uploaded, run->n_uploaded);
    for (size_t i = 0; i < S_ALERT_TITLES; i++)
        wbi_free(run->sent.at[i].title);
    char *fields[] = {run->run_id,    run->project,      run->entity,  run->group,
                      run->job_type,  run->display_name, run->notes,   run->host,
                      run->program,   run->tags,         run->summary, run->config,
                      run->bucket_id, run->srv_entity};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        wbi_free(fields[i]);
    wbi_free(run);
}

// Stops and joins the thread, then frees every run (unsent data is dropped).
void wbi_backend_destroy(wbi_backend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_backend_t *self = *self_p;
    if (self->thread_started) {
        pthread_mutex_lock(&self->mu);
        atomic_store(&self->stop, true);
        pthread_cond_broadcast(&self->wake);
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->thread, NULL);
    }
    uint64_t dropped = self->dropped, alerts = 0, late = 0;
    while (self->runs) {
        wbi_backend_run_t *run = self->runs;
        self->runs = run->next;
        dropped += run->dropped;
        alerts += run->a_dropped;
        late += run->late;
        s_run_free(run);
    }
    if (dropped)
        wbi_warn("backend: %llu history lines were dropped", (unsigned long long)dropped);
    if (alerts)
        wbi_warn("backend: %llu alerts were dropped (queue full or repeated within their wait)",
                 (unsigned long long)alerts);
    if (late)
        wbi_warn("backend: %llu summaries, configs, alerts or files arrived after finish",
                 (unsigned long long)late);
    s_req_clear(&self->features);
    wbi_http_destroy(&self->http);
    wbi_free(self->base_url);
    wbi_free(self->graphql_url);
    pthread_cond_destroy(&self->wake);
    pthread_cond_destroy(&self->done);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
    curl_global_cleanup();
    *self_p = NULL;
}

// Copies the meta and queues the run; the thread sends its UpsertBucket.
wbi_backend_run_t *wbi_backend_run_open(wbi_backend_t *self, const wbi_run_meta_t *meta)
{
    if (!self || !meta || !meta->run_id || !*meta->run_id || !meta->project || !*meta->project)
        return NULL;
    wbi_backend_run_t *run = wbi_calloc(1, sizeof *run);
    if (!run)
        return NULL;
    bool ok = true;
    run->run_id = s_dup(meta->run_id, &ok);
    run->project = s_dup(meta->project, &ok);
    run->entity = meta->entity && *meta->entity ? s_dup(meta->entity, &ok) : NULL;
    run->group = s_dup(meta->group, &ok);
    run->job_type = s_dup(meta->job_type, &ok);
    run->display_name = s_dup(meta->display_name, &ok);
    run->notes = s_dup(meta->notes, &ok);
    run->host = s_dup(meta->host, &ok);
    run->program = s_dup(meta->program, &ok);
    run->tags = s_dup(meta->tags, &ok);
    run->config = s_dup(meta->config_json, &ok);
    if (!ok) {
        s_run_free(run);
        return NULL;
    }
    pthread_mutex_lock(&self->mu);
    if (self->last)
        self->last->next = run;
    else
        self->runs = run;
    self->last = run;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->mu);
    return run;
}

// Validates and copies a line outside the lock, then appends it to the run queue.
void wbi_backend_run_history(wbi_backend_t *self, wbi_backend_run_t *run, const char *line,
                             size_t len)
{
    if (!self || !run || !line)
        return;
    const char *why = NULL;
    if (len > WBI_BK_LINE_MAX)
        why = "is over the backend's line limit";
    else if (!wbi_utf8_valid(line, len))
        why = "is not valid UTF-8";
    wbi_bk_line_t *node = why ? NULL : wbi_malloc(sizeof *node + len + 1);
    if (!why && !node)
        why = "does not fit in memory";
    if (node) {
        node->next = NULL;
        node->len = len;
        memcpy(node->data, line, len);
        node->data[len] = '\0';
    }
    bool full_warning = false;
    pthread_mutex_lock(&self->mu);
    if (why || run->dead || run->finish || run->completed) {
        run->dropped++;
        if (!why && !run->dead)
            why = "arrived after finish";
    } else if (self->queued_bytes + len > S_QUEUE_MAX) {
        self->dropped++;
        full_warning = !self->warned_full;
        self->warned_full = true;
    } else {
        bool wake = run->q_count == 0 && run->p_count == 0;
        if (run->q_tail)
            run->q_tail->next = node;
        else
            run->q_head = node;
        run->q_tail = node;
        run->q_count++;
        run->abandoned = false; // it speaks again: heartbeats resume
        self->queued_bytes += len;
        node = NULL;
        if (wake)
            pthread_cond_signal(&self->wake);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(node);
    if (why)
        wbi_warn("run '%s': history line of %zu bytes dropped: it %s", run->run_id, len, why);
    if (full_warning)
        wbi_warn("backend: more than %zu bytes queued; history lines are dropped (logged once)",
                 S_QUEUE_MAX);
}

// Replaces the pending summary; only the newest one is sent.
void wbi_backend_run_summary(wbi_backend_t *self, wbi_backend_run_t *run, const char *json,
                             size_t len)
{
    if (!self || !run || !json)
        return;
    if (len > WBI_BK_LINE_MAX || !wbi_utf8_valid(json, len)) {
        wbi_warn("run '%s': summary of %zu bytes dropped: too big or not UTF-8", run->run_id, len);
        return;
    }
    char *copy = wbi_strndup(json, len);
    if (!copy)
        return;
    pthread_mutex_lock(&self->mu);
    char *old = NULL;
    bool late = !run->dead && run->finish;
    if (late) {
        run->late++;
    } else if (!run->dead) {
        old = run->summary;
        run->summary = copy;
        run->summary_len = len;
        copy = NULL;
        run->abandoned = false; // it speaks again: heartbeats resume
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(old);
    wbi_free(copy);
    if (late)
        wbi_warn("run '%s': summary dropped: it arrived after finish", run->run_id);
}

// Replaces the pending config; after the first upsert it is sent debounced.
void wbi_backend_run_config(wbi_backend_t *self, wbi_backend_run_t *run, const char *config_json)
{
    if (!self || !run || !config_json)
        return;
    char *copy = wbi_strdup(config_json);
    if (!copy)
        return;
    pthread_mutex_lock(&self->mu);
    char *old = NULL;
    bool late = !run->dead && run->finish;
    if (late) {
        run->late++;
    } else if (!run->dead) {
        run->abandoned = false;
        old = run->config;
        run->config = copy;
        run->config_dirty = run->upserted || run->req.kind == S_REQ_UPSERT;
        run->config_ms = s_now_ms();
        copy = NULL;
        pthread_cond_signal(&self->wake);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(old);
    wbi_free(copy);
    if (late)
        wbi_warn("run '%s': config dropped: it arrived after finish", run->run_id);
}

// Queues an alert for NotifyScriptableRunAlert.
void wbi_backend_run_alert(wbi_backend_t *self, wbi_backend_run_t *run, const char *title,
                           const char *text, const char *level, int64_t wait_ms)
{
    if (!self || !run)
        return;
    s_alert_t *a = wbi_calloc(1, sizeof *a);
    bool ok = a != NULL;
    if (a) {
        a->title = s_dup(title ? title : "", &ok);
        a->text = s_dup(text ? text : "", &ok);
        a->level = s_dup(level ? level : "INFO", &ok);
        a->wait_ms = wait_ms;
    }
    if (!ok) {
        s_alert_free(a);
        return;
    }
    bool late = false, full_warning = false;
    pthread_mutex_lock(&self->mu);
    if (!run->dead && run->finish) {
        late = true;
        run->late++;
    } else if (!run->dead && run->a_count >= S_ALERTS_MAX) {
        run->a_dropped++;
        full_warning = !run->a_warned;
        run->a_warned = true;
    } else if (!run->dead) {
        if (run->a_tail)
            run->a_tail->next = a;
        else
            run->a_head = a;
        run->a_tail = a;
        run->a_count++;
        run->abandoned = false;
        a = NULL;
        pthread_cond_signal(&self->wake);
    }
    pthread_mutex_unlock(&self->mu);
    s_alert_free(a);
    if (late)
        wbi_warn("run '%s': alert dropped: it arrived after finish", run->run_id);
    if (full_warning)
        wbi_warn("run '%s': more than %d alerts queued; new alerts are dropped (logged once)",
                 run->run_id, S_ALERTS_MAX);
}

// Replaces the bytes of a queued file of the same name; true when found.
static bool s_file_replace(s_file_t *f, const char *name, char **data_p, size_t len,
                           size_t *old_len)
{
    for (; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            *old_len = f->len;
            wbi_free(f->data);
            f->data = *data_p;
            f->len = len;
            *data_p = NULL;
            return true;
        }
    }
    return false;
}

// Queues a run file for CreateRunFiles + PUT (takes the bytes).
wandb_err wbi_backend_run_file(wbi_backend_t *self, wbi_backend_run_t *run, const char *name,
                               char **data_p, size_t len)
{
    if (!data_p)
        return WANDB_EINVAL;
    wandb_err rc = WANDB_EINVAL;
    s_file_t *f = NULL;
    if (!self || !run || !wbi_run_file_name_ok(name) || (!*data_p && len > 0))
        goto out_free;
    rc = WANDB_ENOMEM;
    f = wbi_calloc(1, sizeof *f);
    if (!f || !(f->name = wbi_strdup(name)))
        goto out_free;
    pthread_mutex_lock(&self->mu);
    size_t old = 0;
    bool late = !run->dead && run->finish;
    if (run->dead || run->finish) {
        rc = WANDB_ECLOSED;
        run->late += late;
    } else if (self->file_bytes + len > S_FILES_MAX) {
        rc = WANDB_EFULL;
    } else if (s_file_replace(run->f_head, name, data_p, len, &old) ||
               s_file_replace(run->u_head, name, data_p, len, &old)) {
        self->file_bytes += len;
        self->file_bytes -= old < self->file_bytes ? old : self->file_bytes;
        run->abandoned = false;
        rc = WANDB_OK; // the newer bytes go out with the queued entry
    } else {
        f->data = *data_p;
        f->len = len;
        *data_p = NULL;
        if (run->f_tail)
            run->f_tail->next = f;
        else
            run->f_head = f;
        run->f_tail = f;
        f = NULL;
        self->file_bytes += len;
        run->abandoned = false;
        pthread_cond_signal(&self->wake);
        rc = WANDB_OK;
    }
    pthread_mutex_unlock(&self->mu);
    if (late)
        wbi_warn("run '%s': file '%s' dropped: it arrived after finish", run->run_id, name);
    if (rc == WANDB_EFULL)
        wbi_warn("run '%s': file '%s' (%zu bytes) dropped: more than %zu bytes of files queued",
                 run->run_id, name, len, S_FILES_MAX);
out_free:
    s_files_free(f);
    wbi_free(*data_p);
    *data_p = NULL;
    return rc;
}

// Flags preempting; the thread sends it without waiting for the interval.
void wbi_backend_run_preempting(wbi_backend_t *self, wbi_backend_run_t *run)
{
    if (!self || !run)
        return;
    pthread_mutex_lock(&self->mu);
    if (!run->dead && !run->completed) {
        run->preempt = true;
        run->abandoned = false;
        pthread_cond_signal(&self->wake);
    }
    pthread_mutex_unlock(&self->mu);
}

// Stops heartbeats for a run whose process went silent.
void wbi_backend_run_abandon(wbi_backend_t *self, wbi_backend_run_t *run)
{
    if (!self || !run)
        return;
    pthread_mutex_lock(&self->mu);
    run->abandoned = true;
    pthread_mutex_unlock(&self->mu);
}

// Marks the run ended; complete/exitcode follow once its data is out.
void wbi_backend_run_finish(wbi_backend_t *self, wbi_backend_run_t *run, int exit_code)
{
    if (!self || !run)
        return;
    pthread_mutex_lock(&self->mu);
    if (!run->finish) {
        run->finish = true;
        run->exit_code = exit_code;
        pthread_cond_signal(&self->wake);
    }
    pthread_mutex_unlock(&self->mu);
}

// Copies the entity the server named for the run (the caller's if the server gave none).
bool wbi_backend_run_entity(wbi_backend_t *self, wbi_backend_run_t *run, char *buf, size_t len)
{
    if (buf && len)
        buf[0] = '\0';
    if (!self || !run)
        return false;
    pthread_mutex_lock(&self->mu);
    bool known = run->upserted && s_entity(run);
    if (known && buf && len)
        snprintf(buf, len, "%s", run->srv_entity ? run->srv_entity : run->entity);
    pthread_mutex_unlock(&self->mu);
    return known;
}

// True when nothing accepted so far is still unacknowledged (lock held).
static bool s_idle(const wbi_backend_t *self)
{
    for (const wbi_backend_run_t *r = self->runs; r; r = r->next) {
        if (r->dead)
            continue;
        bool busy = !r->upserted || r->q_count || r->p_count || r->summary || r->config_dirty ||
                    r->a_head || r->preempt || r->f_head || r->u_head || r->n_uploaded ||
                    r->req.kind != S_REQ_NONE || (r->finish && !r->completed);
        if (busy)
            return false;
    }
    return true;
}

// Flushes now and waits on `done` until every run is idle or the deadline passes.
wandb_err wbi_backend_drain(wbi_backend_t *self, int timeout_ms)
{
    if (!self)
        return WANDB_EINVAL;
    int64_t deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    wandb_err rc = WANDB_OK;
    pthread_mutex_lock(&self->mu);
    self->draining++;
    pthread_cond_broadcast(&self->wake);
    while (!s_idle(self)) {
        if (s_now_ms() >= deadline || s_wait_until(&self->done, &self->mu, deadline) == ETIMEDOUT) {
            rc = s_idle(self) ? WANDB_OK : WANDB_ETIMEDOUT;
            break;
        }
    }
    self->draining--;
    pthread_mutex_unlock(&self->mu);
    return rc;
}

// Copies the counters.
void wbi_backend_get_stats(wbi_backend_t *self, wbi_backend_stats_t *out)
{
    if (!out)
        return;
    *out = (wbi_backend_stats_t){0};
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    *out = self->stats;
    pthread_mutex_unlock(&self->mu);
}

// Copies the error text into a buffer that only this function writes
// (concurrent callers may see each other's copy).
const char *wbi_backend_errmsg(wbi_backend_t *self)
{
    if (!self)
        return "";
    pthread_mutex_lock(&self->mu);
    snprintf(self->errmsg_out, sizeof self->errmsg_out, "%s", self->errmsg);
    pthread_mutex_unlock(&self->mu);
    return self->errmsg_out;
}
