//  test_server_store.c - the SQLite store of wandb-mpi-server (real file)
//  SPDX-License-Identifier: MIT

#include "testutil.h"

#include "harness/server_harness.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "store/runjson.h"
#include "store/store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

// A fresh temp directory per test, removed at the end.
typedef struct {
    char dir[256]; // the directory
    char db[300];  // dir/wandb.db
} s_tmp_t;

static void s_tmp_init(s_tmp_t *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/wbt-store-XXXXXX");
    CHECK(mkdtemp(t->dir) != NULL);
    snprintf(t->db, sizeof t->db, "%s/wandb.db", t->dir);
}

static void s_tmp_release(s_tmp_t *t)
{
    CHECK(wbt_rm_tree(t->dir) == 0);
}

static wbi_store_t *s_open(const s_tmp_t *t, bool readonly)
{
    wbi_store_t *s = NULL;
    char err[256];
    wandb_err e = wbi_store_open(&s, t->db, readonly, err, sizeof err);
    if (e != WANDB_OK)
        WBT_FAIL("open: %s", err);
    return s;
}

// Collects lines as "n:text;" into a buffer.
static int s_cat_line(void *arg, int64_t line_no, const char *text, size_t len)
{
    char *out = arg;
    size_t used = strlen(out);
    snprintf(out + used, 1024 - used, "%lld:%.*s;", (long long)line_no, (int)len, text);
    return 0;
}

// A run is created by upsert, then updated field by field; config merges.
static void test_upsert_and_read(void)
{
    s_tmp_t t;
    s_tmp_init(&t);
    wbi_store_t *s = s_open(&t, false);

    json_t *cfg = json_pack("{sfs{si}}", "lr", 0.5, "model", "depth", 4);
    wbi_run_upsert_t in = {.entity = "e",
                           .project = "p",
                           .name = "r1",
                           .group = "g",
                           .tags = "[\"a\",\"b\"]",
                           .config = cfg};
    int64_t id = 0;
    bool inserted = false;
    CHECK_OK(wbi_store_run_upsert(s, &in, 1000.0, &id, &inserted));
    CHECK(inserted);
    CHECK(id > 0);

    // Second upsert: NULL fields are kept, config keys are merged.
    json_t *cfg2 = json_pack("{ss}", "extra", "yes");
    wbi_run_upsert_t in2 = {
        .entity = "e", .project = "p", .name = "r1", .job_type = "train", .config = cfg2};
    int64_t id2 = 0;
    CHECK_OK(wbi_store_run_upsert(s, &in2, 1001.0, &id2, &inserted));
    CHECK(!inserted);
    CHECK_EQ(id2, id);

    wbi_run_t run;
    CHECK_OK(wbi_store_run_get(s, id, &run));
    CHECK_STREQ(run.group, "g");
    CHECK_STREQ(run.job_type, "train");
    CHECK_STREQ(run.state, "running");
    CHECK_STREQ(run.tags, "[\"a\",\"b\"]");
    CHECK(run.display_name == NULL);
    json_error_t jerr;
    json_t *stored = wbi_jsonx_loadb(run.config, strlen(run.config), 0, &jerr);
    CHECK(json_is_object(stored));
    CHECK_EQ(json_object_size(stored), 3);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(stored, "model"), "depth")), 4);
    CHECK_STREQ(json_string_value(json_object_get(stored, "extra")), "yes");
    json_decref(stored);
    wbi_store_run_release(&run);

    // find: by name alone, and with a wrong project.
    CHECK_OK(wbi_store_run_find(s, NULL, NULL, "r1", &run));
    CHECK_EQ(run.id, id);
    wbi_store_run_release(&run);
    CHECK_ERR(wbi_store_run_find(s, NULL, "other", "r1", &run), WANDB_ENOTFOUND);

    json_decref(cfg);
    json_decref(cfg2);
    wbi_store_destroy(&s);
    CHECK(s == NULL);
    s_tmp_release(&t);
}

