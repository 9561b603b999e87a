//  test_logger_log.c - log() semantics at the level of the records in the ring
//  SPDX-License-Identifier: MIT
//
//  Builds a run without I/O thread (wbi_run_core_new), calls the public API
//  and decodes the ring with the wire decoder, merging rows the way the
//  aggregator does (same step accumulates; COMMIT, a higher step or FINISH
//  closes the row).
#include "common/alloc.h"
#include "common/wire.h"
#include "logger/mirror.h"
#include "logger/run.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

// Clears the environment the settings read, so the host cannot leak in.
static void s_clear_env(void)
{
    const char *vars[] = {"WANDB_PROJECT",
                          "WANDB_MODE",
                          "WANDB_RUN_ID",
                          "WANDB_RING_BYTES",
                          "WANDB_RING_FULL",
                          "WANDB_RING_WAIT_MS",
                          "WANDB_ENTITY",
                          "OMPI_COMM_WORLD_RANK",
                          "OMPI_COMM_WORLD_SIZE",
                          "PMIX_RANK",
                          "PMI_RANK",
                          "PMI_SIZE",
                          "SLURM_PROCID",
                          "SLURM_NTASKS",
                          NULL};
    for (const char **v = vars; *v; v++)
        unsetenv(*v);
}

// A run with a ring of ring_bytes and the given extra setting (may be NULL).
static wandb_run_t *s_new_run(const char *ring_bytes, const char *name, const char *value)
{
    s_clear_env();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "run_id", "testrun"));
    CHECK_OK(wandb_settings_set(s, "project", "proj"));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", ring_bytes));
    if (name)
        CHECK_OK(wandb_settings_set(s, name, value));
    wbi_cfg_t cfg;
    char err[WBI_ERRMSG_BYTES];
    CHECK_OK(wbi_settings_resolve(s, &cfg, err, sizeof(err)));
    wandb_settings_destroy(&s);
    wandb_run_t *run = NULL;
    CHECK_OK(wbi_run_core_new(&run, &cfg));
    return run;
}

// Copies the unconsumed ring bytes into a message (header + records).
static uint8_t *s_snapshot(wandb_run_t *run, size_t *len)
{
    size_t avail = wbi_ring_readable(&run->ring);
    uint8_t *msg = malloc(WBI_WIRE_HEADER_BYTES + avail + 1);
    CHECK(msg != NULL);
    wbi_wire_header_put(msg, 0);
    wbi_ring_read_at(&run->ring, wbi_ring_tail(&run->ring), msg + WBI_WIRE_HEADER_BYTES, avail);
    *len = WBI_WIRE_HEADER_BYTES + avail;
    return msg;
}

// Appends text to out (bounded).
static void s_cat(char *out, size_t cap, const char *text)
{
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s", text);
}

// Decodes the ring into "step:k=v,k=v;" rows (merged as the aggregator
// does) and "|TYPE" markers for other records. Does not consume.
static void s_decode(wandb_run_t *run, char *out, size_t cap)
{
    size_t len;
    uint8_t *msg = s_snapshot(run, &len);
    wbi_wire_reader_t r;
    CHECK_OK(wbi_wire_reader_init(&r, msg, len));
    char keys[64][256] = {{0}};
    char row[4096] = "";
    int64_t row_step = -1;
    out[0] = '\0';
    wbi_wire_record_t rec;
    wandb_err err;
    while ((err = wbi_wire_next(&r, &rec)) == WANDB_OK) {
        if (rec.type == WBI_REC_KEY) {
            uint32_t id;
            const char *k;
            size_t klen;
            CHECK_OK(wbi_wire_key_parse(&rec, &id, &k, &klen));
            CHECK(id < 64);
            snprintf(keys[id], sizeof(keys[id]), "%.*s", (int)klen, k);
            continue;
        }
        if (rec.type != WBI_REC_ROW) {
            if (row_step >= 0) { // FINISH (or anything) after an open row closes it
                s_cat(out, cap, row);
                s_cat(out, cap, ";");
                row_step = -1;
            }
            char mark[32];
            snprintf(mark, sizeof(mark), "|%d", rec.type);
            s_cat(out, cap, mark);
            continue;
        }
        wbi_wire_row_t rw;
        size_t bad = 0;
        CHECK_OK(wbi_wire_row_parse(&rec, &rw, &bad));
        if (row_step >= 0 && rw.step != row_step) {
            CHECK(rw.step > row_step);
            s_cat(out, cap, row);
            s_cat(out, cap, ";");
            row_step = -1;
        }
        if (row_step < 0) {
            snprintf(row, sizeof(row), "%lld:", (long long)rw.step);
            row_step = rw.step;
        }
        const uint8_t *cur = rw.values;
        wbi_wire_value_t v;
        while (wbi_wire_row_next(&rw, &cur, &v)) {
            char item[300];
            const char *k = v.key_id < 64 ? keys[v.key_id] : "?";
            switch (v.type) {
            case WANDB_TYPE_DOUBLE:
                snprintf(item, sizeof(item), "%s=%g,", k, v.as.d);
                break;
            case WANDB_TYPE_INT:
                snprintf(item, sizeof(item), "%s=%lldi,", k, (long long)v.as.i);
                break;
            case WANDB_TYPE_BOOL:
                snprintf(item, sizeof(item), "%s=%s,", k, v.as.b ? "true" : "false");
                break;
            default:
                snprintf(item, sizeof(item), "%s='%.*s',", k,
                         (int)(v.as.s.len > 40 ? 40 : v.as.s.len), v.as.s.p);
            }
            s_cat(row, sizeof(row), item);
        }
        if (rw.flags & WBI_WIRE_ROW_COMMIT) {
            s_cat(out, cap, row);
            s_cat(out, cap, ";");
            row_step = -1;
        }
    }
    CHECK_ERR(err, WANDB_ECLOSED);
    if (row_step >= 0)
        s_cat(out, cap, row); // still open: no ';'
    free(msg);
}

