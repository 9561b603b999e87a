//  test_agg_core.c - the aggregator's message handler: peers, secrets, robustness
//  SPDX-License-Identifier: MIT
//
//  HELLO and secret checks, sequence gaps, heartbeat timeouts, and a fuzz
//  loop with a fixed seed that feeds random, truncated and bit-flipped
//  messages to the real handler: it must never crash and must count them.
#include "test_agg_util.h"

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})

// A wrong secret ignores the peer; the right one opens the run.
static void test_secret(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, "s3cret");
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"r1\",\"project\":\"p\",\"secret\":\"nope\"}");
    t_key(&m, 1, "a");
    t_send(c, 0, &m, 0);
    t_begin(&m);
    t_row(&m, 0, 1.0, true, 1, IDS(1), V(WANDB_INT("", 1)));
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.opened, 0);
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(st.runs, 0);
    CHECK_EQ(st.malformed, 1);
    CHECK_EQ(ex.ignored, 1);
    CHECK_EQ(st.messages, 2);

    m.seq = 0;
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"r2\",\"project\":\"p\",\"secret\":\"s3cret\"}");
    t_key(&m, 1, "a");
    t_row(&m, 0, 1.0, true, 1, IDS(1), V(WANDB_INT("", 1)));
    t_send(c, 1, &m, 2);
    CHECK_EQ(r.opened, 1);
    CHECK_STREQ(r.run_id, "r2");
    CHECK_EQ(r.nlines, 1);
    // HELLO without a secret on a secured aggregator
    m.seq = 0;
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"r3\",\"project\":\"p\"}");
    t_send(c, 2, &m, 3);
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.malformed, 2);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// Records before HELLO, invalid HELLOs, a second HELLO.
static void test_hello_rules(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    t_begin(&m);
    t_key(&m, 1, "a"); // before HELLO
    t_send(c, 0, &m, 0);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"a/b\",\"project\":\"p\"}"); // bad run id
    t_send(c, 1, &m, 0);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"ok\"}"); // no project
    t_send(c, 2, &m, 0);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_put(&m, WBI_REC_HELLO, T_HELLO);            // second
    t_put(&m, (wbi_rec_type)77, "future record"); // unknown type: skipped quietly
    t_send(c, 3, &m, 0);
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.malformed, 3); // two bad HELLOs, the second HELLO
    CHECK_EQ(ex.ignored, 1);   // the record before HELLO: no peer, not decoded
    CHECK_EQ(st.records, 5);
    CHECK_EQ(r.opened, 1);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// Sequence gaps are counted as lost messages.
static void test_seq_gap(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_send(c, 0, &m, 0); // seq 0
    m.seq = 4;
    t_begin(&m);
    t_send(c, 0, &m, 1); // seq 4: 1..3 lost
    t_begin(&m);
    t_send(c, 0, &m, 2); // seq 5
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, NULL, &ex);
    CHECK_EQ(ex.lost_messages, 3);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// A silent run is marked crashed: summary sent, no finish, and its open row
// kept (the rank may come back) until shutdown emits it.
static void test_heartbeat_timeout(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL); // heartbeat timeout 1000 ms
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_key(&m, 1, "a");
    t_row(&m, 4, 101.0, false, 1, IDS(1), V(WANDB_INT("", 1)));
    t_send(c, 0, &m, 0);
    CHECK(!wbi_agg_core_settled(c, 0));
    t_ticks(c, 0, 900);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 0);
    t_begin(&m);
    t_send(c, 0, &m, 900); // a heartbeat (empty message)
    t_ticks(c, 920, 1900);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 0);
    t_ticks(c, 1920, 2000);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 1);
    CHECK_EQ(r.finished, 0);
    CHECK_EQ(r.nlines, 0); // the open row is kept
    CHECK(r.summary != NULL);
    CHECK(wbi_agg_core_settled(c, 0));
    CHECK(wbi_agg_core_settled(c, 1));
    // Shutdown emits the open rows of crashed runs too; it was not active.
    CHECK_EQ(wbi_agg_core_shutdown(c, 300.0), 0);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0], "{\"a\":1,\"_step\":4,\"_runtime\":1.0,\"_timestamp\":101.0}");
    CHECK_EQ(r.finished, 0);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// Shutdown leaves unfinished runs crashed after emitting their data.
