//  server_int.h - the parts of wandb-mpi-server shared by its source files
//  SPDX-License-Identifier: MIT
//
//  http.c owns libmicrohttpd (one polling thread), pool.c the worker
//  threads that run the route handlers, routes_wandb.c / routes_api.c /
//  upload.c the handlers, watchdog.c the heartbeat thread, server.c the life
//  cycle. Locks: store_lock (fair, FIFO) guards the SQLite store; lock
//  guards counters, op_counts, record and the watchdog's wake-up.
#ifndef WBI_SERVER_INT_H
#define WBI_SERVER_INT_H

#include "common/buf.h"
#include "common/md5.h"
#include "server/gql.h"
#include "server/series.h"
#include "server/server.h"
#include "store/store.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define WBI_SRV_GRAPHQL_MAX (16u << 20)       // bytes of a GraphQL request body
#define WBI_SRV_FILE_STREAM_MAX (64u << 20)   // bytes of a file_stream body
#define WBI_SRV_UPLOAD_MAX (INT64_C(4) << 30) // bytes of one uploaded file
#define WBI_SRV_RESPONSE_MAX (512u << 20)     // bytes of one read-API response
#define WBI_SRV_HISTORY_LIMIT 1000000         // rows of one history response
#define WBI_SRV_PATH_MAX 4096                 // bytes of a file system path
#define WBI_SRV_BUSY_TIMEOUT_MS 5000          // SQLite busy timeout of requests
#define WBI_SRV_MAX_THREADS 64                // upper bound on worker threads

// A FIFO lock: waiters get it in arrival order, so a long request that
// commits in slices lets every other request in between its slices.
typedef struct {
    pthread_mutex_t mutex; // guards the two counters
    pthread_cond_t turn;   // signalled when serving advances
    uint64_t next;         // next ticket to hand out
    uint64_t serving;      // ticket that holds the lock
} wbi_srv_lock_t;

typedef struct wbi_srv_req wbi_srv_req_t;

struct wbi_server {
    struct MHD_Daemon *daemon;    // the HTTP daemon (one internal polling thread)
    wbi_store_t *store;           // the one SQLite connection, guarded by store_lock
    wbi_srv_lock_t store_lock;    // guards store (FIFO)
    pthread_mutex_t lock;         // guards counters, op_counts, record, stopping
    pthread_cond_t wake;          // wakes the watchdog early (stop)
    pthread_t watchdog;           // marks silent runs crashed
    bool watchdog_started;        // watchdog is joinable
    bool stopping;                // set under lock at destroy
    char *dir;                    // data directory
    char *api_key;                // the key every W&B request must carry
    char *entity;                 // default entity
    char upload_token[41];        // secret path part of upload URLs
    char url[128];                // "http://host:port"
    uint16_t port;                // bound port
    double heartbeat_timeout_s;   // running -> crashed after this silence
    bool settle_on_exit;          // running -> crashed at destroy (set once started)
    unsigned idle_timeout_s;      // connections without an authorized request
    unsigned keepalive_timeout_s; // connections after an authorized request
    size_t body_memory_max;       // bytes of request bodies buffered at once
    atomic_size_t body_memory;    // bytes buffered now (polling thread writes)
    FILE *record;                 // DIR/requests.jsonl or NULL
    uint64_t connections;         // TCP connections accepted since start
    uint64_t connections_open;    // currently open
    uint64_t n_graphql;           // requests per kind
    uint64_t n_file_stream;       // ...
    uint64_t n_upload;            // ...
    uint64_t n_api;               // ...
    uint64_t n_other;             // ...
    uint64_t n_unauthorized;      // requests refused with 401/403
    json_t *op_counts;            // {"UpsertBucket": n, ...}
    wbi_series_cache_t *series;   // the dashboard's parsed history (own lock)
    double mhd_log_at;            // monotonic second of the last libmicrohttpd line
    unsigned mhd_log_dropped;     // libmicrohttpd lines suppressed since then
    // Worker pool (pool.c).
    pthread_mutex_t qlock;                  // guards the queue fields below
    pthread_cond_t qcond;                   // a job was queued, or stop
    pthread_cond_t qidle;                   // in_flight dropped
    wbi_srv_req_t *qhead;                   // first queued request
    wbi_srv_req_t *qtail;                   // last queued request
    unsigned in_flight;                     // queued or running jobs
    bool qclosed;                           // no new jobs (destroy)
    bool qstop;                             // workers exit
    pthread_t workers[WBI_SRV_MAX_THREADS]; // worker threads
    unsigned nworkers;                      // started workers
};

