//  jobview.c - the job run: members join, their rows wait per step, complete steps go out
//  SPDX-License-Identifier: MIT
//
//  (jobreduce.c: what each key reduces to; jobstate.c: the job's verdict.)
//  Per job, the steps that members reported but the job run has not written
//  yet wait in `pend`, ascending, each with one accumulator per metric
//  (count, Welford mean and M2, sum, min, max and their ranks) and the
//  arrival time of every rank. The head (smallest step) goes out when every
//  live member's last step is at least its step and every expected rank has
//  joined (counted in head_reached), or when it has waited lateness_ms; all
//  steps go out when every expected rank joined and none is live. Members' rows are monotonic in
//  step, so a rank at step s has said everything it will say about steps
//  below s: a rank that skips a step does not hold it.
#include "aggregator/jobview_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/random.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_LAG_ALPHA 0.2 // weight of the newest sample in a rank's rolling lag

// --- helpers -------------------------------------------------------------------

// Grows *p (elements of size sz) to hold at least need; false when out of memory.
bool wbi_jv_grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *q = wbi_realloc(*p, n * sz);
    if (!q)
        return false;
    memset((char *)q + *cap * sz, 0, (n - *cap) * sz);
    *p = q;
    *cap = n;
    return true;
}

static void s_pend_release(wbi_jv_pend_t *pd)
{
    wbi_imap_release(&pd->slots);
    wbi_free(pd->acc);
    wbi_free(pd->arr);
    memset(pd, 0, sizeof(*pd));
}

// Appends one value to the row under construction.
static void s_put(wbi_jv_job_t *job, const char *key, wbi_hval_t v)
{
    if (!key)
        return;
    if (job->nvals == job->vals_cap) {
        size_t cap = job->vals_cap ? job->vals_cap * 2 : 64;
        const char **k = wbi_realloc(job->keys, cap * sizeof(*k));
        if (!k)
            return;
        job->keys = k;
        wbi_hval_t *vs = wbi_realloc(job->vals, cap * sizeof(*vs));
        if (!vs)
            return;
        job->vals = vs;
        job->vals_cap = cap;
    }
    job->keys[job->nvals] = key;
    job->vals[job->nvals] = v;
    job->nvals++;
}

static void s_put_double(wbi_jv_job_t *job, const char *key, double d)
{
    wbi_hval_t v = {.type = WANDB_TYPE_DOUBLE, .as.d = d};
    s_put(job, key, v);
}

static void s_put_int(wbi_jv_job_t *job, const char *key, int64_t i)
{
    wbi_hval_t v = {.type = WANDB_TYPE_INT, .as.i = i};
    s_put(job, key, v);
}

// Folds one arrival-lag sample into a member's rolling lag.
static void s_lag_sample(wbi_jobview_member_t *m, double sample)
{
    m->lag_ms = m->has_lag ? S_LAG_ALPHA * sample + (1 - S_LAG_ALPHA) * m->lag_ms : sample;
    m->has_lag = true;
}

// Counts the live members whose last step reached the head's step.
void wbi_jv_count_head(wbi_jv_job_t *job)
{
    job->head_reached = 0;
    if (job->npend == 0)
        return;
    for (size_t i = 0; i < job->nmembers; i++) {
        const wbi_jobview_member_t *m = job->members[i];
        job->head_reached += m->live && m->last_step >= job->pend[0].step;
    }
}

// --- writing a job row -------------------------------------------------------------

