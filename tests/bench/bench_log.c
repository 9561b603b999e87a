//  bench_log.c - B1: the cost of wandb_log on the calling thread
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_log [server-binary]   (default: wandb-mpi-server beside it)
//  Times every call of a 10-scalar (and a 100-scalar) wandb_log with string
//  keys, next to baselines run in the same process: memcpy of the row bytes
//  plus one clock read, zmq_send of the same bytes over ipc to a draining
//  thread, and fprintf of the equivalent JSON line. Prints one JSON line a
//  figure ({bench, variant, metric, value, unit, baseline, ratio}) and a
//  summary table on stderr. The run logs into a real wandb-mpi-server (in a
//  temporary directory) through the in-process aggregator.
#include "common/alloc.h"
#include "wandb.h"

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BURST 20000 // calls between pauses, well inside the ring
#define BURSTS 10
#define CALLS (BURST * BURSTS)

static const char *s_keys[100];

static inline uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double p50, p99, p999, mean; // ns per call, timer overhead removed
} s_stats_t;

// Sorts samples and returns percentiles minus the timer's own median cost.
static s_stats_t s_summarize(uint64_t *ns, size_t n, double timer_ns)
{
    qsort(ns, n, sizeof *ns, s_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)ns[i];
    s_stats_t st = {(double)ns[n / 2] - timer_ns, (double)ns[n * 99 / 100] - timer_ns,
                    (double)ns[n * 999 / 1000] - timer_ns, sum / (double)n - timer_ns};
    if (st.p50 < 0)
        st.p50 = 0;
    return st;
}

// Median cost of the two clock reads that bracket every timed call.
static double s_timer_overhead(void)
{
    static uint64_t ns[100000];
    for (size_t i = 0; i < 100000; i++) {
        uint64_t t0 = s_now_ns();
        ns[i] = s_now_ns() - t0;
    }
    qsort(ns, 100000, sizeof *ns, s_cmp_u64);
    return (double)ns[50000];
}

static void s_emit(const char *variant, const char *metric, double value, const char *unit,
                   const char *baseline, double base_value)
{
    printf("{\"bench\":\"B1\",\"variant\":\"%s\",\"metric\":\"%s\",\"value\":%.1f,"
           "\"unit\":\"%s\",\"baseline\":\"%s\",\"ratio\":%.3f}\n",
           variant, metric, value, unit, baseline, base_value > 0 ? value / base_value : 0.0);
}

// Baseline: copy the row's 144 bytes and read the clock once.
static s_stats_t s_bench_memcpy(uint64_t *ns, double timer)
{
    static uint8_t src[144], dst[1 << 16];
    size_t off = 0;
    for (size_t i = 0; i < CALLS; i++) {
        uint64_t t0 = s_now_ns();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(dst + off, src, sizeof src);
        memcpy(dst + off, &ts, sizeof ts);
        off = (off + 144) & 0x7FFF;
        ns[i] = s_now_ns() - t0;
    }
    return s_summarize(ns, CALLS, timer);
}

// Pins the calling thread (pid 0: and the threads it creates later) to cpu,
// when the machine has it. Producers run on CPU 0, consumers on CPU 1.
static void s_pin(int cpu)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Drains the PULL socket until it sees a 1-byte message.
static void *s_zmq_drain(void *sock)
{
    s_pin(1);
    char buf[256];
    for (;;) {
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        if (n == 1 || (n < 0 && zmq_errno() == ETERM))
            return NULL;
    }
}

// Baseline: zmq_send of the same 144 bytes over ipc to a draining thread.
static s_stats_t s_bench_zmq(uint64_t *ns, double timer)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/wandb-bench-%d.ipc", (int)getpid());
    zmq_bind(pull, ep);
    zmq_connect(push, ep);
    pthread_t th;
    pthread_create(&th, NULL, s_zmq_drain, pull);
    uint8_t row[144] = {0};
    for (size_t i = 0; i < CALLS; i++) {
        uint64_t t0 = s_now_ns();
        zmq_send(push, row, sizeof row, 0);
        ns[i] = s_now_ns() - t0;
    }
    zmq_send(push, "x", 1, 0);
    pthread_join(th, NULL);
    int linger = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    unlink(ep + 6);
    return s_summarize(ns, CALLS, timer);
}

