//  sched.c - which request goes next, and when
//  SPDX-License-Identifier: MIT
//
//  Two parts, both on a clock the caller passes in: the request budget
//  (wbi_sched_*, pure) and the choice of the next request over the runs
//  (wbi_bk_pick, lock held). Per run at most one request is in flight or
//  waiting for a retry, so a run's requests keep their order; runs are
//  served round robin. The policy is described in docs/backend.md.
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "common/log.h"

#include <string.h>

#define S_FACTOR_MIN (1.0 / 16) // lowest share of the budget after 429s
#define S_FACTOR_STEP 0.02      // share regained per acknowledged request

// Tokens the bucket holds at most: one second's worth, at least one.
static double s_burst(const wbi_sched_t *self)
{
    return self->budget > 1.0 ? self->budget : 1.0;
}

// --- the request budget (pure) ----------------------------------------------

void wbi_sched_init(wbi_sched_t *self, double budget, int64_t now)
{
    *self = (wbi_sched_t){.budget = budget > 0 ? budget : WBI_SCHED_BUDGET_DEFAULT,
                          .refill_ms = now,
                          .paused_until = now,
                          .factor = 1.0};
    self->tokens = s_burst(self);
}

double wbi_sched_rate(const wbi_sched_t *self, int64_t now)
{
    double rate = self->budget * self->factor;
    if (self->rl_rate > 0 && now < self->rl_until && self->rl_rate < rate)
        rate = self->rl_rate;
    return rate > WBI_SCHED_RATE_MIN ? rate : WBI_SCHED_RATE_MIN;
}

// Brings the tokens up to now at the rate in use; nothing accrues while
// paused, so starts resume at the rate, not in a burst.
static void s_refill(wbi_sched_t *self, int64_t now)
{
    int64_t from = self->refill_ms < self->paused_until ? self->paused_until : self->refill_ms;
    if (now > from) {
        self->tokens += (double)(now - from) / 1000.0 * wbi_sched_rate(self, now);
        if (self->tokens > s_burst(self))
            self->tokens = s_burst(self);
    }
    if (now > self->refill_ms)
        self->refill_ms = now;
}

bool wbi_sched_ready(wbi_sched_t *self, int64_t now, int64_t *wake)
{
    if (now < self->paused_until) {
        *wake = self->paused_until < *wake ? self->paused_until : *wake;
        return false;
    }
    s_refill(self, now);
    if (self->tokens >= 1.0)
        return true;
    double ms = (1.0 - self->tokens) * 1000.0 / wbi_sched_rate(self, now);
    int64_t at = now + (int64_t)ms + 1;
    *wake = at < *wake ? at : *wake;
    return false;
}

bool wbi_sched_paused(const wbi_sched_t *self, int64_t now, int64_t *wake)
{
    if (now >= self->paused_until)
        return false;
    *wake = self->paused_until < *wake ? self->paused_until : *wake;
    return true;
}

void wbi_sched_spend(wbi_sched_t *self, int64_t now)
{
    s_refill(self, now);
    self->tokens -= 1.0;
}

void wbi_sched_answer(wbi_sched_t *self, int64_t now, long status, int64_t retry_after_ms,
                      int64_t rl_remaining, int64_t rl_reset_ms)
{
    s_refill(self, now);
    if (status == 429) {
        int64_t until = now + (retry_after_ms >= 0 ? retry_after_ms : WBI_SCHED_PAUSE_MS);
        self->paused_until = until > self->paused_until ? until : self->paused_until;
        self->factor = self->factor / 2 > S_FACTOR_MIN ? self->factor / 2 : S_FACTOR_MIN;
        self->tokens = self->tokens < 0 ? self->tokens : 0; // nothing saved up goes at once
    } else if (status >= 200 && status < 300) {
        self->factor = self->factor + S_FACTOR_STEP < 1.0 ? self->factor + S_FACTOR_STEP : 1.0;
    }
    if (rl_remaining >= 0 && rl_reset_ms >= 0) {
        int64_t window = rl_reset_ms > 1000 ? rl_reset_ms : 1000;
        if (rl_remaining == 0) {
            int64_t until = now + rl_reset_ms;
            self->paused_until = until > self->paused_until ? until : self->paused_until;
        }
        double rate = (double)rl_remaining * 1000.0 / (double)window;
        self->rl_rate = rate > WBI_SCHED_RATE_MIN ? rate : WBI_SCHED_RATE_MIN;
        self->rl_until = now + window;
    }
}