// Writes the head step as one job-run row and drops it.
void wbi_jv_write_head(wbi_jv_job_t *job, bool timed_out)
{
    wbi_jv_pend_t *pd = &job->pend[0];
    job->nvals = 0;
    for (size_t a = 0; a < pd->nacc; a++) {
        const wbi_jv_acc_t *ac = &pd->acc[a];
        const wbi_agg_name_t *nm = wbi_agg_names_get(job->view->names, ac->name_id);
        wbi_jv_kinfo_t *ki = wbi_jv_kinfo(job, nm);
        if (!ki || ac->n == 0)
            continue;
        double std = ac->n > 1 ? sqrt(ac->m2 / ac->n) : 0.0;
        for (int r = 0; r < R_COUNT; r++) {
            if (!(ki->flags & (1u << r)))
                continue;
            const char *key = wbi_jv_derived_key(ki, nm, r);
            switch (r) {
            case R_MEAN:
                s_put_double(job, key, ac->mean);
                break;
            case R_MIN:
                s_put_double(job, key, ac->min);
                break;
            case R_MAX:
                s_put_double(job, key, ac->max);
                break;
            case R_SUM:
                s_put_double(job, key, ac->sum);
                break;
            case R_STD:
                s_put_double(job, key, std);
                break;
            case R_ARGMIN:
                s_put_int(job, key, ac->min_rank);
                break;
            case R_ARGMAX:
                s_put_int(job, key, ac->max_rank);
                break;
            }
        }
    }
    // Straggler figures: arrival skew, the slowest rank, rolling lag per rank.
    int64_t last_ms = pd->first_ms;
    int slowest = -1;
    for (size_t i = 0; i < pd->narr; i++) {
        const wbi_jv_arrival_t *ar = &pd->arr[i];
        if (slowest < 0 || ar->ms > last_ms || (ar->ms == last_ms && ar->rank < slowest)) {
            last_ms = ar->ms;
            slowest = ar->rank;
        }
    }
    for (size_t i = 0; i < pd->narr; i++) {
        int rank = pd->arr[i].rank;
        wbi_jobview_member_t *m =
            rank >= 0 && (size_t)rank < job->by_rank_cap ? job->by_rank[rank] : NULL;
        if (m)
            s_lag_sample(m, (double)(pd->arr[i].ms - pd->first_ms));
    }
    s_put_int(job, "mpi/ranks", (int64_t)pd->narr);
    s_put_double(job, "mpi/skew_ms", (double)(last_ms - pd->first_ms));
    s_put_int(job, "mpi/slowest_rank", slowest);
    s_put_int(job, "mpi/late_values", (int64_t)job->late_values);
    for (size_t j = 0; j < job->nmembers; j++) {
        const wbi_jobview_member_t *m = job->members[j];
        if (m->has_lag)
            s_put_double(job, m->lag_key, m->lag_ms);
    }
    wandb_err rc = wbi_agg_run_put(job->run, pd->step, pd->ts, job->nvals, job->keys, job->vals);
    if (rc != WANDB_OK)
        wbi_warn("aggregator: job run of group '%s': row at step %lld: %s", job->group,
                 (long long)pd->step, wandb_strerror(rc));
    job->view->stats.rows++;
    job->view->stats.timed_out += timed_out;
    job->last_step = pd->step;
    job->recent_step[pd->step % WBI_JV_RECENT] = pd->step;
    job->recent_first[pd->step % WBI_JV_RECENT] = pd->first_ms;
    s_pend_release(pd);
    memmove(job->pend, job->pend + 1, (job->npend - 1) * sizeof(*job->pend));
    job->npend--;
    wbi_jv_count_head(job);
}

// Writes every head step that is complete (or, with force, every step).
void wbi_jv_drain(wbi_jv_job_t *job, bool force)
{
    while (job->npend > 0) {
        bool joined = job->world_size <= 0 || job->nmembers >= (size_t)job->world_size;
        // Until every rank of the job has joined, a step waits (at most lateness_ms,
        // wbi_jobview_tick) even when no joined member is live: a fast rank can finish
        // before a slow one's run has started.
        bool complete = joined && (job->live == 0 || job->head_reached >= job->live);
        if (!complete && !force && job->npend < WBI_JOBVIEW_PENDING_MAX)
            return;
        wbi_jv_write_head(job, !complete);
    }
}

// --- members' rows --------------------------------------------------------------------

// The waiting entry for step (created in order); NULL when out of memory.
static wbi_jv_pend_t *s_pend_for(wbi_jv_job_t *job, int64_t step, int64_t now_ms)
{
    size_t lo = 0, hi = job->npend;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (job->pend[mid].step < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < job->npend && job->pend[lo].step == step)
        return &job->pend[lo];
    if (!wbi_jv_grow((void **)&job->pend, &job->pend_cap, job->npend + 1, sizeof(wbi_jv_pend_t)))
        return NULL;
    memmove(job->pend + lo + 1, job->pend + lo, (job->npend - lo) * sizeof(*job->pend));
    wbi_jv_pend_t *pd = &job->pend[lo];
    memset(pd, 0, sizeof(*pd));
    pd->step = step;
    pd->first_ms = INT64_MAX;
    pd->opened_ms = now_ms;
    wbi_imap_init(&pd->slots, WBI_AGG_RUN_MAX_KEYS);
    job->npend++;
    if (lo == 0)
        wbi_jv_count_head(job);
    return pd;
}

