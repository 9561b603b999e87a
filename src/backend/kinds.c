//  kinds.c - the request kinds: how each is built, answered and applied
//  SPDX-License-Identifier: MIT
//
//  One table row per kind: its name, how it goes out (GraphQL, file_stream
//  or PUT), its retry policy, and three functions: build (url and body,
//  once; retries re-send them unchanged), answer (reads a 2xx body; NULL:
//  the status says it all) and done (advances the run, lock held). Giving
//  up is common to all kinds except for what it drops (s_fail).
#include "backend/artifact.h"
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;   // for messages
    wbi_http_kind http; // how it goes out
    bool upsert_policy; // 409 is retried (UpsertBucket)
    int max_attempts;   // attempts at most; 0: 1 + max_retries
    // Appends the url (GraphQL kinds get it already) and the body.
    wandb_err (*build)(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req, char *msg,
                       size_t msglen);
    // Reads a 2xx answer into o; WANDB_OK or the reason in err.
    wandb_err (*answer)(const wbi_bk_req_t *req, const wbi_http_result_t *res, wbi_bk_outcome_t *o,
                        char *err, size_t errlen);
    // Applies an accepted request (lock held).
    void (*done)(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                 wbi_bk_outcome_t *o, int64_t now);
} s_kind_t;

// --- build (no lock) ---------------------------------------------------------

static wandb_err s_build_features(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                                  char *msg, size_t msglen)
{
    (void)self;
    (void)run;
    (void)msg;
    (void)msglen;
    return wbi_bk_features_body(&req->body);
}

// UpsertBucket: the first names the caller's entity (null: the server's
// default) and every parameter; later ones name the entity the server
// answered, the bucket id and the config, as wandb-core does.
static wandb_err s_build_upsert(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                                char *msg, size_t msglen)
{
    (void)self;
    (void)msg;
    (void)msglen;
    char *wrapped = NULL;
    if (req->config) {
        char err[160];
        if (wbi_bk_config_wrap(req->config, &wrapped, err, sizeof err) == WANDB_EPROTO)
            wbi_warn("run '%s': config not sent: %s", run->run_id, err);
    }
    bool first = req->kind == WBI_BK_REQ_UPSERT;
    wbi_bk_upsert_t u = {.id = run->bucket_id,
                         .name = run->run_id,
                         .project = run->project,
                         .entity = first ? run->entity : wbi_bk_entity(run),
                         .config = wrapped};
    if (!first) { // a later one carries what wbi_backend_run_update changed
        u.display_name = req->meta[0];
        u.notes = req->meta[1];
        u.tags = req->meta[2];
    }
    if (first) {
        u.group = run->group;
        u.display_name = run->display_name;
        u.notes = run->notes;
        u.host = run->host;
        u.program = run->program;
        u.job_type = run->job_type;
        u.tags = run->tags;
    }
    wandb_err rc = wbi_bk_upsert_body(&req->body, &u);
    wbi_free(wrapped);
    return rc;
}

static wandb_err s_build_alert(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                               char *msg, size_t msglen)
{
    (void)self;
    (void)msg;
    (void)msglen;
    const wbi_bk_alert_t *a = req->alert;
    return wbi_bk_alert_body(&req->body, wbi_bk_entity(run), run->project, run->run_id, a->title,
                             a->text, a->level, a->wait_ms);
}

// The names of a CreateRunFiles batch.
static size_t s_names(const wbi_bk_req_t *req, const char **names)
{
    size_t n = 0;
    for (const wbi_bk_file_t *f = req->files; f && n < WBI_BK_FILES_BATCH;
         f = WBI_LIST_ITEM(f->node.next, wbi_bk_file_t, node))
        names[n++] = f->name;
    return n;
}

static wandb_err s_build_files(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                               char *msg, size_t msglen)
{
    (void)self;
    (void)msg;
    (void)msglen;
    const char *names[WBI_BK_FILES_BATCH];
    size_t n = s_names(req, names);
    return wbi_bk_files_body(&req->body, wbi_bk_entity(run), run->project, run->run_id, names, n);
}

// The bytes stay in the file; only the URL is kept here.
static wandb_err s_build_put(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                             char *msg, size_t msglen)
{
    (void)self;
    (void)run;
    (void)msg;
    (void)msglen;
    wbi_buf_reset(&req->url);
    return wbi_buf_puts(&req->url, req->files->url);
}

