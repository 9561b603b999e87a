//  test_agg_e2e.c - wandb-mpi-aggregator into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts the local server and the aggregator executable on ephemeral ports,
//  plays two ranks over DEALER sockets (rows in the three equivalent forms,
//  define_metric, config, summary, alert, FINISH), waits for the aggregator
//  to exit by itself (expected runs finished, backend drained) and reads
//  what landed through the server's JSON API.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "test_agg_util.h"
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})

static t_keys_t s_job_keys; // CURVE keys printed by the aggregator the test started last

// Plays one rank: HELLO, rows, metadata, FINISH; waits for FINISHED.
static void s_rank(void *ctx, const char *ep, int rank, int exit_code)
{
    void *d = t_dealer_job(ctx, ep, &s_job_keys, 1000);
    char hello[512];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"e2e-%d\",\"project\":\"p\",\"entity\":null,\"group\":\"g1\","
             "\"job_type\":\"train\",\"name\":\"rank-%d\",\"tags\":\"a,b\",\"config\":"
             "{\"lr\":0.01},\"host\":\"h\",\"program\":\"prog\",\"rank\":%d,"
             "\"world_size\":2,\"start_time\":1000.0,\"starting_step\":0,\"secret\":\"S\"}",
             rank, rank, rank);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_key(&m, 1, "loss");
    t_key(&m, 2, "acc");
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"loss\",\"summary\":\"min\",\"goal\":\"minimize\"}");
    // step 0: one call; step 1: commit=false then commit; step 2: explicit steps
    t_row(&m, 0, 1000.5, true, 2, IDS(1, 2), V(WANDB_DOUBLE("", 0.5), WANDB_INT("", 1)));
    t_row(&m, 1, 1001.0, false, 1, IDS(1), V(WANDB_DOUBLE("", 0.25)));
    t_row(&m, 1, 1001.0, true, 1, IDS(2), V(WANDB_INT("", 2)));
    t_row(&m, 2, 1002.0, false, 1, IDS(1), V(WANDB_DOUBLE("", NAN)));
    t_row(&m, 2, 1002.0, false, 1, IDS(2), V(WANDB_INT("", 3)));
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    t_begin(&m);
    t_put(&m, WBI_REC_CONFIG, "{\"lr\":0.02,\"bs\":64}");
    t_put(&m, WBI_REC_SUMMARY, "{\"best\":7}");
    t_put(&m, WBI_REC_ALERT,
          "{\"title\":\"hi\",\"text\":\"there\",\"level\":\"WARN\",\"wait_ms\":0}");
    t_finish_rec(&m, exit_code, 0, 0);
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    // WELCOME may come first; wait for FINISHED.
    int64_t deadline = t_now_ms() + 10000;
    bool finished = false;
    while (!finished && t_now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        uint8_t buf[1024];
        int n = zmq_recv(d, buf, sizeof buf, 0);
        CHECK(n >= WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER);
        finished = buf[WBI_WIRE_HEADER_BYTES] == WBI_REC_FINISHED;
    }
    CHECK(finished);
    zmq_close(d);
    t_msg_free(&m);
}

// The server of one test and the aggregator to start against it.
typedef struct {
    wbt_server_t srv; // the local server
    char agg[512];    // aggregator executable
} s_env_t;

// Starts the local server in a fresh directory.
static void s_server_start(s_env_t *e)
{
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    CHECK(bin != NULL);
    char server[512];
    snprintf(server, sizeof server, "%s/src/server/wandb-mpi-server", bin);
    snprintf(e->agg, sizeof e->agg, "%s/src/aggregator_program/wandb-mpi-aggregator", bin);
    const char *extra[] = {"--api-key", "K", NULL};
    wbt_server_start(&e->srv, server, NULL, extra);
    CHECK(strncmp(e->srv.url, "http://127.0.0.1:", 17) == 0);
}

// Stops the server (it must exit by itself on SIGTERM) and removes its directory.
static void s_server_stop(s_env_t *e)
{
    CHECK(wbt_server_stop(&e->srv) >= 0);
    wbt_server_release(&e->srv);
}

