//  test_save.c - wandb_save end to end: rank -> ring -> aggregator -> backend ->
//  the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port and saves files with each policy through the public API
//  (in-process aggregator, a small ring so that a 3 MiB file streams through
//  it in chunks). Then checks GET /api/v1/runs/<id>/files and the bytes the
//  server stored under DIR/files/<entity>/<project>/<run>/<name>: "now" as
//  saved, "live" with the bytes it had at finish, "end" read at finish.
//  Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "testutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_BIG (3u * 1024u * 1024u + 17u) // bytes of the large file

static char s_bin[1024]; // the server binary
static char s_dir[64];   // its data directory
static char s_url[128];  // its base URL
static pid_t s_pid = -1; // its process
static char s_work[64];  // where the test writes the files it saves

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
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-save-XXXXXX");
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
    CHECK_OK(wandb_settings_set(s, "project", "saveproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "262144")); // smaller than the big file
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "30000"));
    return s;
}

// Writes len bytes of data to s_work/name (creating s_work/sub).
static void s_write(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/sub", s_work);
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

// Path of s_work/name in a static buffer (one at a time).
static const char *s_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    return path;
}

// Checks that the server stored name for the run with exactly len bytes of data.
static void s_check_stored(const char *entity, const char *run_id, const char *name,
                           const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/files/%s/saveproj/%s/%s", s_dir, entity, run_id, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        WBT_FAIL("'%s' was not stored at %s", name, path);
    char *got = malloc(len + 1);
    CHECK(got != NULL);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(got, data, len) != 0)
        WBT_FAIL("'%s': stored %zu bytes, want %zu (or the bytes differ)", name, n, len);
    free(got);
}

// Finds name in a /files answer and checks its size and upload flag.
static void s_check_listed(json_t *files, const char *name, size_t size)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(files, "files"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0) {
            CHECK_EQ(json_integer_value(json_object_get(f, "size")), size);
            json_t *up = json_object_get(f, "uploaded");
            CHECK(json_is_true(up) || json_integer_value(up) == 1);
            return;
        }
    }
    WBT_FAIL("'%s' is not listed by /files", name);
}

// The three policies, an empty file, a file larger than the ring and a
// relative name: all stored with their final bytes and reported uploaded.
static void test_policies(void)
{
    static const char now1[] = "saved with policy now\n";
    static const char live1[] = "live v1\n";
    static const char live2[] = "live v2, changed after save\n";
    static const char end1[] = "end, as it was at save time\n";
    static const char end2[] = "end, as it is at finish\n";
    char *big = malloc(S_BIG);
    CHECK(big != NULL);
    for (size_t i = 0; i < S_BIG; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    s_write("now.txt", now1, strlen(now1));
    s_write("live.txt", live1, strlen(live1));
    s_write("sub/end.txt", end1, strlen(end1));
    s_write("empty.bin", "", 0);
    s_write("big.bin", big, S_BIG);

    wandb_settings_t *s = s_settings("save-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.5)));
    CHECK_OK(wandb_save(run, s_path("now.txt"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, s_path("live.txt"), s_work, WANDB_SAVE_LIVE));
    CHECK_OK(wandb_save(run, s_path("sub/end.txt"), s_work, WANDB_SAVE_END));
    CHECK_OK(wandb_save(run, s_path("empty.bin"), NULL, WANDB_SAVE_NOW)); // name: last segment
    CHECK_OK(wandb_save(run, s_path("big.bin"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.25)));
    usleep(300 * 1000); // let the first uploads happen before the files change
    s_write("live.txt", live2, strlen(live2));
    s_write("sub/end.txt", end2, strlen(end2));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    json_t *r = s_get("/api/v1/runs/save-1?project=saveproj");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 2);
    char entity[128];
    snprintf(entity, sizeof entity, "%s", json_string_value(json_object_get(r, "entity")));
    json_decref(r);
    json_t *files = s_get("/api/v1/runs/save-1/files?project=saveproj");
    s_check_listed(files, "now.txt", strlen(now1));
    s_check_listed(files, "live.txt", strlen(live2));
    s_check_listed(files, "sub/end.txt", strlen(end2));
    s_check_listed(files, "empty.bin", 0);
    s_check_listed(files, "big.bin", S_BIG);
    json_decref(files);
    s_check_stored(entity, "save-1", "now.txt", now1, strlen(now1));
    s_check_stored(entity, "save-1", "live.txt", live2, strlen(live2));
    s_check_stored(entity, "save-1", "sub/end.txt", end2, strlen(end2));
    s_check_stored(entity, "save-1", "empty.bin", "", 0);
    s_check_stored(entity, "save-1", "big.bin", big, S_BIG);
    free(big);
}

// Bad arguments and unreadable files are refused with their error; the
// run goes on and finishes normally.
static void test_errors(void)
{
    s_write("ok.txt", "ok\n", 3);
    char huge[256];
    snprintf(huge, sizeof huge, "%s/huge.bin", s_work);
    int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)(64 << 20) + 1) == 0); // sparse: costs no disk
    close(fd);
    wandb_settings_t *s = s_settings("save-2");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_ERR(wandb_save(NULL, s_path("ok.txt"), NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, NULL, NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("ok.txt"), NULL, (wandb_save_policy)7), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("missing.txt"), s_work, WANDB_SAVE_NOW), WANDB_ENOTFOUND);
    CHECK_ERR(wandb_save(run, s_path("missing.txt"), s_work, WANDB_SAVE_END), WANDB_ENOTFOUND);
    CHECK_ERR(wandb_save(run, s_path("ok.txt"), "/elsewhere", WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, "../ok.txt", NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("sub"), s_work, WANDB_SAVE_NOW), WANDB_EIO); // a directory
    CHECK_ERR(wandb_save(run, huge, s_work, WANDB_SAVE_NOW), WANDB_ETOOBIG);
    CHECK_OK(wandb_save(run, s_path("ok.txt"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_finish(&run, 0));
    CHECK_ERR(wandb_save(NULL, s_path("ok.txt"), s_work, WANDB_SAVE_NOW), WANDB_EINVAL);
    wandb_settings_destroy(&s);
    json_t *files = s_get("/api/v1/runs/save-2/files?project=saveproj");
    CHECK_EQ(json_array_size(json_object_get(files, "files")), 1);
    s_check_listed(files, "ok.txt", 3);
    json_decref(files);
    unlink(huge);
}

// Removes the work directory.
static void s_work_rm(void)
{
    if (s_work[0])
        nftw(s_work, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    s_work[0] = '\0';
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
    snprintf(s_work, sizeof s_work, "/tmp/wbt-save-work-XXXXXX");
    CHECK(mkdtemp(s_work) != NULL);
    atexit(s_work_rm);
    s_server_start();
    static const wbt_case_t cases[] = {{"policies", test_policies}, {"errors", test_errors}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    s_server_stop();
    s_work_rm();
    return rc;
}