// Lines are keyed by number: re-sending an offset overwrites, never appends.
static void test_lines_idempotent(void)
{
    s_tmp_t t;
    s_tmp_init(&t);
    wbi_store_t *s = s_open(&t, false);
    int64_t id = 0;
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "r", 1.0, &id));
    CHECK_OK(wbi_store_begin(s));
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, 0, "{\"a\":1}", 7));
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, 1, "{\"a\":NaN}", 9));
    CHECK_OK(wbi_store_commit(s));
    // The same (file, offset) again, as a retried request would.
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, 1, "{\"a\":NaN}", 9));
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, 2, "{\"a\":3}", 7));
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_EVENTS, 0, "{\"e\":1}", 7));

    wbi_run_t run;
    CHECK_OK(wbi_store_run_get(s, id, &run));
    CHECK_EQ(run.history_count, 3);
    CHECK_EQ(run.events_count, 1);
    CHECK_EQ(run.log_count, 0);
    wbi_store_run_release(&run);

    char out[1024] = "";
    CHECK_OK(wbi_store_lines_each(s, id, WBI_FILE_HISTORY, 0, -1, s_cat_line, out));
    CHECK_STREQ(out, "0:{\"a\":1};1:{\"a\":NaN};2:{\"a\":3};");
    out[0] = '\0';
    CHECK_OK(wbi_store_lines_each(s, id, WBI_FILE_HISTORY, 1, 1, s_cat_line, out));
    CHECK_STREQ(out, "1:{\"a\":NaN};");
    out[0] = '\0';
    CHECK_OK(wbi_store_lines_tail(s, id, WBI_FILE_HISTORY, 2, s_cat_line, out));
    CHECK_STREQ(out, "1:{\"a\":NaN};2:{\"a\":3};");

    // A rolled-back transaction leaves nothing behind.
    CHECK_OK(wbi_store_begin(s));
    CHECK_OK(wbi_store_line_put(s, id, WBI_FILE_HISTORY, 3, "{}", 2));
    wbi_store_rollback(s);
    wbi_store_rollback(s); // harmless without a transaction
    CHECK_OK(wbi_store_run_get(s, id, &run));
    CHECK_EQ(run.history_count, 3);
    wbi_store_run_release(&run);

    wbi_store_destroy(&s);
    s_tmp_release(&t);
}

// States: finished for 0, failed otherwise, crashed after silence, and a
// crashed run that speaks again is running.
static void test_states(void)
{
    s_tmp_t t;
    s_tmp_init(&t);
    wbi_store_t *s = s_open(&t, false);
    int64_t a = 0, b = 0, c = 0, d = 0;
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "a", 100.0, &a));
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "b", 100.0, &b));
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "c", 100.0, &c));
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "d", 100.0, &d));
    CHECK_OK(wbi_store_run_finish(s, a, 0, 101.0));
    CHECK_OK(wbi_store_run_finish(s, b, 3, 101.0));
    CHECK_OK(wbi_store_run_touch(s, c, 150.0));
    CHECK_OK(wbi_store_run_set_preempting(s, d));
    int changed = 0;
    CHECK_OK(wbi_store_mark_stale(s, 200.0, 60.0, &changed));
    CHECK_EQ(changed, 1); // only d: c was heard from at 150
    CHECK_OK(wbi_store_mark_stale(s, 300.0, 60.0, &changed));
    CHECK_EQ(changed, 1); // now c

    wbi_run_t run;
    const struct {
        int64_t id;        // run
        const char *state; // expected
    } want[] = {{a, "finished"}, {b, "failed"}, {c, "crashed"}, {d, "preempted"}};
    for (size_t i = 0; i < 4; i++) {
        CHECK_OK(wbi_store_run_get(s, want[i].id, &run));
        CHECK_STREQ(run.state, want[i].state);
        wbi_store_run_release(&run);
    }
    CHECK_OK(wbi_store_run_get(s, b, &run));
    CHECK(run.has_exit_code);
    CHECK_EQ(run.exit_code, 3);
    wbi_store_run_release(&run);

    CHECK_OK(wbi_store_run_touch(s, c, 301.0));
    CHECK_OK(wbi_store_run_get(s, c, &run));
    CHECK_STREQ(run.state, "running");
    wbi_store_run_release(&run);

    wbi_store_destroy(&s);
    s_tmp_release(&t);
}

static int s_count_file(void *arg, const char *name, int64_t size, bool uploaded, double at)
{
    (void)at;
    char *out = arg;
    size_t used = strlen(out);
    snprintf(out + used, 1024 - used, "%s:%lld:%d;", name, (long long)size, uploaded);
    return 0;
}

static int s_count_alert(void *arg, const char *title, const char *text, const char *severity,
                         int64_t wait_ms, double at)
{
    (void)at;
    char *out = arg;
    size_t used = strlen(out);
    snprintf(out + used, 1024 - used, "%s|%s|%s|%lld;", title, text, severity, (long long)wait_ms);
    return 0;
}