// file_stream: the lines the thread took (p), at the run's offset. Only the
// thread changes p, so it is read without the lock.
static wandb_err s_build_fs(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                            char *msg, size_t msglen)
{
    const char *entity = wbi_bk_entity(run);
    if (!entity) {
        snprintf(msg, msglen, "run '%s': no entity for the file_stream URL", run->run_id);
        return WANDB_EINVAL;
    }
    wandb_err rc = wbi_bk_fs_url(&req->url, self->base_url, entity, run->project, run->run_id);
    if (rc != WANDB_OK)
        return rc;
    wbi_bk_fs_t fs = {.offset = run->hist_offset,
                      .lines = WBI_LIST_ITEM(run->p.head, wbi_bk_line_t, node),
                      .nlines = req->avail,
                      .summary = req->summary,
                      .summary_len = req->summary_len,
                      .uploaded = (const char *const *)req->uploaded,
                      .nuploaded = req->nuploaded,
                      .preempting = req->preempting,
                      .finishing = req->finishing,
                      .exit_code = req->exit_code,
                      .stream_taken = req->s_nlines};
    for (int f = 0; f < WBI_STREAMS; f++)
        fs.streams[f] =
            (wbi_bk_fs_stream_t){.offset = run->s_offset[f],
                                 .lines = WBI_LIST_ITEM(run->sp[f].head, wbi_bk_line_t, node),
                                 .nlines = req->s_avail[f]};
    return wbi_bk_fs_body(&req->body, &fs, &req->nlines, &req->completed);
}

// --- answers (no lock) -------------------------------------------------------

static wandb_err s_answer_graphql(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                                  wbi_bk_outcome_t *o, char *err, size_t errlen)
{
    (void)req;
    (void)o;
    json_t *data = NULL;
    wandb_err rc = wbi_bk_graphql_data(res->body, res->body_len, &data, err, errlen);
    json_decref(data);
    return rc;
}

static wandb_err s_answer_upsert(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                                 wbi_bk_outcome_t *o, char *err, size_t errlen)
{
    (void)req;
    return wbi_bk_parse_upsert(res->body, res->body_len, &o->bucket, err, errlen);
}

static wandb_err s_answer_files(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                                wbi_bk_outcome_t *o, char *err, size_t errlen)
{
    const char *names[WBI_BK_FILES_BATCH];
    size_t n = s_names(req, names);
    return wbi_bk_parse_files(res->body, res->body_len, names, n, &o->files, err, errlen);
}

static wandb_err s_build_resume(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                                char *msg, size_t msglen)
{
    (void)self;
    (void)msg;
    (void)msglen;
    return wbi_bk_resume_body(&req->body, run->project, run->entity, run->run_id);
}

static wandb_err s_answer_resume(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                                 wbi_bk_outcome_t *o, char *err, size_t errlen)
{
    (void)req;
    return wbi_bk_parse_resume(res->body, res->body_len, o->resume_mode, o->run_id, &o->resume, err,
                               errlen);
}

// --- done (lock held) --------------------------------------------------------

static void s_done_none(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                        wbi_bk_outcome_t *o, int64_t now)
{
    (void)self;
    (void)run;
    (void)req;
    (void)o;
    (void)now; // the answer is not used yet (ServerFeaturesQuery) or changes nothing
}

// RunResumeStatus answered: the decision is kept for wbi_backend_run_resume;
// a refused run is given up on before it sent anything; a resumed one puts
// its first line after the stored history.
static void s_done_resume(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                          wbi_bk_outcome_t *o, int64_t now)
{
    (void)req;
    (void)now;
    wbi_run_resume_release(&run->resume);
    run->resume = o->resume;
    o->resume = (wbi_run_resume_t){0};
    if (run->resume.state == WBI_RESUMED_YES) {
        if (!run->has_first) {
            run->has_first = true;
            run->meta_first = run->resume.history_lines;
        }
        for (int f = 0; f < WBI_STREAMS; f++) // nothing of the run was sent yet
            if (run->s_first[f] == 0)
                run->s_first[f] = run->s_offset[f] = run->resume.stream_lines[f];
    } else if (run->resume.state != WBI_RESUMED_YES && run->resume.state != WBI_RESUMED_NEW) {
        wbi_info("%s", run->resume.msg); // the aggregator and wandb_init report it
        wbi_bkq_run_drop(self, run);
    }
}

