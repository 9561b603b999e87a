//  test_server_hardening.c - wandb-mpi-server against hostile or careless local clients
//  SPDX-License-Identifier: MIT
//
//  Each test starts the real binary on loopback in its own directory: many
//  idle connections, the key never written in clear, private modes, file_stream
//  offsets, run id rules, no revival of finished runs, upload errors that are
//  the client's fault, and a large body that must not stall other clients.

#include "testutil.h"

#include "common/jsonx.h"
#include "harness/http_client.h"
#include "harness/server_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-hardening-test-key-0123456789abcdefghij"

// Monotonic seconds.
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Starts the server with the test key and extra flags (NULL-terminated).
static void s_start(wbt_server_t *srv, const char *const *extra)
{
    const char *args[16] = {"--api-key", S_KEY};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    wbt_server_start(srv, bin, NULL, args);
}

// Stops the server (exit 0 on SIGTERM) and removes its directory.
static void s_stop(wbt_server_t *srv)
{
    CHECK_EQ(wbt_server_stop(srv), 0);
    wbt_server_release(srv);
}

// One request that must get an answer; returns the status.
static long s_call(wbt_client_t *c, const wbt_server_t *srv, const char *method, const char *path,
                   const char *body)
{
    CURLcode rc = wbt_client_req(c, srv->url, S_KEY, method, path, body, body ? strlen(body) : 0);
    if (rc != CURLE_OK)
        WBT_FAIL("%s %s: %s", method, path, curl_easy_strerror(rc));
    return c->status;
}

// An UpsertBucket body with the given variables (a JSON object text).
static void s_upsert_body(char *out, size_t len, const char *vars)
{
    snprintf(out, len,
             "{\"query\":\"mutation UpsertBucket { x }\",\"operationName\":\"UpsertBucket\","
             "\"variables\":%s}",
             vars);
}

// GET /api/v1/runs/<name>?project=proj: the run (new reference) or NULL on 404.
static json_t *s_run(wbt_client_t *c, const wbt_server_t *srv, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/api/v1/runs/%s?project=proj", name);
    long st = s_call(c, srv, "GET", path, NULL);
    if (st == 404)
        return NULL;
    CHECK_EQ(st, 200);
    return wbt_client_json(c);
}

// Sets the soft descriptor limit; false when the hard limit is lower.
static bool s_set_nofile(rlim_t n)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
        return false;
    rl.rlim_cur = n;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

// Opens n idle TCP connections to the server's port (non-blocking connect,
// loopback only) into fds; returns how many were opened.
static int s_open_idle(const wbt_server_t *srv, int *fds, int n)
{
    int port = (int)strtol(strrchr(srv->url, ':') + 1, NULL, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int opened = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[i] < 0)
            break;
        int rc = connect(fds[i], (struct sockaddr *)&sa, sizeof sa);
        if (rc != 0 && errno != EINPROGRESS) {
            close(fds[i]);
            break;
        }
        opened++;
    }
    return opened;
}

// Closes n descriptors.
static void s_close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

// connections_open from /api/v1/stats.
static long long s_open_connections(wbt_client_t *c, const wbt_server_t *srv)
{
    if (s_call(c, srv, "GET", "/api/v1/stats", NULL) != 200)
        return -1;
    json_t *j = wbt_client_json(c);
    long long n = json_integer_value(json_object_get(j, "connections_open"));
    json_decref(j);
    return n;
}

// A real client's work: create a run, stream one line, read it back.
static void s_real_client(const wbt_server_t *srv, const char *name)
{
    wbt_client_t c;
    wbt_client_init(&c);
    c.timeout_ms = 5000;
    char body[512], path[256];
    char vars[200];
    snprintf(vars, sizeof vars, "{\"name\":\"%s\",\"project\":\"proj\"}", name);
    s_upsert_body(body, sizeof body, vars);
    CHECK_EQ(s_call(&c, srv, "POST", "/graphql", body), 200);
    snprintf(path, sizeof path, "/files/local/proj/%s/file_stream", name);
    CHECK_EQ(s_call(&c, srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{}\"]}}}"),
             200);
    json_t *run = s_run(&c, srv, name);
    CHECK(run != NULL);
    CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 1);
    json_decref(run);
    wbt_client_release(&c);
}

