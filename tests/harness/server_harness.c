//  server_harness.c - the real wandb-mpi-server for tests: start, stop, GET
//  SPDX-License-Identifier: MIT
#include "harness/server_harness.h"

#include "common/buf.h"
#include "common/jsonx.h"
#include "testutil.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_LIVE_MAX 8           // servers a test program runs at once
#define S_BODY_MAX (64u << 20) // bytes of a GET answer
#define S_PREFIX "wandb-mpi-server listening on "

extern char **environ;

// A running server, remembered so that exit can kill it (a failed check).
typedef struct {
    pid_t pid;    // its process (0: free slot)
    pid_t owner;  // the test process that started it
    char dir[64]; // its data directory
} s_live_t;

static s_live_t s_live[S_LIVE_MAX]; // servers started and not stopped yet
static bool s_atexit_set;           // s_kill_live is registered

// Milliseconds of the monotonic clock.
static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// At exit: kills the servers this process started that still run and
// removes their directories. A case's process (testutil.h) inherits the
// table but leaves the runner's servers alone.
static void s_kill_live(void)
{
    for (int i = 0; i < S_LIVE_MAX; i++) {
        if (s_live[i].pid > 0 && s_live[i].owner == getpid()) {
            kill(s_live[i].pid, SIGKILL);
            waitpid(s_live[i].pid, NULL, 0);
            if (s_live[i].dir[0])
                wbt_rm_tree(s_live[i].dir);
            s_live[i].pid = 0;
        }
    }
}

// Remembers a started process until it is reaped (dir: removed at exit
// too, or "" for none), so that a failed check never leaves it running.
static void s_live_add(pid_t pid, const char *dir)
{
    if (!s_atexit_set)
        atexit(s_kill_live);
    s_atexit_set = true;
    for (int i = 0; i < S_LIVE_MAX; i++) {
        if (s_live[i].pid == 0) {
            s_live[i].pid = pid;
            s_live[i].owner = getpid();
            snprintf(s_live[i].dir, sizeof s_live[i].dir, "%s", dir);
            return;
        }
    }
    WBT_FAIL("more than %d servers at once", S_LIVE_MAX);
}

// Forgets a stopped server.
static void s_live_remove(pid_t pid)
{
    for (int i = 0; i < S_LIVE_MAX; i++) {
        if (s_live[i].pid == pid)
            s_live[i].pid = 0;
    }
}

// Copies the first line of path (without its newline) to out; false when
// the file cannot be read.
static bool s_read_first_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

// Finds the server binary.
void wbt_server_path(char *out, size_t len, bool use_env)
{
    const char *env = use_env ? getenv("WANDB_MPI_SERVER") : NULL;
    const char *dir = getenv("WANDB_TEST_BIN_DIR");
    if (env && *env)
        snprintf(out, len, "%s", env);
    else
        snprintf(out, len, "%s/src/server/wandb-mpi-server", dir ? dir : ".");
}

// Skips the test program when the server is not built.
void wbt_server_require(const char *bin)
{
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s is not built (set WANDB_MPI_SERVER to point at one)\n", bin);
        exit(77);
    }
}

