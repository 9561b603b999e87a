//  routes_wandb.c - wandb-mpi-server: the W&B protocol routes and the route table
//  SPDX-License-Identifier: MIT
//
//  POST /graphql and POST /files/.../file_stream, /healthz, /sdk/otel/*,
//  and the helpers every handler shares. Handlers are
//  s_handle_<resource>_<method>, listed in s_routes.

#include "common/alloc.h"
#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

// Lines of one file_stream request written per transaction: a large request
// commits in slices and lets other requests take the store in between.
#define S_SLICE_LINES 2000
// Highest line number a file_stream may write: 2^53 - 1, the largest integer
// every client (JavaScript numbers included) reads back exactly.
#define S_LINE_NO_MAX ((INT64_C(1) << 53) - 1)

// Constant-time comparison of a credential with the key.
bool wbi_srv_key_eq(const char *given, size_t len, const char *key)
{
    size_t klen = strlen(key);
    unsigned char diff = (unsigned char)(len != klen);
    for (size_t i = 0; i < len && i < klen; i++)
        diff |= (unsigned char)(given[i] ^ key[i]);
    return diff == 0;
}

// Splits "a/b/c..." into n leading segments (copied) and the rest.
bool wbi_srv_split(const char *path, char segs[][256], int n, const char **rest)
{
    const char *p = path;
    for (int i = 0; i < n; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= 256)
            return false;
        memcpy(segs[i], p, len);
        segs[i][len] = '\0';
        if (!slash) {
            if (i != n - 1)
                return false;
            p += len;
        } else {
            p = slash + 1;
        }
    }
    *rest = p;
    return true;
}

// Fills reply with {"error": msg} (and "errors" for GraphQL clients).
void wbi_srv_reply_error(wbi_srv_reply_t *reply, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(reply->json);
    reply->status = status;
    reply->json = json_pack("{sss[{ss}]}", "error", msg, "errors", "message", msg);
}

// Fills reply from a store error: 503 when transient, else 500. Store lock:
// held (the store's error text is shared with the watchdog thread).
void wbi_srv_reply_store_error(wbi_server_t *self, wbi_srv_reply_t *reply, wandb_err e)
{
    wbi_slog(WANDB_LOG_WARN, "store", "%s (%s)", wandb_strerror(e), wbi_store_errmsg(self->store));
    wbi_srv_reply_error(reply, e == WANDB_ETIMEDOUT ? 503 : 500, "storage error: %s",
                        wandb_strerror(e));
}

// True for operating-system errors that go away by themselves (a full disk
// or file table, no memory): the answer is 503 + Retry-After, never a 4xx.
bool wbi_srv_errno_transient(int err)
{
    return err == ENOSPC || err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN ||
           err == EINTR || err == EDQUOT;
}

// The base URL clients reached us by (Host header), for upload URLs.
static void s_request_base(wbi_server_t *self, struct MHD_Connection *conn, char *out, size_t len)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    bool ok = host && *host && strlen(host) < 200;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("-.:[]", *p);
    if (ok)
        snprintf(out, len, "http://%s", host);
    else
        snprintf(out, len, "%s", self->url);
}

// POST /graphql.
static void s_handle_graphql_post(wbi_server_t *self, struct MHD_Connection *conn,
                                  wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)url;
    char base[256];
    s_request_base(self, conn, base, sizeof base);
    wbi_gql_ctx_t ctx = {.store = self->store,
                         .entity = self->entity,
                         .upload_base = base,
                         .upload_token = self->upload_token,
                         .dir = self->dir,
                         .now = wbi_now_unix()};
    wbi_gql_result_t res;
    wbi_srv_lock(&self->store_lock);
    wbi_gql_execute(&ctx, req->parsed, &res);
    wbi_srv_unlock(&self->store_lock);
    if (*res.op) {
        // Unknown names share one key, so a client cannot grow the table.
        const char *key = res.known ? res.op : "unknown";
        pthread_mutex_lock(&self->lock);
        json_t *n = json_object_get(self->op_counts, key);
        json_object_set_new(self->op_counts, key, json_integer(n ? json_integer_value(n) + 1 : 1));
        pthread_mutex_unlock(&self->lock);
    }
    reply->status = res.status;
    reply->json = res.body;
    snprintf(reply->op, sizeof reply->op, "%s", res.op);
}

