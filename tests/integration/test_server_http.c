//  test_server_http.c - the real wandb-mpi-server binary over HTTP (libcurl)
//  SPDX-License-Identifier: MIT
//
//  Each test starts its own server on an ephemeral port in a temp dir, reads
//  the "listening on" line, talks to it with one keep-alive curl handle and
//  stops it with SIGTERM. Every wait is bounded.

#include "testutil.h"

#include "common/jsonx.h"
#include "harness/server_harness.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    wbt_server_t srv;     // the server process, its directory, URL and API key
    CURL *curl;           // one handle: one keep-alive connection
    long status;          // status of the last request
    char body[1 << 16];   // body of the last response (truncated)
    size_t body_len;      // its length
    char retry_after[32]; // Retry-After header of the last response ("" when none)
} s_srv_t;

// Starts the server in dir (NULL: a new temp dir) with extra arguments;
// waits (<= 10 s) for its line and ready file.
static void s_start_in(s_srv_t *s, const char *dir, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    wbt_server_start(&s->srv, bin, dir, extra);
    s->curl = curl_easy_init();
    CHECK(s->curl != NULL);
}

// Starts the server in a new temp dir.
static void s_start(s_srv_t *s, const char *const *extra)
{
    s_start_in(s, NULL, extra);
}

// Stops the server (it must exit 0 on SIGTERM within 10 s) and removes its dir.
static void s_stop(s_srv_t *s)
{
    curl_easy_cleanup(s->curl);
    CHECK_EQ(wbt_server_stop(&s->srv), 0);
    CHECK(wbt_rm_tree(s->srv.dir) == 0);
}

// Appends response bytes (truncated to the buffer).
static size_t s_write(char *data, size_t size, size_t n, void *arg)
{
    s_srv_t *s = arg;
    size_t len = size * n;
    size_t room = sizeof s->body - 1 - s->body_len;
    size_t take = len < room ? len : room;
    memcpy(s->body + s->body_len, data, take);
    s->body_len += take;
    s->body[s->body_len] = '\0';
    return len;
}

// Keeps the Retry-After header of a response.
static size_t s_header(char *data, size_t size, size_t n, void *arg)
{
    s_srv_t *s = arg;
    size_t len = size * n;
    const char *name = "Retry-After:";
    if (len > strlen(name) && strncasecmp(data, name, strlen(name)) == 0) {
        size_t v = strlen(name);
        while (v < len && data[v] == ' ')
            v++;
        size_t end = len;
        while (end > v && (data[end - 1] == '\r' || data[end - 1] == '\n'))
            end--;
        snprintf(s->retry_after, sizeof s->retry_after, "%.*s", (int)(end - v), data + v);
    }
    return len;
}

// One request. auth: "key" (Basic api:KEY), "bearer", "bad" or NULL.
static void s_req(s_srv_t *s, const char *method, const char *path, const char *auth,
                  const char *body)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", s->srv.url, path);
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    s->retry_after[0] = '\0';
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char bearer[200];
    if (auth && strcmp(auth, "key") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, "api");
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->srv.key);
    } else if (auth && strcmp(auth, "bearer") == 0) {
        snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", s->srv.key);
        h = curl_slist_append(h, bearer);
    } else if (auth && strcmp(auth, "bad") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, "api");
        curl_easy_setopt(c, CURLOPT_PASSWORD, "local-wrong");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    s->body_len = 0;
    s->body[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK)
        WBT_FAIL("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
}

// The last response parsed as extended JSON (bare NaN/Infinity allowed).
static json_t *s_json(s_srv_t *s)
{
    json_error_t err;
    json_t *j = wbi_jsonx_loadb(s->body, s->body_len, 0, &err);
    if (!j)
        WBT_FAIL("response is not JSON (%s): %s", err.text, s->body);
    return j;
}