// Counts the records of one type in the ring.
static int s_count_type(wandb_run_t *run, uint8_t type)
{
    size_t len;
    uint8_t *msg = s_snapshot(run, &len);
    wbi_wire_reader_t r;
    CHECK_OK(wbi_wire_reader_init(&r, msg, len));
    wbi_wire_record_t rec;
    int n = 0;
    while (wbi_wire_next(&r, &rec) == WANDB_OK)
        n += rec.type == type;
    free(msg);
    return n;
}

// The JSON payload of the last record of a type ("" when none).
static void s_last_payload(wandb_run_t *run, uint8_t type, char *out, size_t cap)
{
    size_t len;
    uint8_t *msg = s_snapshot(run, &len);
    wbi_wire_reader_t r;
    CHECK_OK(wbi_wire_reader_init(&r, msg, len));
    wbi_wire_record_t rec;
    out[0] = '\0';
    while (wbi_wire_next(&r, &rec) == WANDB_OK)
        if (rec.type == type)
            snprintf(out, cap, "%.*s", (int)rec.len, (const char *)rec.payload);
    free(msg);
}

// Normal use, and the three equivalent ways to build the same two rows.
static void test_three_forms_equal(void)
{
    char got[3][1024];
    for (int form = 0; form < 3; form++) {
        wandb_run_t *run = s_new_run("65536", NULL, NULL);
        if (form == 0) {
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 1), WANDB_DOUBLE("b", 2)));
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 3), WANDB_DOUBLE("b", 4)));
            CHECK_EQ(wandb_run_step(run), 2);
        } else if (form == 1) {
            CHECK_OK(wandb_log_partial(run, WANDB_DOUBLE("a", 1)));
            CHECK_EQ(wandb_run_step(run), 0);
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("b", 2)));
            CHECK_OK(wandb_log_partial(run, WANDB_DOUBLE("a", 3)));
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("b", 4)));
            CHECK_EQ(wandb_run_step(run), 2);
        } else {
            CHECK_OK(wandb_log_step(run, 0, WANDB_DOUBLE("a", 1)));
            CHECK_OK(wandb_log_step(run, 0, WANDB_DOUBLE("b", 2)));
            CHECK_EQ(wandb_run_step(run), 0);
            CHECK_OK(wandb_log_step(run, 1, WANDB_DOUBLE("a", 3)));
            CHECK_EQ(wandb_run_step(run), 1);
            CHECK_OK(wandb_log_step(run, 1, WANDB_DOUBLE("b", 4)));
        }
        CHECK_OK(wbi_run_put_finish(run, 0, 0));
        CHECK_EQ(wandb_run_step(run), 2);
        s_decode(run, got[form], sizeof(got[form]));
        wbi_run_core_destroy(&run);
        CHECK(run == NULL);
    }
    CHECK_STREQ(got[0], "0:a=1,b=2,;1:a=3,b=4,;|8");
    CHECK_STREQ(got[1], got[0]);
    CHECK_STREQ(got[2], got[0]);
}