// Checks a whole file_stream body before anything is written. Returns false
// with reply filled (400) when it is malformed.
static bool s_file_stream_check(const json_t *body, wbi_srv_reply_t *reply)
{
    json_t *files = json_object_get(body, "files");
    if (files && !json_is_object(files) && !json_is_null(files)) {
        wbi_srv_reply_error(reply, 400,
                            "file_stream: 'files' must be an object {name: {offset, content}}");
        return false;
    }
    json_t *uploaded = json_object_get(body, "uploaded");
    if (uploaded && !json_is_array(uploaded) && !json_is_null(uploaded)) {
        wbi_srv_reply_error(reply, 400, "file_stream: 'uploaded' must be a list of file names");
        return false;
    }
    size_t ui;
    json_t *u;
    json_array_foreach(uploaded, ui, u)
    {
        if (!json_is_string(u) || !wbi_rel_path_ok(json_string_value(u))) {
            wbi_srv_reply_error(reply, 400,
                                "file_stream: uploaded[%zu] is not a relative file name (no"
                                " empty, '.' or '..' segment)",
                                ui);
            return false;
        }
    }
    json_t *code = json_object_get(body, "exitcode");
    if (code && !json_is_integer(code) && !json_is_null(code)) {
        wbi_srv_reply_error(reply, 400, "file_stream: 'exitcode' must be an integer or null");
        return false;
    }
    const char *flags[] = {"complete", "preempting", "failed"};
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        json_t *flag = json_object_get(body, flags[k]);
        if (flag && !json_is_boolean(flag) && !json_is_null(flag)) {
            wbi_srv_reply_error(reply, 400, "file_stream: '%s' must be true or false", flags[k]);
            return false;
        }
    }
    const char *fname;
    json_t *f;
    json_object_foreach(files, fname, f)
    {
        json_t *offset = json_object_get(f, "offset");
        json_t *content = json_object_get(f, "content");
        if (!json_is_object(f) || (offset && !json_is_integer(offset)) ||
            json_integer_value(offset) < 0 || !json_is_array(content)) {
            wbi_srv_reply_error(reply, 400,
                                "file_stream: file '%s' needs an integer 'offset' >= 0 and a"
                                " 'content' list of strings",
                                fname);
            return false;
        }
        int64_t off = json_integer_value(offset);
        size_t n = json_array_size(content);
        if (off > S_LINE_NO_MAX || (int64_t)n > S_LINE_NO_MAX + 1 - off) {
            wbi_srv_reply_error(reply, 400,
                                "file_stream: file '%s': offset %" PRId64 " with %zu line(s) is"
                                " out of range (line numbers end at 2^53 - 1)",
                                fname, off, n);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (!json_is_string(json_array_get(content, i))) {
                wbi_srv_reply_error(
                    reply, 400, "file_stream: file '%s': content[%zu] is not a string", fname, i);
                return false;
            }
        }
        if (!wbi_rel_path_ok(fname)) {
            wbi_srv_reply_error(reply, 400,
                                "file_stream: file name '%s' is not a relative path (no empty,"
                                " '.' or '..' segment, no backslash or control character)",
                                fname);
            return false;
        }
    }
    return true;
}

// Commits the open slice and starts the next one, letting waiting requests
// take the store in between. Store lock: held, and held again on return.
static wandb_err s_next_slice(wbi_server_t *self)
{
    wandb_err e = wbi_store_commit(self->store);
    wbi_srv_unlock(&self->store_lock);
    wbi_srv_lock(&self->store_lock);
    return e == WANDB_OK ? wbi_store_begin(self->store) : e;
}

