//  test_sync.c - wandb-mpi sync into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Journals are written by the real outlet (src/outlet/outlet.c), offline
//  or online into the real server; the real `wandb-mpi sync` binary uploads
//  them; the server's read API says what arrived. Every check counts rows.
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

// Paths of the binaries under test.
typedef struct {
    char server[512]; // wandb-mpi-server
    char cli[512];    // wandb-mpi
} s_bins_t;

static s_bins_t s_bins;

// Writes one row per step [from, to) into run r: {"loss": i.25}, _runtime i.
static void s_lines(wbi_agg_sink_t *sink, void *r, int from, int to)
{
    for (int i = from; i < to; i++)
        wbt_sink_loss_row(sink, r, i, i + 0.25, i);
}

// Runs `wandb-mpi sync ARGS...` and returns its exit code; its stdout goes to out.
static int s_sync(const wbt_server_t *srv, const char *const *args, char *out, size_t len)
{
    const char *argv[16] = {s_bins.cli, "sync", "--base-url", srv->url, "--api-key", srv->key};
    size_t n = 6;
    for (; args && *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return wbt_run_capture(argv, out, len, S_SYNC_MS);
}

// The stored steps of a run, in order, into steps (at most max); returns how many.
static size_t s_steps(const wbt_server_t *srv, const char *run_id, int *steps, size_t max)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=p", run_id);
    json_t *h = wbt_http_get(srv, path);
    json_t *rows = json_object_get(h, "rows");
    size_t n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (n < max)
            steps[n] = (int)json_integer_value(json_object_get(row, "_step"));
        n++;
    }
    json_decref(h);
    return n;
}

// The state of a run on the server.
static void s_state(const wbt_server_t *srv, const char *run_id, char *out, size_t len)
{
    json_t *runs = wbt_http_get(srv, "/api/v1/runs?project=p");
    size_t i;
    json_t *r;
    out[0] = '\0';
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), run_id) == 0)
            snprintf(out, len, "%s", json_string_value(json_object_get(r, "state")));
    }
    json_decref(runs);
}

// Checks that run_id holds exactly steps 0..n-1 and has the state want.
static void s_check_run(const wbt_server_t *srv, const char *run_id, int n, const char *want)
{
    int steps[512];
    size_t got = s_steps(srv, run_id, steps, 512);
    if ((int)got != n)
        WBT_FAIL("run '%s': %zu rows stored, want %d", run_id, got, n);
    for (int i = 0; i < n; i++)
        if (steps[i] != i)
            WBT_FAIL("run '%s': row %d has _step %d", run_id, i, steps[i]);
    char state[32];
    s_state(srv, run_id, state, sizeof state);
    CHECK_STREQ(state, want);
}

// An offline outlet writing under parent; the sink goes to *sink.
static wbi_outlet_t *s_offline(const char *parent, wbi_agg_sink_t *sink)
{
    wbi_outlet_opts_t o = {.journal_dir = parent, .offline = true};
    wbi_outlet_t *out = NULL;
    char err[256];
    CHECK_OK(wbi_outlet_new(&out, &o, err, sizeof err));
    wbi_outlet_sink(out, sink);
    return out;
}

