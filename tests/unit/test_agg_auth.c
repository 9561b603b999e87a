//  test_agg_auth.c - nobody but the job gets into the aggregator
//  SPDX-License-Identifier: MIT
//
//  The aggregator thread on tcp://127.0.0.1:* (CURVE, per-job keys, a
//  secret) forwards into the real wandb-mpi-server. A victim run of the rank
//  library logs rows while intruders on the same machine try what worked
//  against an unauthenticated channel: reusing the victim's routing id (the
//  run_id/rank/pid one of the old scheme, or a copied one), sending
//  KEY/ROW/FINISH without keys or with a key pair of their own, and
//  replaying a HELLO with the secret from new connections. Every attempt
//  must be refused and counted, and every row and the final state of the
//  victim must reach the server unchanged. Exits 77 (CTest: skipped) when
//  the server is not built.
#include "aggregator/agg_ext.h"
#include "aggregator/zap.h"
#include "harness/server_harness.h"
#include "outlet/outlet.h"
#include "test_agg_util.h"
#include <jansson.h>
#include <unistd.h>

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})
#define S_ROWS 200         // rows the victim logs
#define S_SECRET "s3cret"  // the job's HELLO secret
#define S_API_KEY "K-auth" // the server's API key

static wbt_server_t s_srv; // the server of every test

// Starts the aggregator thread (CURVE unless plain) into the test server.
static wbi_agg_t *s_agg_start(bool plain)
{
    wbi_agg_opts_t o = {.bind = "tcp://127.0.0.1:*",
                        .secret = S_SECRET,
                        .expected_runs = 1,
                        .heartbeat_timeout_ms = 10000,
                        .plain = plain};
    wbi_outlet_opts_t oo = {
        .backend = {.base_url = s_srv.url, .api_key = S_API_KEY, .flush_interval_ms = 50}};
    wbi_agg_t *agg = NULL;
    CHECK_OK(wbi_outlet_start_agg(&agg, &o, &oo, NULL));
    return agg;
}

// Copies the job's keys out of a CURVE aggregator.
static t_keys_t s_keys(wbi_agg_t *agg)
{
    const wbi_zap_keys_t *k = wbi_agg_keys(agg);
    CHECK(k != NULL);
    t_keys_t out;
    snprintf(out.server_key, sizeof out.server_key, "%s", k->server_key);
    snprintf(out.client_key, sizeof out.client_key, "%s", k->client_key);
    snprintf(out.client_secret, sizeof out.client_secret, "%s", k->client_secret);
    return out;
}

// Starts the victim: a run of the rank library connected to agg.
static wandb_run_t *s_victim(wbi_agg_t *agg, const char *run_id)
{
    wbt_run_env_clear();
    t_keys_t k = s_keys(agg);
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "project", "auth"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "aggregator", wbi_agg_endpoint(agg)));
    CHECK_OK(wandb_settings_set(s, "secret", S_SECRET));
    CHECK_OK(wandb_settings_set(s, "aggregator_server_key", k.server_key));
    CHECK_OK(wandb_settings_set(s, "aggregator_client_key", k.client_key));
    CHECK_OK(wandb_settings_set(s, "aggregator_client_secret", k.client_secret));
    CHECK_OK(wandb_settings_set(s, "ring_full", "wait"));
    CHECK_OK(wandb_settings_set(s, "ring_wait_ms", "1000"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    return run;
}

// The intruder's kinds of socket.
typedef enum {
    S_NO_KEY,    // no CURVE at all (the old way in)
    S_OWN_KEY,   // a CURVE client with the right server key and a key pair of its own
    S_WRONG_SRV, // a CURVE client that does not know the server key
} s_how_t;

// Connects an intruder's DEALER with routing id rid (NULL: none).
static void *s_intruder(void *ctx, wbi_agg_t *agg, s_how_t how, const char *rid)
{
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    if (rid)
        zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, strlen(rid));
    char pub[41], sec[41], spub[41], ssec[41];
    CHECK_EQ(zmq_curve_keypair(pub, sec), 0);
    CHECK_EQ(zmq_curve_keypair(spub, ssec), 0);
    if (how == S_OWN_KEY)
        t_curve(d, s_keys(agg).server_key, pub, sec);
    else if (how == S_WRONG_SRV)
        t_curve(d, spub, pub, sec);
    CHECK_EQ(zmq_connect(d, wbi_agg_endpoint(agg)), 0);
    return d;
}

// Sends what took a victim over before: a row with a value of its own,
// then FINISH with exit code 7.
static void s_send_takeover(void *d, uint32_t seq)
{
    t_msg_t m = {.seq = seq};
    t_begin(&m);
    t_key(&m, 1, "loss");
    t_row(&m, 1000000, 5000.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 666.0)));
    t_finish_rec(&m, 7, 0, 0);
    zmq_send(d, m.b.data, m.b.len, ZMQ_DONTWAIT); // queued until a handshake that never ends
    t_msg_free(&m);
}

