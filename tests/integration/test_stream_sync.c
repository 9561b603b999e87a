//  test_stream_sync.c - wandb-events.jsonl and output.log lines: outlet, backend, journal, sync
//  SPDX-License-Identifier: MIT
//
//  The stream files beside history go through the real outlet (journal
//  first, then the backend) into the real wandb-mpi-server, each at its own
//  offsets; what the backend did not acknowledge is counted by the outlet's
//  finish and sent by the real `wandb-mpi sync` binary. The server's read API
//  (/events, /logs) says what arrived, line by line.
#include "common/alloc.h"
#include "harness/agg_rows.h"
#include "harness/server_harness.h"
#include "outlet/outlet.h"
#include "testutil.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SYNC_MS 60000 // bound on one sync run

static char s_server[512]; // wandb-mpi-server
static char s_cli[512];    // wandb-mpi

// Runs `wandb-mpi sync --base-url U --api-key K dir` and returns its exit code.
static int s_sync(const wbt_server_t *srv, const char *dir, char *out, size_t len)
{
    const char *argv[] = {s_cli, "sync", "--base-url", srv->url, "--api-key", srv->key, dir, NULL};
    return wbt_run_capture(argv, out, len, S_SYNC_MS);
}

// Event line i: {"system.cpu": i, "_wandb": true, "_timestamp": 1000 + i, "_runtime": i}.
static void s_event(wbi_agg_sink_t *sk, void *r, int i)
{
    char line[160];
    int n = snprintf(line, sizeof line,
                     "{\"system.cpu\":%d,\"_wandb\":true,\"_timestamp\":%d,\"_runtime\":%d}", i,
                     1000 + i, i);
    sk->stream(sk->arg, r, WBI_STREAM_EVENTS, line, (size_t)n);
}

// Console line i: "2026-01-01T00:00:00.000000 line i".
static void s_output(wbi_agg_sink_t *sk, void *r, int i)
{
    char line[160];
    int n = snprintf(line, sizeof line, "2026-01-01T00:00:%02d.000000 line %d", i % 60, i);
    sk->stream(sk->arg, r, WBI_STREAM_OUTPUT, line, (size_t)n);
}

// Checks that the server holds exactly events 0..nev-1 and console lines 0..nout-1 of run_id.
static void s_check_streams(const wbt_server_t *srv, const char *run_id, int nev, int nout)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/events?project=p", run_id);
    json_t *ev = wbt_http_get(srv, path);
    json_t *rows = json_object_get(ev, "rows");
    CHECK_EQ((int)json_array_size(rows), nev);
    for (int i = 0; i < nev && i < (int)json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, (size_t)i);
        CHECK_EQ(json_integer_value(json_object_get(row, "system.cpu")), i);
        CHECK(json_is_true(json_object_get(row, "_wandb")));
    }
    json_decref(ev);
    snprintf(path, sizeof path, "/api/v1/runs/%s/logs?project=p", run_id);
    json_t *logs = wbt_http_get(srv, path);
    json_t *lines = json_object_get(logs, "lines");
    CHECK_EQ((int)json_array_size(lines), nout);
    for (int i = 0; i < nout && i < (int)json_array_size(lines); i++) {
        char want[160];
        snprintf(want, sizeof want, "2026-01-01T00:00:%02d.000000 line %d", i % 60, i);
        CHECK_STREQ(json_string_value(json_array_get(lines, (size_t)i)), want);
    }
    json_decref(logs);
}

// The number of history rows the server holds for run_id.
static int s_rows(const wbt_server_t *srv, const char *run_id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=p", run_id);
    json_t *h = wbt_http_get(srv, path);
    int n = (int)json_array_size(json_object_get(h, "rows"));
    json_decref(h);
    return n;
}

