//  routes_api.c - wandb-mpi-server: the read API (GET /api/v1/...)
//  SPDX-License-Identifier: MIT
//
//  The JSON routes the CLI-free readers and the tests use: stats, runs, one
//  run with its history, events, logs, files and alerts.

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"
#include "store/runjson.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// GET /api/v1/stats.
void wbi_srv_handle_stats_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                              const char *url, wbi_srv_reply_t *reply)
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
static void s_reply_items_failed(wbi_srv_reply_t *reply, const char *url)
{
    wbi_slog(WANDB_LOG_ERR, "http", "%s: cannot build the JSON of an item (out of memory)", url);
    wbi_srv_reply_error(reply, 500, "cannot build response: out of memory");
}

// Collects runs into a JSON array.
static int s_collect_run(void *arg, const wbi_run_t *run)
{
    return s_items_add(arg, wbi_run_to_json(run));
}

// GET /api/v1/runs?project=P[&entity=E].
void wbi_srv_handle_runs_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    s_items_t runs = {.arr = json_array()};
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_runs_each(self->store, entity, project, s_collect_run, &runs);
    if (e != WANDB_OK)
        wbi_srv_reply_store_error(self, reply, e);
    wbi_srv_unlock(&self->store_lock);
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
                             wbi_srv_reply_t *reply)
{
    if (!wbi_rel_path_ok(name)) {
        wbi_srv_reply_error(reply, 400,
                            "file name '%s' is not a relative path (no empty, '.' or '..' segment)",
                            name);
        return;
    }
    char path[WBI_SRV_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/files/%s/%s/%s/%s", self->dir, run->entity,
                     run->project, run->name, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        wbi_srv_reply_error(reply, 404, "run '%s' has no file '%s'", run->name, name);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (fd >= 0 || err == ENOENT || err == ENOTDIR || err == EISDIR || err == ENAMETOOLONG ||
            err == ELOOP)
            wbi_srv_reply_error(reply, 404, "run '%s' has no uploaded file '%s'", run->name, name);
        else
            wbi_srv_reply_error(reply, wbi_srv_errno_transient(err) ? 503 : 500,
                                "cannot read '%s': %s", name, strerror(err));
        return;
    }
    wbi_buf_init(&reply->raw, WBI_SRV_RESPONSE_MAX);
    wandb_err e = (uint64_t)st.st_size > WBI_SRV_RESPONSE_MAX ? WANDB_ETOOBIG : WANDB_OK;
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
            wbi_srv_reply_error(reply, 500, "file '%s' is larger than %u bytes", name,
                                WBI_SRV_RESPONSE_MAX);
        else
            wbi_srv_reply_error(reply,
                                e == WANDB_ENOMEM || wbi_srv_errno_transient(err) ? 503 : 500,
                                "cannot read '%s': %s", name, wandb_strerror(e));
        return;
    }
    reply->raw_set = true;
    reply->content_type = "application/octet-stream";
    // A logged file is never a page of this site: saved, not rendered (the
    // dashboard's <img> still shows images).
    snprintf(reply->headers, sizeof reply->headers,
             "X-Content-Type-Options: nosniff\nContent-Disposition: attachment\n"
             "Content-Security-Policy: sandbox; default-src 'none'\n");
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
void wbi_srv_handle_run_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                            const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    const char *p = url + strlen("/api/v1/runs/");
    const char *slash = strchr(p, '/');
    char name[256];
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    const char *what = slash ? slash + 1 : "";
    if (len == 0 || len >= sizeof name) {
        wbi_srv_reply_error(reply, 404, "no such resource '%s'", url);
        return;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    wbi_run_t run = {0};
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_run_find(self->store, entity, project, name, &run);
    if (e == WANDB_ENOTFOUND) {
        wbi_srv_reply_error(reply, 404, "no run '%s'", name);
        goto unlock;
    }
    if (e != WANDB_OK) {
        wbi_srv_reply_store_error(self, reply, e);
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
        wbi_buf_init(&reply->raw, WBI_SRV_RESPONSE_MAX);
        s_rows_t rows = {.out = &reply->raw, .as_json = !logs};
        rows.err = wbi_buf_puts(&reply->raw, logs ? "{\"lines\":[" : "{\"rows\":[");
        // ?limit= can only lower the cap on rows per response.
        int64_t limit = s_arg_int(conn, "limit", WBI_SRV_HISTORY_LIMIT);
        if (limit > WBI_SRV_HISTORY_LIMIT)
            limit = WBI_SRV_HISTORY_LIMIT;
        if (rows.err == WANDB_OK)
            e = wbi_store_lines_each(self->store, run.id, file, s_arg_int(conn, "offset", 0), limit,
                                     s_append_row, &rows);
        if (rows.err == WANDB_OK)
            rows.err = wbi_buf_puts(&reply->raw, "]}");
        if (e != WANDB_OK) {
            wbi_srv_reply_store_error(self, reply, e);
        } else if (rows.err != WANDB_OK) {
            wbi_srv_reply_error(reply, 500, "cannot build response: %s", wandb_strerror(rows.err));
        } else {
            reply->status = 200;
        }
        if (reply->status != 200)
            wbi_buf_release(&reply->raw);
    } else if (strncmp(what, "files/", 6) == 0) {
        // The file is read without the store: other requests go on meanwhile.
        wbi_srv_unlock(&self->store_lock);
        s_reply_run_file(self, &run, what + 6, reply);
        wbi_store_run_release(&run);
        return;
    } else if (strcmp(what, "files") == 0 || strcmp(what, "alerts") == 0) {
        bool files = what[0] == 'f';
        s_items_t items = {.arr = json_array()};
        e = files ? wbi_store_files_each(self->store, run.id, s_collect_file, &items)
                  : wbi_store_alerts_each(self->store, run.id, s_collect_alert, &items);
        if (e != WANDB_OK || items.failed) {
            json_decref(items.arr);
            if (e != WANDB_OK)
                wbi_srv_reply_store_error(self, reply, e);
            else
                s_reply_items_failed(reply, url);
        } else {
            reply->status = 200;
            reply->json = json_pack("{so}", files ? "files" : "alerts", items.arr);
        }
    } else {
        wbi_srv_reply_error(reply, 404, "no such resource '%s'", url);
    }
unlock:
    wbi_srv_unlock(&self->store_lock);
    wbi_store_run_release(&run);
}
