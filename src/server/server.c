//  server.c - wandb-mpi-server: a local W&B-protocol backend over HTTP
//  SPDX-License-Identifier: MIT
//
//  Request life cycle (libmicrohttpd access handler):
//    1st call   match the route, check credentials, open an upload file;
//    next calls body chunks: appended to a capped buffer or the upload file;
//    last call  parse the body, run the route's handler, record, reply.
//  Handlers are s_handle_<resource>_<method>, listed in s_routes.

#include "server/server.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "server/gql.h"
#include "server/runjson.h"
#include "server/slog.h"
#include "server/store.h"
#include "server/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_GRAPHQL_MAX (16u << 20)       // bytes of a GraphQL request body
#define S_FILE_STREAM_MAX (64u << 20)   // bytes of a file_stream body (clients send <= ~10 MiB)
#define S_UPLOAD_MAX (INT64_C(4) << 30) // bytes of one uploaded file
#define S_RESPONSE_MAX (512u << 20)     // bytes of one read-API response
#define S_HISTORY_LIMIT 1000000         // rows of one history response
#define S_IDLE_TIMEOUT_S 3600u          // idle keep-alive connections are closed after this
#define S_PATH_MAX 4096
#define S_BUSY_TIMEOUT_MS 5000 // SQLite busy timeout of requests (as set by wbi_store_open)

struct wbi_server {
    struct MHD_Daemon *daemon;  // the HTTP daemon (internal polling thread)
    wbi_store_t *store;         // the one SQLite connection, guarded by lock
    pthread_mutex_t lock;       // guards store, counters, op_counts, record
    pthread_cond_t wake;        // wakes the watchdog early (stop)
    pthread_t watchdog;         // marks silent runs crashed
    bool watchdog_started;      // watchdog is joinable
    bool stopping;              // set under lock at destroy
    char *dir;                  // data directory
    char *api_key;              // the key every W&B request must carry
    char *entity;               // default entity
    char upload_token[41];      // secret path part of upload URLs
    char url[128];              // "http://host:port"
    uint16_t port;              // bound port
    double heartbeat_timeout_s; // running -> crashed after this silence
    bool settle_on_exit;        // running -> crashed at destroy (set once started)
    FILE *record;               // DIR/requests.jsonl or NULL
    uint64_t connections;       // TCP connections accepted since start
    uint64_t connections_open;  // currently open
    uint64_t n_graphql;         // requests per kind
    uint64_t n_file_stream;     // ...
    uint64_t n_upload;          // ...
    uint64_t n_api;             // ...
    uint64_t n_other;           // ...
    uint64_t n_unauthorized;    // requests refused with 401/403
    json_t *op_counts;          // {"UpsertBucket": n, ...}
};

typedef enum { S_AUTH_NONE, S_AUTH_KEY, S_AUTH_KEY_OR_QUERY, S_AUTH_UPLOAD } s_auth;
typedef enum { S_KIND_GRAPHQL, S_KIND_FILE_STREAM, S_KIND_UPLOAD, S_KIND_API, S_KIND_OTHER } s_kind;

// What a handler produces.
typedef struct {
    int status;               // HTTP status
    json_t *json;             // body as JSON (dumped with bare NaN/Infinity), or
    wbi_buf_t raw;            // body built directly (used when raw.len > 0 or raw_set)
    bool raw_set;             // raw is the body even when empty (file contents)
    const char *content_type; // NULL: application/json
    char op[WBI_GQL_OP_MAX];  // GraphQL operation, for stats and recording
} s_reply_t;

typedef struct s_req s_req_t;
typedef void (*s_handler_fn)(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                             const char *url, s_reply_t *reply);

typedef struct {
    const char *method;   // HTTP method, NULL: any
    const char *path;     // exact path or prefix
    bool prefix;          // path is a prefix
    s_auth auth;          // credentials required
    s_kind kind;          // stats bucket
    bool json_body;       // the body is parsed as (extended) JSON
    size_t max_body;      // cap on the body (0: no body kept)
    s_handler_fn handler; // s_handle_<resource>_<method>
} s_route_t;

// Per-request state, freed by s_request_completed.
struct s_req {
    const s_route_t *route;      // matched route or NULL (404)
    int early_status;            // non-zero: answer this, ignore the body
    char early_msg[256];         // message of the early answer
    wbi_buf_t body;              // request body (capped)
    json_t *parsed;              // body parsed as JSON (json_body routes)
    int fd;                      // upload temp file, -1 when none
    char tmp_path[S_PATH_MAX];   // upload temp file path
    char final_path[S_PATH_MAX]; // where the upload lands
    char up_entity[256];         // upload: entity
    char up_project[256];        // upload: project
    char up_run[256];            // upload: run
    char up_name[1100];          // upload: file name (relative path)
    int64_t up_bytes;            // upload: bytes received
    bool started;                // first call seen
};

// ---------------------------------------------------------------------------
// Small helpers.

// Constant-time comparison of a credential with the key.
static bool s_key_eq(const char *given, size_t len, const char *key)
{
    size_t klen = strlen(key);
    unsigned char diff = (unsigned char)(len != klen);
    for (size_t i = 0; i < len && i < klen; i++)
        diff |= (unsigned char)(given[i] ^ key[i]);
    return diff == 0;
}

// Checks Basic base64(user:KEY) or Bearer KEY (and ?api_key= when allowed).
static bool s_authorized(wbi_server_t *self, struct MHD_Connection *conn, bool allow_query)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
        const char *p = auth + 6;
        while (*p == ' ')
            p++;
        wbi_buf_t dec;
        wbi_buf_init(&dec, 4096);
        bool ok = wbi_b64_decode(&dec, p, strlen(p)) && dec.data;
        if (ok) {
            const char *colon = memchr(dec.data, ':', dec.len);
            ok = colon &&
                 s_key_eq(colon + 1, dec.len - (size_t)(colon + 1 - dec.data), self->api_key);
        }
        wbi_buf_release(&dec);
        if (ok)
            return true;
    } else if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *p = auth + 7;
        while (*p == ' ')
            p++;
        if (s_key_eq(p, strlen(p), self->api_key))
            return true;
    }
    if (allow_query) {
        const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api_key");
        if (q && s_key_eq(q, strlen(q), self->api_key))
            return true;
    }
    return false;
}