// Connects a rank to ep and sends HELLO and one committed row for run id,
// without FINISH. Returns its socket; close it with s_rank_close.
static void *s_rank_silent(void *ctx, const char *ep, const char *id)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    t_curve_job(d, &s_job_keys);
    CHECK_EQ(zmq_connect(d, ep), 0);
    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"%s\",\"project\":\"p\",\"start_time\":1000.0,\"rank\":0}", id);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_key(&m, 1, "loss");
    t_row(&m, 0, 1000.5, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.5)));
    t_row(&m, 1, 1001.0, false, 1, IDS(1), V(WANDB_DOUBLE("", 0.25))); // left open
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    t_msg_free(&m);
    return d;
}

// Closes a rank's socket without waiting for unsent messages, then ctx.
static void s_rank_close(void *ctx, void *d)
{
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(d);
    zmq_ctx_term(ctx);
}

static void test_end_to_end(void)
{
    s_env_t env;
    s_server_start(&env);
    int afd;
    const char *aargv[] = {env.agg,
                           "--bind",
                           "tcp://127.0.0.1:0",
                           "--base-url",
                           env.srv.url,
                           "--api-key",
                           "K",
                           "--secret",
                           "S",
                           "--expected-runs",
                           "2",
                           "--flush-interval-ms",
                           "100",
                           NULL};
    pid_t apid = wbt_spawn(aargv, &afd);
    char ep[256];
    t_read_agg(afd, false, 10000, ep, sizeof ep, &s_job_keys);
    CHECK(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);

    void *ctx = zmq_ctx_new();
    s_rank(ctx, ep, 0, 0);
    s_rank(ctx, ep, 1, 1);
    zmq_ctx_term(ctx);
    CHECK_EQ(wbt_wait_exit(apid, 30000), 0); // exits by itself once drained

    // The two ranks of group g1, and their job run (docs/job-view.md).
    json_t *runs = wbt_http_get(&env.srv, "/api/v1/runs?project=p");
    CHECK_EQ(json_array_size(json_object_get(runs, "runs")), 3);
    int jobs = 0;
    size_t ri;
    json_t *run;
    json_array_foreach(json_object_get(runs, "runs"), ri, run)
    {
        if (strcmp(json_string_value(json_object_get(run, "job_type")), "mpi-job") != 0)
            continue;
        jobs++;
        CHECK_STREQ(json_string_value(json_object_get(run, "display_name")), "job");
        // Rank 1 finished with exit code 1: the job failed, and says who.
        CHECK_STREQ(json_string_value(json_object_get(run, "state")), "failed");
        CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 3);
        json_t *js = json_object_get(run, "summary");
        CHECK_EQ(json_integer_value(json_object_get(js, "mpi/first_failure/rank")), 1);
        CHECK_EQ(json_integer_value(json_object_get(js, "mpi/first_failure/exit_code")), 1);
    }
    CHECK_EQ(jobs, 1);
    json_decref(runs);

    json_t *r0 = wbt_http_get(&env.srv, "/api/v1/runs/e2e-0?project=p");
    CHECK_STREQ(json_string_value(json_object_get(r0, "state")), "finished");
    CHECK_STREQ(json_string_value(json_object_get(r0, "group")), "g1");
    CHECK_EQ(json_integer_value(json_object_get(r0, "history_count")), 3);
    json_t *cfg = json_object_get(r0, "config");
    double d = 0;
    CHECK(wbi_jsonx_number(json_object_get(cfg, "lr"), &d) && d == 0.02);
    CHECK_EQ(json_integer_value(json_object_get(cfg, "bs")), 64);
    json_t *mm = json_object_get(json_object_get(cfg, "_wandb"), "m");
    CHECK(json_is_array(mm) && json_array_size(mm) == 1);
    json_t *sum = json_object_get(r0, "summary");
    CHECK(wbi_jsonx_number(json_object_get(json_object_get(sum, "loss"), "min"), &d) && d == 0.25);
    CHECK_EQ(json_integer_value(json_object_get(sum, "acc")), 3);
    CHECK_EQ(json_integer_value(json_object_get(sum, "best")), 7);
    CHECK_EQ(json_integer_value(json_object_get(sum, "_step")), 2);
    json_decref(r0);

    json_t *h = wbt_http_get(&env.srv, "/api/v1/runs/e2e-0/history?project=p");
    json_t *rows = json_object_get(h, "rows");
    CHECK_EQ(json_array_size(rows), 3);
    for (int i = 0; i < 3; i++) {
        json_t *row = json_array_get(rows, (size_t)i);
        CHECK_EQ(json_integer_value(json_object_get(row, "_step")), i);
        CHECK_EQ(json_integer_value(json_object_get(row, "acc")), i + 1);
        CHECK(wbi_jsonx_number(json_object_get(row, "_runtime"), &d) && d == (i ? i : 0.5));
    }
    CHECK(wbi_jsonx_number(json_object_get(json_array_get(rows, 1), "loss"), &d) && d == 0.25);
    CHECK(wbi_jsonx_is_nonfinite(json_object_get(json_array_get(rows, 2), "loss"), &d) && d != d);
    json_decref(h);

    json_t *al = wbt_http_get(&env.srv, "/api/v1/runs/e2e-0/alerts?project=p");
    CHECK_EQ(json_array_size(json_object_get(al, "alerts")), 1);
    json_decref(al);

    json_t *r1 = wbt_http_get(&env.srv, "/api/v1/runs/e2e-1?project=p");
    CHECK_STREQ(json_string_value(json_object_get(r1, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(r1, "exit_code")), 1);
    json_decref(r1);

    close(afd);
    s_server_stop(&env);
}