// GET /api/v1/runs?project=P and returns the first run (new reference).
static json_t *s_run(s_srv_t *s, const char *project)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs?project=%s", project);
    s_req(s, "GET", path, "key", NULL);
    CHECK_EQ(s->status, 200);
    json_t *j = s_json(s);
    json_t *run = json_incref(json_array_get(json_object_get(j, "runs"), 0));
    json_decref(j);
    return run;
}

// CreateRunFiles for one file of local/proj/run1; out gets the path part of
// its upload URL (which must be on this server).
static void s_upload_path(s_srv_t *s, const char *name, char *out, size_t len)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"query\":\"mutation CreateRunFiles { x }\",\"variables\":{\"entity\":\"local\","
             "\"project\":\"proj\",\"run\":\"run1\",\"files\":[\"%s\"]}}",
             name);
    s_req(s, "POST", "/graphql", "key", body);
    CHECK_EQ(s->status, 200);
    json_t *j = s_json(s);
    json_t *file = json_array_get(
        json_object_get(json_object_get(json_object_get(j, "data"), "createRunFiles"), "files"), 0);
    const char *upload = json_string_value(json_object_get(file, "uploadUrl"));
    CHECK(upload && strncmp(upload, s->srv.url, strlen(s->srv.url)) == 0);
    snprintf(out, len, "%s", upload + strlen(s->srv.url));
    json_decref(j);
}

static const char *S_UPSERT =
    "{\"query\":\"mutation UpsertBucket($name: String) { upsertBucket { bucket { id } } }\","
    "\"operationName\":\"UpsertBucket\",\"variables\":{\"name\":\"run1\",\"project\":\"proj\","
    "\"entity\":null,\"groupName\":\"job-7\",\"jobType\":\"train\","
    "\"config\":\"{\\\"lr\\\":{\\\"value\\\":0.25}}\",\"tags\":null}}";

// The generated API key has the format both official clients accept, is
// stored with mode 0600 and reused at the next start.
static void test_api_key_file(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    CHECK_EQ(strlen(s.srv.key), 46);
    CHECK(strncmp(s.srv.key, "local-", 6) == 0);
    for (size_t i = 6; i < 46; i++)
        CHECK((s.srv.key[i] >= 'a' && s.srv.key[i] <= 'z') ||
              (s.srv.key[i] >= '0' && s.srv.key[i] <= '9'));
    char path[128];
    snprintf(path, sizeof path, "%s/api_key", s.srv.dir);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    // Restart on the same directory: the same key, the same data.
    char key[128], dir[64];
    snprintf(key, sizeof key, "%s", s.srv.key);
    snprintf(dir, sizeof dir, "%s", s.srv.dir);
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    curl_easy_cleanup(s.curl);
    CHECK_EQ(wbt_server_stop(&s.srv), 0);
    s_start_in(&s, dir, NULL);
    CHECK_STREQ(s.srv.key, key);
    json_t *run = s_run(&s, "proj");
    CHECK_STREQ(json_string_value(json_object_get(run, "id")), "run1");
    json_decref(run);
    s_stop(&s);
}

// No key, a wrong key: 401 with a JSON error, and nothing stored.
static void test_auth_required(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    s_req(&s, "POST", "/graphql", NULL, S_UPSERT);
    CHECK_EQ(s.status, 401);
    CHECK(strstr(s.body, "API key") != NULL);
    s_req(&s, "POST", "/graphql", "bad", S_UPSERT);
    CHECK_EQ(s.status, 401);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", NULL,
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{}\"]}}}");
    CHECK_EQ(s.status, 401);
    s_req(&s, "GET", "/api/v1/runs", NULL, NULL);
    CHECK_EQ(s.status, 401);
    // Nothing was created: the key (as Bearer, then as ?api_key=) sees no runs.
    s_req(&s, "GET", "/api/v1/runs", "bearer", NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "{\"runs\":[]}");
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs?api_key=%s", s.srv.key);
    s_req(&s, "GET", path, NULL, NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "{\"runs\":[]}");
    s_req(&s, "GET", "/api/v1/stats", "key", NULL);
    json_t *st = s_json(&s);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(st, "requests"), "unauthorized")),
             4);
    json_decref(st);
    s_stop(&s);
}