// Splits "a/b/c..." into n leading segments (copied) and the rest.
static bool s_split(const char *path, char segs[][256], int n, const char **rest)
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
static void s_reply_error(s_reply_t *reply, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_reply_error(s_reply_t *reply, int status, const char *fmt, ...)
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

// Fills reply from a store error: 503 when transient, else 500. Lock: held
// (the store's error text is shared with the watchdog thread).
static void s_reply_store_error(wbi_server_t *self, s_reply_t *reply, wandb_err e)
{
    wbi_slog(WANDB_LOG_WARN, "store", "%s (%s)", wandb_strerror(e), wbi_store_errmsg(self->store));
    s_reply_error(reply, e == WANDB_ETIMEDOUT ? 503 : 500, "storage error: %s", wandb_strerror(e));
}

// True for operating-system errors that go away by themselves (a full disk
// or file table, no memory): the answer is 503 + Retry-After, never a 4xx.
static bool s_errno_transient(int err)
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

// ---------------------------------------------------------------------------
// Handlers.

// POST /graphql.
static void s_handle_graphql_post(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                                  const char *url, s_reply_t *reply)
{
    (void)url;
    char base[256];
    s_request_base(self, conn, base, sizeof base);
    wbi_gql_ctx_t ctx = {.store = self->store,
                         .entity = self->entity,
                         .upload_base = base,
                         .upload_token = self->upload_token,
                         .now = wbi_now_unix()};
    wbi_gql_result_t res;
    pthread_mutex_lock(&self->lock);
    wbi_gql_execute(&ctx, req->parsed, &res);
    if (*res.op) {
        // Unknown names share one key, so a client cannot grow the table.
        const char *key = res.known ? res.op : "unknown";
        json_t *n = json_object_get(self->op_counts, key);
        json_object_set_new(self->op_counts, key, json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    pthread_mutex_unlock(&self->lock);
    reply->status = res.status;
    reply->json = res.body;
    snprintf(reply->op, sizeof reply->op, "%s", res.op);
}

// Applies one file_stream body to run id (caller holds the lock and an open
// transaction). Returns false with reply filled on a malformed body.
static bool s_file_stream_apply(wbi_server_t *self, int64_t id, const json_t *body, double now,
                                s_reply_t *reply, wandb_err *e)
{
    json_t *files = json_object_get(body, "files");
    if (files && !json_is_object(files) && !json_is_null(files)) {
        s_reply_error(reply, 400,
                      "file_stream: 'files' must be an object {name: {offset, content}}");
        return false;
    }
    json_t *uploaded = json_object_get(body, "uploaded");
    if (uploaded && !json_is_array(uploaded) && !json_is_null(uploaded)) {
        s_reply_error(reply, 400, "file_stream: 'uploaded' must be a list of file names");
        return false;
    }
    size_t ui;
    json_t *u;
    json_array_foreach(uploaded, ui, u)
    {
        if (!json_is_string(u) || !wbi_rel_path_ok(json_string_value(u))) {
            s_reply_error(reply, 400,
                          "file_stream: uploaded[%zu] is not a relative file name (no empty,"
                          " '.' or '..' segment)",
                          ui);
            return false;
        }
    }
    json_t *code = json_object_get(body, "exitcode");
    if (code && !json_is_integer(code) && !json_is_null(code)) {
        s_reply_error(reply, 400, "file_stream: 'exitcode' must be an integer or null");
        return false;
    }
    const char *flags[] = {"complete", "preempting", "failed"};
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        json_t *flag = json_object_get(body, flags[k]);
        if (flag && !json_is_boolean(flag) && !json_is_null(flag)) {
            s_reply_error(reply, 400, "file_stream: '%s' must be true or false", flags[k]);
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
            s_reply_error(reply, 400,
                          "file_stream: file '%s' needs an integer 'offset' >= 0 and a"
                          " 'content' list of strings",
                          fname);
            return false;
        }
        int64_t off = json_integer_value(offset);
        size_t n = json_array_size(content);
        for (size_t i = 0; i < n; i++) {
            if (!json_is_string(json_array_get(content, i))) {
                s_reply_error(reply, 400, "file_stream: file '%s': content[%zu] is not a string",
                              fname, i);
                return false;
            }
        }
        if (!wbi_rel_path_ok(fname)) {
            s_reply_error(reply, 400,
                          "file_stream: file name '%s' is not a relative path (no empty, '.'"
                          " or '..' segment, no backslash or control character)",
                          fname);
            return false;
        }
        if (strcmp(fname, WBI_FILE_SUMMARY) == 0) {
            // The whole summary is one line; the last one sent wins.
            if (n > 0) {
                json_t *last = json_array_get(content, n - 1);
                *e = wbi_store_run_set_summary(self->store, id, json_string_value(last),
                                               json_string_length(last));
            }
        } else {
            for (size_t i = 0; i < n && *e == WANDB_OK; i++) {
                json_t *line = json_array_get(content, i);
                *e = wbi_store_line_put(self->store, id, fname, off + (int64_t)i,
                                        json_string_value(line), json_string_length(line));
            }
        }
        if (*e != WANDB_OK)
            return true;
    }
    json_array_foreach(uploaded, ui, u)
    {
        if (*e == WANDB_OK)
            *e = wbi_store_file_put(self->store, id, json_string_value(u), -1, true, now);
    }
    if (*e == WANDB_OK && json_is_true(json_object_get(body, "preempting")))
        *e = wbi_store_run_set_preempting(self->store, id);
    if (*e == WANDB_OK && json_is_true(json_object_get(body, "complete"))) {
        int64_t exit_code = json_is_integer(code) ? json_integer_value(code) : 0;
        if (json_is_true(json_object_get(body, "failed")) && exit_code == 0)
            exit_code = 1;
        *e = wbi_store_run_finish(self->store, id, exit_code, now);
    }
    return true;
}

// POST /files/{entity}/{project}/{run}/file_stream.
static void s_handle_file_stream_post(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                                      const char *url, s_reply_t *reply)
{
    (void)conn;
    char seg[3][256];
    const char *rest = NULL;
    if (!s_split(url + strlen("/files/"), seg, 3, &rest) || strcmp(rest, "file_stream") != 0 ||
        !wbi_segment_ok(seg[0]) || !wbi_segment_ok(seg[1]) || !wbi_segment_ok(seg[2])) {
        s_reply_error(reply, 404,
                      "no such resource '%s': expected /files/<entity>/<project>/<run>/file_stream",
                      url);
        return;
    }
    if (!json_is_object(req->parsed)) {
        s_reply_error(reply, 400, "file_stream: the body must be a JSON object");
        return;
    }
    double now = wbi_now_unix();
    pthread_mutex_lock(&self->lock);
    int64_t id = 0;
    wandb_err e = wbi_store_begin(self->store);
    if (e == WANDB_OK)
        e = wbi_store_run_ensure(self->store, seg[0], seg[1], seg[2], now, &id);
    if (e == WANDB_OK)
        e = wbi_store_run_touch(self->store, id, now);
    bool well_formed = true;
    if (e == WANDB_OK)
        well_formed = s_file_stream_apply(self, id, req->parsed, now, reply, &e);
    if (e == WANDB_OK && well_formed)
        e = wbi_store_commit(self->store);
    if (e != WANDB_OK && well_formed)
        s_reply_store_error(self, reply, e);
    if (e != WANDB_OK || !well_formed)
        wbi_store_rollback(self->store);
    pthread_mutex_unlock(&self->lock);
    if (e != WANDB_OK || !well_formed)
        return;
    if (json_is_true(json_object_get(req->parsed, "complete")))
        wbi_slog(WANDB_LOG_INFO, "file_stream", "run %s/%s/%s complete (exit code %" PRId64 ")",
                 seg[0], seg[1], seg[2],
                 (int64_t)json_integer_value(json_object_get(req->parsed, "exitcode")));
    reply->status = 200;
    reply->json = json_pack("{snsbs{}}", "exitcode", "stopped", 0, "limits");
}

// PUT /upload/<token>/<entity>/<project>/<run>/<name>: the bytes are already
// in the temp file; move it into place and record it.
static void s_handle_upload_put(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                                const char *url, s_reply_t *reply)
{
    (void)conn;
    (void)url;
    if (close(req->fd) != 0) {
        int err = errno;
        req->fd = -1;
        s_reply_error(reply, s_errno_transient(err) ? 503 : 500, "cannot write upload: %s",
                      strerror(err));
        return; // s_request_completed removes the temp file
    }
    req->fd = -1;
    if (rename(req->tmp_path, req->final_path) != 0) {
        int err = errno;
        s_reply_error(reply, s_errno_transient(err) ? 503 : 500, "cannot store upload: %s",
                      strerror(err));
        return; // s_request_completed removes the temp file
    }
    req->tmp_path[0] = '\0';
    double now = wbi_now_unix();
    pthread_mutex_lock(&self->lock);
    int64_t id = 0;
    wandb_err e = wbi_store_begin(self->store);
    if (e == WANDB_OK)
        e = wbi_store_run_ensure(self->store, req->up_entity, req->up_project, req->up_run, now,
                                 &id);
    if (e == WANDB_OK)
        e = wbi_store_file_put(self->store, id, req->up_name, req->up_bytes, true, now);
    if (e == WANDB_OK)
        e = wbi_store_commit(self->store);
    if (e != WANDB_OK) {
        s_reply_store_error(self, reply, e);
        wbi_store_rollback(self->store);
    }
    pthread_mutex_unlock(&self->lock);
    if (e != WANDB_OK)
        return;
    wbi_slog(WANDB_LOG_DEBUG, "upload", "%s/%s/%s: %s (%" PRId64 " bytes)", req->up_entity,
             req->up_project, req->up_run, req->up_name, req->up_bytes);
    reply->status = 200;
    reply->json = json_object();
}

// Answers 404 (used for /sdk/otel/*: tells wandb-core not to send telemetry).
static void s_handle_not_found(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                               const char *url, s_reply_t *reply)
{
    (void)self;
    (void)conn;
    (void)req;
    s_reply_error(reply, 404, "no such resource '%s'", url);
}

// GET /healthz: liveness without credentials.
static void s_handle_health_get(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                                const char *url, s_reply_t *reply)
{
    (void)self;
    (void)conn;
    (void)req;
    (void)url;
    reply->status = 200;
    reply->json = json_pack("{ss}", "status", "ok");
}

// GET /api/v1/stats.
static void s_handle_stats_get(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                               const char *url, s_reply_t *reply)
{
    (void)conn;
    (void)req;
    (void)url;
    pthread_mutex_lock(&self->lock);
    uint64_t total =
        self->n_graphql + self->n_file_stream + self->n_upload + self->n_api + self->n_other;
    reply->json =
        json_pack("{sIsIs{sIsIsIsIsIsIsI}sO}", "connections", (json_int_t)self->connections,
                  "connections_open", (json_int_t)self->connections_open, "requests", "graphql",
                  (json_int_t)self->n_graphql, "file_stream", (json_int_t)self->n_file_stream,
                  "upload", (json_int_t)self->n_upload, "api", (json_int_t)self->n_api, "other",
                  (json_int_t)self->n_other, "unauthorized", (json_int_t)self->n_unauthorized,
                  "total", (json_int_t)total, "operations", self->op_counts);
    pthread_mutex_unlock(&self->lock);
    reply->status = 200;
}

// A JSON array filled by a store walk. An item whose JSON cannot be built
// (out of memory) stops the walk and fails the request: a list with a
// silent hole would look complete.
typedef struct {
    json_t *arr; // the items (NULL: could not be created)
    bool failed; // an item could not be built or appended
} s_items_t;

// Appends item (stolen) to items; non-zero stops the walk.
static int s_items_add(s_items_t *items, json_t *item)
{
    if (json_array_append_new(items->arr, item) != 0) {
        items->failed = true;
        return 1;
    }
    return 0;
}

// Answers 500 for a list whose items could not all be built, and logs it.
static void s_reply_items_failed(s_reply_t *reply, const char *url)
{
    wbi_slog(WANDB_LOG_ERR, "http", "%s: cannot build the JSON of an item (out of memory)", url);
    s_reply_error(reply, 500, "cannot build response: out of memory");
}

// Collects runs into a JSON array.
static int s_collect_run(void *arg, const wbi_run_t *run)
{
    return s_items_add(arg, wbi_run_to_json(run));
}

// GET /api/v1/runs?project=P[&entity=E].
static void s_handle_runs_get(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                              const char *url, s_reply_t *reply)
{
    (void)req;
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    s_items_t runs = {.arr = json_array()};
    pthread_mutex_lock(&self->lock);
    wandb_err e = wbi_store_runs_each(self->store, entity, project, s_collect_run, &runs);
    if (e != WANDB_OK)
        s_reply_store_error(self, reply, e);
    pthread_mutex_unlock(&self->lock);
    if (e == WANDB_OK && runs.failed)
        s_reply_items_failed(reply, url);
    if (e != WANDB_OK || runs.failed) {
        json_decref(runs.arr);
        return;
    }
    reply->status = 200;
    reply->json = json_pack("{so}", "runs", runs.arr);
}

// Appends lines as JSON values to a buffer ("a,b,c").
typedef struct {
    wbi_buf_t *out; // response text
    bool as_json;   // parse each line (history) or emit it as a string (logs)
    size_t n;       // lines written
    wandb_err err;  // first append error
} s_rows_t;

// Writes one stored line into the response.
static int s_append_row(void *arg, int64_t line_no, const char *text, size_t len)
{
    (void)line_no;
    s_rows_t *rows = arg;
    if (rows->n > 0)
        rows->err = wbi_buf_putc(rows->out, ',');
    // A line that parses is sent as the client wrote it (no re-formatting of
    // numbers); anything else goes out as a JSON string.
    json_t *j = rows->as_json ? wbi_line_to_json(text, len) : json_stringn(text, len);
    if (rows->err == WANDB_OK && !j)
        rows->err = WANDB_ENOMEM;
    else if (rows->err == WANDB_OK && rows->as_json && !json_is_string(j))
        rows->err = wbi_buf_append(rows->out, text, len);
    else if (rows->err == WANDB_OK)
        rows->err = wbi_jsonx_dump_buf(rows->out, j, JSON_COMPACT);
    json_decref(j);
    rows->n++;
    return rows->err != WANDB_OK;
}

// Collects run files.
static int s_collect_file(void *arg, const char *name, int64_t size, bool uploaded,
                          double updated_at)
{
    return s_items_add(arg, json_pack("{sssosbsf}", "name", name, "size",
                                      size >= 0 ? json_integer(size) : json_null(), "uploaded",
                                      uploaded, "updated_at", updated_at));
}

// Collects run alerts.
static int s_collect_alert(void *arg, const char *title, const char *text, const char *severity,
                           int64_t wait_ms, double created_at)
{
    return s_items_add(arg,
                       json_pack("{sssssssosf}", "title", title, "text", text, "severity", severity,
                                 "wait_ms", wait_ms >= 0 ? json_integer(wait_ms) : json_null(),
                                 "created_at", created_at));
}

// Reads the uploaded file name of run into reply (200), or fills reply with
// the error: 404 when there is no such file, 503 when the cause is transient.
static void s_reply_run_file(wbi_server_t *self, const wbi_run_t *run, const char *name,
                             s_reply_t *reply)
{
    if (!wbi_rel_path_ok(name)) {
        s_reply_error(reply, 400,
                      "file name '%s' is not a relative path (no empty, '.' or '..' segment)",
                      name);
        return;
    }
    char path[S_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/files/%s/%s/%s/%s", self->dir, run->entity,
                     run->project, run->name, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        s_reply_error(reply, 404, "run '%s' has no file '%s'", run->name, name);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (fd >= 0 || err == ENOENT || err == ENOTDIR || err == EISDIR)
            s_reply_error(reply, 404, "run '%s' has no uploaded file '%s'", run->name, name);
        else
            s_reply_error(reply, s_errno_transient(err) ? 503 : 500, "cannot read '%s': %s", name,
                          strerror(err));
        return;
    }
    wbi_buf_init(&reply->raw, S_RESPONSE_MAX);
    wandb_err e = (uint64_t)st.st_size > S_RESPONSE_MAX ? WANDB_ETOOBIG : WANDB_OK;
    char chunk[65536];
    while (e == WANDB_OK) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            e = WANDB_EIO;
        if (r <= 0)
            break;
        e = wbi_buf_append(&reply->raw, chunk, (size_t)r);
    }
    int err = errno;
    close(fd);
    if (e != WANDB_OK) {
        wbi_buf_release(&reply->raw);
        if (e == WANDB_ETOOBIG)
            s_reply_error(reply, 500, "file '%s' is larger than %u bytes", name, S_RESPONSE_MAX);
        else
            s_reply_error(reply, e == WANDB_ENOMEM || s_errno_transient(err) ? 503 : 500,
                          "cannot read '%s': %s", name, wandb_strerror(e));
        return;
    }
    reply->raw_set = true;
    reply->content_type = "application/octet-stream";
    reply->status = 200;
}

// Reads a non-negative integer query argument.
static int64_t s_arg_int(struct MHD_Connection *conn, const char *name, int64_t dflt)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    return (end && *end == '\0' && n >= 0) ? n : dflt;
}