// The raw record sequence of each form: one ROW per call, COMMIT as the seed says.
static void test_commit_flags(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    CHECK_OK(wandb_log_step(run, 0, WANDB_DOUBLE("a", 1)));                     // open
    CHECK_OK(wandb_log_values(run, WANDB__VALUES(WANDB_INT("b", 2)), 1, 0, 1)); // commit=true
    CHECK_EQ(wandb_run_step(run), 1);
    CHECK_OK(wandb_log_values(run, WANDB__VALUES(WANDB_INT("b", 3)), 1, 5, 0)); // step 5, open
    CHECK_EQ(wandb_run_step(run), 5);
    char out[1024];
    s_decode(run, out, sizeof(out));
    CHECK_STREQ(out, "0:a=1,b=2i,;5:b=3i,");
    CHECK_EQ(s_count_type(run, WBI_REC_ROW), 3);
    CHECK_EQ(s_count_type(run, WBI_REC_KEY), 2); // each key once
    // n == 0 with commit closes the open row with an empty COMMIT ROW.
    CHECK_OK(wandb_log_values(run, NULL, 0, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO));
    CHECK_EQ(wandb_run_step(run), 6);
    CHECK_EQ(s_count_type(run, WBI_REC_ROW), 4);
    s_decode(run, out, sizeof(out));
    CHECK_STREQ(out, "0:a=1,b=2i,;5:b=3i,;");
    // n == 0 without an open row writes nothing.
    CHECK_OK(wandb_log_values(run, NULL, 0, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO));
    CHECK_EQ(s_count_type(run, WBI_REC_ROW), 4);
    CHECK_EQ(wandb_run_step(run), 6);
    wbi_run_core_destroy(&run);
}

// A lower step rejects the whole call, counts it and stores nothing.
static void test_lower_step_rejected(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    CHECK_OK(wandb_log_step(run, 5, WANDB_DOUBLE("x", 1)));
    size_t before = wbi_ring_readable(&run->ring);
    CHECK_ERR(wandb_log_step(run, 3, WANDB_DOUBLE("x", 2), WANDB_DOUBLE("newkey", 1)), WANDB_ESTEP);
    CHECK_ERR(wandb_log_step(run, 4, WANDB_DOUBLE("x", 2)), WANDB_ESTEP);
    CHECK_EQ(wandb_run_rejected_steps(run), 2);
    CHECK_EQ(wbi_ring_readable(&run->ring), before);
    CHECK_EQ(run->keys.count, 1);                           // "newkey" was not interned
    CHECK_OK(wandb_log_step(run, 5, WANDB_DOUBLE("y", 1))); // same step is fine
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("z", 1)));         // auto step commits step 5
    CHECK_EQ(wandb_run_step(run), 6);
    CHECK_ERR(wandb_log_step(run, 5, WANDB_DOUBLE("x", 2)), WANDB_ESTEP);
    CHECK_EQ(wandb_run_rejected_steps(run), 3);
    char out[1024];
    s_decode(run, out, sizeof(out));
    CHECK_STREQ(out, "5:x=1,y=1,z=1,;");
    wbi_run_core_destroy(&run);
}

// Bad keys and oversized or invalid values: clear error, nothing stored.
static void test_bad_input_stores_nothing(void)
{
    wandb_run_t *run = s_new_run("4194304", NULL, NULL);
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("ok", 1)));
    size_t before = wbi_ring_readable(&run->ring);
    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("fresh", 1), WANDB_DOUBLE("", 2)), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("fresh", 1), WANDB_DOUBLE("\xc3\x28", 2)), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("fresh", 1), WANDB_DOUBLE(longkey, 2)), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("fresh", 1), WANDB_DOUBLE(NULL, 2)), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_STRING("s", "\xff")), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_STRING("s", NULL)), WANDB_EINVAL);
    CHECK_ERR(wandb_log(run, WANDB_JSON("j", "{\"a\": ")), WANDB_EINVAL);
    wandb_value_t bad_type = {.key = "t", .type = (wandb_type)9};
    CHECK_ERR(wandb_log_values(run, &bad_type, 1, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO),
              WANDB_EINVAL);
    size_t big = 2u << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = '\0';
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("fresh", 1), WANDB_STRING("big", huge)), WANDB_ETOOBIG);
    huge[WBI_WIRE_VALUE_MAX] = '\0'; // exactly 1 MiB is allowed
    CHECK_OK(wandb_log(run, WANDB_STRING("big", huge)));
    free(huge);
    CHECK(wbi_ring_readable(&run->ring) > before + WBI_WIRE_VALUE_MAX);
    CHECK_EQ(run->keys.count, 2); // "ok", "big": the failed calls interned nothing
    CHECK_EQ(wandb_run_step(run), 2);
    CHECK_ERR(wandb_log_values(NULL, NULL, 0, -1, -1), WANDB_EINVAL);
    wbi_run_core_destroy(&run);
}

