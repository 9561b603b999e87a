//  backend.c - the W&B HTTP client: every run of a job over ONE connection
//  SPDX-License-Identifier: MIT
//
//  The public object and its thread. Callers only enqueue under the mutex
//  (queue.c) and wake the thread. The thread loops: hand each finished
//  transfer's answer to its kind (kinds.c, outside the lock) and apply it
//  (under the lock, then on_ack without it); start as many requests as the
//  connection and the budget allow (sched.c picks them under the lock,
//  kinds.c builds them outside it); sleep in the transport (http.c) until
//  I/O, a wakeup or the next deadline. The policy is described in
//  docs/backend.md.
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Waits on cond until the monotonic time at_ms (or a signal).
static int s_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t at_ms)
{
    struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (long)(at_ms % 1000) * 1000000};
    return pthread_cond_timedwait(cond, mu, &ts);
}

// The run a request belongs to (NULL: the backend-wide ServerFeaturesQuery).
static wbi_backend_run_t *s_run_of(wbi_backend_t *self, wbi_bk_req_t *req)
{
    if (req == &self->features)
        return NULL;
    return (wbi_backend_run_t *)(void *)((char *)req - offsetof(wbi_backend_run_t, req));
}

// Applies an outcome under the lock (lock held on entry and exit), runs
// on_ack without it, and wakes drain.
static void s_settle(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                     wbi_bk_outcome_t *o)
{
    wbi_backend_ack_t ack;
    void *tag = NULL;
    if (wbi_bkk_apply(self, run, req, o, &ack, &tag) && self->on_ack) {
        self->in_callback = true; // drain waits for it: no ack comes after drain returns
        pthread_mutex_unlock(&self->mu);
        self->on_ack(self->ack_arg, tag, &ack);
        pthread_mutex_lock(&self->mu);
        self->in_callback = false;
    }
    pthread_cond_broadcast(&self->done);
}

// Starts requests while the connection, the budget and the runs allow
// (lock held); returns when the loop should look again.
static int64_t s_start_due(wbi_backend_t *self)
{
    for (;;) {
        int64_t now = wbi_bk_now_ms();
        int64_t wake = now + WBI_BK_IDLE_WAKE_MS;
        // HTTP/1.1 (or not known yet): one request at a time on the one connection
        int limit = wbi_http_multiplexed(self->http) ? self->max_streams : 1;
        if (wbi_http_in_flight(self->http) >= limit || atomic_load(&self->stop))
            return wake;
        // Without a token only "preempting" goes (not during a 429 pause).
        bool token = wbi_sched_ready(&self->sched, now, &wake);
        if (!token && wbi_sched_paused(&self->sched, now, &wake))
            return wake;
        wbi_backend_run_t *run = NULL;
        wbi_bk_req_t *req = wbi_bk_pick(self, now, &wake, &run, !token);
        if (!req)
            return wake;
        wbi_sched_spend(&self->sched, now);
        req->flying = true;
        pthread_mutex_unlock(&self->mu);
        wbi_bk_outcome_t o;
        bool started = wbi_bkk_start(self, run, req, &o);
        pthread_mutex_lock(&self->mu);
        if (!started)
            s_settle(self, run, req, &o);
        uint64_t flying = (uint64_t)wbi_http_in_flight(self->http);
        if (flying > self->stats.max_in_flight)
            self->stats.max_in_flight = flying;
    }
}

// The sending thread.
static void *s_main(void *arg)
{
    wbi_backend_t *self = arg;
    while (!atomic_load(&self->stop)) {
        void *token = NULL;
        wbi_http_result_t res;
        while (!atomic_load(&self->stop) && wbi_http_done(self->http, &token, &res)) {
            wbi_bk_req_t *req = token;
            wbi_backend_run_t *run = s_run_of(self, req);
            wbi_bk_outcome_t o;
            wbi_bkk_finish(self, run, req, &res, &o);
            pthread_mutex_lock(&self->mu);
            s_settle(self, run, req, &o);
            pthread_mutex_unlock(&self->mu);
        }
        pthread_mutex_lock(&self->mu);
        int64_t wake = s_start_due(self);
        pthread_mutex_unlock(&self->mu);
        int64_t wait = wake - wbi_bk_now_ms();
        if (!atomic_load(&self->stop))
            wbi_http_poll(self->http, (int)(wait < 0                     ? 0
                                            : wait < WBI_BK_IDLE_WAKE_MS ? wait
                                                                         : WBI_BK_IDLE_WAKE_MS));
    }
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

// The HTTP/2 setting's text.
wandb_err wbi_backend_parse_http2(const char *text, int *out)
{
    return wbi_http_parse_http2(text, out);
}

// Normalises the options, creates the transport and starts the thread.
wandb_err wbi_backend_new(wbi_backend_t **out, const wbi_backend_opts_t *opts)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!opts || !opts->base_url || !*opts->base_url || opts->http2 < WBI_HTTP2_AUTO ||
        opts->http2 > WBI_HTTP2_OFF || opts->request_budget < 0)
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
        self->flush_ms < WBI_BK_CONFIG_DEBOUNCE_MS ? self->flush_ms : WBI_BK_CONFIG_DEBOUNCE_MS;
    self->rand_state = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)self;
    self->queue_max = opts->queue_max_bytes ? opts->queue_max_bytes : WBI_BK_QUEUE_MAX;
    self->on_ack = opts->on_ack;
    self->ack_arg = opts->ack_arg;
    self->max_streams = opts->max_streams > 0 ? opts->max_streams : 32;
    if (self->max_streams > WBI_HTTP_STREAMS_MAX)
        self->max_streams = WBI_HTTP_STREAMS_MAX;
    wbi_sched_init(&self->sched, opts->request_budget, wbi_bk_now_ms());
    pthread_mutex_init(&self->mu, NULL);
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
    wbi_http_opts_t ho = {.api_key = opts->api_key,
                          .timeout_ms = opts->request_timeout_ms,
                          .http2 = opts->http2,
                          .ca_cert = opts->ca_cert,
                          .max_streams = self->max_streams};
    rc = wbi_http_new(&self->http, &ho);
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

