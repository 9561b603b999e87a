//  gql.c - the GraphQL operations wandb-mpi-server answers (POST /graphql)
//  SPDX-License-Identifier: MIT
//
//  Facts about each operation come from docs/WANDB_PROTOCOL.md (§1.5, §1.6,
//  §2, §4, §5, §6) and the operation texts of wandb-core.
//  The small query walker, the dispatch and the run handlers; ids and the
//  answer helpers are in gql_util.c, the artifact operations in
//  gql_artifact.c and gql_artifact_read.c (gql_int.h).

#include "server/gql.h"
#include "server/gql_int.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "server/slog.h"
#include "server/util.h"
#include "store/runjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TAIL_LINES 10 // lines in historyTail / eventsTail of RunResumeStatus

// ---------------------------------------------------------------------------
// Operation name from the query text.

// Skips whitespace, commas and # comments.
static const char *s_skip_space(const char *p)
{
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (*p != '#')
            return p;
        while (*p && *p != '\n')
            p++;
    }
}

// True for the characters of a GraphQL name.
static bool s_is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

// Finds the first top-level "query|mutation|subscription Name" outside
// braces, strings and comments.
bool wbi_gql_op_name(const char *query, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    if (!query || outlen == 0)
        return false;
    int depth = 0;
    const char *p = query;
    while (*(p = s_skip_space(p))) {
        if (*p == '"') {
            // Strings (and """block strings""") cannot hold an operation.
            bool block = strncmp(p, "\"\"\"", 3) == 0;
            p += block ? 3 : 1;
            while (*p && !(block ? strncmp(p, "\"\"\"", 3) == 0 : *p == '"')) {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p += block ? 3 : 1;
            continue;
        }
        if (*p == '{' || *p == '(') {
            depth++;
            p++;
            continue;
        }
        if (*p == '}' || *p == ')') {
            depth = depth > 0 ? depth - 1 : 0;
            p++;
            continue;
        }
        if (!s_is_name_char(*p)) {
            p++;
            continue;
        }
        const char *word = p;
        while (s_is_name_char(*p))
            p++;
        size_t n = (size_t)(p - word);
        if (depth != 0)
            continue;
        bool is_op = (n == 5 && strncmp(word, "query", 5) == 0) ||
                     (n == 8 && strncmp(word, "mutation", 8) == 0) ||
                     (n == 12 && strncmp(word, "subscription", 12) == 0);
        if (!is_op)
            continue;
        const char *name = s_skip_space(p);
        const char *end = name;
        while (s_is_name_char(*end))
            end++;
        size_t len = (size_t)(end - name);
        if (len == 0 || len >= outlen)
            return false;
        memcpy(out, name, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

// A stored extended-JSON object text as a JSONString of the form the
// clients expect; wrapped when wrap is set (config).
static json_t *s_json_string(const char *text, bool wrap)
{
    json_error_t jerr;
    json_t *obj = text ? wbi_jsonx_loadb(text, strlen(text), 0, &jerr) : NULL;
    if (!json_is_object(obj)) {
        json_decref(obj);
        obj = json_object();
    }
    if (wrap) {
        json_t *w = wbi_runcfg_wrap(obj);
        json_decref(obj);
        obj = w;
    }
    char *s = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    json_t *j = s ? json_string(s) : NULL;
    wbi_free(s);
    return j;
}

// Collects lines into a JSON array of strings.
static int s_collect_line(void *arg, int64_t line_no, const char *text, size_t len)
{
    (void)line_no;
    json_array_append_new((json_t *)arg, json_stringn(text, len));
    return 0;
}

// The JSONString of an array with the last S_TAIL_LINES lines of file. NULL
// when it cannot be built; a store error is then left in *err (the first one
// kept), so that a busy database answers 503 rather than 500.
static json_t *s_tail_json(const wbi_gql_ctx_t *ctx, int64_t run_id, const char *file,
                           wandb_err *err)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    wandb_err e = wbi_store_lines_tail(ctx->store, run_id, file, S_TAIL_LINES, s_collect_line, arr);
    if (e != WANDB_OK) {
        if (*err == WANDB_OK)
            *err = e;
        json_decref(arr);
        return NULL;
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

// The bucket object of UpsertBucket and RunResumeStatus; with resume set it
// also carries the fields resume needs (tails, counts, wandbConfig). NULL
// when it cannot be built, with the store's error (if any) in *err.
static json_t *s_bucket_json(const wbi_gql_ctx_t *ctx, const wbi_run_t *run, bool resume,
                             wandb_err *err)
{
    char gid[64];
    if (wbi_gql_run_gid(run->id, gid, sizeof gid) != WANDB_OK)
        return NULL;
    json_t *b = json_object();
    if (!b)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(b, "id", json_string(gid));
    bad |= json_object_set_new(b, "name", json_string(run->name));
    bad |= json_object_set_new(b, "displayName",
                               run->display_name ? json_string(run->display_name) : json_null());
    bad |= json_object_set_new(b, "description",
                               run->description ? json_string(run->description) : json_null());
    bad |= json_object_set_new(b, "config", s_json_string(run->config, true));
    bad |= json_object_set_new(b, "sweepName", run->sweep ? json_string(run->sweep) : json_null());
    bad |= json_object_set_new(b, "project", wbi_gql_project_json(run->entity, run->project));
    bad |= json_object_set_new(b, "historyLineCount", json_integer(run->history_count));
    bad |= json_object_set_new(b, "state", json_string(run->state));
    if (resume) {
        json_error_t jerr;
        json_t *tags = run->tags ? wbi_jsonx_loadb(run->tags, strlen(run->tags), 0, &jerr) : NULL;
        bad |= json_object_set_new(b, "tags", json_is_array(tags) ? tags : json_array());
        if (!json_is_array(tags))
            json_decref(tags);
        bad |= json_object_set_new(b, "notes", run->notes ? json_string(run->notes) : json_null());
        bad |= json_object_set_new(b, "summaryMetrics", s_json_string(run->summary, false));
        bad |= json_object_set_new(b, "eventsLineCount", json_integer(run->events_count));
        bad |= json_object_set_new(b, "logLineCount", json_integer(run->log_count));
        bad |=
            json_object_set_new(b, "historyTail", s_tail_json(ctx, run->id, WBI_FILE_HISTORY, err));
        bad |=
            json_object_set_new(b, "eventsTail", s_tail_json(ctx, run->id, WBI_FILE_EVENTS, err));
        // wandbConfig(keys: ["t"]): {"t": config._wandb.t} when present.
        json_t *cfg =
            run->config ? wbi_jsonx_loadb(run->config, strlen(run->config), 0, &jerr) : NULL;
        json_t *t = json_object_get(json_object_get(cfg, "_wandb"), "t");
        json_t *wc = t ? json_pack("{sO}", "t", t) : json_object();
        char *wcs = wc ? wbi_jsonx_dumps(wc, JSON_COMPACT) : NULL;
        bad |= json_object_set_new(b, "wandbConfig", wcs ? json_string(wcs) : NULL);
        wbi_free(wcs);
        json_decref(wc);
        json_decref(cfg);
    }
    if (bad) {
        json_decref(b);
        return NULL;
    }
    return b;
}

// ---------------------------------------------------------------------------
// Operations.

// ServerFeaturesQuery: no optional features (in particular no gzip).
static void s_op_server_features(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                 wbi_gql_result_t *res)
{
    (void)ctx;
    (void)vars;
    wbi_gql_ok(res, json_pack("{s{s[]}}", "serverInfo", "features"));
}

// Viewer: the single local user, named after the default entity.
static void s_op_viewer(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    (void)vars;
    char email[300];
    snprintf(email, sizeof email, "%s@localhost", ctx->entity);
    wbi_gql_ok(res,
               json_pack("{s{so ss ss ss ss sb s{s[]}}}", "viewer", "id",
                         wbi_gql_gid("User", ctx->entity), "entity", ctx->entity, "username",
                         ctx->entity, "email", email, "flags", "{}", "admin", 0, "teams", "edges"));
}

// Reads one JSONString-or-object variable as extended-JSON text; *text is a
// heap string or NULL when absent. False (res filled) when malformed.
static bool s_var_json_text(const json_t *vars, const char *name, bool must_be_object, char **text,
                            wbi_gql_result_t *res)
{
    *text = NULL;
    json_t *v = json_object_get(vars, name);
    if (!v || json_is_null(v))
        return true;
    json_t *parsed = NULL;
    if (json_is_string(v)) {
        json_error_t jerr;
        parsed = wbi_jsonx_loadb(json_string_value(v), json_string_length(v), 0, &jerr);
        if (!parsed) {
            wbi_gql_fail(res, 400, "variable '%s' is not valid JSON at line %d column %d: %s", name,
                         jerr.line, jerr.column, jerr.text);
            return false;
        }
    } else {
        parsed = json_incref(v);
    }
    if (must_be_object && !json_is_object(parsed)) {
        json_decref(parsed);
        wbi_gql_fail(res, 400, "variable '%s' must be a JSON object", name);
        return false;
    }
    *text = wbi_jsonx_dumps(parsed, JSON_COMPACT);
    json_decref(parsed);
    if (!*text) {
        wbi_gql_fail(res, 500, "out of memory");
        return false;
    }
    return true;
}

// Checks the run id, project or entity variable var (value: its string, or
// the default when var is absent). The length is jansson's, so an embedded
// NUL is seen. False with the reason in why.
static bool s_name_var_ok(const json_t *vars, const char *var, const char *value, char *why,
                          size_t whylen)
{
    if (!value)
        return true;
    json_t *j = json_object_get(vars, var);
    size_t len =
        json_is_string(j) && json_string_value(j) == value ? json_string_length(j) : strlen(value);
    if (strcmp(var, "name") == 0)
        return wbi_run_id_check(value, len, why, whylen);
    return wbi_name_check(var, value, len, why, whylen);
}

// True for the states a run ends in: only file_stream's complete sets them
// and only a resume continues such a run.
static bool s_state_final(const char *state)
{
    return state && (strcmp(state, "finished") == 0 || strcmp(state, "failed") == 0);
}

// A state variable may not bring a finished or failed run back: that run is
// continued by resuming it (RunResumeStatus, then UpsertBucket without a
// state, as the W&B clients do). False with res filled (400). Store: in a
// transaction.
static bool s_state_change_ok(const wbi_gql_ctx_t *ctx, const wbi_run_upsert_t *in,
                              wbi_gql_result_t *res)
{
    if (!in->state || s_state_final(in->state))
        return true;
    wbi_run_t run = {0};
    wandb_err e = wbi_store_run_find(ctx->store, in->entity, in->project, in->name, &run);
    bool ok = e != WANDB_OK || !s_state_final(run.state);
    if (!ok)
        wbi_gql_fail(res, 400,
                     "UpsertBucket: run '%s' is %s and cannot be set '%s' again; resume it instead"
                     " (RunResumeStatus, then UpsertBucket without a state)",
                     in->name, run.state, in->state);
    wbi_store_run_release(&run);
    if (e != WANDB_OK && e != WANDB_ENOTFOUND) {
        wbi_gql_fail_store(ctx, res, e);
        return false;
    }
    return ok;
}

// UpsertBucket: creates or updates a run (§2.1).
static void s_op_upsert_bucket(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    wbi_run_upsert_t in = {0};
    char name_buf[256];
    json_t *config = NULL;
    char *tags = NULL;
    char *summary = NULL;
    wbi_run_t run = {0};
    bool in_tx = false;

    in.entity = wbi_gql_var(vars, "entity");
    if (!in.entity || !*in.entity)
        in.entity = ctx->entity;
    in.project = wbi_gql_var(vars, "project");
    if (!in.project || !*in.project)
        in.project = "uncategorized";
    in.name = wbi_gql_var(vars, "name");
    char why[160];
    if (!s_name_var_ok(vars, "entity", in.entity, why, sizeof why) ||
        !s_name_var_ok(vars, "project", in.project, why, sizeof why) ||
        !s_name_var_ok(vars, "name", in.name, why, sizeof why)) {
        wbi_gql_fail(res, 400, "UpsertBucket: %s", why);
        goto done;
    }
    in.display_name = wbi_gql_var(vars, "displayName");
    in.group = wbi_gql_var(vars, "groupName");
    in.job_type = wbi_gql_var(vars, "jobType");
    in.notes = wbi_gql_var(vars, "notes");
    in.description = wbi_gql_var(vars, "description");
    in.host = wbi_gql_var(vars, "host");
    in.program = wbi_gql_var(vars, "program");
    in.repo = wbi_gql_var(vars, "repo");
    in.commit = wbi_gql_var(vars, "commit");
    in.sweep = wbi_gql_var(vars, "sweep");
    in.state = wbi_gql_var(vars, "state");

    // Config: a JSONString in any of the three encodings (or an object).
    json_t *cv = json_object_get(vars, "config");
    if (json_is_string(cv)) {
        char err[256];
        if (wbi_runcfg_parse(json_string_value(cv), json_string_length(cv), &config, err,
                             sizeof err) != WANDB_OK) {
            wbi_gql_fail(res, 400, "%s", err);
            goto done;
        }
    } else if (json_is_object(cv)) {
        config = wbi_runcfg_unwrap(cv);
    } else if (cv && !json_is_null(cv)) {
        wbi_gql_fail(res, 400, "variable 'config' must be a JSON string");
        goto done;
    }
    in.config = config;

    json_t *tv = json_object_get(vars, "tags");
    if (json_is_array(tv)) {
        size_t i;
        json_t *t;
        json_array_foreach(tv, i, t)
        {
            if (!json_is_string(t)) {
                wbi_gql_fail(res, 400, "variable 'tags' must be a list of strings");
                goto done;
            }
        }
        tags = json_dumps(tv, JSON_COMPACT);
        in.tags = tags;
    }
    if (!s_var_json_text(vars, "summaryMetrics", true, &summary, res))
        goto done;
    in.summary = summary;

    wandb_err e = wbi_store_begin(ctx->store);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        goto done;
    }
    in_tx = true;
    // Without a name, a known storage id names the run; else a new id.
    if (!in.name) {
        int64_t sid = 0;
        if (wbi_gql_run_gid_parse(wbi_gql_var(vars, "id"), &sid) &&
            wbi_store_run_get(ctx->store, sid, &run) == WANDB_OK) {
            snprintf(name_buf, sizeof name_buf, "%s", run.name);
            if (strlen(run.name) < sizeof name_buf) {
                in.name = name_buf;
                in.entity = run.entity;
                in.project = run.project;
            }
        }
        if (!in.name) {
            if (wbi_random_id(name_buf, 8) != WANDB_OK) {
                wbi_gql_fail(res, 500, "no randomness for a run id");
                goto done;
            }
            in.name = name_buf;
        }
    }
    if (!s_state_change_ok(ctx, &in, res))
        goto done;
    int64_t id = 0;
    bool inserted = false;
    e = wbi_store_run_upsert(ctx->store, &in, ctx->now, &id, &inserted);
    wbi_store_run_release(&run);
    if (e == WANDB_OK)
        e = wbi_store_run_get(ctx->store, id, &run);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        goto done;
    }
    in_tx = false;
    if (inserted)
        wbi_slog(WANDB_LOG_INFO, "graphql", "run %s/%s/%s created", run.entity, run.project,
                 run.name);
    wandb_err be = WANDB_OK;
    json_t *bucket = s_bucket_json(ctx, &run, false, &be);
    wbi_gql_ok(
        res, bucket ? json_pack("{s{sosb}}", "upsertBucket", "bucket", bucket, "inserted", inserted)
                    : NULL);
done:
    if (in_tx)
        wbi_store_rollback(ctx->store);
    wbi_store_run_release(&run);
    json_decref(config);
    free(tags);
    wbi_free(summary);
}

// RunResumeStatus: model { bucket } with null bucket for an unknown run (§4).
static void s_op_resume_status(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entity");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = wbi_gql_var(vars, "project");
    if (!project || !*project)
        project = "uncategorized";
    const char *name = wbi_gql_var(vars, "name");
    if (!name) {
        wbi_gql_fail(res, 400, "variable 'name' is required");
        return;
    }
    wbi_run_t run = {0};
    wandb_err e = wbi_store_run_find(ctx->store, entity, project, name, &run);
    json_t *bucket = NULL;
    if (e == WANDB_OK) {
        bucket = s_bucket_json(ctx, &run, true, &e);
        if (!bucket && e == WANDB_OK)
            e = WANDB_EIO;
    } else if (e == WANDB_ENOTFOUND) {
        bucket = json_null();
        e = WANDB_OK;
    }
    wbi_store_run_release(&run);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    char path[520];
    snprintf(path, sizeof path, "%s/%s", entity, project);
    wbi_gql_ok(res, json_pack("{s{sosss{soss}so}}", "model", "id", wbi_gql_gid("Project", path),
                              "name", project, "entity", "id", wbi_gql_gid("Entity", entity),
                              "name", entity, "bucket", bucket));
}

// The upload URL of one run file.
static json_t *s_upload_url(const wbi_gql_ctx_t *ctx, const char *entity, const char *project,
                            const char *run, const char *name)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 8192);
    wandb_err e = wbi_buf_printf(&b, "%s/upload/%s/", ctx->upload_base, ctx->upload_token);
    const char *parts[] = {entity, project, run};
    for (int i = 0; e == WANDB_OK && i < 3; i++) {
        e = wbi_url_path_encode(&b, parts[i], false);
        if (e == WANDB_OK)
            e = wbi_buf_putc(&b, '/');
    }
    if (e == WANDB_OK)
        e = wbi_url_path_encode(&b, name, true);
    json_t *j = e == WANDB_OK ? json_string(b.data) : NULL;
    wbi_buf_release(&b);
    return j;
}

// Resolves entity/project/run variables and makes sure the run exists.
static bool s_run_vars(const wbi_gql_ctx_t *ctx, const char *entity, const char *project,
                       const char *run, int64_t *id, wbi_gql_result_t *res)
{
    if (!project || !run || !wbi_segment_ok(entity) || !wbi_segment_ok(project) ||
        !wbi_segment_ok(run)) {
        wbi_gql_fail(res, 400, "entity, project and run must be valid names");
        return false;
    }
    wandb_err e = wbi_store_run_ensure(ctx->store, entity, project, run, ctx->now, id);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return false;
    }
    return true;
}

