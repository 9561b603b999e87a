//  test_server_gql.c - GraphQL dispatch, op-name fallback, config encodings
//  SPDX-License-Identifier: MIT

#include "testutil.h"

#include "harness/server_harness.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/gql.h"
#include "store/runjson.h"
#include "store/store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

// The operation name comes from the query text when operationName is empty.
static void test_op_name(void)
{
    char name[WBI_GQL_OP_MAX];
    CHECK(wbi_gql_op_name("mutation UpsertBucket($id: String) { upsertBucket { x } }", name,
                          sizeof name));
    CHECK_STREQ(name, "UpsertBucket");
    CHECK(wbi_gql_op_name("\n  query Viewer {\n viewer { id } }", name, sizeof name));
    CHECK_STREQ(name, "Viewer");
    CHECK(wbi_gql_op_name("query ServerFeaturesQuery{serverInfo{features{name}}}", name,
                          sizeof name));
    CHECK_STREQ(name, "ServerFeaturesQuery");
    // Fragments first, comments and strings with keywords are skipped.
    CHECK(wbi_gql_op_name("# query Fake\nfragment F on Run { id name }\n"
                          "query RunResumeStatus($n: String!) { model(d: \"query X\") { id } }",
                          name, sizeof name));
    CHECK_STREQ(name, "RunResumeStatus");
    // Anonymous operations have no name.
    CHECK(!wbi_gql_op_name("{ viewer { id } }", name, sizeof name));
    CHECK_STREQ(name, "");
    CHECK(!wbi_gql_op_name("query { viewer { id } }", name, sizeof name));
    CHECK(!wbi_gql_op_name(NULL, name, sizeof name));
    // A name that does not fit is refused rather than cut.
    char small[4];
    CHECK(!wbi_gql_op_name("query Viewer { x }", small, sizeof small));
}

// Parses a config text and returns its compact extended-JSON dump.
static char *s_norm(const char *text)
{
    json_t *out = NULL;
    char err[256];
    wandb_err e = wbi_runcfg_parse(text, strlen(text), &out, err, sizeof err);
    if (e != WANDB_OK)
        WBT_FAIL("config parse: %s", err);
    char *s = wbi_jsonx_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return s;
}

// All three encodings of the config end up unwrapped; wrap undoes it.
static void test_config_encodings(void)
{
    const char *want = "{\"a\":1,\"m\":{\"d\":4},\"x\":NaN}";
    const char *inputs[] = {
        "{\"a\":{\"value\":1},\"m\":{\"value\":{\"d\":4}},\"x\":{\"value\":NaN}}",
        "{\"a\":{\"desc\":null,\"value\":1},\"m\":{\"desc\":null,\"value\":{\"d\":4}},"
        "\"x\":{\"desc\":null,\"value\":NaN}}",
        "{\"a\":1,\"m\":{\"d\":4},\"x\":NaN}",
    };
    for (size_t i = 0; i < 3; i++) {
        char *got = s_norm(inputs[i]);
        CHECK_STREQ(got, want);
        wbi_free(got);
    }
    // Mixed: one raw value makes the whole object raw.
    char *got = s_norm("{\"a\":{\"value\":1},\"b\":2}");
    CHECK_STREQ(got, "{\"a\":{\"value\":1},\"b\":2}");
    wbi_free(got);
    got = s_norm("{}");
    CHECK_STREQ(got, "{}");
    wbi_free(got);

    json_t *raw = json_pack("{si}", "a", 1);
    json_t *w = wbi_runcfg_wrap(raw);
    CHECK(wbi_runcfg_is_wrapped(w));
    CHECK(!wbi_runcfg_is_wrapped(raw));
    char *s = wbi_jsonx_dumps(w, JSON_COMPACT);
    CHECK_STREQ(s, "{\"a\":{\"value\":1}}");
    wbi_free(s);
    json_decref(w);
    json_decref(raw);

    json_t *out = NULL;
    char err[256];
    CHECK_ERR(wbi_runcfg_parse("[1,2]", 5, &out, err, sizeof err), WANDB_EPROTO);
    CHECK(strstr(err, "object") != NULL);
    CHECK_ERR(wbi_runcfg_parse("{\"a\":", 5, &out, err, sizeof err), WANDB_EPROTO);
    CHECK(strstr(err, "line 1") != NULL);
    CHECK(out == NULL);
}