// Keys are matched by their bytes: a reused buffer with new text is a new key.
static void test_reused_key_buffer(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    char key[32];
    snprintf(key, sizeof(key), "k1");
    CHECK_OK(wandb_log(run, WANDB_DOUBLE(key, 1)));
    snprintf(key, sizeof(key), "k2");
    CHECK_OK(wandb_log(run, WANDB_DOUBLE(key, 2)));
    snprintf(key, sizeof(key), "k1x");
    CHECK_OK(wandb_log(run, WANDB_DOUBLE(key, 3)));
    snprintf(key, sizeof(key), "k1");
    CHECK_OK(wandb_log(run, WANDB_DOUBLE(key, 4)));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("k2", 5))); // other pointer, same bytes
    char out[1024];
    s_decode(run, out, sizeof(out));
    CHECK_STREQ(out, "0:k1=1,;1:k2=2,;2:k1x=3,;3:k1=4,;4:k2=5,;");
    CHECK_EQ(run->keys.count, 3);
    CHECK_EQ(s_count_type(run, WBI_REC_KEY), 3);
    wbi_run_core_destroy(&run);
}

// Every value type reaches the ring intact; NaN and infinities are kept.
static void test_value_types(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("d", 0.5), WANDB_INT("i", -7), WANDB_BOOL("b", true),
                       WANDB_STRING("s", "h\xc3\xa9"), WANDB_JSON("j", "[1,2]"),
                       WANDB_DOUBLE("nan", NAN), WANDB_DOUBLE("inf", -INFINITY)));
    char out[1024];
    s_decode(run, out, sizeof(out));
    CHECK_STREQ(out, "0:d=0.5,i=-7i,b=true,s='h\xc3\xa9',j='[1,2]',nan=nan,inf=-inf,;");
    wbi_run_core_destroy(&run);
}

// Drop policy: a full ring refuses whole calls and counts their values exactly.
static void test_full_ring_drop_counts(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    int ok = 0, full = 0;
    for (int i = 0; i < 2000; i++) {
        wandb_err err = wandb_log(run, WANDB_DOUBLE("a", i), WANDB_DOUBLE("b", i),
                                  WANDB_DOUBLE("c", i), WANDB_DOUBLE("d", i), WANDB_DOUBLE("e", i),
                                  WANDB_DOUBLE("f", i), WANDB_DOUBLE("g", i), WANDB_DOUBLE("h", i),
                                  WANDB_DOUBLE("i", i), WANDB_DOUBLE("j", i));
        CHECK(err == WANDB_OK || err == WANDB_EFULL);
        if (err == WANDB_OK) {
            CHECK_EQ(full, 0); // once full, stays full (nothing consumes)
            ok++;
        } else {
            full++;
        }
    }
    // 10 KEY records (5+4+1 bytes) and 144-byte rows in 65536 bytes.
    CHECK_EQ(ok, (65536 - 100) / 144);
    CHECK_EQ(full, 2000 - ok);
    CHECK_EQ(wandb_run_dropped(run), (uint64_t)full * 10);
    CHECK_EQ(wandb_run_step(run), 2000); // dropped calls keep their step (#10)
    CHECK(wbi_ring_readable(&run->ring) <= run->ring.cap);
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 1)));
    // A dropped call with a new key does not intern it.
    wbi_ring_t *ring = &run->ring;
    while (wandb_log(run, WANDB_DOUBLE("a", 1)) == WANDB_OK)
        ;
    uint32_t keys = run->keys.count;
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("brand_new", 1)), WANDB_EFULL);
    CHECK_EQ(run->keys.count, keys);
    (void)ring;
    // FINISH reports the counters.
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    CHECK_OK(wbi_run_put_finish(run, 3, 0));
    size_t len;
    uint8_t *msg = s_snapshot(run, &len);
    wbi_wire_reader_t r;
    CHECK_OK(wbi_wire_reader_init(&r, msg, len));
    wbi_wire_record_t rec;
    CHECK_OK(wbi_wire_next(&r, &rec));
    CHECK_EQ(rec.type, WBI_REC_FINISH);
    int32_t code;
    uint64_t dropped, rejected;
    CHECK_OK(wbi_wire_finish_parse(&rec, &code, &dropped, &rejected));
    CHECK_EQ(code, 3);
    CHECK_EQ(dropped, wandb_run_dropped(run));
    CHECK_EQ(rejected, 0);
    free(msg);
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("a", 1)), WANDB_ECLOSED);
    wbi_run_core_destroy(&run);
}