static void s_done_upsert(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                          wbi_bk_outcome_t *o, int64_t now)
{
    (void)req;
    if (!self->features_done) { // once per backend, after the first upsert (as wandb-core)
        self->features_done = true;
        self->features = (wbi_bk_req_t){.kind = WBI_BK_REQ_FEATURES, .due_ms = now};
    }
    run->upserted = true;
    run->bucket_id = o->bucket.bucket_id;
    run->srv_entity = o->bucket.entity;
    if (run->has_first) // a resumed run: the caller knows where its lines go
        run->hist_offset = run->meta_first;
    else if (o->bucket.history_line_count > 0)
        run->hist_offset = o->bucket.history_line_count;
    run->first_offset = run->hist_offset;
    o->bucket = (wbi_bk_bucket_t){0};
    run->last_fs_ms = now;
    run->next_flush_ms = now;
}

// The acknowledged lines leave p; the offset moves by their number only.
static void s_done_fs(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                      wbi_bk_outcome_t *o, int64_t now)
{
    (void)o;
    size_t bytes = 0;
    for (size_t i = 0; i < req->nlines && !wbi_list_empty(&run->p); i++) {
        wbi_bk_line_t *line = WBI_LIST_ITEM(wbi_list_pop(&run->p), wbi_bk_line_t, node);
        bytes += line->len;
        wbi_free(line);
    }
    size_t sbytes = 0;
    bool more = run->p.count > 0;
    for (int f = 0; f < WBI_STREAMS; f++) {
        for (size_t i = 0; i < req->s_nlines[f] && !wbi_list_empty(&run->sp[f]); i++) {
            wbi_bk_line_t *line = WBI_LIST_ITEM(wbi_list_pop(&run->sp[f]), wbi_bk_line_t, node);
            sbytes += line->len;
            wbi_free(line);
        }
        run->s_offset[f] += (int64_t)req->s_nlines[f];
        run->s_acked[f] += req->s_nlines[f];
        self->stats.stream_lines_sent += req->s_nlines[f];
        more |= run->sp[f].count > 0;
    }
    bytes += sbytes;
    self->stream_bytes -= sbytes < self->stream_bytes ? sbytes : self->stream_bytes;
    self->queued_bytes -= bytes < self->queued_bytes ? bytes : self->queued_bytes;
    run->hist_offset += (int64_t)req->nlines;
    run->acked += req->nlines;
    self->stats.history_lines_sent += req->nlines;
    if (req->completed && !run->completed && self->nlive > 0)
        self->nlive--;
    run->completed |= req->completed;
    run->last_fs_ms = now;
    run->next_flush_ms = more ? now : now + wbi_bk_flush_ms(self, now);
}

static void s_done_alert(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                         wbi_bk_outcome_t *o, int64_t now)
{
    (void)self;
    (void)o;
    wbi_bkq_alert_sent(run, req->alert->title, now);
}

// CreateRunFiles answered: files with an uploadUrl wait for their PUT, the
// others are done (the server needs no upload); the uploadHeaders are kept.
// They hold for this batch only: every PUT of it goes before the next
// CreateRunFiles (sched.c), so replacing them here is safe.
static void s_done_files(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                         wbi_bk_outcome_t *o, int64_t now)
{
    (void)now;
    wbi_bk_files_t *ans = &o->files;
    wbi_bk_file_t *f = req->files;
    req->files = NULL;
    for (size_t i = 0; f; i++) {
        wbi_bk_file_t *next = WBI_LIST_ITEM(f->node.next, wbi_bk_file_t, node);
        char *url = i < ans->n ? ans->urls[i] : NULL;
        if (url) {
            ans->urls[i] = NULL;
            f->url = url;
            wbi_list_append(&run->u, &f->node);
        } else {
            f->node.next = NULL;
            self->file_bytes -= f->len < self->file_bytes ? f->len : self->file_bytes;
            wbi_debug("run '%s': no upload URL for '%s': skipped", run->run_id, f->name);
            wbi_bkq_files_free(f);
        }
        f = next;
    }
    wbi_bkq_strv_free(run->up_headers, run->n_up_headers);
    run->up_headers = ans->headers;
    run->n_up_headers = ans->nheaders;
    ans->headers = NULL;
    ans->nheaders = 0;
}