// Sends a HELLO with the job's secret (as if captured off the wire) for
// run_id, then a row and FINISH 7.
static void s_send_replay(void *d, const char *run_id)
{
    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"run_id\":\"%s\",\"project\":\"auth\",\"rank\":0,\"world_size\":1,"
             "\"start_time\":100.0,\"secret\":\"%s\"}",
             run_id, S_SECRET);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_key(&m, 1, "loss");
    t_row(&m, 1000000, 5000.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 666.0)));
    t_finish_rec(&m, 7, 0, 0);
    zmq_send(d, m.b.data, m.b.len, ZMQ_DONTWAIT);
    t_msg_free(&m);
}

// Waits (bounded) until the aggregator counted `failed` failed handshakes
// and `refused` refused keys; returns its extra counters.
static wbi_agg_core_extra_t s_wait_refusals(wbi_agg_t *agg, uint64_t failed, uint64_t refused)
{
    wbi_agg_core_extra_t ex;
    int64_t deadline = t_now_ms() + 10000;
    do {
        wbi_agg_get_extra(agg, &ex);
        if (ex.failed_handshakes >= failed && ex.refused_keys >= refused)
            return ex;
        usleep(5000);
    } while (t_now_ms() < deadline);
    WBT_FAIL("refusals not counted: %llu failed handshakes, %llu refused keys",
             (unsigned long long)ex.failed_handshakes, (unsigned long long)ex.refused_keys);
}

// Checks what the server holds of the victim: finished with exit code 0,
// exactly S_ROWS rows with loss = 0, 1, ..., S_ROWS - 1 and nothing else.
static void s_check_victim(const char *run_id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs/%s?project=auth", run_id);
    json_t *r = wbt_http_get(&s_srv, path);
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 0);
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), S_ROWS);
    json_decref(r);
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=auth&limit=10000", run_id);
    json_t *h = wbt_http_get(&s_srv, path);
    json_t *rows = json_object_get(h, "rows");
    CHECK_EQ(json_array_size(rows), S_ROWS);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        CHECK_EQ(json_integer_value(json_object_get(row, "_step")), (json_int_t)i);
        CHECK(json_number_value(json_object_get(row, "loss")) == (double)i);
    }
    json_decref(h);
    json_t *runs = wbt_http_get(&s_srv, "/api/v1/runs?project=auth");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(runs, "runs"), i, x)
    {
        // A replayed HELLO must not have made a run of its own.
        const char *name = json_string_value(json_object_get(x, "name"));
        CHECK(!name || strstr(name, "intruder") == NULL);
    }
    json_decref(runs);
}

// Logs S_ROWS rows; calls attack once half of them are out.
static void s_log_rows(wandb_run_t *run, void (*attack)(void *), void *arg)
{
    for (int k = 0; k < S_ROWS; k++) {
        if (k == S_ROWS / 2) {
            usleep(100000); // the first half reached the aggregator
            attack(arg);
        }
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", (double)k)));
        if (k % 20 == 0)
            usleep(2000); // several messages, interleaved with the attack
    }
}

typedef struct {
    wbi_agg_t *agg;     // the job's aggregator
    void *ctx;          // the intruders' context
    const char *run_id; // the victim's run id
    void *socks[6];     // the intruders' sockets (closed by the test)
    int nsocks;         // used
} s_attack_t;

// The takeover: sockets with the victim's routing id, as the old scheme
// made it (run_id/rank/pid) and copied from a rank that uses a fixed one,
// without keys and with keys of their own, send KEY/ROW/FINISH.
static void s_takeover(void *arg)
{
    s_attack_t *a = arg;
    char old_id[200];
    snprintf(old_id, sizeof old_id, "%s/%d/%ld", a->run_id, 0, (long)getpid());
    const char *ids[] = {old_id, "rank-0"};
    for (int i = 0; i < 2; i++) {
        for (s_how_t how = S_NO_KEY; how <= S_OWN_KEY; how++) {
            void *d = s_intruder(a->ctx, a->agg, how, ids[i]);
            s_send_takeover(d, 1000);
            a->socks[a->nsocks++] = d;
        }
    }
    // Two without keys, two with their own: all refused in the handshake.
    s_wait_refusals(a->agg, 4, 2);
}

