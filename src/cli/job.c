//  job.c - wandb-mpi job: how one MPI job ended, from its runs in the store
//  SPDX-License-Identifier: MIT
//
//  The job run (display name "job", job_type "mpi-job", docs/job-view.md)
//  carries the job's own verdict in its summary: mpi/first_failure/* and
//  mpi/exit_codes. Without it (job_run=false, an older aggregator) the rank
//  runs' states alone are reported.
#include "cli/job.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define S_STATES 5
#define S_JOB_RUNS 8 // job runs of one group reported (a group given to several jobs)

static const char *const s_state_names[S_STATES] = {"finished", "failed", "crashed", "preempted",
                                                    "running"};

typedef struct {
    char id[160];    // the job run's id
    char state[32];  // its state
    json_t *summary; // its summary (NULL: none)
} s_jobrun_t;

typedef struct {
    const char *group;           // the job
    int count[S_STATES + 1];     // rank runs by state (last: other)
    int runs;                    // rank runs
    s_jobrun_t jobs[S_JOB_RUNS]; // its job runs
    int njobs;                   // used
    int more_jobs;               // job runs beyond S_JOB_RUNS
} s_job_t;

// One run of the store: a job run of the group, or one of its rank runs.
static int s_run(void *arg, const wbi_run_t *run)
{
    s_job_t *j = arg;
    if (!run->group || strcmp(run->group, j->group) != 0)
        return 0;
    if (run->job_type && strcmp(run->job_type, "mpi-job") == 0 && run->display_name &&
        strcmp(run->display_name, "job") == 0) {
        if (j->njobs == S_JOB_RUNS) {
            j->more_jobs++;
            return 0;
        }
        s_jobrun_t *jr = &j->jobs[j->njobs++];
        snprintf(jr->id, sizeof jr->id, "%s", run->name);
        snprintf(jr->state, sizeof jr->state, "%s", run->state ? run->state : "?");
        jr->summary = run->summary ? json_loads(run->summary, 0, NULL) : NULL;
        return 0;
    }
    int k = 0;
    while (k < S_STATES && (!run->state || strcmp(run->state, s_state_names[k]) != 0))
        k++;
    j->count[k]++;
    j->runs++;
    return 0;
}

// Reads an integer of a job run's summary; -1 when absent.
static long long s_sum_int(const json_t *summary, const char *key)
{
    const json_t *v = json_object_get(summary, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

// Prints one job run: its state, the ranks it counted when the rank runs
// are not on the backend (per_rank_runs=false), and its first failure.
static void s_print_job_run(const s_jobrun_t *jr, bool ranks_from_summary)
{
    const json_t *s = jr->summary;
    printf("job run %s: %s\n", jr->id, jr->state);
    if (ranks_from_summary && s_sum_int(s, "mpi/world_size") >= 0)
        printf("  its %lld rank(s) (per-rank runs off): %lld finished, %lld crashed, "
               "%lld preempted\n",
               s_sum_int(s, "mpi/world_size"), s_sum_int(s, "mpi/ranks_finished"),
               s_sum_int(s, "mpi/ranks_crashed"), s_sum_int(s, "mpi/ranks_preempted"));
    long long rank = s_sum_int(s, "mpi/first_failure/rank");
    if (rank < 0)
        return;
    const char *how = json_string_value(json_object_get(s, "mpi/first_failure/state"));
    long long code = s_sum_int(s, "mpi/first_failure/exit_code");
    long long step = s_sum_int(s, "mpi/first_failure/last_step");
    printf("rank %lld failed first: ", rank);
    if (code >= 0)
        printf("exit code %lld", code);
    else
        printf("%s", how && strcmp(how, "crashed") == 0 ? "went silent (crashed)" : "?");
    if (step >= 0)
        printf(", last step %lld", step);
    printf("\n");
}

int wbi_cli_job(wbi_store_t *store, const char *entity, const char *project, const char *group)
{
    s_job_t j = {.group = group};
    int rc = 1;
    if (wbi_store_runs_each(store, entity, project, s_run, &j) != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read runs: %s\n", wbi_store_errmsg(store));
        goto out;
    }
    if (j.runs == 0 && j.njobs == 0) {
        printf("job %s: no runs\n", group);
        rc = 3;
        goto out;
    }
    printf("job %s: %d rank run(s)", group, j.runs);
    const char *sep = ": ";
    for (int k = 0; k <= S_STATES; k++) {
        if (j.count[k] == 0)
            continue;
        printf("%s%d %s", sep, j.count[k], k < S_STATES ? s_state_names[k] : "other");
        sep = ", ";
    }
    printf("\n");
    bool ok = j.runs == 0 || j.count[0] == j.runs;
    for (int i = 0; i < j.njobs; i++) {
        s_print_job_run(&j.jobs[i], j.runs == 0);
        ok = ok && strcmp(j.jobs[i].state, "finished") == 0;
    }
    if (j.more_jobs)
        printf("(and %d more job runs in this group)\n", j.more_jobs);
    rc = ok ? 0 : 1;
out:
    for (int i = 0; i < j.njobs; i++)
        json_decref(j.jobs[i].summary);
    return rc;
}