// GET /api/v1/runs/<id>[/history|/events|/logs|/files|/files/<name>|/alerts]
// [?project=P&entity=E].
static void s_handle_run_get(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                             const char *url, s_reply_t *reply)
{
    (void)req;
    const char *p = url + strlen("/api/v1/runs/");
    const char *slash = strchr(p, '/');
    char name[256];
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    const char *what = slash ? slash + 1 : "";
    if (len == 0 || len >= sizeof name) {
        s_reply_error(reply, 404, "no such resource '%s'", url);
        return;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    wbi_run_t run = {0};
    pthread_mutex_lock(&self->lock);
    wandb_err e = wbi_store_run_find(self->store, entity, project, name, &run);
    if (e == WANDB_ENOTFOUND) {
        s_reply_error(reply, 404, "no run '%s'", name);
        goto unlock;
    }
    if (e != WANDB_OK) {
        s_reply_store_error(self, reply, e);
        goto unlock;
    }
    if (*what == '\0') {
        reply->json = wbi_run_to_json(&run);
        reply->status = 200;
    } else if (strcmp(what, "history") == 0 || strcmp(what, "events") == 0 ||
               strcmp(what, "logs") == 0) {
        bool logs = strcmp(what, "logs") == 0;
        const char *file =
            logs ? WBI_FILE_OUTPUT : (what[0] == 'h' ? WBI_FILE_HISTORY : WBI_FILE_EVENTS);
        wbi_buf_init(&reply->raw, S_RESPONSE_MAX);
        s_rows_t rows = {.out = &reply->raw, .as_json = !logs};
        rows.err = wbi_buf_puts(&reply->raw, logs ? "{\"lines\":[" : "{\"rows\":[");
        // ?limit= can only lower the cap on rows per response.
        int64_t limit = s_arg_int(conn, "limit", S_HISTORY_LIMIT);
        if (limit > S_HISTORY_LIMIT)
            limit = S_HISTORY_LIMIT;
        if (rows.err == WANDB_OK)
            e = wbi_store_lines_each(self->store, run.id, file, s_arg_int(conn, "offset", 0), limit,
                                     s_append_row, &rows);
        if (rows.err == WANDB_OK)
            rows.err = wbi_buf_puts(&reply->raw, "]}");
        if (e != WANDB_OK) {
            s_reply_store_error(self, reply, e);
        } else if (rows.err != WANDB_OK) {
            s_reply_error(reply, 500, "cannot build response: %s", wandb_strerror(rows.err));
        } else {
            reply->status = 200;
        }
        if (reply->status != 200)
            wbi_buf_release(&reply->raw);
    } else if (strncmp(what, "files/", 6) == 0) {
        s_reply_run_file(self, &run, what + 6, reply);
    } else if (strcmp(what, "files") == 0 || strcmp(what, "alerts") == 0) {
        bool files = what[0] == 'f';
        s_items_t items = {.arr = json_array()};
        e = files ? wbi_store_files_each(self->store, run.id, s_collect_file, &items)
                  : wbi_store_alerts_each(self->store, run.id, s_collect_alert, &items);
        if (e != WANDB_OK || items.failed) {
            json_decref(items.arr);
            if (e != WANDB_OK)
                s_reply_store_error(self, reply, e);
            else
                s_reply_items_failed(reply, url);
        } else {
            reply->status = 200;
            reply->json = json_pack("{so}", files ? "files" : "alerts", items.arr);
        }
    } else {
        s_reply_error(reply, 404, "no such resource '%s'", url);
    }
unlock:
    pthread_mutex_unlock(&self->lock);
    wbi_store_run_release(&run);
}

static const s_route_t s_routes[] = {
    {"POST", "/graphql", false, S_AUTH_KEY, S_KIND_GRAPHQL, true, S_GRAPHQL_MAX,
     s_handle_graphql_post},
    {"POST", "/files/", true, S_AUTH_KEY, S_KIND_FILE_STREAM, true, S_FILE_STREAM_MAX,
     s_handle_file_stream_post},
    {"PUT", "/upload/", true, S_AUTH_UPLOAD, S_KIND_UPLOAD, false, 0, s_handle_upload_put},
    {NULL, "/sdk/otel/", true, S_AUTH_NONE, S_KIND_OTHER, false, 0, s_handle_not_found},
    {"GET", "/api/v1/stats", false, S_AUTH_KEY_OR_QUERY, S_KIND_API, false, 0, s_handle_stats_get},
    {"GET", "/api/v1/runs", false, S_AUTH_KEY_OR_QUERY, S_KIND_API, false, 0, s_handle_runs_get},
    {"GET", "/api/v1/runs/", true, S_AUTH_KEY_OR_QUERY, S_KIND_API, false, 0, s_handle_run_get},
    {"GET", "/healthz", false, S_AUTH_NONE, S_KIND_OTHER, false, 0, s_handle_health_get},
};

// Finds the route of (method, url); NULL when none matches.
static const s_route_t *s_route_find(const char *method, const char *url)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        const s_route_t *r = &s_routes[i];
        bool path_ok =
            r->prefix ? strncmp(url, r->path, strlen(r->path)) == 0 : strcmp(url, r->path) == 0;
        if (path_ok && (!r->method || strcmp(method, r->method) == 0))
            return r;
    }
    return NULL;
}

