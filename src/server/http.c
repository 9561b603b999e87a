//  http.c - wandb-mpi-server: the libmicrohttpd glue
//  SPDX-License-Identifier: MIT
//
//  Request life cycle (access handler, on the polling thread):
//    1st call   match the route, check credentials, open an upload file;
//    next calls body chunks: appended to a capped buffer or the upload file;
//    last call  cheap answers are queued at once; the others go to a worker
//               (pool.c), which parses the body and runs the handler while
//               the connection is suspended; once resumed, the answer is
//               queued.

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

// Checks Basic base64(user:KEY) or Bearer KEY (and, for read routes,
// ?api_key= and the dashboard's cookie: GET only, so SameSite=Strict is
// enough against cross-site requests).
bool wbi_srv_authorized(wbi_server_t *self, struct MHD_Connection *conn, bool allow_query)
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
                 wbi_srv_key_eq(colon + 1, dec.len - (size_t)(colon + 1 - dec.data), self->api_key);
        }
        wbi_buf_release(&dec);
        if (ok)
            return true;
    } else if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *p = auth + 7;
        while (*p == ' ')
            p++;
        if (wbi_srv_key_eq(p, strlen(p), self->api_key))
            return true;
    }
    if (allow_query) {
        const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api_key");
        if (q && wbi_srv_key_eq(q, strlen(q), self->api_key))
            return true;
        const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WBI_SRV_COOKIE);
        if (c && wbi_srv_key_eq(c, strlen(c), self->api_key))
            return true;
    }
    return false;
}

// Adds one header or query argument to the recorded object; credentials
// (the Authorization value, the api_key argument, the dashboard's key
// argument and cookie) are redacted.
static enum MHD_Result s_collect_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    json_t *obj = cls;
    if (!key)
        return MHD_YES;
    if (kind == MHD_HEADER_KIND && strcasecmp(key, "Authorization") == 0 && value) {
        const char *sp = strchr(value, ' ');
        char redacted[64];
        int scheme = sp && sp - value < 32 ? (int)(sp - value) : 0;
        snprintf(redacted, sizeof redacted, "%.*s <redacted>", scheme, value);
        json_object_set_new(obj, key, json_string(redacted));
    } else if ((kind == MHD_GET_ARGUMENT_KIND &&
                (strcasecmp(key, "api_key") == 0 || strcasecmp(key, "key") == 0)) ||
               (kind == MHD_HEADER_KIND && strcasecmp(key, "Cookie") == 0)) {
        // The dashboard's credentials: /login?key=..., the key cookie.
        json_object_set_new(obj, key, json_string("<redacted>"));
    } else {
        json_object_set_new(obj, key, value ? json_string(value) : json_null());
    }
    return MHD_YES;
}

// Copies url for logs and the request log with the upload token (the secret
// path segment of /upload/<token>/... and /artifact-blobs/<token>/...)
// replaced by "<redacted>".
static void s_shown_url(const char *url, char *out, size_t len)
{
    const char *prefixes[] = {"/upload/", "/artifact-blobs/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t plen = strlen(prefixes[i]);
        if (strncmp(url, prefixes[i], plen) == 0) {
            const char *rest = strchr(url + plen, '/');
            snprintf(out, len, "%s<redacted>%s", prefixes[i], rest ? rest : "");
            return;
        }
    }
    snprintf(out, len, "%s", url);
}

