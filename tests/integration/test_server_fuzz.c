//  test_server_fuzz.c - a grammar-based HTTP fuzz run against wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Generates requests from a small grammar of the server's endpoints (methods,
//  paths with hostile segments, query arguments, credentials, GraphQL and
//  file_stream bodies built from random JSON, uploads, raw garbage), sends
//  them on loopback and checks that every one gets an answer below 500 in
//  time, that malformed HTTP on raw sockets neither crashes nor hangs it, and
//  that it still serves and exits cleanly afterwards. Bounded: at most
//  WBT_FUZZ_REQUESTS requests (default 20000) and 40 s; the seed is printed
//  and can be set with WBT_FUZZ_SEED.

#include "testutil.h"

#include "common/buf.h"
#include "harness/http_client.h"
#include "harness/server_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-fuzz-test-key-0123456789abcdefghijklmnopq"
#define S_SECONDS 40.0    // bound on the generated part
#define S_PATHS_MAX 65536 // distinct paths remembered

typedef struct {
    unsigned seed;  // rand_r state
    char token[48]; // the server's upload token (from CreateRunFiles)
    wbi_buf_t out;  // text being generated
    int depth;      // JSON nesting of the value being generated
} s_gen_t;

// A random number below n.
static unsigned s_rand(s_gen_t *g, unsigned n)
{
    return n ? (unsigned)rand_r(&g->seed) % n : 0;
}

// Appends text.
static void s_put(s_gen_t *g, const char *s)
{
    CHECK_OK(wbi_buf_puts(&g->out, s));
}

// Monotonic seconds.
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// segment := name | hostile name (URL-encoded where a URL needs it).
static void s_segment(s_gen_t *g)
{
    static const char *const pool[] = {
        "local", "proj",   "r1",  "r2",    "run-7",     "",    ".",
        "..",    "%2e%2e", "%00", "a%00b", "a%2Fb",     "%FF", "%C3%A9t%C3%A9",
        "a%20b", "a:b",    "a;b", "%23",   "%25",       "%3F", "x'y",
        "~",     "-",      "_",   "%5C",   "%E2%80%AE", "CON", "\xc3\xa9",
        "%0a",   "%0d%0a"};
    // Half the segments are valid names, so that requests get past validation.
    unsigned k = s_rand(g, 2) ? s_rand(g, 5) : s_rand(g, 40);
    if (k < sizeof pool / sizeof pool[0]) {
        s_put(g, pool[k]);
        return;
    }
    unsigned len = k == 39 ? 200 + s_rand(g, 200) : 1 + s_rand(g, 12);
    for (unsigned i = 0; i < len; i++) {
        char c[2] = {"abcdefghijklmnopqrstuvwxyz0123456789-_."[s_rand(g, 39)], '\0'};
        s_put(g, c);
    }
}

// A file name: one to three segments.
static void s_file_name(s_gen_t *g)
{
    unsigned n = 1 + s_rand(g, 3);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            s_put(g, "/");
        s_segment(g);
    }
}

// A JSON string from the segment pool (escaped for JSON).
static void s_json_string(s_gen_t *g)
{
    static const char *const pool[] = {"",
                                       "local",
                                       "proj",
                                       "r1",
                                       "a\\u0000b",
                                       "\\ud800",
                                       "..",
                                       "../../etc/passwd",
                                       "wandb-history.jsonl",
                                       "wandb-summary.json",
                                       "output.log",
                                       "wandb-events.jsonl",
                                       "sub/dir/file.txt",
                                       "running",
                                       "finished",
                                       "failed",
                                       "crashed",
                                       "{\\\"a\\\":1}",
                                       "{\\\"_step\\\":NaN}",
                                       "{\\\"lr\\\":{\\\"value\\\":1}}",
                                       "[1,2",
                                       "\\\"",
                                       "\\n\\r\\t",
                                       "\xc3\xa9",
                                       "UpsertBucket",
                                       "a:b"};
    s_put(g, "\"");
    unsigned k = s_rand(g, sizeof pool / sizeof pool[0] + 2);
    if (k < sizeof pool / sizeof pool[0]) {
        s_put(g, pool[k]);
    } else {
        unsigned len = k % 2 ? 300 : 1 + s_rand(g, 20);
        for (unsigned i = 0; i < len; i++)
            s_put(g, "x");
    }
    s_put(g, "\"");
}

