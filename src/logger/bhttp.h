//  bhttp.h - the rank library's own requests to the backend (libcurl)
//  SPDX-License-Identifier: MIT
//
//  The two places where a rank speaks HTTP itself, synchronously on the
//  calling thread, with the run's base_url, api_key and ca_cert:
//  wandb_restore (restore.c) and the use of an artifact only the backend
//  holds (artifact_remote.c). This file owns the libcurl handles: a GraphQL
//  POST answered as JSON, and a GET into memory or into a file (through a
//  temporary file beside it, optionally checked against an MD5, renamed into
//  place when complete). Thread: any; it touches neither the ring nor the
//  I/O thread. Every call is bounded by the run's finish_timeout_ms (the
//  GraphQL one) or by a stall timeout (downloads).
#ifndef WBI_LOGGER_BHTTP_H
#define WBI_LOGGER_BHTTP_H

#include "logger/run.h"
#include <jansson.h>
#include <stddef.h>

#define WBI_BH_MSG 1024 // bytes of an error text

// curl_global_init for one call of the public API; pair with wbi_bh_done.
wandb_err wbi_bh_init(char *msg, size_t msglen);
void wbi_bh_done(void);

// POSTs {query, variables, operationName: op} to <base_url>/graphql with the
// API key; vars is stolen. *doc_out: the whole answer (json_decref it), not
// interpreted (its "errors" are the caller's). WANDB_EAUTH, WANDB_ENOTFOUND
// (HTTP 404), WANDB_ETIMEDOUT, WANDB_EPROTO (not JSON), WANDB_EBACKEND.
wandb_err wbi_bh_gql(const wandb_run_t *run, const char *op, const char *query, json_t *vars,
                     json_t **doc_out, char *msg, size_t msglen);

// The first GraphQL error's message of doc, or NULL when it has none.
const char *wbi_bh_gql_error(const json_t *doc);

// GETs url into memory, at most max bytes; *out and *out_len (wbi_free).
// The API key goes only to URLs under base_url, never to a storage URL.
wandb_err wbi_bh_get_mem(const wandb_run_t *run, const char *url, size_t max, char **out,
                         size_t *out_len, char *msg, size_t msglen);

// GETs url into path through a temporary file beside it. md5_b64 non-NULL:
// the bytes must have this base64 MD5 and size bytes, or nothing is renamed
// into place (WANDB_EIO with both digests in msg).
wandb_err wbi_bh_get_file(const wandb_run_t *run, const char *url, const char *path,
                          const char *md5_b64, uint64_t size, char *msg, size_t msglen);

#endif