// UpsertBucket + file_stream: offsets are idempotent, NaN/Infinity survive,
// the summary is the last line, complete/exitcode sets the state.
static void test_run_lifecycle(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    CHECK(strstr(s.body, "\"historyLineCount\":0") != NULL);
    CHECK(strstr(s.body, "\"inserted\":true") != NULL);

    const char *chunk1 =
        "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":["
        "\"{\\\"_step\\\":0,\\\"loss\\\":NaN}\",\"{\\\"_step\\\":1,\\\"loss\\\":Infinity}\"]},"
        "\"output.log\":{\"offset\":0,\"content\":[\"hello\"]}}}";
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", chunk1);
    CHECK_EQ(s.status, 200);
    CHECK(strstr(s.body, "\"exitcode\":null") != NULL);
    // The same request again (a client retry) and the next chunk.
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", chunk1);
    CHECK_EQ(s.status, 200);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":2,\"content\":["
          "\"{\\\"_step\\\":2,\\\"loss\\\":-Infinity}\"]},"
          "\"wandb-summary.json\":{\"offset\":0,\"content\":[\"{\\\"loss\\\":1}\","
          "\"{\\\"loss\\\":-Infinity,\\\"_step\\\":2}\"]}},\"uploaded\":[\"config.yaml\"]}");
    CHECK_EQ(s.status, 200);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", "{}"); // heartbeat
    CHECK_EQ(s.status, 200);

    s_req(&s, "GET", "/api/v1/runs/run1/history?project=proj", "key", NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "{\"rows\":[{\"_step\":0,\"loss\":NaN},{\"_step\":1,\"loss\":Infinity},"
                        "{\"_step\":2,\"loss\":-Infinity}]}");
    s_req(&s, "GET", "/api/v1/runs/run1/logs", "key", NULL);
    CHECK_STREQ(s.body, "{\"lines\":[\"hello\"]}");

    json_t *run = s_run(&s, "proj");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "running");
    CHECK_STREQ(json_string_value(json_object_get(run, "group")), "job-7");
    CHECK_STREQ(json_string_value(json_object_get(run, "entity")), "local");
    CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 3);
    CHECK(json_real_value(json_object_get(json_object_get(run, "config"), "lr")) == 0.25);
    json_decref(run);
    // The summary holds -Infinity: check the raw text.
    s_req(&s, "GET", "/api/v1/runs/run1", "key", NULL);
    CHECK(strstr(s.body, "\"summary\":{\"loss\":-Infinity,\"_step\":2}") != NULL);
    s_req(&s, "GET", "/api/v1/runs/run1/files", "key", NULL);
    CHECK(strstr(s.body, "\"name\":\"config.yaml\"") && strstr(s.body, "\"uploaded\":true"));

    // A second upsert reports the history line count (resume offset).
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK(strstr(s.body, "\"historyLineCount\":3") != NULL);
    CHECK(strstr(s.body, "\"inserted\":false") != NULL);

    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"complete\":true,\"exitcode\":0}");
    CHECK_EQ(s.status, 200);
    run = s_run(&s, "proj");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(run, "exit_code")), 0);
    json_decref(run);

    // Another run of another project fails with exit code 3; it did not
    // exist before its first file_stream request.
    s_req(&s, "POST", "/files/local/other/run2/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{\\\"a\\\":1}\"]}},"
          "\"complete\":true,\"exitcode\":3}");
    CHECK_EQ(s.status, 200);
    run = s_run(&s, "other");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(run, "exit_code")), 3);
    json_decref(run);
    s_stop(&s);
}

