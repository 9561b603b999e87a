//  request.c - W&B request bodies and answers, without I/O
//  SPDX-License-Identifier: MIT
//
//  One file (about 690 lines): the operation texts must match the official
//  client byte for byte, and keeping each body beside the parser of its
//  answer makes that comparison one read.
#include "backend/request.h"
#include "common/alloc.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <string.h>

// The operation texts, byte for byte those wandb-core sends (the captures in
// tests/conformance/captures/graphql/python/): same operations, variables and
// selections (protocol doc §1.5, §2.1, §5, §6), so a server that matches the
// official client's text matches ours.
static const char s_features_query[] = "\n"
                                       "query ServerFeaturesQuery {\n"
                                       "\tserverInfo {\n"
                                       "\t\tfeatures {\n"
                                       "\t\t\tname\n"
                                       "\t\t\tisEnabled\n"
                                       "\t\t}\n"
                                       "\t}\n"
                                       "}\n";

static const char s_upsert_query[] =
    "\n"
    "mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String, "
    "$groupName: String, $description: String, $displayName: String, $notes: String, "
    "$commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, "
    "$repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], "
    "$summaryMetrics: JSONString) {\n"
    "\tupsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,"
    "entityName:$entity,description:$description,displayName:$displayName,notes:$notes,"
    "config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,jobRepo:$repo,"
    "jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,"
    "summaryMetrics:$summaryMetrics}) {\n"
    "\t\tbucket {\n"
    "\t\t\tid\n"
    "\t\t\tname\n"
    "\t\t\tdisplayName\n"
    "\t\t\tdescription\n"
    "\t\t\tconfig\n"
    "\t\t\tsweepName\n"
    "\t\t\tproject {\n"
    "\t\t\t\tid\n"
    "\t\t\t\tname\n"
    "\t\t\t\tentity {\n"
    "\t\t\t\t\tid\n"
    "\t\t\t\t\tname\n"
    "\t\t\t\t}\n"
    "\t\t\t}\n"
    "\t\t\thistoryLineCount\n"
    "\t\t}\n"
    "\t\tinserted\n"
    "\t}\n"
    "}\n";

static const char s_alert_query[] =
    "\n"
    "mutation NotifyScriptableRunAlert ($entityName: String!, $projectName: String!, "
    "$runName: String!, $title: String!, $text: String!, $severity: AlertSeverity = INFO, "
    "$waitDuration: Duration) {\n"
    "\tnotifyScriptableRunAlert(input: {entityName:$entityName,projectName:$projectName,"
    "runName:$runName,title:$title,text:$text,severity:$severity,"
    "waitDuration:$waitDuration}) {\n"
    "\t\tsuccess\n"
    "\t}\n"
    "}\n";

static const char s_files_query[] =
    "\n"
    "mutation CreateRunFiles ($entity: String!, $project: String!, $run: String!, "
    "$files: [String!]!) {\n"
    "\tcreateRunFiles(input: {entityName:$entity,projectName:$project,runName:$run,"
    "files:$files}) {\n"
    "\t\trunID\n"
    "\t\tuploadHeaders\n"
    "\t\tfiles {\n"
    "\t\t\tname\n"
    "\t\t\tuploadUrl\n"
    "\t\t}\n"
    "\t}\n"
    "}\n";

// A JSON string for s, or JSON null when s is NULL or not UTF-8.
static json_t *s_str_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

// Appends the GraphQL envelope around vars (stolen and freed). vars NULL:
// no "variables" key at all, as wandb-core sends operations without any.
static wandb_err s_graphql(wbi_buf_t *out, const char *query, const char *op, json_t *vars)
{
    json_t *root = json_object();
    wandb_err rc = WANDB_ENOMEM;
    if (!root)
        goto cleanup;
    if (json_object_set_new(root, "query", json_string(query)) != 0 ||
        (vars && json_object_set(root, "variables", vars) != 0) ||
        json_object_set_new(root, "operationName", json_string(op)) != 0)
        goto cleanup;
    rc = wbi_jsonx_dump_buf(out, root, JSON_COMPACT);
cleanup:
    json_decref(root);
    json_decref(vars);
    return rc;
}