// Builds the files list shared by CreateRunFiles and RunUploadUrls and
// records each file as announced (not uploaded yet); *e gets the first store
// error.
static json_t *s_upload_list(const wbi_gql_ctx_t *ctx, const json_t *names, const char *entity,
                             const char *project, const char *run, int64_t run_id, bool edges,
                             wandb_err *e)
{
    json_t *out = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        const char *name = json_string_value(n);
        json_t *url = json_null();
        if (name && wbi_rel_path_ok(name)) {
            url = s_upload_url(ctx, entity, project, run, name);
            if (*e == WANDB_OK)
                *e = wbi_store_file_put(ctx->store, run_id, name, -1, false, ctx->now);
        }
        json_t *node = json_pack("{ss?so}", "name", name, edges ? "url" : "uploadUrl",
                                 url ? url : json_null());
        if (edges)
            node = json_pack("{so}", "node", node);
        json_array_append_new(out, node);
    }
    return out;
}

// Announces the files named by the variable 'files' in one transaction and
// returns their list (s_upload_list), or NULL with res failed. *id gets the
// run's id.
static json_t *s_upload_files(const wbi_gql_ctx_t *ctx, const json_t *vars, const char *entity,
                              const char *project, const char *run, bool edges, int64_t *id,
                              wbi_gql_result_t *res)
{
    json_t *files = json_object_get(vars, "files");
    if (!json_is_array(files)) {
        wbi_gql_fail(res, 400, "variable 'files' must be a list of names");
        return NULL;
    }
    wandb_err e = wbi_store_begin(ctx->store);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return NULL;
    }
    if (!s_run_vars(ctx, entity, project, run, id, res)) {
        wbi_store_rollback(ctx->store);
        return NULL;
    }
    json_t *list = s_upload_list(ctx, files, entity, project, run, *id, edges, &e);
    if (e == WANDB_OK && !list)
        e = WANDB_ENOMEM;
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    if (e != WANDB_OK) {
        json_decref(list);
        wbi_store_rollback(ctx->store);
        wbi_gql_fail_store(ctx, res, e);
        return NULL;
    }
    return list;
}