// Several requests over one curl handle are one TCP connection.
static void test_keepalive_one_connection(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    for (int i = 0; i < 5; i++) {
        s_req(&s, "POST", "/graphql", "key", S_UPSERT);
        CHECK_EQ(s.status, 200);
        s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", "{}");
        CHECK_EQ(s.status, 200);
    }
    s_req(&s, "POST", "/graphql", "key", "{not json"); // errors keep the connection
    CHECK_EQ(s.status, 400);
    s_req(&s, "GET", "/api/v1/stats", "key", NULL);
    CHECK_EQ(s.status, 200);
    json_t *st = s_json(&s);
    CHECK_EQ(json_integer_value(json_object_get(st, "connections")), 1);
    json_t *req = json_object_get(st, "requests");
    CHECK_EQ(json_integer_value(json_object_get(req, "graphql")), 6);
    CHECK_EQ(json_integer_value(json_object_get(req, "file_stream")), 5);
    CHECK_EQ(json_integer_value(json_object_get(req, "api")), 1);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(st, "operations"), "UpsertBucket")),
             5);
    json_decref(st);
    long conns = 0;
    curl_easy_getinfo(s.curl, CURLINFO_NUM_CONNECTS, &conns);
    CHECK_EQ(conns, 0); // the last request reused the connection
    s_stop(&s);
}

// Malformed JSON: 400 saying where; unknown operation: 200 + error naming
// it; a bad file_stream body: 400; unknown paths and otel: 404.
static void test_errors(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    s_req(&s, "POST", "/graphql", "key", "{\"query\": \"x\",\n \"variables\": {oops}}");
    CHECK_EQ(s.status, 400);
    CHECK(strstr(s.body, "malformed JSON body at line 2 column") != NULL);
    s_req(&s, "POST", "/graphql", "key",
          "{\"query\":\"query Frobnicate { x }\",\"operationName\":\"\"}");
    CHECK_EQ(s.status, 200);
    CHECK(strstr(s.body, "unknown operation 'Frobnicate'") != NULL);
    CHECK(strstr(s.body, "\"data\":null") != NULL);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":-1,\"content\":[]}}}");
    CHECK_EQ(s.status, 400);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[1]}}}");
    CHECK_EQ(s.status, 400);
    CHECK(strstr(s.body, "content[0]") != NULL);
    s_req(&s, "POST", "/files/local/proj/file_stream", "key", "{}");
    CHECK_EQ(s.status, 404);
    s_req(&s, "POST", "/sdk/otel/v1/metrics", NULL, "");
    CHECK_EQ(s.status, 404);
    s_req(&s, "GET", "/nope", NULL, NULL);
    CHECK_EQ(s.status, 404);
    s_req(&s, "GET", "/api/v1/runs/ghost/history", "key", NULL);
    CHECK_EQ(s.status, 404);
    s_req(&s, "GET", "/healthz", NULL, NULL);
    CHECK_EQ(s.status, 200);
    // The bad requests stored nothing.
    s_req(&s, "GET", "/api/v1/runs", "key", NULL);
    CHECK_STREQ(s.body, "{\"runs\":[]}");
    s_stop(&s);
}