// Files keep their known size and only become uploaded; alerts and meta.
static void test_files_alerts_meta(void)
{
    s_tmp_t t;
    s_tmp_init(&t);
    wbi_store_t *s = s_open(&t, false);
    int64_t id = 0;
    CHECK_OK(wbi_store_run_ensure(s, "e", "p", "r", 1.0, &id));
    CHECK_OK(wbi_store_file_put(s, id, "config.yaml", -1, false, 1.0));
    CHECK_OK(wbi_store_file_put(s, id, "config.yaml", 12, true, 2.0));
    CHECK_OK(wbi_store_file_put(s, id, "config.yaml", -1, false, 3.0));
    CHECK_OK(wbi_store_file_put(s, id, "media/a.png", -1, false, 3.0));
    char out[1024] = "";
    CHECK_OK(wbi_store_files_each(s, id, s_count_file, out));
    CHECK_STREQ(out, "config.yaml:12:1;media/a.png:-1:0;");

    CHECK_OK(wbi_store_alert_add(s, id, "t1", "x", "WARN", 60000, 1.0));
    CHECK_OK(wbi_store_alert_add(s, id, "t2", "y", "INFO", -1, 2.0));
    out[0] = '\0';
    CHECK_OK(wbi_store_alerts_each(s, id, s_count_alert, out));
    CHECK_STREQ(out, "t1|x|WARN|60000;t2|y|INFO|-1;");

    char *v = NULL;
    CHECK_ERR(wbi_store_meta_get(s, "k", &v), WANDB_ENOTFOUND);
    CHECK_OK(wbi_store_meta_set(s, "k", "v1"));
    CHECK_OK(wbi_store_meta_set(s, "k", "v2"));
    CHECK_OK(wbi_store_meta_get(s, "k", &v));
    CHECK_STREQ(v, "v2");
    wbi_free(v);
    wbi_store_destroy(&s);
    s_tmp_release(&t);
}

static int s_count_run(void *arg, const wbi_run_t *run)
{
    char *out = arg;
    size_t used = strlen(out);
    snprintf(out + used, 1024 - used, "%s/%s;", run->project, run->name);
    return 0;
}

// Data survives a reopen; a read-only connection sees it and cannot write;
// a missing database is an error for read-only opens.
static void test_reopen_readonly(void)
{
    s_tmp_t t;
    s_tmp_init(&t);
    wbi_store_t *s = NULL;
    char err[256];
    CHECK_ERR(wbi_store_open(&s, t.db, true, err, sizeof err), WANDB_EIO);
    CHECK(s == NULL);
    CHECK(strstr(err, "wandb.db") != NULL);

    s = s_open(&t, false);
    int64_t id = 0;
    CHECK_OK(wbi_store_run_ensure(s, "e", "p1", "a", 1.0, &id));
    CHECK_OK(wbi_store_run_ensure(s, "e", "p2", "b", 2.0, &id));
    CHECK_OK(wbi_store_run_ensure(s, "e", "p1", "c", 3.0, &id));
    wbi_store_destroy(&s);

    s = s_open(&t, false); // reopen runs the migration check again
    wbi_store_t *ro = s_open(&t, true);
    char out[1024] = "";
    CHECK_OK(wbi_store_runs_each(ro, NULL, "p1", s_count_run, out));
    CHECK_STREQ(out, "p1/a;p1/c;");
    out[0] = '\0';
    CHECK_OK(wbi_store_runs_each(ro, "e", NULL, s_count_run, out));
    CHECK_STREQ(out, "p1/a;p2/b;p1/c;");
    CHECK(wbi_store_run_ensure(ro, "e", "p3", "x", 1.0, &id) != WANDB_OK);
    wbi_store_destroy(&ro);
    wbi_store_destroy(&s);
    wbi_store_destroy(&s); // NULL-safe
    s_tmp_release(&t);
}

// The read-API shape of a run.
static void test_run_json(void)
{
    wbi_run_t run = {.id = 7,
                     .entity = "e",
                     .project = "p",
                     .name = "r",
                     .state = "failed",
                     .has_exit_code = true,
                     .exit_code = 2,
                     .config = "{\"x\":NaN}",
                     .summary = "not json",
                     .tags = "[\"t\"]",
                     .history_count = 5};
    json_t *j = wbi_run_to_json(&run);
    CHECK(j != NULL);
    CHECK_STREQ(json_string_value(json_object_get(j, "id")), "r");
    CHECK_STREQ(json_string_value(json_object_get(j, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(j, "exit_code")), 2);
    CHECK_EQ(json_integer_value(json_object_get(j, "history_count")), 5);
    CHECK(json_is_object(json_object_get(j, "summary"))); // broken text -> {}
    CHECK(json_is_null(json_object_get(j, "group")));
    char *text = wbi_jsonx_dumps(json_object_get(j, "config"), JSON_COMPACT);
    CHECK_STREQ(text, "{\"x\":NaN}");
    wbi_free(text);
    json_decref(j);
}

WBT_MAIN({"upsert_and_read", test_upsert_and_read}, {"lines_idempotent", test_lines_idempotent},
         {"states", test_states}, {"files_alerts_meta", test_files_alerts_meta},
         {"reopen_readonly", test_reopen_readonly}, {"run_json", test_run_json})