// 5,000 idle connections, the server started with the usual soft limit of
// 1,024 descriptors: /healthz and a real client are still served at once.
static void test_idle_connections_5000(void)
{
    enum { N = 5000 };
    if (!s_set_nofile(1024) || !s_set_nofile(N + 512)) {
        WBT_SKIP("idle_connections_5000: the hard descriptor limit is below %d", N + 512);
    }
    wbt_server_t srv;
    s_set_nofile(1024); // the server starts as a launcher would start it
    s_start(&srv, NULL);
    s_set_nofile(N + 512);
    int *fds = calloc(N, sizeof *fds);
    CHECK(fds != NULL);
    int opened = s_open_idle(&srv, fds, N);
    CHECK_EQ(opened, N);
    wbt_client_t c;
    wbt_client_init(&c);
    c.timeout_ms = 3000;
    // The server holds them all (the stats request is one more).
    long long open = 0;
    double deadline = s_now() + 15;
    while (s_now() < deadline && (open = s_open_connections(&c, &srv)) < N + 1)
        usleep(100 * 1000);
    fprintf(stderr, "idle_connections_5000: %lld connections open\n", open);
    CHECK(open >= N + 1);
    wbt_client_t h;
    wbt_client_init(&h);
    h.timeout_ms = 2000;
    double t0 = s_now();
    CHECK_EQ(wbt_client_req(&h, srv.url, NULL, "GET", "/healthz", NULL, 0), CURLE_OK);
    CHECK_EQ(h.status, 200);
    fprintf(stderr, "idle_connections_5000: /healthz answered in %.3f s\n", s_now() - t0);
    s_real_client(&srv, "busy1");
    wbt_client_release(&h);
    wbt_client_release(&c);
    s_close_all(fds, opened);
    free(fds);
    s_stop(&srv);
}

// With --max-connections 50 and --idle-timeout-s 1, 200 idle connections
// are closed within seconds and /healthz is served again; a connection that
// made an authorized request is kept (keep-alive timeout) past 1 s.
static void test_limit_and_idle_timeout(void)
{
    enum { N = 200 };
    wbt_server_t srv;
    const char *extra[] = {"--max-connections", "50", "--idle-timeout-s", "1", NULL};
    s_start(&srv, extra);
    wbt_client_t kept;
    wbt_client_init(&kept);
    CHECK_EQ(s_call(&kept, &srv, "GET", "/api/v1/runs", NULL), 200);
    int fds[N];
    int opened = s_open_idle(&srv, fds, N);
    CHECK_EQ(opened, N);
    wbt_client_t h;
    wbt_client_init(&h);
    h.timeout_ms = 1000;
    bool served = false;
    double t0 = s_now();
    while (!served && s_now() - t0 < 8) {
        served = wbt_client_req(&h, srv.url, NULL, "GET", "/healthz", NULL, 0) == CURLE_OK &&
                 h.status == 200;
        if (!served)
            usleep(200 * 1000);
    }
    fprintf(stderr, "limit_and_idle_timeout: /healthz served after %.2f s\n", s_now() - t0);
    CHECK(served);
    // The authorized connection is still the same one after > 1 s idle.
    CHECK_EQ(s_call(&kept, &srv, "GET", "/api/v1/runs", NULL), 200);
    long connects = -1;
    curl_easy_getinfo(kept.curl, CURLINFO_NUM_CONNECTS, &connects);
    CHECK_EQ(connects, 0);
    s_close_all(fds, opened);
    wbt_client_release(&h);
    wbt_client_release(&kept);
    s_stop(&srv);
}