static void s_done_put(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                       wbi_bk_outcome_t *o, int64_t now)
{
    (void)o;
    (void)now;
    wbi_bk_file_t *f = req->files;
    req->files = NULL;
    self->file_bytes -= f->len < self->file_bytes ? f->len : self->file_bytes;
    wbi_bkq_note_uploaded(run, f);
}

// An artifact step answered: the job moves on; its last step frees it (lock held).
static void s_done_art(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                       wbi_bk_outcome_t *o, int64_t now)
{
    (void)self;
    (void)o;
    (void)now;
    if (wbi_bk_art_step_done(run, req->art)) {
        wbi_list_pop(&run->art);
        wbi_bk_art_free(req->art);
    }
    req->art = NULL;
}

// --- the table ---------------------------------------------------------------

static const s_kind_t s_kinds[WBI_BK_REQ_KINDS] = {
    [WBI_BK_REQ_FEATURES] = {"ServerFeaturesQuery", WBI_HTTP_GRAPHQL, false,
                             WBI_BK_FEATURES_ATTEMPTS, s_build_features, s_answer_graphql,
                             s_done_none},
    [WBI_BK_REQ_UPSERT] = {"UpsertBucket", WBI_HTTP_GRAPHQL, true, 0, s_build_upsert,
                           s_answer_upsert, s_done_upsert},
    [WBI_BK_REQ_CONFIG] = {"UpsertBucket", WBI_HTTP_GRAPHQL, true, 0, s_build_upsert,
                           s_answer_graphql, s_done_none},
    [WBI_BK_REQ_ALERT] = {"NotifyScriptableRunAlert", WBI_HTTP_GRAPHQL, false, 0, s_build_alert,
                          s_answer_graphql, s_done_alert},
    [WBI_BK_REQ_FS] = {"file_stream", WBI_HTTP_FS, false, 0, s_build_fs, NULL, s_done_fs},
    [WBI_BK_REQ_FILES] = {"CreateRunFiles", WBI_HTTP_GRAPHQL, false, 0, s_build_files,
                          s_answer_files, s_done_files},
    [WBI_BK_REQ_PUT] = {"upload", WBI_HTTP_PUT, false, 0, s_build_put, NULL, s_done_put},
    [WBI_BK_REQ_ART] = {"artifact request", WBI_HTTP_GRAPHQL, false, 0, wbi_bk_art_build,
                        wbi_bk_art_answer, s_done_art},
    [WBI_BK_REQ_RESUME] = {"RunResumeStatus", WBI_HTTP_GRAPHQL, false, 0, s_build_resume,
                           s_answer_resume, s_done_resume},
};

// --- one attempt ---------------------------------------------------------------

// What an artifact step uploads, when it is a PUT.
struct s_art_put {
    FILE *fp;         // a file of the store, or NULL
    const char *body; // else these bytes
    size_t len;       // their length
    uint64_t size;    // bytes to send
    char **headers;   // uploadHeaders
    size_t nheaders;  // their count
};

// True when req is an artifact step that PUTs (and then what, into *out).
static bool s_art_put(const wbi_bk_req_t *req, struct s_art_put *out)
{
    struct s_art_put tmp;
    struct s_art_put *p = out ? out : &tmp;
    return req->kind == WBI_BK_REQ_ART && req->art &&
           wbi_bk_art_put(req->art, &p->fp, &p->body, &p->len, &p->size, &p->headers, &p->nheaders);
}