// True for JSON whitespace.
static bool s_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// End of the JSON string starting at text[i] == '"' (index after the quote).
static size_t s_string_end(const char *text, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (text[i] == '\\')
            i++;
        else if (text[i] == '"')
            return i + 1;
    }
    return len;
}

// End of the value starting at text[i]: the next ',' or '}' at depth 0.
static size_t s_value_end(const char *text, size_t len, size_t i)
{
    int depth = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            i = s_string_end(text, len, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        if (depth < 0 || (depth == 0 && c == ','))
            break;
        i++;
    }
    return i;
}

// Wraps each member of a validated object, copying keys and values
// verbatim so that numbers keep the exact text the caller wrote.
static wandb_err s_wrap_text(wbi_buf_t *out, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && s_ws(text[i]))
        i++;
    i++; // '{'
    wandb_err rc = wbi_buf_putc(out, '{');
    const char *sep = "";
    while (rc == WANDB_OK && i < len) {
        while (i < len && (s_ws(text[i]) || text[i] == ','))
            i++;
        if (i >= len || text[i] != '"')
            break; // '}'
        size_t key_end = s_string_end(text, len, i);
        size_t v = key_end;
        while (v < len && (s_ws(text[v]) || text[v] == ':'))
            v++;
        size_t v_end = s_value_end(text, len, v);
        size_t trim = v_end;
        while (trim > v && s_ws(text[trim - 1]))
            trim--;
        rc = wbi_buf_printf(out, "%s%.*s:{\"value\":%.*s}", sep, (int)(key_end - i), text + i,
                            (int)(trim - v), text + v);
        sep = ",";
        i = v_end;
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '}');
    return rc;
}

// Wraps the top-level keys of the config object.
wandb_err wbi_bk_config_wrap(const char *config_json, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!config_json)
        return WANDB_EINVAL;
    size_t len = strlen(config_json);
    json_error_t jerr;
    json_t *cfg = wbi_jsonx_loadb(config_json, len, 0, &jerr);
    if (!cfg) {
        if (err)
            snprintf(err, errlen, "config: %s at line %d column %d", jerr.text, jerr.line,
                     jerr.column);
        return WANDB_EPROTO;
    }
    bool is_object = json_is_object(cfg);
    json_decref(cfg);
    if (!is_object) {
        if (err)
            snprintf(err, errlen, "config: not a JSON object");
        return WANDB_EPROTO;
    }
    wbi_buf_t b;
    wbi_buf_init(&b, 3 * len + 64);
    wandb_err rc = s_wrap_text(&b, config_json, len);
    if (rc != WANDB_OK) {
        wbi_buf_release(&b);
        return rc;
    }
    *out = wbi_buf_steal(&b);
    return *out ? WANDB_OK : WANDB_ENOMEM;
}

// ServerFeaturesQuery declares no variables, so the body has no "variables" key.
wandb_err wbi_bk_features_body(wbi_buf_t *out)
{
    return s_graphql(out, s_features_query, "ServerFeaturesQuery", NULL);
}

// Splits comma-separated tags into a JSON list (trimmed, empty ones skipped).
static json_t *s_tags(const char *tags)
{
    if (!tags)
        return json_null();
    json_t *list = json_array();
    const char *p = tags;
    while (list && *p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            json_t *t = json_stringn(a, (size_t)(b - a));
            if (t)
                json_array_append_new(list, t);
        }
        p = *end ? end + 1 : end;
    }
    return list ? list : json_null();
}

