//  resume.c - RunResumeStatus: its request body and the decision its answer makes
//  SPDX-License-Identifier: MIT
//
//  Before the first UpsertBucket of a run opened with a resume mode, the
//  backend asks RunResumeStatus (WANDB_PROTOCOL.md §4; wandb-core's
//  runbranch/resume.go) and decides here, without I/O: the run exists when
//  the bucket is there and its wandbConfig holds "t"; never + exists and
//  must + missing are refused with wandb-core's messages; a resumed run gets
//  its starting step (the last `_step` of the history tail, else of the
//  summary, plus one when history exists), its runtime (the largest
//  `_runtime` of the tails and the summary's `_wandb.runtime`), its history
//  line count, summary and unwrapped config. Thread: any (pure functions).
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// The operation text, byte for byte what wandb-core sends (the capture in
// tests/conformance/captures/graphql/python/RunResumeStatus.graphql).
static const char s_resume_query[] = "\n"
                                     "query RunResumeStatus ($project: String, $entity: String, "
                                     "$name: String!) {\n"
                                     "\tmodel(name: $project, entityName: $entity) {\n"
                                     "\t\tid\n"
                                     "\t\tname\n"
                                     "\t\tentity {\n"
                                     "\t\t\tid\n"
                                     "\t\t\tname\n"
                                     "\t\t}\n"
                                     "\t\tbucket(name: $name, missingOk: true) {\n"
                                     "\t\t\tid\n"
                                     "\t\t\tname\n"
                                     "\t\t\tsummaryMetrics\n"
                                     "\t\t\tdisplayName\n"
                                     "\t\t\tlogLineCount\n"
                                     "\t\t\thistoryLineCount\n"
                                     "\t\t\teventsLineCount\n"
                                     "\t\t\thistoryTail\n"
                                     "\t\t\teventsTail\n"
                                     "\t\t\tconfig\n"
                                     "\t\t\ttags\n"
                                     "\t\t\tnotes\n"
                                     "\t\t\twandbConfig(keys: [\"t\"])\n"
                                     "\t\t}\n"
                                     "\t}\n"
                                     "}\n";

wandb_err wbi_bk_resume_body(wbi_buf_t *out, const char *project, const char *entity,
                             const char *name)
{
    json_t *root =
        json_pack("{s:s, s:{s:s, s:s?, s:s}, s:s}", "query", s_resume_query, "variables", "project",
                  project, "entity", entity, "name", name, "operationName", "RunResumeStatus");
    if (!root)
        return WANDB_ENOMEM;
    wandb_err rc = wbi_jsonx_dump_buf(out, root, JSON_COMPACT);
    json_decref(root);
    return rc;
}