// Run ids in GraphQL ids.
static void test_gid(void)
{
    char gid[64];
    CHECK_OK(wbi_gql_run_gid(42, gid, sizeof gid));
    int64_t back = 0;
    CHECK(wbi_gql_run_gid_parse(gid, &back));
    CHECK_EQ(back, 42);
    CHECK(!wbi_gql_run_gid_parse("bm9wZQ==", &back)); // "nope"
    CHECK(!wbi_gql_run_gid_parse("!!", &back));
    CHECK(!wbi_gql_run_gid_parse(NULL, &back));
}

// A store in a temp directory for the execute tests.
typedef struct {
    char dir[64];       // temp dir
    wbi_store_t *store; // open store
    wbi_gql_ctx_t ctx;  // context pointing at it
} s_env_t;

static void s_env_init(s_env_t *env)
{
    snprintf(env->dir, sizeof env->dir, "/tmp/wbt-gql-XXXXXX");
    CHECK(mkdtemp(env->dir) != NULL);
    char db[128];
    snprintf(db, sizeof db, "%s/wandb.db", env->dir);
    char err[256];
    CHECK_OK(wbi_store_open(&env->store, db, false, err, sizeof err));
    env->ctx = (wbi_gql_ctx_t){.store = env->store,
                               .entity = "local",
                               .upload_base = "http://127.0.0.1:9",
                               .upload_token = "tok",
                               .now = 1000.0};
}

static void s_env_release(s_env_t *env)
{
    wbi_store_destroy(&env->store);
    CHECK(wbt_rm_tree(env->dir) == 0);
}

// Runs one request given as JSON text.
static void s_exec(s_env_t *env, const char *request, wbi_gql_result_t *res)
{
    json_error_t jerr;
    json_t *req = json_loads(request, 0, &jerr);
    if (!req)
        WBT_FAIL("bad test request: %s", jerr.text);
    wbi_gql_execute(&env->ctx, req, res);
    json_decref(req);
}

// Reads data.<a>.<b>... from a response.
static json_t *s_at(json_t *body, const char *a, const char *b, const char *c)
{
    json_t *j = json_object_get(json_object_get(body, "data"), a);
    if (b)
        j = json_object_get(j, b);
    if (c)
        j = json_object_get(j, c);
    return j;
}

// UpsertBucket creates, then updates; the response carries what wandb-core reads.
static void test_upsert_bucket(void)
{
    s_env_t env;
    s_env_init(&env);
    wbi_gql_result_t res;
    s_exec(&env,
           "{\"query\":\"mutation UpsertBucket($name: String) { upsertBucket { bucket { id } } }\","
           "\"operationName\":\"\",\"variables\":{\"name\":\"r1\",\"project\":\"p\","
           "\"entity\":null,\"groupName\":\"g\",\"tags\":[\"x\"],"
           "\"config\":\"{\\\"lr\\\":{\\\"value\\\":0.5}}\"}}",
           &res);
    CHECK_EQ(res.status, 200);
    CHECK(res.known);
    CHECK_STREQ(res.op, "UpsertBucket");
    json_t *bucket = s_at(res.body, "upsertBucket", "bucket", NULL);
    CHECK_STREQ(json_string_value(json_object_get(bucket, "name")), "r1");
    CHECK_EQ(json_integer_value(json_object_get(bucket, "historyLineCount")), 0);
    json_t *project = json_object_get(bucket, "project");
    CHECK_STREQ(json_string_value(json_object_get(project, "name")), "p");
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(project, "entity"), "name")),
                "local");
    CHECK(json_is_true(s_at(res.body, "upsertBucket", "inserted", NULL)));
    char gid[64];
    snprintf(gid, sizeof gid, "%s", json_string_value(json_object_get(bucket, "id")));
    json_decref(res.body);

    // A later upsert by storage id only, with a raw config key and notes.
    char req[512];
    snprintf(req, sizeof req,
             "{\"query\":\"mutation UpsertBucket { x }\",\"operationName\":\"UpsertBucket\","
             "\"variables\":{\"id\":\"%s\",\"name\":null,\"notes\":\"n\",\"groupName\":null,"
             "\"config\":\"{\\\"b\\\":2}\"}}",
             gid);
    s_exec(&env, req, &res);
    CHECK_EQ(res.status, 200);
    CHECK(json_is_false(s_at(res.body, "upsertBucket", "inserted", NULL)));
    json_decref(res.body);

    wbi_run_t run;
    CHECK_OK(wbi_store_run_find(env.store, "local", "p", "r1", &run));
    CHECK_STREQ(run.group, "g");
    CHECK_STREQ(run.notes, "n");
    CHECK(strstr(run.config, "\"lr\":0.5") != NULL);
    CHECK(strstr(run.config, "\"b\":2") != NULL);
    wbi_store_run_release(&run);

    // A config that is not JSON is refused with the position.
    s_exec(&env,
           "{\"query\":\"mutation UpsertBucket { x }\",\"variables\":{\"name\":\"r2\","
           "\"project\":\"p\",\"config\":\"{oops\"}}",
           &res);
    CHECK_EQ(res.status, 400);
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(res.body, "errors"), 0), "message"));
    CHECK(msg && strstr(msg, "column") != NULL);
    json_decref(res.body);
    CHECK_ERR(wbi_store_run_find(env.store, NULL, NULL, "r2", &run), WANDB_ENOTFOUND);
    s_env_release(&env);
}

