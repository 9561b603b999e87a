//  bench_util.h - shared helpers of the benchmark programs (B3-B11)
//  SPDX-License-Identifier: MIT
//
//  Clocks, CPU pinning, percentiles, the machine line, the JSON-line output
//  ({bench, variant, metric, value, unit, baseline, ratio}), a real
//  wandb-mpi-server in a temporary directory, and GET of its JSON API over
//  one kept-alive curl handle. Thread: the main thread, except the clocks
//  and bu_pin (any).
#ifndef WANDB_BENCH_UTIL_H
#define WANDB_BENCH_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BU_MAX_REPS 64 // repetitions a bu_stats_t can summarize

typedef struct {
    double median; // of the repetitions
    double p10;    // 10th percentile (nearest rank, interpolated)
    double p90;    // 90th percentile
    double min;    // smallest
    double max;    // largest
    int n;         // repetitions
} bu_stats_t;

// Monotonic wall clock, CPU time of the calling thread, of the process (ns).
uint64_t bu_now_ns(void);
uint64_t bu_thread_cpu_ns(void);
uint64_t bu_process_cpu_ns(void);
// Pins the calling thread (and threads it creates later) to cpu when the
// machine has it; returns false otherwise.
bool bu_pin(int cpu);
// Sorts a copy of v[0..n) and returns median, p10, p90, min, max.
bu_stats_t bu_stats(const double *v, int n);
// Prints the machine line (CPU model, cores, kernel, compiler, libzmq,
// jansson, libcurl) on stderr, prefixed with the bench name.
void bu_machine_line(const char *bench);
// Prints one JSON line on stdout; ratio = value / base_value (0 when no base).
void bu_emit(const char *bench, const char *variant, const char *metric, double value,
             const char *unit, const char *baseline, double base_value);
// Prints one JSON line with p10/p90 of the repetitions too.
void bu_emit_stats(const char *bench, const char *variant, const char *metric, const bu_stats_t *st,
                   const char *unit, const char *baseline, double base_value);

// The server binary: argv_server when given, else $WANDB_MPI_SERVER, else the
// path CMake compiled in (WANDB_BENCH_SERVER).
const char *bu_server_bin(const char *argv_server);
// Creates a temporary directory and starts wandb-mpi-server in it on an
// ephemeral loopback port. Fills dir (>= 64 bytes), url and key. Returns the
// child's pid, or -1 (nothing left behind).
pid_t bu_server_start(const char *bin, char *dir, char *url, size_t url_len, char *key,
                      size_t key_len);
// SIGTERM, waits for the child (at most 5 s, then SIGKILL) and removes dir.
void bu_server_stop(pid_t pid, const char *dir);
// Removes a directory tree (the temporary ones only).
void bu_rmtree(const char *dir);

// GET url + path (+ "?api_key=KEY") with a kept-alive handle, so that many
// calls cost one TCP connection. Returns the parsed JSON (caller owns) or NULL.
typedef struct bu_http bu_http_t;
bu_http_t *bu_http_new(const char *url, const char *key);
json_t *bu_http_get(bu_http_t *self, const char *path);
void bu_http_destroy(bu_http_t **self_p);
// Reads an integer at a dotted path ("requests.file_stream"); -1 if absent.
long long bu_json_int(const json_t *obj, const char *dotted);

#endif