// Appends one request as a JSON line to DIR/requests.jsonl.
static void s_record(wbi_server_t *self, wbi_srv_req_t *req, const wbi_srv_reply_t *reply)
{
    json_t *headers = json_object();
    json_t *query = json_object();
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, s_collect_value, headers);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, s_collect_value, query);
    json_t *body;
    if (req->parsed)
        body = json_incref(req->parsed);
    else if (req->fd >= 0 || req->up_bytes > 0)
        body = json_pack("{sI}", "bytes", (json_int_t)req->up_bytes);
    else if (req->body.len > 0 && strcmp(req->url, "/login") == 0)
        body = json_string("<redacted>"); // the key form
    else if (req->body.len > 0)
        body = json_stringn(req->body.data, req->body.len);
    else
        body = json_null();
    char shown[WBI_SRV_PATH_MAX];
    s_shown_url(req->url, shown, sizeof shown);
    json_t *line =
        json_pack("{sfssssso*so*so*sosi}", "ts", wbi_now_unix(), "method", req->method, "path",
                  shown, "query", query, "headers", headers, "body", body, "operationName",
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
static enum MHD_Result s_send(struct MHD_Connection *conn, wbi_srv_reply_t *reply)
{
    char *text = NULL;
    size_t len = 0;
    if (reply->file_set) {
        // libmicrohttpd reads the file in chunks and closes it when done.
        reply->file_set = false;
        json_decref(reply->json);
        reply->json = NULL;
        struct MHD_Response *fresp =
            MHD_create_response_from_fd64((uint64_t)reply->file_size, reply->file_fd);
        if (!fresp) {
            close(reply->file_fd);
            return MHD_NO;
        }
        MHD_add_response_header(fresp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                reply->content_type ? reply->content_type
                                                    : "application/octet-stream");
        enum MHD_Result fr = MHD_queue_response(conn, (unsigned int)reply->status, fresp);
        MHD_destroy_response(fresp);
        return fr;
    }
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
    if (reply->status == 401 && !reply->content_type) // the dashboard answers with its form
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"wandb-mpi-server\"");
    if (reply->status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    // Extra headers, one "Name: value" a line (the dashboard's).
    for (char *line = reply->headers; *line;) {
        char *end = strchr(line, '\n');
        char *colon = strchr(line, ':');
        if (!end || !colon || colon > end)
            break;
        *end = *colon = '\0';
        MHD_add_response_header(resp, line, colon + 2 <= end ? colon + 2 : end);
        line = end + 1;
    }
    enum MHD_Result r = MHD_queue_response(conn, (unsigned int)reply->status, resp);
    MHD_destroy_response(resp);
    return r;
}

// Counts a request under its kind; early_status 401/403 counts as refused.
static void s_count(wbi_server_t *self, const wbi_srv_route_t *route, int early_status)
{
    pthread_mutex_lock(&self->lock);
    switch (route ? route->kind : WBI_SRV_KIND_OTHER) {
    case WBI_SRV_KIND_GRAPHQL:
        self->n_graphql++;
        break;
    case WBI_SRV_KIND_FILE_STREAM:
        self->n_file_stream++;
        break;
    case WBI_SRV_KIND_UPLOAD:
        self->n_upload++;
        break;
    case WBI_SRV_KIND_API:
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

// Builds the answer of a request: early answers, 404, or the route's handler
// on the parsed body; then logs and records it. Any thread.
void wbi_srv_run_request(wbi_server_t *self, wbi_srv_req_t *req)
{
    wbi_srv_reply_t *reply = &req->reply;
    if (req->early_status) {
        wbi_srv_reply_error(reply, req->early_status, "%s", req->early_msg);
    } else if (!req->route) {
        char shown[WBI_SRV_PATH_MAX];
        s_shown_url(req->url, shown, sizeof shown);
        wbi_srv_reply_error(reply, 404, "no such resource '%s %s'", req->method, shown);
    } else {
        bool ok = true;
        if (req->route->json_body) {
            json_error_t jerr;
            req->parsed =
                wbi_jsonx_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
            if (!req->parsed) {
                wbi_srv_reply_error(reply, 400, "malformed JSON body at line %d column %d: %s",
                                    jerr.line, jerr.column, jerr.text);
                ok = false;
            }
        }
        if (ok)
            req->route->handler(self, req->conn, req, req->url, reply);
    }
    if (reply->status == 0)
        wbi_srv_reply_error(reply, 500, "internal error: no answer");
    // The logged URL is the path only (libmicrohttpd keeps the query string,
    // which may hold ?api_key=, apart), with the upload token redacted.
    wandb_log_level level = reply->status >= 500   ? WANDB_LOG_WARN
                            : reply->status >= 400 ? WANDB_LOG_INFO
                                                   : WANDB_LOG_DEBUG;
    char shown[WBI_SRV_PATH_MAX];
    s_shown_url(req->url, shown, sizeof shown);
    wbi_slog(level, "http", "%s %s -> %d%s%s", req->method, shown, reply->status,
             *reply->op ? " " : "", reply->op);
    if (self->record)
        s_record(self, req, reply);
    req->answered = true;
}

// The first call of a request: route, credentials, upload file. An
// authorized request gives its connection the long keep-alive timeout.
static void s_start_request(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                            const char *method, const char *url)
{
    req->route = wbi_srv_route_find(method, url);
    if (!req->route)
        return;
    wbi_buf_init(&req->body, req->route->max_body ? req->route->max_body : 64 * 1024);
    bool ok = true;
    switch (req->route->auth) {
    case WBI_SRV_AUTH_KEY:
        ok = wbi_srv_authorized(self, conn, false);
        break;
    case WBI_SRV_AUTH_KEY_OR_QUERY:
        ok = wbi_srv_authorized(self, conn, true);
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
    if (req->route->auth == WBI_SRV_AUTH_UPLOAD) {
        if (strncmp(url, "/artifact-blobs/", strlen("/artifact-blobs/")) == 0)
            wbi_srv_blob_open(self, req, url);
        else
            wbi_srv_upload_open(self, req, url);
        if (req->early_status == 403)
            return;
    }
    if (req->route->auth != WBI_SRV_AUTH_NONE)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, self->keepalive_timeout_s);
}

// Appends a body chunk, within the request's cap and the server-wide cap
// on buffered body bytes.
static void s_body_append(wbi_server_t *self, wbi_srv_req_t *req, const char *data, size_t len)
{
    size_t now = atomic_load(&self->body_memory);
    if (now + len > self->body_memory_max) {
        req->early_status = 503;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "the server buffers too many request bodies now; retry later");
        return;
    }
    wandb_err e = wbi_buf_append(&req->body, data, len);
    if (e == WANDB_ETOOBIG) {
        req->early_status = 413;
        snprintf(req->early_msg, sizeof req->early_msg, "request body larger than %zu bytes",
                 req->body.max);
    } else if (e != WANDB_OK) {
        // Out of memory is transient: the client retries later.
        req->early_status = 503;
        snprintf(req->early_msg, sizeof req->early_msg, "out of memory for the request body");
    } else {
        atomic_fetch_add(&self->body_memory, len);
        req->body_counted += len;
    }
}

// libmicrohttpd access handler.
enum MHD_Result wbi_srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    wbi_server_t *self = cls;
    wbi_srv_req_t *req = *con_cls;
    if (!req) {
        req = wbi_calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->fd = -1;
        req->conn = conn;
        req->method = method;
        req->url = url;
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
        if (req->fd >= 0 || req->art_discard)
            wbi_srv_upload_write(req, upload_data, len);
        else
            s_body_append(self, req, upload_data, len);
        return MHD_YES;
    }
    if (!req->answered) {
        // Counted first, so that /api/v1/stats includes itself.
        s_count(self, req->route, req->early_status);
        bool cheap = req->early_status || !req->route || req->route->inline_ok;
        if (!cheap && wbi_srv_pool_submit(self, req))
            return MHD_YES; // answered once a worker resumes the connection
        if (!cheap) {
            req->early_status = 503;
            snprintf(req->early_msg, sizeof req->early_msg, "the server is stopping");
        }
        wbi_srv_run_request(self, req);
    }
    return s_send(conn, &req->reply);
}

// libmicrohttpd: the request is over (answered or aborted); frees its state.
void wbi_srv_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    wbi_server_t *self = cls;
    wbi_srv_req_t *req = *con_cls;
    if (!req)
        return;
    if (req->fd >= 0)
        close(req->fd);
    if (req->reply.file_set)
        close(req->reply.file_fd);
    // tmp_path is cleared once the file is renamed into place, so a path still
    // set is a temp file nobody will use: early answer, abort or failed close.
    if (req->tmp_path[0])
        unlink(req->tmp_path);
    atomic_fetch_sub(&self->body_memory, req->body_counted);
    wbi_buf_release(&req->body);
    wbi_buf_release(&req->reply.raw);
    json_decref(req->reply.json);
    json_decref(req->parsed);
    wbi_free(req);
    *con_cls = NULL;
}

// libmicrohttpd: counts TCP connections (the "one connection" proof).
void wbi_srv_connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
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

// libmicrohttpd's own diagnostics, as one log line each, at most one per
// second (a flood of refused connections must not flood the log).
void wbi_srv_mhd_log(void *cls, const char *fmt, va_list ap)
{
    wbi_server_t *self = cls;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    pthread_mutex_lock(&self->lock);
    bool quiet = now - self->mhd_log_at < 1.0;
    unsigned dropped = self->mhd_log_dropped;
    if (quiet) {
        self->mhd_log_dropped++;
    } else {
        self->mhd_log_at = now;
        self->mhd_log_dropped = 0;
    }
    pthread_mutex_unlock(&self->lock);
    if (quiet)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (dropped > 0)
        wbi_slog(WANDB_LOG_WARN, "mhd", "%s (%u similar lines suppressed)", msg, dropped);
    else
        wbi_slog(WANDB_LOG_WARN, "mhd", "%s", msg);
}