// Baseline: fprintf of the equivalent JSON line (10 doubles, %.17g).
static s_stats_t s_bench_fprintf(uint64_t *ns, double timer)
{
    FILE *f = fopen("/dev/null", "w");
    for (size_t i = 0; i < CALLS; i++) {
        double v = (double)i * 0.001;
        uint64_t t0 = s_now_ns();
        fprintf(f,
                "{\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,"
                "\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,\"%s\":%.17g,"
                "\"_step\":%zu,\"_timestamp\":%.17g}\n",
                s_keys[0], v, s_keys[1], v + 1, s_keys[2], v + 2, s_keys[3], v + 3, s_keys[4],
                v + 4, s_keys[5], v + 5, s_keys[6], v + 6, s_keys[7], v + 7, s_keys[8], v + 8,
                s_keys[9], v + 9, i, 1767225600.0 + v);
        ns[i] = s_now_ns() - t0;
    }
    fclose(f);
    return s_summarize(ns, CALLS, timer);
}

// wandb_log of nkeys doubles with string keys; pauses between bursts so
// the consumer keeps up and nothing is dropped. *allocs gets allocations
// per call.
static s_stats_t s_bench_wandb(wandb_run_t *run, int nkeys, uint64_t *ns, double timer,
                               double *allocs)
{
    wandb_value_t vals[100];
    for (int k = 0; k < nkeys; k++)
        vals[k] = WANDB_DOUBLE(s_keys[k], 0.0);
    wandb_log_values(run, vals, (size_t)nkeys, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO); // warm keys
    uint64_t a0 = wbi_alloc_count_thread();
    size_t calls = nkeys > 10 ? CALLS / 10 : CALLS;
    size_t burst = nkeys > 10 ? BURST / 10 : BURST;
    for (size_t i = 0; i < calls; i++) {
        for (int k = 0; k < nkeys; k++)
            vals[k].as.d = (double)i * 0.001 + k;
        uint64_t t0 = s_now_ns();
        wandb_log_values(run, vals, (size_t)nkeys, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO);
        ns[i] = s_now_ns() - t0;
        if ((i + 1) % burst == 0)
            usleep(nkeys > 10 ? 400000 : 150000);
    }
    *allocs = (double)(wbi_alloc_count_thread() - a0) / (double)calls;
    return s_summarize(ns, calls, timer);
}

// nftw callback: removes one entry of the temporary directory.
static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

// Starts wandb-mpi-server in dir; fills url and key. Returns its pid or -1.
static pid_t s_start_server(const char *bin, const char *dir, char *url, size_t url_len, char *key,
                            size_t key_len)
{
    char ready[512];
    snprintf(ready, sizeof ready, "%s/ready.url", dir);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(bin, bin, "--dir", dir, "--port", "0", "--ready-file", ready, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(ready, "r");
        if (f) {
            bool ok = fgets(url, (int)url_len, f) != NULL;
            fclose(f);
            if (ok && url[0]) {
                url[strcspn(url, "\n")] = '\0';
                char path[512];
                snprintf(path, sizeof path, "%s/api_key", dir);
                f = fopen(path, "r");
                if (f && fgets(key, (int)key_len, f)) {
                    key[strcspn(key, "\n")] = '\0';
                    fclose(f);
                    return pid;
                }
                if (f)
                    fclose(f);
            }
        }
        usleep(50000);
    }
    kill(pid, SIGTERM);
    return -1;
}

