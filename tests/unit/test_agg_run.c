//  test_agg_run.c - row assembly, history encoding, summary and config of one run
//  SPDX-License-Identifier: MIT
//
//  Drives the real aggregator core with hand-built wire messages and checks
//  the exact history lines, summaries and configs it hands to its sink.
#include "test_agg_util.h"
#include <math.h>

#define V(...) ((const wandb_value_t[]){__VA_ARGS__})
#define IDS(...) ((const uint32_t[]){__VA_ARGS__})

static const char *const A_B_STEP0 =
    "{\"a\":1.5,\"b\":2,\"_step\":0,\"_runtime\":0.5,\"_timestamp\":100.5}";

// Opens run r1 on peer 0 with keys a=1, b=2.
static wbi_agg_core_t *s_open(t_rec_t *r, t_msg_t *m)
{
    wbi_agg_core_t *c = t_core(r, NULL);
    t_begin(m);
    t_put(m, WBI_REC_HELLO, T_HELLO);
    t_key(m, 1, "a");
    t_key(m, 2, "b");
    t_send(c, 0, m, 0);
    CHECK_EQ(r->opened, 1);
    return c;
}

static void s_close(wbi_agg_core_t **c, t_rec_t *r, t_msg_t *m)
{
    wbi_agg_core_destroy(c);
    CHECK(*c == NULL);
    t_rec_free(r);
    t_msg_free(m);
}

// The seed's three equivalent ways of logging a and b at step 0.
static void test_three_forms_identical(void)
{
    for (int form = 0; form < 3; form++) {
        t_rec_t r = {0};
        t_msg_t m = {0};
        wbi_agg_core_t *c = s_open(&r, &m);
        t_begin(&m);
        if (form == 0) { // log({a, b})
            t_row(&m, 0, 100.5, true, 2, IDS(1, 2), V(WANDB_DOUBLE("a", 1.5), WANDB_INT("b", 2)));
        } else if (form == 1) { // log({a}, commit=False); log({b})
            t_row(&m, 0, 100.5, false, 1, IDS(1), V(WANDB_DOUBLE("a", 1.5)));
            t_row(&m, 0, 100.5, true, 1, IDS(2), V(WANDB_INT("b", 2)));
        } else { // log({a}, step=0); log({b}, step=0); log({a}, step=1)
            t_row(&m, 0, 100.5, false, 1, IDS(1), V(WANDB_DOUBLE("a", 1.5)));
            t_row(&m, 0, 100.5, false, 1, IDS(2), V(WANDB_INT("b", 2)));
            t_row(&m, 1, 101.0, false, 1, IDS(1), V(WANDB_DOUBLE("a", 3.0)));
        }
        t_send(c, 0, &m, 1);
        CHECK_EQ(r.nlines, 1);
        CHECK_STREQ(r.lines[0], A_B_STEP0);
        wbi_agg_stats_t st;
        wbi_agg_core_get_stats(c, &st, NULL);
        CHECK_EQ(st.rows, 1);
        CHECK_EQ(st.malformed, 0);
        s_close(&c, &r, &m);
    }
}

// A later value of the same key replaces the earlier one; order is first-seen.
static void test_merge_replaces_keeps_order(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_row(&m, 0, 100.25, false, 2, IDS(1, 2), V(WANDB_INT("a", 1), WANDB_INT("b", 2)));
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nlines, 0); // not committed yet
    t_begin(&m);
    t_row(&m, 0, 101.0, true, 1, IDS(1), V(WANDB_INT("a", 5)));
    t_send(c, 0, &m, 2);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0], "{\"a\":5,\"b\":2,\"_step\":0,\"_runtime\":1.0,\"_timestamp\":101.0}");
    s_close(&c, &r, &m);
}

// A higher step emits the open row; a commit emits; a lower step is rejected.
static void test_higher_step_flush_and_lower_rejected(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_row(&m, 3, 100.0, false, 1, IDS(1), V(WANDB_INT("a", 1)));
    t_row(&m, 5, 100.0, false, 1, IDS(2), V(WANDB_INT("b", 2)));
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0], "{\"a\":1,\"_step\":3,\"_runtime\":0.0,\"_timestamp\":100.0}");
    t_begin(&m);
    t_row(&m, 4, 100.0, true, 1, IDS(1), V(WANDB_INT("a", 9))); // lower than the open row
    t_send(c, 0, &m, 2);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 1);
    CHECK_EQ(r.nlines, 1);
    t_begin(&m);
    t_row(&m, 5, 100.0, true, 0, NULL, NULL);                   // commit of the open row
    t_row(&m, 5, 100.0, true, 1, IDS(1), V(WANDB_INT("a", 9))); // step already emitted
    t_row(&m, 6, 100.0, true, 0, NULL, NULL);                   // empty rows are never sent
    t_send(c, 0, &m, 3);
    CHECK_EQ(r.nlines, 2);
    CHECK_STREQ(r.lines[1], "{\"b\":2,\"_step\":5,\"_runtime\":0.0,\"_timestamp\":100.0}");
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 2);
    CHECK_EQ(st.rows, 2);
    s_close(&c, &r, &m);
}