// (1) The takeover of a victim's routing id fails, is counted, and the
// victim's state and every one of its rows are intact.
static void test_takeover(void)
{
    wbi_agg_t *agg = s_agg_start(false);
    wandb_run_t *run = s_victim(agg, "victim-1");
    s_attack_t a = {.agg = agg, .ctx = zmq_ctx_new(), .run_id = "victim-1"};
    s_log_rows(run, s_takeover, &a);
    CHECK_OK(wandb_finish(&run, 0));
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_get_stats(agg, &st);
    wbi_agg_get_extra(agg, &ex);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.runs_finished, 1);
    CHECK_EQ(st.rows, S_ROWS);
    CHECK_EQ(st.malformed, 0);
    CHECK_EQ(ex.ignored, 0); // nothing of the intruders reached the run table
    CHECK_EQ(ex.refused_reconnects, 0);
    CHECK_OK(wbi_agg_stop(&agg, 20000)); // everything delivered
    for (int i = 0; i < a.nsocks; i++)
        zmq_close(a.socks[i]);
    zmq_ctx_term(a.ctx);
    s_check_victim("victim-1");
}

// Wrong keys, no keys and a HELLO replayed from new connections, each
// with a routing id of its own.
static void s_refuse(void *arg)
{
    s_attack_t *a = arg;
    s_how_t hows[] = {S_NO_KEY, S_OWN_KEY, S_WRONG_SRV};
    const char *run_ids[] = {"victim-2", "intruder-2"};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            void *d = s_intruder(a->ctx, a->agg, hows[i], NULL);
            s_send_replay(d, run_ids[j]);
            a->socks[a->nsocks++] = d;
        }
    }
    // Without the server key the client's first handshake message cannot
    // be read: the server sees a failed handshake, never a ZAP request.
    s_wait_refusals(a->agg, 4, 2);
}

// (2) A rank with a key pair of its own, with no key, and a replayed HELLO
// (captured bytes resent from a new connection with no or a wrong key)
// are refused while the legitimate job is undisturbed.
static void test_refused(void)
{
    wbi_agg_t *agg = s_agg_start(false);
    wandb_run_t *run = s_victim(agg, "victim-2");
    s_attack_t a = {.agg = agg, .ctx = zmq_ctx_new(), .run_id = "victim-2"};
    s_log_rows(run, s_refuse, &a);
    CHECK_OK(wandb_finish(&run, 0));
    wbi_agg_stats_t st;
    wbi_agg_get_stats(agg, &st);
    CHECK_EQ(st.runs, 1); // no run from a replayed HELLO
    CHECK_EQ(st.runs_finished, 1);
    CHECK_EQ(st.rows, S_ROWS);
    CHECK_EQ(st.malformed, 0);
    CHECK_OK(wbi_agg_stop(&agg, 20000));
    for (int i = 0; i < a.nsocks; i++)
        zmq_close(a.socks[i]);
    zmq_ctx_term(a.ctx);
    s_check_victim("victim-2");
}

// A routing id over a new connection counts only after it said HELLO with
// the secret again: a reconnecting rank keeps its run, a socket that
// reuses the id and skips the HELLO (here one holding the job's keys) is
// refused and counted.
static void test_reconnect_proves_itself(void)
{
    wbi_agg_t *agg = s_agg_start(false);
    t_keys_t k = s_keys(agg);
    void *ctx = zmq_ctx_new();
    const char *hello = "{\"run_id\":\"recon\",\"project\":\"auth\",\"rank\":3,"
                        "\"start_time\":100.0,\"secret\":\"" S_SECRET "\"}";
    t_msg_t m = {0};
    for (int conn = 0; conn < 3; conn++) {
        void *d = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 2000;
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(d, ZMQ_ROUTING_ID, "fixed-id", 8);
        t_curve_job(d, &k);
        CHECK_EQ(zmq_connect(d, wbi_agg_endpoint(agg)), 0);
        t_begin(&m);
        if (conn == 0) {
            t_put(&m, WBI_REC_HELLO, hello);
            t_key(&m, 1, "loss");
            t_row(&m, 0, 100.5, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.0)));
        } else if (conn == 1) {
            t_row(&m, 1, 101.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 666.0))); // no HELLO
        } else {
            t_put(&m, WBI_REC_HELLO, hello);
            t_row(&m, 1, 101.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 1.0)));
            t_finish_rec(&m, 0, 0, 0);
        }
        CHECK(zmq_send(d, m.b.data, m.b.len, 0) == (int)m.b.len);
        wbi_agg_core_extra_t ex;
        int64_t deadline = t_now_ms() + 10000;
        do {
            usleep(5000);
            wbi_agg_get_extra(agg, &ex);
        } while (ex.refused_reconnects + ex.reconnects < (uint64_t)conn && t_now_ms() < deadline);
        zmq_close(d); // linger: delivered before the close completes
    }
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    int64_t deadline = t_now_ms() + 10000;
    do {
        usleep(5000);
        wbi_agg_get_stats(agg, &st);
    } while (st.runs_finished < 1 && t_now_ms() < deadline);
    wbi_agg_get_extra(agg, &ex);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.rows, 2);
    CHECK_EQ(ex.refused_reconnects, 1);
    CHECK_EQ(ex.reconnects, 1);
    CHECK_OK(wbi_agg_stop(&agg, 20000));
    zmq_ctx_term(ctx);
    t_msg_free(&m);
    json_t *h = wbt_http_get(&s_srv, "/api/v1/runs/recon/history?project=auth");
    json_t *rows = json_object_get(h, "rows");
    CHECK_EQ(json_array_size(rows), 2);
    CHECK(json_number_value(json_object_get(json_array_get(rows, 1), "loss")) == 1.0);
    json_decref(h);
}