static void test_shutdown(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_key(&m, 1, "a");
    t_row(&m, 0, 101.0, false, 1, IDS(1), V(WANDB_INT("", 1)));
    t_send(c, 0, &m, 0);
    CHECK_EQ(wbi_agg_core_shutdown(c, 300.0), 1);
    CHECK_EQ(r.nlines, 1);
    CHECK_EQ(r.finished, 0);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// A crashed run that comes back continues its open step: nothing is lost.
static void test_revival_keeps_row(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL); // heartbeat timeout 1000 ms
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_key(&m, 1, "a");
    t_key(&m, 2, "b");
    t_row(&m, 4, 101.0, false, 1, IDS(1), V(WANDB_INT("", 1)));
    t_send(c, 0, &m, 0);
    t_ticks(c, 0, 1100);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 1);
    t_begin(&m);
    t_row(&m, 4, 102.0, true, 1, IDS(2), V(WANDB_INT("", 2)));
    t_send(c, 0, &m, 1200);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 0);
    CHECK_EQ(st.malformed, 0);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0], "{\"a\":1,\"b\":2,\"_step\":4,\"_runtime\":2.0,\"_timestamp\":102.0}");
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// A stalled loop (no tick for longer than the timeout) does not crash runs
// that were only unheard because of the stall; real silence still does.
static void test_stall_not_crash(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL); // heartbeat timeout 1000 ms
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, T_HELLO);
    t_send(c, 0, &m, 0);
    t_ticks(c, 0, 400);
    wbi_agg_core_tick(c, 5400, 200.0); // the loop stalled for 5 s
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 0);
    t_ticks(c, 5420, 5800); // 800 ms of real silence after the stall
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 0);
    t_ticks(c, 5820, 6100); // 1100 ms: crashed
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 1);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// HELLO heartbeat_ms: the peer's timeout is max(timeout, 3 x heartbeat_ms).
static void test_hello_heartbeat_ms(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL); // heartbeat timeout 1000 ms
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"slow\",\"project\":\"p\",\"heartbeat_ms\":1000}");
    t_send(c, 0, &m, 0);
    m.seq = 0;
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"fast\",\"project\":\"p\",\"heartbeat_ms\":100}");
    t_send(c, 1, &m, 0);
    t_ticks(c, 0, 2900);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 1); // "fast" keeps the 1000 ms default
    t_ticks(c, 2920, 3100);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_crashed, 2);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
}

// Junk from as many ids as the table holds takes no entry: a real run still
// gets in, and all of it costs one warning.
static void test_junk_peers(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, "s3cret");
    int warns = 0;
    wandb_set_logger(t_count_warn, &warns);
    t_begin(&m);
    t_key(&m, 1, "a"); // no HELLO
    t_msg_t bad = {0};
    t_begin(&bad);
    t_put(&bad, WBI_REC_HELLO, "{\"run_id\":\"x\",\"project\":\"p\",\"secret\":\"nope\"}");
    for (int i = 0; i < WBI_AGG_MAX_PEERS; i++) {
        char id[32];
        int n = snprintf(id, sizeof id, "junk-%d", i);
        const t_msg_t *j = i % 2 ? &bad : &m;
        wbi_agg_core_handle(c, id, (size_t)n, j->b.data, j->b.len, i / 64, 200.0);
    }
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(ex.ignored, WBI_AGG_MAX_PEERS / 2);
    CHECK_EQ(st.malformed, WBI_AGG_MAX_PEERS / 2);
    CHECK_EQ(warns, 1);
    m.seq = 0;
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, "{\"run_id\":\"real\",\"project\":\"p\",\"secret\":\"s3cret\"}");
    t_send(c, 0, &m, 2000);
    CHECK_EQ(r.opened, 1);
    CHECK_STREQ(r.run_id, "real");
    wandb_set_logger(NULL, NULL);
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
    t_msg_free(&m);
    t_msg_free(&bad);
}

static uint64_t s_rng = 0x2545F4914F6CDD1Dull;

// xorshift64*: a fixed-seed generator, so failures reproduce.
static uint32_t s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

// Builds a plausible message with every record type.
static void s_valid_message(t_msg_t *m)
{
    t_begin(m);
    t_put(m, WBI_REC_HELLO, T_HELLO);
    t_key(m, 1, "a");
    t_key(m, 2, "b/c");
    t_row(m, 0, 100.0, false, 2, IDS(1, 2), V(WANDB_DOUBLE("", 1.0), WANDB_STRING("", "s")));
    t_row(m, 1, 100.0, true, 2, IDS(1, 2), V(WANDB_INT("", 1), WANDB_JSON("", "[1,{\"x\":2}]")));
    t_put(m, WBI_REC_CONFIG, "{\"x\":1}");
    t_put(m, WBI_REC_SUMMARY, "{\"y\":2}");
    t_put(m, WBI_REC_DEFINE_METRIC, "{\"name\":\"a\",\"step_metric\":\"b/c\",\"summary\":\"max\"}");
    t_put(m, WBI_REC_ALERT, "{\"title\":\"t\",\"text\":\"x\"}");
    t_row(m, 2, 100.0, true, 1, IDS(1), V(WANDB_BOOL("", true)));
    t_put(m, WBI_REC_PREEMPTING, "");
    t_finish_rec(m, 0, 1, 2);
}

