//  resume.c - resume on the rank's side: the run id for "auto", the wait for
//  the aggregator's decision
//  SPDX-License-Identifier: MIT
//
//  The rank never talks to the backend: with a resume mode, its HELLO says
//  so, the aggregator asks the backend (RunResumeStatus) and answers with a
//  WELCOME that carries the decision (docs/aggregator.md "Resume").
//  wandb_init waits for it (at most init_timeout_ms): a refusal fails init
//  with the backend's reason, a resumed run continues at its starting step.
//  "auto" (docs/decisions.md "Resume"): the run id is kept in
//  <dir>/wandb-resume.json (wandb-resume-<rank>.json under MPI) from init
//  until wandb_finish removes it; a file left behind means the run did not
//  finish (it crashed), so the next "auto" init without a run id continues
//  that id. Thread: wbi_resume_note is the I/O thread's, the rest init's or
//  finish's (the run is not yet, or no longer, shared).
#include "logger/resume.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// The resume file of cfg into out; false when the path does not fit.
static bool s_file(const wbi_cfg_t *cfg, char *out, size_t len)
{
    int n = cfg->under_mpi && cfg->world_size > 1
                ? snprintf(out, len, "%s/wandb-resume-%d.json", cfg->dir, cfg->rank)
                : snprintf(out, len, "%s/wandb-resume.json", cfg->dir);
    return n > 0 && (size_t)n < len;
}

bool wbi_resume_is_auto(const wbi_cfg_t *cfg)
{
    return cfg->resume && strcmp(cfg->resume, "auto") == 0;
}

wandb_err wbi_resume_auto_id(wbi_cfg_t *cfg, bool id_given)
{
    char path[4096];
    if (!wbi_resume_is_auto(cfg) || !s_file(cfg, path, sizeof path))
        return WANDB_OK;
    if (!id_given) {
        json_error_t jerr;
        json_t *f = json_load_file(path, 0, &jerr);
        const char *id = json_string_value(json_object_get(f, "run_id"));
        if (id && *id && strlen(id) <= 128 && !strpbrk(id, ":;,#?/' \t\r\n")) {
            char *copy = wbi_strdup(id);
            if (!copy) {
                json_decref(f);
                return WANDB_ENOMEM;
            }
            wbi_free(cfg->run_id);
            cfg->run_id = copy;
            wbi_info("wandb_init: resume 'auto': run '%s' did not finish here: continuing it",
                     copy);
        }
        json_decref(f);
    }
    // Remember the id until wandb_finish; a failure only loses "auto" next time.
    if (mkdir(cfg->dir, 0777) != 0 && errno != EEXIST)
        wbi_warn("wandb_init: resume 'auto': cannot create '%s': %s", cfg->dir, strerror(errno));
    FILE *out = fopen(path, "w");
    if (!out || fprintf(out, "{\"run_id\": \"%s\"}\n", cfg->run_id) < 0)
        wbi_warn("wandb_init: resume 'auto': cannot write '%s'", path);
    if (out)
        fclose(out);
    return WANDB_OK;
}

void wbi_resume_forget(const wbi_cfg_t *cfg)
{
    char path[4096];
    if (wbi_resume_is_auto(cfg) && s_file(cfg, path, sizeof path))
        unlink(path);
}

void wbi_resume_note(wandb_run_t *run, const json_t *welcome)
{
    if (atomic_load(&run->resume_state) != 0)
        return; // the first WELCOME decided; a later one (after a reconnect) changes nothing
    const char *error = json_string_value(json_object_get(welcome, "error"));
    if (error) {
        const char *code = json_string_value(json_object_get(welcome, "refused"));
        snprintf(run->resume_msg, sizeof run->resume_msg, "%s", error);
        run->resume_refusal = !code                          ? WANDB_EBACKEND
                              : strcmp(code, "exists") == 0  ? WANDB_EEXIST
                              : strcmp(code, "missing") == 0 ? WANDB_ENOTFOUND
                                                             : WANDB_EBACKEND;
        atomic_store(&run->resume_state, WBI_RESUME_REFUSED);
        return;
    }
    const json_t *step = json_object_get(welcome, "starting_step");
    run->resume_step =
        json_is_integer(step) && json_integer_value(step) > 0 ? json_integer_value(step) : 0;
    run->resumed = json_is_true(json_object_get(welcome, "resumed"));
    const json_t *rt = json_object_get(welcome, "runtime");
    run->resume_runtime =
        json_is_number(rt) && json_number_value(rt) > 0 ? json_number_value(rt) : 0;
    atomic_store(&run->resume_state, WBI_RESUME_WELCOMED);
}

wandb_err wbi_resume_wait(wandb_run_t *run, char *msg, size_t len)
{
    int64_t deadline = wbi_now_ms() + run->cfg.init_timeout_ms;
    struct timespec nap = {0, 1000000};
    int state;
    while ((state = atomic_load(&run->resume_state)) == 0 && wbi_now_ms() < deadline)
        nanosleep(&nap, NULL);
    if (state == WBI_RESUME_REFUSED) {
        snprintf(msg, len, "%s", run->resume_msg);
        return run->resume_refusal;
    }
    if (state != WBI_RESUME_WELCOMED) {
        snprintf(msg, len,
                 "resume '%s' of run '%.64s': no answer from the aggregator within %d ms "
                 "(init_timeout_ms): the backend was not reachable, so it is not known whether "
                 "the run exists",
                 run->cfg.resume, run->cfg.run_id, run->cfg.init_timeout_ms);
        return WANDB_ETIMEDOUT;
    }
    // The run is not shared yet: nothing logged, so the step can still move.
    run->starting_step = run->resume_step;
    atomic_store(&run->step, run->resume_step);
    return WANDB_OK;
}