// Reads a whole file into a heap string ("" when missing).
static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 1 << 22);
    CHECK(text != NULL);
    if (f) {
        size_t n = fread(text, 1, (1 << 22) - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

// The permission bits of path.
static int s_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        WBT_FAIL("cannot stat '%s'", path);
    return (int)(st.st_mode & 0777);
}

// The key is never written in clear (request log, server log at debug, error
// answers); the data directory is 0700 and its files 0600, also when an older
// version left them 0755/0644.
static void test_key_never_in_clear(void)
{
    char dir[64] = "/tmp/wbt-harden-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(chmod(dir, 0755) == 0);
    char path[256], cmd[2048], bin[512];
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644); // left by an older version
    CHECK(fd >= 0);
    close(fd);
    CHECK(chmod(path, 0644) == 0);
    wbt_server_path(bin, sizeof bin, false);
    snprintf(cmd, sizeof cmd,
             "exec '%s' --dir '%s' --port 0 --api-key '%s' --record-requests --log-level debug"
             " 2>'%s/server.log'",
             bin, dir, S_KEY, dir);
    wbt_server_t srv = {0};
    snprintf(srv.dir, sizeof srv.dir, "%s", dir);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    srv.pid = wbt_spawn(argv, &srv.out);
    wbt_read_line(srv.out, "listening on ", WBT_SERVER_WAIT_MS, srv.url, sizeof srv.url);
    wbt_client_t c;
    wbt_client_init(&c);
    CHECK_EQ(wbt_client_req(&c, srv.url, NULL, "GET", "/api/v1/runs?api_key=" S_KEY, NULL, 0),
             CURLE_OK);
    CHECK_EQ(c.status, 200);
    CHECK_EQ(wbt_client_req(&c, srv.url, NULL, "GET", "/api/v1/runs/nope?api_key=" S_KEY, NULL, 0),
             CURLE_OK);
    CHECK_EQ(c.status, 404);
    CHECK(strstr(c.body, S_KEY) == NULL);
    CHECK_EQ(wbt_client_req(&c, srv.url, NULL, "GET", "/api/v1/runs?api_key=" S_KEY "x", NULL, 0),
             CURLE_OK);
    CHECK_EQ(c.status, 401);
    CHECK(strstr(c.body, S_KEY) == NULL);
    char body[512];
    s_upsert_body(body, sizeof body, "{\"name\":\"r1\",\"project\":\"proj\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 200);
    CHECK_EQ(s_call(&c, &srv, "POST", "/files/local/proj/r1/file_stream",
                    "{\"files\":{\"output.log\":{\"offset\":0,\"content\":[\"hi\"]}}}"),
             200);
    // An uploaded file is private too.
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql",
                    "{\"query\":\"mutation CreateRunFiles { x }\",\"variables\":{\"entity\":"
                    "\"local\",\"project\":\"proj\",\"run\":\"r1\",\"files\":[\"a.txt\"]}}"),
             200);
    json_t *j = wbt_client_json(&c);
    const char *url = json_string_value(json_object_get(
        json_array_get(
            json_object_get(json_object_get(json_object_get(j, "data"), "createRunFiles"), "files"),
            0),
        "uploadUrl"));
    CHECK(url && strncmp(url, srv.url, strlen(srv.url)) == 0);
    CHECK_EQ(wbt_client_req(&c, srv.url, NULL, "PUT", url + strlen(srv.url), "x", 1), CURLE_OK);
    CHECK_EQ(c.status, 200);
    // The upload token (the segment after /upload/) is a secret as well.
    char token[64];
    const char *tok = strstr(url, "/upload/") + strlen("/upload/");
    snprintf(token, sizeof token, "%.*s", (int)(strchr(tok, '/') - tok), tok);
    CHECK(strlen(token) == 40);
    json_decref(j);
    wbt_client_release(&c);
    CHECK_EQ(wbt_server_stop(&srv), 0);

    const char *logs[] = {"requests.jsonl", "server.log"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, logs[i]);
        char *text = s_slurp(path);
        CHECK(*text);
        if (strstr(text, S_KEY))
            WBT_FAIL("the API key is in clear in %s", logs[i]);
        if (strstr(text, token))
            WBT_FAIL("the upload token is in clear in %s", logs[i]);
        if (i == 0)
            CHECK(strstr(text, "\"api_key\":\"<redacted>\"") != NULL);
        free(text);
    }
    CHECK_EQ(s_mode(dir), 0700);
    const char *files[] = {"wandb.db", "requests.jsonl", "files/local/proj/r1/a.txt"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (s_mode(path) != 0600)
            WBT_FAIL("%s has mode %o, want 600", files[i], s_mode(path));
    }
    snprintf(path, sizeof path, "%s/files", dir);
    CHECK_EQ(s_mode(path), 0700);
    wbt_server_release(&srv);
}