// FINISH emits the open row, sends the final summary, finishes and replies.
static void test_finish_flushes(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_row(&m, 7, 102.0, false, 1, IDS(1), V(WANDB_DOUBLE("a", 0.25)));
    t_finish_rec(&m, 3, 0, 0);
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0], "{\"a\":0.25,\"_step\":7,\"_runtime\":2.0,\"_timestamp\":102.0}");
    CHECK_EQ(r.finished, 1);
    CHECK_EQ(r.exit_code, 3);
    CHECK_EQ(r.replies, 1);
    CHECK_EQ(r.reply_type, WBI_REC_FINISHED);
    // the finish time (wall 200.0 in t_send) sets _wandb.runtime
    CHECK_STREQ(r.summary, "{\"a\":0.25,\"_step\":7,\"_runtime\":2.0,\"_timestamp\":102.0,"
                           "\"_wandb\":{\"runtime\":100}}");
    CHECK(wbi_agg_core_settled(c, 0));
    CHECK(wbi_agg_core_settled(c, 1));
    CHECK(!wbi_agg_core_settled(c, 2));
    // records after FINISH are malformed
    t_begin(&m);
    t_row(&m, 8, 102.0, true, 1, IDS(1), V(WANDB_DOUBLE("a", 0.5)));
    t_send(c, 0, &m, 2);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 1);
    CHECK_EQ(st.runs_finished, 1);
    CHECK_EQ(r.nlines, 1);
    s_close(&c, &r, &m);
}

// NaN/Infinity bare, integers stay integers, escaping, shortest doubles, JSON.
static void test_history_encoding(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_key(&m, 3, "n");
    t_key(&m, 4, "p");
    t_key(&m, 5, "q");
    t_key(&m, 6, "say \"hi\"\n");
    t_key(&m, 7, "j");
    t_key(&m, 8, "t");
    t_key(&m, 9, "bad");
    t_key(&m, 10, "x");
    t_row(&m, 0, 100.0, true, 10, IDS(3, 4, 5, 1, 2, 6, 7, 8, 9, 10),
          V(WANDB_DOUBLE("", NAN), WANDB_DOUBLE("", INFINITY), WANDB_DOUBLE("", -INFINITY),
            WANDB_DOUBLE("", 0.1), WANDB_INT("", -9007199254740993LL),
            WANDB_STRING("", "tab\t\"quote\" caf\xc3\xa9"),
            WANDB_JSON("", "{ \"x\" : [1, 2.5, NaN] }"), WANDB_BOOL("", true),
            WANDB_JSON("", "{not json"), WANDB_DOUBLE("", 3.0)));
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nlines, 1);
    CHECK_STREQ(r.lines[0],
                "{\"n\":NaN,\"p\":Infinity,\"q\":-Infinity,\"a\":0.1,\"b\":-9007199254740993,"
                "\"say \\\"hi\\\"\\n\":\"tab\\t\\\"quote\\\" caf\xc3\xa9\","
                "\"j\":{\"x\":[1,2.5,NaN]},\"t\":true,\"x\":3.0,"
                "\"_step\":0,\"_runtime\":0.0,\"_timestamp\":100.0}");
    wbi_agg_core_extra_t ex;
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, &ex);
    CHECK_EQ(ex.bad_values, 1); // the invalid JSON value
    CHECK_EQ(st.malformed, 1);  // its record counted once
    // unknown key id: dropped, the rest kept
    t_begin(&m);
    t_row(&m, 1, 100.0, true, 2, IDS(77, 1), V(WANDB_INT("", 1), WANDB_INT("", 2)));
    t_send(c, 0, &m, 2);
    CHECK_EQ(r.nlines, 2);
    CHECK_STREQ(r.lines[1], "{\"a\":2,\"_step\":1,\"_runtime\":0.0,\"_timestamp\":100.0}");
    s_close(&c, &r, &m);
}

