//  queue.c - what callers hand the backend, and freeing it
//  SPDX-License-Identifier: MIT
//
//  The public calls that queue data for a run (history, summary, config,
//  alerts, files, preempting, finish) copy it outside the lock, append it
//  under the lock and wake the thread. History lines wait in the run's list
//  q until the thread moves all of them to its list p in O(1) (a
//  file_stream request); they leave p only when acknowledged. The prefix
//  rule lives here: once a line of a run is refused, so is every later one.
//  One file (about 650 lines): every queueing call and the freeing it pairs with
//  follow the same lock rule, which is easier to check in one place.
#include "backend/artifact.h"
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"

#include <stdio.h>
#include <string.h>

// --- freeing and moving (lock held, or the thread is gone) -------------------

size_t wbi_bkq_free_lines(wbi_bk_line_t *line)
{
    size_t bytes = 0;
    while (line) {
        wbi_bk_line_t *next = WBI_BK_LINE_NEXT(line);
        bytes += line->len;
        wbi_free(line);
        line = next;
    }
    return bytes;
}

void wbi_bkq_alert_free(wbi_bk_alert_t *a)
{
    if (!a)
        return;
    wbi_free(a->title);
    wbi_free(a->text);
    wbi_free(a->level);
    wbi_free(a);
}

// Frees every alert of a list.
static void s_alerts_free(wbi_list_t *list)
{
    wbi_list_node_t *n;
    while ((n = wbi_list_pop(list)))
        wbi_bkq_alert_free(WBI_LIST_ITEM(n, wbi_bk_alert_t, node));
}

// Frees the run's artifact jobs (the one in progress is the head: its
// request no longer points at it).
static void s_art_list_free(wbi_backend_run_t *run)
{
    if (run->req.kind == WBI_BK_REQ_ART)
        run->req.art = NULL;
    wbi_list_node_t *n;
    while ((n = wbi_list_pop(&run->art)))
        wbi_bk_art_free(WBI_LIST_ITEM(n, wbi_bk_art_t, node));
}

size_t wbi_bkq_files_free(wbi_bk_file_t *f)
{
    size_t bytes = 0;
    while (f) {
        wbi_bk_file_t *next = WBI_LIST_ITEM(f->node.next, wbi_bk_file_t, node);
        bytes += f->len;
        wbi_free(f->name);
        wbi_free(f->data);
        wbi_free(f->url);
        wbi_free(f);
        f = next;
    }
    return bytes;
}

// Frees every file of a list and returns their total length.
static size_t s_file_list_free(wbi_list_t *list)
{
    return wbi_bkq_files_free(WBI_LIST_ITEM(wbi_list_take_all(list), wbi_bk_file_t, node));
}

// Frees every line of a list and returns their total length.
static size_t s_line_list_free(wbi_list_t *list)
{
    return wbi_bkq_free_lines(WBI_LIST_ITEM(wbi_list_take_all(list), wbi_bk_line_t, node));
}

void wbi_bkq_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        wbi_free(v[i]);
    wbi_free(v);
}

void wbi_bkq_req_clear(wbi_bk_req_t *req)
{
    wbi_buf_release(&req->url);
    wbi_buf_release(&req->body);
    wbi_free(req->config);
    for (int i = 0; i < 3; i++)
        wbi_free(req->meta[i]);
    wbi_bkq_alert_free(req->alert);
    wbi_free(req->summary);
    wbi_bkq_files_free(req->files);
    wbi_bkq_strv_free(req->uploaded, req->nuploaded);
    *req = (wbi_bk_req_t){0};
}