// RunResumeStatus: null bucket for a missing run; wrapped config, tails and
// wandbConfig with "t" for an existing one.
static void test_resume_status(void)
{
    s_env_t env;
    s_env_init(&env);
    wbi_gql_result_t res;
    s_exec(&env,
           "{\"query\":\"query RunResumeStatus { model { bucket { id } } }\","
           "\"variables\":{\"name\":\"nope\",\"project\":\"p\",\"entity\":\"local\"}}",
           &res);
    CHECK_EQ(res.status, 200);
    CHECK(json_is_null(s_at(res.body, "model", "bucket", NULL)));
    CHECK_STREQ(json_string_value(s_at(res.body, "model", "name", NULL)), "p");
    json_decref(res.body);

    json_t *cfg = json_pack("{sis{s{s[i]}}}", "lr", 1, "_wandb", "t", "1", 5);
    wbi_run_upsert_t in = {.entity = "local", .project = "p", .name = "r", .config = cfg};
    int64_t id = 0;
    bool inserted = false;
    CHECK_OK(wbi_store_run_upsert(env.store, &in, 1.0, &id, &inserted));
    json_decref(cfg);
    for (int i = 0; i < 12; i++) {
        char line[64];
        snprintf(line, sizeof line, "{\"_step\":%d}", i);
        CHECK_OK(wbi_store_line_put(env.store, id, WBI_FILE_HISTORY, i, line, strlen(line)));
    }
    const char *sum = "{\"loss\":Infinity}";
    CHECK_OK(wbi_store_run_set_summary(env.store, id, sum, strlen(sum)));

    s_exec(&env,
           "{\"query\":\"query RunResumeStatus { model { bucket { id } } }\","
           "\"variables\":{\"name\":\"r\",\"project\":\"p\",\"entity\":null}}",
           &res);
    CHECK_EQ(res.status, 200);
    json_t *b = s_at(res.body, "model", "bucket", NULL);
    CHECK(json_is_object(b));
    CHECK_EQ(json_integer_value(json_object_get(b, "historyLineCount")), 12);
    CHECK_EQ(json_integer_value(json_object_get(b, "eventsLineCount")), 0);
    CHECK_STREQ(json_string_value(json_object_get(b, "summaryMetrics")), sum);
    const char *config = json_string_value(json_object_get(b, "config"));
    CHECK(config && strstr(config, "\"lr\":{\"value\":1}") != NULL);
    CHECK_STREQ(json_string_value(json_object_get(b, "wandbConfig")), "{\"t\":{\"1\":[5]}}");
    json_error_t jerr;
    json_t *tail = json_loads(json_string_value(json_object_get(b, "historyTail")), 0, &jerr);
    CHECK_EQ(json_array_size(tail), 10);
    CHECK_STREQ(json_string_value(json_array_get(tail, 9)), "{\"_step\":11}");
    json_decref(tail);
    CHECK_STREQ(json_string_value(json_object_get(b, "eventsTail")), "[]");
    json_decref(res.body);
    s_env_release(&env);
}