// Stops and joins the thread, drops what is in flight, then frees every
// run (unsent data is dropped).
void wbi_backend_destroy(wbi_backend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_backend_t *self = *self_p;
    if (self->thread_started) {
        atomic_store(&self->stop, true);
        wbi_bk_wake(self);
        pthread_join(self->thread, NULL);
    }
    wbi_http_destroy(&self->http); // before the runs: transfers borrow their bodies
    uint64_t dropped = self->stats.lines_refused, alerts = 0, late = 0;
    while (self->runs) {
        wbi_backend_run_t *run = self->runs;
        self->runs = run->next;
        alerts += run->a_dropped;
        late += run->late;
        wbi_bkq_run_free(run);
    }
    if (dropped)
        wbi_warn("backend: %llu history, event or console lines were refused",
                 (unsigned long long)dropped);
    if (alerts)
        wbi_warn("backend: %llu alerts were dropped (queue full or repeated within their wait)",
                 (unsigned long long)alerts);
    if (late)
        wbi_warn("backend: %llu summaries, configs, alerts or files arrived after finish",
                 (unsigned long long)late);
    wbi_bkq_req_clear(&self->features);
    wbi_free(self->base_url);
    wbi_free(self->graphql_url);
    pthread_cond_destroy(&self->done);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
    curl_global_cleanup();
    *self_p = NULL;
}

// Copies the entity the server named for the run (the caller's if the server gave none).
bool wbi_backend_run_entity(wbi_backend_t *self, wbi_backend_run_t *run, char *buf, size_t len)
{
    if (buf && len)
        buf[0] = '\0';
    if (!self || !run)
        return false;
    pthread_mutex_lock(&self->mu);
    bool known = run->upserted && wbi_bk_entity(run);
    if (known && buf && len)
        snprintf(buf, len, "%s", run->srv_entity ? run->srv_entity : run->entity);
    pthread_mutex_unlock(&self->mu);
    return known;
}

bool wbi_backend_run_resume(wbi_backend_t *self, wbi_backend_run_t *run, wbi_run_resume_t *out)
{
    *out = (wbi_run_resume_t){0};
    if (!self || !run)
        return false;
    pthread_mutex_lock(&self->mu);
    const wbi_run_resume_t *r = &run->resume;
    bool decided = run->resume_mode == WBI_RESUME_NONE || r->state != WBI_RESUMED_PENDING;
    if (run->resume_mode == WBI_RESUME_NONE) {
        out->state = WBI_RESUMED_NEW;
    } else if (decided) {
        *out = *r;
        out->summary_json = wbi_strdup(r->summary_json);
        out->config_json = wbi_strdup(r->config_json);
    }
    pthread_mutex_unlock(&self->mu);
    return decided;
}

// True when nothing accepted so far is still unacknowledged (lock held).
static bool s_idle(const wbi_backend_t *self)
{
    if (self->in_callback)
        return false;
    for (const wbi_backend_run_t *r = self->runs; r; r = r->next) {
        if (r->dead)
            continue;
        bool busy = !r->upserted || !wbi_list_empty(&r->q) || !wbi_list_empty(&r->p) ||
                    r->summary || r->config_dirty || r->meta_dirty || !wbi_list_empty(&r->a) ||
                    r->preempt || !wbi_list_empty(&r->f) || !wbi_list_empty(&r->u) ||
                    r->n_uploaded || wbi_bk_has_art(r) || r->req.kind != WBI_BK_REQ_NONE ||
                    wbi_bk_has_stream(r) || (r->finish && !r->completed && !wbi_bk_refused(r));
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
    int64_t deadline = wbi_bk_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    wandb_err rc = WANDB_OK;
    pthread_mutex_lock(&self->mu);
    self->draining++;
    wbi_bk_wake(self);
    while (!s_idle(self)) {
        if (wbi_bk_now_ms() >= deadline ||
            s_wait_until(&self->done, &self->mu, deadline) == ETIMEDOUT) {
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

// The outcome so far (see backend.h).
wandb_err wbi_backend_result(wbi_backend_t *self)
{
    if (!self)
        return WANDB_EINVAL;
    pthread_mutex_lock(&self->mu);
    wandb_err rc = self->result;
    pthread_mutex_unlock(&self->mu);
    return rc;
}

// Copies the error text into a buffer that only this function writes
// (concurrent callers may see each other's copy).
const char *wbi_backend_errmsg(wbi_backend_t *self)
{
    if (!self)
        return "";
    pthread_mutex_lock(&self->mu);
    snprintf(self->errmsg_out, sizeof self->errmsg_out, "%s",
             self->result != WANDB_OK ? self->result_msg : self->errmsg);
    pthread_mutex_unlock(&self->mu);
    return self->errmsg_out;
}