// CreateRunFiles + PUT of the returned URL stores the bytes; traversal and
// a wrong token are refused.
static void test_upload(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    char path[512];
    s_upload_path(&s, "media/a.txt", path, sizeof path);
    // Uploads carry no credentials.
    s_req(&s, "PUT", path, NULL, "file bytes\n");
    CHECK_EQ(s.status, 200);
    char stored[256];
    snprintf(stored, sizeof stored, "%s/files/local/proj/run1/media/a.txt", s.srv.dir);
    FILE *f = fopen(stored, "r");
    CHECK(f != NULL);
    char buf[64] = "";
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    CHECK_STREQ(buf, "file bytes\n");
    s_req(&s, "GET", "/api/v1/runs/run1/files", "key", NULL);
    CHECK(strstr(s.body, "{\"name\":\"media/a.txt\",\"size\":11,\"uploaded\":true") != NULL);

    // Traversal, plain and percent-encoded, and a wrong token.
    char token[64];
    const char *t0 = path + strlen("/upload/");
    snprintf(token, sizeof token, "%.*s", (int)strcspn(t0, "/"), t0);
    const char *bad[] = {"/local/proj/run1/../../../../escape.txt",
                         "/local/proj/run1/%2e%2e/%2E%2E/escape.txt", "/local/../run1/x.txt",
                         "/local/proj/run1/a//b.txt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/upload/%s%s", token, bad[i]);
        s_req(&s, "PUT", path, NULL, "evil");
        if (s.status != 400)
            WBT_FAIL("PUT %s: status %ld, want 400", path, s.status);
    }
    s_req(&s, "PUT", "/upload/wrongtoken/local/proj/run1/x.txt", NULL, "evil");
    CHECK_EQ(s.status, 403);
    snprintf(path, sizeof path, "%s/escape.txt", s.srv.dir);
    CHECK(access(path, F_OK) != 0);
    s_stop(&s);
}

// The whole file_stream body as the official clients send it: output.log lines
// rewritten in place (same offset, new text), wandb-events.jsonl, uploaded,
// preempting, the {} heartbeat and complete/exitcode; and the bytes of an
// uploaded file through the read API.
static void test_file_stream_body(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"output.log\":{\"offset\":0,\"content\":["
          "\"2026-01-01T00:00:00.1 epoch 1\",\"2026-01-01T00:00:00.2 progress 1/3\"]},"
          "\"wandb-events.jsonl\":{\"offset\":0,\"content\":["
          "\"{\\\"system.cpu\\\":12.5,\\\"_timestamp\\\":1.7e+09,\\\"_runtime\\\":1}\"]}}}");
    CHECK_EQ(s.status, 200);
    // The progress line is rewritten in place, one more line follows.
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"output.log\":{\"offset\":1,\"content\":["
          "\"2026-01-01T00:00:00.2 progress 3/3\",\"2026-01-01T00:00:00.3 done\"]},"
          "\"wandb-events.jsonl\":{\"offset\":1,\"content\":["
          "\"{\\\"system.cpu\\\":NaN,\\\"_timestamp\\\":1.8e+09,\\\"_runtime\\\":2}\"]}},"
          "\"preempting\":true}");
    CHECK_EQ(s.status, 200);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", "{}");
    CHECK_EQ(s.status, 200);
    s_req(&s, "GET", "/api/v1/runs/run1/logs", "key", NULL);
    CHECK_STREQ(s.body, "{\"lines\":[\"2026-01-01T00:00:00.1 epoch 1\","
                        "\"2026-01-01T00:00:00.2 progress 3/3\",\"2026-01-01T00:00:00.3 done\"]}");
    s_req(&s, "GET", "/api/v1/runs/run1/events", "key", NULL);
    CHECK_STREQ(s.body, "{\"rows\":[{\"system.cpu\":12.5,\"_timestamp\":1.7e+09,\"_runtime\":1},"
                        "{\"system.cpu\":NaN,\"_timestamp\":1.8e+09,\"_runtime\":2}]}");

    // An upload, then `uploaded` naming it and the final exit code.
    char path[512];
    s_upload_path(&s, "sub/end.txt", path, sizeof path);
    s_req(&s, "PUT", path, NULL, "end bytes\n");
    CHECK_EQ(s.status, 200);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"uploaded\":[\"sub/end.txt\"],\"complete\":true,\"exitcode\":2}");
    CHECK_EQ(s.status, 200);
    json_t *run = s_run(&s, "proj");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(run, "exit_code")), 2);
    CHECK(json_is_true(json_object_get(run, "preempting")));
    CHECK_EQ(json_integer_value(json_object_get(run, "log_count")), 3);
    CHECK_EQ(json_integer_value(json_object_get(run, "events_count")), 2);
    json_decref(run);
    s_req(&s, "GET", "/api/v1/runs/run1/files/sub/end.txt", "key", NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "end bytes\n");
    s_req(&s, "GET", "/api/v1/runs/run1/files/sub%2Fend.txt?project=proj", "key", NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "end bytes\n");
    s_req(&s, "GET", "/api/v1/runs/run1/files/missing.txt", "key", NULL);
    CHECK_EQ(s.status, 404);
    CHECK(strstr(s.body, "has no uploaded file 'missing.txt'") != NULL);
    s_req(&s, "GET", "/api/v1/runs/run1/files/sub/../../x", "key", NULL);
    CHECK(s.status == 400 || s.status == 404);
    s_req(&s, "GET", "/api/v1/runs/run1/files/sub/end.txt", NULL, NULL);
    CHECK_EQ(s.status, 401);
    s_stop(&s);
}

