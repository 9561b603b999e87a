//  server.h - wandb-mpi-server: a local W&B-protocol backend over HTTP
//  SPDX-License-Identifier: MIT
//
//  libmicrohttpd with one internal polling thread reads every connection and
//  hands each request to a pool of worker threads; one SQLite connection
//  (store.h) is guarded by one FIFO lock, which the workers and the
//  heartbeat watchdog take around each unit of work. HTTP/1.1 keep-alive is
//  on: a connection that made an authorized request is kept for an hour, so
//  a client can do all its work over one TCP connection.
//  Thread: start and destroy from one thread; the server runs its own.
#ifndef WBI_SERVER_H
#define WBI_SERVER_H

#include "wandb.h"
#include <stdint.h>

typedef struct wbi_server wbi_server_t;

typedef struct {
    const char *dir;              // data directory (wandb.db, files/, requests.jsonl)
    const char *host;             // numeric address to bind, "127.0.0.1" when NULL
    uint16_t port;                // 0: ephemeral
    const char *api_key;          // required key (not NULL)
    const char *entity;           // default entity, "local" when NULL
    bool record_requests;         // append every request to DIR/requests.jsonl
    double heartbeat_timeout_s;   // running runs silent this long become crashed
    bool settle_on_exit;          // at destroy, every run still running becomes crashed
    unsigned max_connections;     // open connections at most (0: 8192)
    unsigned idle_timeout_s;      // idle connection without an authorized request (0: 30)
    unsigned keepalive_timeout_s; // idle connection after an authorized one (0: 3600)
    unsigned threads;             // worker threads (0: 4)
    size_t body_memory_max;       // request body bytes buffered at once (0: 1 GiB)
    bool sync_normal;             // SQLite synchronous=NORMAL instead of FULL
} wbi_server_opts_t;

// Opens the store, starts the workers, the HTTP daemon and the watchdog. On
// failure the reason is in err. Destroy with wbi_server_destroy().
wandb_err wbi_server_start(wbi_server_t **out, const wbi_server_opts_t *opts, char *err,
                           size_t errlen);
// Stops serving, joins the threads, marks running runs crashed when
// opts.settle_on_exit was set, closes the store; NULL-safe.
void wbi_server_destroy(wbi_server_t **self_p);
// The bound port.
uint16_t wbi_server_port(const wbi_server_t *self);
// "http://host:port". Borrowed: valid until destroy.
const char *wbi_server_url(const wbi_server_t *self);

#endif