// value := null | bool | number | string | [value...] | {key: value...}
static void s_json_value(s_gen_t *g)
{
    static const char *const numbers[] = {"0",
                                          "-1",
                                          "1",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "18446744073709551616",
                                          "9007199254740991",
                                          "1e308",
                                          "-0.0",
                                          "3.25",
                                          "NaN",
                                          "Infinity",
                                          "-Infinity",
                                          "1e999"};
    unsigned k = s_rand(g, g->depth > 3 ? 5 : 7);
    switch (k) {
    case 0:
        s_put(g, "null");
        break;
    case 1:
        s_put(g, s_rand(g, 2) ? "true" : "false");
        break;
    case 2:
        s_put(g, numbers[s_rand(g, sizeof numbers / sizeof numbers[0])]);
        break;
    case 3:
    case 4:
        s_json_string(g);
        break;
    case 5: {
        g->depth++;
        s_put(g, "[");
        unsigned n = s_rand(g, 4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                s_put(g, ",");
            s_json_value(g);
        }
        s_put(g, "]");
        g->depth--;
        break;
    }
    default: {
        g->depth++;
        s_put(g, "{");
        unsigned n = s_rand(g, 4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                s_put(g, ",");
            s_json_string(g);
            s_put(g, ":");
            s_json_value(g);
        }
        s_put(g, "}");
        g->depth--;
    }
    }
}

// A GraphQL request: known or unknown operation, variables from the names
// the operations read, with random values.
static void s_graphql_body(s_gen_t *g)
{
    static const char *const ops[] = {"UpsertBucket",
                                      "RunResumeStatus",
                                      "CreateRunFiles",
                                      "RunUploadUrls",
                                      "Viewer",
                                      "ServerFeaturesQuery",
                                      "NotifyScriptableRunAlert",
                                      "RunState",
                                      "RunStoppedStatus",
                                      "Nope",
                                      ""};
    static const char *const vars[] = {
        "entity",   "project",      "name",        "id",        "config",  "summaryMetrics",
        "tags",     "state",        "files",       "run",       "title",   "text",
        "severity", "waitDuration", "displayName", "groupName", "jobType", "notes"};
    const char *op = ops[s_rand(g, sizeof ops / sizeof ops[0])];
    s_put(g, "{\"query\":\"");
    s_put(g, s_rand(g, 2) ? "mutation " : "query ");
    s_put(g, op);
    s_put(g, " { x }\"");
    if (s_rand(g, 2)) {
        s_put(g, ",\"operationName\":\"");
        s_put(g, op);
        s_put(g, "\"");
    }
    s_put(g, ",\"variables\":");
    if (s_rand(g, 8) == 0) {
        s_json_value(g);
    } else {
        s_put(g, "{");
        unsigned n = s_rand(g, 7);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                s_put(g, ",");
            s_put(g, "\"");
            s_put(g, vars[s_rand(g, sizeof vars / sizeof vars[0])]);
            s_put(g, "\":");
            s_json_value(g);
        }
        s_put(g, "}");
    }
    s_put(g, "}");
}

