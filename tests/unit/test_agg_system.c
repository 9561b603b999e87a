//  test_agg_system.c - system metrics and console lines through wandb-mpi-aggregator
//  SPDX-License-Identifier: MIT
//
//  The aggregator executable against the real wandb-mpi-server: two ranks of
//  one job on two nodes ("nodeA", "nodeB") send SYSTEM records; their console
//  output is written where mpirun --output-filename would put it (DIR/1/
//  rank.N/stdout and stderr) and the aggregator tails it (--console-dir).
//  The server's read API must show: each rank's run with its node's events
//  line and its own console lines (stderr with "ERROR "), a line printed
//  after FINISH included; the job run with one series per node.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "test_agg_util.h"
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static t_keys_t s_keys; // CURVE keys printed by the aggregator

// Appends text to DIR/1/rank.<rank>/<name>.
static void s_console(const char *dir, int rank, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/1", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/1/rank.%d", dir, rank);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/1/rank.%d/%s", dir, rank, name);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

// One rank: HELLO, a row, a SYSTEM sample of its node, later FINISH.
static void *s_rank_open(void *ctx, const char *ep, int rank, const char *node, t_msg_t *m)
{
    void *d = t_dealer_job(ctx, ep, &s_keys, 1000);
    char hello[512];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"sys-%d\",\"project\":\"p\",\"group\":\"g1\",\"rank\":%d,"
             "\"world_size\":2,\"start_time\":1000.0,\"starting_step\":0,\"secret\":\"S\"}",
             rank, rank);
    char sys[256];
    snprintf(sys, sizeof sys,
             "{\"node\":\"%s\",\"ts\":1010.5,\"metrics\":{\"system.cpu\":%d.5,"
             "\"system.memory_percent\":40}}",
             node, 10 + rank);
    t_begin(m);
    t_put(m, WBI_REC_HELLO, hello);
    t_key(m, 1, "loss");
    t_row(m, 0, 1000.5, true, 1, (const uint32_t[]){1},
          (const wandb_value_t[]){WANDB_DOUBLE("", 0.5)});
    t_put(m, WBI_REC_SYSTEM, sys);
    CHECK(zmq_send(d, m->b.data, m->b.len, 0) == (int)m->b.len);
    return d;
}

// FINISH, then waits for FINISHED.
static void s_rank_finish(void *d, t_msg_t *m)
{
    t_begin(m);
    t_finish_rec(m, 0, 0, 0);
    CHECK(zmq_send(d, m->b.data, m->b.len, 0) == (int)m->b.len);
    int64_t deadline = t_now_ms() + 10000;
    bool finished = false;
    while (!finished && t_now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        uint8_t buf[1024];
        int n = zmq_recv(d, buf, sizeof buf, 0);
        finished = n > WBI_WIRE_HEADER_BYTES && buf[WBI_WIRE_HEADER_BYTES] == WBI_REC_FINISHED;
    }
    CHECK(finished);
    zmq_close(d);
    t_msg_free(m);
}

// The lines of /api/v1/runs/<id>/logs.
static json_t *s_logs(const wbt_server_t *srv, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/logs?project=p", id);
    json_t *j = wbt_http_get(srv, path);
    json_t *lines = json_incref(json_object_get(j, "lines"));
    json_decref(j);
    return lines;
}

// The rows of /api/v1/runs/<id>/events.
static json_t *s_events(const wbt_server_t *srv, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/events?project=p", id);
    json_t *j = wbt_http_get(srv, path);
    json_t *rows = json_incref(json_object_get(j, "rows"));
    json_decref(j);
    return rows;
}

// True when line is "<YYYY-MM-DDTHH:MM:SS.ffffff> <want>".
static bool s_console_line(const char *line, const char *want)
{
    return line && strlen(line) > 27 && line[4] == '-' && line[10] == 'T' && line[19] == '.' &&
           line[26] == ' ' && strcmp(line + 27, want) == 0;
}

