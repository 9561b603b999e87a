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

static const char *const s_state_names[S_STATES] = {"finished", "failed", "crashed", "preempted",
                                                    "running"};

typedef struct {
    const char *group;       // the job
    int count[S_STATES + 1]; // rank runs by state (last: other)
    int runs;                // rank runs
    char job_id[160];        // the job run's id ("" when none)
    char job_state[32];      // its state
    json_t *job_summary;     // its summary
} s_job_t;

static int s_run(void *arg, const wbi_run_t *run)
{
    s_job_t *j = arg;
    if (!run->group || strcmp(run->group, j->group) != 0)
        return 0;
    if (run->job_type && strcmp(run->job_type, "mpi-job") == 0 && run->display_name &&
        strcmp(run->display_name, "job") == 0) {
        snprintf(j->job_id, sizeof j->job_id, "%s", run->name);
        snprintf(j->job_state, sizeof j->job_state, "%s", run->state ? run->state : "?");
        json_decref(j->job_summary);
        j->job_summary = run->summary ? json_loads(run->summary, 0, NULL) : NULL;
        return 0;
    }
    int k = 0;
    while (k < S_STATES && (!run->state || strcmp(run->state, s_state_names[k]) != 0))
        k++;
    j->count[k]++;
    j->runs++;
    return 0;
}

int wbi_cli_job(wbi_store_t *store, const char *entity, const char *project, const char *group)
{
    s_job_t j = {.group = group};
    if (wbi_store_runs_each(store, entity, project, s_run, &j) != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read runs: %s\n", wbi_store_errmsg(store));
        json_decref(j.job_summary);
        return 1;
    }
    if (j.runs == 0 && !j.job_id[0]) {
        printf("job %s: no runs\n", group);
        return 3;
    }
    printf("job %s: %d rank run(s):", group, j.runs);
    const char *sep = " ";
    for (int k = 0; k <= S_STATES; k++) {
        if (j.count[k] == 0)
            continue;
        printf("%s%d %s", sep, j.count[k], k < S_STATES ? s_state_names[k] : "other");
        sep = ", ";
    }
    printf("\n");
    const json_t *s = j.job_summary;
    if (j.job_id[0]) {
        printf("job run %s: %s\n", j.job_id, j.job_state);
        const json_t *rank = json_object_get(s, "mpi/first_failure/rank");
        if (json_is_integer(rank)) {
            const char *how = json_string_value(json_object_get(s, "mpi/first_failure/state"));
            const json_t *code = json_object_get(s, "mpi/first_failure/exit_code");
            const json_t *step = json_object_get(s, "mpi/first_failure/last_step");
            printf("rank %lld failed first: ", (long long)json_integer_value(rank));
            if (json_is_integer(code))
                printf("exit code %lld", (long long)json_integer_value(code));
            else
                printf("%s", how && strcmp(how, "crashed") == 0 ? "went silent (crashed)" : "?");
            if (json_is_integer(step))
                printf(", last step %lld", (long long)json_integer_value(step));
            printf("\n");
        }
    }
    bool ok =
        j.runs > 0 && j.count[0] == j.runs && (!j.job_id[0] || !strcmp(j.job_state, "finished"));
    json_decref(j.job_summary);
    return ok ? 0 : 1;
}