// ---------------------------------------------------------------------------
// Uploads.

// Validates an upload URL and opens its temp file; sets early_status on
// failure.
static void s_upload_open(wbi_server_t *self, s_req_t *req, const char *url)
{
    char seg[4][256];
    const char *rest = NULL;
    if (!s_split(url + strlen("/upload/"), seg, 4, &rest)) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload path: expected /upload/<token>/<entity>/<project>/<run>/<name>"
                 " (the URL CreateRunFiles answered)");
        return;
    }
    if (!s_key_eq(seg[0], strlen(seg[0]), self->upload_token)) {
        req->early_status = 403;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload token: use the URL CreateRunFiles answered");
        return;
    }
    if (!wbi_segment_ok(seg[1]) || !wbi_segment_ok(seg[2]) || !wbi_segment_ok(seg[3]) ||
        !wbi_run_file_name_ok(rest) || strlen(rest) >= sizeof req->up_name) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload path: segments must be valid UTF-8, not empty, '.' or '..'");
        return;
    }
    snprintf(req->up_entity, sizeof req->up_entity, "%s", seg[1]);
    snprintf(req->up_project, sizeof req->up_project, "%s", seg[2]);
    snprintf(req->up_run, sizeof req->up_run, "%s", seg[3]);
    snprintf(req->up_name, sizeof req->up_name, "%s", rest);
    int n = snprintf(req->final_path, sizeof req->final_path, "%s/files/%s/%s/%s/%s", self->dir,
                     seg[1], seg[2], seg[3], rest);
    char suffix[9];
    if (n < 0 || (size_t)n + 16 >= sizeof req->final_path || wbi_random_id(suffix, 8) != WANDB_OK) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg, "upload path too long");
        return;
    }
    // Fits: final_path is at least 16 bytes shorter than the buffer (checked above).
    memcpy(req->tmp_path, req->final_path, (size_t)n);
    memcpy(req->tmp_path + n, ".part-", 6);
    memcpy(req->tmp_path + n + 6, suffix, 9);
    char parent[S_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", req->final_path);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    if (wbi_mkdirs(parent) != WANDB_OK) {
        req->early_status = s_errno_transient(errno) ? 503 : 500;
        snprintf(req->early_msg, sizeof req->early_msg, "cannot create the upload directory: %s",
                 strerror(errno));
        return;
    }
    req->fd = open(req->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (req->fd < 0) {
        req->early_status = s_errno_transient(errno) ? 503 : 500;
        snprintf(req->early_msg, sizeof req->early_msg, "cannot create the upload file: %s",
                 strerror(errno));
        req->tmp_path[0] = '\0';
    }
}

