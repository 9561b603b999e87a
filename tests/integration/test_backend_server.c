//  test_backend_server.c - the backend client against the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, logs two runs through one backend and reads them back
//  through the server's JSON API. Exits 77 (CTest: skipped) with a message
//  when the server binary is not built.
#include "backend/backend.h"
#include "common/jsonx.h"
#include "testutil.h"

#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-0123456789012345678901234567890123456789"

static char s_bin[1024]; // the server binary
static char s_dir[64];   // its data directory
static char s_url[128];  // its base URL
static pid_t s_pid = -1; // its process

static void s_server_stop(void);

// Collects a GET answer.
static size_t s_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;
    char **buf = arg;
    size_t have = *buf ? strlen(*buf) : 0;
    char *next = realloc(*buf, have + n + 1);
    CHECK(next);
    memcpy(next + have, ptr, n);
    next[have + n] = '\0';
    *buf = next;
    return n;
}

// GETs base + path with the key (a new connection each time) and parses it.
static json_t *s_get(const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", s_url, path);
    CURL *c = curl_easy_init();
    char *body = NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " S_KEY);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    CHECK_EQ(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (status != 200)
        WBT_FAIL("GET %s: HTTP %ld: %s", path, status, body ? body : "");
    const char *text = body ? body : "";
    json_t *j = wbi_jsonx_loadb(text, strlen(text), 0, NULL); // the API may write NaN
    if (!j)
        WBT_FAIL("GET %s: not JSON: %s", path, body ? body : "");
    free(body);
    return j;
}

// Starts the server and reads its readiness line (at most 10 s).
static void s_server_start(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-backend-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    int fds[2];
    CHECK(pipe(fds) == 0);
    s_pid = fork();
    CHECK(s_pid >= 0);
    if (s_pid > 0)
        atexit(s_server_stop); // also when a check fails
    if (s_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(s_bin, s_bin, "--dir", s_dir, "--port", "0", "--api-key", S_KEY, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[512] = "";
    size_t len = 0;
    for (int i = 0; i < 100 && !strchr(line, '\n'); i++) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fds[0], line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
    }
    close(fds[0]);
    const char *at = strstr(line, "listening on ");
    if (!at)
        WBT_FAIL("server did not report readiness: '%s'", line);
    snprintf(s_url, sizeof s_url, "%s", at + strlen("listening on "));
    s_url[strcspn(s_url, "\r\n")] = '\0';
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void s_server_stop(void)
{
    if (s_pid > 0) {
        kill(s_pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 50 && waitpid(s_pid, &status, WNOHANG) == 0; i++)
            usleep(100 * 1000);
        if (waitpid(s_pid, &status, WNOHANG) == 0) {
            kill(s_pid, SIGKILL);
            waitpid(s_pid, &status, 0);
        }
        s_pid = -1;
    }
    if (s_dir[0])
        nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    s_dir[0] = '\0';
}

// Finds a run by name in a /api/v1/runs answer.
static json_t *s_find(json_t *runs, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

// Two runs through one backend land in the server over one connection.
static void test_two_runs_into_server(void)
{
    s_server_start();
    json_t *st0 = s_get("/api/v1/stats");
    json_int_t c0 = json_integer_value(json_object_get(st0, "connections"));
    json_decref(st0);

    wbi_backend_opts_t o = {.base_url = s_url,
                            .api_key = S_KEY,
                            .flush_interval_ms = 50,
                            .heartbeat_ms = 10000,
                            .request_timeout_ms = 5000,
                            .retry_min_ms = 20,
                            .retry_max_ms = 200};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    const char *names[2] = {"srv-run-a", "srv-run-b"};
    wbi_backend_run_t *runs[2];
    for (int r = 0; r < 2; r++) {
        wbi_run_meta_t m = {.run_id = names[r],
                            .project = "bkproj",
                            .group = "job-9",
                            .job_type = "train",
                            .display_name = r ? "rank-1" : "rank-0",
                            .tags = "mpi,c",
                            .config_json = "{\"lr\":0.1,\"odd\":NaN}"};
        runs[r] = wbi_backend_run_open(b, &m);
        CHECK(runs[r]);
    }
    for (int k = 0; k < 30; k++) {
        for (int r = 0; r < 2; r++) {
            char line[128];
            int n = snprintf(line, sizeof line,
                             "{\"loss\":%d.5,\"_step\":%d,\"_runtime\":1.0,\"_timestamp\":1.0e9}",
                             k, k);
            wbi_backend_run_history(b, runs[r], line, (size_t)n);
        }
        if (k == 15)
            usleep(80 * 1000);
    }
    wbi_backend_run_summary(b, runs[0], "{\"loss\":29.5,\"_step\":29}", 25);
    wbi_backend_run_finish(b, runs[0], 0);
    wbi_backend_run_finish(b, runs[1], 2);
    CHECK_OK(wbi_backend_drain(b, 15000));
    char entity[128];
    CHECK(wbi_backend_run_entity(b, runs[0], entity, sizeof entity));
    CHECK(entity[0] != '\0');
    wbi_backend_stats_t stats;
    wbi_backend_get_stats(b, &stats);
    CHECK_EQ(stats.history_lines_sent, 60);
    CHECK_EQ(stats.failures, 0);
    wbi_backend_destroy(&b);

    json_t *st1 = s_get("/api/v1/stats");
    json_int_t c1 = json_integer_value(json_object_get(st1, "connections"));
    json_decref(st1);
    if (c1 - c0 != 2) // the backend's one connection plus this GET
        WBT_FAIL("server saw %lld connections from the backend, want 1", (long long)(c1 - c0 - 1));

    json_t *list = s_get("/api/v1/runs?project=bkproj");
    for (int r = 0; r < 2; r++) {
        json_t *run = s_find(list, names[r]);
        if (!run)
            WBT_FAIL("run %s not listed", names[r]);
        CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 30);
        CHECK_EQ(json_integer_value(json_object_get(run, "exit_code")), r ? 2 : 0);
        CHECK_STREQ(json_string_value(json_object_get(run, "state")), r ? "failed" : "finished");
        CHECK_STREQ(json_string_value(json_object_get(run, "group")), "job-9");
        CHECK(json_object_get(json_object_get(run, "config"), "lr") != NULL);
        CHECK_EQ(json_array_size(json_object_get(run, "tags")), 2);
    }
    json_t *sum = json_object_get(s_find(list, names[0]), "summary");
    CHECK(json_object_get(sum, "loss") != NULL);
    json_decref(list);

    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=bkproj", names[1]);
    json_t *hist = s_get(path);
    json_t *rows = json_object_get(hist, "rows");
    CHECK_EQ(json_array_size(rows), 30);
    for (size_t k = 0; k < 30; k++)
        CHECK_EQ(json_integer_value(json_object_get(json_array_get(rows, k), "_step")), k);
    json_decref(hist);
    s_server_stop();
}

int main(int argc, char **argv)
{
    const char *env = getenv("WANDB_MPI_SERVER");
    const char *dir = getenv("WANDB_TEST_BIN_DIR");
    if (env && *env)
        snprintf(s_bin, sizeof s_bin, "%s", env);
    else
        snprintf(s_bin, sizeof s_bin, "%s/src/server/wandb-mpi-server", dir ? dir : ".");
    if (access(s_bin, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s is not built (set WANDB_MPI_SERVER to point at one)\n", s_bin);
        return 77;
    }
    static const wbt_case_t cases[] = {{"two_runs_into_server", test_two_runs_into_server}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    return rc;
}
