//  jobview.c - the job run: one merged run per group, reduced across ranks
//  SPDX-License-Identifier: MIT
//
//  Per job, the steps that members reported but the job run has not written
//  yet wait in `pend`, ascending, each with one accumulator per metric
//  (count, Welford mean and M2, sum, min, max and their ranks) and the
//  arrival time of every rank. The head (smallest step) goes out when every
//  live member's last step is at least its step and every expected rank has
//  joined (counted in head_reached), or when it has waited lateness_ms; all
//  steps go out when no member is live. Members' rows are monotonic in
//  step, so a rank at step s has said everything it will say about steps
//  below s: a rank that skips a step does not hold it.
#include "aggregator/jobview.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/random.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_LAG_ALPHA 0.2 // weight of the newest sample in a rank's rolling lag
#define S_RECENT 256    // written steps whose first arrival is kept (late lag samples)

// Reductions, in the order of their key suffixes.
enum { R_MEAN, R_MIN, R_MAX, R_SUM, R_STD, R_ARGMIN, R_ARGMAX, R_COUNT };
#define R_NONE (1u << R_COUNT) // left out of the job run
static const char *const s_words[] = {"mean", "min", "max", "sum", "std", "argmin", "argmax"};
static const char *const s_suffix[] = {"",     "/min",      "/max",     "/sum",
                                       "/std", "/min_rank", "/max_rank"};

// One REDUCE declaration: a metric name or a glob ending in '*'.
typedef struct {
    char *pattern;  // the name (without the '*' of a glob)
    size_t len;     // its length
    bool glob;      // pattern is a prefix
    unsigned flags; // 1 << R_* bits, or R_NONE
} s_decl_t;

// What the job run does with one member key (by name id).
typedef struct {
    uint32_t gen;        // declaration generation flags belong to (0: never computed)
    unsigned flags;      // 1 << R_* bits (0: left out)
    char *keys[R_COUNT]; // job-run key per reduction (made on first use)
} s_kinfo_t;

typedef struct {
    uint32_t name_id; // the member key
    uint32_t n;       // values
    double mean;      // running mean (Welford)
    double m2;        // sum of squared deviations (Welford)
    double sum;       // plain sum
    double min;       // smallest value
    double max;       // largest value
    int min_rank;     // rank of min (the lowest rank on ties)
    int max_rank;     // rank of max (the lowest rank on ties)
} s_acc_t;

typedef struct {
    int rank;   // member rank
    int64_t ms; // arrival of its row (monotonic)
} s_arrival_t;

// A step waiting for the job run.
typedef struct {
    int64_t step;      // the step
    double ts;         // latest _timestamp among its rows
    int64_t first_ms;  // earliest arrival
    int64_t opened_ms; // when the view first heard of it (lateness clock)
    wbi_imap_t slots;  // name id -> index in acc
    s_acc_t *acc;      // accumulators
    size_t nacc;       // used
    size_t acc_cap;    // allocated
    s_arrival_t *arr;  // one per reporting rank
    size_t narr;       // used
    size_t arr_cap;    // allocated
} s_pend_t;

typedef struct s_job s_job_t;

struct wbi_jobview_member {
    s_job_t *job;       // its job
    wbi_agg_run_t *run; // its run (owned by the aggregator core)
    int rank;           // HELLO rank
    bool live;          // neither finished nor crashed
    bool crashed;       // went silent
    int exit_code;      // of its FINISH, or as mpirun reported it
    bool exit_known;    // exit_code is known (a FINISH, or mpirun's report)
    int64_t last_step;  // highest step it reported (-1: none)
    double last_wall;   // its last sign of life: Unix seconds (its rows' _timestamp, its end)
    double lag_ms;      // rolling lag behind the first rank of each step
    bool has_lag;       // lag_ms holds a sample
    char *lag_key;      // "mpi_lag/rank-<r>"
};