// CreateRunFiles: one self-authorizing upload URL per requested name (§5).
static void s_op_create_run_files(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                  wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entity");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = wbi_gql_var(vars, "project");
    const char *run = wbi_gql_var(vars, "run");
    int64_t id = 0;
    json_t *list = s_upload_files(ctx, vars, entity, project, run, false, &id, res);
    if (!list)
        return;
    char gid[64];
    wbi_gql_run_gid(id, gid, sizeof gid);
    wbi_gql_ok(res, json_pack("{s{sss[]so}}", "createRunFiles", "runID", gid, "uploadHeaders",
                              "files", list));
}

// RunUploadUrls: the legacy form of CreateRunFiles (old Python sender, JS).
static void s_op_run_upload_urls(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                 wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entity");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = wbi_gql_var(vars, "project");
    if (!project)
        project = wbi_gql_var(vars, "model");
    const char *run = wbi_gql_var(vars, "name");
    if (!run)
        run = wbi_gql_var(vars, "run");
    int64_t id = 0;
    json_t *edges = s_upload_files(ctx, vars, entity, project, run, true, &id, res);
    if (!edges)
        return;
    char gid[64];
    wbi_gql_run_gid(id, gid, sizeof gid);
    wbi_gql_ok(res, json_pack("{s{s{sss{s[]so}}}}", "model", "bucket", "id", gid, "files",
                              "uploadHeaders", "edges", edges));
}