int64_t wbi_sched_interval_ms(const wbi_sched_t *self, int64_t now, int64_t base_ms, size_t nruns)
{
    double need = (double)nruns * 1000.0 / wbi_sched_rate(self, now);
    return need > (double)base_ms ? (int64_t)need : base_ms;
}

// --- the next request (lock held) --------------------------------------------

int64_t wbi_bk_flush_ms(const wbi_backend_t *self, int64_t now)
{
    return wbi_sched_interval_ms(&self->sched, now, self->flush_ms, self->nlive);
}

// True when a file_stream request of the run is due now; else lowers *wake
// to when it will be.
static bool s_fs_due(const wbi_backend_t *self, const wbi_backend_run_t *run, int64_t now,
                     int64_t *wake)
{
    bool has_data = !wbi_list_empty(&run->q) || !wbi_list_empty(&run->p) || run->summary ||
                    run->preempt || run->n_uploaded || wbi_bk_has_stream(run);
    if (has_data) {
        if (run->preempt || self->draining || run->finish || now >= run->next_flush_ms)
            return true;
        *wake = run->next_flush_ms < *wake ? run->next_flush_ms : *wake;
        return false;
    }
    if (run->finish) // the final complete/exitcode once nothing else is queued; none after
        return !wbi_bk_refused(run) && wbi_list_empty(&run->a) && wbi_list_empty(&run->f) &&
               wbi_list_empty(&run->u) && !wbi_bk_has_art(run); // a refused line (prefix rule)
    if (run->abandoned)
        return false; // silence lets the server mark it crashed
    int64_t every = wbi_bk_flush_ms(self, now);
    int64_t at = run->last_fs_ms + (every > self->heartbeat_ms ? every : self->heartbeat_ms);
    if (now >= at)
        return true; // "{}" heartbeat
    *wake = at < *wake ? at : *wake;
    return false;
}

// Sets up the next request of an upserted run, or lowers *wake to when
// there will be one. Returns false when there is nothing to do now.
static bool s_take_work(wbi_backend_t *self, wbi_backend_run_t *run, int64_t now, int64_t *wake)
{
    wbi_bk_req_t *req = &run->req;
    if (run->config_dirty || run->meta_dirty) {
        int64_t at = run->config_ms + self->debounce_ms;
        if (self->draining || run->finish || now >= at) {
            *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_CONFIG, .config = run->config, .due_ms = now};
            for (int i = 0; i < 3; i++) {
                req->meta[i] = run->meta[i];
                run->meta[i] = NULL;
            }
            run->config = NULL;
            run->config_dirty = false;
            run->meta_dirty = false;
            return true;
        }
        *wake = at < *wake ? at : *wake;
    }
    if (run->fs_turn && s_fs_due(self, run, now, wake)) {
        wbi_bkq_take_fs(run, now); // alternate: no alert or file queue starves the stream
        return true;
    }
    wbi_bk_alert_t *a;
    while ((a = WBI_LIST_ITEM(run->a.head, wbi_bk_alert_t, node)) &&
           wbi_bkq_alert_recent(run, a, now)) {
        wbi_list_pop(&run->a); // its title went out within its waitDuration
        run->a_dropped++;
        wbi_debug("run '%s': alert '%s' skipped: sent within its wait", run->run_id, a->title);
        wbi_bkq_alert_free(a);
    }
    if (a) {
        wbi_list_pop(&run->a);
        *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_ALERT, .alert = a, .due_ms = now};
        run->fs_turn = true;
        return true;
    }
    if (!wbi_list_empty(&run->u)) { // PUTs first: the next CreateRunFiles replaces the headers
        wbi_bk_file_t *f = WBI_LIST_ITEM(wbi_list_pop(&run->u), wbi_bk_file_t, node);
        *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_PUT, .files = f, .due_ms = now};
        run->fs_turn = true;
        return true;
    }
    if (!wbi_list_empty(&run->f)) { // CreateRunFiles for the next batch of names
        wbi_list_node_t *batch = wbi_list_pop_n(&run->f, WBI_BK_FILES_BATCH);
        *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_FILES,
                              .files = WBI_LIST_ITEM(batch, wbi_bk_file_t, node),
                              .due_ms = now};
        run->fs_turn = true;
        return true;
    }
    if (wbi_bk_has_art(run)) { // the artifact job at the head, one step at a time
        *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_ART,
                              .art = WBI_LIST_ITEM(run->art.head, wbi_bk_art_t, node),
                              .due_ms = now};
        run->fs_turn = true;
        return true;
    }
    if (!s_fs_due(self, run, now, wake))
        return false;
    wbi_bkq_take_fs(run, now);
    return true;
}