void wbi_bkq_run_drop(wbi_backend_t *self, wbi_backend_run_t *run)
{
    size_t lines = run->q.count + run->p.count;
    run->dropped += lines;
    self->stats.lines_refused += lines;
    size_t bytes = s_line_list_free(&run->q) + s_line_list_free(&run->p);
    size_t sbytes = 0;
    for (int f = 0; f < WBI_STREAMS; f++) {
        size_t n = run->sq[f].count + run->sp[f].count;
        run->dropped += n;
        self->stats.lines_refused += n;
        sbytes += s_line_list_free(&run->sq[f]) + s_line_list_free(&run->sp[f]);
    }
    bytes += sbytes;
    self->queued_bytes -= bytes < self->queued_bytes ? bytes : self->queued_bytes;
    self->stream_bytes -= sbytes < self->stream_bytes ? sbytes : self->stream_bytes;
    wbi_free(run->summary);
    run->summary = NULL;
    wbi_free(run->config);
    run->config = NULL;
    run->config_dirty = false;
    for (int i = 0; i < 3; i++) {
        wbi_free(run->meta[i]);
        run->meta[i] = NULL;
    }
    run->meta_dirty = false;
    s_alerts_free(&run->a);
    size_t fbytes = s_file_list_free(&run->f) + s_file_list_free(&run->u);
    s_art_list_free(run);
    self->file_bytes -= fbytes < self->file_bytes ? fbytes : self->file_bytes;
    wbi_bkq_strv_free(run->uploaded, run->n_uploaded);
    run->uploaded = NULL;
    run->n_uploaded = run->cap_uploaded = 0;
    run->preempt = false;
    if (!run->dead && !run->completed && self->nlive > 0)
        self->nlive--;
    run->dead = true;
}

void wbi_bkq_take_fs(wbi_backend_run_t *run, int64_t now)
{
    wbi_bk_req_t *req = &run->req;
    wbi_list_splice(&run->p, &run->q); // hand the queued lines to the thread
    for (int f = 0; f < WBI_STREAMS; f++)
        wbi_list_splice(&run->sp[f], &run->sq[f]);
    // complete/exitcode only once no alert or file is left to go first
    bool last = run->finish && !wbi_bk_refused(run) && wbi_list_empty(&run->a) &&
                wbi_list_empty(&run->f) && wbi_list_empty(&run->u) && !wbi_bk_has_art(run);
    *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_FS,
                          .due_ms = now,
                          .summary = run->summary,
                          .summary_len = run->summary_len,
                          .preempting = run->preempt,
                          .finishing = last,
                          .exit_code = run->exit_code,
                          .avail = run->p.count,
                          .uploaded = run->uploaded,
                          .nuploaded = run->n_uploaded};
    for (int f = 0; f < WBI_STREAMS; f++)
        req->s_avail[f] = run->sp[f].count;
    run->summary = NULL;
    run->preempt = false;
    run->uploaded = NULL;
    run->n_uploaded = run->cap_uploaded = 0;
    run->fs_turn = false;
}

bool wbi_bkq_alert_recent(const wbi_backend_run_t *run, const wbi_bk_alert_t *a, int64_t now)
{
    for (size_t i = 0; i < WBI_BK_ALERT_TITLES; i++) {
        const wbi_bk_sent_t *t = &run->sent.at[i];
        if (t->title && strcmp(t->title, a->title) == 0 && now - t->at_ms < a->wait_ms)
            return true;
    }
    return false;
}