// NotifyScriptableRunAlert: stores the alert (§6).
static void s_op_alert(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entityName");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *title = wbi_gql_var(vars, "title");
    const char *text = wbi_gql_var(vars, "text");
    if (!title || !text) {
        wbi_gql_fail(res, 400, "variables 'title' and 'text' are required");
        return;
    }
    const char *severity = wbi_gql_var(vars, "severity");
    json_t *wd = json_object_get(vars, "waitDuration");
    int64_t wait_ms = -1;
    if (json_is_integer(wd))
        wait_ms = json_integer_value(wd);
    else if (json_is_real(wd))
        wait_ms = (int64_t)json_real_value(wd);
    else if (json_is_string(wd))
        wait_ms = strtoll(json_string_value(wd), NULL, 10);
    wandb_err e = wbi_store_begin(ctx->store);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    int64_t id = 0;
    if (!s_run_vars(ctx, entity, wbi_gql_var(vars, "projectName"), wbi_gql_var(vars, "runName"),
                    &id, res)) {
        wbi_store_rollback(ctx->store);
        return;
    }
    e = wbi_store_alert_add(ctx->store, id, title, text, severity ? severity : "INFO", wait_ms,
                            ctx->now);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    wbi_slog(WANDB_LOG_INFO, "graphql", "alert for run %s: %s", wbi_gql_var(vars, "runName"),
             title);
    wbi_gql_ok(res, json_pack("{s{sb}}", "notifyScriptableRunAlert", "success", 1));
}

