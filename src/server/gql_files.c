//  gql_files.c - wandb-mpi-server: the RunFiles query (restore, the public API's run.files)
//  SPDX-License-Identifier: MIT
//
//  project(name, entityName) { internalId run(name) { fileCount files(names,
//  after, first) { edges { node { id name url directUrl sizeBytes mimetype
//  updatedAt md5 } cursor } pageInfo { endCursor hasNextPage } } } }, as
//  wandb/apis/public/files.py selects it. Only uploaded files are listed.
//  url and directUrl both point at GET /api/v1/runs/<run>/files/<name>
//  (the read API, which takes the API key). md5 is null: the store keeps no
//  digest. Cursors are the decimal index of a file in name order.
//  Thread: the caller holds the store lock (gql.h).

#include "common/buf.h"
#include "server/gql.h"
#include "server/util.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_FIRST_MAX 1000 // files in one answer at most

// Fills res with a GraphQL error (as gql.c answers them).
static void s_fail(wbi_gql_result_t *res, int status, const char *msg)
{
    json_decref(res->body);
    res->status = status;
    res->body = json_pack("{s[{ss}]so}", "errors", "message", msg, "data", json_null());
}

// What the store walk collects.
typedef struct {
    const wbi_gql_ctx_t *ctx; // for the URLs
    const wbi_run_t *run;     // the run listed
    const json_t *names;      // fileNames filter (empty or NULL: all)
    int64_t skip;             // files before the cursor
    int64_t first;            // files wanted
    int64_t index;            // files seen so far (uploaded, matching)
    json_t *edges;            // the answer's edges
    bool more;                // a matching file after the page
    bool failed;              // out of memory
} s_walk_t;

// True when names is empty or holds name.
static bool s_wanted(const json_t *names, const char *name)
{
    if (json_array_size(names) == 0)
        return true;
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        const char *s = json_string_value(n);
        if (s && strcmp(s, name) == 0)
            return true;
    }
    return false;
}

// The read-API URL of a run file.
static json_t *s_file_url(const wbi_gql_ctx_t *ctx, const wbi_run_t *run, const char *name)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 8192);
    wandb_err e = wbi_buf_printf(&b, "%s/api/v1/runs/", ctx->upload_base);
    if (e == WANDB_OK)
        e = wbi_url_path_encode(&b, run->name, false);
    if (e == WANDB_OK)
        e = wbi_buf_puts(&b, "/files/");
    if (e == WANDB_OK)
        e = wbi_url_path_encode(&b, name, true);
    if (e == WANDB_OK)
        e = wbi_buf_puts(&b, "?project=");
    if (e == WANDB_OK)
        e = wbi_url_path_encode(&b, run->project, false);
    if (e == WANDB_OK)
        e = wbi_buf_puts(&b, "&entity=");
    if (e == WANDB_OK)
        e = wbi_url_path_encode(&b, run->entity, false);
    json_t *j = e == WANDB_OK ? json_string(b.data) : NULL;
    wbi_buf_release(&b);
    return j;
}

// Appends one uploaded, wanted file of the page to the edges.
static int s_each(void *arg, const char *name, int64_t size, bool uploaded, double updated_at)
{
    s_walk_t *w = arg;
    if (!uploaded || !s_wanted(w->names, name))
        return 0;
    int64_t i = w->index++;
    if (i < w->skip)
        return 0;
    if (i >= w->skip + w->first) {
        w->more = true; // the walk goes on: fileCount counts every file
        return 0;
    }
    char when[32];
    time_t t = (time_t)updated_at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%" PRId64, i);
    char id[600];
    snprintf(id, sizeof id, "%" PRId64 ":%s", w->run->id, name);
    json_t *url = s_file_url(w->ctx, w->run, name);
    json_t *edge =
        url ? json_pack("{s{sssssOsOsIsssssn}ss}", "node", "id", id, "name", name, "url", url,
                        "directUrl", url, "sizeBytes", (json_int_t)size, "mimetype",
                        "application/octet-stream", "updatedAt", when, "md5", "cursor", cursor)
            : NULL;
    json_decref(url);
    if (!edge || json_array_append_new(w->edges, edge) != 0) {
        w->failed = true;
        return 1;
    }
    return 0;
}

void wbi_gql_op_run_files(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    const char *entity = json_string_value(json_object_get(vars, "entity"));
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = json_string_value(json_object_get(vars, "project"));
    const char *name = json_string_value(json_object_get(vars, "name"));
    const char *after = json_string_value(json_object_get(vars, "fileCursor"));
    json_t *limit = json_object_get(vars, "fileLimit");
    s_walk_t w = {.ctx = ctx,
                  .names = json_object_get(vars, "fileNames"),
                  .first = json_is_integer(limit) ? json_integer_value(limit) : 50,
                  .edges = json_array()};
    if (w.first < 1 || w.first > S_FIRST_MAX)
        w.first = S_FIRST_MAX;
    if (after && *after) {
        // A cursor is an index; anything else starts at the beginning.
        long long c = strtoll(after, NULL, 10);
        w.skip = c >= 0 && c < INT32_MAX ? c + 1 : 0;
    }
    if (!project || !name) {
        s_fail(res, 400, "variables 'project' and 'name' are required");
        json_decref(w.edges);
        return;
    }
    wbi_run_t run = {0};
    wandb_err e = wbi_store_run_find(ctx->store, entity, project, name, &run);
    json_t *r = json_null();
    if (e == WANDB_OK) {
        w.run = &run;
        e = wbi_store_files_each(ctx->store, run.id, s_each, &w);
        if (e == WANDB_OK && w.failed)
            e = WANDB_ENOMEM;
        char end[24];
        snprintf(end, sizeof end, "%" PRId64, w.skip + (int64_t)json_array_size(w.edges) - 1);
        r = json_pack("{sIs{sOs{sssb}}}", "fileCount", (json_int_t)w.index, "files", "edges",
                      w.edges, "pageInfo", "endCursor", end, "hasNextPage", w.more);
    } else if (e == WANDB_ENOTFOUND) {
        e = WANDB_OK;
    }
    wbi_store_run_release(&run);
    json_decref(w.edges);
    if (e != WANDB_OK || !r) {
        json_decref(r);
        char msg[128];
        snprintf(msg, sizeof msg, "storage error: %s",
                 wandb_strerror(e != WANDB_OK ? e : WANDB_ENOMEM));
        s_fail(res, e == WANDB_ETIMEDOUT ? 503 : 500, msg);
        return;
    }
    char path[520];
    snprintf(path, sizeof path, "%s/%s", entity, project);
    json_t *data = json_pack("{s{ssssssso}}", "project", "internalId", path, "name", project,
                             "entityName", entity, "run", r);
    if (!data) {
        s_fail(res, 500, "out of memory");
        return;
    }
    json_decref(res->body);
    res->status = 200;
    res->body = json_pack("{so}", "data", data);
}