int main(int argc, char **argv)
{
    char default_bin[1024];
    snprintf(default_bin, sizeof default_bin, "%s", argv[0]);
    char *slash = strrchr(default_bin, '/');
    snprintf(slash ? slash + 1 : default_bin, 64, "wandb-mpi-server");
    const char *server_bin = argc > 1 ? argv[1] : default_bin;

    static char names[100][16];
    for (int k = 0; k < 100; k++) {
        snprintf(names[k], sizeof names[k], k < 10 ? "train/m%d" : "layer%d/norm", k);
        s_keys[k] = names[k];
    }
    uint64_t *ns = malloc(sizeof(uint64_t) * CALLS);

    // Everything started from here (server, I/O and aggregator threads) runs
    // on CPU 1; the timed calls run on CPU 0 (BENCHMARKS.md "pin").
    s_pin(1);
    char dir[] = "/tmp/wandb-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char url[256], key[256];
    pid_t server = s_start_server(server_bin, dir, url, sizeof url, key, sizeof key);
    if (server < 0) {
        fprintf(stderr, "bench_log: cannot start %s\n", server_bin);
        return 1;
    }
    wandb_settings_t *s = NULL;
    wandb_settings_new(&s);
    wandb_settings_set(s, "project", "bench");
    wandb_settings_set(s, "base_url", url);
    wandb_settings_set(s, "api_key", key);
    wandb_run_t *run = NULL;
    if (wandb_init(s, &run) != WANDB_OK) {
        fprintf(stderr, "bench_log: wandb_init: %s\n", wandb_settings_errmsg(s));
        return 1;
    }

    s_pin(0);
    double timer = s_timer_overhead();
    s_stats_t base = s_bench_memcpy(ns, timer);
    s_stats_t zmq = s_bench_zmq(ns, timer);
    s_stats_t json = s_bench_fprintf(ns, timer);
    double allocs10 = 0, allocs100 = 0;
    s_stats_t w10 = s_bench_wandb(run, 10, ns, timer, &allocs10);
    s_stats_t w100 = s_bench_wandb(run, 100, ns, timer, &allocs100);
    uint64_t dropped = wandb_run_dropped(run);
    wandb_err frc = wandb_finish(&run, 0);
    wandb_settings_destroy(&s);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);

    s_emit("memcpy+clock 144B", "p50", base.p50, "ns", "", 0);
    s_emit("zmq_send ipc 144B", "p50", zmq.p50, "ns", "", 0);
    s_emit("fprintf JSONL row", "p50", json.p50, "ns", "", 0);
    s_emit("log 10 scalars", "p50", w10.p50, "ns", "zmq_send", zmq.p50);
    s_emit("log 10 scalars", "p50", w10.p50, "ns", "fprintf JSONL", json.p50);
    s_emit("log 10 scalars", "p50", w10.p50, "ns", "memcpy+clock", base.p50);
    s_emit("log 10 scalars", "p99", w10.p99, "ns", "", 0);
    s_emit("log 10 scalars", "p99.9", w10.p999, "ns", "", 0);
    s_emit("log 10 scalars", "allocs_per_call", allocs10, "count", "", 0);
    s_emit("log 100 scalars", "p50", w100.p50, "ns", "zmq_send", zmq.p50);
    s_emit("log 100 scalars", "p99", w100.p99, "ns", "", 0);
    s_emit("log 100 scalars", "allocs_per_call", allocs100, "count", "", 0);

    fprintf(stderr, "\nB1 log() hot path, ns per call (timer overhead %.0f ns removed)\n", timer);
    fprintf(stderr, "%-22s %8s %8s %8s\n", "", "p50", "p99", "p99.9");
    const struct {
        const char *name;
        s_stats_t st;
    } rows[] = {{"memcpy+clock 144B", base},
                {"zmq_send ipc 144B", zmq},
                {"fprintf JSONL row", json},
                {"wandb_log 10 scalars", w10},
                {"wandb_log 100 scalars", w100}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(stderr, "%-22s %8.0f %8.0f %8.0f\n", rows[i].name, rows[i].st.p50, rows[i].st.p99,
                rows[i].st.p999);
    fprintf(stderr,
            "producer on CPU 0, consumers on CPU 1\n"
            "wandb_log(10) / zmq_send = %.2f   fprintf / wandb_log(10) = %.1fx   "
            "allocs/call = %.3f   dropped = %llu   finish: %s\n",
            w10.p50 / zmq.p50, json.p50 / (w10.p50 > 0 ? w10.p50 : 1), allocs10,
            (unsigned long long)dropped, wandb_strerror(frc));
    free(ns);
    nftw(dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