// Summary: last value, explicit override until re-logged, define_metric stats.
static void test_summary(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"b\",\"summary\":\"min,max,mean\"}");
    t_key(&m, 3, "c");
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"c\",\"summary\":[\"none\"]}");
    t_row(&m, 0, 101.0, true, 3, IDS(1, 2, 3),
          V(WANDB_INT("", 1), WANDB_DOUBLE("", 3.0), WANDB_INT("", 0)));
    t_row(&m, 1, 102.0, true, 2, IDS(1, 2), V(WANDB_INT("", 2), WANDB_DOUBLE("", 1.0)));
    t_row(&m, 2, 103.0, true, 1, IDS(2), V(WANDB_DOUBLE("", 2.0)));
    t_put(&m, WBI_REC_SUMMARY, "{\"a\":\"best\",\"extra\":{\"k\":[1]}}");
    t_send(c, 0, &m, 1000);
    CHECK_EQ(r.nlines, 3);
    CHECK_EQ(r.nsummaries, 0); // summaries wait for the timer
    wbi_agg_core_tick(c, 1000, 200.0);
    CHECK_EQ(r.nsummaries, 1);
    CHECK_STREQ(r.summary, "{\"b\":{\"min\":1.0,\"max\":3.0,\"mean\":2.0},\"a\":\"best\","
                           "\"extra\":{\"k\":[1]},\"_step\":2,\"_runtime\":3.0,"
                           "\"_timestamp\":103.0,\"_wandb\":{\"runtime\":3}}");
    wbi_agg_core_tick(c, 1200, 200.0);
    CHECK_EQ(r.nsummaries, 1); // nothing changed: no resend
    // logging a again ends the explicit override
    t_begin(&m);
    t_row(&m, 3, 104.0, true, 1, IDS(1), V(WANDB_INT("", 7)));
    t_send(c, 0, &m, 1300);
    wbi_agg_core_tick(c, 1300, 200.0);
    CHECK_EQ(r.nsummaries, 2);
    CHECK_STREQ(r.summary, "{\"a\":7,\"b\":{\"min\":1.0,\"max\":3.0,\"mean\":2.0},"
                           "\"extra\":{\"k\":[1]},\"_step\":3,\"_runtime\":4.0,"
                           "\"_timestamp\":104.0,\"_wandb\":{\"runtime\":4}}");
    s_close(&c, &r, &m);
}

// `_wandb.m` for the example of WANDB_PROTOCOL.md §2.4, config merging.
static void test_define_metric_encoding(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    CHECK_STREQ(r.open_config, "{\"lr\":0.01,\"_wandb\":{\"m\":[],\"t\":{}}}");
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"val/loss\",\"step_metric\":\"epoch\",\"step_sync\":null,"
          "\"hidden\":null,\"summary\":\"min\",\"goal\":\"minimize\"}");
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nconfigs, 1);
    CHECK_STREQ(r.config, "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"epoch\",\"6\":[],\"7\":[]},"
                          "{\"1\":\"val/loss\",\"5\":1,\"6\":[1,3],\"7\":[1],\"8\":1}],\"t\":{}}}");
    t_begin(&m);
    t_put(&m, WBI_REC_CONFIG, "{\"lr\":0.02,\"bs\":32,\"inf\":Infinity}");
    t_put(&m, WBI_REC_CONFIG, "[1,2]"); // not an object: malformed
    t_send(c, 0, &m, 2);
    CHECK_EQ(r.nconfigs, 2);
    CHECK_STREQ(r.config, "{\"lr\":0.02,\"bs\":32,\"inf\":Infinity,\"_wandb\":{\"m\":["
                          "{\"1\":\"epoch\",\"6\":[],\"7\":[]},"
                          "{\"1\":\"val/loss\",\"5\":1,\"6\":[1,3],\"7\":[1],\"8\":1}],\"t\":{}}}");
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 1);
    s_close(&c, &r, &m);
}

