//  test_logger_e2e.c - wandb_init/log/finish through the in-process
//  aggregator into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, runs the public API with no aggregator endpoint (so the
//  library starts one in the process) and reads the run back through the
//  server's JSON API. Exits 77 (CTest: skipped) when the server is not built.
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

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static char s_bin[1024]; // the server binary
static char s_dir[64];   // its data directory
static char s_url[128];  // its base URL
static pid_t s_pid = -1; // its process

// Appends a chunk of an HTTP answer to a malloc'ed string.
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

// GETs base + path with the key and parses the (extended) JSON answer.
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
    json_t *j = wbi_jsonx_loadb(text, strlen(text), 0, NULL);
    if (!j)
        WBT_FAIL("GET %s: not JSON: %s", path, text);
    free(body);
    return j;
}

// Removes one file of the data directory.
static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// Stops the server (TERM, then KILL after 5 s) and removes its directory.
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

// Starts the server on port 0 and reads its readiness line (at most 10 s).
static void s_server_start(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-logger-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    int fds[2];
    CHECK(pipe(fds) == 0);
    s_pid = fork();
    CHECK(s_pid >= 0);
    if (s_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(s_bin, s_bin, "--dir", s_dir, "--port", "0", "--api-key", S_KEY, "--log-level",
              "warn", (char *)NULL);
        _exit(127);
    }
    atexit(s_server_stop); // also when a check fails
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

// Finds a run by id in a /api/v1/runs answer.
static json_t *s_find(json_t *runs, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strcmp(n, name) == 0)
            return r;
    }
    return NULL;
}

// Settings for a run into the test server, without an aggregator endpoint.
static wandb_settings_t *s_settings(const char *run_id)
{
    const char *vars[] = {"WANDB_MODE",
                          "WANDB_RUN_ID",
                          "WANDB_AGGREGATOR",
                          "WANDB_API_KEY",
                          "WANDB_BASE_URL",
                          "WANDB_ENTITY",
                          "OMPI_COMM_WORLD_RANK",
                          "OMPI_COMM_WORLD_SIZE",
                          "PMI_RANK",
                          "SLURM_PROCID",
                          NULL};
    for (const char **v = vars; *v; v++)
        unsetenv(*v);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "lgproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "group", "e2e-group"));
    CHECK_OK(wandb_settings_set(s, "tags", "c,e2e"));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    CHECK_OK(wandb_settings_config_json(s, "{\"lr\": 0.1, \"opt\": {\"name\": \"adam\"}}"));
    return s;
}

// Normal use: 50 rows (some assembled from partial calls), config and
// summary updates; everything lands in the server and the run is finished.
static void test_run_into_server(void)
{
    wandb_settings_t *s = s_settings("lg-e2e-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_config_update(run, WANDB_INT("batch", 32)));
    for (int k = 0; k < 50; k++) {
        if (k % 10 == 0) {
            CHECK_OK(wandb_log_partial(run, WANDB_INT("epoch", k / 10)));
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", k + 0.5)));
        } else {
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", k + 0.5), WANDB_STRING("phase", "t")));
        }
    }
    CHECK_ERR(wandb_log_step(run, 10, WANDB_DOUBLE("loss", 1)), WANDB_ESTEP);
    CHECK_OK(wandb_summary_update(run, WANDB_DOUBLE("best_loss", 0.5)));
    CHECK_EQ(wandb_run_step(run), 50);
    for (int i = 0; i < 5000 && wandb_run_entity(run)[0] == '\0'; i++)
        usleep(1000);
    CHECK(wandb_run_entity(run)[0] != '\0'); // WELCOME came back
    CHECK(strstr(wandb_run_url(run), "/lgproj/runs/lg-e2e-1") != NULL);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(run == NULL && wandb_run() == NULL);
    wandb_settings_destroy(&s);

    json_t *list = s_get("/api/v1/runs?project=lgproj");
    json_t *r = s_find(list, "lg-e2e-1");
    if (!r)
        WBT_FAIL("run lg-e2e-1 not listed");
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 50);
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 0);
    CHECK_STREQ(json_string_value(json_object_get(r, "group")), "e2e-group");
    json_t *cfg = json_object_get(r, "config");
    CHECK(json_object_get(cfg, "lr") != NULL);
    CHECK(json_object_get(cfg, "batch") != NULL);
    json_t *sum = json_object_get(r, "summary");
    double loss = 0;
    CHECK(wbi_jsonx_number(json_object_get(sum, "loss"), &loss) && loss == 49.5);
    CHECK(json_object_get(sum, "best_loss") != NULL);
    json_decref(list);

    json_t *hist = s_get("/api/v1/runs/lg-e2e-1/history?project=lgproj");
    json_t *rows = json_object_get(hist, "rows");
    CHECK_EQ(json_array_size(rows), 50);
    for (size_t k = 0; k < 50; k++) {
        json_t *row = json_array_get(rows, k);
        CHECK_EQ(json_integer_value(json_object_get(row, "_step")), k);
        double v = 0;
        CHECK(wbi_jsonx_number(json_object_get(row, "loss"), &v) && v == (double)k + 0.5);
        if (k % 10 == 0)
            CHECK_EQ(json_integer_value(json_object_get(row, "epoch")), k / 10);
        else
            CHECK_STREQ(json_string_value(json_object_get(row, "phase")), "t");
    }
    json_decref(hist);
}

// A failing exit code marks the run failed; a second run can follow.
static void test_failed_run(void)
{
    wandb_settings_t *s = s_settings("lg-e2e-2");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));
    CHECK_OK(wandb_finish(&run, 3));
    wandb_settings_destroy(&s);
    json_t *list = s_get("/api/v1/runs?project=lgproj");
    json_t *r = s_find(list, "lg-e2e-2");
    if (!r)
        WBT_FAIL("run lg-e2e-2 not listed");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 3);
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 1);
    json_decref(list);
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
    s_server_start();
    static const wbt_case_t cases[] = {{"run_into_server", test_run_into_server},
                                       {"failed_run", test_failed_run}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    s_server_stop();
    return rc;
}