struct s_job {
    wbi_jobview_t *view;            // owner
    char *project;                  // the job's project
    char *group;                    // and group
    int world_size;                 // ranks expected (HELLO world_size)
    wbi_agg_run_t *run;             // the job run
    wbi_jobview_member_t **members; // members in join order
    size_t nmembers;                // used
    size_t members_cap;             // allocated
    size_t live;                    // live members
    size_t head_reached;            // live members whose last step >= the head's step
    s_pend_t *pend;                 // waiting steps, ascending
    size_t npend;                   // used
    size_t pend_cap;                // allocated
    int64_t last_step;              // last step written (-1: none)
    int64_t recent_step[S_RECENT];  // written steps (by step % S_RECENT)
    int64_t recent_first[S_RECENT]; // their first arrivals
    s_decl_t *decls;                // REDUCE declarations, oldest first
    size_t ndecls;                  // used
    size_t decls_cap;               // allocated
    wbi_jobview_member_t **by_rank; // members by rank (NULL: none)
    size_t by_rank_cap;             // allocated
    uint32_t decl_gen;              // bumped by every declaration (starts at 1)
    s_kinfo_t *kinfo;               // by name id
    size_t nkinfo;                  // allocated
    bool config_dirty;              // a member's config changed
    json_t *common;                 // the common config last sent (NULL: none yet)
    bool preempting;                // a member announced preemption
    bool ended;                     // the job run was finished or abandoned
    uint64_t late_values;           // values after their step's row
    bool failed;                    // a member failed (first failure below)
    int fail_rank;                  // its rank
    int fail_code;                  // its exit code (crashed: -1)
    bool fail_crashed;              // it went silent rather than finishing non-zero
    int64_t fail_step;              // its last step
    double fail_wall;               // its last sign of life (Unix seconds)
    double fail_seen;               // its last message by the aggregator's clock (ordering)
    double fail_known;              // when the aggregator learned of it
    const char **keys;              // row under construction: keys
    wbi_hval_t *vals;               // and values
    size_t nvals;                   // used
    size_t vals_cap;                // allocated
};

struct wbi_jobview {
    wbi_agg_sink_t sink;       // where job runs go
    wbi_agg_names_t *names;    // shared key names (borrowed)
    int lateness_ms;           // see opts
    char instance[9];          // random, part of every job run id of this view
    s_job_t **jobs;            // every job
    size_t njobs;              // used
    size_t jobs_cap;           // allocated
    wbi_jobview_stats_t stats; // counters
};

// --- helpers -------------------------------------------------------------------

// Grows *p (elements of size sz) to hold at least need; false when out of memory.
static bool s_grow(void **p, size_t *cap, size_t need, size_t sz)
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

// Parses "mean,min,..." or "none" into flags; false on an unknown word.
static bool s_parse_reduce(const char *text, unsigned *out)
{
    unsigned flags = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (int r = 0; r < R_COUNT && !found; r++)
            if (strlen(s_words[r]) == n && strncmp(s_words[r], p, n) == 0) {
                flags |= 1u << r;
                found = true;
            }
        if (!found && n == 4 && strncmp(p, "none", 4) == 0) {
            flags |= R_NONE;
            found = true;
        }
        if (!found)
            return false;
        p = end ? end + 1 : p + n;
    }
    if (flags == 0 || ((flags & R_NONE) && flags != R_NONE))
        return false;
    *out = flags;
    return true;
}

// The reductions of a member key (cached per name id and declaration generation).
static s_kinfo_t *s_kinfo(s_job_t *job, const wbi_agg_name_t *nm)
{
    if (!s_grow((void **)&job->kinfo, &job->nkinfo, (size_t)nm->id + 1, sizeof(s_kinfo_t)))
        return NULL;
    s_kinfo_t *ki = &job->kinfo[nm->id];
    if (ki->gen == job->decl_gen)
        return ki;
    ki->gen = job->decl_gen;
    ki->flags = 1u << R_MEAN;
    for (size_t i = job->ndecls; i-- > 0;) { // the latest declaration wins
        const s_decl_t *d = &job->decls[i];
        bool match = d->glob ? nm->len >= d->len && memcmp(nm->name, d->pattern, d->len) == 0
                             : nm->len == d->len && memcmp(nm->name, d->pattern, d->len) == 0;
        if (match) {
            ki->flags = d->flags & R_NONE ? 0 : d->flags;
            break;
        }
    }
    return ki;
}

// The job-run key of reduction r of a member key; NULL when out of memory.
static const char *s_derived_key(s_kinfo_t *ki, const wbi_agg_name_t *nm, int r)
{
    if (!ki->keys[r]) {
        size_t n = nm->len + strlen(s_suffix[r]) + 1;
        ki->keys[r] = wbi_malloc(n);
        if (ki->keys[r])
            snprintf(ki->keys[r], n, "%s%s", nm->name, s_suffix[r]);
    }
    return ki->keys[r];
}

