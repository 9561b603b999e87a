//  jobview.h - the job run: one merged run per group, reduced across ranks
//  SPDX-License-Identifier: MIT
//
//  Every run that says HELLO with a group and a world_size above 1 is a
//  member of its job (one per project and group). The job view keeps one
//  more run per job, the job run (display name "job", job_type "mpi-job"),
//  fed by the members' typed rows (history.h) as they leave their runs:
//  when every live member has passed step s, or the lateness bound has
//  passed since the first of them reported it, it writes one row for s
//  with each numeric metric reduced across ranks (docs/job-view.md names
//  the keys) and the straggler figures of the step. Late values still reach
//  their rank's run and are counted in the job run. The job run's config is
//  the config common to every member, its metric definitions those of rank
//  0, and it ends when its members have: finished (exit code of the first
//  failure), crashed, or preempted. Thread: the owning thread only.
#ifndef WBI_AGG_JOBVIEW_H
#define WBI_AGG_JOBVIEW_H

#include "aggregator/run.h"

#define WBI_JOBVIEW_LATENESS_MS 10000 // default wait for a slow rank
#define WBI_JOBVIEW_PENDING_MAX 1024  // steps waiting per job; past it the oldest goes out

typedef struct wbi_jobview wbi_jobview_t;
typedef struct wbi_jobview_member wbi_jobview_member_t;

typedef struct {
    int lateness_ms; // longest wait for a slow rank's step; 0: WBI_JOBVIEW_LATENESS_MS
} wbi_jobview_opts_t;

typedef struct {
    uint64_t jobs;        // job runs opened
    uint64_t rows;        // job rows written
    uint64_t late_values; // member values that came after their step's job row
    uint64_t timed_out;   // job rows written before every live member had reported
} wbi_jobview_stats_t;

// sink: where job runs go (copied); names: the aggregator's key names
// (borrowed, must outlive the view).
wandb_err wbi_jobview_new(wbi_jobview_t **out, const wbi_jobview_opts_t *opts,
                          const wbi_agg_sink_t *sink, wbi_agg_names_t *names);
// Frees every job without sending anything more. NULL-safe; nulls *self_p.
void wbi_jobview_destroy(wbi_jobview_t **self_p);

// True when a run with this HELLO belongs to a job: a group and a
// world_size of 2 or more.
bool wbi_jobview_wants(const json_t *hello);
// A run said HELLO. Returns its member (owned by the view; it observes the
// run's rows from now on), or NULL when the run belongs to no job (no group,
// world_size below 2) or the job run could not be opened (logged). A second
// HELLO of the same rank in a job (a restarted rank) takes over the member.
wbi_jobview_member_t *wbi_jobview_join(wbi_jobview_t *self, wbi_agg_run_t *run, const json_t *hello,
                                       int64_t mono_ms);
// A member's REDUCE {name, reduce} record. WANDB_EPROTO on a bad object.
wandb_err wbi_jobview_reduce(wbi_jobview_member_t *m, const char *json, size_t len);
// A member's DEFINE_METRIC record, applied to the job run when it is rank 0's.
void wbi_jobview_define_metric(wbi_jobview_member_t *m, const char *json, size_t len);
// The member's config changed (the common config is rebuilt at the next tick).
void wbi_jobview_config_changed(wbi_jobview_member_t *m);
// The member announced preemption: so does the job run.
void wbi_jobview_preempting(wbi_jobview_member_t *m);
// The member ended: finished with exit_code, or (crashed) went silent;
// last_wall: Unix seconds of its last message; wall: now. The job's first
// failure is the one learned of first (a non-zero exit, or a silence).
void wbi_jobview_end(wbi_jobview_member_t *m, bool crashed, int exit_code, double last_wall,
                     double wall);
// What mpirun reported about rank's process after the job: its exit code
// (128 + n for signal n), and whether it was the first to fail. Recorded
// for that rank in every job (not for a rank whose FINISH said it); the
// first failure takes it, or becomes it when first (unless preempted).
void wbi_jobview_rank_exit(wbi_jobview_t *self, int rank, int exit_code, bool first);
// A member marked crashed speaks again: live once more.
void wbi_jobview_revive(wbi_jobview_member_t *m);
// The job run of a member's job (for WELCOME when per-rank runs are off).
wbi_agg_run_t *wbi_jobview_member_job_run(const wbi_jobview_member_t *m);
// Lateness, common configs, job-run summaries, and jobs whose members all ended.
void wbi_jobview_tick(wbi_jobview_t *self, int64_t mono_ms, double wall);
// End of service: writes every waiting row and ends every job run (runs
// whose members did not all finish end crashed, or preempted).
void wbi_jobview_shutdown(wbi_jobview_t *self, double wall);
void wbi_jobview_get_stats(const wbi_jobview_t *self, wbi_jobview_stats_t *out);

#endif
