//  server_harness.h - the real wandb-mpi-server for tests: start, stop, GET
//  SPDX-License-Identifier: MIT
//
//  A test starts the server binary on an ephemeral port in a data directory,
//  reads its "listening on" line (and the --ready-file, which must agree),
//  talks to it over HTTP and stops it. Every wait is bounded. A server still
//  running when the program exits (a check failed) is killed and its
//  temporary directory removed. Failures go through WBT_FAIL (testutil.h).
//  Thread: the test's main thread only.
#ifndef WBT_SERVER_HARNESS_H
#define WBT_SERVER_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WBT_SERVER_WAIT_MS 10000 // bound on the readiness line and on a stop

// One server process and where it serves.
typedef struct {
    pid_t pid;     // server process (0 when not running)
    int out;       // read end of its stdout (-1 when closed)
    char dir[64];  // data directory
    char url[128]; // base URL, as announced ("http://127.0.0.1:PORT")
    char key[128]; // API key: the --api-key given, else DIR/api_key ("" when neither)
} wbt_server_t;

// Writes the path of the server binary to out: $WANDB_MPI_SERVER when
// use_env and it is set, else $WANDB_TEST_BIN_DIR/src/server/wandb-mpi-server
// ("." for an unset $WANDB_TEST_BIN_DIR).
void wbt_server_path(char *out, size_t len, bool use_env);

// Exits 77 (CTest: skipped) with a message when bin is not executable.
void wbt_server_require(const char *bin);

// Starts bin with --dir, --port 0, --ready-file DIR/ready, --log-level warn
// and then extra (NULL-terminated, may be NULL; later flags win). dir NULL:
// a new temporary directory. Waits at most WBT_SERVER_WAIT_MS for the
// "listening on" line, checks that the ready file holds the same URL and
// fills self. Fails the test on any error.
void wbt_server_start(wbt_server_t *self, const char *bin, const char *dir,
                      const char *const *extra);

// Sends SIGTERM and waits at most WBT_SERVER_WAIT_MS, then SIGKILL. Returns
// the exit code (128 + signal when killed by another signal), or -1 when it
// had to be killed. Keeps the directory, so the server can start in it again.
int wbt_server_stop(wbt_server_t *self);

// Stops the server if it runs and removes its directory; never fails.
void wbt_server_release(wbt_server_t *self);

// GETs server URL + path with "Authorization: Bearer <key>" (5 s timeout) on
// a new connection. Fails the test unless the answer is 200 with (extended)
// JSON. Returns a new reference.
json_t *wbt_http_get(const wbt_server_t *srv, const char *path);

// Unsets the variables that would steer a run of the test process (the
// settings WANDB_MODE, _RUN_ID, _AGGREGATOR, _API_KEY, _BASE_URL, _ENTITY
// and the launchers' rank variables), so that a test's settings are its own.
void wbt_run_env_clear(void);

// Spawns argv[0] with argv, stdout on a pipe whose read end goes to *out_fd.
// Returns the pid; fails the test when the spawn fails.
pid_t wbt_spawn(const char *const *argv, int *out_fd);

// Waits at most timeout_ms for pid to exit. Returns its exit code (128 +
// signal when killed), or -1 when it still runs.
int wbt_wait_exit(pid_t pid, int timeout_ms);

// Runs argv to its end: its stdout (up to len - 1 bytes, NUL-terminated) in
// out. Returns its exit code; a program still running after timeout_ms is
// killed and fails the test.
int wbt_run_capture(const char *const *argv, char *out, size_t len, int timeout_ms);

// Reads fd until a line containing prefix, and copies what follows the prefix
// on that line to out. Fails the test after timeout_ms or at end of file.
void wbt_read_line(int fd, const char *prefix, int timeout_ms, char *out, size_t len);

// wbt_rm_tree (rm -rf without a shell) is in testutil.h.

#endif
