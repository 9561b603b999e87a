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

    // Bytes that are not UTF-8 (MHD decodes %FF) in a segment or the name:
    // 400, no file, no run.
    const char *not_utf8[] = {"/local/p/r%FF/a.txt", "/local/p/r/b%FF.txt",
                              "/local/p/r/sub%C3/a.txt"};
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        snprintf(path, sizeof path, "/upload/%s%s", token, not_utf8[i]);
        s_req(&s, "PUT", path, NULL, "bytes");
        if (s.status != 400)
            WBT_FAIL("PUT %s: status %ld, want 400", path, s.status);
    }
    snprintf(path, sizeof path, "%s/files/local/p", s.srv.dir);
    CHECK(access(path, F_OK) != 0);
    s_req(&s, "GET", "/api/v1/runs?project=p", "key", NULL);
    CHECK_EQ(s.status, 200);
    CHECK_STREQ(s.body, "{\"runs\":[]}");
    s_stop(&s);
}

// Starts the server through /bin/sh with WANDB_LOG_LEVEL=env_level, stderr
// into DIR/server.log and the flags in args (one shell word string); fills
// s like s_start (URL from the "listening on" line, key from DIR/api_key).
static void s_start_logged(s_srv_t *s, const char *env_level, const char *args)
{
    memset(s, 0, sizeof *s);
    s->srv.out = -1;
    snprintf(s->srv.dir, sizeof s->srv.dir, "/tmp/wbt-server-XXXXXX");
    CHECK(mkdtemp(s->srv.dir) != NULL);
    char bin[512], cmd[2048];
    wbt_server_path(bin, sizeof bin, false);
    snprintf(cmd, sizeof cmd,
             "WANDB_LOG_LEVEL=%s exec '%s' --dir '%s' --port 0 %s 2>'%s/server.log'", env_level,
             bin, s->srv.dir, args, s->srv.dir);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    s->srv.pid = wbt_spawn(argv, &s->srv.out);
    wbt_read_line(s->srv.out, "listening on ", WBT_SERVER_WAIT_MS, s->srv.url, sizeof s->srv.url);
    char path[128];
    snprintf(path, sizeof path, "%s/api_key", s->srv.dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(s->srv.key, sizeof s->srv.key, f) != NULL);
    fclose(f);
    s->srv.key[strcspn(s->srv.key, "\n")] = '\0';
    s->curl = curl_easy_init();
    CHECK(s->curl != NULL);
}

// Reads DIR/server.log (written by a server started with s_start_logged).
static void s_read_log(const s_srv_t *s, char *out, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/server.log", s->srv.dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

// The state of run name in dir, as `wandb-mpi runs --dir D --json` prints it
// (out gets "" when the run is not listed).
static void s_cli_state(const char *dir, const char *name, char *out, size_t len)
{
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/src/cli/wandb-mpi' runs --dir '%s' --json", bin ? bin : ".",
             dir);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    out[0] = '\0';
    char line[8192];
    while (fgets(line, sizeof line, p)) {
        json_error_t err;
        json_t *j = wbi_jsonx_loadb(line, strlen(line), 0, &err);
        if (!j)
            WBT_FAIL("CLI line is not JSON: %s", line);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && strcmp(id, name) == 0)
            snprintf(out, len, "%s", json_string_value(json_object_get(j, "state")));
        json_decref(j);
    }
    CHECK_EQ(pclose(p), 0);
}

// Creates run name of project proj: UpsertBucket, then one file_stream line
// (and complete with exit code 0 when finish).
static void s_make_run(s_srv_t *s, const char *name, bool finish)
{
    char body[512], path[256];
    snprintf(body, sizeof body,
             "{\"query\":\"mutation UpsertBucket { x }\",\"operationName\":\"UpsertBucket\","
             "\"variables\":{\"name\":\"%s\",\"project\":\"proj\"}}",
             name);
    s_req(s, "POST", "/graphql", "key", body);
    CHECK_EQ(s->status, 200);
    snprintf(path, sizeof path, "/files/local/proj/%s/file_stream", name);
    snprintf(body, sizeof body,
             "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{\\\"a\\\":1}\"]}}"
             "%s}",
             finish ? ",\"complete\":true,\"exitcode\":0" : "");
    s_req(s, "POST", path, "key", body);
    CHECK_EQ(s->status, 200);
}

// --settle-on-exit: at SIGTERM a run still running becomes crashed (one INFO
// line with the count); a finished run stays finished. Without the flag the
// running run is left as it is.
static void test_settle_on_exit(void)
{
    s_srv_t s;
    s_start_logged(&s, "warn", "--settle-on-exit --log-level info");
    s_make_run(&s, "alive", false);
    s_make_run(&s, "done", true);
    char state[64];
    s_cli_state(s.srv.dir, "alive", state, sizeof state);
    CHECK_STREQ(state, "running");
    curl_easy_cleanup(s.curl);
    CHECK_EQ(wbt_server_stop(&s.srv), 0);
    s_cli_state(s.srv.dir, "alive", state, sizeof state);
    CHECK_STREQ(state, "crashed");
    s_cli_state(s.srv.dir, "done", state, sizeof state);
    CHECK_STREQ(state, "finished");
    char log[16384];
    s_read_log(&s, log, sizeof log);
    CHECK(strstr(log, "INFO  server: settled at exit: 1 running run(s) marked crashed") != NULL);
    CHECK(wbt_rm_tree(s.srv.dir) == 0);

    s_start(&s, NULL);
    s_make_run(&s, "alive", false);
    curl_easy_cleanup(s.curl);
    CHECK_EQ(wbt_server_stop(&s.srv), 0);
    s_cli_state(s.srv.dir, "alive", state, sizeof state);
    CHECK_STREQ(state, "running");
    CHECK(wbt_rm_tree(s.srv.dir) == 0);
}