// Parses a JSON string member holding a JSON object; NULL when absent or bad.
static json_t *s_inner_object(const json_t *obj, const char *key)
{
    const char *text = json_string_value(json_object_get(obj, key));
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

// The last line of a tail (a JSON string holding an array of JSON object
// texts) as an object; NULL when the tail is empty or bad.
static json_t *s_tail_last(const json_t *bucket, const char *key)
{
    const char *text = json_string_value(json_object_get(bucket, key));
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *arr = wbi_jsonx_loadb(text, strlen(text), 0, &jerr);
    json_t *last = NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    const char *line = n ? json_string_value(json_array_get(arr, n - 1)) : NULL;
    if (line) {
        last = wbi_jsonx_loadb(line, strlen(line), 0, &jerr);
        if (!json_is_object(last)) {
            json_decref(last);
            last = NULL;
        }
    }
    json_decref(arr);
    return last;
}

// Raises *runtime to the number at obj.key when larger.
static void s_max_runtime(const json_t *obj, const char *key, double *runtime)
{
    double v;
    if (obj && wbi_jsonx_number(json_object_get(obj, key), &v) && isfinite(v) && v > *runtime)
        *runtime = v;
}

// The wrapped config {"k": {"value": v}} as {"k": v} (other shapes kept),
// without `_wandb`; a new string or NULL.
static char *s_unwrap_config(const json_t *bucket)
{
    json_t *wrapped = s_inner_object(bucket, "config");
    if (!wrapped)
        return NULL;
    json_t *plain = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(wrapped, k, v)
    {
        if (strcmp(k, "_wandb") == 0)
            continue;
        json_t *inner = json_is_object(v) ? json_object_get(v, "value") : NULL;
        json_object_set(plain, k, inner ? inner : v);
    }
    char *text = plain ? wbi_jsonx_dumps(plain, JSON_COMPACT) : NULL;
    json_decref(plain);
    json_decref(wrapped);
    return text;
}

// True when the bucket is a run that really started: wandbConfig holds "t".
static bool s_run_exists(const json_t *bucket)
{
    if (!json_is_object(bucket))
        return false;
    json_t *wc = s_inner_object(bucket, "wandbConfig");
    bool t = wc && json_object_get(wc, "t") != NULL;
    json_decref(wc);
    return t;
}

// Fills the resumed fields of out from an existing bucket.
static wandb_err s_resumed(const json_t *bucket, wbi_run_resume_t *out)
{
    const json_t *hlc = json_object_get(bucket, "historyLineCount");
    out->history_lines =
        json_is_integer(hlc) && json_integer_value(hlc) > 0 ? json_integer_value(hlc) : 0;
    json_t *summary = s_inner_object(bucket, "summaryMetrics");
    json_t *hist = s_tail_last(bucket, "historyTail");
    json_t *events = s_tail_last(bucket, "eventsTail");
    int64_t step = 0;
    const json_t *s = json_object_get(summary, "_step");
    if (json_is_integer(s))
        step = json_integer_value(s);
    s = json_object_get(hist, "_step");
    if (json_is_integer(s))
        step = json_integer_value(s);
    out->starting_step = step + (out->history_lines > 0 ? 1 : 0);
    static const char *const counts[WBI_STREAMS] = {"eventsLineCount", "logLineCount"};
    for (int f = 0; f < WBI_STREAMS; f++) {
        const json_t *c = json_object_get(bucket, counts[f]);
        out->stream_lines[f] =
            json_is_integer(c) && json_integer_value(c) > 0 ? json_integer_value(c) : 0;
    }
    double runtime = 0;
    s_max_runtime(events, "_runtime", &runtime);
    s_max_runtime(json_object_get(summary, "_wandb"), "runtime", &runtime);
    s_max_runtime(summary, "_runtime", &runtime);
    s_max_runtime(hist, "_runtime", &runtime);
    out->runtime = runtime;
    out->summary_json = summary ? wbi_jsonx_dumps(summary, JSON_COMPACT) : NULL;
    out->config_json = s_unwrap_config(bucket);
    json_decref(summary);
    json_decref(hist);
    json_decref(events);
    out->state = WBI_RESUMED_YES;
    return (summary && !out->summary_json) ? WANDB_ENOMEM : WANDB_OK;
}

wandb_err wbi_bk_parse_resume(const char *body, size_t len, int mode, const char *run_id,
                              wbi_run_resume_t *out, char *err, size_t errlen)
{
    *out = (wbi_run_resume_t){0};
    json_t *data = NULL;
    wandb_err rc = wbi_bk_graphql_data(body, len, &data, err, errlen);
    if (rc != WANDB_OK)
        return rc;
    const json_t *bucket = json_object_get(json_object_get(data, "model"), "bucket");
    bool exists = s_run_exists(bucket);
    if (!exists && mode == WBI_RESUME_MUST) {
        out->state = WBI_RESUMED_MISSING;
        snprintf(out->msg, sizeof out->msg,
                 "resume 'must': run '%.128s' does not exist (or never started); to start a new "
                 "run, leave resume unset or use 'allow'",
                 run_id);
    } else if (exists && mode == WBI_RESUME_NEVER) {
        out->state = WBI_RESUMED_EXISTS;
        snprintf(out->msg, sizeof out->msg,
                 "resume 'never': run '%.128s' already exists; use resume 'allow' or 'must' to "
                 "continue it, or another run id",
                 run_id);
    } else if (!exists) {
        out->state = WBI_RESUMED_NEW;
    } else {
        rc = s_resumed(bucket, out);
    }
    json_decref(data);
    return rc;
}
