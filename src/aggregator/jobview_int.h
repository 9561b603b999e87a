//  jobview_int.h - the job view's state, private to jobview.c, jobreduce.c, jobstate.c
//  SPDX-License-Identifier: MIT
//
//  One job (wbi_jv_job_t) per project and group, with its members, the steps
//  waiting for the job run (pend) and the declared reductions. jobview.c
//  joins members and writes rows, jobreduce.c holds what each key reduces to
//  and the accumulators, jobstate.c the job's verdict and its end. Thread:
//  the aggregator's (the owning thread of the view) only.
#ifndef WBI_AGG_JOBVIEW_INT_H
#define WBI_AGG_JOBVIEW_INT_H

#include "aggregator/jobview.h"
#include "aggregator/map.h"

#define WBI_JV_RECENT 256 // written steps whose first arrival is kept (late lag samples)

// Reductions, in the order of their key suffixes (short names: this header
// is private to the three files of the job view).
enum { R_MEAN, R_MIN, R_MAX, R_SUM, R_STD, R_ARGMIN, R_ARGMAX, R_COUNT };
#define R_NONE (1u << R_COUNT) // left out of the job run

// One REDUCE declaration: a metric name or a glob ending in '*'.
typedef struct {
    char *pattern;  // the name (without the '*' of a glob)
    size_t len;     // its length
    bool glob;      // pattern is a prefix
    unsigned flags; // 1 << R_* bits, or R_NONE
} wbi_jv_decl_t;

// What the job run does with one member key (by name id).
typedef struct {
    uint32_t gen;        // declaration generation flags belong to (0: never computed)
    unsigned flags;      // 1 << R_* bits (0: left out)
    char *keys[R_COUNT]; // job-run key per reduction (made on first use)
} wbi_jv_kinfo_t;

// One key's accumulator in a waiting step.
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
} wbi_jv_acc_t;

// One rank's arrival at a waiting step.
typedef struct {
    int rank;   // member rank
    int64_t ms; // arrival of its row (monotonic)
} wbi_jv_arrival_t;

// A step waiting for the job run.
typedef struct {
    int64_t step;          // the step
    double ts;             // latest _timestamp among its rows
    int64_t first_ms;      // earliest arrival
    int64_t opened_ms;     // when the view first heard of it (lateness clock)
    wbi_imap_t slots;      // name id -> index in acc
    wbi_jv_acc_t *acc;     // accumulators
    size_t nacc;           // used
    size_t acc_cap;        // allocated
    wbi_jv_arrival_t *arr; // one per reporting rank
    size_t narr;           // used
    size_t arr_cap;        // allocated
} wbi_jv_pend_t;

typedef struct wbi_jv_job wbi_jv_job_t;

struct wbi_jobview_member {
    wbi_jv_job_t *job;  // its job
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

struct wbi_jv_job {
    wbi_jobview_t *view;                 // owner
    char *project;                       // the job's project
    char *group;                         // and group
    int world_size;                      // ranks expected (HELLO world_size)
    wbi_agg_run_t *run;                  // the job run
    wbi_jobview_member_t **members;      // members in join order
    size_t nmembers;                     // used
    size_t members_cap;                  // allocated
    size_t live;                         // live members
    size_t head_reached;                 // live members whose last step >= the head's step
    wbi_jv_pend_t *pend;                 // waiting steps, ascending
    size_t npend;                        // used
    size_t pend_cap;                     // allocated
    int64_t last_step;                   // last step written (-1: none)
    int64_t recent_step[WBI_JV_RECENT];  // written steps (by step % WBI_JV_RECENT)
    int64_t recent_first[WBI_JV_RECENT]; // their first arrivals
    wbi_jv_decl_t *decls;                // REDUCE declarations, oldest first
    size_t ndecls;                       // used
    size_t decls_cap;                    // allocated
    wbi_jobview_member_t **by_rank;      // members by rank (NULL: none)
    size_t by_rank_cap;                  // allocated
    uint32_t decl_gen;                   // bumped by every declaration (starts at 1)
    wbi_jv_kinfo_t *kinfo;               // by name id
    size_t nkinfo;                       // allocated
    bool config_dirty;                   // a member's config changed
    json_t *common;                      // the common config last sent (NULL: none yet)
    bool preempting;                     // a member announced preemption
    bool ended;                          // the job run was finished or abandoned
    uint64_t late_values;                // values after their step's row
    bool failed;                         // a member failed (first failure below)
    int fail_rank;                       // its rank
    int fail_code;                       // its exit code (crashed: -1)
    bool fail_crashed;                   // it went silent rather than finishing non-zero
    int64_t fail_step;                   // its last step
    double fail_wall;                    // its last sign of life (Unix seconds)
    double fail_seen;                    // its last message by the aggregator's clock (ordering)
    double fail_known;                   // when the aggregator learned of it
    const char **keys;                   // row under construction: keys
    wbi_hval_t *vals;                    // and values
    size_t nvals;                        // used
    size_t vals_cap;                     // allocated
};

struct wbi_jobview {
    wbi_agg_sink_t sink;       // where job runs go
    wbi_agg_names_t *names;    // shared key names (borrowed)
    int lateness_ms;           // see opts
    char instance[9];          // random, part of every job run id of this view
    wbi_jv_job_t **jobs;       // every job
    size_t njobs;              // used
    size_t jobs_cap;           // allocated
    wbi_jobview_stats_t stats; // counters
};

// Grows *p (elements of size sz) to hold at least need; false when out of memory.
bool wbi_jv_grow(void **p, size_t *cap, size_t need, size_t sz);

// jobreduce.c: parses "mean,min,..." or "none" into flags; false on an unknown word.
bool wbi_jv_parse_reduce(const char *text, unsigned *out);
// The reductions of a member key (cached per name id and declaration generation).
wbi_jv_kinfo_t *wbi_jv_kinfo(wbi_jv_job_t *job, const wbi_agg_name_t *nm);
// The job-run key of reduction r of a member key; NULL when out of memory.
const char *wbi_jv_derived_key(wbi_jv_kinfo_t *ki, const wbi_agg_name_t *nm, int r);
// Adds one member value to a waiting step.
void wbi_jv_accumulate(wbi_jv_pend_t *pd, uint32_t name_id, double d, int rank);

// jobview.c: counts the live members whose last step reached the head's step.
void wbi_jv_count_head(wbi_jv_job_t *job);
// Writes the head step as one job-run row and drops it.
void wbi_jv_write_head(wbi_jv_job_t *job, bool timed_out);
// Writes every head step that is complete (or, with force, every step).
void wbi_jv_drain(wbi_jv_job_t *job, bool force);

#endif
