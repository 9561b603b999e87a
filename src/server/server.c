//  server.c - wandb-mpi-server: life cycle, options and the FIFO store lock
//  SPDX-License-Identifier: MIT
//
//  Start opens the store, starts the workers, the HTTP daemon and the
//  watchdog; destroy stops them in the reverse order. The parts: http.c
//  (libmicrohttpd glue), pool.c (workers), routes_wandb.c, routes_api.c,
//  upload.c (handlers), watchdog.c.

#include "server/server.h"

#include "common/alloc.h"
#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_CONNECTIONS 8192      // default connection limit
#define S_IDLE_TIMEOUT_S 30u        // default: idle connection without an authorized request
#define S_KEEPALIVE_TIMEOUT_S 3600u // default: idle connection after an authorized request
#define S_THREADS 4u                // default worker threads
#define S_BODY_MEMORY (1024u << 20) // default: request body bytes buffered at once
#define S_CONN_MEMORY (64u * 1024)  // libmicrohttpd memory per connection (headers, buffers)
#define S_FD_RESERVE 64             // descriptors besides two per connection
#define S_SERIES_MAX (256u << 20)   // the dashboard's parsed history kept at most

// Sets up a FIFO lock.
void wbi_srv_lock_init(wbi_srv_lock_t *self)
{
    pthread_mutex_init(&self->mutex, NULL);
    pthread_cond_init(&self->turn, NULL);
    self->next = 0;
    self->serving = 0;
}

// Frees a FIFO lock nobody holds.
void wbi_srv_lock_release(wbi_srv_lock_t *self)
{
    pthread_cond_destroy(&self->turn);
    pthread_mutex_destroy(&self->mutex);
}

// Takes a ticket and waits for its turn.
void wbi_srv_lock(wbi_srv_lock_t *self)
{
    pthread_mutex_lock(&self->mutex);
    uint64_t ticket = self->next++;
    while (self->serving != ticket)
        pthread_cond_wait(&self->turn, &self->mutex);
    pthread_mutex_unlock(&self->mutex);
}