// Writes one checked file_stream body to run id. Store lock: held, with a
// transaction open; slices of S_SLICE_LINES lines are committed on the way.
static wandb_err s_file_stream_apply(wbi_server_t *self, int64_t id, const json_t *body, double now)
{
    wandb_err e = WANDB_OK;
    size_t written = 0;
    const char *fname;
    json_t *f;
    json_object_foreach(json_object_get(body, "files"), fname, f)
    {
        json_t *content = json_object_get(f, "content");
        int64_t off = json_integer_value(json_object_get(f, "offset"));
        size_t n = json_array_size(content);
        if (strcmp(fname, WBI_FILE_SUMMARY) == 0) {
            // The whole summary is one line; the last one sent wins.
            if (n > 0) {
                json_t *last = json_array_get(content, n - 1);
                e = wbi_store_run_set_summary(self->store, id, json_string_value(last),
                                              json_string_length(last));
            }
            continue;
        }
        for (size_t i = 0; i < n && e == WANDB_OK; i++) {
            json_t *line = json_array_get(content, i);
            e = wbi_store_line_put(self->store, id, fname, off + (int64_t)i,
                                   json_string_value(line), json_string_length(line));
            if (e == WANDB_OK && ++written % S_SLICE_LINES == 0)
                e = s_next_slice(self);
        }
        if (e != WANDB_OK)
            return e;
    }
    size_t ui;
    json_t *u;
    json_array_foreach(json_object_get(body, "uploaded"), ui, u)
    {
        if (e == WANDB_OK)
            e = wbi_store_file_put(self->store, id, json_string_value(u), -1, true, now);
    }
    if (e == WANDB_OK && json_is_true(json_object_get(body, "preempting")))
        e = wbi_store_run_set_preempting(self->store, id);
    if (e == WANDB_OK && json_is_true(json_object_get(body, "complete"))) {
        json_t *code = json_object_get(body, "exitcode");
        int64_t exit_code = json_is_integer(code) ? json_integer_value(code) : 0;
        if (json_is_true(json_object_get(body, "failed")) && exit_code == 0)
            exit_code = 1;
        e = wbi_store_run_finish(self->store, id, exit_code, now);
    }
    return e;
}

// POST /files/{entity}/{project}/{run}/file_stream.
static void s_handle_file_stream_post(wbi_server_t *self, struct MHD_Connection *conn,
                                      wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    char seg[3][256];
    const char *rest = NULL;
    if (!wbi_srv_split(url + strlen("/files/"), seg, 3, &rest) ||
        strcmp(rest, "file_stream") != 0) {
        wbi_srv_reply_error(
            reply, 404,
            "no such resource '%s': expected /files/<entity>/<project>/<run>/file_stream", url);
        return;
    }
    char why[160];
    if (!wbi_name_check("entity", seg[0], strlen(seg[0]), why, sizeof why) ||
        !wbi_name_check("project", seg[1], strlen(seg[1]), why, sizeof why) ||
        !wbi_run_id_check(seg[2], strlen(seg[2]), why, sizeof why)) {
        wbi_srv_reply_error(reply, 400, "file_stream: %s", why);
        return;
    }
    if (!json_is_object(req->parsed)) {
        wbi_srv_reply_error(reply, 400, "file_stream: the body must be a JSON object");
        return;
    }
    if (!s_file_stream_check(req->parsed, reply))
        return;
    double now = wbi_now_unix();
    wbi_srv_lock(&self->store_lock);
    int64_t id = 0;
    wandb_err e = wbi_store_begin(self->store);
    if (e == WANDB_OK)
        e = wbi_store_run_ensure(self->store, seg[0], seg[1], seg[2], now, &id);
    if (e == WANDB_OK)
        e = wbi_store_run_touch(self->store, id, now);
    if (e == WANDB_OK)
        e = s_file_stream_apply(self, id, req->parsed, now);
    if (e == WANDB_OK)
        e = wbi_store_commit(self->store);
    if (e != WANDB_OK) {
        wbi_srv_reply_store_error(self, reply, e);
        wbi_store_rollback(self->store);
    }
    wbi_srv_unlock(&self->store_lock);
    if (e != WANDB_OK)
        return;
    if (json_is_true(json_object_get(req->parsed, "complete")))
        wbi_slog(WANDB_LOG_INFO, "file_stream", "run %s/%s/%s complete (exit code %" PRId64 ")",
                 seg[0], seg[1], seg[2],
                 (int64_t)json_integer_value(json_object_get(req->parsed, "exitcode")));
    reply->status = 200;
    reply->json = json_pack("{snsbs{}}", "exitcode", "stopped", 0, "limits");
}

