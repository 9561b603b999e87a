//  bench_util.c - shared helpers of the benchmark programs (B3-B11)
//  SPDX-License-Identifier: MIT
#include "bench_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef WANDB_BENCH_SERVER
#define WANDB_BENCH_SERVER "wandb-mpi-server"
#endif

// Reads a clock in nanoseconds.
static uint64_t s_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bu_now_ns(void)
{
    return s_clock_ns(CLOCK_MONOTONIC);
}

uint64_t bu_thread_cpu_ns(void)
{
    return s_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t bu_process_cpu_ns(void)
{
    return s_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

bool bu_pin(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
        return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// qsort comparator for doubles.
static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Percentile q (0..1) of sorted v[0..n), linear between ranks.
static double s_pct(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

bu_stats_t bu_stats(const double *v, int n)
{
    bu_stats_t st = {0};
    if (n <= 0)
        return st;
    double s[BU_MAX_REPS];
    if (n > BU_MAX_REPS)
        n = BU_MAX_REPS;
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), s_cmp_double);
    st.median = s_pct(s, n, 0.5);
    st.p10 = s_pct(s, n, 0.1);
    st.p90 = s_pct(s, n, 0.9);
    st.min = s[0];
    st.max = s[n - 1];
    st.n = n;
    return st;
}

void bu_machine_line(const char *bench)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    int zmaj = 0, zmin = 0, zpat = 0;
    zmq_version(&zmaj, &zmin, &zpat);
    fprintf(stderr,
            "%s machine: cpu \"%s\", %ld cores online, kernel %s %s, gcc %s, libzmq %d.%d.%d, "
            "jansson %s, %s\n",
            bench, model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, __VERSION__, zmaj,
            zmin, zpat, JANSSON_VERSION, curl_version());
}

// Escapes nothing: variant and baseline names are plain ASCII without quotes.
void bu_emit(const char *bench, const char *variant, const char *metric, double value,
             const char *unit, const char *baseline, double base_value)
{
    printf("{\"bench\":\"%s\",\"variant\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,"
           "\"unit\":\"%s\",\"baseline\":\"%s\",\"ratio\":%.4g}\n",
           bench, variant, metric, value, unit, baseline,
           base_value > 0 ? value / base_value : 0.0);
    fflush(stdout);
}

void bu_emit_stats(const char *bench, const char *variant, const char *metric, const bu_stats_t *st,
                   const char *unit, const char *baseline, double base_value)
{
    printf("{\"bench\":\"%s\",\"variant\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,"
           "\"p10\":%.6g,\"p90\":%.6g,\"reps\":%d,"
           "\"unit\":\"%s\",\"baseline\":\"%s\",\"ratio\":%.4g}\n",
           bench, variant, metric, st->median, st->p10, st->p90, st->n, unit, baseline,
           base_value > 0 ? st->median / base_value : 0.0);
    fflush(stdout);
}

const char *bu_server_bin(const char *argv_server)
{
    if (argv_server && argv_server[0])
        return argv_server;
    const char *env = getenv("WANDB_MPI_SERVER");
    return env && env[0] ? env : WANDB_BENCH_SERVER;
}

// nftw callback: removes one entry.
static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void bu_rmtree(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/wandb-bench-", 17) == 0)
        nftw(dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// Reads the first line of path into buf; false when absent or empty.
static bool s_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok)
        return false;
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] != '\0';
}

pid_t bu_server_start(const char *bin, char *dir, char *url, size_t url_len, char *key,
                      size_t key_len)
{
    snprintf(dir, 64, "/tmp/wandb-bench-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char ready[512];
    char keyfile[512];
    snprintf(ready, sizeof ready, "%s/ready.url", dir);
    snprintf(keyfile, sizeof keyfile, "%s/api_key", dir);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        setenv("WANDB_LOG_LEVEL", "err", 1);
        execl(bin, bin, "--dir", dir, "--port", "0", "--ready-file", ready, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) {
        bu_rmtree(dir);
        return -1;
    }
    for (int i = 0; i < 400; i++) {
        if (s_read_line(ready, url, url_len) && s_read_line(keyfile, key, key_len))
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            bu_rmtree(dir);
            return -1;
        }
        usleep(10000);
    }
    bu_server_stop(pid, dir);
    return -1;
}

void bu_server_stop(pid_t pid, const char *dir)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        int i = 0;
        while (waitpid(pid, NULL, WNOHANG) == 0 && i++ < 500)
            usleep(10000);
        if (i > 500) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    bu_rmtree(dir);
}

struct bu_http {
    CURL *curl;    // one easy handle: one kept-alive connection
    char url[256]; // server base URL
    char key[256]; // API key
    char *body;    // response being received
    size_t len;    // its length
};

// curl write callback: appends to self->body (capped at 16 MiB).
static size_t s_write(char *data, size_t size, size_t nmemb, void *arg)
{
    bu_http_t *self = arg;
    size_t n = size * nmemb;
    if (self->len + n > (16u << 20))
        return 0;
    char *p = realloc(self->body, self->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + self->len, data, n);
    self->body = p;
    self->len += n;
    p[self->len] = '\0';
    return n;
}

bu_http_t *bu_http_new(const char *url, const char *key)
{
    bu_http_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->curl = curl_easy_init();
    if (!self->curl) {
        free(self);
        return NULL;
    }
    snprintf(self->url, sizeof self->url, "%s", url);
    snprintf(self->key, sizeof self->key, "%s", key);
    return self;
}

json_t *bu_http_get(bu_http_t *self, const char *path)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s%sapi_key=%s", self->url, path, strchr(path, '?') ? "&" : "?",
             self->key);
    free(self->body);
    self->body = NULL;
    self->len = 0;
    curl_easy_setopt(self->curl, CURLOPT_URL, full);
    curl_easy_setopt(self->curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(self->curl, CURLOPT_WRITEDATA, self);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(self->curl) != CURLE_OK || !self->body)
        return NULL;
    json_error_t err;
    // The API may answer bare NaN/Infinity in history rows; stats never do.
    return json_loadb(self->body, self->len, JSON_DECODE_ANY, &err);
}

void bu_http_destroy(bu_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    curl_easy_cleanup((*self_p)->curl);
    free((*self_p)->body);
    free(*self_p);
    *self_p = NULL;
}

long long bu_json_int(const json_t *obj, const char *dotted)
{
    const json_t *cur = obj;
    const char *p = dotted;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char part[128];
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        cur = json_object_get(cur, part);
        p += n + (dot ? 1 : 0);
    }
    return json_is_integer(cur) ? (long long)json_integer_value(cur) : -1;
}
