//  run_resume.c - a run that continues an existing one (resume allow/must/auto)
//  SPDX-License-Identifier: MIT
//
//  The sink (the outlet, through the backend's RunResumeStatus) decides
//  whether a run with a resume mode continues an existing run; the peer code
//  asks here before it welcomes the rank (core_peer.c), and the run then
//  takes over what the backend stored: the next step, the runtime (rows go on
//  counting `_runtime` from it), the summary (its keys stay until logged
//  again) and the config keys the new run does not set. Thread: the
//  aggregator's loop thread only.
#include "aggregator/run.h"
#include "aggregator/run_int.h"
#include "common/jsonx.h"
#include <math.h>
#include <string.h>

int wbi_agg_resume_mode(const char *text)
{
    if (!text)
        return WBI_RESUME_NONE;
    if (strcmp(text, "allow") == 0 || strcmp(text, "auto") == 0)
        return WBI_RESUME_ALLOW;
    if (strcmp(text, "must") == 0)
        return WBI_RESUME_MUST;
    if (strcmp(text, "never") == 0)
        return WBI_RESUME_NEVER;
    return WBI_RESUME_NONE;
}

int wbi_agg_run_resume_mode(const wbi_agg_run_t *self)
{
    return self->resume_mode;
}

bool wbi_agg_run_resumed(const wbi_agg_run_t *self)
{
    return self->resumed;
}

double wbi_agg_run_resumed_runtime(const wbi_agg_run_t *self)
{
    return self->resumed_runtime;
}

bool wbi_agg_run_resume_poll(wbi_agg_run_t *self, wbi_run_resume_t *out)
{
    *out = (wbi_run_resume_t){0};
    if (self->resume_mode == WBI_RESUME_NONE || !self->sink.resume) {
        out->state = WBI_RESUMED_NEW;
        return true;
    }
    return self->sink.resume(self->sink.arg, self->handle, out);
}

// Parses a JSON object text; NULL when absent or not an object.
static json_t *s_object(const char *text)
{
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *v = wbi_jsonx_loadb(text, strlen(text), 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

void wbi_agg_run_apply_resume(wbi_agg_run_t *self, const wbi_run_resume_t *rs)
{
    if (rs->state != WBI_RESUMED_YES)
        return;
    self->resumed = true;
    if (rs->starting_step > self->starting_step)
        self->starting_step = rs->starting_step;
    // Rows count `_runtime` from start_time: moving it back continues the clock
    // (a rank that says HELLO again to a restarted aggregator moved it itself).
    if (!self->continued && !isnan(self->start_time) && rs->runtime > 0) {
        self->start_time -= rs->runtime;
        self->resumed_runtime = rs->runtime;
    }
    json_t *summary = s_object(rs->summary_json);
    const char *k;
    json_t *v;
    json_object_foreach(summary, k, v)
    {
        if (k[0] != '_' && !json_object_get(self->explicit_, k))
            json_object_set(self->explicit_, k, v);
    }
    json_decref(summary);
    json_t *config = s_object(rs->config_json);
    bool added = false;
    json_object_foreach(config, k, v)
    {
        if (strcmp(k, "_wandb") != 0 && !json_object_get(self->config, k)) {
            json_object_set(self->config, k, v);
            added = true;
        }
    }
    json_decref(config);
    self->summary_dirty = true;
    self->config_dirty |= added;
}