// RunState / RunStoppedStatus: the run's state; runs are never stopped
// from this server.
static void s_op_run_state(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entity");
    if (!entity)
        entity = wbi_gql_var(vars, "entityName");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = wbi_gql_var(vars, "project");
    if (!project)
        project = wbi_gql_var(vars, "projectName");
    const char *name = wbi_gql_var(vars, "run");
    if (!name)
        name = wbi_gql_var(vars, "runId");
    wbi_run_t run = {0};
    wandb_err e =
        name ? wbi_store_run_find(ctx->store, entity, project, name, &run) : WANDB_ENOTFOUND;
    if (e != WANDB_OK && e != WANDB_ENOTFOUND) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    json_t *r = e == WANDB_OK ? json_pack("{sssb}", "state", run.state, "stopped", 0) : json_null();
    wbi_store_run_release(&run);
    wbi_gql_ok(res, json_pack("{s{so}}", "project", "run", r));
}

static const wbi_gql_op_t s_ops[] = {
    {"ServerFeaturesQuery", s_op_server_features}, {"Viewer", s_op_viewer},
    {"UpsertBucket", s_op_upsert_bucket},          {"RunResumeStatus", s_op_resume_status},
    {"CreateRunFiles", s_op_create_run_files},     {"RunUploadUrls", s_op_run_upload_urls},
    {"NotifyScriptableRunAlert", s_op_alert},      {"RunState", s_op_run_state},
    {"RunStoppedStatus", s_op_run_state},          {"RunFiles", wbi_gql_op_run_files},
};

