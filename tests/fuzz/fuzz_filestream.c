//  fuzz_filestream.c - fuzz target: file_stream bodies through the server's handler
//  SPDX-License-Identifier: MIT
//
//  The input is the body of POST /files/<entity>/<project>/<run>/file_stream
//  as wandb-mpi-server reads it: parsed as extended JSON, then handed to the
//  handler that wbi_srv_route_find picks for that URL, which checks the body
//  and writes lines, summary, uploads and the final state to a fresh
//  in-memory store. A JSON array is a session: each of its first
//  S_SESSION_MAX elements is one request to the same run, in order. At the
//  end the run is read back as a resuming client does (RunResumeStatus), so
//  what the body stored goes through the read path too. Beyond not crashing:
//  every answer has a body, 200 or 400 (a malformed body is the client's
//  fault, never a 5xx), and a stored run reads back.

#include "fuzz/fuzz.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/server_int.h"
#include "server/slog.h"

#include <string.h>

#define S_SESSION_MAX 8 // requests of one input at most
#define S_URL "/files/fuzz/proj/run-1/file_stream"

// Runs one body through the file_stream handler and checks the answer.
static void s_request(wbi_server_t *srv, json_t *body)
{
    const wbi_srv_route_t *route = wbi_srv_route_find("POST", S_URL);
    WBF_ASSERT(route && route->json_body);
    wbi_srv_req_t req = {.route = route, .method = "POST", .url = S_URL, .parsed = body};
    wbi_srv_reply_t reply = {0};
    route->handler(srv, NULL, &req, S_URL, &reply);
    if (reply.status != 200 && reply.status != 400) {
        char *text = wbi_jsonx_dumps(reply.json, JSON_COMPACT);
        fprintf(stderr, "fuzz_filestream: status %d: %s\n", reply.status, text ? text : "?");
        abort();
    }
    WBF_ASSERT(reply.json != NULL);
    char *text = wbi_jsonx_dumps(reply.json, JSON_COMPACT);
    WBF_ASSERT(text != NULL);
    wbi_free(text);
    json_decref(reply.json);
}

// Reads the run back through GraphQL, as a resuming client would.
static void s_read_back(wbi_server_t *srv)
{
    json_t *request = json_pack("{sss{ssssss}}", "operationName", "RunResumeStatus", "variables",
                                "entity", "fuzz", "project", "proj", "name", "run-1");
    wbi_gql_ctx_t ctx = {.store = srv->store,
                         .entity = "local",
                         .upload_base = "http://127.0.0.1:8080",
                         .upload_token = "0123456789abcdef",
                         .now = 1767225600.0};
    wbi_gql_result_t res;
    wbi_gql_execute(&ctx, request, &res);
    WBF_ASSERT(res.status == 200 && res.body != NULL);
    char *text = wbi_jsonx_dumps(res.body, JSON_COMPACT);
    WBF_ASSERT(text != NULL);
    wbi_free(text);
    json_decref(res.body);
    json_decref(request);
}

// One body (or session) on a new in-memory store.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wbi_slog_set_level(WANDB_LOG_ERR); // completed runs log at INFO
    json_error_t jerr;
    json_t *body = wbi_jsonx_loadb((const char *)data, size, 0, &jerr);
    if (!body)
        return 0;
    wbi_server_t srv = {0};
    char err[256];
    if (wbi_store_open(&srv.store, ":memory:", false, err, sizeof err) != WANDB_OK) {
        fprintf(stderr, "fuzz_filestream: %s\n", err);
        abort();
    }
    wbi_srv_lock_init(&srv.store_lock);
    pthread_mutex_init(&srv.lock, NULL);
    if (json_is_array(body)) {
        for (size_t i = 0; i < json_array_size(body) && i < S_SESSION_MAX; i++)
            s_request(&srv, json_array_get(body, i));
    } else {
        s_request(&srv, body);
    }
    s_read_back(&srv);
    pthread_mutex_destroy(&srv.lock);
    wbi_srv_lock_release(&srv.store_lock);
    wbi_store_destroy(&srv.store);
    json_decref(body);
    return 0;
}