// Writes one body chunk of an upload.
static void s_upload_write(s_req_t *req, const char *data, size_t len)
{
    if (req->up_bytes + (int64_t)len > S_UPLOAD_MAX) {
        req->early_status = 413;
        snprintf(req->early_msg, sizeof req->early_msg, "upload larger than %" PRId64 " bytes",
                 S_UPLOAD_MAX);
        return;
    }
    while (len > 0) {
        ssize_t w = write(req->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            req->early_status = w < 0 && s_errno_transient(errno) ? 503 : 500;
            snprintf(req->early_msg, sizeof req->early_msg, "cannot write upload: %s",
                     strerror(errno));
            return;
        }
        data += w;
        len -= (size_t)w;
        req->up_bytes += w;
    }
}

// ---------------------------------------------------------------------------
// Recording and replying.

// Adds one header to the recorded object; credentials are redacted.
static enum MHD_Result s_collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    json_t *headers = cls;
    if (!key)
        return MHD_YES;
    if (strcasecmp(key, "Authorization") == 0 && value) {
        const char *sp = strchr(value, ' ');
        char redacted[64];
        snprintf(redacted, sizeof redacted, "%.*s <redacted>", sp ? (int)(sp - value) : 0, value);
        json_object_set_new(headers, key, json_string(redacted));
    } else {
        json_object_set_new(headers, key, value ? json_string(value) : json_null());
    }
    return MHD_YES;
}