// A member's emitted row (wbi_agg_row_fn).
static void s_on_row(void *arg, const wbi_agg_row_t *row)
{
    wbi_jobview_member_t *m = arg;
    wbi_jv_job_t *job = m->job;
    if (job->ended)
        return;
    int64_t arrived = row->arrived_ms;
    bool crossed = job->npend > 0 && m->live && m->last_step < job->pend[0].step &&
                   row->step >= job->pend[0].step;
    if (row->step > m->last_step)
        m->last_step = row->step;
    if (row->ts > m->last_wall)
        m->last_wall = row->ts;
    if (row->step <= job->last_step) {
        // Its step was written without it: counted, and its lag still learns.
        size_t late = 0;
        double d;
        for (size_t i = 0; i < row->n; i++)
            late += wbi_hval_number(&row->vals[i], &d);
        job->late_values += late;
        job->view->stats.late_values += late;
        size_t k = (size_t)(row->step % WBI_JV_RECENT);
        if (job->recent_step[k] == row->step && job->recent_first[k] <= arrived)
            s_lag_sample(m, (double)(arrived - job->recent_first[k]));
    } else {
        wbi_jv_pend_t *pd = s_pend_for(job, row->step, arrived);
        if (pd) {
            double d;
            for (size_t i = 0; i < row->n; i++)
                if (wbi_hval_number(&row->vals[i], &d) && !isnan(d))
                    wbi_jv_accumulate(pd, row->names[i]->id, d, m->rank);
            if (row->ts > pd->ts)
                pd->ts = row->ts;
            if (arrived < pd->first_ms)
                pd->first_ms = arrived;
            if (wbi_jv_grow((void **)&pd->arr, &pd->arr_cap, pd->narr + 1,
                            sizeof(wbi_jv_arrival_t)))
                pd->arr[pd->narr++] = (wbi_jv_arrival_t){m->rank, arrived};
        }
        if (crossed)
            job->head_reached++; // (a new head was counted by s_pend_for)
    }
    wbi_jv_drain(job, false);
}

// --- jobs and members -------------------------------------------------------------------

// A run id for the job run of project/group: "job-" and 16 hex digits of
// the FNV-1a hash of project, group and the view's random instance, so that
// two jobs that share a group (a group given twice, two launchers started
// in the same second) get two job runs, not one with two histories.
static void s_job_run_id(const char *project, const char *group, const char *instance, char *out,
                         size_t len)
{
    const char *parts[] = {project, group, instance};
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < 3; i++) {
        for (const char *s = parts[i]; *s; s++)
            h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
        h = (h ^ '/') * 0x100000001b3ull;
    }
    snprintf(out, len, "job-%016" PRIx64, h);
}

// Opens the job run from the first member's HELLO.
static wandb_err s_job_open(wbi_jobview_t *self, wbi_jv_job_t *job, const json_t *hello)
{
    char id[32];
    s_job_run_id(job->project, job->group, self->instance, id, sizeof id);
    json_t *h = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "run_id", id, "project",
        job->project, "group", job->group, "job_type", "mpi-job", "name", "job", "entity",
        json_object_get(hello, "entity"), "host", json_object_get(hello, "host"), "program",
        json_object_get(hello, "program"), "start_time", json_object_get(hello, "start_time"),
        "tags", json_object_get(hello, "tags"), "platform", json_object_get(hello, "platform"));
    if (!h)
        return WANDB_ENOMEM;
    const char *why = NULL;
    wandb_err rc = wbi_agg_run_open(&job->run, &self->sink, h, self->names, &why);
    json_decref(h);
    if (rc != WANDB_OK)
        wbi_warn("aggregator: no job run for group '%s': %s", job->group,
                 why ? why : wandb_strerror(rc));
    return rc;
}

static void s_job_free(wbi_jv_job_t *job)
{
    for (size_t i = 0; i < job->nmembers; i++) {
        wbi_free(job->members[i]->lag_key);
        wbi_free(job->members[i]);
    }
    for (size_t i = 0; i < job->npend; i++)
        s_pend_release(&job->pend[i]);
    for (size_t i = 0; i < job->ndecls; i++)
        wbi_free(job->decls[i].pattern);
    for (size_t i = 0; i < job->nkinfo; i++)
        for (int r = 0; r < R_COUNT; r++)
            wbi_free(job->kinfo[i].keys[r]);
    wbi_agg_run_destroy(&job->run);
    json_decref(job->common);
    wbi_free(job->members);
    wbi_free(job->by_rank);
    wbi_free(job->pend);
    wbi_free(job->decls);
    wbi_free(job->kinfo);
    wbi_free(job->keys);
    wbi_free(job->vals);
    wbi_free(job->project);
    wbi_free(job->group);
    wbi_free(job);
}