typedef enum {
    WBI_SRV_AUTH_NONE,
    WBI_SRV_AUTH_KEY,
    WBI_SRV_AUTH_KEY_OR_QUERY,
    WBI_SRV_AUTH_UPLOAD
} wbi_srv_auth;
typedef enum {
    WBI_SRV_KIND_GRAPHQL,
    WBI_SRV_KIND_FILE_STREAM,
    WBI_SRV_KIND_UPLOAD,
    WBI_SRV_KIND_API,
    WBI_SRV_KIND_OTHER
} wbi_srv_kind;

// What a handler produces.
typedef struct {
    int status;               // HTTP status
    json_t *json;             // body as JSON (dumped with bare NaN/Infinity), or
    wbi_buf_t raw;            // body built directly (used when raw.len > 0 or raw_set)
    bool raw_set;             // raw is the body even when empty (file contents)
    int file_fd;              // with file_set: the body is this file (sent, then closed)
    bool file_set;            // file_fd/file_size hold the body
    int64_t file_size;        // bytes of file_fd to send
    const char *content_type; // NULL: application/json
    char headers[1536];       // extra "Name: value\n" lines (dashboard: cookie, CSP)
    char op[WBI_GQL_OP_MAX];  // GraphQL operation, for stats and recording
} wbi_srv_reply_t;

typedef void (*wbi_srv_handler_fn)(wbi_server_t *self, struct MHD_Connection *conn,
                                   wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply);

typedef struct {
    const char *method;         // HTTP method, NULL: any
    const char *path;           // exact path or prefix
    bool prefix;                // path is a prefix
    wbi_srv_auth auth;          // credentials required
    wbi_srv_kind kind;          // stats bucket
    bool json_body;             // the body is parsed as (extended) JSON
    bool inline_ok;             // cheap: answered on the polling thread
    size_t max_body;            // cap on the body (0: no body kept)
    wbi_srv_handler_fn handler; // s_handle_<resource>_<method>
} wbi_srv_route_t;

// Per-request state, freed when libmicrohttpd reports the request complete.
struct wbi_srv_req {
    const wbi_srv_route_t *route;      // matched route or NULL (404)
    struct MHD_Connection *conn;       // the connection (valid until completed)
    const char *method;                // borrowed from libmicrohttpd
    const char *url;                   // borrowed from libmicrohttpd
    int early_status;                  // non-zero: answer this, ignore the body
    char early_msg[256];               // message of the early answer
    wbi_buf_t body;                    // request body (capped)
    size_t body_counted;               // bytes of body counted in body_memory
    json_t *parsed;                    // body parsed as JSON (json_body routes)
    int fd;                            // upload temp file, -1 when none
    char tmp_path[WBI_SRV_PATH_MAX];   // upload temp file path
    char final_path[WBI_SRV_PATH_MAX]; // where the upload lands
    char up_entity[256];               // upload: entity
    char up_project[256];              // upload: project
    char up_run[256];                  // upload: run
    char up_name[1100];                // upload: file name (relative path)
    int64_t up_bytes;                  // upload: bytes received
    bool art_blob;                     // artifact upload: hash into md5, check art_hex
    bool art_discard;                  // artifact upload of a stored blob: bytes dropped
    char art_hex[33];                  // artifact upload: expected MD5 (files), or ""
    int64_t art_manifest_id;           // artifact upload: the manifest it is, or 0
    wbi_md5_t md5;                     // artifact upload: MD5 of the bytes so far
    wbi_srv_reply_t reply;             // the answer, built by a worker
    bool answered;                     // reply is ready to be queued
    wbi_srv_req_t *next;               // next queued request (pool.c)
};