// Wait policy: a full ring waits about ring_wait_ms, then drops and counts.
static void test_full_ring_wait(void)
{
    wandb_run_t *run = s_new_run("65536", "ring_full", "wait");
    run->cfg.ring_wait_ms = 30;
    while (wandb_log(run, WANDB_DOUBLE("a", 1)) == WANDB_OK)
        ;
    CHECK_EQ(wandb_run_dropped(run), 1);
    int64_t t0 = wbi_now_ms();
    CHECK_ERR(wandb_log(run, WANDB_DOUBLE("a", 1), WANDB_DOUBLE("b", 1)), WANDB_EFULL);
    int64_t waited = wbi_now_ms() - t0;
    CHECK(waited >= 25 && waited < 1000);
    CHECK_EQ(wandb_run_dropped(run), 3);
    wbi_run_core_destroy(&run);
}

// The scalar path allocates nothing once its keys are interned (and even
// for new keys: the table is preallocated).
static void test_zero_allocations(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    uint64_t before = wbi_alloc_count();
    for (int i = 0; i < 20000; i++) {
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", i), WANDB_DOUBLE("acc", i),
                           WANDB_INT("epoch", i), WANDB_BOOL("flag", i & 1),
                           WANDB_DOUBLE("lr", 0.1), WANDB_DOUBLE("m/1", i), WANDB_DOUBLE("m/2", i),
                           WANDB_DOUBLE("m/3", i), WANDB_DOUBLE("m/4", i),
                           WANDB_STRING("phase", "train")));
        wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    }
    CHECK_EQ(wbi_alloc_count(), before);
    wbi_run_core_destroy(&run);
}

// Config, summary, define_metric, alert and preempting records and their checks.
static void test_control_records(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    char out[2048];
    CHECK_OK(wandb_config_update(run, WANDB_DOUBLE("lr", 0.01), WANDB_JSON("opt", "{\"b\":[1,2]}"),
                                 WANDB_STRING("name", "x")));
    s_last_payload(run, WBI_REC_CONFIG, out, sizeof(out));
    CHECK_STREQ(out, "{\"lr\":0.01,\"opt\":{\"b\":[1,2]},\"name\":\"x\"}");
    CHECK_OK(wandb_config_json(run, "{\"a\": {\"b\": NaN}}"));
    s_last_payload(run, WBI_REC_CONFIG, out, sizeof(out));
    CHECK_STREQ(out, "{\"a\":{\"b\":NaN}}");
    CHECK_ERR(wandb_config_json(run, "[1]"), WANDB_EINVAL);
    CHECK_ERR(wandb_config_update(run, WANDB_DOUBLE("", 1)), WANDB_EINVAL);
    CHECK_OK(wandb_summary_update(run, WANDB_DOUBLE("best", INFINITY), WANDB_INT("n", 3)));
    s_last_payload(run, WBI_REC_SUMMARY, out, sizeof(out));
    CHECK_STREQ(out, "{\"best\":Infinity,\"n\":3}");
    CHECK_OK(wandb_define_metric(run, "val/*", "epoch", "min,max", "minimize", 0));
    s_last_payload(run, WBI_REC_DEFINE_METRIC, out, sizeof(out));
    CHECK_STREQ(out, "{\"name\":\"val/*\",\"step_metric\":\"epoch\",\"step_sync\":true,"
                     "\"hidden\":false,\"summary\":\"min,max\",\"goal\":\"minimize\","
                     "\"overwrite\":false}");
    CHECK_OK(wandb_define_metric(run, "h", NULL, NULL, NULL, WANDB_METRIC_HIDDEN));
    s_last_payload(run, WBI_REC_DEFINE_METRIC, out, sizeof(out));
    CHECK_STREQ(out, "{\"name\":\"h\",\"step_metric\":null,\"step_sync\":false,"
                     "\"hidden\":true,\"summary\":null,\"goal\":null,\"overwrite\":false}");
    CHECK_ERR(wandb_define_metric(run, "x", NULL, "min,avg", NULL, 0), WANDB_EINVAL);
    CHECK_ERR(wandb_define_metric(run, "x", NULL, NULL, "up", 0), WANDB_EINVAL);
    CHECK_ERR(wandb_define_metric(run, "", NULL, NULL, NULL, 0), WANDB_EINVAL);
    CHECK_OK(wandb_alert(run, "loss exploded", "loss is NaN at step 3", "ERROR", -1));
    s_last_payload(run, WBI_REC_ALERT, out, sizeof(out));
    CHECK_STREQ(out, "{\"title\":\"loss exploded\",\"text\":\"loss is NaN at step 3\","
                     "\"level\":\"ERROR\",\"wait_ms\":60000}");
    char title[80];
    memset(title, 't', 64);
    title[64] = '\0';
    CHECK_ERR(wandb_alert(run, title, "x", NULL, 0), WANDB_EINVAL);
    title[63] = '\0';
    CHECK_OK(wandb_alert(run, title, "x", NULL, 0));
    CHECK_ERR(wandb_alert(run, "t", "x", "FATAL", 0), WANDB_EINVAL);
    CHECK_OK(wandb_mark_preempting(run));
    CHECK_EQ(s_count_type(run, WBI_REC_PREEMPTING), 1);
    CHECK_EQ(s_count_type(run, WBI_REC_ALERT), 2);
    wbi_run_core_destroy(&run);
}