// Plain text (asked for): no handover, so libzmq never hands the aggregator
// anything from a socket that copied a connected victim's routing id, not
// even after the victim left; the victim's run is intact.
static void test_plain_takeover(void)
{
    wbi_agg_t *agg = s_agg_start(true);
    void *ctx = zmq_ctx_new();
    const char *hello = "{\"run_id\":\"plain-victim\",\"project\":\"auth\",\"rank\":0,"
                        "\"start_time\":100.0,\"secret\":\"" S_SECRET "\"}";
    void *v = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 2000;
    zmq_setsockopt(v, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(v, ZMQ_ROUTING_ID, "copied-id", 9);
    CHECK_EQ(zmq_connect(v, wbi_agg_endpoint(agg)), 0);
    t_msg_t m = {0};
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_key(&m, 1, "loss");
    t_row(&m, 0, 100.5, true, 1, IDS(1), V(WANDB_DOUBLE("", 0.0)));
    CHECK(zmq_send(v, m.b.data, m.b.len, 0) == (int)m.b.len);
    wbi_agg_stats_t st;
    int64_t deadline = t_now_ms() + 10000;
    do {
        usleep(5000);
        wbi_agg_get_stats(agg, &st);
    } while (st.rows < 1 && t_now_ms() < deadline);
    void *a = s_intruder(ctx, agg, S_NO_KEY, "copied-id");
    s_send_takeover(a, 1);
    usleep(200000);
    t_begin(&m);
    t_row(&m, 1, 101.0, true, 1, IDS(1), V(WANDB_DOUBLE("", 1.0)));
    t_finish_rec(&m, 0, 0, 0);
    CHECK(zmq_send(v, m.b.data, m.b.len, 0) == (int)m.b.len);
    deadline = t_now_ms() + 10000;
    do {
        usleep(5000);
        wbi_agg_get_stats(agg, &st);
    } while (st.runs_finished < 1 && t_now_ms() < deadline);
    zmq_close(v);
    s_send_takeover(a, 2); // the victim is gone: still not heard
    usleep(300000);
    wbi_agg_core_extra_t ex;
    wbi_agg_get_extra(agg, &ex);
    wbi_agg_get_stats(agg, &st);
    CHECK_EQ(ex.ignored + ex.refused_reconnects, 0);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.runs_finished, 1);
    CHECK_EQ(st.rows, 2);
    CHECK_OK(wbi_agg_stop(&agg, 20000));
    zmq_close(a);
    zmq_ctx_term(ctx);
    t_msg_free(&m);
    json_t *r = wbt_http_get(&s_srv, "/api/v1/runs/plain-victim?project=auth");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 0);
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 2);
    json_decref(r);
}

// Plain text only when asked: the executable's keys are absent, a rank
// without keys gets in, and a rank that wants CURVE from it cannot.
static void test_plain_when_asked(void)
{
    wbi_agg_t *agg = s_agg_start(true);
    CHECK(wbi_agg_keys(agg) == NULL);
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "project", "auth"));
    CHECK_OK(wandb_settings_set(s, "run_id", "plain-1"));
    CHECK_OK(wandb_settings_set(s, "aggregator", wbi_agg_endpoint(agg)));
    CHECK_OK(wandb_settings_set(s, "secret", S_SECRET));
    wandb_run_t *run = NULL;
    // A tcp endpoint without keys is refused unless plain text was asked for.
    CHECK_ERR(wandb_init(s, &run), WANDB_EINVAL);
    CHECK(strstr(wandb_settings_errmsg(s), "aggregator_server_key") != NULL);
    CHECK_OK(wandb_settings_set(s, "transport_security", "plain"));
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.0)));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    wbi_agg_stats_t st;
    wbi_agg_get_stats(agg, &st);
    CHECK_EQ(st.runs_finished, 1);
    CHECK_OK(wbi_agg_stop(&agg, 20000));
}

int main(int argc, char **argv)
{
    char bin[512];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_API_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"takeover", test_takeover},
                                       {"refused", test_refused},
                                       {"reconnect_proves_itself", test_reconnect_proves_itself},
                                       {"plain_takeover", test_plain_takeover},
                                       {"plain_when_asked", test_plain_when_asked}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wbt_server_stop(&s_srv);
    wbt_server_release(&s_srv);
    return rc;
}