// Starts the aggregator executable with extra arguments; returns its pid.
static pid_t s_agg_start(s_env_t *e, const char *expected, const char *hb, int *fd, char *ep,
                         size_t eplen)
{
    const char *argv[] = {e->agg,
                          "--bind",
                          "tcp://127.0.0.1:0",
                          "--base-url",
                          e->srv.url,
                          "--api-key",
                          "K",
                          "--expected-runs",
                          expected,
                          "--heartbeat-timeout-ms",
                          hb,
                          "--flush-interval-ms",
                          "100",
                          NULL};
    pid_t pid = wbt_spawn(argv, fd);
    t_read_agg(*fd, false, 10000, ep, eplen, &s_job_keys);
    return pid;
}

// A rank that goes silent is marked crashed: its rows arrive, no finish is
// sent, and the aggregator (expecting one run) exits by itself.
static void test_silent_rank_crashed(void)
{
    s_env_t env;
    s_server_start(&env);
    int afd;
    char ep[256];
    pid_t apid = s_agg_start(&env, "1", "300", &afd, ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *d = s_rank_silent(ctx, ep, "silent");
    CHECK_EQ(wbt_wait_exit(apid, 20000), 0);
    json_t *r = wbt_http_get(&env.srv, "/api/v1/runs/silent?project=p");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "running"); // server decides
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 2);
    json_decref(r);
    s_rank_close(ctx, d);
    close(afd);
    s_server_stop(&env);
}

// SIGTERM: the aggregator drains what it has and exits (3: everything was
// delivered, but a run never finished).
static void test_sigterm_drains(void)
{
    s_env_t env;
    s_server_start(&env);
    int afd;
    char ep[256];
    pid_t apid = s_agg_start(&env, "0", "60000", &afd, ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *d = s_rank_silent(ctx, ep, "term");
    usleep(200000);
    int64_t t0 = t_now_ms();
    kill(apid, SIGTERM);
    CHECK_EQ(wbt_wait_exit(apid, 20000), 3);
    CHECK(t_now_ms() - t0 < 10000);
    json_t *r = wbt_http_get(&env.srv, "/api/v1/runs/term?project=p");
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 2);
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "running");
    json_decref(r);
    s_rank_close(ctx, d);
    close(afd);
    s_server_stop(&env);
}

WBT_MAIN({"end_to_end", test_end_to_end}, {"silent_rank_crashed", test_silent_rank_crashed},
         {"sigterm_drains", test_sigterm_drains})