// Monotonic nanoseconds.
static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    wandb_run_t *run;
    atomic_bool started; // the waiter is about to call
    wandb_err err;       // what its wbi_run_put_record returned
} s_waiter_t;

// Writes a 1 KiB control record, waiting up to 5 s for room.
static void *s_waiter(void *arg)
{
    s_waiter_t *w = arg;
    char payload[1024];
    memset(payload, 'x', sizeof payload);
    atomic_store(&w->started, true);
    w->err = wbi_run_put_record(w->run, WBI_REC_CONFIG, payload, sizeof payload, 5000);
    return NULL;
}

// A thread waiting for ring room does not hold the run mutex: meanwhile
// wandb_log on another thread returns at once (WANDB_EFULL, counted), and the
// waiter's record goes in as soon as the consumer frees room.
static void test_wait_outside_mutex(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    while (wandb_log(run, WANDB_DOUBLE("a", 1)) == WANDB_OK)
        ;
    uint64_t dropped = wandb_run_dropped(run);
    s_waiter_t w = {.run = run};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, s_waiter, &w), 0);
    while (!atomic_load(&w.started))
        sched_yield();
    struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL); // the waiter is now in its wait
    int64_t worst = 0;
    for (int i = 0; i < 50; i++) {
        int64_t t0 = s_now_ns();
        CHECK_ERR(wandb_log(run, WANDB_DOUBLE("a", 1)), WANDB_EFULL);
        int64_t took = s_now_ns() - t0;
        worst = took > worst ? took : worst;
        struct timespec gap = {0, 1000000};
        nanosleep(&gap, NULL);
    }
    fprintf(stderr, "log while another thread waits for room: worst %.3f ms\n", worst / 1e6);
    CHECK(worst < 100 * 1000000LL); // a wait under the mutex would block for seconds
    CHECK_EQ(wandb_run_dropped(run), dropped + 50);
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    pthread_join(th, NULL);
    CHECK_OK(w.err);
    CHECK_EQ(s_count_type(run, WBI_REC_CONFIG), 1);
    wbi_run_core_destroy(&run);
}

// A bulk record (a file chunk) goes in only while the ring is at most half
// full, so the other half stays free for rows; control records still fit.
static void test_bulk_record_half_ring(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    static uint8_t chunk[1000];
    CHECK_OK(wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, chunk, sizeof chunk, 0));
    while (wbi_ring_readable(&run->ring) <= run->ring.cap / 2)
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 1)));
    CHECK_ERR(wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, chunk, sizeof chunk, 0),
              WANDB_EFULL);
    int64_t t0 = wbi_now_ms();
    CHECK_ERR(wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, chunk, sizeof chunk, 30),
              WANDB_EFULL);
    CHECK(wbi_now_ms() - t0 >= 25);
    CHECK_OK(wbi_run_put_record(run, WBI_REC_FILE_CHUNK, chunk, sizeof chunk, 0));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 1)));
    CHECK_EQ(s_count_type(run, WBI_REC_FILE_CHUNK), 2);
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    CHECK_OK(wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, chunk, sizeof chunk, 0));
    CHECK_ERR(wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, NULL, run->ring.cap / 2, 0),
              WANDB_ETOOBIG);
    wbi_run_core_destroy(&run);
}

// Disabled mode: every call succeeds and does nothing.
static void test_disabled_is_noop(void)
{
    wandb_run_t *run = s_new_run("65536", "mode", "disabled");
    CHECK(run->disabled);
    CHECK(run->ring.data == NULL);
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("a", 1)));
    CHECK_OK(wandb_log_step(run, 0, WANDB_DOUBLE("", 1)));
    CHECK_OK(wandb_config_update(run, WANDB_DOUBLE("a", 1)));
    CHECK_OK(wandb_summary_update(run, WANDB_DOUBLE("a", 1)));
    CHECK_OK(wandb_alert(run, "t", "x", NULL, 0));
    CHECK_STREQ(wandb_run_id(run), "testrun");
    CHECK_STREQ(wandb_run_project(run), "proj");
    wbi_run_core_destroy(&run);
}