// Starts the server and waits for its announcement.
void wbt_server_start(wbt_server_t *self, const char *bin, const char *dir,
                      const char *const *extra)
{
    memset(self, 0, sizeof *self);
    self->out = -1;
    if (dir) {
        snprintf(self->dir, sizeof self->dir, "%s", dir);
    } else {
        snprintf(self->dir, sizeof self->dir, "/tmp/wbt-server-XXXXXX");
        CHECK(mkdtemp(self->dir) != NULL);
    }
    char ready[128];
    snprintf(ready, sizeof ready, "%s/ready", self->dir);
    const char *argv[32] = {bin,   "--dir",       self->dir, "--port", "0", "--ready-file",
                            ready, "--log-level", "warn"};
    int argc = 9;
    for (int i = 0; extra && extra[i]; i++) {
        CHECK(argc < 31);
        if (strcmp(extra[i], "--api-key") == 0 && extra[i + 1])
            snprintf(self->key, sizeof self->key, "%s", extra[i + 1]);
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    self->pid = wbt_spawn(argv, &self->out);
    s_live_remove(self->pid);
    s_live_add(self->pid, self->dir);
    wbt_read_line(self->out, S_PREFIX, WBT_SERVER_WAIT_MS, self->url, sizeof self->url);
    char line[128] = "";
    if (!s_read_first_line(ready, line, sizeof line))
        WBT_FAIL("server wrote no ready file '%s'", ready);
    CHECK_STREQ(line, self->url);
    if (!self->key[0]) {
        char path[128];
        snprintf(path, sizeof path, "%s/api_key", self->dir);
        if (!s_read_first_line(path, self->key, sizeof self->key))
            self->key[0] = '\0';
    }
}

// Stops the server, keeping its directory.
int wbt_server_stop(wbt_server_t *self)
{
    int code = -1;
    if (self->pid > 0) {
        kill(self->pid, SIGTERM);
        code = wbt_wait_exit(self->pid, WBT_SERVER_WAIT_MS);
        if (code < 0) {
            kill(self->pid, SIGKILL);
            waitpid(self->pid, NULL, 0);
        }
        s_live_remove(self->pid);
        self->pid = 0;
    }
    if (self->out >= 0)
        close(self->out);
    self->out = -1;
    return code;
}

// Stops the server and removes its directory.
void wbt_server_release(wbt_server_t *self)
{
    wbt_server_stop(self);
    if (self->dir[0])
        wbt_rm_tree(self->dir);
    self->dir[0] = '\0';
}

// Appends a chunk of an HTTP answer to a wbi_buf_t.
static size_t s_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    CHECK_OK(wbi_buf_append(arg, ptr, size * nmemb));
    return size * nmemb;
}

// GETs a JSON answer with the key.
json_t *wbt_http_get(const wbt_server_t *srv, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", srv->url, path);
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", srv->key);
    wbi_buf_t body;
    wbi_buf_init(&body, S_BODY_MAX);
    CURL *c = curl_easy_init();
    CHECK(c != NULL);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    const char *text = body.data ? body.data : "";
    if (rc != CURLE_OK)
        WBT_FAIL("GET %s: %s", path, curl_easy_strerror(rc));
    if (status != 200)
        WBT_FAIL("GET %s: HTTP %ld: %s", path, status, text);
    json_t *j = wbi_jsonx_loadb(text, body.len, 0, NULL); // the API may write NaN
    if (!j)
        WBT_FAIL("GET %s: not JSON: %s", path, text);
    wbi_buf_release(&body);
    return j;
}

// Clears the environment a run reads.
void wbt_run_env_clear(void)
{
    static const char *const vars[] = {
        "WANDB_MODE",     "WANDB_RUN_ID", "WANDB_AGGREGATOR",     "WANDB_API_KEY",
        "WANDB_BASE_URL", "WANDB_ENTITY", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
        "PMI_RANK",       "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

// Spawns a program with its stdout on a pipe.
pid_t wbt_spawn(const char *const *argv, int *out_fd)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0)
        WBT_FAIL("cannot start '%s': %s", argv[0], strerror(rc));
    *out_fd = fds[0];
    s_live_add(pid, "");
    return pid;
}

// Waits (bounded) for a process to exit.
int wbt_wait_exit(pid_t pid, int timeout_ms)
{
    long long deadline = s_now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s_live_remove(pid);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (s_now_ms() >= deadline)
            return -1;
        usleep(20 * 1000);
    }
}

// Runs a program, keeps its stdout, waits (bounded) for its exit code.
int wbt_run_capture(const char *const *argv, char *out, size_t len, int timeout_ms)
{
    int fd = -1;
    pid_t pid = wbt_spawn(argv, &fd);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < len && (k = read(fd, out + got, len - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(fd);
    int code = wbt_wait_exit(pid, timeout_ms);
    if (code < 0) {
        kill(pid, SIGKILL);
        wbt_wait_exit(pid, 2000);
        WBT_FAIL("'%s' did not end within %d ms", argv[0], timeout_ms);
    }
    return code;
}

// Reads a program's stdout until the line that starts with prefix.
void wbt_read_line(int fd, const char *prefix, int timeout_ms, char *out, size_t len)
{
    char buf[4096];
    size_t used = 0;
    buf[0] = '\0';
    long long deadline = s_now_ms() + timeout_ms;
    while (s_now_ms() < deadline && used < sizeof buf - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        const char *line = strstr(buf, prefix);
        const char *nl = line ? strchr(line, '\n') : NULL;
        if (nl) {
            line += strlen(prefix);
            snprintf(out, len, "%.*s", (int)(nl - line), line);
            return;
        }
    }
    WBT_FAIL("no line '%s' within %d ms (got '%s')", prefix, timeout_ms, buf);
}