// A file_stream body: files with offsets and content, and the flags.
static void s_file_stream_body(s_gen_t *g)
{
    static const char *const offsets[] = {
        "0", "1", "-1", "9007199254740991", "9223372036854775807", "1.5", "\"3\"", "null"};
    s_put(g, "{\"files\":");
    if (s_rand(g, 10) == 0) {
        s_json_value(g);
    } else {
        s_put(g, "{");
        unsigned n = s_rand(g, 3);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                s_put(g, ",");
            s_json_string(g);
            s_put(g, ":{\"offset\":");
            s_put(g, offsets[s_rand(g, sizeof offsets / sizeof offsets[0])]);
            s_put(g, ",\"content\":");
            if (s_rand(g, 6) == 0) {
                s_json_value(g);
            } else {
                s_put(g, "[");
                unsigned lines = s_rand(g, 5);
                for (unsigned l = 0; l < lines; l++) {
                    if (l)
                        s_put(g, ",");
                    s_json_string(g);
                }
                s_put(g, "]");
            }
            s_put(g, "}");
        }
        s_put(g, "}");
    }
    const char *flags[] = {"complete", "exitcode", "uploaded", "preempting", "failed"};
    for (size_t i = 0; i < 5; i++) {
        if (s_rand(g, 4) == 0) {
            s_put(g, ",\"");
            s_put(g, flags[i]);
            s_put(g, "\":");
            s_json_value(g);
        }
    }
    s_put(g, "}");
}

// A body that is not what the route wants: garbage, truncated, deep.
static void s_bad_body(s_gen_t *g)
{
    switch (s_rand(g, 5)) {
    case 0:
        s_put(g, "");
        break;
    case 1:
        s_put(g, "{\"files\":{\"a\":{\"offset\":0,\"content\":[\"x\"");
        break;
    case 2:
        for (int i = 0; i < 3000; i++)
            s_put(g, "[");
        break;
    case 3:
        for (int i = 0; i < 64; i++) {
            char c[2] = {(char)(1 + s_rand(g, 255)), '\0'};
            s_put(g, c);
        }
        break;
    default:
        s_json_value(g);
    }
}

// One request: method, path and body into the generator's buffers.
typedef struct {
    char method[16]; // HTTP method
    char path[8192]; // path and query
    char *body;      // body or NULL (heap)
    size_t len;      // body length
    int auth;        // 0 none, 1 key, 2 wrong key
} s_request_t;

// request := method path [query] [credentials] [body]
static void s_generate(s_gen_t *g, s_request_t *r)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    wbi_buf_reset(&g->out);
    unsigned route = s_rand(g, 12);
    const char *method = methods[s_rand(g, 6)];
    switch (route) {
    case 0:
    case 1:
        method = s_rand(g, 8) ? "POST" : method;
        s_put(g, "/graphql");
        break;
    case 2:
    case 3:
        method = s_rand(g, 8) ? "POST" : method;
        s_put(g, "/files/");
        s_segment(g);
        s_put(g, "/");
        s_segment(g);
        s_put(g, "/");
        s_segment(g);
        s_put(g, s_rand(g, 8) ? "/file_stream" : "/other");
        break;
    case 4:
    case 5:
        method = s_rand(g, 8) ? "PUT" : method;
        s_put(g, "/upload/");
        s_put(g, s_rand(g, 4) ? g->token : "0123456789012345678901234567890123456789");
        for (unsigned i = 0; i < 3; i++) {
            s_put(g, "/");
            s_segment(g);
        }
        s_put(g, "/");
        s_file_name(g);
        break;
    case 6:
    case 7: {
        static const char *const what[] = {"",       "/history", "/events", "/logs",
                                           "/files", "/alerts",  "/files/", "/x"};
        method = s_rand(g, 8) ? "GET" : method;
        s_put(g, "/api/v1/runs/");
        s_segment(g);
        unsigned w = s_rand(g, 8);
        s_put(g, what[w]);
        if (w == 6)
            s_file_name(g);
        break;
    }
    case 8:
        s_put(g, s_rand(g, 2) ? "/api/v1/runs" : "/api/v1/stats");
        break;
    case 9:
        s_put(g, s_rand(g, 2) ? "/healthz" : "/sdk/otel/v1/traces");
        break;
    default:
        s_put(g, "/");
        s_file_name(g);
    }
    if (s_rand(g, 3) == 0) {
        static const char *const args[] = {"project", "entity", "offset", "limit", "api_key", "x"};
        static const char *const ints[] = {"0", "-5", "10", "99999999999999999999", "abc", ""};
        unsigned n = 1 + s_rand(g, 3);
        for (unsigned i = 0; i < n; i++) {
            s_put(g, i ? "&" : "?");
            unsigned a = s_rand(g, 6);
            s_put(g, args[a]);
            s_put(g, "=");
            if (a == 2 || a == 3)
                s_put(g, ints[s_rand(g, 6)]);
            else if (a == 4)
                s_put(g, s_rand(g, 2) ? S_KEY : "wrong");
            else
                s_segment(g);
        }
    }
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", g->out.data ? g->out.data : "/");
    r->auth = s_rand(g, 10) == 0 ? 0 : (s_rand(g, 10) == 0 ? 2 : 1);
    wbi_buf_reset(&g->out);
    r->body = NULL;
    r->len = 0;
    if (strcmp(method, "GET") == 0 || s_rand(g, 10) == 0)
        return;
    if (route <= 1)
        s_rand(g, 6) ? s_graphql_body(g) : s_bad_body(g);
    else if (route <= 3)
        s_rand(g, 6) ? s_file_stream_body(g) : s_bad_body(g);
    else if (route <= 5) {
        unsigned n = s_rand(g, 4) ? s_rand(g, 256) : s_rand(g, 65536);
        for (unsigned i = 0; i < n; i++)
            CHECK_OK(wbi_buf_putc(&g->out, (char)s_rand(g, 256)));
    } else
        s_bad_body(g);
    r->len = g->out.len;
    r->body = malloc(r->len + 1);
    CHECK(r->body != NULL);
    memcpy(r->body, g->out.data ? g->out.data : "", r->len);
}