// --log-level wins over WANDB_LOG_LEVEL.
static void test_log_level_flag_wins(void)
{
    s_srv_t s;
    s_start_logged(&s, "debug", "--log-level err");
    s_req(&s, "GET", "/healthz", NULL, NULL);
    CHECK_EQ(s.status, 200);
    curl_easy_cleanup(s.curl);
    CHECK_EQ(wbt_server_stop(&s.srv), 0);
    char log[16384];
    s_read_log(&s, log, sizeof log);
    if (log[0])
        WBT_FAIL("--log-level err, yet the server logged: %s", log);
    CHECK(wbt_rm_tree(s.srv.dir) == 0);
}

// Servers starting at once on a new directory publish one API key, and all
// of them accept it.
static void test_api_key_race(void)
{
    enum { N = 4 };
    char dir[64] = "/tmp/wbt-server-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    s_srv_t *s = calloc(N, sizeof *s);
    CHECK(s != NULL);
    for (int i = 0; i < N; i++) {
        const char *argv[] = {bin, "--dir", dir, "--port", "0", "--log-level", "err", NULL};
        s[i].srv.pid = wbt_spawn(argv, &s[i].srv.out);
    }
    char key[128];
    for (int i = 0; i < N; i++)
        wbt_read_line(s[i].srv.out, "listening on ", WBT_SERVER_WAIT_MS, s[i].srv.url,
                      sizeof s[i].srv.url);
    char path[128];
    snprintf(path, sizeof path, "%s/api_key", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(key, sizeof key, f) != NULL);
    fclose(f);
    key[strcspn(key, "\n")] = '\0';
    CHECK_EQ(strlen(key), 46);
    // Every server is asked, then stopped, and only then checked: a failed
    // check must not leave servers running.
    for (int i = 0; i < N; i++) {
        snprintf(s[i].srv.key, sizeof s[i].srv.key, "%s", key);
        s[i].curl = curl_easy_init();
        CHECK(s[i].curl != NULL);
        s_req(&s[i], "GET", "/api/v1/runs", "key", NULL);
        curl_easy_cleanup(s[i].curl);
    }
    int codes[N];
    for (int i = 0; i < N; i++)
        codes[i] = wbt_server_stop(&s[i].srv);
    for (int i = 0; i < N; i++) {
        if (s[i].status != 200)
            WBT_FAIL("server %d refuses the published key: status %ld", i, s[i].status);
        CHECK_EQ(codes[i], 0);
    }
    free(s);
    CHECK(wbt_rm_tree(dir) == 0);
}

// An api_key file that exists but cannot be read is a startup error (exit
// 1), never a reason to replace it with a new key.
static void test_api_key_unreadable(void)
{
    char dir[64] = "/tmp/wbt-server-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/api_key", dir);
    CHECK(symlink("api_key", path) == 0); // ELOOP on open
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    const char *argv[] = {bin, "--dir", dir, "--port", "0", "--log-level", "err", NULL};
    int out = -1;
    pid_t pid = wbt_spawn(argv, &out);
    int code = wbt_wait_exit(pid, 10000);
    if (code < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        WBT_FAIL("server with an unreadable api_key kept running");
    }
    CHECK_EQ(code, 1);
    close(out);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(wbt_rm_tree(dir) == 0);
}

// Operation names the server does not know are counted under one key.
static void test_unknown_ops_counted(void)
{
    s_srv_t s;
    s_start(&s, NULL);
    const char *names[] = {"Foo1", "Foo2", "Foo3"};
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"query\":\"query %s { x }\",\"operationName\":\"%s\"}",
                 names[i], names[i]);
        s_req(&s, "POST", "/graphql", "key", body);
        CHECK_EQ(s.status, 200);
    }
    s_req(&s, "POST", "/graphql", "key", S_UPSERT);
    CHECK_EQ(s.status, 200);
    s_req(&s, "GET", "/api/v1/stats", "key", NULL);
    json_t *st = s_json(&s);
    json_t *ops = json_object_get(st, "operations");
    CHECK_EQ(json_integer_value(json_object_get(ops, "unknown")), 3);
    CHECK_EQ(json_integer_value(json_object_get(ops, "UpsertBucket")), 1);
    CHECK(json_object_get(ops, "Foo1") == NULL);
    CHECK_EQ(json_object_size(ops), 2);
    json_decref(st);
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
         {"port_in_use", test_port_in_use}, {"settle_on_exit", test_settle_on_exit},
         {"log_level_flag_wins", test_log_level_flag_wins}, {"api_key_race", test_api_key_race},
         {"api_key_unreadable", test_api_key_unreadable},
         {"unknown_ops_counted", test_unknown_ops_counted})