// A glob definition applies to later keys (not "defined"); step_sync inserts
// the step metric's latest value.
static void test_glob_and_step_sync(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC,
          "{\"name\":\"train/*\",\"step_metric\":\"epoch\",\"summary\":\"max\"}");
    t_key(&m, 3, "epoch");
    t_key(&m, 4, "train/acc");
    t_row(&m, 0, 100.0, true, 1, IDS(3), V(WANDB_INT("", 1)));
    t_row(&m, 1, 100.0, true, 1, IDS(4), V(WANDB_DOUBLE("", 0.5)));
    t_row(&m, 2, 100.0, true, 1, IDS(4), V(WANDB_DOUBLE("", 0.75)));
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.nlines, 3);
    CHECK_STREQ(
        r.lines[1],
        "{\"train/acc\":0.5,\"epoch\":1,\"_step\":1,\"_runtime\":0.0,\"_timestamp\":100.0}");
    wbi_agg_core_tick(c, 1000, 200.0); // sends the config the glob changed
    CHECK_STREQ(r.config, "{\"lr\":0.01,\"_wandb\":{\"m\":[{\"1\":\"epoch\",\"6\":[],\"7\":[]},"
                          "{\"1\":\"train/acc\",\"5\":1,\"6\":[1],\"7\":[2]}],\"t\":{}}}");
    CHECK_STREQ(r.summary, "{\"epoch\":1,\"train/acc\":{\"max\":0.75},\"_step\":2,"
                           "\"_runtime\":0.0,\"_timestamp\":100.0,\"_wandb\":{\"runtime\":0}}");
    s_close(&c, &r, &m);
}

// Keys that a glob turns into metrics send the config once per flush, not
// once per key (that was quadratic), and FINISH sends a dirty one.
static void test_glob_config_batched(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_DEFINE_METRIC, "{\"name\":\"g/*\",\"summary\":\"max\"}");
    t_send(c, 0, &m, 1);
    int before = r.nconfigs;
    t_begin(&m);
    for (uint32_t i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "g/k%u", i);
        t_key(&m, 10 + i, key);
    }
    t_send(c, 0, &m, 2);
    CHECK_EQ(r.nconfigs, before);
    wbi_agg_core_tick(c, 1000, 200.0);
    CHECK_EQ(r.nconfigs, before + 1);
    CHECK(strstr(r.config, "\"g/k199\"") != NULL);
    wbi_agg_core_tick(c, 2000, 200.0);
    CHECK_EQ(r.nconfigs, before + 1); // nothing changed
    t_begin(&m);
    t_key(&m, 500, "g/last");
    t_finish_rec(&m, 0, 0, 0);
    t_send(c, 0, &m, 2001);
    CHECK_EQ(r.nconfigs, before + 2);
    CHECK(strstr(r.config, "\"g/last\"") != NULL);
    s_close(&c, &r, &m);
}

// ALERT, PREEMPTING and WELCOME reach the sink / the peer.
static void test_alert_preempting_welcome(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    CHECK_EQ(r.replies, 0); // entity unknown yet
    r.entity = "team";
    wbi_agg_core_tick(c, 500, 200.0);
    CHECK_EQ(r.replies, 1);
    CHECK_EQ(r.reply_type, WBI_REC_WELCOME);
    CHECK_STREQ(r.reply_payload, "{\"entity\":\"team\",\"url\":\"http://127.0.0.1:1/team/p/runs/"
                                 "r1\",\"starting_step\":0,\"resumed\":false}");
    t_begin(&m);
    t_put(&m, WBI_REC_ALERT, "{\"title\":\"t\",\"text\":\"x\",\"level\":\"warn\",\"wait_ms\":5}");
    t_put(&m, WBI_REC_ALERT, "{\"text\":\"no title\"}");
    t_put(&m, WBI_REC_PREEMPTING, "");
    t_send(c, 0, &m, 600);
    CHECK_EQ(r.alerts, 1);
    CHECK_STREQ(r.alert, "t|x|WARN|5");
    CHECK_EQ(r.preempting, 1);
    s_close(&c, &r, &m);
}

// Appends a FILE_CHUNK (id, offset, bytes) or, with data NULL, a FILE_END (id, size).
static void s_file_rec(t_msg_t *m, uint32_t id, uint64_t off_or_size, const char *data)
{
    uint8_t buf[12 + 64];
    size_t n = data ? strlen(data) : 0;
    wbi_put_u32(buf, id);
    wbi_put_u64(buf + 4, off_or_size);
    memcpy(buf + 12, data ? data : "", n);
    CHECK_OK(wbi_wire_put(&m->b, data ? WBI_REC_FILE_CHUNK : WBI_REC_FILE_END, buf, 12 + n));
}