// Offsets whose last line number would pass 2^53 - 1 get 400 saying so, and
// nothing is stored; the last allowed line number works.
static void test_offset_out_of_range(void)
{
    wbt_server_t srv;
    s_start(&srv, NULL);
    wbt_client_t c;
    wbt_client_init(&c);
    const char *path = "/files/local/proj/off/file_stream";
    CHECK_EQ(s_call(&c, &srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":9223372036854775807,"
                    "\"content\":[\"{}\"]}}}"),
             400);
    CHECK(strstr(c.body, "out of range") != NULL);
    CHECK_EQ(s_call(&c, &srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":9007199254740991,"
                    "\"content\":[\"{}\",\"{}\"]}}}"),
             400);
    CHECK(strstr(c.body, "out of range") != NULL);
    CHECK(s_run(&c, &srv, "off") == NULL);
    CHECK_EQ(s_call(&c, &srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":9007199254740991,"
                    "\"content\":[\"{}\"]}}}"),
             200);
    json_t *run = s_run(&c, &srv, "off");
    CHECK(run != NULL);
    CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), INT64_C(9007199254740992));
    json_decref(run);
    wbt_client_release(&c);
    s_stop(&srv);
}

// Run ids follow W&B's rules: NUL, over 128 characters, reserved characters
// get 400 with the reason; nothing is created under a shortened name.
static void test_run_id_rules(void)
{
    wbt_server_t srv;
    s_start(&srv, NULL);
    wbt_client_t c;
    wbt_client_init(&c);
    char body[2048], vars[1024];
    s_upsert_body(body, sizeof body, "{\"name\":\"a\\u0000b\",\"project\":\"proj\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 400);
    CHECK(strstr(c.body, "control character") != NULL);
    CHECK(s_run(&c, &srv, "a") == NULL);
    char long_name[301];
    memset(long_name, 'a', 300);
    long_name[300] = '\0';
    snprintf(vars, sizeof vars, "{\"name\":\"%s\",\"project\":\"proj\"}", long_name);
    s_upsert_body(body, sizeof body, vars);
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 400);
    CHECK(strstr(c.body, "longer than 128") != NULL);
    long_name[128] = '\0';
    snprintf(vars, sizeof vars, "{\"name\":\"%s\",\"project\":\"proj\"}", long_name);
    s_upsert_body(body, sizeof body, vars);
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 200);
    s_upsert_body(body, sizeof body, "{\"name\":\"a:b\",\"project\":\"proj\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 400);
    s_upsert_body(body, sizeof body, "{\"name\":\"ok\",\"project\":\"p#q\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 400);
    CHECK(strstr(c.body, "project") != NULL);
    CHECK_EQ(s_call(&c, &srv, "POST", "/files/local/proj/a;b/file_stream", "{}"), 400);
    CHECK(strstr(c.body, "run id") != NULL);
    wbt_client_release(&c);
    s_stop(&srv);
}

// UpsertBucket state "running" cannot revive a finished run (400); the
// resume way (UpsertBucket without a state, then more file_stream) works.
static void test_no_revival(void)
{
    wbt_server_t srv;
    s_start(&srv, NULL);
    wbt_client_t c;
    wbt_client_init(&c);
    char body[512];
    s_upsert_body(body, sizeof body, "{\"name\":\"fin\",\"project\":\"proj\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 200);
    const char *path = "/files/local/proj/fin/file_stream";
    CHECK_EQ(s_call(&c, &srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{}\"]}},"
                    "\"complete\":true,\"exitcode\":0}"),
             200);
    s_upsert_body(body, sizeof body,
                  "{\"name\":\"fin\",\"project\":\"proj\",\"state\":\"running\"}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 400);
    CHECK(strstr(c.body, "resume") != NULL);
    json_t *run = s_run(&c, &srv, "fin");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "finished");
    json_decref(run);
    // Resume: RunResumeStatus, UpsertBucket without a state, more lines.
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql",
                    "{\"query\":\"query RunResumeStatus { x }\",\"variables\":{\"entity\":"
                    "\"local\",\"project\":\"proj\",\"name\":\"fin\"}}"),
             200);
    s_upsert_body(body, sizeof body, "{\"name\":\"fin\",\"project\":\"proj\",\"state\":null}");
    CHECK_EQ(s_call(&c, &srv, "POST", "/graphql", body), 200);
    CHECK_EQ(s_call(&c, &srv, "POST", path,
                    "{\"files\":{\"wandb-history.jsonl\":{\"offset\":1,\"content\":[\"{}\"]}}}"),
             200);
    run = s_run(&c, &srv, "fin");
    CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 2);
    json_decref(run);
    wbt_client_release(&c);
    s_stop(&srv);
}