// Online: history, events and console lines reach the server at their own
// offsets; the server goes away; the outlet's finish counts the stream lines
// still pending (only those: every history row was acknowledged; a line after
// the finish is not taken); sync sends exactly the rest, and a second sync nothing.
static void test_online_then_sync(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-stream-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbt_server_t srv;
    wbt_server_start(&srv, s_server, NULL, NULL);
    wbi_outlet_opts_t oo = {.journal_dir = parent,
                            .backend = {.base_url = srv.url,
                                        .api_key = srv.key,
                                        .flush_interval_ms = 50,
                                        .retry_min_ms = 50,
                                        .retry_max_ms = 100}};
    wbi_outlet_t *o = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&o, &oo, err, sizeof err));
    wbi_agg_sink_t sk;
    wbi_outlet_sink(o, &sk);
    wbi_run_meta_t m = {.run_id = "strm", .project = "p"};
    void *r = sk.open(sk.arg, &m);
    CHECK(sk.find(sk.arg, "p", "strm") == r);
    CHECK(sk.find(sk.arg, "q", "strm") == NULL);
    for (int i = 0; i < 20; i++)
        wbt_sink_loss_row(&sk, r, i, i + 0.5, i);
    for (int i = 0; i < 5; i++)
        s_event(&sk, r, i);
    for (int i = 0; i < 7; i++)
        s_output(&sk, r, i);
    wbi_outlet_stats_t st = {0};
    for (int i = 0; i < 250 && (st.lines_acked < 20 || st.stream_lines_acked < 12); i++) {
        usleep(20000);
        wbi_outlet_get_stats(o, &st);
    }
    CHECK_EQ(st.lines_acked, 20u);
    CHECK_EQ(st.stream_lines, 12u);
    CHECK_EQ(st.stream_lines_acked, 12u);
    s_check_streams(&srv, "strm", 5, 7);
    CHECK_EQ(s_rows(&srv, "strm"), 20);

    CHECK_EQ(wbt_server_stop(&srv), 0); // the backend goes away
    for (int i = 5; i < 8; i++)
        s_event(&sk, r, i);
    for (int i = 7; i < 11; i++)
        s_output(&sk, r, i);
    sk.finish(sk.arg, r, 0);
    s_event(&sk, r, 99); // after the finish went to the backend: not taken, not pending
    CHECK_ERR(wbi_outlet_finish(o, 500), WANDB_ETIMEDOUT);
    wbi_outlet_get_stats(o, &st);
    CHECK_EQ(st.lines, st.lines_acked); // only stream lines are pending
    CHECK_EQ(st.stream_lines, 19u);
    CHECK_EQ(st.stream_lines_acked, 12u);
    wbi_outlet_destroy(&o);

    // The same backend again (ACKs name its URL): sync sends the 7 missing lines.
    char data[sizeof srv.dir];
    char port[16];
    snprintf(data, sizeof data, "%s", srv.dir);
    snprintf(port, sizeof port, "%s", strrchr(srv.url, ':') + 1);
    const char *same_port[] = {"--port", port, NULL};
    wbt_server_start(&srv, s_server, data, same_port);
    char out[4096];
    CHECK_EQ(s_sync(&srv, parent, out, sizeof out), 0);
    CHECK(strstr(out, "1/1 runs, 0/0 rows") != NULL);
    s_check_streams(&srv, "strm", 8, 11);
    CHECK_EQ(s_rows(&srv, "strm"), 20);
    CHECK_EQ(s_sync(&srv, parent, out, sizeof out), 0);
    CHECK(strstr(out, "nothing to upload") != NULL);
    s_check_streams(&srv, "strm", 8, 11);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// Offline: the journal keeps every stream line; one sync sends them all, at
// offsets from 0, beside the history; the run finishes.
static void test_offline_sync(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-stream-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbi_outlet_opts_t oo = {.journal_dir = parent, .offline = true};
    wbi_outlet_t *o = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&o, &oo, err, sizeof err));
    wbi_agg_sink_t sk;
    wbi_outlet_sink(o, &sk);
    wbi_run_meta_t m = {.run_id = "offs", .project = "p"};
    void *r = sk.open(sk.arg, &m);
    for (int i = 0; i < 3; i++)
        wbt_sink_loss_row(&sk, r, i, i, i);
    for (int i = 0; i < 40; i++) {
        s_event(&sk, r, i);
        s_output(&sk, r, i);
    }
    sk.finish(sk.arg, r, 0);
    CHECK_OK(wbi_outlet_finish(o, 100));
    wbi_outlet_destroy(&o);
    wbt_server_t srv;
    wbt_server_start(&srv, s_server, NULL, NULL);
    char out[4096];
    CHECK_EQ(s_sync(&srv, parent, out, sizeof out), 0);
    CHECK(strstr(out, "1/1 runs, 3/3 rows") != NULL);
    s_check_streams(&srv, "offs", 40, 40);
    json_t *run = wbt_http_get(&srv, "/api/v1/runs/offs?project=p");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "finished");
    json_decref(run);
    CHECK_EQ(s_sync(&srv, parent, out, sizeof out), 0);
    CHECK(strstr(out, "nothing to upload") != NULL);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// The prefix rule per stream: a console line the backend refuses (not
