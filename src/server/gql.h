//  gql.h - the GraphQL operations wandb-mpi-server answers (POST /graphql)
//  SPDX-License-Identifier: MIT
//
//  There is no GraphQL engine: requests are dispatched by operationName
//  (falling back to the name in the query text) to one handler per
//  operation, which answers with the fields the W&B clients select (a
//  superset is fine for them). See docs/server.md for the list.
//  Thread: one caller at a time per store (the server's mutex).
#ifndef WBI_GQL_H
#define WBI_GQL_H

#include "store/store.h"
#include <jansson.h>

#define WBI_GQL_OP_MAX 128 // bytes of an operation name, NUL included

// Copies the name of the first operation of a GraphQL document into out
// ("mutation UpsertBucket(" -> "UpsertBucket"). Fragments, comments and
// strings are skipped. False (and out = "") for an anonymous operation.
bool wbi_gql_op_name(const char *query, char *out, size_t outlen);

// What an operation needs besides the store.
typedef struct {
    wbi_store_t *store;       // the store (the caller holds its lock)
    const char *entity;       // default entity ("local")
    const char *upload_base;  // "http://host:port" for upload URLs
    const char *upload_token; // secret path token of upload URLs
    const char *dir;          // data directory (artifact blobs under artifacts/)
    double now;               // Unix seconds of the request
} wbi_gql_ctx_t;

// The outcome of one request.
typedef struct {
    int status;              // HTTP status
    json_t *body;            // response body (new reference)
    char op[WBI_GQL_OP_MAX]; // operation name used ("" if none)
    bool known;              // op has a handler
} wbi_gql_result_t;

// Executes a parsed request {query, variables, operationName}. Always fills
// res->body: {"data": ...} on success, {"errors": [...]} otherwise. Status:
// 200 (also for unknown operations and GraphQL-level errors), 400 for a
// malformed request, 503 for a transient store condition, 500 otherwise.
void wbi_gql_execute(const wbi_gql_ctx_t *ctx, const json_t *request, wbi_gql_result_t *res);

// RunFiles: the uploaded files of a run with their download URLs
// (gql_files.c); what wandb_restore and the public API's run.files() ask.
void wbi_gql_op_run_files(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res);

// Storage ids in GraphQL ids: base64("Run:<storage id>") and back.
wandb_err wbi_gql_run_gid(int64_t storage_id, char *out, size_t outlen);
bool wbi_gql_run_gid_parse(const char *gid, int64_t *storage_id);

#endif