static void s_pend_release(s_pend_t *pd)
{
    wbi_imap_release(&pd->slots);
    wbi_free(pd->acc);
    wbi_free(pd->arr);
    memset(pd, 0, sizeof(*pd));
}

// Appends one value to the row under construction.
static void s_put(s_job_t *job, const char *key, wbi_hval_t v)
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

static void s_put_double(s_job_t *job, const char *key, double d)
{
    wbi_hval_t v = {.type = WANDB_TYPE_DOUBLE, .as.d = d};
    s_put(job, key, v);
}

static void s_put_int(s_job_t *job, const char *key, int64_t i)
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
static void s_count_head(s_job_t *job)
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
static void s_write_head(s_job_t *job, bool timed_out)
{
    s_pend_t *pd = &job->pend[0];
    job->nvals = 0;
    for (size_t a = 0; a < pd->nacc; a++) {
        const s_acc_t *ac = &pd->acc[a];
        const wbi_agg_name_t *nm = wbi_agg_names_get(job->view->names, ac->name_id);
        s_kinfo_t *ki = s_kinfo(job, nm);
        if (!ki || ac->n == 0)
            continue;
        double std = ac->n > 1 ? sqrt(ac->m2 / ac->n) : 0.0;
        for (int r = 0; r < R_COUNT; r++) {
            if (!(ki->flags & (1u << r)))
                continue;
            const char *key = s_derived_key(ki, nm, r);
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
        const s_arrival_t *ar = &pd->arr[i];
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
    job->recent_step[pd->step % S_RECENT] = pd->step;
    job->recent_first[pd->step % S_RECENT] = pd->first_ms;
    s_pend_release(pd);
    memmove(job->pend, job->pend + 1, (job->npend - 1) * sizeof(*job->pend));
    job->npend--;
    s_count_head(job);
}

// Writes every head step that is complete (or, with force, every step).
static void s_drain(s_job_t *job, bool force)
{
    while (job->npend > 0) {
        bool joined = job->world_size <= 0 || job->nmembers >= (size_t)job->world_size;
        bool complete = job->live == 0 || (joined && job->head_reached >= job->live);
        if (!complete && !force && job->npend < WBI_JOBVIEW_PENDING_MAX)
            return;
        s_write_head(job, !complete);
    }
}

// --- members' rows --------------------------------------------------------------------

// The waiting entry for step (created in order); NULL when out of memory.
static s_pend_t *s_pend_for(s_job_t *job, int64_t step, int64_t now_ms)
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
    if (!s_grow((void **)&job->pend, &job->pend_cap, job->npend + 1, sizeof(s_pend_t)))
        return NULL;
    memmove(job->pend + lo + 1, job->pend + lo, (job->npend - lo) * sizeof(*job->pend));
    s_pend_t *pd = &job->pend[lo];
    memset(pd, 0, sizeof(*pd));
    pd->step = step;
    pd->first_ms = INT64_MAX;
    pd->opened_ms = now_ms;
    wbi_imap_init(&pd->slots, WBI_AGG_RUN_MAX_KEYS);
    job->npend++;
    if (lo == 0)
        s_count_head(job);
    return pd;
}

// Adds one member value to a waiting step.
static void s_accumulate(s_pend_t *pd, uint32_t name_id, double d, int rank)
{
    uint32_t slot = wbi_imap_get(&pd->slots, name_id);
    if (slot == WBI_MAP_NONE) {
        if (!s_grow((void **)&pd->acc, &pd->acc_cap, pd->nacc + 1, sizeof(s_acc_t)) ||
            wbi_imap_put(&pd->slots, name_id, (uint32_t)pd->nacc) != WANDB_OK)
            return;
        slot = (uint32_t)pd->nacc++;
        pd->acc[slot].name_id = name_id;
    }
    s_acc_t *ac = &pd->acc[slot];
    ac->n++;
    double delta = d - ac->mean;
    ac->mean += delta / ac->n;
    ac->m2 += delta * (d - ac->mean);
    ac->sum += d;
    if (ac->n == 1 || d < ac->min || (d == ac->min && rank < ac->min_rank)) {
        ac->min = d;
        ac->min_rank = rank;
    }
    if (ac->n == 1 || d > ac->max || (d == ac->max && rank < ac->max_rank)) {
        ac->max = d;
        ac->max_rank = rank;
    }
}

// A member's emitted row (wbi_agg_row_fn).
static void s_on_row(void *arg, const wbi_agg_row_t *row)
{
    wbi_jobview_member_t *m = arg;
    s_job_t *job = m->job;
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
        size_t k = (size_t)(row->step % S_RECENT);
        if (job->recent_step[k] == row->step && job->recent_first[k] <= arrived)
            s_lag_sample(m, (double)(arrived - job->recent_first[k]));
    } else {
        s_pend_t *pd = s_pend_for(job, row->step, arrived);
        if (pd) {
            double d;
            for (size_t i = 0; i < row->n; i++)
                if (wbi_hval_number(&row->vals[i], &d) && !isnan(d))
                    s_accumulate(pd, row->names[i]->id, d, m->rank);
            if (row->ts > pd->ts)
                pd->ts = row->ts;
            if (arrived < pd->first_ms)
                pd->first_ms = arrived;
            if (s_grow((void **)&pd->arr, &pd->arr_cap, pd->narr + 1, sizeof(s_arrival_t)))
                pd->arr[pd->narr++] = (s_arrival_t){m->rank, arrived};
        }
        if (crossed)
            job->head_reached++; // (a new head was counted by s_pend_for)
    }
    s_drain(job, false);
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
static wandb_err s_job_open(wbi_jobview_t *self, s_job_t *job, const json_t *hello)
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

static void s_job_free(s_job_t *job)
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
static s_job_t *s_job_get(wbi_jobview_t *self, const char *project, const char *group,
                          const json_t *hello)
{
    for (size_t i = 0; i < self->njobs; i++)
        if (strcmp(self->jobs[i]->project, project) == 0 &&
            strcmp(self->jobs[i]->group, group) == 0)
            return self->jobs[i];
    if (!s_grow((void **)&self->jobs, &self->jobs_cap, self->njobs + 1, sizeof(s_job_t *)))
        return NULL;
    s_job_t *job = wbi_calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->view = self;
    job->last_step = -1;
    job->decl_gen = 1;
    job->fail_rank = -1;
    for (size_t i = 0; i < S_RECENT; i++)
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
    s_job_t *job = s_job_get(self, wbi_agg_run_project(run), group, hello);
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
        if (!s_grow((void **)&job->members, &job->members_cap, job->nmembers + 1,
                    sizeof(*job->members)))
            return NULL;
        m = wbi_calloc(1, sizeof(*m));
        char key[48];
        snprintf(key, sizeof key, "mpi_lag/rank-%d", rank);
        if (!m || !(m->lag_key = wbi_strdup(key))) {
            wbi_free(m);
            return NULL;
        }
        if (rank >= 0 && !s_grow((void **)&job->by_rank, &job->by_rank_cap, (size_t)rank + 1,
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
    s_count_head(job);
    wbi_agg_run_observe(run, s_on_row, m);
    return m;
}

wandb_err wbi_jobview_reduce(wbi_jobview_member_t *m, const char *json, size_t len)
{
    s_job_t *job = m->job;
    json_error_t jerr;
    json_t *o = wbi_jsonx_loadb(json, len, 0, &jerr);
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *reduce = json_string_value(json_object_get(o, "reduce"));
    unsigned flags;
    wandb_err rc = WANDB_EPROTO;
    if (!name || !name[0] || !reduce || !s_parse_reduce(reduce, &flags))
        goto out;
    rc = WANDB_OK;
    bool has_rank0 = false;
    for (size_t i = 0; i < job->nmembers; i++)
        has_rank0 |= job->members[i]->rank == 0;
    if (m->rank != 0 && has_rank0)
        goto out; // rank 0 speaks for the job
    rc = WANDB_ENOMEM;
    if (!s_grow((void **)&job->decls, &job->decls_cap, job->ndecls + 1, sizeof(s_decl_t)))
        goto out;
    size_t n = strlen(name);
    s_decl_t d = {.glob = n > 0 && name[n - 1] == '*', .flags = flags};
    d.len = d.glob ? n - 1 : n;
    d.pattern = wbi_strdup(name);
    if (!d.pattern)
        goto out;
    job->decls[job->ndecls++] = d;
    if (++job->decl_gen == 0)
        job->decl_gen = 1;
    rc = WANDB_OK;
out:
    json_decref(o);
    return rc;
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

void wbi_jobview_preempting(wbi_jobview_member_t *m)
{
    s_job_t *job = m->job;
    if (job->preempting || job->ended)
        return;
    job->preempting = true;
    wbi_agg_run_preempting(job->run);
}

wbi_agg_run_t *wbi_jobview_member_job_run(const wbi_jobview_member_t *m)
{
    return m->job->run;
}

void wbi_jobview_end(wbi_jobview_member_t *m, bool crashed, int exit_code, double last_wall,
                     double wall)
{
    s_job_t *job = m->job;
    if (!m->live)
        return;
    m->live = false;
    m->crashed = crashed;
    if (!crashed) {
        m->exit_code = exit_code;
        m->exit_known = true;
    }
    job->live--;
    if (last_wall > m->last_wall)
        m->last_wall = last_wall;
    // Failures are ordered by when the aggregator learned of them (a silent
    // rank's last message can predate the failure that got it killed), then
    // by the last sign of life.
    // A rank killed while the job is being preempted did not fail.
    bool failure = crashed ? !job->preempting : exit_code != 0;
    // Learned of together (at the end of service): the one silent first.
    if (failure && (!job->failed || wall < job->fail_known ||
                    (wall == job->fail_known && last_wall < job->fail_seen))) {
        job->fail_known = wall;
        job->failed = true;
        job->fail_rank = m->rank;
        job->fail_code = m->exit_known ? m->exit_code : -1;
        job->fail_crashed = crashed;
        job->fail_step = m->last_step;
        job->fail_wall = m->last_wall;
        job->fail_seen = last_wall;
    }
    s_count_head(job);
    s_drain(job, false);
}

void wbi_jobview_rank_exit(wbi_jobview_t *self, int rank, int exit_code, bool first)
{
    for (size_t j = 0; j < self->njobs; j++) {
        s_job_t *job = self->jobs[j];
        wbi_jobview_member_t *m =
            rank >= 0 && (size_t)rank < job->by_rank_cap ? job->by_rank[rank] : NULL;
        if (!m || job->ended || (m->exit_known && !m->crashed))
            continue; // its own FINISH said it already
        m->exit_code = exit_code;
        m->exit_known = true;
        if (job->failed && job->fail_rank == rank) {
            job->fail_code = exit_code;
        } else if (first && exit_code != 0 && !job->preempting) {
            // mpirun saw which process ended first: it outranks our clocks.
            job->failed = true;
            job->fail_rank = rank;
            job->fail_code = exit_code;
            job->fail_crashed = m->crashed || m->live;
            job->fail_step = m->last_step;
            job->fail_wall = m->last_wall;
        }
    }
}

void wbi_jobview_revive(wbi_jobview_member_t *m)
{
    if (m->live || m->job->ended)
        return;
    m->live = true;
    m->crashed = false;
    m->job->live++;
    s_count_head(m->job);
}

// --- timers and the end --------------------------------------------------------------------

// Sends the config keys whose values every member shares, when they changed.
static void s_common_config(s_job_t *job)
{
    job->config_dirty = false;
    if (job->nmembers == 0)
        return;
    const json_t *first = wbi_agg_run_config_object(job->members[0]->run);
    json_t *common = json_object();
    if (!common)
        return;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)first, key, v)
    {
        bool shared = true;
        for (size_t i = 1; i < job->nmembers && shared; i++)
            shared = json_equal(
                v, json_object_get(wbi_agg_run_config_object(job->members[i]->run), key));
        if (shared)
            json_object_set(common, key, v);
    }
    if (job->common && json_equal(common, job->common)) {
        json_decref(common);
        return;
    }
    char *text = wbi_jsonx_dumps(common, JSON_COMPACT);
    if (text)
        wbi_agg_run_config(job->run, text, strlen(text));
    wbi_free(text);
    json_decref(job->common);
    job->common = common;
}

// The job's figures that live in the summary: first failure, exit codes.
static void s_job_summary(s_job_t *job)
{
    json_t *s = json_object();
    json_t *codes = json_object();
    if (!s || !codes) {
        json_decref(s);
        json_decref(codes);
        return;
    }
    size_t finished = 0, crashed = 0, preempted = 0;
    for (size_t i = 0; i < job->nmembers; i++) {
        const wbi_jobview_member_t *m = job->members[i];
        char r[16];
        snprintf(r, sizeof r, "%d", m->rank);
        if (m->exit_known)
            json_object_set_new(codes, r, json_integer(m->exit_code));
        finished += !m->live && !m->crashed;
        // A rank that went silent while the job was being preempted was
        // preempted, not crashed (its run ends preempted).
        preempted += m->crashed && job->preempting;
        crashed += m->crashed && !job->preempting;
    }
    json_object_set_new(s, "mpi/exit_codes", codes);
    json_object_set_new(s, "mpi/ranks_finished", json_integer((json_int_t)finished));
    json_object_set_new(s, "mpi/ranks_crashed", json_integer((json_int_t)crashed));
    json_object_set_new(s, "mpi/ranks_preempted", json_integer((json_int_t)preempted));
    json_object_set_new(s, "mpi/world_size", json_integer(job->world_size));
    json_object_set_new(s, "mpi/late_values", json_integer((json_int_t)job->late_values));
    if (job->failed) {
        json_object_set_new(s, "mpi/first_failure/rank", json_integer(job->fail_rank));
        json_object_set_new(s, "mpi/first_failure/state",
                            json_string(job->fail_crashed ? "crashed" : "failed"));
        json_object_set_new(s, "mpi/first_failure/exit_code",
                            job->fail_code >= 0 ? json_integer(job->fail_code) : json_null());
        json_object_set_new(s, "mpi/first_failure/last_step", json_integer(job->fail_step));
        json_object_set_new(s, "mpi/first_failure/time", json_real(job->fail_wall));
    }
    char *text = wbi_jsonx_dumps(s, JSON_COMPACT);
    json_decref(s);
    if (text)
        wbi_agg_run_summary(job->run, text, strlen(text));
    wbi_free(text);
}

// Ends the job run: finished with the first failure's exit code when every
// member finished; crashed (or preempted) when one did not.
static void s_job_end(s_job_t *job, double wall)
{
    if (job->ended)
        return;
    s_drain(job, true);
    if (job->config_dirty)
        s_common_config(job);
    s_job_summary(job);
    bool all_finished = true;
    for (size_t i = 0; i < job->nmembers; i++)
        all_finished &= !job->members[i]->live && !job->members[i]->crashed;
    job->ended = true;
    if (all_finished) {
        int code = job->failed ? job->fail_code : 0;
        wbi_agg_run_finish(job->run, code, 0, 0, wall);
        wbi_info("aggregator: job run '%s' finished, exit code %d", wbi_agg_run_id(job->run), code);
    } else {
        wbi_agg_run_close(job->run, wall);
        wbi_agg_run_abandon(job->run, wall);
        wbi_warn("aggregator: job run '%s' ends %s%s", wbi_agg_run_id(job->run),
                 job->preempting ? "preempted" : "crashed",
                 job->failed ? "" : " (no rank reported a failure)");
        if (job->failed)
            wbi_warn("aggregator: group '%s': rank %d failed first (%s %d, last step %lld)",
                     job->group, job->fail_rank,
                     job->fail_crashed ? "went silent, exit code" : "exit code", job->fail_code,
                     (long long)job->fail_step);
    }
}

void wbi_jobview_tick(wbi_jobview_t *self, int64_t mono_ms, double wall)
{
    for (size_t j = 0; j < self->njobs; j++) {
        s_job_t *job = self->jobs[j];
        if (job->ended)
            continue;
        while (job->npend > 0 && mono_ms - job->pend[0].opened_ms >= self->lateness_ms)
            s_write_head(job, true);
        if (job->config_dirty)
            s_common_config(job);
        bool joined = job->world_size <= 0 || job->nmembers >= (size_t)job->world_size;
        if (job->live == 0 && joined && job->nmembers > 0)
            s_job_end(job, wall);
        else
            wbi_agg_run_flush(job->run);
    }
}

void wbi_jobview_shutdown(wbi_jobview_t *self, double wall)
{
    for (size_t j = 0; j < self->njobs; j++)
        s_job_end(self->jobs[j], wall);
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
