//  jobstate.c - the job's verdict: members' ends, first failure, summary, the job run's end
//  SPDX-License-Identifier: MIT
//
//  Ranks report finish and exit code; the job view decides the rest. The
//  first failure is the one the aggregator learned of first (mpirun's
//  report outranks it); a rank silent while the job is being preempted did
//  not fail. The job run ends when every member has: finished, crashed or
//  preempted, with its verdict in the summary (docs/job-view.md).
#include "aggregator/jobview_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include <stdio.h>
#include <string.h>

void wbi_jobview_preempting(wbi_jobview_member_t *m)
{
    wbi_jv_job_t *job = m->job;
    if (job->preempting || job->ended)
        return;
    job->preempting = true;
    wbi_agg_run_preempting(job->run);
}

void wbi_jobview_end(wbi_jobview_member_t *m, bool crashed, int exit_code, double last_wall,
                     double wall)
{
    wbi_jv_job_t *job = m->job;
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
    wbi_jv_count_head(job);
    wbi_jv_drain(job, false);
}

void wbi_jobview_rank_exit(wbi_jobview_t *self, int rank, int exit_code, bool first)
{
    for (size_t j = 0; j < self->njobs; j++) {
        wbi_jv_job_t *job = self->jobs[j];
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
    wbi_jv_count_head(m->job);
}

// --- timers and the end --------------------------------------------------------------------

// Sends the config keys whose values every member shares, when they changed.
static void s_common_config(wbi_jv_job_t *job)
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
static void s_job_summary(wbi_jv_job_t *job)
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
static void s_job_end(wbi_jv_job_t *job, double wall)
{
    if (job->ended)
        return;
    wbi_jv_drain(job, true);
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
        wbi_jv_job_t *job = self->jobs[j];
        if (job->ended)
            continue;
        while (job->npend > 0 && mono_ms - job->pend[0].opened_ms >= self->lateness_ms)
            wbi_jv_write_head(job, true);
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