// Dispatches one request by operation name.
void wbi_gql_execute(const wbi_gql_ctx_t *ctx, const json_t *request, wbi_gql_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (!json_is_object(request)) {
        wbi_gql_fail(res, 400, "request body must be a JSON object");
        return;
    }
    const char *query = json_string_value(json_object_get(request, "query"));
    const char *op = json_string_value(json_object_get(request, "operationName"));
    if (op && *op)
        snprintf(res->op, sizeof res->op, "%s", op);
    else
        wbi_gql_op_name(query, res->op, sizeof res->op);
    json_t *vars = json_object_get(request, "variables");
    if (vars && !json_is_object(vars) && !json_is_null(vars)) {
        wbi_gql_fail(res, 400, "'variables' must be a JSON object");
        return;
    }
    json_t *empty = NULL;
    if (!json_is_object(vars))
        vars = empty = json_object();
    res->known = wbi_gql_dispatch(s_ops, sizeof s_ops / sizeof s_ops[0], ctx, res->op, vars, res) ||
                 wbi_gql_artifact_op(ctx, res->op, vars, res);
    json_decref(empty);
    if (res->known)
        return;
    if (!query && !*res->op) {
        wbi_gql_fail(res, 400, "request has neither 'query' nor 'operationName'");
        return;
    }
    if (!*res->op) {
        wbi_slog(WANDB_LOG_WARN, "graphql", "anonymous operation");
        wbi_gql_fail(res, 200,
                     "unknown operation: the query has no operation name (this server dispatches"
                     " on 'operationName' or the name after query/mutation)");
        return;
    }
    wbi_slog(WANDB_LOG_WARN, "graphql", "unknown operation '%s'", res->op);
    wbi_gql_fail(res, 200, "unknown operation '%s'", res->op);
}
