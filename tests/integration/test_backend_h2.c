//  test_backend_h2.c - the backend over HTTP/2: nghttpx in front of wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts the real wandb-mpi-server and a real HTTP/2 server in front of it
//  (nghttpx, the reverse proxy of nghttp2), both on loopback, and logs 64
//  runs through one backend: over TLS (ALPN h2; a CA and a certificate for
//  127.0.0.1 made by the test with openssl, handed over as ca_cert), over
//  cleartext h2c with prior knowledge, and over HTTP/1.1 (http2 = off).
//  Connections are counted on the client side of nghttpx: its access log
//  writes the client's port for every request, so the number of distinct
//  ports is the number of TCP connections the backend opened to it. (The
//  server's own counter sees nghttpx's backend connections, which may be
//  several.) Exits 77 (CTest: skipped) when nghttpx, openssl or the server
//  is missing. Every wait is bounded.
#include "backend/backend.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-0123456789012345678901234567890123456789"
#define S_RUNS 64
#define S_LINES 20

static char s_bin[1024];    // the server binary
static char s_nghttpx[256]; // nghttpx
static char s_openssl[256]; // openssl
static wbt_server_t s_srv;  // the server behind nghttpx
static char s_dir[64];      // the test's files: CA, certificate, access logs
static pid_t s_proxy_pid;   // nghttpx while it runs, for s_at_exit
static pid_t s_proxy_owner; // the process that started it

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// A failed check exits: nghttpx (and its worker, which follows its master) goes too.
static void s_at_exit(void)
{
    if (s_proxy_pid > 0 && s_proxy_owner == getpid())
        kill(s_proxy_pid, SIGTERM);
}

// Finds an executable: path if it is one, else name in $PATH, else "".
static void s_which(char *out, size_t len, const char *path, const char *name)
{
    out[0] = '\0';
    if (access(path, X_OK) == 0) {
        snprintf(out, len, "%s", path);
        return;
    }
    const char *p = getenv("PATH");
    while (p && *p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(out, len, "%.*s/%s", (int)n, p, name);
        if (access(out, X_OK) == 0)
            return;
        p = end ? end + 1 : NULL;
    }
    out[0] = '\0';
}

// Runs argv to completion (bounded); fails the test unless it exits 0.
static void s_run(const char *const *argv)
{
    int out = -1;
    pid_t pid = wbt_spawn(argv, &out);
    int rc = wbt_wait_exit(pid, 20000);
    close(out);
    if (rc != 0)
        WBT_FAIL("'%s %s' exited %d", argv[0], argv[1], rc);
}

// A CA and a certificate for 127.0.0.1 signed by it, in s_dir.
static void s_make_certs(void)
{
    char ca_key[128], ca[128], key[128], csr[128], crt[128], ext[128], serial[128];
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", s_dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", s_dir);
    snprintf(key, sizeof key, "%s/srv.key", s_dir);
    snprintf(csr, sizeof csr, "%s/srv.csr", s_dir);
    snprintf(crt, sizeof crt, "%s/srv.pem", s_dir);
    snprintf(ext, sizeof ext, "%s/ext.cnf", s_dir);
    snprintf(serial, sizeof serial, "%s/ca.srl", s_dir);
    FILE *f = fopen(ext, "w");
    CHECK(f != NULL);
    fprintf(f, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    fclose(f);
    const char *a1[] = {s_openssl,
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        ca_key,
                        "-out",
                        ca,
                        "-days",
                        "2",
                        "-subj",
                        "/CN=wandb-mpi test CA",
                        NULL};
    s_run(a1);
    const char *a2[] = {
        s_openssl,       "req",     "-newkey", "ec",   "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",        "-keyout", key,       "-out", csr,        "-subj",
        "/CN=127.0.0.1", NULL};
    s_run(a2);
    const char *a3[] = {s_openssl, "x509",   "-req",  "-in",       csr,        "-CA",
                        ca,        "-CAkey", ca_key,  "-CAserial", serial,     "-CAcreateserial",
                        "-out",    crt,      "-days", "2",         "-extfile", ext,
                        NULL};
    s_run(a3);
}

// A port that was free a moment ago (nghttpx needs a number).
static int s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t alen = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

// True once something accepts on 127.0.0.1:port.
static bool s_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

typedef struct {
    pid_t pid;     // nghttpx
    int out;       // its stdout
    int port;      // its frontend port
    char log[128]; // its access log
} s_proxy_t;

