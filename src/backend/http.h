//  http.h - one libcurl easy handle for every request to the backend
//  SPDX-License-Identifier: MIT
//
//  Reusing the one handle keeps one keep-alive connection for every request.
//  Sets the credentials (Basic "api:<key>", never logged; GraphQL and
//  file_stream only, never on uploads), User-Agent "wandb-mpi/<version>",
//  timeouts (a total one for POSTs; a low-speed limit for PUTs), TCP keepalive,
//  a bounded answer buffer (16 MiB: an UpsertBucket answer echoes the config) and captures
//  Retry-After. CURLcode and HTTP status are mapped to wandb_err here, at
//  one boundary. Thread: the owning thread only; abort_flag may be set from
//  any thread to cut a transfer short.
#ifndef WBI_BACKEND_HTTP_H
#define WBI_BACKEND_HTTP_H

#include "wandb.h"
#include <stdatomic.h>

// Bytes of an answer kept; the rest is read and discarded (res.truncated).
#define WBI_HTTP_ANSWER_MAX ((size_t)16 << 20)
// PUTs have no total timeout: they fail when slower than this many bytes/s
// for WBI_HTTP_PUT_LOW_SPEED_S seconds.
#define WBI_HTTP_PUT_LOW_SPEED 1024L
#define WBI_HTTP_PUT_LOW_SPEED_S 30L

typedef struct wbi_http wbi_http_t;

typedef struct {
    long status;            // HTTP status, 0 when there was no answer
    wandb_err err;          // WANDB_OK for any HTTP answer, else the transport error
    int64_t retry_after_ms; // from Retry-After, -1 when absent
    const char *body;       // answer (borrowed until the next post), NUL-terminated
    size_t body_len;        // its length (at most WBI_HTTP_ANSWER_MAX)
    bool truncated;         // the answer was longer than WBI_HTTP_ANSWER_MAX
    char errmsg[256];       // what went wrong, when err != WANDB_OK
} wbi_http_result_t;

// Creates the handle. api_key may be NULL (no Authorization header).
// GraphQL requests also carry X-Wandb-Username/X-Wandb-User-Email
// ($WANDB_USERNAME, $WANDB_EMAIL; empty when unset), as wandb-core sends them.
wandb_err wbi_http_new(wbi_http_t **out, const char *api_key, int timeout_ms,
                       const atomic_bool *abort_flag);
void wbi_http_destroy(wbi_http_t **self_p);
// POSTs body to url. graphql adds the GraphQL-only headers. Fills *res and
// returns res->err.
wandb_err wbi_http_post(wbi_http_t *self, const char *url, const char *body, size_t len,
                        bool graphql, wbi_http_result_t *res);
// PUTs len bytes of body to url (no total timeout, a low-speed limit instead) (an upload URL the
// server handed out: it authorizes itself, so no credentials are sent) with extra "Key:Value"
// headers (uploadHeaders). Same connection when the host is the same.
// Fills *res and returns res->err.
wandb_err wbi_http_put(wbi_http_t *self, const char *url, const char *body, size_t len,
                       const char *const *extra, size_t nextra, wbi_http_result_t *res);
// Maps an HTTP status to the error a caller reports (2xx: WANDB_OK).
wandb_err wbi_http_status_err(long status);

#endif