// A run in two offline journals (a job restarted with the same run id): one
// sync merges them in order, steps continuing, and only the second one's
// finish ends it. A second sync uploads nothing; --run selects runs.
static void test_two_journals_merge(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-sync-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbi_agg_sink_t sk;
    wbi_run_meta_t merge = {.run_id = "merge1", .project = "p", .config_json = "{\"lr\":1}"};
    wbi_run_meta_t solo = {.run_id = "solo", .project = "p"};
    wbi_outlet_t *o = s_offline(parent, &sk);
    void *r1 = sk.open(sk.arg, &merge);
    void *r2 = sk.open(sk.arg, &solo);
    s_lines(&sk, r1, 0, 10);
    s_lines(&sk, r2, 0, 5);
    sk.summary(sk.arg, r1, "{\"loss\":1}", 10);
    sk.abandon(sk.arg, r1); // the first job died
    sk.finish(sk.arg, r2, 0);
    CHECK_OK(wbi_outlet_finish(o, 100));
    wbi_outlet_destroy(&o);
    usleep(20000); // the second journal is newer
    o = s_offline(parent, &sk);
    r1 = sk.open(sk.arg, &merge);
    s_lines(&sk, r1, 10, 20);
    sk.summary(sk.arg, r1, "{\"loss\":2}", 10);
    sk.finish(sk.arg, r1, 0);
    CHECK_OK(wbi_outlet_finish(o, 100));
    wbi_outlet_destroy(&o);

    wbt_server_t srv;
    wbt_server_start(&srv, s_bins.server, NULL, NULL);
    char out[4096];
    const char *filtered[] = {"--run", "solo", parent, NULL};
    CHECK_EQ(s_sync(&srv, filtered, out, sizeof out), 0);
    CHECK(strstr(out, "1/1 runs, 5/5 rows") != NULL);
    s_check_run(&srv, "solo", 5, "finished");
    char state[32];
    s_state(&srv, "merge1", state, sizeof state);
    CHECK_STREQ(state, ""); // not selected: not sent

    const char *all[] = {parent, NULL};
    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    CHECK(strstr(out, "2/2 runs, 20/20 rows") != NULL);
    s_check_run(&srv, "merge1", 20, "finished");
    json_t *runs = wbt_http_get(&srv, "/api/v1/runs?project=p");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), "merge1") != 0)
            continue;
        CHECK_EQ(json_integer_value(json_object_get(json_object_get(r, "summary"), "loss")), 2);
        CHECK_EQ(json_integer_value(json_object_get(json_object_get(r, "config"), "lr")), 1);
    }
    json_decref(runs);

    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    CHECK(strstr(out, "nothing to upload") && strstr(out, "(2 journals, 3 runs)"));
    s_check_run(&srv, "merge1", 20, "finished");
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// A name, notes and tags set while the run lived (RUN_UPDATE, journaled by
// the outlet) reach the server through sync; the newest value wins.
static void test_run_update_synced(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-sync-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbi_agg_sink_t sk;
    wbi_run_meta_t meta = {
        .run_id = "upd1", .project = "p", .display_name = "first", .tags = "old"};
    wbi_outlet_t *o = s_offline(parent, &sk);
    void *r = sk.open(sk.arg, &meta);
    s_lines(&sk, r, 0, 3);
    sk.update(sk.arg, r, "second", NULL, NULL);
    sk.update(sk.arg, r, "third", "new notes", "a,b");
    sk.finish(sk.arg, r, 0);
    CHECK_OK(wbi_outlet_finish(o, 100));
    wbi_outlet_destroy(&o);
    wbt_server_t srv;
    wbt_server_start(&srv, s_bins.server, NULL, NULL);
    char out[4096];
    const char *all[] = {parent, NULL};
    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    s_check_run(&srv, "upd1", 3, "finished");
    json_t *runs = wbt_http_get(&srv, "/api/v1/runs?project=p");
    json_t *run = json_array_get(json_object_get(runs, "runs"), 0);
    CHECK_STREQ(json_string_value(json_object_get(run, "display_name")), "third");
    CHECK_STREQ(json_string_value(json_object_get(run, "notes")), "new notes");
    json_t *tags = json_object_get(run, "tags");
    CHECK_EQ(json_array_size(tags), 2);
    CHECK_STREQ(json_string_value(json_array_get(tags, 1)), "b");
    json_decref(runs);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// Online: the server acknowledges the first lines, then goes away; finish
// says what is pending; sync sends exactly the rest at the right offsets.
static void test_continue_after_acknowledged(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-sync-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbt_server_t srv;
    wbt_server_start(&srv, s_bins.server, NULL, NULL);
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
    wbi_run_meta_t m = {.run_id = "cont", .project = "p"};
    void *r = sk.open(sk.arg, &m);
    s_lines(&sk, r, 0, 30);
    wbi_outlet_stats_t st = {0};
    for (int i = 0; i < 200 && st.lines_acked < 30; i++) {
        usleep(20000);
        wbi_outlet_get_stats(o, &st);
    }
    CHECK_EQ(st.lines_acked, 30u);
    CHECK_EQ(wbt_server_stop(&srv), 0); // the backend goes away
    s_lines(&sk, r, 30, 70);
    sk.finish(sk.arg, r, 3);
    CHECK_ERR(wbi_outlet_finish(o, 500), WANDB_ETIMEDOUT);
    wbi_outlet_get_stats(o, &st);
    CHECK_EQ(st.lines, 70u);
    CHECK_EQ(st.lines_acked, 30u);
    CHECK_EQ(st.finishes_acked, 0u);
    wbi_outlet_destroy(&o);

    // The same backend again: same data, same URL (ACKs name the backend's URL).
    char data[sizeof srv.dir];
    char port[16];
    snprintf(data, sizeof data, "%s", srv.dir);
    snprintf(port, sizeof port, "%s", strrchr(srv.url, ':') + 1);
    const char *same_port[] = {"--port", port, NULL};
    wbt_server_start(&srv, s_bins.server, data, same_port);
    char out[4096];
    const char *all[] = {parent, NULL};
    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    CHECK(strstr(out, "1/1 runs, 40/40 rows") != NULL);
    s_check_run(&srv, "cont", 70, "failed"); // exit code 3
    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    CHECK(strstr(out, "nothing to upload") != NULL);
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

// A wrong key: sync fails, says so, and a later sync with the right key
// sends everything.
static void test_wrong_key(void)
{
    char parent[128];
    snprintf(parent, sizeof parent, "/tmp/wbt-sync-XXXXXX");
    CHECK(mkdtemp(parent) != NULL);
    wbi_agg_sink_t sk;
    wbi_outlet_t *o = s_offline(parent, &sk);
    wbi_run_meta_t m = {.run_id = "key", .project = "p"};
    void *r = sk.open(sk.arg, &m);
    s_lines(&sk, r, 0, 12);
    sk.finish(sk.arg, r, 0);
    CHECK_OK(wbi_outlet_finish(o, 100));
    wbi_outlet_destroy(&o);
    wbt_server_t srv;
    wbt_server_start(&srv, s_bins.server, NULL, NULL);
    wbt_server_t bad = srv;
    snprintf(bad.key, sizeof bad.key, "local-wrong");
    char out[4096];
    const char *all[] = {parent, NULL};
    CHECK_EQ(s_sync(&bad, all, out, sizeof out), 1);
    CHECK(strstr(out, "0/1 runs") != NULL && strstr(out, "incomplete") != NULL);
    CHECK_EQ(s_sync(&srv, all, out, sizeof out), 0);
    s_check_run(&srv, "key", 12, "finished");
    wbt_server_release(&srv);
    wbt_rm_tree(parent);
}

int main(int argc, char **argv)
{
    wbt_run_env_clear();
    wbt_server_path(s_bins.server, sizeof s_bins.server, true);
    wbt_server_require(s_bins.server);
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    snprintf(s_bins.cli, sizeof s_bins.cli, "%s/src/cli/wandb-mpi", bin ? bin : ".");
    static const wbt_case_t cases[] = {
        {"two_journals_merge", test_two_journals_merge},
        {"continue_after_acknowledged", test_continue_after_acknowledged},
        {"wrong_key", test_wrong_key},
        {"run_update_synced", test_run_update_synced}};
    return wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