// Starts nghttpx on a free port in front of the server: TLS with the
// test's certificate, or cleartext (HTTP/1.1 and h2c).
static void s_proxy_start(s_proxy_t *px, bool tls, const char *name)
{
    const char *srv_port = strrchr(s_srv.url, ':') + 1;
    char backend[64], key[128], crt[128], logf[160];
    snprintf(backend, sizeof backend, "-b127.0.0.1,%s", srv_port);
    snprintf(key, sizeof key, "%s/srv.key", s_dir);
    snprintf(crt, sizeof crt, "%s/srv.pem", s_dir);
    snprintf(px->log, sizeof px->log, "%s/%s.log", s_dir, name);
    snprintf(logf, sizeof logf, "--accesslog-file=%s", px->log);
    for (int attempt = 0; attempt < 5; attempt++) {
        px->port = s_free_port();
        char front[64];
        snprintf(front, sizeof front, "-f127.0.0.1,%d%s", px->port, tls ? "" : ";no-tls");
        const char *argv[] = {s_nghttpx,
                              front,
                              backend,
                              "--conf=/dev/null",
                              "--single-thread",
                              "--no-ocsp",
                              "--log-level=WARN",
                              "--errorlog-file=/dev/null",
                              logf,
                              "--accesslog-format=$remote_port $alpn $status $method $path",
                              tls ? key : NULL,
                              crt,
                              NULL};
        px->pid = s_proxy_pid = wbt_spawn(argv, &px->out);
        s_proxy_owner = getpid();
        int64_t deadline = s_now_ms() + 5000;
        while (s_now_ms() < deadline && !s_accepts(px->port)) {
            if (wbt_wait_exit(px->pid, 0) >= 0)
                break; // it exited (port taken meanwhile): try another one
            usleep(20 * 1000);
        }
        if (s_accepts(px->port))
            return;
        kill(px->pid, SIGKILL);
        wbt_wait_exit(px->pid, 2000);
        close(px->out);
    }
    WBT_FAIL("nghttpx did not start");
}

static void s_proxy_stop(s_proxy_t *px)
{
    kill(px->pid, SIGTERM);
    if (wbt_wait_exit(px->pid, 5000) < 0) {
        kill(px->pid, SIGKILL);
        wbt_wait_exit(px->pid, 2000);
    }
    close(px->out);
    s_proxy_pid = 0;
}

typedef struct {
    int connections; // distinct client ports
    int requests;    // lines
    int h2;          // requests over h2 or h2c
    int non2xx;      // answers other than 2xx
} s_log_t;

// Reads the access log (after nghttpx stopped, so it is complete).
static s_log_t s_read_log(const char *path)
{
    s_log_t r = {0};
    int ports[1024];
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        int port = 0, status = 0;
        char alpn[32] = "";
        if (sscanf(line, "%d %31s %d", &port, alpn, &status) != 3)
            continue;
        r.requests++;
        r.h2 += strcmp(alpn, "h2") == 0 || strcmp(alpn, "h2c") == 0;
        r.non2xx += status < 200 || status >= 300;
        bool seen = false;
        for (int i = 0; i < r.connections && !seen; i++)
            seen = ports[i] == port;
        if (!seen && r.connections < 1024)
            ports[r.connections++] = port;
    }
    fclose(f);
    return r;
}

// 64 runs through one backend at base_url; returns its stats.
static wbi_backend_stats_t s_log_runs(const char *base_url, int http2, const char *ca,
                                      const char *project)
{
    wbi_backend_opts_t o = {.base_url = base_url,
                            .api_key = S_KEY,
                            .flush_interval_ms = 20,
                            .heartbeat_ms = 60000,
                            .request_timeout_ms = 10000,
                            .retry_min_ms = 50,
                            .retry_max_ms = 500,
                            .max_retries = 5,
                            .http2 = http2,
                            .ca_cert = ca,
                            .max_streams = 16,
                            .request_budget = 5000};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    wbi_backend_run_t *runs[S_RUNS];
    for (int r = 0; r < S_RUNS; r++) {
        char id[32];
        snprintf(id, sizeof id, "h2-run-%02d", r);
        wbi_run_meta_t m = {.run_id = id, .project = project, .config_json = "{\"r\":1}"};
        runs[r] = wbi_backend_run_open(b, &m);
        CHECK(runs[r] != NULL);
    }
    for (int k = 0; k < S_LINES; k++) {
        for (int r = 0; r < S_RUNS; r++) {
            char line[96];
            int n = snprintf(line, sizeof line, "{\"loss\":%d.25,\"_step\":%d}", k, k);
            wbi_backend_run_history(b, runs[r], line, (size_t)n);
        }
        if (k % 5 == 4)
            usleep(30 * 1000); // several file_stream requests per run
    }
    for (int r = 0; r < S_RUNS; r++)
        wbi_backend_run_finish(b, runs[r], 0);
    CHECK_OK(wbi_backend_drain(b, 30000));
    CHECK_OK(wbi_backend_result(b));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    wbi_backend_destroy(&b);
    CHECK_EQ(st.history_lines_sent, S_RUNS * S_LINES);
    CHECK_EQ(st.failures, 0);
    return st;
}