bool wbi_bkk_start(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                   wbi_bk_outcome_t *o)
{
    *o = (wbi_bk_outcome_t){
        .verdict = WBI_BK_FAIL, .retry_after_ms = -1, .rl_remaining = -1, .rl_reset_ms = -1};
    const s_kind_t *k = &s_kinds[req->kind];
    const char *rid = run ? run->run_id : "-";
    wandb_err rc = WANDB_OK;
    if (!req->built) {
        char msg[256] = "";
        wbi_buf_init(&req->url, 64 * 1024);
        wbi_buf_init(&req->body, 8 * WBI_BK_REQUEST_MAX);
        if (k->http == WBI_HTTP_GRAPHQL && !s_art_put(req, NULL))
            rc = wbi_buf_puts(&req->url, self->graphql_url);
        if (rc == WANDB_OK)
            rc = k->build(self, run, req, msg, sizeof msg);
        if (rc != WANDB_OK) {
            if (!msg[0])
                snprintf(msg, sizeof msg, "run '%.64s': cannot build %s: %s", rid, k->name,
                         wandb_strerror(rc));
            snprintf(o->msg, sizeof o->msg, "%s", msg);
            wbi_err("%s", o->msg);
            return false;
        }
        req->built = true;
    }
    req->attempt++;
    struct s_art_put ap;
    if (req->kind == WBI_BK_REQ_PUT)
        rc = wbi_http_start(self->http, WBI_HTTP_PUT, req->url.data, req->files->data,
                            req->files->len, (const char *const *)run->up_headers,
                            run->n_up_headers, req);
    else if (s_art_put(req, &ap) && ap.fp)
        rc = fseek(ap.fp, 0, SEEK_SET) == 0 // a retry sends the file again
                 ? wbi_http_start_file(self->http, req->url.data, ap.fp, ap.size,
                                       (const char *const *)ap.headers, ap.nheaders, req)
                 : WANDB_EIO;
    else if (s_art_put(req, &ap))
        rc = wbi_http_start(self->http, WBI_HTTP_PUT, req->url.data, ap.body, ap.len,
                            (const char *const *)ap.headers, ap.nheaders, req);
    else
        rc = wbi_http_start(self->http, k->http, req->url.data, req->body.data, req->body.len, NULL,
                            0, req);
    if (rc != WANDB_OK) { // out of memory or slots: try again like a network error
        o->verdict = WBI_BK_RETRY;
        o->wait_ms = self->retry_min_ms;
        snprintf(o->msg, sizeof o->msg, "run '%.64s': %s not started: %s", rid, k->name,
                 wandb_strerror(rc));
        return false;
    }
    return true;
}