// Getters: path from the settings, then path and url from WELCOME (once);
// no url while the entity is unknown (never one with an empty segment).
static void test_getters_and_welcome(void)
{
    wandb_run_t *run = s_new_run("65536", "base_url", "http://127.0.0.1:9/");
    CHECK_STREQ(wandb_run_path(run), "/proj/testrun");
    CHECK_STREQ(wandb_run_url(run), "");
    CHECK_STREQ(wandb_run_entity(run), "");
    CHECK_STREQ(wandb_run_group(run), "");
    wbi_run_apply_welcome(run, "alice", NULL);
    CHECK_STREQ(wandb_run_entity(run), "alice");
    CHECK_STREQ(wandb_run_path(run), "alice/proj/testrun");
    CHECK_STREQ(wandb_run_url(run), "http://127.0.0.1:9/alice/proj/runs/testrun");
    wbi_run_apply_welcome(run, "bob", "http://x");
    CHECK_STREQ(wandb_run_entity(run), "alice");
    CHECK(wandb_run_start_time(run) > 1.7e9);
    CHECK(wandb_run_id(NULL) == NULL);
    CHECK_EQ(wandb_run_step(NULL), 0);
    wbi_run_core_destroy(&run);
}

// App URLs as the official client derives them from base_url (or app_url),
// percent-encoded parts, no URL with an empty segment.
static void test_app_urls(void)
{
    static const char *const cases[][3] = {
        {"base_url", "https://api.wandb.ai", "https://wandb.ai/my%20team/proj/runs/testrun"},
        {"base_url", "https://api.example.com/",
         "https://app.example.com/my%20team/proj/runs/testrun"},
        {"base_url", "http://127.0.0.1:8080", "http://127.0.0.1:8080/my%20team/proj/runs/testrun"},
        {"app_url", "https://ui.example.org/",
         "https://ui.example.org/my%20team/proj/runs/testrun"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wandb_run_t *run = s_new_run("65536", cases[i][0], cases[i][1]);
        CHECK_STREQ(wandb_run_url(run), "");
        CHECK(wandb_run_get_url(run) == NULL);
        CHECK(wandb_run_to_html(run, 0, false) == NULL);
        wbi_run_apply_welcome(run, "my team", NULL);
        CHECK_STREQ(wandb_run_url(run), cases[i][2]);
        CHECK(wandb_run_get_sweep_url(run) == NULL); // no sweep
        wbi_run_core_destroy(&run);
    }
    wandb_run_t *run = s_new_run("65536", "mode", "disabled");
    CHECK_OK(wandb_run_set_name(run, "kept"));
    CHECK_STREQ(wandb_run_name(run), "kept");
    CHECK_STREQ(wandb_run_mode(run), "disabled");
    char *s = wandb_run_summary_json(run);
    CHECK_STREQ(s, "{}");
    wandb_free(s);
    wbi_run_core_destroy(&run);
}

// The mirror learns every value type from the records sent, and an
// explicit summary value lasts until its key is logged again.
static void test_mirror_summary(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("d", 1.5), WANDB_INT("i", -3), WANDB_BOOL("b", true),
                       WANDB_STRING("s", "h\xc3\xa9"), WANDB_JSON("j", "{\"a\":[1,2]}")));
    CHECK_OK(wandb_summary_update(run, WANDB_INT("i", 7), WANDB_INT("only", 1)));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("d", 2.5)));
    size_t len = 0;
    uint8_t *msg = s_snapshot(run, &len);
    wbi_mirror_message(run->mirror, msg, len);
    free(msg);
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    char *text = wandb_run_summary_json(run);
    CHECK(text != NULL);
    json_error_t jerr;
    json_t *sum = json_loads(text, 0, &jerr);
    wandb_free(text);
    CHECK(json_real_value(json_object_get(sum, "d")) == 2.5);
    CHECK_EQ(json_integer_value(json_object_get(sum, "i")), 7); // explicit, not logged since
    CHECK(json_is_true(json_object_get(sum, "b")));
    CHECK_STREQ(json_string_value(json_object_get(sum, "s")), "h\xc3\xa9");
    CHECK_EQ(json_integer_value(json_array_get(json_object_get(json_object_get(sum, "j"), "a"), 1)),
             2);
    CHECK_EQ(json_integer_value(json_object_get(sum, "only")), 1);
    CHECK_EQ(json_integer_value(json_object_get(sum, "_step")), 1);
    json_decref(sum);
    wandb_run_status_t st;
    CHECK_OK(wandb_run_status(run, &st));
    CHECK_EQ_U64(st.rows_logged, 2);
    CHECK_EQ_U64(st.rows_sent, 2);
    CHECK_EQ_U64(st.bytes_pending, 0);
    wbi_run_core_destroy(&run);
}