// The FIFO lock (server.c).
void wbi_srv_lock_init(wbi_srv_lock_t *self);
void wbi_srv_lock_release(wbi_srv_lock_t *self);
void wbi_srv_lock(wbi_srv_lock_t *self);
void wbi_srv_unlock(wbi_srv_lock_t *self);

// Routes (routes_wandb.c): finds the route of (method, url); NULL when none.
const wbi_srv_route_t *wbi_srv_route_find(const char *method, const char *url);

// Helpers shared by the handlers (routes_wandb.c).
void wbi_srv_reply_error(wbi_srv_reply_t *reply, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wbi_srv_reply_store_error(wbi_server_t *self, wbi_srv_reply_t *reply, wandb_err e);
bool wbi_srv_errno_transient(int err);
bool wbi_srv_key_eq(const char *given, size_t len, const char *key);
bool wbi_srv_split(const char *path, char segs[][256], int n, const char **rest);

// Read-API handlers (routes_api.c).
void wbi_srv_handle_stats_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                              const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_runs_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_run_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                            const char *url, wbi_srv_reply_t *reply);

// Artifact read API (routes_artifacts.c).
void wbi_srv_handle_artifacts_get(wbi_server_t *self, struct MHD_Connection *conn,
                                  wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_artifact_files_get(wbi_server_t *self, struct MHD_Connection *conn,
                                       wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply);
// Dashboard (routes_ui.c, routes_sample.c): pages, assets, login, and the
// chart data (downsampled history of several runs in one request).
void wbi_srv_handle_ui_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                           const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_login_post(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_projects_get(wbi_server_t *self, struct MHD_Connection *conn,
                                 wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_sample_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply);

// Uploads (upload.c).
void wbi_srv_upload_open(wbi_server_t *self, wbi_srv_req_t *req, const char *url);
void wbi_srv_upload_write(wbi_srv_req_t *req, const char *data, size_t len);
void wbi_srv_handle_upload_put(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply);

// Artifact blobs (blob.c): PUT and GET /artifact-blobs/<token>/..., and the
// downloads the Python client builds itself (/artifactsV2/..., /artifacts/...).
void wbi_srv_blob_open(wbi_server_t *self, wbi_srv_req_t *req, const char *url);
void wbi_srv_handle_blob_put(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_blob_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply);
void wbi_srv_handle_blob_key_get(wbi_server_t *self, struct MHD_Connection *conn,
                                 wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply);

// HTTP glue (http.c).
// The dashboard's cookie: the API key, HttpOnly, SameSite=Strict.
#define WBI_SRV_COOKIE "wandb_mpi_key"
// Checks Basic/Bearer credentials; read routes (allow_read) also take
// ?api_key= and the dashboard's cookie.
bool wbi_srv_authorized(wbi_server_t *self, struct MHD_Connection *conn, bool allow_read);
enum MHD_Result wbi_srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void wbi_srv_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe);
void wbi_srv_connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                               enum MHD_ConnectionNotificationCode toe);
void wbi_srv_mhd_log(void *cls, const char *fmt, va_list ap);
// Runs a queued request: parse, handler, log, record (a worker thread).
void wbi_srv_run_request(wbi_server_t *self, wbi_srv_req_t *req);

// Worker pool (pool.c).
wandb_err wbi_srv_pool_start(wbi_server_t *self, unsigned n);
// Queues req and suspends its connection; false when the pool is closed.
bool wbi_srv_pool_submit(wbi_server_t *self, wbi_srv_req_t *req);
// Refuses new jobs and waits until every queued or running job is done.
void wbi_srv_pool_drain(wbi_server_t *self);
// Stops and joins the workers (after drain and the daemon's stop).
void wbi_srv_pool_stop(wbi_server_t *self);

// Watchdog (watchdog.c).
void *wbi_srv_watchdog_main(void *arg);
void wbi_srv_settle(wbi_server_t *self);

#endif