// Random bytes, truncations and bit flips never crash and are counted.
static void test_fuzz(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    s_valid_message(&m);
    size_t vlen = m.b.len;
    uint8_t *valid = malloc(vlen);
    memcpy(valid, m.b.data, vlen);
    uint8_t buf[2048];
    CHECK(vlen < sizeof buf);
    const int iters = 6000;
    int sent = 0;
    for (int i = 0; i < iters; i++) {
        size_t len;
        switch (i % 3) {
        case 0: // random bytes, sometimes with a valid header
            len = s_rand() % 300;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)s_rand();
            if (len >= WBI_WIRE_HEADER_BYTES && (s_rand() & 1))
                wbi_wire_header_put(buf, (uint32_t)i);
            break;
        case 1: // truncated valid message
            len = s_rand() % vlen;
            memcpy(buf, valid, len);
            break;
        default: // bit flips in a valid message
            len = vlen;
            memcpy(buf, valid, len);
            for (int f = 0; f < 1 + (int)(s_rand() % 4); f++)
                buf[s_rand() % len] ^= (uint8_t)(1u << (s_rand() % 8));
            break;
        }
        char id[16];
        int n = snprintf(id, sizeof id, "fz%d", (int)(s_rand() % 64));
        wbi_agg_core_handle(c, id, (size_t)n, buf, len, i, 200.0 + i);
        sent++;
        if (i % 500 == 0)
            wbi_agg_core_tick(c, i + 100000, 300.0 + i); // crash everything silent
    }
    wbi_agg_core_tick(c, 10000000, 1e6);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.messages, (uint64_t)sent);
    CHECK(st.malformed > (uint64_t)iters / 3);
    CHECK(st.runs > 0);
    CHECK(st.runs <= 64);
    // the handler still works after all that
    m.seq = 0;
    s_valid_message(&m);
    uint64_t before = st.runs_finished;
    t_send(c, 999, &m, 20000000);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.runs_finished, before + 1);
    wbi_agg_core_destroy(&c);
    free(valid);
    t_rec_free(&r);
    t_msg_free(&m);
}

// Every allocation of a full run's life failing in turn: no crash, no leak
// (ASan checks the leaks), and the handler still works afterwards.
static void test_out_of_memory(void)
{
    t_msg_t m = {0};
    s_valid_message(&m);
    uint64_t before = wbi_alloc_count();
    {
        t_rec_t r = {0};
        wbi_agg_core_t *c = t_core(&r, NULL);
        t_send(c, 0, &m, 0);
        wbi_agg_core_tick(c, 1000, 300.0);
        wbi_agg_core_destroy(&c);
        CHECK_EQ(r.finished, 1);
        t_rec_free(&r);
    }
    uint64_t total = wbi_alloc_count() - before;
    CHECK(total > 20);
    for (uint64_t n = 1; n <= total + 5; n++) {
        t_rec_t r = {0};
        wbi_agg_core_t *c = t_core(&r, NULL);
        wbi_alloc_fail_after(n);
        t_send(c, 0, &m, 0);
        wbi_agg_core_tick(c, 1000, 300.0);
        wbi_alloc_fail_after(0);
        wbi_agg_core_shutdown(c, 400.0);
        wbi_agg_core_destroy(&c);
        t_rec_free(&r);
    }
    t_msg_free(&m);
}

// An oversized routing id and broken messages are counted, not fatal.
static void test_odd_inputs(void)
{
    t_rec_t r = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    char big[300];
    memset(big, 'x', sizeof big);
    wbi_agg_core_handle(c, big, sizeof big, "WB", 2, 0, 0);
    wbi_agg_core_handle(c, "p", 1, "", 0, 0, 0);
    wbi_agg_core_handle(c, "p", 1, "WB\x02\x00\x00\x00\x00\x00", 8, 0, 0); // version 2
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(st.messages, 3);
    CHECK_EQ(st.malformed, 1); // the oversized id
    CHECK_EQ(ex.ignored, 2);   // "p" never said HELLO: no entry, ignored
    wbi_agg_core_destroy(&c);
    t_rec_free(&r);
}

