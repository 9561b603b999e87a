//  test_server_gql_files.c - the RunFiles query (src/server/gql_files.c) on a real store
//  SPDX-License-Identifier: MIT
//
//  Files recorded in a store in a temp directory, then RunFiles requests
//  through wbi_gql_execute: an unknown run, announced versus uploaded
//  files, the name filter, paging with fileLimit and fileCursor, the URLs.
#include "testutil.h"

#include "harness/server_harness.h"

#include "server/gql.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

static char s_dir[64];       // the store's directory
static wbi_store_t *s_store; // the store
static wbi_gql_ctx_t s_ctx;  // the context of every request

// Opens a store with run local/p/r: a.txt and sub/b.bin uploaded, c.txt
// announced only.
static void s_open(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-gqlf-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    char db[128];
    snprintf(db, sizeof db, "%s/wandb.db", s_dir);
    char err[256];
    CHECK_OK(wbi_store_open(&s_store, db, false, err, sizeof err));
    s_ctx = (wbi_gql_ctx_t){.store = s_store,
                            .entity = "local",
                            .upload_base = "http://127.0.0.1:9",
                            .upload_token = "tok",
                            .now = 1000.0};
    int64_t id = 0;
    CHECK_OK(wbi_store_run_ensure(s_store, "local", "p", "r", 1000.0, &id));
    CHECK_OK(wbi_store_file_put(s_store, id, "a.txt", 3, true, 1000.0));
    CHECK_OK(wbi_store_file_put(s_store, id, "sub/b.bin", 5, true, 1001.0));
    CHECK_OK(wbi_store_file_put(s_store, id, "c.txt", -1, false, 1002.0));
}

static void s_close(void)
{
    wbi_store_destroy(&s_store);
    CHECK(wbt_rm_tree(s_dir) == 0);
}

// Runs RunFiles with variables vars (JSON text); returns data.project (a
// new reference) after checking the status.
static json_t *s_run_files(const char *vars)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"query\":\"query RunFiles { x }\",\"variables\":%s}", vars);
    json_error_t jerr;
    json_t *req = json_loads(text, 0, &jerr);
    CHECK(req != NULL);
    wbi_gql_result_t res;
    wbi_gql_execute(&s_ctx, req, &res);
    json_decref(req);
    CHECK(res.known);
    CHECK_EQ(res.status, 200);
    json_t *project = json_incref(json_object_get(json_object_get(res.body, "data"), "project"));
    json_decref(res.body);
    CHECK(project != NULL);
    return project;
}

// The edges of a project answer.
static json_t *s_edges(json_t *project)
{
    return json_object_get(json_object_get(json_object_get(project, "run"), "files"), "edges");
}

// The name of edge i.
static const char *s_name(json_t *project, size_t i)
{
    return json_string_value(
        json_object_get(json_object_get(json_array_get(s_edges(project), i), "node"), "name"));
}

// Only uploaded files, in name order, with their read-API URLs.
static void test_lists_uploaded(void)
{
    s_open();
    json_t *p = s_run_files("{\"project\":\"p\",\"name\":\"r\"}");
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(p, "run"), "fileCount")), 2);
    CHECK_EQ(json_array_size(s_edges(p)), 2);
    CHECK_STREQ(s_name(p, 0), "a.txt");
    CHECK_STREQ(s_name(p, 1), "sub/b.bin");
    json_t *node = json_object_get(json_array_get(s_edges(p), 1), "node");
    CHECK_STREQ(json_string_value(json_object_get(node, "directUrl")),
                "http://127.0.0.1:9/api/v1/runs/r/files/sub/b.bin?project=p&entity=local");
    CHECK_EQ(json_integer_value(json_object_get(node, "sizeBytes")), 5);
    CHECK(json_is_null(json_object_get(node, "md5")));
    json_decref(p);
    // The name filter; an announced file is not there.
    p = s_run_files("{\"project\":\"p\",\"name\":\"r\",\"fileNames\":[\"c.txt\"]}");
    CHECK_EQ(json_array_size(s_edges(p)), 0);
    json_decref(p);
    p = s_run_files("{\"project\":\"p\",\"name\":\"r\",\"fileNames\":[\"sub/b.bin\"]}");
    CHECK_EQ(json_array_size(s_edges(p)), 1);
    CHECK_STREQ(s_name(p, 0), "sub/b.bin");
    json_decref(p);
    s_close();
}

// fileLimit and fileCursor page through the files; an unknown run is null.
static void test_paging_and_unknown(void)
{
    s_open();
    json_t *p = s_run_files("{\"project\":\"p\",\"name\":\"r\",\"fileLimit\":1}");
    CHECK_EQ(json_array_size(s_edges(p)), 1);
    CHECK_STREQ(s_name(p, 0), "a.txt");
    json_t *info = json_object_get(json_object_get(json_object_get(p, "run"), "files"), "pageInfo");
    CHECK(json_is_true(json_object_get(info, "hasNextPage")));
    char vars[256];
    snprintf(vars, sizeof vars,
             "{\"project\":\"p\",\"name\":\"r\",\"fileLimit\":1,\"fileCursor\":\"%s\"}",
             json_string_value(json_object_get(info, "endCursor")));
    json_decref(p);
    p = s_run_files(vars);
    CHECK_EQ(json_array_size(s_edges(p)), 1);
    CHECK_STREQ(s_name(p, 0), "sub/b.bin");
    info = json_object_get(json_object_get(json_object_get(p, "run"), "files"), "pageInfo");
    CHECK(json_is_false(json_object_get(info, "hasNextPage")));
    json_decref(p);
    p = s_run_files("{\"project\":\"p\",\"name\":\"nope\"}");
    CHECK(json_is_null(json_object_get(p, "run")));
    json_decref(p);
    s_close();
}

WBT_MAIN({"lists_uploaded", test_lists_uploaded}, {"paging_and_unknown", test_paging_and_unknown})
