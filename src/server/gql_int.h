//  gql_int.h - what gql.c and gql_artifact.c share
//  SPDX-License-Identifier: MIT
//
//  gql.c owns the dispatch and the run operations; gql_util.c the ids and
//  the answers; gql_artifact*.c the artifact operations, tried when no run
//  operation has the name.
//  Thread: as gql.h (the caller holds the store lock).
#ifndef WBI_GQL_INT_H
#define WBI_GQL_INT_H

#include "server/gql.h"
#include "store/artifact.h"

// A string variable, or NULL when absent, null or not a string.
const char *wbi_gql_var(const json_t *vars, const char *name);
// Fills res with {"errors": [{"message"}], "data": null} at an HTTP status.
void wbi_gql_fail(wbi_gql_result_t *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Fills res from a store error: 503 when transient, else 500.
void wbi_gql_fail_store(const wbi_gql_ctx_t *ctx, wbi_gql_result_t *res, wandb_err e);
// Wraps data as {"data": data} in res (steals data; NULL: out of memory).
void wbi_gql_ok(wbi_gql_result_t *res, json_t *data);
// base64("<kind>:<text>") as a JSON string (a GraphQL id).
json_t *wbi_gql_gid(const char *kind, const char *text);
// project { id internalId name entity { id name } }.
json_t *wbi_gql_project_json(const char *entity, const char *project);

// Artifact ids: base64("Artifact:<storage id>") and back (gql_artifact.c).
json_t *wbi_gql_art_gid(int64_t id);
bool wbi_gql_art_id(const char *gid, int64_t *id);
// Checks an artifact or portfolio name: 1 to 128 of A-Z a-z 0-9 _ - .
// False with the reason in why.
bool wbi_gql_art_name_ok(const char *what, const char *name, char *why, size_t whylen);
// The download URL of blob hex (self-authorizing), or null for NULL.
json_t *wbi_gql_blob_url(const wbi_gql_ctx_t *ctx, const char *hex);
// The Artifact object (a superset of ArtifactFragment) of a version
// (gql_artifact_read.c). NULL when out of memory.
json_t *wbi_gql_art_json(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a);
// One GraphQL operation: its name and its handler.
typedef void (*wbi_gql_op_fn)(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res);
typedef struct {
    const char *name; // operation name
    wbi_gql_op_fn fn; // handler
} wbi_gql_op_t;
// Runs the operation of ops[0..n) named op; false when none is (gql_util.c).
bool wbi_gql_dispatch(const wbi_gql_op_t *ops, size_t n, const wbi_gql_ctx_t *ctx, const char *op,
                      const json_t *vars, wbi_gql_result_t *res);

// Runs the artifact query, UseArtifact or LinkArtifact op; false when op
// is none of them (gql_artifact_read.c).
bool wbi_gql_artifact_query(const wbi_gql_ctx_t *ctx, const char *op, const json_t *vars,
                            wbi_gql_result_t *res);

// Runs the artifact operation op (gql_artifact.c); false when op is not one.
bool wbi_gql_artifact_op(const wbi_gql_ctx_t *ctx, const char *op, const json_t *vars,
                         wbi_gql_result_t *res);

#endif