// Sends m from routing id "peer" over connection conn.
static void s_send_conn(wbi_agg_core_t *c, const char *conn, t_msg_t *m, int64_t mono_ms)
{
    wbi_agg_core_handle_conn(c, "peer", 4, conn, m->b.data, m->b.len, mono_ms, 200.0);
}

// A peer is bound to the connection of its HELLO: its routing id over
// another connection is refused (KEY/ROW/FINISH without a HELLO, a HELLO
// with a wrong secret, or for another run or rank) until a HELLO proves
// the same run again; then the run goes on where it was.
static void test_connection_binding(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, "s3cret");
    const char *hello = "{\"run_id\":\"r1\",\"project\":\"p\",\"rank\":2,\"secret\":\"s3cret\"}";
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_key(&m, 1, "a");
    t_row(&m, 0, 1.0, true, 1, IDS(1), V(WANDB_INT("", 1)));
    s_send_conn(c, "c1", &m, 0);
    CHECK_EQ(r.nlines, 1);
    // The takeover: the same routing id over another connection.
    t_begin(&m);
    t_key(&m, 1, "a");
    t_row(&m, 1, 2.0, true, 1, IDS(1), V(WANDB_INT("", 666)));
    t_finish_rec(&m, 7, 0, 0);
    s_send_conn(c, "c2", &m, 1);
    s_send_conn(c, NULL, &m, 1); // no connection id at all is another connection too
    const char *bad[] = {
        "{\"run_id\":\"r1\",\"project\":\"p\",\"rank\":2,\"secret\":\"nope\"}",
        "{\"run_id\":\"r1\",\"project\":\"p\",\"rank\":2}",
        "{\"run_id\":\"r9\",\"project\":\"p\",\"rank\":2,\"secret\":\"s3cret\"}",
        "{\"run_id\":\"r1\",\"project\":\"p\",\"rank\":5,\"secret\":\"s3cret\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_begin(&m);
        t_put(&m, WBI_REC_HELLO, bad[i]);
        t_finish_rec(&m, 7, 0, 0);
        s_send_conn(c, "c3", &m, 2);
    }
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(ex.refused_reconnects, 7);
    CHECK_EQ(ex.reconnects, 0);
    CHECK_EQ(r.finished, 0);
    CHECK_EQ(r.nlines, 1);
    CHECK_EQ(st.runs, 1);
    // The old connection still works.
    t_begin(&m);
    t_row(&m, 1, 2.0, true, 1, IDS(1), V(WANDB_INT("", 2)));
    s_send_conn(c, "c1", &m, 3);
    CHECK_EQ(r.nlines, 2);
    // A reconnect that proves itself keeps the run (keys, steps) and moves it.
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO, hello);
    t_row(&m, 2, 3.0, true, 1, IDS(1), V(WANDB_INT("", 3)));
    s_send_conn(c, "c4", &m, 4);
    CHECK_EQ(r.nlines, 3);
    CHECK(strstr(r.lines[2], "\"a\":3") != NULL);
    t_begin(&m);
    t_finish_rec(&m, 7, 0, 0);
    s_send_conn(c, "c1", &m, 5); // the old connection is no longer the run's
    CHECK_EQ(r.finished, 0);
    t_begin(&m);
    t_finish_rec(&m, 0, 0, 0);
    s_send_conn(c, "c4", &m, 6);
    CHECK_EQ(r.finished, 1);
    CHECK_EQ(r.exit_code, 0);
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(ex.reconnects, 1);
    CHECK_EQ(ex.refused_reconnects, 8);
    CHECK_EQ(st.runs, 1);
    CHECK_EQ(st.rows, 3);
    wbi_agg_core_destroy(&c);
    t_msg_free(&m);
    t_rec_free(&r);
}

WBT_MAIN({"connection_binding", test_connection_binding}, {"secret", test_secret},
         {"hello_rules", test_hello_rules}, {"seq_gap", test_seq_gap},
         {"heartbeat_timeout", test_heartbeat_timeout}, {"shutdown", test_shutdown},
         {"revival_keeps_row", test_revival_keeps_row}, {"stall_not_crash", test_stall_not_crash},
         {"hello_heartbeat_ms", test_hello_heartbeat_ms}, {"junk_peers", test_junk_peers},
         {"fuzz", test_fuzz}, {"out_of_memory", test_out_of_memory},
         {"odd_inputs", test_odd_inputs})
