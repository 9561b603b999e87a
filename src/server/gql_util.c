//  gql_util.c - what the GraphQL files of wandb-mpi-server share
//  SPDX-License-Identifier: MIT
//
//  GraphQL ids (base64 of "<Kind>:<key>"), variables, and the {"data"} /
//  {"errors"} answers (gql_int.h). Thread: any (no state).

#include "server/gql_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Ids.

// Appends base64(prefix + text).
json_t *wbi_gql_gid(const char *kind, const char *text)
{
    char raw[600];
    snprintf(raw, sizeof raw, "%s:%s", kind, text);
    wbi_buf_t b;
    wbi_buf_init(&b, 1024);
    json_t *j = NULL;
    if (wbi_b64_append(&b, raw, strlen(raw)) == WANDB_OK)
        j = json_string(b.data ? b.data : "");
    wbi_buf_release(&b);
    return j;
}

// base64("Run:<storage id>").
wandb_err wbi_gql_run_gid(int64_t storage_id, char *out, size_t outlen)
{
    char raw[64];
    snprintf(raw, sizeof raw, "Run:%" PRId64, storage_id);
    wbi_buf_t b;
    wbi_buf_init(&b, 128);
    wandb_err e = wbi_b64_append(&b, raw, strlen(raw));
    if (e == WANDB_OK)
        e = (size_t)snprintf(out, outlen, "%s", b.data) < outlen ? WANDB_OK : WANDB_ETOOBIG;
    wbi_buf_release(&b);
    return e;
}

// Parses base64("Run:<storage id>").
bool wbi_gql_run_gid_parse(const char *gid, int64_t *storage_id)
{
    if (!gid)
        return false;
    wbi_buf_t b;
    wbi_buf_init(&b, 128);
    bool ok = wbi_b64_decode(&b, gid, strlen(gid)) && b.data && strncmp(b.data, "Run:", 4) == 0;
    if (ok) {
        char *end = NULL;
        long long v = strtoll(b.data + 4, &end, 10);
        ok = end && *end == '\0' && end != b.data + 4 && v > 0;
        if (ok)
            *storage_id = v;
    }
    wbi_buf_release(&b);
    return ok;
}

// ---------------------------------------------------------------------------
// Helpers for variables and answers.

// A string variable, or NULL when absent, null or not a string.
const char *wbi_gql_var(const json_t *vars, const char *name)
{
    return json_string_value(json_object_get(vars, name));
}

// {"errors":[{"message": msg}], "data": null}.
static json_t *s_errors(const char *msg)
{
    return json_pack("{s[{ss}]so}", "errors", "message", msg, "data", json_null());
}

// Fills res with a GraphQL error at the given HTTP status.
void wbi_gql_fail(wbi_gql_result_t *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(res->body);
    res->status = status;
    res->body = s_errors(msg);
}

// Fills res from a store error: transient conditions are 503 (clients retry),
// others 500; never 4xx.
void wbi_gql_fail_store(const wbi_gql_ctx_t *ctx, wbi_gql_result_t *res, wandb_err e)
{
    wbi_slog(WANDB_LOG_WARN, "graphql", "%s: store error: %s (%s)", res->op, wandb_strerror(e),
             wbi_store_errmsg(ctx->store));
    wbi_gql_fail(res, e == WANDB_ETIMEDOUT ? 503 : 500, "storage error: %s", wandb_strerror(e));
}

// Wraps data as {"data": data} in res (steals data).
void wbi_gql_ok(wbi_gql_result_t *res, json_t *data)
{
    json_decref(res->body);
    if (!data) {
        res->status = 500;
        res->body = s_errors("out of memory");
        return;
    }
    res->status = 200;
    res->body = json_pack("{so}", "data", data);
}

// project { id name entity { id name } }.
json_t *wbi_gql_project_json(const char *entity, const char *project)
{
    char path[520];
    snprintf(path, sizeof path, "%s/%s", entity, project);
    return json_pack("{sososss{soss}}", "id", wbi_gql_gid("Project", path), "internalId",
                     wbi_gql_gid("Project", path), "name", project, "entity", "id",
                     wbi_gql_gid("Entity", entity), "name", entity);
}

bool wbi_gql_dispatch(const wbi_gql_op_t *ops, size_t n, const wbi_gql_ctx_t *ctx, const char *op,
                      const json_t *vars, wbi_gql_result_t *res)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(op, ops[i].name) == 0) {
            ops[i].fn(ctx, vars, res);
            return true;
        }
    }
    return false;
}
