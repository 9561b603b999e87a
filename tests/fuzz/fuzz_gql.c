//  fuzz_gql.c - fuzz target: POST /graphql bodies through the GraphQL dispatch
//  SPDX-License-Identifier: MIT
//
//  The input is a request body as wandb-mpi-server reads it: extended JSON
//  {query, variables, operationName}, dispatched by wbi_gql_execute on a
//  fresh in-memory store, the answer dumped as the server sends it. A JSON
//  array is a session: each of its first S_SESSION_MAX elements is one
//  request, in order, on the same store (a run created by the first is seen
//  by the next). The query text also goes through wbi_gql_op_name and the
//  run-id decoder on its own. Beyond not crashing: every answer has a body
//  and a status the server may send, and names fit their buffers.

#include "fuzz/fuzz.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/gql.h"
#include "server/slog.h"

#include <string.h>

#define S_SESSION_MAX 8 // requests of one input at most

// Runs one request and checks the shape of its answer.
static void s_execute(const wbi_gql_ctx_t *ctx, const json_t *request)
{
    wbi_gql_result_t res;
    wbi_gql_execute(ctx, request, &res);
    WBF_ASSERT(res.body != NULL);
    WBF_ASSERT(res.status == 200 || res.status == 400 || res.status == 500 || res.status == 503);
    WBF_ASSERT(memchr(res.op, '\0', sizeof res.op) != NULL);
    WBF_ASSERT(json_object_get(res.body, "data") || json_object_get(res.body, "errors"));
    char *text = wbi_jsonx_dumps(res.body, JSON_COMPACT);
    WBF_ASSERT(text != NULL);
    wbi_free(text);
    json_decref(res.body);
}

// The operation-name scanner and the GraphQL id decoder on the raw text.
static void s_scanners(const uint8_t *data, size_t size)
{
    char *text = wbi_malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    char name[WBI_GQL_OP_MAX];
    if (wbi_gql_op_name(text, name, sizeof name))
        WBF_ASSERT(*name && strlen(name) < sizeof name && strstr(text, name));
    else
        WBF_ASSERT(*name == '\0');
    int64_t id = 0;
    if (wbi_gql_run_gid_parse(text, &id)) {
        char gid[64];
        WBF_ASSERT(wbi_gql_run_gid(id, gid, sizeof gid) == WANDB_OK);
    }
    wbi_free(text);
}

// One body (or session) on a new in-memory store.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wbi_slog_set_level(WANDB_LOG_ERR); // unknown operations log warnings
    s_scanners(data, size);
    json_error_t jerr;
    json_t *body = wbi_jsonx_loadb((const char *)data, size, 0, &jerr);
    if (!body)
        return 0;
    wbi_store_t *store = NULL;
    char err[256];
    if (wbi_store_open(&store, ":memory:", false, err, sizeof err) != WANDB_OK) {
        fprintf(stderr, "fuzz_gql: %s\n", err);
        abort();
    }
    wbi_gql_ctx_t ctx = {.store = store,
                         .entity = "local",
                         .upload_base = "http://127.0.0.1:8080",
                         .upload_token = "0123456789abcdef",
                         .now = 1767225600.0};
    if (json_is_array(body)) {
        for (size_t i = 0; i < json_array_size(body) && i < S_SESSION_MAX; i++)
            s_execute(&ctx, json_array_get(body, i));
    } else {
        s_execute(&ctx, body);
    }
    wbi_store_destroy(&store);
    json_decref(body);
    return 0;
}