// The upload URL path (after the server URL) for run r1 of proj and name.
static void s_upload_path(wbt_client_t *c, const wbt_server_t *srv, const char *name, char *out,
                          size_t len)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"query\":\"mutation CreateRunFiles { x }\",\"variables\":{\"entity\":\"local\","
             "\"project\":\"proj\",\"run\":\"r1\",\"files\":[\"%s\"]}}",
             name);
    CHECK_EQ(s_call(c, srv, "POST", "/graphql", body), 200);
    json_t *j = wbt_client_json(c);
    const char *url = json_string_value(json_object_get(
        json_array_get(
            json_object_get(json_object_get(json_object_get(j, "data"), "createRunFiles"), "files"),
            0),
        "uploadUrl"));
    CHECK(url && strncmp(url, srv->url, strlen(srv->url)) == 0);
    snprintf(out, len, "%s", url + strlen(srv->url));
    json_decref(j);
}

// PUTs one byte; returns the status.
static long s_put(wbt_client_t *c, const wbt_server_t *srv, const char *name)
{
    char path[2048];
    s_upload_path(c, srv, name, path, sizeof path);
    CHECK_EQ(wbt_client_req(c, srv->url, NULL, "PUT", path, "x", 1), CURLE_OK);
    return c->status;
}

// Upload names the file system cannot hold are the client's fault: 4xx
// that says what is wrong, never a 5xx that clients retry.
static void test_upload_client_errors(void)
{
    wbt_server_t srv;
    s_start(&srv, NULL);
    wbt_client_t c;
    wbt_client_init(&c);
    char name[400] = "sub/";
    memset(name + 4, 'n', 300);
    name[304] = '\0';
    CHECK_EQ(s_put(&c, &srv, name), 400);
    CHECK(strstr(c.body, "too long") != NULL);
    CHECK_EQ(s_put(&c, &srv, "d/a.txt"), 200);
    CHECK_EQ(s_put(&c, &srv, "d"), 409);
    CHECK(strstr(c.body, "conflicts") != NULL);
    CHECK_EQ(s_put(&c, &srv, "f"), 200);
    CHECK_EQ(s_put(&c, &srv, "f/g"), 409);
    CHECK(strstr(c.body, "conflicts") != NULL);
    wbt_client_release(&c);
    s_stop(&srv);
}

typedef struct {
    const wbt_server_t *srv; // the server
    char *body;              // the large file_stream body
    size_t len;              // its length
    double seconds;          // how long its request took
    long status;             // its answer
    volatile int done;       // set when it returned
} s_big_t;