// Malformed file_stream fields get a 400 that names the field; nothing is
// stored (one request is one transaction).
static void test_file_stream_400(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    const struct {
        const char *body; // request body
        const char *msg;  // expected part of the message
    } cases[] = {
        {"{\"uploaded\":\"config.yaml\"}", "'uploaded' must be a list of file names"},
        {"{\"uploaded\":[\"../x\"]}", "uploaded[0] is not a relative file name"},
        {"{\"complete\":true,\"exitcode\":\"0\"}", "'exitcode' must be an integer or null"},
        {"{\"preempting\":1}", "'preempting' must be true or false"},
        {"{\"files\":[]}", "'files' must be an object"},
        {"{\"files\":{\"a/../b\":{\"offset\":0,\"content\":[]}}}", "file name 'a/../b'"},
        {"{\"files\":{\"output.log\":{\"offset\":\"1\",\"content\":[]}}}",
         "file 'output.log' needs an integer 'offset' >= 0"},
        {"[1]", "the body must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", cases[i].body);
        if (s.status != 400 || !strstr(s.body, cases[i].msg))
            WBT_FAIL("%s: status %ld body %s, want 400 with '%s'", cases[i].body, s.status, s.body,
                     cases[i].msg);
    }
    s_req(&s, "POST", "/files/local/proj/file_stream", "key", "{}");
    CHECK_EQ(s.status, 404);
    CHECK(strstr(s.body, "expected /files/<entity>/<project>/<run>/file_stream") != NULL);
    s_req(&s, "POST", "/graphql", "key", "{\"query\":\"{ viewer { id } }\"}");
    CHECK_EQ(s.status, 200);
    CHECK(strstr(s.body, "no operation name") != NULL);
    s_req(&s, "PUT", "/upload/tok", NULL, "x");
    CHECK_EQ(s.status, 400);
    CHECK(strstr(s.body, "expected /upload/<token>/<entity>/<project>/<run>/<name>") != NULL);
    s_req(&s, "GET", "/api/v1/runs", "key", NULL);
    CHECK_STREQ(s.body, "{\"runs\":[]}");
    s_stop(&s);
}

// A database locked by another writer is a transient condition: 503 with
// Retry-After (after the 5 s busy timeout), never a 4xx; the retry succeeds.
static void test_busy_503(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    char path[256];
    snprintf(path, sizeof path, "%s/wandb.db", s.srv.dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{\\\"a\\\":1}\"]}}}");
    CHECK_EQ(s.status, 503);
    CHECK_STREQ(s.retry_after, "1");
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 503);
    CHECK_STREQ(s.retry_after, "1");
    CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{\\\"a\\\":1}\"]}}}");
    CHECK_EQ(s.status, 200);
    s_req(&s, "GET", "/api/v1/runs/run1/history", "key", NULL);
    CHECK_STREQ(s.body, "{\"rows\":[{\"a\":1}]}");
    s_stop(&s);
}