// Appends one request as a JSON line to DIR/requests.jsonl.
static void s_record(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                     const char *method, const char *url, const s_reply_t *reply)
{
    json_t *headers = json_object();
    json_t *query = json_object();
    MHD_get_connection_values(conn, MHD_HEADER_KIND, s_collect_header, headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_collect_header, query);
    json_t *body;
    if (req->parsed)
        body = json_incref(req->parsed);
    else if (req->fd >= 0 || req->up_bytes > 0)
        body = json_pack("{sI}", "bytes", (json_int_t)req->up_bytes);
    else if (req->body.len > 0)
        body = json_stringn(req->body.data, req->body.len);
    else
        body = json_null();
    json_t *line =
        json_pack("{sfssssso*so*so*sosi}", "ts", wbi_now_unix(), "method", method, "path", url,
                  "query", query, "headers", headers, "body", body, "operationName",
                  *reply->op ? json_string(reply->op) : json_null(), "status", reply->status);
    char *text = line ? wbi_jsonx_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        pthread_mutex_lock(&self->lock);
        fputs(text, self->record);
        fputc('\n', self->record);
        fflush(self->record);
        pthread_mutex_unlock(&self->lock);
    }
    wbi_free(text);
}

// Frees a response buffer (MHD callback).
static void s_free_body(void *p)
{
    wbi_free(p);
}