// The job of project/group, created with its job run on first use.
static wbi_jv_job_t *s_job_get(wbi_jobview_t *self, const char *project, const char *group,
                               const json_t *hello)
{
    for (size_t i = 0; i < self->njobs; i++)
        if (strcmp(self->jobs[i]->project, project) == 0 &&
            strcmp(self->jobs[i]->group, group) == 0)
            return self->jobs[i];
    if (!wbi_jv_grow((void **)&self->jobs, &self->jobs_cap, self->njobs + 1,
                     sizeof(wbi_jv_job_t *)))
        return NULL;
    wbi_jv_job_t *job = wbi_calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->view = self;
    job->last_step = -1;
    job->decl_gen = 1;
    job->fail_rank = -1;
    for (size_t i = 0; i < WBI_JV_RECENT; i++)
        job->recent_step[i] = -1;
    job->project = wbi_strdup(project);
    job->group = wbi_strdup(group);
    if (!job->project || !job->group || s_job_open(self, job, hello) != WANDB_OK) {
        s_job_free(job);
        return NULL;
    }
    self->jobs[self->njobs++] = job;
    self->stats.jobs++;
    wbi_info("aggregator: job run '%s' for group '%s' opened", wbi_agg_run_id(job->run), group);
    return job;
}

bool wbi_jobview_wants(const json_t *hello)
{
    const char *group = json_string_value(json_object_get(hello, "group"));
    const json_t *ws = json_object_get(hello, "world_size");
    return group && group[0] && json_is_integer(ws) && json_integer_value(ws) >= 2 &&
           json_integer_value(ws) <= INT32_MAX;
}

wbi_jobview_member_t *wbi_jobview_join(wbi_jobview_t *self, wbi_agg_run_t *run, const json_t *hello,
                                       int64_t mono_ms)
{
    (void)mono_ms;
    if (!wbi_jobview_wants(hello))
        return NULL;
    const char *group = json_string_value(json_object_get(hello, "group"));
    const json_t *ws = json_object_get(hello, "world_size");
    wbi_jv_job_t *job = s_job_get(self, wbi_agg_run_project(run), group, hello);
    if (!job || job->ended)
        return NULL;
    if ((int)json_integer_value(ws) > job->world_size)
        job->world_size = (int)json_integer_value(ws);
    int rank = wbi_agg_run_rank(run);
    wbi_jobview_member_t *m = NULL;
    for (size_t i = 0; i < job->nmembers && !m; i++)
        if (job->members[i]->rank == rank)
            m = job->members[i];
    if (m) { // the rank started again: its new run takes over
        if (!m->live)
            job->live++;
    } else {
        if (!wbi_jv_grow((void **)&job->members, &job->members_cap, job->nmembers + 1,
                         sizeof(*job->members)))
            return NULL;
        m = wbi_calloc(1, sizeof(*m));
        char key[48];
        snprintf(key, sizeof key, "mpi_lag/rank-%d", rank);
        if (!m || !(m->lag_key = wbi_strdup(key))) {
            wbi_free(m);
            return NULL;
        }
        if (rank >= 0 && !wbi_jv_grow((void **)&job->by_rank, &job->by_rank_cap, (size_t)rank + 1,
                                      sizeof(*job->by_rank))) {
            wbi_free(m->lag_key);
            wbi_free(m);
            return NULL;
        }
        if (rank >= 0)
            job->by_rank[rank] = m;
        job->members[job->nmembers++] = m;
        job->live++;
        m->last_step = -1;
    }
    m->job = job;
    m->run = run;
    m->rank = rank;
    m->live = true;
    m->crashed = false;
    job->config_dirty = true;
    wbi_jv_count_head(job);
    wbi_agg_run_observe(run, s_on_row, m);
    return m;
}

void wbi_jobview_define_metric(wbi_jobview_member_t *m, const char *json, size_t len)
{
    if (m->rank == 0 && !m->job->ended)
        wbi_agg_run_define_metric(m->job->run, json, len);
}

void wbi_jobview_config_changed(wbi_jobview_member_t *m)
{
    m->job->config_dirty = true;
}

wbi_agg_run_t *wbi_jobview_member_job_run(const wbi_jobview_member_t *m)
{
    return m->job->run;
}

// --- life -----------------------------------------------------------------------------------

wandb_err wbi_jobview_new(wbi_jobview_t **out, const wbi_jobview_opts_t *opts,
                          const wbi_agg_sink_t *sink, wbi_agg_names_t *names)
{
    *out = NULL;
    wbi_jobview_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    self->sink = *sink;
    self->names = names;
    self->lateness_ms = opts && opts->lateness_ms > 0 ? opts->lateness_ms : WBI_JOBVIEW_LATENESS_MS;
    if (wbi_random_id(self->instance, sizeof self->instance - 1) != WANDB_OK) {
        wbi_free(self);
        return WANDB_EIO;
    }
    *out = self;
    return WANDB_OK;
}

void wbi_jobview_destroy(wbi_jobview_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_jobview_t *self = *self_p;
    for (size_t j = 0; j < self->njobs; j++)
        s_job_free(self->jobs[j]);
    wbi_free(self->jobs);
    wbi_free(self);
    *self_p = NULL;
}

void wbi_jobview_get_stats(const wbi_jobview_t *self, wbi_jobview_stats_t *out)
{
    *out = self->stats;
}