// All declared variables are sent; unset ones as null (protocol doc §1.3).
wandb_err wbi_bk_upsert_body(wbi_buf_t *out, const wbi_bk_upsert_t *u)
{
    json_t *v = json_object();
    if (!v)
        return WANDB_ENOMEM;
    int bad = 0;
    bad |= json_object_set_new(v, "id", s_str_or_null(u->id));
    bad |= json_object_set_new(v, "name", s_str_or_null(u->name));
    bad |= json_object_set_new(v, "project", s_str_or_null(u->project));
    bad |= json_object_set_new(v, "entity", s_str_or_null(u->entity));
    bad |= json_object_set_new(v, "groupName", s_str_or_null(u->group));
    bad |= json_object_set_new(v, "description", json_null());
    bad |= json_object_set_new(v, "displayName", s_str_or_null(u->display_name));
    bad |= json_object_set_new(v, "notes", s_str_or_null(u->notes));
    bad |= json_object_set_new(v, "commit", json_null());
    bad |= json_object_set_new(v, "config", s_str_or_null(u->config));
    bad |= json_object_set_new(v, "host", s_str_or_null(u->host));
    bad |= json_object_set_new(v, "debug", json_null());
    bad |= json_object_set_new(v, "program", s_str_or_null(u->program));
    bad |= json_object_set_new(v, "repo", json_null());
    bad |= json_object_set_new(v, "jobType", s_str_or_null(u->job_type));
    bad |= json_object_set_new(v, "state", json_null());
    bad |= json_object_set_new(v, "sweep", json_null());
    bad |= json_object_set_new(v, "tags", s_tags(u->tags));
    bad |= json_object_set_new(v, "summaryMetrics", json_null());
    if (bad) {
        json_decref(v);
        return WANDB_ENOMEM;
    }
    return s_graphql(out, s_upsert_query, "UpsertBucket", v);
}

// severity is an enum: INFO, WARN or ERROR (anything else becomes INFO).
wandb_err wbi_bk_alert_body(wbi_buf_t *out, const char *entity, const char *project,
                            const char *run_id, const char *title, const char *text,
                            const char *level, int64_t wait_ms)
{
    const char *sev = "INFO";
    if (level && (strcmp(level, "WARN") == 0 || strcmp(level, "ERROR") == 0))
        sev = level;
    json_t *v = json_object();
    if (!v)
        return WANDB_ENOMEM;
    int bad = 0;
    bad |= json_object_set_new(v, "entityName", s_str_or_null(entity));
    bad |= json_object_set_new(v, "projectName", s_str_or_null(project));
    bad |= json_object_set_new(v, "runName", s_str_or_null(run_id));
    bad |= json_object_set_new(v, "title", s_str_or_null(title ? title : ""));
    bad |= json_object_set_new(v, "text", s_str_or_null(text ? text : ""));
    bad |= json_object_set_new(v, "severity", json_string(sev));
    bad |=
        json_object_set_new(v, "waitDuration", wait_ms >= 0 ? json_integer(wait_ms) : json_null());
    if (bad) {
        json_decref(v);
        return WANDB_ENOMEM;
    }
    return s_graphql(out, s_alert_query, "NotifyScriptableRunAlert", v);
}

