//  test_server_crash.c - what wandb-mpi-server acknowledged survives SIGKILL
//  SPDX-License-Identifier: MIT
//
//  Eight client threads stream history lines to their own runs while the
//  main thread kills the server with SIGKILL 50 times at random moments and
//  restarts it in the same directory. Each client re-sends every line not yet
//  acknowledged (as our backend does) to whichever server is up. At the end
//  every line that got a 200 must be in the database, with its content.

#include "testutil.h"

#include "harness/http_client.h"
#include "harness/server_harness.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-crash-test-key-0123456789abcdefghijklmnop"
#define S_CLIENTS 8
#define S_KILLS 50
#define S_BATCH_MAX 20 // lines per request at most

typedef struct {
    pthread_mutex_t lock; // guards url and stop
    char url[128];        // where the server is now ("" while it is down)
    bool stop;            // clients end
} s_shared_t;

typedef struct {
    s_shared_t *shared; // the server's address
    int index;          // client number (its run is crash<index>)
    unsigned seed;      // rand_r state
    long long acked;    // lines [0, acked) got a 200
    long long requests; // requests sent
    long long failures; // requests without a 200 (server down, killed mid-way)
} s_client_t;

// The content of line n of client i.
static void s_line(char *out, size_t len, int i, long long n)
{
    snprintf(out, len, "{\"client\":%d,\"n\":%lld}", i, n);
}

// Streams lines from the first unacknowledged one until told to stop.
static void *s_client_main(void *arg)
{
    s_client_t *self = arg;
    wbt_client_t c;
    wbt_client_init(&c);
    c.timeout_ms = 3000;
    char path[128];
    snprintf(path, sizeof path, "/files/local/crash/crash%d/file_stream", self->index);
    char body[S_BATCH_MAX * 48 + 256];
    for (;;) {
        char url[128];
        pthread_mutex_lock(&self->shared->lock);
        bool stop = self->shared->stop;
        snprintf(url, sizeof url, "%s", self->shared->url);
        pthread_mutex_unlock(&self->shared->lock);
        if (stop)
            break;
        if (!*url) {
            usleep(2000);
            continue;
        }
        int batch = 1 + (int)(rand_r(&self->seed) % S_BATCH_MAX);
        size_t pos = (size_t)snprintf(body, sizeof body,
                                      "{\"files\":{\"wandb-history.jsonl\":{\"offset\":%lld,"
                                      "\"content\":[",
                                      self->acked);
        for (int k = 0; k < batch; k++) {
            char line[64];
            s_line(line, sizeof line, self->index, self->acked + k);
            pos += (size_t)snprintf(body + pos, sizeof body - pos, "%s\"", k ? "," : "");
            for (const char *p = line; *p; p++) {
                if (*p == '"')
                    body[pos++] = '\\';
                body[pos++] = *p;
            }
            body[pos++] = '"';
        }
        snprintf(body + pos, sizeof body - pos, "]}}}");
        self->requests++;
        CURLcode rc = wbt_client_req(&c, url, S_KEY, "POST", path, body, strlen(body));
        if (rc == CURLE_OK && c.status == 200) {
            self->acked += batch;
        } else {
            self->failures++;
            usleep(2000);
        }
    }
    wbt_client_release(&c);
    return NULL;
}

// Publishes the server's address to the clients ("" while it is down).
static void s_publish(s_shared_t *shared, const char *url)
{
    pthread_mutex_lock(&shared->lock);
    snprintf(shared->url, sizeof shared->url, "%s", url);
    pthread_mutex_unlock(&shared->lock);
}

// Counts the lines of client i's run that are stored with the right content
// among [0, acked); fails the test on the first missing or wrong one.
static void s_verify(sqlite3 *db, int i, long long acked)
{
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT l.line_no, l.content FROM lines l JOIN runs r"
                             " ON r.id = l.run_id WHERE r.name = ?1 AND l.file ="
                             " 'wandb-history.jsonl' AND l.line_no < ?2 ORDER BY l.line_no",
                             -1, &st, NULL) == SQLITE_OK);
    char name[32];
    snprintf(name, sizeof name, "crash%d", i);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, acked);
    long long want = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long n = sqlite3_column_int64(st, 0);
        if (n != want)
            WBT_FAIL("client %d: acknowledged line %lld is missing", i, want);
        char line[64];
        s_line(line, sizeof line, i, n);
        CHECK_STREQ((const char *)sqlite3_column_text(st, 1), line);
        want++;
    }
    sqlite3_finalize(st);
    if (want != acked)
        WBT_FAIL("client %d: %lld lines acknowledged, only %lld stored", i, acked, want);
}

// 50 SIGKILLs while 8 clients log: every acknowledged line is stored.
static void test_sigkill_keeps_acknowledged(void)
{
    char bin[512];
    wbt_server_path(bin, sizeof bin, false);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_t srv;
    wbt_server_start(&srv, bin, NULL, extra);
    char dir[64];
    snprintf(dir, sizeof dir, "%s", srv.dir);
    s_shared_t shared = {.lock = PTHREAD_MUTEX_INITIALIZER};
    s_publish(&shared, srv.url);
    s_client_t clients[S_CLIENTS];
    pthread_t threads[S_CLIENTS];
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "sigkill: seed %u\n", seed);
    for (int i = 0; i < S_CLIENTS; i++) {
        clients[i] = (s_client_t){.shared = &shared, .index = i, .seed = seed + (unsigned)i};
        CHECK(pthread_create(&threads[i], NULL, s_client_main, &clients[i]) == 0);
    }
    for (int k = 0; k < S_KILLS; k++) {
        usleep((useconds_t)(20000 + rand_r(&seed) % 130000));
        s_publish(&shared, "");
        kill(srv.pid, SIGKILL);
        CHECK_EQ(wbt_wait_exit(srv.pid, 5000), 128 + SIGKILL);
        srv.pid = 0;
        close(srv.out);
        srv.out = -1;
        wbt_server_start(&srv, bin, dir, extra);
        s_publish(&shared, srv.url);
    }
    usleep(200 * 1000);
    pthread_mutex_lock(&shared.lock);
    shared.stop = true;
    pthread_mutex_unlock(&shared.lock);
    long long lines = 0, requests = 0, failures = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        lines += clients[i].acked;
        requests += clients[i].requests;
        failures += clients[i].failures;
    }
    // The last one is killed too: nothing is left to a clean shutdown.
    kill(srv.pid, SIGKILL);
    CHECK_EQ(wbt_wait_exit(srv.pid, 5000), 128 + SIGKILL);
    srv.pid = 0;
    fprintf(stderr,
            "sigkill: %d kills, %lld requests, %lld without a 200, %lld lines acknowledged\n",
            S_KILLS, requests, failures, lines);
    CHECK(lines > 0);
    char path[128];
    snprintf(path, sizeof path, "%s/wandb.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    for (int i = 0; i < S_CLIENTS; i++)
        s_verify(db, i, clients[i].acked);
    sqlite3_close(db);
    wbt_server_release(&srv);
}

WBT_MAIN({"sigkill_keeps_acknowledged", test_sigkill_keeps_acknowledged})