// Orders doubles (for the median).
static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Cost of a 10-scalar call with string keys: the median over batches of
// 100 calls (robust against other processes on the machine). Printed; the
// bound is loose so that sanitizer builds pass.
static void test_hot_path_cost(void)
{
    wandb_run_t *run = s_new_run("4194304", NULL, NULL);
    enum { BATCHES = 3000, PER = 100 };
    static double ns[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < PER; i++)
            wandb_log(run, WANDB_DOUBLE("train/loss", i), WANDB_DOUBLE("train/acc", i),
                      WANDB_DOUBLE("train/lr", i), WANDB_DOUBLE("grad_norm", i),
                      WANDB_DOUBLE("tokens", i), WANDB_DOUBLE("m1", i), WANDB_DOUBLE("m2", i),
                      WANDB_DOUBLE("m3", i), WANDB_DOUBLE("m4", i), WANDB_DOUBLE("m5", i));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ns[b] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / PER;
        wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    }
    qsort(ns, BATCHES, sizeof(ns[0]), s_cmp_double);
    fprintf(stderr, "hot path, 10 scalars, string keys: p50 %.0f ns, p90 %.0f ns a call\n",
            ns[BATCHES / 2], ns[BATCHES * 9 / 10]);
    CHECK_EQ(wandb_run_dropped(run), 0);
    CHECK_EQ(wandb_run_step(run), BATCHES * PER);
    CHECK(ns[BATCHES / 2] < 20000);
    wbi_run_core_destroy(&run);
}

// A full ring: a dropped log call keeps its step (partial, commit and
// explicit-step forms alike) and a dropped summary or config update counts
// its values in wandb_run_dropped (#10).
static void test_full_ring_keeps_steps(void)
{
    wandb_run_t *run = s_new_run("65536", NULL, NULL);
    static char big[4096];
    memset(big, 'z', sizeof big - 1);
    while (wandb_log(run, WANDB_STRING("s", big)) == WANDB_OK)
        ;
    int64_t step = wandb_run_step(run);
    uint64_t dropped = wandb_run_dropped(run);
    CHECK_ERR(wandb_log(run, WANDB_STRING("s", big)), WANDB_EFULL);
    CHECK_EQ(wandb_run_step(run), step + 1);
    CHECK_ERR(wandb_log_partial(run, WANDB_STRING("s", big)), WANDB_EFULL);
    CHECK_EQ(wandb_run_step(run), step + 1);
    CHECK_ERR(wandb_log(run, WANDB_STRING("s", big)), WANDB_EFULL);
    CHECK_EQ(wandb_run_step(run), step + 2);
    CHECK_ERR(wandb_log_step(run, step + 10, WANDB_STRING("s", big)), WANDB_EFULL);
    CHECK_EQ(wandb_run_step(run), step + 10); // explicit step: accumulates, not committed
    CHECK_EQ_U64(wandb_run_dropped(run), dropped + 4);
    CHECK_ERR(wandb_summary_update(run, WANDB_STRING("a", big), WANDB_STRING("b", big)),
              WANDB_EFULL);
    CHECK_EQ_U64(wandb_run_dropped(run), dropped + 6);
    CHECK_ERR(wandb_config_update(run, WANDB_STRING("c", big)), WANDB_EFULL);
    CHECK_EQ_U64(wandb_run_dropped(run), dropped + 7);
    // Room again: the next row is written at the step the loop is at.
    wbi_ring_consume(&run->ring, wbi_ring_readable(&run->ring));
    CHECK_OK(wandb_log(run, WANDB_INT("x", 1)));
    CHECK_EQ(wandb_run_step(run), step + 11);
    wbi_run_core_destroy(&run);
}

WBT_MAIN({"three_forms_equal", test_three_forms_equal}, {"commit_flags", test_commit_flags},
         {"lower_step_rejected", test_lower_step_rejected},
         {"bad_input_stores_nothing", test_bad_input_stores_nothing},
         {"reused_key_buffer", test_reused_key_buffer}, {"value_types", test_value_types},
         {"full_ring_drop_counts", test_full_ring_drop_counts},
         {"full_ring_keeps_steps", test_full_ring_keeps_steps},
         {"full_ring_wait", test_full_ring_wait}, {"zero_allocations", test_zero_allocations},
         {"control_records", test_control_records}, {"disabled_is_noop", test_disabled_is_noop},
         {"getters_and_welcome", test_getters_and_welcome}, {"app_urls", test_app_urls},
         {"mirror_summary", test_mirror_summary}, {"hot_path_cost", test_hot_path_cost},
         {"wait_outside_mutex", test_wait_outside_mutex},
         {"bulk_record_half_ring", test_bulk_record_half_ring})