// Every run of project is in the server, complete, with all its lines.
static void s_check_server(const char *project)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs?project=%s", project);
    json_t *list = wbt_http_get(&s_srv, path);
    json_t *runs = json_object_get(list, "runs");
    CHECK_EQ(json_array_size(runs), S_RUNS);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), S_LINES);
        CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    }
    json_decref(list);
    for (int k = 0; k < S_RUNS; k += S_RUNS - 1) { // rows in step order, none twice
        snprintf(path, sizeof path, "/api/v1/runs/h2-run-%02d/history?project=%s", k, project);
        json_t *hist = wbt_http_get(&s_srv, path);
        json_t *rows = json_object_get(hist, "rows");
        CHECK_EQ(json_array_size(rows), S_LINES);
        for (size_t j = 0; j < S_LINES; j++)
            CHECK_EQ(json_integer_value(json_object_get(json_array_get(rows, j), "_step")), j);
        json_decref(hist);
    }
}

// One scenario: nghttpx (TLS or not), the backend's http2 setting, and
// what must be seen.
static void s_scenario(bool tls, int http2, const char *project, bool want_h2)
{
    s_proxy_t px;
    s_proxy_start(&px, tls, project);
    char url[96], ca[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", tls ? "https" : "http", px.port);
    snprintf(ca, sizeof ca, "%s/ca.pem", s_dir);
    int64_t t0 = s_now_ms();
    wbi_backend_stats_t st = s_log_runs(url, http2, tls ? ca : NULL, project);
    int64_t took = s_now_ms() - t0;
    s_proxy_stop(&px);
    s_log_t lg = s_read_log(px.log);
    printf("   %s: %d requests over %d TCP connection(s) to nghttpx, %d over HTTP/2, "
           "at most %llu in flight, %lld ms\n",
           project, lg.requests, lg.connections, lg.h2, (unsigned long long)st.max_in_flight,
           (long long)took);
    CHECK_EQ(lg.connections, 1);
    CHECK_EQ(lg.requests, (int)st.requests);
    CHECK_EQ(lg.non2xx, 0);
    if (want_h2) {
        CHECK_EQ(lg.h2, lg.requests);
        CHECK(st.max_in_flight >= 4); // several streams at once on the one connection
        CHECK(st.max_in_flight <= 16);
    } else {
        CHECK_EQ(lg.h2, 0);
        CHECK_EQ(st.max_in_flight, 1); // HTTP/1.1: one request at a time
    }
    s_check_server(project);
}

// TLS with ALPN (as W&B cloud): h2 by default, the test's CA as ca_cert.
static void test_tls_alpn_h2(void)
{
    s_scenario(true, WBI_HTTP2_AUTO, "h2tls", true);
}

// Cleartext with prior knowledge: h2c without an upgrade.
static void test_h2c_prior_knowledge(void)
{
    s_scenario(false, WBI_HTTP2_PRIOR_KNOWLEDGE, "h2c", true);
}

// Cleartext without being told (auto) and http2 = off over TLS: HTTP/1.1,
// still one connection, one request at a time.
static void test_http1(void)
{
    s_scenario(false, WBI_HTTP2_AUTO, "h1auto", false);
    s_scenario(true, WBI_HTTP2_OFF, "h1tls", false);
}

// Without ca_cert the test's certificate is not trusted: the request is
// given up on (no retries here) and the outcome names the TLS failure.
static void test_tls_untrusted(void)
{
    s_proxy_t px;
    s_proxy_start(&px, true, "untrusted");
    char url[96];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", px.port);
    wbi_backend_opts_t o = {.base_url = url, .api_key = S_KEY, .max_retries = -1};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    wbi_run_meta_t m = {.run_id = "untrusted-1", .project = "untrusted"};
    CHECK(wbi_backend_run_open(b, &m) != NULL);
    CHECK_OK(wbi_backend_drain(b, 10000));
    CHECK_ERR(wbi_backend_result(b), WANDB_EBACKEND);
    const char *msg = wbi_backend_errmsg(b);
    if (!strstr(msg, "UpsertBucket") || !(strstr(msg, "SSL") || strstr(msg, "certificate")))
        WBT_FAIL("errmsg does not name the TLS failure: %s", msg);
    wbi_backend_destroy(&b);
    s_proxy_stop(&px);
}

int main(int argc, char **argv)
{
    wbt_server_path(s_bin, sizeof s_bin, true);
    wbt_server_require(s_bin);
    s_which(s_nghttpx, sizeof s_nghttpx, "/usr/sbin/nghttpx", "nghttpx");
    s_which(s_openssl, sizeof s_openssl, "/usr/bin/openssl", "openssl");
    if (!s_nghttpx[0] || !s_openssl[0]) {
        printf("skipped: nghttpx or openssl not found (Debian: nghttp2-proxy openssl)\n");
        return 77;
    }
    atexit(s_at_exit);
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-h2-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    s_make_certs();
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, s_bin, NULL, extra);
    static const wbt_case_t cases[] = {{"tls_alpn_h2", test_tls_alpn_h2},
                                       {"h2c_prior_knowledge", test_h2c_prior_knowledge},
                                       {"http1", test_http1},
                                       {"tls_untrusted", test_tls_untrusted}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wbt_server_release(&s_srv);
    wbt_rm_tree(s_dir);
    return rc;
}