// Queues the reply (consumes its body).
static enum MHD_Result s_send(struct MHD_Connection *conn, s_reply_t *reply)
{
    char *text = NULL;
    size_t len = 0;
    if (reply->raw.len > 0 || reply->raw_set) {
        len = reply->raw.len;
        text = reply->raw.len > 0 ? wbi_buf_steal(&reply->raw) : wbi_strdup("");
    } else {
        text = wbi_jsonx_dumps(reply->json ? reply->json : json_null(), JSON_COMPACT);
        len = text ? strlen(text) : 0;
    }
    json_decref(reply->json);
    reply->json = NULL;
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer_with_free_callback(len, text, s_free_body) : NULL;
    if (!resp) {
        wbi_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            reply->content_type ? reply->content_type : "application/json");
    if (reply->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"wandb-mpi-server\"");
    if (reply->status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result r = MHD_queue_response(conn, (unsigned int)reply->status, resp);
    MHD_destroy_response(resp);
    return r;
}

// Counts a request under its kind; early_status 401/403 counts as refused.
static void s_count(wbi_server_t *self, const s_route_t *route, int early_status)
{
    pthread_mutex_lock(&self->lock);
    switch (route ? route->kind : S_KIND_OTHER) {
    case S_KIND_GRAPHQL:
        self->n_graphql++;
        break;
    case S_KIND_FILE_STREAM:
        self->n_file_stream++;
        break;
    case S_KIND_UPLOAD:
        self->n_upload++;
        break;
    case S_KIND_API:
        self->n_api++;
        break;
    default:
        self->n_other++;
        break;
    }
    if (early_status == 401 || early_status == 403)
        self->n_unauthorized++;
    pthread_mutex_unlock(&self->lock);
}

// The last call of a request: build and queue the answer.
static enum MHD_Result s_finish_request(wbi_server_t *self, struct MHD_Connection *conn,
                                        s_req_t *req, const char *method, const char *url)
{
    // Counted first, so that /api/v1/stats includes itself.
    s_count(self, req->route, req->early_status);
    s_reply_t reply = {0};
    if (req->early_status) {
        s_reply_error(&reply, req->early_status, "%s", req->early_msg);
    } else if (!req->route) {
        s_reply_error(&reply, 404, "no such resource '%s %s'", method, url);
    } else {
        bool ok = true;
        if (req->route->json_body) {
            json_error_t jerr;
            req->parsed =
                wbi_jsonx_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
            if (!req->parsed) {
                s_reply_error(&reply, 400, "malformed JSON body at line %d column %d: %s",
                              jerr.line, jerr.column, jerr.text);
                ok = false;
            }
        }
        if (ok)
            req->route->handler(self, conn, req, url, &reply);
    }
    if (reply.status == 0)
        s_reply_error(&reply, 500, "internal error: no answer");
    if (reply.status >= 400)
        wbi_slog(reply.status >= 500 ? WANDB_LOG_WARN : WANDB_LOG_INFO, "http", "%s %s -> %d%s%s",
                 method, url, reply.status, *reply.op ? " " : "", reply.op);
    else
        wbi_slog(WANDB_LOG_DEBUG, "http", "%s %s -> %d%s%s", method, url, reply.status,
                 *reply.op ? " " : "", reply.op);
    if (self->record)
        s_record(self, conn, req, method, url, &reply);
    return s_send(conn, &reply);
}

// The first call of a request: route, credentials, upload file.
static void s_start_request(wbi_server_t *self, struct MHD_Connection *conn, s_req_t *req,
                            const char *method, const char *url)
{
    req->route = s_route_find(method, url);
    if (!req->route)
        return;
    wbi_buf_init(&req->body, req->route->max_body ? req->route->max_body : 64 * 1024);
    bool ok = true;
    switch (req->route->auth) {
    case S_AUTH_KEY:
        ok = s_authorized(self, conn, false);
        break;
    case S_AUTH_KEY_OR_QUERY:
        ok = s_authorized(self, conn, true);
        break;
    default:
        break;
    }
    if (!ok) {
        req->early_status = 401;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "missing or wrong API key (use HTTP Basic 'api:<key>' or Bearer <key>)");
        return;
    }
    if (req->route->auth == S_AUTH_UPLOAD)
        s_upload_open(self, req, url);
}

// libmicrohttpd access handler.
static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    (void)version;
    wbi_server_t *self = cls;
    s_req_t *req = *con_cls;
    if (!req) {
        req = wbi_calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->fd = -1;
        wbi_buf_init(&req->body, 64 * 1024);
        *con_cls = req;
        s_start_request(self, conn, req, method, url);
        if (*upload_data_size == 0)
            return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (req->early_status || !req->route)
            return MHD_YES; // read and drop, so the connection stays usable
        if (req->fd >= 0) {
            s_upload_write(req, upload_data, len);
        } else {
            wandb_err e = wbi_buf_append(&req->body, upload_data, len);
            if (e == WANDB_ETOOBIG) {
                req->early_status = 413;
                snprintf(req->early_msg, sizeof req->early_msg,
                         "request body larger than %zu bytes", req->body.max);
            } else if (e != WANDB_OK) {
                // Out of memory is transient: the client retries later.
                req->early_status = 503;
                snprintf(req->early_msg, sizeof req->early_msg,
                         "out of memory for the request body");
            }
        }
        return MHD_YES;
    }
    return s_finish_request(self, conn, req, method, url);
}

// libmicrohttpd: the request is over (answered or aborted); frees its state.
static void s_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    s_req_t *req = *con_cls;
    if (!req)
        return;
    if (req->fd >= 0)
        close(req->fd);
    // tmp_path is cleared once the file is renamed into place, so a path still
    // set is a temp file nobody will use: early answer, abort or failed close.
    if (req->tmp_path[0])
        unlink(req->tmp_path);
    wbi_buf_release(&req->body);
    json_decref(req->parsed);
    wbi_free(req);
    *con_cls = NULL;
}

// libmicrohttpd: counts TCP connections (the "one connection" proof).
static void s_connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    wbi_server_t *self = cls;
    pthread_mutex_lock(&self->lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        self->connections++;
        self->connections_open++;
        wbi_slog(WANDB_LOG_DEBUG, "http", "connection opened (%" PRIu64 " so far)",
                 self->connections);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && self->connections_open > 0) {
        self->connections_open--;
    }
    pthread_mutex_unlock(&self->lock);
}

// libmicrohttpd's own diagnostics, as one log line each.
static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    wbi_slog(WANDB_LOG_WARN, "mhd", "%s", msg);
}

// ---------------------------------------------------------------------------
// Watchdog and life cycle.