// Hands the lock to the next ticket.
void wbi_srv_unlock(wbi_srv_lock_t *self)
{
    pthread_mutex_lock(&self->mutex);
    self->serving++;
    pthread_cond_broadcast(&self->turn);
    pthread_mutex_unlock(&self->mutex);
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

// Raises the descriptor limit so that max connections fit (each may hold a
// socket and an upload file), or lowers the connection limit to what the
// hard descriptor limit allows. Returns the connection limit to use.
static unsigned s_fd_budget(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    rlim_t need = (rlim_t)want * 2 + S_FD_RESERVE;
    if (rl.rlim_cur < need) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        unsigned fit = rl.rlim_cur > 2 * S_FD_RESERVE ? (unsigned)((rl.rlim_cur - S_FD_RESERVE) / 2)
                                                      : S_FD_RESERVE / 2;
        wbi_slog(WANDB_LOG_NOTICE, "server",
                 "the descriptor limit (%llu) allows %u connections, not %u",
                 (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
}

// Makes the data directory private (0700) and its database and request
// log 0600, also when an older version created them with wider modes.
static void s_make_private(const char *dir)
{
    if (chmod(dir, 0700) != 0)
        wbi_slog(WANDB_LOG_WARN, "server", "cannot make '%s' private: %s", dir, strerror(errno));
    const char *names[] = {"wandb.db", "wandb.db-wal", "wandb.db-shm", "requests.jsonl", "api_key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[WBI_SRV_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (chmod(path, 0600) != 0 && errno != ENOENT)
            wbi_slog(WANDB_LOG_WARN, "server", "cannot make '%s' private: %s", path,
                     strerror(errno));
    }
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
    pthread_mutex_init(&self->qlock, NULL);
    pthread_cond_init(&self->qcond, NULL);
    pthread_cond_init(&self->qidle, NULL);
    wbi_srv_lock_init(&self->store_lock);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &ca);
    pthread_condattr_destroy(&ca);
    self->dir = wbi_strdup(opts->dir);
    self->api_key = wbi_strdup(opts->api_key);
    self->entity = wbi_strdup(opts->entity ? opts->entity : "local");
    self->op_counts = json_object();
    self->series = wbi_series_cache_new(S_SERIES_MAX);
    self->heartbeat_timeout_s = opts->heartbeat_timeout_s > 0 ? opts->heartbeat_timeout_s : 300;
    self->idle_timeout_s = opts->idle_timeout_s ? opts->idle_timeout_s : S_IDLE_TIMEOUT_S;
    self->keepalive_timeout_s =
        opts->keepalive_timeout_s ? opts->keepalive_timeout_s : S_KEEPALIVE_TIMEOUT_S;
    self->body_memory_max = opts->body_memory_max ? opts->body_memory_max : S_BODY_MEMORY;
    atomic_init(&self->body_memory, 0);
    unsigned max_conn =
        s_fd_budget(opts->max_connections ? opts->max_connections : S_MAX_CONNECTIONS);
    wandb_err e = WANDB_OK;
    if (!self->dir || !self->api_key || !self->entity || !self->op_counts) {
        snprintf(err, errlen, "out of memory");
        e = WANDB_ENOMEM;
        goto fail;
    }
    char path[WBI_SRV_PATH_MAX];
    snprintf(path, sizeof path, "%s/files", self->dir);
    if (wbi_mkdirs(path) != WANDB_OK) {
        snprintf(err, errlen, "cannot create directory '%s': %s", path, strerror(errno));
        e = WANDB_EIO;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/wandb.db", self->dir);
    e = wbi_store_open(&self->store, path, false, err, errlen);
    if (e == WANDB_OK)
        e = wbi_store_set_sync_full(self->store, !opts->sync_normal);
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
    s_make_private(self->dir);
    if (wbi_srv_pool_start(self, opts->threads ? opts->threads : S_THREADS) != WANDB_OK) {
        snprintf(err, errlen, "cannot start the worker threads");
        e = WANDB_EIO;
        goto fail;
    }
    unsigned int flags =
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, wbi_srv_access, self, MHD_OPTION_EXTERNAL_LOGGER,
        wbi_srv_mhd_log, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, wbi_srv_request_completed, self, MHD_OPTION_NOTIFY_CONNECTION,
        wbi_srv_connection_notify, self, MHD_OPTION_CONNECTION_TIMEOUT, self->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)S_CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
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
    if (pthread_create(&self->watchdog, NULL, wbi_srv_watchdog_main, self) != 0) {
        snprintf(err, errlen, "cannot start the watchdog thread");
        e = WANDB_EIO;
        goto fail;
    }
    self->watchdog_started = true;
    self->settle_on_exit = opts->settle_on_exit;
    wbi_slog(WANDB_LOG_DEBUG, "server",
             "%u connections at most, idle timeouts %u s / %u s, %u workers, synchronous=%s",
             max_conn, self->idle_timeout_s, self->keepalive_timeout_s, self->nworkers,
             opts->sync_normal ? "NORMAL" : "FULL");
    *out = self;
    return WANDB_OK;
fail:
    wbi_server_destroy(&self);
    return e;
}

// Lets running requests finish, stops the daemon (no more requests), then
// the workers and the watchdog.
void wbi_server_destroy(wbi_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_server_t *self = *self_p;
    // No connection may stay suspended when the daemon stops: new requests
    // are refused (503) and the ones in the workers are answered first.
    wbi_srv_pool_drain(self);
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    wbi_srv_pool_stop(self);
    if (self->watchdog_started) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        pthread_cond_broadcast(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
    }
    if (self->settle_on_exit)
        wbi_srv_settle(self);
    if (self->record)
        fclose(self->record);
    wbi_store_destroy(&self->store);
    wbi_series_cache_destroy(&self->series);
    json_decref(self->op_counts);
    wbi_free(self->dir);
    wbi_free(self->api_key);
    wbi_free(self->entity);
    pthread_cond_destroy(&self->wake);
    pthread_cond_destroy(&self->qcond);
    pthread_cond_destroy(&self->qidle);
    pthread_mutex_destroy(&self->qlock);
    wbi_srv_lock_release(&self->store_lock);
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