// Remembers path; returns true when it was new.
static bool s_path_new(unsigned long long *set, const char *path)
{
    unsigned long long h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h |= 1;
    for (size_t i = h % S_PATHS_MAX, n = 0; n < S_PATHS_MAX; i = (i + 1) % S_PATHS_MAX, n++) {
        if (set[i] == h)
            return false;
        if (set[i] == 0) {
            set[i] = h;
            return true;
        }
    }
    return false;
}

// Sends raw bytes on a new loopback connection and reads until the server
// answers or closes (at most 4 s: an idle connection is closed after 2 s).
// Returns false when it did neither.
static bool s_raw(const char *url, const char *data, size_t len)
{
    int port = (int)strtol(strrchr(url, ':') + 1, NULL, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    bool answered = false;
    double deadline = s_now() + 4;
    char buf[4096];
    while (s_now() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        // An answer or a close both end the case.
        answered = recv(fd, buf, sizeof buf, 0) >= 0;
        break;
    }
    close(fd);
    return answered;
}

// Malformed HTTP on raw sockets: no crash, no hang.
static int s_raw_cases(const wbt_server_t *srv)
{
    static const char *const cases[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /healthz\r\n\r\n",
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        "POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n",
        "POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5"
        "\r\n\r\n0\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\nBadHeaderWithoutColon\r\n\r\n",
        "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!\r\n\r\n",
        "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Basic\r\n\r\n",
        "PUT /upload/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "\r\n\r\n\r\n",
    };
    int hangs = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        if (i == 8)
            len = sizeof "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n" - 1;
        double t = s_now();
        bool ok = s_raw(srv->url, cases[i], len);
        if (getenv("WBT_FUZZ_VERBOSE"))
            fprintf(stderr, "fuzz: raw case %zu: %.2f s\n", i, s_now() - t);
        if (!ok) {
            fprintf(stderr, "fuzz: raw case %zu: no answer and no close within 4 s\n", i);
            hangs++;
        }
    }
    // A request line and a header far beyond the connection's memory.
    size_t big = 200 * 1024;
    char *line = malloc(big + 64);
    CHECK(line != NULL);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'a', big);
    memcpy(line + 5 + big, " HTTP/1.1\r\n\r\n", 14);
    if (!s_raw(srv->url, line, 5 + big + 13))
        hangs++;
    memcpy(line, "GET /healthz HTTP/1.1\r\nX: ", 26);
    memset(line + 26, 'b', big - 26);
    memcpy(line + big, "\r\n\r\n", 5);
    if (!s_raw(srv->url, line, big + 4))
        hangs++;
    free(line);
    return hangs;
}