// FILE_BEGIN/CHUNK/END assemble a saved file for the sink; bad names, gaps,
// wrong sizes and an unfinished file are dropped and counted.
static void test_saved_files(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = s_open(&r, &m);
    t_begin(&m);
    t_put(&m, WBI_REC_FILE_BEGIN,
          "{\"id\":7,\"name\":\"sub/a.txt\",\"policy\":\"now\",\"size\":10}");
    s_file_rec(&m, 7, 0, "hello");
    s_file_rec(&m, 7, 5, "world");
    s_file_rec(&m, 7, 10, NULL);
    t_send(c, 0, &m, 1);
    CHECK_EQ(r.files, 1);
    CHECK_STREQ(r.file_name, "sub/a.txt");
    CHECK_EQ(r.file_len, 10);
    CHECK(memcmp(r.file_data, "helloworld", 10) == 0);
    wbi_agg_stats_t st;
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 0);
    // An empty file; then names that are not relative paths.
    t_begin(&m);
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":8,\"name\":\"empty\",\"policy\":\"end\",\"size\":0}");
    s_file_rec(&m, 8, 0, NULL);
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":9,\"name\":\"../x\",\"size\":1}");
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":9,\"name\":\"/abs\",\"size\":1}");
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":9,\"name\":\"a//b\",\"size\":1}");
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":9,\"name\":\"big\",\"size\":67108865}");
    t_send(c, 0, &m, 2);
    CHECK_EQ(r.files, 2);
    CHECK_STREQ(r.file_name, "empty");
    CHECK_EQ(r.file_len, 0);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 4);
    // A gap, a wrong end size, a chunk past the size, an id that is not open.
    t_begin(&m);
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":10,\"name\":\"g\",\"size\":4}");
    s_file_rec(&m, 10, 1, "ab"); // offset 1 instead of 0: dropped
    s_file_rec(&m, 10, 4, NULL); // nothing open any more
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":11,\"name\":\"s\",\"size\":4}");
    s_file_rec(&m, 11, 0, "abcd");
    s_file_rec(&m, 11, 5, NULL); // announced 4
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":12,\"name\":\"p\",\"size\":2}");
    s_file_rec(&m, 12, 0, "abc"); // past the size
    s_file_rec(&m, 99, 0, "x");
    t_send(c, 0, &m, 3);
    CHECK_EQ(r.files, 2);
    wbi_agg_core_get_stats(c, &st, NULL);
    CHECK_EQ(st.malformed, 9);
    // A newer file replaces an unfinished one; FINISH drops an unfinished one.
    t_begin(&m);
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":13,\"name\":\"old\",\"size\":4}");
    s_file_rec(&m, 13, 0, "ab");
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":14,\"name\":\"new\",\"size\":2}");
    s_file_rec(&m, 14, 0, "xy");
    s_file_rec(&m, 14, 2, NULL);
    t_put(&m, WBI_REC_FILE_BEGIN, "{\"id\":15,\"name\":\"never\",\"size\":2}");
    t_finish_rec(&m, 0, 0, 0);
    t_send(c, 0, &m, 4);
    CHECK_EQ(r.files, 3);
    CHECK_STREQ(r.file_name, "new");
    CHECK(memcmp(r.file_data, "xy", 2) == 0);
    CHECK_EQ(r.finished, 1);
    s_close(&c, &r, &m);
}

// HELLO's platform goes into `_wandb.t` as field 13; `_wandb.m` is always there.
static void test_config_wandb_key(void)
{
    t_rec_t r = {0};
    t_msg_t m = {0};
    wbi_agg_core_t *c = t_core(&r, NULL);
    t_begin(&m);
    t_put(&m, WBI_REC_HELLO,
          "{\"run_id\":\"r2\",\"project\":\"p\",\"platform\":\"linux-x86_64\","
          "\"config\":{\"a\":1,\"_wandb\":{\"code_path\":\"x\"}}}");
    t_send(c, 0, &m, 0);
    CHECK_STREQ(r.open_config, "{\"a\":1,\"_wandb\":{\"code_path\":\"x\",\"m\":[],"
                               "\"t\":{\"13\":\"linux-x86_64\"}}}");
    s_close(&c, &r, &m);
}

WBT_MAIN({"three_forms_identical", test_three_forms_identical},
         {"merge_replaces_keeps_order", test_merge_replaces_keeps_order},
         {"higher_step_flush_and_lower_rejected", test_higher_step_flush_and_lower_rejected},
         {"finish_flushes", test_finish_flushes}, {"history_encoding", test_history_encoding},
         {"summary", test_summary}, {"define_metric_encoding", test_define_metric_encoding},
         {"glob_and_step_sync", test_glob_and_step_sync},
         {"glob_config_batched", test_glob_config_batched},
         {"alert_preempting_welcome", test_alert_preempting_welcome},
         {"saved_files", test_saved_files}, {"config_wandb_key", test_config_wandb_key})
