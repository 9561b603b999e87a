//  core.c - the aggregator's message handler: its life, timers, preemption, shutdown, counters
//  SPDX-License-Identifier: MIT
//
//  The handler is split by job: core_peer.c keeps the peer table (HELLO,
//  secrets, connections, replies) and takes each message in, core_record.c
//  handles the records of a known peer, and this file creates and frees the
//  handler and runs what the clock decides: heartbeat timeouts, due
//  summaries, preemption and the end of service. The state they share is in
//  core_int.h.
#include "aggregator/core.h"
#include "aggregator/core_int.h"
#include "aggregator/jobview.h"
#include "common/alloc.h"
#include "common/log.h"
#include <string.h>

// Creates the handler: copies the options and the sink, and the job view unless it is off.
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

// Frees the job view first (it observes the runs), then every peer and its run.
void wbi_agg_core_destroy(wbi_agg_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_agg_core_t *self = *self_p;
    wbi_jobview_destroy(&self->jobview); // before the runs it observes
    for (size_t i = 0; i < self->npeers; i++) {
        wbi_agg_arts_drop(self->arts, &self->peers[i]->art, "the aggregator stopped");
        wbi_agg_run_destroy(&self->peers[i]->run);
        wbi_free(self->peers[i]->id);
        wbi_free(self->peers[i]);
    }
    wbi_free(self->peers);
    wbi_agg_arts_destroy(&self->arts);
    wbi_smap_release(&self->by_id);
    wbi_agg_names_release(&self->names);
    wbi_free(self->secret);
    wbi_free(self->base_url);
    wbi_free(self);
    *self_p = NULL;
}

// The Unix time of monotonic instant then, given both clocks now.
static double s_wall_at(int64_t mono_ms, double wall, int64_t then_ms)
{
    return wall - (double)(mono_ms - then_ms) / 1000.0;
}

// Timer pass: makes up for a stalled loop, marks silent peers crashed, sends due
// summaries and pending WELCOMEs, and ticks the job view.
void wbi_agg_core_tick(wbi_agg_core_t *self, int64_t mono_ms, double wall)
{
    // The loop itself stalled (a slow step, a backlog, a stopped process):
    // nobody could be heard meanwhile, so the gap is not the peers' silence.
    int64_t stall = self->ticked ? mono_ms - self->prev_tick_ms : 0;
    if (stall > self->heartbeat_timeout_ms / 2) {
        wbi_debug("aggregator: no timer pass for %lld ms: heartbeat clocks moved forward",
                  (long long)stall);
        for (size_t i = 0; i < self->npeers; i++) {
            wbi_agg_peer_t *p = self->peers[i];
            if (p->state != WBI_AGG_PEER_ACTIVE)
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
        wbi_agg_peer_t *p = self->peers[i];
        if (p->state != WBI_AGG_PEER_ACTIVE)
            continue;
        if (mono_ms - p->last_seen_ms > p->timeout_ms) {
            wbi_agg_core_artifact_drop(self, p, "its run went silent (crashed)");
            wbi_agg_run_abandon(p->run, wall);
            p->state = WBI_AGG_PEER_CRASHED;
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
            wbi_agg_core_try_welcome(self, p);
    }
    if (self->jobview && summaries_due)
        wbi_jobview_tick(self->jobview, mono_ms, wall);
}

// Passes mpirun's report of a rank's exit to the job view.
void wbi_agg_core_rank_exit(wbi_agg_core_t *self, int rank, int exit_code, bool first)
{
    if (self->jobview)
        wbi_jobview_rank_exit(self->jobview, rank, exit_code, first);
}

// Marks every active run (and its job run) preempting; returns how many.
int wbi_agg_core_preempt(wbi_agg_core_t *self)
{
    int marked = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        wbi_agg_peer_t *p = self->peers[i];
        if (p->state != WBI_AGG_PEER_ACTIVE || p->preempting)
            continue;
        p->preempting = true;
        wbi_agg_run_preempting(p->run);
        if (p->member)
            wbi_jobview_preempting(p->member);
        marked++;
    }
    return marked;
}

// True when the expected runs (0: every active one) have ended.
bool wbi_agg_core_settled(const wbi_agg_core_t *self, int expected)
{
    if (expected > 0)
        return self->stats.runs_finished + self->stats.runs_crashed + self->stats.runs_preempted >=
               (uint64_t)expected;
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i]->state == WBI_AGG_PEER_ACTIVE)
            return false;
    return true;
}

// End of service: closes every run not finished and leaves the active ones crashed (or
// preempted); returns how many were active.
int wbi_agg_core_shutdown(wbi_agg_core_t *self, double wall)
{
    int active = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        wbi_agg_peer_t *p = self->peers[i];
        if (p->state == WBI_AGG_PEER_FINISHED)
            continue;
        // Crashed runs kept their open row (the rank might have come back):
        // nothing accepted is lost, so it goes out now.
        wbi_agg_run_close(p->run, wall);
        if (p->state != WBI_AGG_PEER_ACTIVE)
            continue;
        wbi_agg_run_abandon(p->run, wall);
        p->state = WBI_AGG_PEER_CRASHED;
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

// The counters, with the runs' rows, bad values and dropped lines added in.
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