// CreateRunFiles: one name per file, relative and '/'-separated (protocol doc §5).
wandb_err wbi_bk_files_body(wbi_buf_t *out, const char *entity, const char *project,
                            const char *run_id, const char *const *names, size_t n)
{
    json_t *v = json_object();
    json_t *files = json_array();
    if (!v || !files) {
        json_decref(v);
        json_decref(files);
        return WANDB_ENOMEM;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= json_array_append_new(files, s_str_or_null(names[i]));
    bad |= json_object_set_new(v, "entity", s_str_or_null(entity));
    bad |= json_object_set_new(v, "project", s_str_or_null(project));
    bad |= json_object_set_new(v, "run", s_str_or_null(run_id));
    bad |= json_object_set_new(v, "files", files);
    if (bad) {
        json_decref(v);
        return WANDB_ENOMEM;
    }
    return s_graphql(out, s_files_query, "CreateRunFiles", v);
}

// Frees what wbi_bk_parse_files filled in.
void wbi_bk_files_release(wbi_bk_files_t *f)
{
    for (size_t i = 0; f->urls && i < f->n; i++)
        wbi_free(f->urls[i]);
    for (size_t i = 0; f->headers && i < f->nheaders; i++)
        wbi_free(f->headers[i]);
    wbi_free(f->urls);
    wbi_free(f->headers);
    *f = (wbi_bk_files_t){0};
}

// Reads createRunFiles: exactly one entry per requested name (else the whole
// batch is refused, as wandb-core does), matched by name; uploadHeaders are
// "Key:Value" strings.
wandb_err wbi_bk_parse_files(const char *body, size_t len, const char *const *names, size_t n,
                             wbi_bk_files_t *f, char *err, size_t errlen)
{
    *f = (wbi_bk_files_t){0};
    json_t *data = NULL;
    wandb_err rc = wbi_bk_graphql_data(body, len, &data, err, errlen);
    if (rc != WANDB_OK)
        return rc;
    json_t *crf = json_object_get(data, "createRunFiles");
    json_t *files = json_object_get(crf, "files");
    json_t *hdrs = json_object_get(crf, "uploadHeaders");
    rc = WANDB_EPROTO;
    if (!json_is_array(files) || json_array_size(files) != n) {
        if (err)
            snprintf(err, errlen, "CreateRunFiles answered %zu files for %zu names",
                     json_is_array(files) ? json_array_size(files) : 0, n);
        goto out_decref;
    }
    rc = WANDB_ENOMEM;
    f->n = n;
    f->urls = wbi_calloc(n ? n : 1, sizeof *f->urls);
    size_t nh = json_is_array(hdrs) ? json_array_size(hdrs) : 0;
    f->headers = wbi_calloc(nh ? nh : 1, sizeof *f->headers);
    if (!f->urls || !f->headers)
        goto out_release;
    for (size_t i = 0; i < nh; i++) {
        const char *h = json_string_value(json_array_get(hdrs, i));
        if (!h)
            continue;
        f->headers[f->nheaders] = wbi_strdup(h);
        if (!f->headers[f->nheaders++])
            goto out_release;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *hit = NULL;
        for (size_t k = 0; k < n && !hit; k++) {
            json_t *node = json_array_get(files, k);
            const char *name = json_string_value(json_object_get(node, "name"));
            if (name && strcmp(name, names[i]) == 0)
                hit = node;
        }
        if (!hit) {
            rc = WANDB_EPROTO;
            if (err)
                snprintf(err, errlen, "CreateRunFiles answer lacks '%.100s'", names[i]);
            goto out_release;
        }
        const char *url = json_string_value(json_object_get(hit, "uploadUrl"));
        if (url && !(f->urls[i] = wbi_strdup(url)))
            goto out_release;
    }
    rc = WANDB_OK;
    goto out_decref;
out_release:
    wbi_bk_files_release(f);
out_decref:
    json_decref(data);
    return rc;
}

// Appends one file part "name":{"offset":N,"content":[...]} with lines
// while the body stays under the cap; the first line goes anyway when
// must_take is set (the body has no line yet). *taken gets how many.
static wandb_err s_fs_file(wbi_buf_t *out, const char *name, int64_t offset,
                           const wbi_bk_line_t *line, size_t n, size_t cap, bool must_take,
                           size_t *taken)
{
    *taken = 0;
    wandb_err rc =
        wbi_buf_printf(out, "\"%s\":{\"offset\":%lld,\"content\":[", name, (long long)offset);
    for (size_t i = 0; rc == WANDB_OK && line && i < n; i++, line = WBI_BK_LINE_NEXT(line)) {
        size_t mark = out->len;
        if (i > 0)
            rc = wbi_buf_putc(out, ',');
        if (rc == WANDB_OK)
            rc = wbi_jsonx_put_string(out, line->data, line->len);
        if (rc == WANDB_OK && (i > 0 || !must_take) && out->len > cap) {
            out->len = mark; // this line goes into the next request
            out->data[mark] = '\0';
            break;
        }
        if (rc == WANDB_OK)
            (*taken)++;
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_puts(out, "]}");
    return rc;
}

const char *wbi_backend_stream_name(int file)
{
    switch (file) {
    case WBI_STREAM_EVENTS:
        return "wandb-events.jsonl";
    case WBI_STREAM_OUTPUT:
        return "output.log";
    default:
        return NULL;
    }
}

int wbi_backend_stream_of(const char *name, size_t len)
{
    for (int f = 0; f < WBI_STREAMS; f++) {
        const char *n = wbi_backend_stream_name(f);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return f;
    }
    return -1;
}

// {"files":{history, streams, summary}, "uploaded", "preempting", "complete", "exitcode"}.
wandb_err wbi_bk_fs_body(wbi_buf_t *out, const wbi_bk_fs_t *fs, size_t *taken, bool *completed)
{
    *taken = 0;
    *completed = false;
    size_t st[WBI_STREAMS] = {0};
    size_t start = out->len;
    size_t cap = fs->max_bytes ? fs->max_bytes : WBI_BK_REQUEST_MAX;
    // The summary is written after the lines: keep room for it.
    size_t room = fs->summary ? fs->summary_len + 64 : 0;
    cap = start + (cap > room ? cap - room : 0);
    bool has_lines = fs->lines && fs->nlines > 0;
    bool has_stream = false, all_taken = true;
    for (int f = 0; f < WBI_STREAMS; f++)
        has_stream |= fs->streams[f].lines && fs->streams[f].nlines > 0;
    wandb_err rc = wbi_buf_putc(out, '{');
    const char *sep = "";
    if (rc == WANDB_OK && (has_lines || has_stream || fs->summary)) {
        rc = wbi_buf_puts(out, "\"files\":{");
        bool any = false; // a line is in the body already
        if (rc == WANDB_OK && has_lines) {
            rc = s_fs_file(out, "wandb-history.jsonl", fs->offset, fs->lines, fs->nlines, cap, true,
                           taken);
            all_taken = *taken == fs->nlines;
            any = true;
            sep = ",";
        }
        for (int f = 0; rc == WANDB_OK && f < WBI_STREAMS; f++) {
            const wbi_bk_fs_stream_t *s = &fs->streams[f];
            if (!s->lines || !s->nlines)
                continue;
            if (!all_taken || (any && out->len >= cap)) {
                all_taken = false; // the body is full: the next request takes them
                continue;
            }
            size_t mark = out->len;
            rc = wbi_buf_puts(out, sep);
            if (rc == WANDB_OK)
                rc = s_fs_file(out, wbi_backend_stream_name(f), s->offset, s->lines, s->nlines, cap,
                               !any, &st[f]);
            if (rc == WANDB_OK && st[f] == 0) {
                out->len = mark; // no line fitted: no empty part
                out->data[mark] = '\0';
            } else if (rc == WANDB_OK) {
                any = true;
                sep = ",";
            }
            all_taken &= st[f] == s->nlines;
        }
        if (rc == WANDB_OK && fs->summary) {
            rc = wbi_buf_printf(out, "%s\"wandb-summary.json\":{\"offset\":0,\"content\":[", sep);
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_string(out, fs->summary, fs->summary_len);
            if (rc == WANDB_OK)
                rc = wbi_buf_puts(out, "]}");
        }
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(out, '}');
        sep = ",";
    }
    if (rc == WANDB_OK && fs->nuploaded > 0) {
        rc = wbi_buf_printf(out, "%s\"uploaded\":[", sep);
        for (size_t i = 0; rc == WANDB_OK && i < fs->nuploaded; i++) {
            if (i > 0)
                rc = wbi_buf_putc(out, ',');
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_string(out, fs->uploaded[i], strlen(fs->uploaded[i]));
        }
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(out, ']');
        sep = ",";
    }
    if (rc == WANDB_OK && fs->preempting) {
        rc = wbi_buf_printf(out, "%s\"preempting\":true", sep);
        sep = ",";
    }
    if (rc == WANDB_OK && fs->finishing && all_taken) {
        rc = wbi_buf_printf(out, "%s\"complete\":true,\"exitcode\":%d", sep, fs->exit_code);
        *completed = rc == WANDB_OK;
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '}');
    if (rc != WANDB_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        *taken = 0;
        *completed = false;
        memset(st, 0, sizeof st);
    }
    if (fs->stream_taken)
        memcpy(fs->stream_taken, st, sizeof st);
    return rc;
}

// Takes the message of the first GraphQL error, if any.
static bool s_first_error(json_t *root, char *err, size_t errlen)
{
    json_t *errors = json_object_get(root, "errors");
    if (!json_is_array(errors) || json_array_size(errors) == 0)
        return false;
    const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    if (err)
        snprintf(err, errlen, "graphql error: %s", msg ? msg : "(no message)");
    return true;
}

// Accepts an answer only with a data object and no errors (protocol doc §1.3).
wandb_err wbi_bk_graphql_data(const char *body, size_t len, json_t **data_out, char *err,
                              size_t errlen)
{
    *data_out = NULL;
    if (err && errlen)
        err[0] = '\0';
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!root) {
        if (err)
            snprintf(err, errlen, "graphql answer is not JSON: %s",
                     body ? jerr.text : "empty body");
        return WANDB_EPROTO;
    }
    wandb_err rc = WANDB_EBACKEND;
    if (s_first_error(root, err, errlen))
        goto cleanup;
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(data)) {
        if (err)
            snprintf(err, errlen, "graphql answer has no data");
        rc = WANDB_EPROTO;
        goto cleanup;
    }
    *data_out = json_incref(data);
    rc = WANDB_OK;
cleanup:
    json_decref(root);
    return rc;
}