// CreateRunFiles: one URL per name, null for an unsafe path; alerts stored;
// unknown operations answered with an error naming them.
static void test_files_alert_unknown(void)
{
    s_env_t env;
    s_env_init(&env);
    wbi_gql_result_t res;
    s_exec(&env,
           "{\"query\":\"mutation CreateRunFiles { x }\",\"variables\":{\"entity\":\"local\","
           "\"project\":\"p\",\"run\":\"r\",\"files\":[\"config.yaml\",\"media/i 1.png\","
           "\"../etc/passwd\"]}}",
           &res);
    CHECK_EQ(res.status, 200);
    json_t *files = s_at(res.body, "createRunFiles", "files", NULL);
    CHECK_EQ(json_array_size(files), 3);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(files, 0), "uploadUrl")),
                "http://127.0.0.1:9/upload/tok/local/p/r/config.yaml");
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(files, 1), "uploadUrl")),
                "http://127.0.0.1:9/upload/tok/local/p/r/media/i%201.png");
    CHECK(json_is_null(json_object_get(json_array_get(files, 2), "uploadUrl")));
    CHECK_EQ(json_array_size(s_at(res.body, "createRunFiles", "uploadHeaders", NULL)), 0);
    json_decref(res.body);

    s_exec(&env,
           "{\"query\":\"mutation NotifyScriptableRunAlert { x }\",\"variables\":{"
           "\"entityName\":\"local\",\"projectName\":\"p\",\"runName\":\"r\",\"title\":\"T\","
           "\"text\":\"body\",\"severity\":\"WARN\",\"waitDuration\":60000}}",
           &res);
    CHECK_EQ(res.status, 200);
    CHECK(json_is_true(s_at(res.body, "notifyScriptableRunAlert", "success", NULL)));
    json_decref(res.body);

    s_exec(&env, "{\"query\":\"query SomethingNew { x }\",\"operationName\":null}", &res);
    CHECK_EQ(res.status, 200);
    CHECK(!res.known);
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(res.body, "errors"), 0), "message"));
    CHECK_STREQ(msg, "unknown operation 'SomethingNew'");
    CHECK(json_is_null(json_object_get(res.body, "data")));
    json_decref(res.body);

    s_exec(&env, "{\"query\":\"query ServerFeaturesQuery { x }\"}", &res);
    CHECK_EQ(res.status, 200);
    CHECK_EQ(json_array_size(s_at(res.body, "serverInfo", "features", NULL)), 0);
    json_decref(res.body);

    s_exec(&env, "{\"query\":\"query Viewer { viewer { entity } }\"}", &res);
    CHECK_STREQ(json_string_value(s_at(res.body, "viewer", "entity", NULL)), "local");
    CHECK_STREQ(json_string_value(s_at(res.body, "viewer", "flags", NULL)), "{}");
    json_decref(res.body);

    s_exec(&env, "[1]", &res);
    CHECK_EQ(res.status, 400);
    json_decref(res.body);
    s_env_release(&env);
}

// A database locked by another writer is a transient condition: 503, not 4xx.
static void test_busy_is_503(void)
{
    s_env_t env;
    s_env_init(&env);
    char db[128];
    snprintf(db, sizeof db, "%s/wandb.db", env.dir);
    wbi_store_t *other = NULL;
    char err[256];
    CHECK_OK(wbi_store_open(&other, db, false, err, sizeof err));
    CHECK_OK(wbi_store_begin(other)); // holds the write lock
    wbi_store_set_busy_timeout(env.store, 50);
    wbi_gql_result_t res;
    s_exec(&env,
           "{\"query\":\"mutation UpsertBucket { x }\",\"variables\":{\"name\":\"r\","
           "\"project\":\"p\"}}",
           &res);
    CHECK_EQ(res.status, 503);
    json_decref(res.body);
    wbi_store_rollback(other);
    wbi_store_destroy(&other);
    s_exec(&env,
           "{\"query\":\"mutation UpsertBucket { x }\",\"variables\":{\"name\":\"r\","
           "\"project\":\"p\"}}",
           &res);
    CHECK_EQ(res.status, 200);
    json_decref(res.body);
    s_env_release(&env);
}

WBT_MAIN({"op_name", test_op_name}, {"config_encodings", test_config_encodings}, {"gid", test_gid},
         {"upsert_bucket", test_upsert_bucket}, {"resume_status", test_resume_status},
         {"files_alert_unknown", test_files_alert_unknown}, {"busy_is_503", test_busy_is_503})