// Sends the large body (a thread).
static void *s_big_main(void *arg)
{
    s_big_t *big = arg;
    wbt_client_t c;
    wbt_client_init(&c);
    c.timeout_ms = 300000;
    double t0 = s_now();
    CURLcode rc = wbt_client_req(&c, big->srv->url, S_KEY, "POST",
                                 "/files/local/proj/big/file_stream", big->body, big->len);
    big->seconds = s_now() - t0;
    big->status = rc == CURLE_OK ? c.status : -1;
    wbt_client_release(&c);
    __atomic_store_n(&big->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

// A 50 MB file_stream does not stall other clients: while it runs, /healthz
// and another run's small file_stream answer in well under a quarter of its
// time (before: they waited for all of it).
static void test_big_body_no_stall(void)
{
    wbt_server_t srv;
    s_start(&srv, NULL);
    const char *item =
        "\"{\\\"_step\\\":1,\\\"loss\\\":0.5,\\\"pad\\\":\\\"xxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\\"}\"";
    size_t item_len = strlen(item);
    size_t n = (50u << 20) / (item_len + 1);
    s_big_t big = {.srv = &srv};
    big.body = malloc(n * (item_len + 1) + 256);
    CHECK(big.body != NULL);
    const char *head = "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[";
    size_t pos = strlen(head);
    memcpy(big.body, head, pos);
    for (size_t i = 0; i < n; i++) {
        if (i)
            big.body[pos++] = ',';
        memcpy(big.body + pos, item, item_len);
        pos += item_len;
    }
    memcpy(big.body + pos, "]}}}", 5);
    pos += 4;
    big.len = pos;
    wbt_client_t probe;
    wbt_client_init(&probe);
    probe.timeout_ms = 300000;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, s_big_main, &big) == 0);
    double worst_health = 0, worst_small = 0;
    int probes = 0;
    char body[256];
    while (!__atomic_load_n(&big.done, __ATOMIC_ACQUIRE)) {
        double t0 = s_now();
        CHECK_EQ(wbt_client_req(&probe, srv.url, NULL, "GET", "/healthz", NULL, 0), CURLE_OK);
        double t1 = s_now();
        snprintf(body, sizeof body,
                 "{\"files\":{\"wandb-history.jsonl\":{\"offset\":%d,\"content\":[\"{}\"]}}}",
                 probes);
        CHECK_EQ(s_call(&probe, &srv, "POST", "/files/local/proj/small/file_stream", body), 200);
        double t2 = s_now();
        worst_health = t1 - t0 > worst_health ? t1 - t0 : worst_health;
        worst_small = t2 - t1 > worst_small ? t2 - t1 : worst_small;
        probes++;
        usleep(20 * 1000);
    }
    pthread_join(th, NULL);
    fprintf(stderr,
            "big_body_no_stall: %zu-byte body (%zu lines) took %.2f s; during it %d probes,"
            " worst /healthz %.3f s, worst small file_stream %.3f s\n",
            big.len, n, big.seconds, probes, worst_health, worst_small);
    CHECK_EQ(big.status, 200);
    CHECK(probes >= 3);
    CHECK(worst_health < big.seconds / 4);
    CHECK(worst_small < big.seconds / 4);
    json_t *run = s_run(&probe, &srv, "big");
    CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), (long long)n);
    json_decref(run);
    wbt_client_release(&probe);
    free(big.body);
    s_stop(&srv);
}

WBT_MAIN({"idle_connections_5000", test_idle_connections_5000},
         {"limit_and_idle_timeout", test_limit_and_idle_timeout},
         {"key_never_in_clear", test_key_never_in_clear},
         {"offset_out_of_range", test_offset_out_of_range}, {"run_id_rules", test_run_id_rules},
         {"no_revival", test_no_revival}, {"upload_client_errors", test_upload_client_errors},
         {"big_body_no_stall", test_big_body_no_stall})