// Reads bucket.id, project.entity.name and historyLineCount.
wandb_err wbi_bk_parse_upsert(const char *body, size_t len, wbi_bk_bucket_t *b, char *err,
                              size_t errlen)
{
    *b = (wbi_bk_bucket_t){0};
    json_t *data = NULL;
    wandb_err rc = wbi_bk_graphql_data(body, len, &data, err, errlen);
    if (rc != WANDB_OK)
        return rc;
    json_t *bucket = json_object_get(json_object_get(data, "upsertBucket"), "bucket");
    if (!json_is_object(bucket)) {
        if (err)
            snprintf(err, errlen, "UpsertBucket answer has no bucket");
        rc = WANDB_EPROTO;
        goto cleanup;
    }
    const char *id = json_string_value(json_object_get(bucket, "id"));
    json_t *project = json_object_get(bucket, "project");
    const char *entity =
        json_string_value(json_object_get(json_object_get(project, "entity"), "name"));
    json_t *hlc = json_object_get(bucket, "historyLineCount");
    b->bucket_id = id ? wbi_strdup(id) : NULL;
    b->entity = entity && *entity ? wbi_strdup(entity) : NULL;
    b->history_line_count = json_is_integer(hlc) ? json_integer_value(hlc) : 0;
    if (b->history_line_count < 0)
        b->history_line_count = 0;
    rc = WANDB_OK;
    if ((id && !b->bucket_id) || (entity && *entity && !b->entity)) {
        wbi_bk_bucket_release(b);
        rc = WANDB_ENOMEM;
    }
cleanup:
    json_decref(data);
    return rc;
}