// A running run that goes silent becomes crashed; a new heartbeat revives it.
static void test_heartbeat_timeout(void)
{
    s_srv_t s;
    const char *extra[] = {"--heartbeat-timeout-s", "0.5", NULL};
    s_start(&s, extra);
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    const char *state = NULL;
    json_t *run = NULL;
    for (int i = 0; i < 50; i++) { // <= 5 s
        usleep(100 * 1000);
        json_decref(run);
        run = s_run(&s, "proj");
        state = json_string_value(json_object_get(run, "state"));
        if (state && strcmp(state, "crashed") == 0)
            break;
    }
    CHECK_STREQ(state, "crashed");
    json_decref(run);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key", "{}");
    run = s_run(&s, "proj");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "running");
    json_decref(run);
    s_stop(&s);
}

// --record-requests writes one JSON line per request, key redacted.
static void test_record_requests(void)
{
    s_srv_t s;
    const char *extra[] = {"--record-requests", "--api-key", "local-given-key", NULL};
    s_start(&s, extra); // s.srv.key is the one given
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    s_req(&s, "POST", "/files/local/proj/run1/file_stream", "key",
          "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{\\\"x\\\":NaN}\"]}}}");
    CHECK_EQ(s.status, 200);
    char path[128];
    snprintf(path, sizeof path, "%s/requests.jsonl", s.srv.dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            WBT_FAIL("recorded line is not JSON: %s", line);
        const char *auth =
            json_string_value(json_object_get(json_object_get(j, "headers"), "Authorization"));
        CHECK_STREQ(auth, "Basic <redacted>");
        CHECK(strstr(line, "local-given-key") == NULL);
        if (n == 0) {
            CHECK_STREQ(json_string_value(json_object_get(j, "operationName")), "UpsertBucket");
            CHECK_STREQ(json_string_value(json_object_get(j, "path")), "/graphql");
            CHECK_STREQ(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "body"), "variables"), "groupName")),
                        "job-7");
        } else {
            CHECK_STREQ(json_string_value(json_object_get(j, "method")), "POST");
            CHECK(json_is_object(json_object_get(json_object_get(j, "body"), "files")));
        }
        json_decref(j);
        n++;
    }
    fclose(f);
    CHECK_EQ(n, 2);
    s_stop(&s);
}

// A port in use: exit 1, a message on stderr, nothing on stdout.
static void test_port_in_use(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    char port[16];
    snprintf(port, sizeof port, "%s", strrchr(s.srv.url, ':') + 1);
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/second", s.srv.dir);
    const char *argv[] = {bin, "--dir", dir, "--port", port, "--log-level", "err", NULL};
    int out = -1;
    pid_t pid = wbt_spawn(argv, &out);
    int code = wbt_wait_exit(pid, 10000);
    if (code < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        WBT_FAIL("second server on a used port did not exit");
    }
    CHECK_EQ(code, 1);
    char buf[64];
    CHECK_EQ(read(out, buf, sizeof buf), 0);
    close(out);
    // Bad usage is exit code 2.
    const char *bad[] = {bin, "--port", "99999", NULL};
    pid = wbt_spawn(bad, &out);
    CHECK_EQ(wbt_wait_exit(pid, 10000), 2);
    close(out);
    s_stop(&s);
}

WBT_MAIN({"api_key_file", test_api_key_file}, {"auth_required", test_auth_required},
         {"run_lifecycle", test_run_lifecycle},
         {"keepalive_one_connection", test_keepalive_one_connection}, {"errors", test_errors},
         {"upload", test_upload}, {"file_stream_body", test_file_stream_body},
         {"file_stream_400", test_file_stream_400}, {"busy_503", test_busy_503},
         {"heartbeat_timeout", test_heartbeat_timeout}, {"record_requests", test_record_requests},
         {"port_in_use", test_port_in_use})