static void test_system_and_console(void)
{
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    CHECK(bin != NULL);
    char server[512], agg[512];
    snprintf(server, sizeof server, "%s/src/server/wandb-mpi-server", bin);
    snprintf(agg, sizeof agg, "%s/src/aggregator_program/wandb-mpi-aggregator", bin);
    const char *extra[] = {"--api-key", "K", NULL};
    wbt_server_t srv;
    wbt_server_start(&srv, server, NULL, extra);
    char cdir[] = "/tmp/wbt-console-XXXXXX";
    CHECK(mkdtemp(cdir) != NULL);
    // Printed before the runs exist: waits in its file until rank 0 says HELLO.
    s_console(cdir, 0, "stdout", "before init\n");
    int afd;
    const char *argv[] = {agg,
                          "--bind",
                          "tcp://127.0.0.1:0",
                          "--base-url",
                          srv.url,
                          "--api-key",
                          "K",
                          "--secret",
                          "S",
                          "--expected-runs",
                          "2",
                          "--flush-interval-ms",
                          "100",
                          "--console-dir",
                          cdir,
                          NULL};
    pid_t apid = wbt_spawn(argv, &afd);
    char ep[256];
    t_read_agg(afd, false, 10000, ep, sizeof ep, &s_keys);
    void *ctx = zmq_ctx_new();
    t_msg_t m0 = {0}, m1 = {0};
    void *d0 = s_rank_open(ctx, ep, 0, "nodeA", &m0);
    void *d1 = s_rank_open(ctx, ep, 1, "nodeB", &m1);
    s_console(cdir, 0, "stdout", "epoch 1 done\nprogress 10%\rprogress 100%\n");
    s_console(cdir, 1, "stderr", "warning: bad \xff byte\n");
    s_console(cdir, 1, "stdout", "rank one");
    usleep(300000);
    s_rank_finish(d0, &m0);
    s_rank_finish(d1, &m1);
    // Printed as the ranks exit, after FINISH: still in their output.log.
    s_console(cdir, 1, "stdout", " says bye\n");
    s_console(cdir, 0, "stdout", "last line without newline");
    zmq_ctx_term(ctx);
    CHECK_EQ(wbt_wait_exit(apid, 30000), 0);

    json_t *l0 = s_logs(&srv, "sys-0");
    CHECK_EQ(json_array_size(l0), 4);
    CHECK(s_console_line(json_string_value(json_array_get(l0, 0)), "before init"));
    CHECK(s_console_line(json_string_value(json_array_get(l0, 1)), "epoch 1 done"));
    CHECK(s_console_line(json_string_value(json_array_get(l0, 2)), "progress 100%"));
    CHECK(s_console_line(json_string_value(json_array_get(l0, 3)), "last line without newline"));
    json_decref(l0);
    json_t *l1 = s_logs(&srv, "sys-1");
    CHECK_EQ(json_array_size(l1), 2);
    const char *a = json_string_value(json_array_get(l1, 0));
    const char *b = json_string_value(json_array_get(l1, 1));
    // stdout and stderr are separate files: their relative order is not kept
    const char *err = a && strstr(a, "ERROR ") ? a : b;
    const char *out = err == a ? b : a;
    CHECK(s_console_line(err, "ERROR warning: bad \xef\xbf\xbd byte"));
    CHECK(s_console_line(out, "rank one says bye"));
    json_decref(l1);

    json_t *e0 = s_events(&srv, "sys-0");
    CHECK_EQ(json_array_size(e0), 1);
    json_t *row = json_array_get(e0, 0);
    double d = 0;
    CHECK(wbi_jsonx_number(json_object_get(row, "system.cpu"), &d) && d == 10.5);
    CHECK(json_is_true(json_object_get(row, "_wandb")));
    CHECK(wbi_jsonx_number(json_object_get(row, "_timestamp"), &d) && d == 1010.5);
    CHECK(wbi_jsonx_number(json_object_get(row, "_runtime"), &d) && d == 10.5);
    json_decref(e0);

    // The job run: one line per node, keys suffixed with the node label.
    json_t *runs = wbt_http_get(&srv, "/api/v1/runs?project=p");
    const char *job = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name && strncmp(name, "sys-", 4) != 0)
            job = name;
    }
    CHECK(job != NULL);
    json_t *ej = s_events(&srv, job);
    CHECK_EQ(json_array_size(ej), 2);
    int seen = 0;
    json_array_foreach(ej, i, r)
    {
        if (wbi_jsonx_number(json_object_get(r, "system.cpu/l:nodeA"), &d) && d == 10.5)
            seen |= 1;
        if (wbi_jsonx_number(json_object_get(r, "system.cpu/l:nodeB"), &d) && d == 11.5)
            seen |= 2;
        CHECK(json_object_get(r, "system.cpu") == NULL);
    }
    CHECK_EQ(seen, 3);
    json_decref(ej);
    json_t *lj = s_logs(&srv, job);
    CHECK_EQ(json_array_size(lj), 0); // console lines stay in the ranks' runs
    json_decref(lj);
    json_decref(runs);
    json_t *s0 = wbt_http_get(&srv, "/api/v1/runs/sys-0?project=p");
    CHECK_STREQ(json_string_value(json_object_get(s0, "state")), "finished");
    json_decref(s0);
    close(afd);
    wbt_rm_tree(cdir);
    CHECK(wbt_server_stop(&srv) >= 0);
    wbt_server_release(&srv);
}

int main(int argc, char **argv)
{
    wbt_run_env_clear();
    static const wbt_case_t cases[] = {{"system_and_console", test_system_and_console}};
    return wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