// Frees the strings of an UpsertBucket answer.
void wbi_bk_bucket_release(wbi_bk_bucket_t *b)
{
    wbi_free(b->bucket_id);
    wbi_free(b->entity);
    *b = (wbi_bk_bucket_t){0};
}

// Percent-encodes every byte outside the RFC 3986 unreserved set.
wandb_err wbi_bk_url_escape(wbi_buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    wandb_err rc = WANDB_OK;
    for (const unsigned char *p = (const unsigned char *)s; rc == WANDB_OK && *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            rc = wbi_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = wbi_buf_append(out, esc, 3);
        }
    }
    return rc;
}

// Joins base URL and escaped path segments.
wandb_err wbi_bk_fs_url(wbi_buf_t *out, const char *base, const char *entity, const char *project,
                        const char *run_id)
{
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    wandb_err rc = wbi_buf_append(out, base, blen);
    if (rc == WANDB_OK)
        rc = wbi_buf_puts(out, "/files/");
    if (rc == WANDB_OK)
        rc = wbi_bk_url_escape(out, entity);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '/');
    if (rc == WANDB_OK)
        rc = wbi_bk_url_escape(out, project);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '/');
    if (rc == WANDB_OK)
        rc = wbi_bk_url_escape(out, run_id);
    if (rc == WANDB_OK)
        rc = wbi_buf_puts(out, "/file_stream");
    return rc;
}
