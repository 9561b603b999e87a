//  test_agg_socket.c - the aggregator thread behind a real ROUTER socket
//  SPDX-License-Identifier: MIT
//
//  Starts the aggregator on tcp://127.0.0.1:* (and inproc with a shared
//  context), talks to it from a DEALER like a rank would, and checks the
//  stats, the FINISHED reply and that stop returns in bounded time. The
//  backend points at a closed port (127.0.0.1:9) with short timeouts: these
//  tests are about the socket side, not delivery.
#include "aggregator/agg_ext.h"
#include "aggregator/zap.h"
#include "outlet/outlet.h"
#include "test_agg_util.h"
#include <time.h>
#include <zmq.h>

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})

static void s_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static wbi_agg_opts_t s_opts(const char *bind, void *ctx, int expected)
{
    wbi_agg_opts_t o = {
        .bind = bind, .zmq_ctx = ctx, .expected_runs = expected, .heartbeat_timeout_ms = 5000};
    return o;
}

// Starts the aggregator with an outlet whose backend cannot connect.
static wandb_err s_start(wbi_agg_t **out, const wbi_agg_opts_t *o)
{
    wbi_outlet_opts_t oo = {.backend = {.base_url = "http://127.0.0.1:9",
                                        .api_key = "k",
                                        .flush_interval_ms = 50,
                                        .request_timeout_ms = 200,
                                        .max_retries = -1,
                                        .retry_min_ms = 10,
                                        .retry_max_ms = 20}};
    return wbi_outlet_start_agg(out, o, &oo, NULL);
}

// Waits (bounded) until the aggregator has seen `finished` FINISH records.
static void s_wait_finished(wbi_agg_t *agg, uint64_t finished, wbi_agg_stats_t *st)
{
    int64_t deadline = t_now_ms() + 5000;
    do {
        wbi_agg_get_stats(agg, st);
        if (st->runs_finished >= finished)
            return;
        s_sleep_ms(5);
    } while (t_now_ms() < deadline);
    WBT_FAIL("runs_finished stayed %llu", (unsigned long long)st->runs_finished);
}

// Makes the DEALER d a CURVE client with the keys of agg.
static void s_curve(void *d, wbi_agg_t *agg)
{
    const wbi_zap_keys_t *k = wbi_agg_keys(agg);
    CHECK(k != NULL);
    t_curve(d, k->server_key, k->client_key, k->client_secret);
}

// Receives one reply record type from the DEALER (bounded); -1 on timeout.
static int s_recv_type(void *dealer, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return -1;
    uint8_t buf[1024];
    int n = zmq_recv(dealer, buf, sizeof buf, 0);
    CHECK(n >= WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER);
    CHECK(buf[0] == 'W' && buf[1] == 'B');
    return buf[WBI_WIRE_HEADER_BYTES];
}

// One rank's life over tcp: HELLO, keys, rows, FINISH -> FINISHED.
static void test_tcp_run(void)
{
    wbi_agg_opts_t o = s_opts("tcp://127.0.0.1:*", NULL, 1);
    wbi_agg_t *agg = NULL;
    CHECK_OK(s_start(&agg, &o));
    const char *ep = wbi_agg_endpoint(agg);
    CHECK(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);
    CHECK(strcmp(ep + 16, "*") != 0 && strtol(ep + 16, NULL, 10) > 0);

    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    s_curve(d, agg);
    CHECK_EQ(zmq_connect(d, ep), 0);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_key(&m, 1, "loss");
    t_row(&m, 0, 100.5, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.5)));
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    t_begin(&m);
    t_row(&m, 1, 101.0, false, 1, IDS(1), V(WANDB_DOUBLE("", 0.25)));
    t_finish_rec(&m, 0, 0, 0);
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    // A two-frame message is malformed.
    zmq_send(d, "x", 1, ZMQ_SNDMORE);
    zmq_send(d, "y", 1, 0);

    int type = s_recv_type(d, 5000);
    CHECK_EQ(type, WBI_REC_FINISHED);
    wbi_agg_stats_t st;
    s_wait_finished(agg, 1, &st);
    int64_t deadline = t_now_ms() + 5000;
    while (st.messages < 3 && t_now_ms() < deadline) {
        s_sleep_ms(5);
        wbi_agg_get_stats(agg, &st);
    }
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.rows, 2);
    CHECK_EQ(st.messages, 3);
    CHECK_EQ(st.malformed, 1);
    CHECK(wbi_agg_settled(agg));

    int64_t t0 = t_now_ms();
    wandb_err rc = wbi_agg_stop(&agg, 1000); // the backend cannot deliver: never OK
    CHECK(rc == WANDB_EBACKEND || rc == WANDB_ETIMEDOUT);
    CHECK(agg == NULL);
    CHECK(t_now_ms() - t0 < 3000);
    zmq_close(d);
    zmq_ctx_term(ctx);
    t_msg_free(&m);
}