// Replaces the entry of the same title, else the oldest one.
void wbi_bkq_alert_sent(wbi_backend_run_t *run, const char *title, int64_t now)
{
    wbi_bk_sent_t *slot = &run->sent.at[0];
    for (size_t i = 0; i < WBI_BK_ALERT_TITLES; i++) {
        wbi_bk_sent_t *t = &run->sent.at[i];
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
    *slot = (wbi_bk_sent_t){.title = copy, .at_ms = now};
}

// The next file_stream request reports the name in "uploaded".
void wbi_bkq_note_uploaded(wbi_backend_run_t *run, wbi_bk_file_t *f)
{
    f->node.next = NULL;
    for (size_t i = 0; i < run->n_uploaded; i++) {
        if (strcmp(run->uploaded[i], f->name) == 0) {
            wbi_bkq_files_free(f); // already waiting to be reported
            return;
        }
    }
    if (run->n_uploaded == run->cap_uploaded && run->cap_uploaded < WBI_BK_UPLOADED_MAX) {
        size_t cap = run->cap_uploaded ? run->cap_uploaded * 2 : 8;
        if (cap > WBI_BK_UPLOADED_MAX)
            cap = WBI_BK_UPLOADED_MAX;
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
    wbi_bkq_files_free(f);
}

void wbi_bkq_retire_if_done(wbi_backend_t *self, wbi_backend_run_t *run)
{
    if (run->retired || run->dead || run->completed || !run->finish || !wbi_bk_refused(run) ||
        !wbi_list_empty(&run->q) || !wbi_list_empty(&run->p) || wbi_bk_has_stream(run) ||
        run->req.kind != WBI_BK_REQ_NONE)
        return;
    if (run->summary || run->config_dirty || run->meta_dirty || run->preempt || run->n_uploaded ||
        !wbi_list_empty(&run->a) || !wbi_list_empty(&run->f) || !wbi_list_empty(&run->u) ||
        wbi_bk_has_art(run))
        return; // what was queued before finish still goes out
    run->retired = true;
    if (self->nlive > 0)
        self->nlive--;
}

void wbi_bkq_run_free(wbi_backend_run_t *run)
{
    s_line_list_free(&run->q);
    s_line_list_free(&run->p);
    for (int f = 0; f < WBI_STREAMS; f++) {
        s_line_list_free(&run->sq[f]);
        s_line_list_free(&run->sp[f]);
    }
    s_alerts_free(&run->a);
    wbi_bkq_req_clear(&run->req);
    wbi_run_resume_release(&run->resume);
    s_file_list_free(&run->f);
    s_file_list_free(&run->u);
    s_art_list_free(run);
    wbi_bkq_strv_free(run->up_headers, run->n_up_headers);
    wbi_bkq_strv_free(run->uploaded, run->n_uploaded);
    for (size_t i = 0; i < WBI_BK_ALERT_TITLES; i++)
        wbi_free(run->sent.at[i].title);
    char *fields[] = {run->run_id,    run->project,      run->entity,  run->group,
                      run->job_type,  run->display_name, run->notes,   run->host,
                      run->program,   run->tags,         run->summary, run->config,
                      run->bucket_id, run->srv_entity};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        wbi_free(fields[i]);
    wbi_free(run);
}

// --- the public calls that queue data ------------------------------------------

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
    wbi_list_init(&run->q);
    wbi_list_init(&run->p);
    wbi_list_init(&run->a);
    wbi_list_init(&run->f);
    wbi_list_init(&run->art);
    wbi_list_init(&run->u);
    for (int f = 0; f < WBI_STREAMS; f++) {
        wbi_list_init(&run->sq[f]);
        wbi_list_init(&run->sp[f]);
        int64_t first = meta->stream_first_offset[f]; // no server count: the caller knows
        run->s_first[f] = run->s_offset[f] = first > 0 ? first : 0;
    }
    run->tag = meta->tag;
    run->has_first = meta->has_first_offset;
    run->meta_first = meta->first_offset > 0 ? meta->first_offset : 0;
    run->resume_mode = meta->resume;
    if (!ok) {
        wbi_bkq_run_free(run);
        return NULL;
    }
    pthread_mutex_lock(&self->mu);
    self->nlive++;
    if (self->last)
        self->last->next = run;
    else
        self->runs = run;
    self->last = run;
    wbi_bk_wake(self);
    pthread_mutex_unlock(&self->mu);
    return run;
}

// Validates a history or stream line and copies it into a new list node
// (outside the lock). Returns the node, or NULL with *why saying what is
// wrong with the line.
static wbi_bk_line_t *s_line_copy(const char *line, size_t len, const char **why)
{
    if (len > WBI_BK_LINE_MAX) {
        *why = "is over the backend's line limit";
        return NULL;
    }
    if (!wbi_utf8_valid(line, len)) {
        *why = "is not valid UTF-8";
        return NULL;
    }
    wbi_bk_line_t *node = wbi_malloc(sizeof *node + len + 1);
    if (!node) {
        *why = "does not fit in memory";
        return NULL;
    }
    node->len = len;
    memcpy(node->data, line, len);
    node->data[len] = '\0';
    return node;
}

// Validates and copies a line outside the lock, then appends it to the run queue.
void wbi_backend_run_history(wbi_backend_t *self, wbi_backend_run_t *run, const char *line,
                             size_t len)
{
    if (!self || !run || !line)
        return;
    const char *why = NULL;
    wbi_bk_line_t *node = s_line_copy(line, len, &why);
    bool full_warning = false, first_refusal = false;
    pthread_mutex_lock(&self->mu);
    bool after_finish = !run->dead && !run->refused && (run->finish || run->completed);
    if (!why && !run->dead && !run->refused && !after_finish &&
        self->queued_bytes + len > self->queue_max) {
        why = "does not fit in the backend queue";
        full_warning = !self->warned_full;
        self->warned_full = true;
    }
    if (why || run->dead || run->refused || after_finish) {
        run->dropped++;
        self->stats.lines_refused++;
        if (!after_finish) { // prefix rule: nothing after a refused line goes out
            first_refusal = !run->refused && !run->dead;
            run->refused = true;
        }
        if (after_finish)
            why = "arrived after finish";
    } else {
        bool wake = wbi_list_empty(&run->q) && wbi_list_empty(&run->p);
        wbi_list_append(&run->q, &node->node);
        run->abandoned = false; // it speaks again: heartbeats resume
        self->queued_bytes += len;
        node = NULL;
        if (wake)
            wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(node);
    if (full_warning)
        wbi_warn("backend: more than %zu bytes queued; history lines are refused (logged once)",
                 self->queue_max);
    if (first_refusal)
        wbi_warn("run '%s': history line of %zu bytes refused: it %s; later lines of the run are "
                 "refused too and its finish is left for a later sync",
                 run->run_id, len, why);
    else if (why && after_finish)
        wbi_warn("run '%s': history line of %zu bytes dropped: it %s", run->run_id, len, why);
}

// Validates and copies a stream line outside the lock, then appends it to
// the stream's queue: the history rules, per stream (see backend.h).
void wbi_backend_run_stream(wbi_backend_t *self, wbi_backend_run_t *run, int file, const char *line,
                            size_t len)
{
    if (!self || !run || !line || file < 0 || file >= WBI_STREAMS)
        return;
    const char *name = wbi_backend_stream_name(file);
    const char *why = NULL;
    wbi_bk_line_t *node = s_line_copy(line, len, &why);
    bool full_warning = false, first_refusal = false;
    pthread_mutex_lock(&self->mu);
    bool refused = run->dead || run->s_refused[file];
    bool after_finish = !refused && (run->finish || run->completed);
    if (!why && !refused && !after_finish &&
        (self->queued_bytes + len > self->queue_max ||
         self->stream_bytes + len > self->queue_max / 4)) {
        why = "does not fit in the backend queue";
        full_warning = !self->warned_stream_full;
        self->warned_stream_full = true;
    }
    if (why || refused || after_finish) {
        run->dropped++;
        self->stats.lines_refused++;
        if (!after_finish) { // prefix rule: nothing after a refused line of the stream goes out
            first_refusal = !refused;
            run->s_refused[file] = true;
        }
        if (after_finish)
            why = "arrived after finish";
    } else {
        bool wake = wbi_list_empty(&run->sq[file]) && wbi_list_empty(&run->sp[file]);
        wbi_list_append(&run->sq[file], &node->node);
        run->abandoned = false; // it speaks again: heartbeats resume
        self->queued_bytes += len;
        self->stream_bytes += len;
        node = NULL;
        if (wake)
            wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(node);
    if (full_warning)
        wbi_warn("backend: stream lines over their share of the queue (%zu bytes); event and "
                 "console lines are refused (logged once)",
                 self->queue_max / 4);
    if (first_refusal)
        wbi_warn("run '%s': %s line of %zu bytes refused: it %s; later lines of that file are "
                 "refused too and the run's finish is left for a later sync",
                 run->run_id, name, len, why);
    else if (why && after_finish)
        wbi_debug("run '%s': %s line of %zu bytes dropped: it %s", run->run_id, name, len, why);
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
        run->config_dirty = run->upserted || run->req.kind == WBI_BK_REQ_UPSERT;
        run->config_ms = wbi_bk_now_ms();
        copy = NULL;
        wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_free(old);
    wbi_free(copy);
    if (late)
        wbi_warn("run '%s': config dropped: it arrived after finish", run->run_id);
}

// Keeps the new display name, notes or tags for the next UpsertBucket
// (debounced like the config).
void wbi_backend_run_update(wbi_backend_t *self, wbi_backend_run_t *run, const char *display_name,
                            const char *notes, const char *tags)
{
    if (!self || !run)
        return;
    const char *in[3] = {display_name, notes, tags};
    char *copy[3] = {NULL, NULL, NULL};
    bool ok = true;
    for (int i = 0; i < 3; i++)
        copy[i] = s_dup(in[i], &ok);
    pthread_mutex_lock(&self->mu);
    bool late = !run->dead && run->finish;
    if (ok && !late && !run->dead) {
        for (int i = 0; i < 3; i++) {
            if (copy[i]) {
                wbi_free(run->meta[i]);
                run->meta[i] = copy[i];
                copy[i] = NULL;
            }
        }
        run->meta_dirty = true;
        run->config_ms = wbi_bk_now_ms();
        wbi_bk_wake(self);
    } else if (late) {
        run->late++;
    }
    pthread_mutex_unlock(&self->mu);
    for (int i = 0; i < 3; i++)
        wbi_free(copy[i]);
    if (late)
        wbi_warn("run '%s': name, notes or tags dropped: they arrived after finish", run->run_id);
    else if (!ok)
        wbi_warn("run '%s': name, notes or tags dropped: out of memory", run->run_id);
}

// Queues an alert for NotifyScriptableRunAlert.
void wbi_backend_run_alert(wbi_backend_t *self, wbi_backend_run_t *run, const char *title,
                           const char *text, const char *level, int64_t wait_ms)
{
    if (!self || !run)
        return;
    wbi_bk_alert_t *a = wbi_calloc(1, sizeof *a);
    bool ok = a != NULL;
    if (a) {
        a->title = s_dup(title ? title : "", &ok);
        a->text = s_dup(text ? text : "", &ok);
        a->level = s_dup(level ? level : "INFO", &ok);
        a->wait_ms = wait_ms;
    }
    if (!ok) {
        wbi_bkq_alert_free(a);
        return;
    }
    bool late = false, full_warning = false;
    pthread_mutex_lock(&self->mu);
    if (!run->dead && run->finish) {
        late = true;
        run->late++;
    } else if (!run->dead && run->a.count >= WBI_BK_ALERTS_MAX) {
        run->a_dropped++;
        full_warning = !run->a_warned;
        run->a_warned = true;
    } else if (!run->dead) {
        wbi_list_append(&run->a, &a->node);
        run->abandoned = false;
        a = NULL;
        wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
    wbi_bkq_alert_free(a);
    if (late)
        wbi_warn("run '%s': alert dropped: it arrived after finish", run->run_id);
    if (full_warning)
        wbi_warn("run '%s': more than %d alerts queued; new alerts are dropped (logged once)",
                 run->run_id, WBI_BK_ALERTS_MAX);
}

// Replaces the bytes of a queued file of the same name; true when found.
static bool s_file_replace(const wbi_list_t *list, const char *name, char **data_p, size_t len,
                           size_t *old_len)
{
    for (wbi_list_node_t *n = list->head; n; n = n->next) {
        wbi_bk_file_t *f = WBI_LIST_ITEM(n, wbi_bk_file_t, node);
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
    wbi_bk_file_t *f = NULL;
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
    } else if (self->file_bytes + len > WBI_BK_FILES_MAX) {
        rc = WANDB_EFULL;
    } else if (s_file_replace(&run->f, name, data_p, len, &old) ||
               s_file_replace(&run->u, name, data_p, len, &old)) {
        self->file_bytes += len;
        self->file_bytes -= old < self->file_bytes ? old : self->file_bytes;
        run->abandoned = false;
        rc = WANDB_OK; // the newer bytes go out with the queued entry
    } else {
        f->data = *data_p;
        f->len = len;
        *data_p = NULL;
        wbi_list_append(&run->f, &f->node);
        f = NULL;
        self->file_bytes += len;
        run->abandoned = false;
        wbi_bk_wake(self);
        rc = WANDB_OK;
    }
    pthread_mutex_unlock(&self->mu);
    if (late)
        wbi_warn("run '%s': file '%s' dropped: it arrived after finish", run->run_id, name);
    if (rc == WANDB_EFULL)
        wbi_warn("run '%s': file '%s' (%zu bytes) dropped: more than %zu bytes of files queued",
                 run->run_id, name, len, WBI_BK_FILES_MAX);
out_free:
    wbi_bkq_files_free(f);
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
        wbi_bk_wake(self);
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
        wbi_bkq_retire_if_done(self, run);
        wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
}