// The fuzz run.
static void test_fuzz(void)
{
    const char *env = getenv("WBT_FUZZ_REQUESTS");
    long max_requests = env ? strtol(env, NULL, 10) : 20000;
    env = getenv("WBT_FUZZ_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    fprintf(stderr, "fuzz: seed %u (WBT_FUZZ_SEED), at most %ld requests\n", seed, max_requests);
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, "--log-level", "err", "--idle-timeout-s", "2", NULL};
    wbt_server_t srv;
    wbt_server_start(&srv, bin, NULL, extra);
    s_gen_t g = {.seed = seed};
    wbi_buf_init(&g.out, 8u << 20);
    wbt_client_t c;
    wbt_client_init(&c);
    c.timeout_ms = 5000;
    // The real upload token, so that generated uploads reach the file system.
    const char *q = "{\"query\":\"mutation CreateRunFiles { x }\",\"variables\":{\"entity\":"
                    "\"local\",\"project\":\"proj\",\"run\":\"r1\",\"files\":[\"a\"]}}";
    CHECK_EQ(wbt_client_req(&c, srv.url, S_KEY, "POST", "/graphql", q, strlen(q)), CURLE_OK);
    const char *up = strstr(c.body, "/upload/");
    CHECK(up != NULL);
    snprintf(g.token, sizeof g.token, "%.40s", up + strlen("/upload/"));
    unsigned long long *paths = calloc(S_PATHS_MAX, sizeof *paths);
    CHECK(paths != NULL);
    long sent = 0, unique = 0, errors_5xx = 0, hangs = 0, by_class[6] = {0};
    double t0 = s_now();
    while (sent < max_requests && s_now() - t0 < S_SECONDS) {
        s_request_t r;
        s_generate(&g, &r);
        unique += s_path_new(paths, r.path);
        const char *key = r.auth == 1 ? S_KEY : (r.auth == 2 ? "local-wrong" : NULL);
        CURLcode rc = wbt_client_req(&c, srv.url, key, r.method, r.path, r.body, r.len);
        if (rc == CURLE_URL_MALFORMAT) {
            free(r.body); // curl refuses to send it: not a request
            continue;
        }
        sent++;
        if (rc != CURLE_OK) {
            fprintf(stderr, "fuzz: %s %s (%zu body bytes): %s\n", r.method, r.path, r.len,
                    curl_easy_strerror(rc));
            hangs++;
            // A dead server fails every later request: stop at the first.
            if (wbt_client_req(&c, srv.url, NULL, "GET", "/healthz", NULL, 0) != CURLE_OK) {
                free(r.body);
                break;
            }
        } else {
            by_class[c.status / 100 < 6 ? c.status / 100 : 0]++;
            if (c.status >= 500) {
                errors_5xx++;
                fprintf(stderr, "fuzz: %s %s -> %ld %s\n", r.method, r.path, c.status, c.body);
            }
        }
        free(r.body);
    }
    double seconds = s_now() - t0;
    int raw_hangs = s_raw_cases(&srv);
    CHECK_EQ(wbt_client_req(&c, srv.url, NULL, "GET", "/healthz", NULL, 0), CURLE_OK);
    CHECK_EQ(c.status, 200);
    fprintf(stderr,
            "fuzz: %ld requests in %.1f s, %ld unique paths; answers 2xx %ld, 3xx %ld, 4xx %ld,"
            " 5xx %ld; %ld without an answer; raw malformed HTTP: %d hang(s)\n",
            sent, seconds, unique, by_class[2], by_class[3], by_class[4], by_class[5], hangs,
            raw_hangs);
    wbt_client_release(&c);
    free(paths);
    wbi_buf_release(&g.out);
    CHECK_EQ(errors_5xx, 0);
    CHECK_EQ(hangs, 0);
    CHECK_EQ(raw_hangs, 0);
    CHECK_EQ(wbt_server_stop(&srv), 0); // a sanitizer report would change the exit code
    wbt_server_release(&srv);
}

WBT_MAIN({"fuzz", test_fuzz})