// The run after r in the ring of runs.
static wbi_backend_run_t *s_ring_next(const wbi_backend_t *self, const wbi_backend_run_t *r)
{
    return r->next ? r->next : self->runs;
}

// The file_stream request of a run that has "preempting" to send and no
// request of its own pending, or NULL.
static wbi_bk_req_t *s_pick_preempting(wbi_backend_t *self, int64_t now,
                                       wbi_backend_run_t **run_out)
{
    for (wbi_backend_run_t *r = self->runs; r; r = r->next) {
        if (r->preempt && r->upserted && !r->dead && !r->completed && !r->retired &&
            r->req.kind == WBI_BK_REQ_NONE) {
            wbi_bkq_take_fs(r, now);
            *run_out = r;
            return &r->req;
        }
    }
    return NULL;
}

wbi_bk_req_t *wbi_bk_pick(wbi_backend_t *self, int64_t now, int64_t *wake,
                          wbi_backend_run_t **run_out, bool preempting_only)
{
    *run_out = NULL;
    if (preempting_only)
        return s_pick_preempting(self, now, run_out);
    wbi_bk_req_t *f = &self->features;
    if (f->kind != WBI_BK_REQ_NONE && !f->flying) { // queued by the first upsert; nobody waits
        if (f->due_ms <= now)
            return f;
        *wake = f->due_ms < *wake ? f->due_ms : *wake;
    }
    if (!self->runs)
        return NULL;
    wbi_backend_run_t *start = self->cursor ? s_ring_next(self, self->cursor) : self->runs;
    wbi_backend_run_t *r = start;
    do {
        if (!r->dead && !r->completed && !r->retired) {
            wbi_bk_req_t *req = &r->req;
            bool ready = false;
            if (req->kind != WBI_BK_REQ_NONE) {
                if (!req->flying && req->due_ms <= now)
                    ready = true;
                else if (!req->flying)
                    *wake = req->due_ms < *wake ? req->due_ms : *wake;
            } else if (!r->upserted && r->resume_mode != WBI_RESUME_NONE &&
                       r->resume.state == WBI_RESUMED_PENDING) {
                *req = (wbi_bk_req_t){.kind = WBI_BK_REQ_RESUME, .due_ms = now};
                ready = true;
            } else if (!r->upserted) {
                *req =
                    (wbi_bk_req_t){.kind = WBI_BK_REQ_UPSERT, .config = r->config, .due_ms = now};
                r->config = NULL;
                r->config_dirty = false;
                ready = true;
            } else {
                ready = s_take_work(self, r, now, wake);
            }
            if (ready) {
                *run_out = self->cursor = r;
                return req;
            }
        }
        r = s_ring_next(self, r);
    } while (r != start);
    return NULL;
}
