//  http.h - the libcurl multi transport: many requests over ONE connection
//  SPDX-License-Identifier: MIT
//
//  One curl multi handle, a pool of easy handles (one per request in
//  flight) and one connection to the backend host: HTTP/2 streams when the
//  server offers them (ALPN over TLS, or prior knowledge on cleartext when
//  told), else HTTP/1.1 keep-alive. The caller decides how many requests fly
//  at once (wbi_http_multiplexed says whether more than one can share the
//  connection). Sets the credentials (Basic "api:<key>", never logged;
//  GraphQL and file_stream only, never on uploads), User-Agent
//  "wandb-mpi/<version>", timeouts (a total one for POSTs; a low-speed limit
//  for PUTs), TCP keepalive, a bounded answer buffer (16 MiB: an
//  UpsertBucket answer echoes the config) and captures Retry-After and
//  RateLimit-Remaining/RateLimit-Reset. CURLcode and HTTP status are mapped
//  to wandb_err here, at one boundary.
//  Thread: the owning thread only, except wbi_http_wakeup (any thread).
#ifndef WBI_BACKEND_HTTP_H
#define WBI_BACKEND_HTTP_H

#include "backend/backend.h"
#include <stdio.h>

// Bytes of an answer kept; the rest is read and discarded (res.truncated).
#define WBI_HTTP_ANSWER_MAX ((size_t)16 << 20)
// PUTs have no total timeout: they fail when slower than this many bytes/s
// for WBI_HTTP_PUT_LOW_SPEED_S seconds.
#define WBI_HTTP_PUT_LOW_SPEED 1024L
#define WBI_HTTP_PUT_LOW_SPEED_S 30L
// Requests in flight at most (an upper bound for max_streams).
#define WBI_HTTP_STREAMS_MAX 256

typedef enum {
    WBI_HTTP_GRAPHQL = 0, // POST with the GraphQL headers
    WBI_HTTP_FS = 1,      // POST with the file_stream headers
    WBI_HTTP_PUT = 2,     // PUT of raw bytes to an upload URL (no credentials)
} wbi_http_kind;

typedef struct wbi_http wbi_http_t;

typedef struct {
    const char *api_key; // NULL: no Authorization header
    int timeout_ms;      // total per POST attempt; 0: 30000
    int http2;           // WBI_HTTP2_* (backend.h)
    const char *ca_cert; // PEM CA file for TLS; NULL: system CAs
    int max_streams;     // requests in flight at most; 0: 32
} wbi_http_opts_t;

typedef struct {
    long status;            // HTTP status, 0 when there was no answer
    wandb_err err;          // WANDB_OK for any HTTP answer, else the transport error
    int64_t retry_after_ms; // from Retry-After, -1 when absent
    int64_t rl_remaining;   // RateLimit-Remaining, -1 when absent
    int64_t rl_reset_ms;    // RateLimit-Reset in ms, -1 when absent
    bool http2;             // answered over HTTP/2
    const char *body;       // answer (borrowed until the next wbi_http_done), NUL-terminated
    size_t body_len;        // its length (at most WBI_HTTP_ANSWER_MAX)
    bool truncated;         // the answer was longer than WBI_HTTP_ANSWER_MAX
    char errmsg[256];       // what went wrong, when err != WANDB_OK
} wbi_http_result_t;

// Creates the multi handle. GraphQL requests also carry
// X-Wandb-Username/X-Wandb-User-Email ($WANDB_USERNAME, $WANDB_EMAIL; empty
// when unset), as wandb-core sends them. Destroy with wbi_http_destroy().
wandb_err wbi_http_new(wbi_http_t **out, const wbi_http_opts_t *opts);
// Drops every transfer in flight, closes the connection; NULL-safe.
void wbi_http_destroy(wbi_http_t **self_p);
// Starts a request: url, body (len bytes) and the "Key:Value" lines of
// extra (PUT only) are borrowed until its wbi_http_done. token comes back
// with the answer. WANDB_EFULL when max_streams requests are in flight.
wandb_err wbi_http_start(wbi_http_t *self, wbi_http_kind kind, const char *url, const char *body,
                         size_t len, const char *const *extra, size_t nextra, void *token);
// Starts a PUT whose body is the open file fp (size bytes from its current
// position, read as the transfer goes: never whole in memory). fp is
// borrowed until wbi_http_done of the request.
wandb_err wbi_http_start_file(wbi_http_t *self, const char *url, FILE *fp, uint64_t size,
                              const char *const *extra, size_t nextra, void *token);
// Moves the transfers on, waiting at most timeout_ms for I/O or a wakeup.
void wbi_http_poll(wbi_http_t *self, int timeout_ms);
// Takes one finished request: true with its token in *token and the answer
// in *res; false when none has finished.
bool wbi_http_done(wbi_http_t *self, void **token, wbi_http_result_t *res);
// Cuts wbi_http_poll short. Thread: any.
void wbi_http_wakeup(wbi_http_t *self);
// Requests in flight.
int wbi_http_in_flight(const wbi_http_t *self);
// True when the last answer came over HTTP/2 (so requests can share the connection).
bool wbi_http_multiplexed(const wbi_http_t *self);
// Maps an HTTP status to the error a caller reports (2xx: WANDB_OK).
wandb_err wbi_http_status_err(long status);
// Parses "auto", "prior-knowledge" or "off" into *out (WBI_HTTP2_*);
// WANDB_EINVAL otherwise.
wandb_err wbi_http_parse_http2(const char *text, int *out);

#endif