// UTF-8) stops that file there and withholds the complete; the other file
// and history go on; the outlet's finish says something is pending.
static void test_prefix_rule(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-stream-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbt_server_t srv;
    wbt_server_start(&srv, s_server, NULL, NULL);
    wbi_outlet_opts_t oo = {
        .journal_dir = parent,
        .backend = {.base_url = srv.url, .api_key = srv.key, .flush_interval_ms = 50}};
    wbi_outlet_t *o = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&o, &oo, err, sizeof err));
    wbi_agg_sink_t sk;
    wbi_outlet_sink(o, &sk);
    wbi_run_meta_t m = {.run_id = "pref", .project = "p"};
    void *r = sk.open(sk.arg, &m);
    for (int i = 0; i < 3; i++)
        s_output(&sk, r, i);
    sk.stream(sk.arg, r, WBI_STREAM_OUTPUT, "bad \xff byte", 10);
    for (int i = 3; i < 6; i++)
        s_output(&sk, r, i); // refused: after the refused line
    for (int i = 0; i < 4; i++)
        s_event(&sk, r, i);
    wbt_sink_loss_row(&sk, r, 0, 1, 0);
    sk.finish(sk.arg, r, 0);
    CHECK_ERR(wbi_outlet_finish(o, 3000), WANDB_ETIMEDOUT);
    wbi_outlet_stats_t st;
    wbi_outlet_get_stats(o, &st);
    CHECK_EQ(st.lines_acked, 1u);
    CHECK_EQ(st.stream_lines, 11u);
    CHECK_EQ(st.stream_lines_acked, 7u); // 3 console lines, 4 events
    CHECK_EQ(st.finishes_acked, 0u);
    wbi_outlet_destroy(&o);
    s_check_streams(&srv, "pref", 4, 3);
    json_t *run = wbt_http_get(&srv, "/api/v1/runs/pref?project=p");
    CHECK_STREQ(json_string_value(json_object_get(run, "state")), "running");
    json_decref(run);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// A run in two offline journals (a restarted job): one sync sends both, the
// second journal's stream lines after the first's (the server keeps no count
// for these files, so sync places them).
static void test_two_journals(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-stream-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbi_run_meta_t m = {.run_id = "two", .project = "p"};
    for (int j = 0; j < 2; j++) {
        wbi_outlet_opts_t oo = {.journal_dir = parent, .offline = true};
        wbi_outlet_t *o = NULL;
        char err[256];
        CHECK_OK(wbi_outlet_new(&o, &oo, err, sizeof err));
        wbi_agg_sink_t sk;
        wbi_outlet_sink(o, &sk);
        void *r = sk.open(sk.arg, &m);
        for (int i = 5 * j; i < 5 * j + 5; i++) {
            wbt_sink_loss_row(&sk, r, i, i, i);
            s_event(&sk, r, i);
            s_output(&sk, r, i);
        }
        if (j == 1)
            sk.finish(sk.arg, r, 0);
        else
            sk.abandon(sk.arg, r);
        CHECK_OK(wbi_outlet_finish(o, 100));
        wbi_outlet_destroy(&o);
        usleep(20000); // the second journal is newer
    }
    wbt_server_t srv;
    wbt_server_start(&srv, s_server, NULL, NULL);
    char out[4096];
    CHECK_EQ(s_sync(&srv, parent, out, sizeof out), 0);
    s_check_streams(&srv, "two", 10, 10);
    CHECK_EQ(s_rows(&srv, "two"), 10);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

int main(int argc, char **argv)
{
    wbt_run_env_clear();
    wbt_server_path(s_server, sizeof s_server, true);
    wbt_server_require(s_server);
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    snprintf(s_cli, sizeof s_cli, "%s/src/cli/wandb-mpi", bin ? bin : ".");
    static const wbt_case_t cases[] = {{"online_then_sync", test_online_then_sync},
                                       {"offline_sync", test_offline_sync},
                                       {"prefix_rule", test_prefix_rule},
                                       {"two_journals", test_two_journals}};
    return wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