// Marks running runs whose heartbeat stopped as crashed, periodically.
static void *s_watchdog_main(void *arg)
{
    wbi_server_t *self = arg;
    double interval = self->heartbeat_timeout_s / 4;
    if (interval < 0.2)
        interval = 0.2;
    if (interval > 5)
        interval = 5;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        // The condition variable waits on CLOCK_MONOTONIC (wbi_server_start), so
        // a wall-clock step neither stalls nor hurries the watchdog.
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + interval;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        if (self->stopping)
            break;
        int changed = 0;
        // No busy wait here: it would hold the lock, and so every request, for
        // the whole busy timeout. A locked database is simply retried next tick.
        wbi_store_set_busy_timeout(self->store, 0);
        wandb_err e =
            wbi_store_mark_stale(self->store, wbi_now_unix(), self->heartbeat_timeout_s, &changed);
        wbi_store_set_busy_timeout(self->store, S_BUSY_TIMEOUT_MS);
        if (e != WANDB_OK)
            wbi_slog(e == WANDB_ETIMEDOUT ? WANDB_LOG_DEBUG : WANDB_LOG_WARN, "watchdog",
                     "cannot check heartbeats: %s", wbi_store_errmsg(self->store));
        else if (changed > 0)
            wbi_slog(WANDB_LOG_INFO, "watchdog",
                     "%d run(s) without heartbeat for %.0f s marked"
                     " crashed",
                     changed, self->heartbeat_timeout_s);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

// Marks every run still running as crashed (preempted when it said so), in
// one store call: the stale-marking with a zero timeout. Called at destroy
// with no request or watchdog left, for a server that lives as long as one
// job (--settle-on-exit): a rank that died never sends complete.
static void s_settle(wbi_server_t *self)
{
    int changed = 0;
    // The same store call as the watchdog; 'now' is a second ahead so that a
    // heartbeat stored in this very instant also counts as silent.
    wandb_err e = wbi_store_mark_stale(self->store, wbi_now_unix() + 1, 0, &changed);
    if (e != WANDB_OK)
        wbi_slog(WANDB_LOG_ERR, "server", "cannot settle running runs at exit: %s (%s)",
                 wandb_strerror(e), wbi_store_errmsg(self->store));
    else
        wbi_slog(WANDB_LOG_INFO, "server", "settled at exit: %d running run(s) marked crashed",
                 changed);
}

// Loads the upload token from the store, creating it at first start.
static wandb_err s_upload_token(wbi_server_t *self)
{
    char *token = NULL;
    wandb_err e = wbi_store_meta_get(self->store, "upload_token", &token);
    if (e == WANDB_OK && strlen(token) == 40) {
        memcpy(self->upload_token, token, 41);
        wbi_free(token);
        return WANDB_OK;
    }
    wbi_free(token);
    if (e != WANDB_OK && e != WANDB_ENOTFOUND)
        return e;
    e = wbi_random_id(self->upload_token, 40);
    if (e == WANDB_OK)
        e = wbi_store_meta_set(self->store, "upload_token", self->upload_token);
    return e;
}

// Fills a socket address for host:port (numeric hosts only).
static bool s_bind_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *v6 = true;
        return true;
    }
    return false;
}

// Starts everything; see server.h.
wandb_err wbi_server_start(wbi_server_t **out, const wbi_server_opts_t *opts, char *err,
                           size_t errlen)
{
    *out = NULL;
    const char *host = opts->host ? opts->host : "127.0.0.1";
    struct sockaddr_storage addr;
    bool v6 = false;
    if (!opts->dir || !opts->api_key || !*opts->api_key) {
        snprintf(err, errlen, "a data directory and an API key are required");
        return WANDB_EINVAL;
    }
    if (!s_bind_addr(host, opts->port, &addr, &v6)) {
        snprintf(err, errlen, "cannot bind '%s': not a numeric IPv4 or IPv6 address", host);
        return WANDB_EINVAL;
    }
    wbi_server_t *self = wbi_calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &ca);
    pthread_condattr_destroy(&ca);
    self->dir = wbi_strdup(opts->dir);
    self->api_key = wbi_strdup(opts->api_key);
    self->entity = wbi_strdup(opts->entity ? opts->entity : "local");
    self->op_counts = json_object();
    self->heartbeat_timeout_s = opts->heartbeat_timeout_s > 0 ? opts->heartbeat_timeout_s : 300;
    wandb_err e = WANDB_OK;
    if (!self->dir || !self->api_key || !self->entity || !self->op_counts) {
        snprintf(err, errlen, "out of memory");
        e = WANDB_ENOMEM;
        goto fail;
    }
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/files", self->dir);
    if (wbi_mkdirs(path) != WANDB_OK) {
        snprintf(err, errlen, "cannot create directory '%s': %s", path, strerror(errno));
        e = WANDB_EIO;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/wandb.db", self->dir);
    e = wbi_store_open(&self->store, path, false, err, errlen);
    if (e != WANDB_OK)
        goto fail;
    e = s_upload_token(self);
    if (e != WANDB_OK) {
        snprintf(err, errlen, "cannot create the upload token: %s", wbi_store_errmsg(self->store));
        goto fail;
    }
    if (opts->record_requests) {
        snprintf(path, sizeof path, "%s/requests.jsonl", self->dir);
        self->record = fopen(path, "ae");
        if (!self->record) {
            snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
            e = WANDB_EIO;
            goto fail;
        }
    }
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, s_access, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
        s_request_completed, self, MHD_OPTION_NOTIFY_CONNECTION, s_connection_notify, self,
        MHD_OPTION_CONNECTION_TIMEOUT, S_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(256 * 1024), MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %u (address in use?)", host,
                 (unsigned)opts->port);
        e = WANDB_EIO;
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : opts->port;
    snprintf(self->url, sizeof self->url, v6 ? "http://[%s]:%u" : "http://%s:%u", host,
             (unsigned)self->port);
    if (pthread_create(&self->watchdog, NULL, s_watchdog_main, self) != 0) {
        snprintf(err, errlen, "cannot start the watchdog thread");
        e = WANDB_EIO;
        goto fail;
    }
    self->watchdog_started = true;
    self->settle_on_exit = opts->settle_on_exit;
    *out = self;
    return WANDB_OK;
fail:
    wbi_server_destroy(&self);
    return e;
}

// Stops the daemon first (no more requests), then the watchdog.
void wbi_server_destroy(wbi_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_server_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    if (self->watchdog_started) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        pthread_cond_broadcast(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
    }
    if (self->settle_on_exit)
        s_settle(self);
    if (self->record)
        fclose(self->record);
    wbi_store_destroy(&self->store);
    json_decref(self->op_counts);
    wbi_free(self->dir);
    wbi_free(self->api_key);
    wbi_free(self->entity);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    wbi_free(self);
    *self_p = NULL;
}

// The bound port.
uint16_t wbi_server_port(const wbi_server_t *self)
{
    return self->port;
}

// The base URL.
const char *wbi_server_url(const wbi_server_t *self)
{
    return self->url;
}