void wbi_bkk_finish(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                    const wbi_http_result_t *res, wbi_bk_outcome_t *o)
{
    *o = (wbi_bk_outcome_t){.verdict = WBI_BK_FAIL,
                            .retry_after_ms = res->retry_after_ms,
                            .rl_remaining = res->rl_remaining,
                            .rl_reset_ms = res->rl_reset_ms};
    const s_kind_t *k = &s_kinds[req->kind];
    const char *what = k->name;
    const char *rid = run ? run->run_id : "-";
    o->resume_mode = run ? run->resume_mode : 0;
    o->run_id = rid;
    o->answered = res->err == WANDB_OK;
    o->status = o->answered ? res->status : 0;
    if (res->err != WANDB_OK) {
        o->verdict =
            (res->err == WANDB_EINVAL || res->err == WANDB_ECLOSED) ? WBI_BK_FAIL : WBI_BK_RETRY;
        snprintf(o->msg, sizeof o->msg, "run '%.64s': %s failed: %.160s", rid, what, res->errmsg);
    } else {
        o->verdict = wbi_bk_classify(res->status, k->upsert_policy);
        if (o->verdict != WBI_BK_DONE)
            snprintf(o->msg, sizeof o->msg, "run '%.64s': %s answered HTTP %ld (%s)", rid, what,
                     res->status, wandb_strerror(wbi_http_status_err(res->status)));
    }
    if (o->verdict == WBI_BK_DONE && k->answer) {
        // A GraphQL 200 with errors is a failure that a retry does not fix.
        char err[200] = "";
        wandb_err rc;
        if (res->truncated) {
            rc = WANDB_ETOOBIG;
            snprintf(err, sizeof err, "answer over %zu bytes", (size_t)WBI_HTTP_ANSWER_MAX);
        } else {
            rc = k->answer(req, res, o, err, sizeof err);
        }
        if (rc != WANDB_OK && k->upsert_policy && rc != WANDB_EBACKEND) {
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
        int max_attempts = k->max_attempts ? k->max_attempts : 1 + self->max_retries;
        if (atomic_load(&self->stop) || req->attempt >= max_attempts) {
            o->verdict = WBI_BK_FAIL;
            size_t n = strlen(o->msg);
            snprintf(o->msg + n, sizeof o->msg - n, "; gave up after %d attempts", req->attempt);
        } else if (res->retry_after_ms >= 0) {
            o->wait_ms = res->retry_after_ms;
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
    else if (o->verdict == WBI_BK_FAIL && req->kind == WBI_BK_REQ_FEATURES)
        wbi_info("%s; continuing without server features", o->msg);
    else if (o->verdict == WBI_BK_FAIL)
        wbi_err("%s", o->msg);
}

// --- applying the outcome (lock held) -------------------------------------------

// Records a request given up on in the outcome of the backend: an auth
// failure wins over others; within a class the first one is kept.
static void s_note_failure(wbi_backend_t *self, const wbi_bk_req_t *req, const wbi_bk_outcome_t *o)
{
    bool auth = o->status == 401 || o->status == 403;
    if (auth && self->result != WANDB_EAUTH)
        self->result = WANDB_EAUTH;
    else if (!auth && req->kind != WBI_BK_REQ_FEATURES && self->result == WANDB_OK)
        self->result = WANDB_EBACKEND;
    else
        return;
    snprintf(self->result_msg, sizeof self->result_msg, "%.255s", o->msg);
}

// What giving up drops: a failed first UpsertBucket or file_stream ends the
// run's stream (as wandb-core); failed CreateRunFiles or PUTs lose those
// files only; a failed ServerFeaturesQuery means no features.
static void s_fail(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                   const wbi_bk_outcome_t *o)
{
    if (req->kind == WBI_BK_REQ_RESUME) {
        run->resume.state = WBI_RESUMED_FAILED;
        snprintf(run->resume.msg, sizeof run->resume.msg,
                 "cannot tell whether run '%.64s' exists to resume it: %.200s", run->run_id,
                 o->msg);
        wbi_bkq_run_drop(self, run);
    } else if (req->kind == WBI_BK_REQ_UPSERT || req->kind == WBI_BK_REQ_FS) {
        wbi_bkq_run_drop(self, run);
    } else if (req->kind == WBI_BK_REQ_ART && req->art) {
        wbi_list_pop(&run->art); // the job is given up on; the version stays in the store
        wbi_bk_art_free(req->art);
        req->art = NULL;
    } else if (req->kind == WBI_BK_REQ_FILES || req->kind == WBI_BK_REQ_PUT) {
        size_t bytes = wbi_bkq_files_free(req->files);
        req->files = NULL;
        self->file_bytes -= bytes < self->file_bytes ? bytes : self->file_bytes;
    }
}

bool wbi_bkk_apply(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                   wbi_bk_outcome_t *o, wbi_backend_ack_t *ack, void **tag)
{
    int64_t now = wbi_bk_now_ms();
    bool acked = false;
    req->flying = false;
    if (o->answered)
        self->stats.requests++;
    if (o->status == 401 || o->status == 403)
        self->stats.auth_failures++;
    wbi_sched_answer(&self->sched, now, o->status, o->retry_after_ms, o->rl_remaining,
                     o->rl_reset_ms);
    if (o->verdict == WBI_BK_RETRY) {
        self->stats.retries++;
        req->due_ms = now + o->wait_ms;
        if (!atomic_load(&self->stop)) {
            char msg[sizeof self->errmsg];
            snprintf(msg, sizeof msg, "%.200s; retrying in %lld ms", o->msg, (long long)o->wait_ms);
            snprintf(self->errmsg, sizeof self->errmsg, "%s", msg);
        }
        return false;
    }
    if (o->verdict == WBI_BK_DONE) {
        s_kinds[req->kind].done(self, run, req, o, now);
        if (req->kind == WBI_BK_REQ_FS) {
            *ack = (wbi_backend_ack_t){.first_offset = run->first_offset,
                                       .lines = run->acked,
                                       .completed = run->completed};
            for (int f = 0; f < WBI_STREAMS; f++)
                ack->streams[f] = (wbi_backend_stream_ack_t){.first_offset = run->s_first[f],
                                                             .lines = run->s_acked[f]};
            *tag = run->tag;
            acked = true;
        }
    } else if (!atomic_load(&self->stop)) {
        self->stats.failures++;
        snprintf(self->errmsg, sizeof self->errmsg, "%.255s", o->msg);
        s_note_failure(self, req, o);
        s_fail(self, run, req, o);
    }
    wbi_bk_bucket_release(&o->bucket);
    wbi_bk_files_release(&o->files);
    wbi_run_resume_release(&o->resume);
    wbi_bkq_req_clear(req);
    if (run)
        wbi_bkq_retire_if_done(self, run);
    return acked;
}