// inproc with a borrowed context; stop with a run pending times out.
static void test_inproc_pending(void)
{
    void *ctx = zmq_ctx_new();
    wbi_agg_opts_t o = s_opts("inproc://agg-test", ctx, 2);
    wbi_agg_t *agg = NULL;
    CHECK_OK(s_start(&agg, &o));
    CHECK_STREQ(wbi_agg_endpoint(agg), "inproc://agg-test");
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    CHECK_EQ(zmq_connect(d, "inproc://agg-test"), 0);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_finish_rec(&m, 1, 0, 0);
    CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
    CHECK_EQ(s_recv_type(d, 5000), WBI_REC_FINISHED);
    wbi_agg_stats_t st;
    s_wait_finished(agg, 1, &st);
    CHECK(!wbi_agg_settled(agg)); // two runs expected
    int64_t t0 = t_now_ms();
    // A run never ended, and the unreachable backend refused: the backend's
    // refusal is the error reported (it names what to do).
    wandb_err rc = wbi_agg_stop(&agg, 300);
    CHECK(rc == WANDB_EBACKEND || rc == WANDB_ETIMEDOUT);
    int64_t took = t_now_ms() - t0;
    CHECK(took >= 250 && took < 2000);
    CHECK(agg == NULL);
    zmq_close(d);
    zmq_ctx_term(ctx); // the aggregator did not terminate the borrowed context
    t_msg_free(&m);
}

// A rank that reconnects with the same routing id keeps its run once it
// said HELLO again on the new connection.
static void test_reconnect_same_id(void)
{
    wbi_agg_opts_t o = s_opts("tcp://127.0.0.1:*", NULL, 1);
    wbi_agg_t *agg = NULL;
    CHECK_OK(s_start(&agg, &o));
    void *ctx = zmq_ctx_new();
    t_msg_t m = {0};
    for (int conn = 0; conn < 2; conn++) {
        void *d = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 2000;
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(d, ZMQ_ROUTING_ID, "rank-7", 6);
        s_curve(d, agg);
        CHECK_EQ(zmq_connect(d, wbi_agg_endpoint(agg)), 0);
        t_begin(&m);
        if (conn == 0) {
            t_put(&m, WBI_REC_HELLO, T_HELLO);
            t_key(&m, 1, "loss");
            t_row(&m, 0, 100.5, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.5)));
        } else {
            t_put(&m, WBI_REC_HELLO, T_HELLO);
            t_row(&m, 1, 101.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.25)));
            t_finish_rec(&m, 0, 0, 0);
        }
        CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
        if (conn == 1)
            CHECK_EQ(s_recv_type(d, 5000), WBI_REC_FINISHED);
        zmq_close(d); // linger: the message is delivered before the close completes
        if (conn == 0) {
            wbi_agg_stats_t st;
            int64_t deadline = t_now_ms() + 5000;
            do {
                s_sleep_ms(5);
                wbi_agg_get_stats(agg, &st);
            } while (st.rows < 1 && t_now_ms() < deadline);
            CHECK_EQ(st.rows, 1);
        }
    }
    wbi_agg_stats_t st;
    s_wait_finished(agg, 1, &st);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.rows, 2);
    CHECK_EQ(st.malformed, 0);
    wandb_err rc = wbi_agg_stop(&agg, 500);
    CHECK(rc == WANDB_EBACKEND || rc == WANDB_ETIMEDOUT); // the backend cannot deliver
    zmq_ctx_term(ctx);
    t_msg_free(&m);
}

// Bad options and a busy endpoint fail cleanly.
static void test_start_errors(void)
{
    wbi_agg_t *agg = (wbi_agg_t *)1;
    CHECK_ERR(wbi_agg_start(&agg, NULL), WANDB_EINVAL);
    CHECK(agg == NULL);
    wbi_agg_opts_t o = s_opts("bogus://x", NULL, 0);
    CHECK(s_start(&agg, &o) != WANDB_OK);
    CHECK(agg == NULL);
    o = s_opts("tcp://127.0.0.1:0", NULL, 0);
    wbi_agg_t *a1 = NULL;
    CHECK_OK(s_start(&a1, &o));
    wbi_agg_opts_t o2 = s_opts(wbi_agg_endpoint(a1), NULL, 0);
    CHECK(s_start(&agg, &o2) != WANDB_OK); // address in use
    CHECK(agg == NULL);
    CHECK_OK(wbi_agg_stop(&a1, 1000)); // no runs: nothing pending
    CHECK(a1 == NULL);
    CHECK_OK(wbi_agg_stop(&a1, 0)); // NULL-safe
}

WBT_MAIN({"tcp_run", test_tcp_run}, {"inproc_pending", test_inproc_pending},
         {"reconnect_same_id", test_reconnect_same_id}, {"start_errors", test_start_errors})