// Answers 404 (used for /sdk/otel/*: tells wandb-core not to send telemetry).
static void s_handle_not_found(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply)
{
    (void)self;
    (void)conn;
    (void)req;
    wbi_srv_reply_error(reply, 404, "no such resource '%s'", url);
}

// GET /healthz: liveness without credentials.
static void s_handle_health_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                                const char *url, wbi_srv_reply_t *reply)
{
    (void)self;
    (void)conn;
    (void)req;
    (void)url;
    reply->status = 200;
    reply->json = json_pack("{ss}", "status", "ok");
}

static const wbi_srv_route_t s_routes[] = {
    {"POST", "/graphql", false, WBI_SRV_AUTH_KEY, WBI_SRV_KIND_GRAPHQL, true, false,
     WBI_SRV_GRAPHQL_MAX, s_handle_graphql_post},
    {"POST", "/files/", true, WBI_SRV_AUTH_KEY, WBI_SRV_KIND_FILE_STREAM, true, false,
     WBI_SRV_FILE_STREAM_MAX, s_handle_file_stream_post},
    {"PUT", "/upload/", true, WBI_SRV_AUTH_UPLOAD, WBI_SRV_KIND_UPLOAD, false, false, 0,
     wbi_srv_handle_upload_put},
    {NULL, "/sdk/otel/", true, WBI_SRV_AUTH_NONE, WBI_SRV_KIND_OTHER, false, true, 0,
     s_handle_not_found},
    {"GET", "/api/v1/stats", false, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, true, 0,
     wbi_srv_handle_stats_get},
    {"GET", "/api/v1/runs", false, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false, 0,
     wbi_srv_handle_runs_get},
    {"GET", "/api/v1/runs/", true, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false, 0,
     wbi_srv_handle_run_get},
    {"PUT", "/artifact-blobs/", true, WBI_SRV_AUTH_UPLOAD, WBI_SRV_KIND_UPLOAD, false, false, 0,
     wbi_srv_handle_blob_put},
    {"GET", "/artifact-blobs/", true, WBI_SRV_AUTH_NONE, WBI_SRV_KIND_UPLOAD, false, false, 0,
     wbi_srv_handle_blob_get},
    {"GET", "/artifactsV2/", true, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_OTHER, false, false, 0,
     wbi_srv_handle_blob_key_get},
    {"GET", "/artifacts/", true, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_OTHER, false, false, 0,
     wbi_srv_handle_blob_key_get},
    {"GET", "/api/v1/artifacts", false, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false,
     0, wbi_srv_handle_artifacts_get},
    {"GET", "/api/v1/artifacts/", true, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false,
     0, wbi_srv_handle_artifact_files_get},
    {"GET", "/healthz", false, WBI_SRV_AUTH_NONE, WBI_SRV_KIND_OTHER, false, true, 0,
     s_handle_health_get},
    // The dashboard (routes_ui.c, routes_sample.c); its pages are the catch-all, last.
    {"GET", "/api/v1/projects", false, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false, 0,
     wbi_srv_handle_projects_get},
    {"GET", "/api/v1/sample", false, WBI_SRV_AUTH_KEY_OR_QUERY, WBI_SRV_KIND_API, false, false, 0,
     wbi_srv_handle_sample_get},
    {"POST", "/login", false, WBI_SRV_AUTH_NONE, WBI_SRV_KIND_OTHER, false, true, 4096,
     wbi_srv_handle_login_post},
    {"GET", "/", true, WBI_SRV_AUTH_NONE, WBI_SRV_KIND_OTHER, false, false, 0,
     wbi_srv_handle_ui_get},
};

// Finds the route of (method, url); NULL when none matches.
const wbi_srv_route_t *wbi_srv_route_find(const char *method, const char *url)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        const wbi_srv_route_t *r = &s_routes[i];
        bool path_ok =
            r->prefix ? strncmp(url, r->path, strlen(r->path)) == 0 : strcmp(url, r->path) == 0;
        if (path_ok && (!r->method || strcmp(method, r->method) == 0))
            return r;
    }
    return NULL;
}
