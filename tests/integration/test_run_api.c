//  test_run_api.c - the seed's Run API (issue #10) against the real server
//  SPDX-License-Identifier: MIT
//
//  Runs the public API with the in-process aggregator into a
//  wandb-mpi-server on an ephemeral port and reads back what was stored:
//  bad arguments are refused with an error and lose nothing else, a full
//  ring keeps the loop's step numbering, URLs and properties, setters that
//  reach the server, stale pointers after finish, finish at exit.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_PROJECT "runapi"

static wbt_server_t s_srv; // the server of every test

// Settings for a run into the test server (no aggregator endpoint).
static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", S_PROJECT));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    return s;
}

// The run object of /api/v1/runs (a new reference), or fails.
static json_t *s_run_json(const char *id)
{
    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=" S_PROJECT);
    size_t i;
    json_t *r, *found = NULL;
    json_array_foreach(json_object_get(list, "runs"), i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strcmp(n, id) == 0)
            found = json_incref(r);
    }
    json_decref(list);
    if (!found)
        WBT_FAIL("run '%s' not listed", id);
    return found;
}

// The stored history rows of run id (a new reference).
static json_t *s_history(const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=" S_PROJECT, id);
    json_t *hist = wbt_http_get(&s_srv, path);
    json_t *rows = json_incref(json_object_get(hist, "rows"));
    json_decref(hist);
    if (!json_is_array(rows))
        WBT_FAIL("no history rows for '%s'", id);
    return rows;
}

static int64_t s_int(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

// A negative step other than WANDB_STEP_AUTO and a commit other than
// -1/0/1 are refused; the rows around them keep steps 0..3.
static void test_bad_step_and_commit(void)
{
    wandb_settings_t *s = s_settings("ra-steps");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_INT("x", 0)));
    CHECK_ERR(wandb_log_step(run, -2, WANDB_INT("x", 100)), WANDB_EINVAL);
    CHECK_ERR(wandb_log_step(run, INT64_MIN, WANDB_INT("x", 100)), WANDB_EINVAL);
    const wandb_value_t v = WANDB_INT("x", 200);
    CHECK_ERR(wandb_log_values(run, &v, 1, WANDB_STEP_AUTO, 2), WANDB_EINVAL);
    CHECK_ERR(wandb_log_values(run, &v, 1, WANDB_STEP_AUTO, -5), WANDB_EINVAL);
    CHECK_EQ(wandb_run_step(run), 1);
    CHECK_OK(wandb_log(run, WANDB_INT("x", 1)));
    const wandb_value_t v2 = WANDB_INT("x", 2);
    CHECK_OK(wandb_log_values(run, &v2, 1, 2, WANDB_COMMIT_TRUE));
    CHECK_OK(wandb_log(run, WANDB_INT("x", 3)));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-steps");
    CHECK_EQ(json_array_size(rows), 4);
    for (size_t k = 0; k < json_array_size(rows); k++) {
        CHECK_EQ(s_int(json_array_get(rows, k), "_step"), (int64_t)k);
        CHECK_EQ(s_int(json_array_get(rows, k), "x"), (int64_t)k);
    }
    json_decref(rows);
}

// Values under the keys the library writes itself are refused (the whole
// call, with an error), in log and in summary; other calls go through.
static void test_reserved_keys(void)
{
    wandb_settings_t *s = s_settings("ra-reserved");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    const char *reserved[] = {"_step", "_runtime", "_timestamp", "_wandb"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_ERR(wandb_log(run, WANDB_INT("x", 9), WANDB_INT(reserved[i], 5)), WANDB_EINVAL);
        CHECK_ERR(wandb_summary_update(run, WANDB_INT(reserved[i], 5)), WANDB_EINVAL);
    }
    CHECK_EQ(wandb_run_step(run), 0);
    CHECK_OK(wandb_log(run, WANDB_INT("x", 2), WANDB_INT("_step_like", 7)));
    CHECK_OK(wandb_summary_update(run, WANDB_INT("best", 1)));
    CHECK_OK(wandb_config_update(run, WANDB_INT("_private", 1))); // config keys are free
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-reserved");
    CHECK_EQ(json_array_size(rows), 1);
    CHECK_EQ(s_int(json_array_get(rows, 0), "_step"), 0);
    CHECK_EQ(s_int(json_array_get(rows, 0), "x"), 2);
    CHECK_EQ(s_int(json_array_get(rows, 0), "_step_like"), 7);
    json_decref(rows);
    json_t *r = s_run_json("ra-reserved");
    json_t *sum = json_object_get(r, "summary");
    CHECK_EQ(s_int(sum, "best"), 1);
    CHECK_EQ(s_int(sum, "_step"), 0);
    json_decref(r);
}

// A 64 KiB ring and 8 KiB rows logged in a tight loop: calls are dropped,
// and every row that was kept is stored at the step of its loop iteration.
static void test_drop_keeps_step(void)
{
    wandb_settings_t *s = s_settings("ra-drop");
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "65536"));
    CHECK_OK(wandb_settings_set(s, "ring_full", "drop"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    static char big[8192];
    memset(big, 'b', sizeof big - 1);
    int64_t ok = 0, full = 0, k = 0;
    for (; k < 200000 && (full < 50 || k < 2000); k++) {
        wandb_err err = wandb_log(run, WANDB_INT("i", k), WANDB_STRING("s", big));
        CHECK(err == WANDB_OK || err == WANDB_EFULL);
        err == WANDB_OK ? ok++ : full++;
    }
    fprintf(stderr, "drop_keeps_step: %lld calls, %lld kept, %lld dropped\n", (long long)k,
            (long long)ok, (long long)full);
    CHECK(full > 0);
    CHECK_EQ(wandb_run_step(run), k);
    CHECK_EQ_U64(wandb_run_dropped(run), (uint64_t)full * 2);
    CHECK_OK(wandb_log(run, WANDB_INT("i", k)));
    ok++;
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-drop");
    CHECK_EQ(json_array_size(rows), ok);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (s_int(row, "_step") != s_int(row, "i"))
            WBT_FAIL("row %zu: _step %lld for loop iteration %lld", i,
                     (long long)s_int(row, "_step"), (long long)s_int(row, "i"));
    }
    CHECK_EQ(s_int(json_array_get(rows, json_array_size(rows) - 1), "_step"), k);
    json_decref(rows);
}

// Alert levels in any case; "WARNING" and a 64-character title are refused.
static void test_alert_levels(void)
{
    wandb_settings_t *s = s_settings("ra-alert");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_alert(run, "low lr", "t1", "warn", 0));
    CHECK_OK(wandb_alert(run, "diverged", "t2", "Error", 0));
    CHECK_OK(wandb_alert(run, "note", "t3", "info", 0));
    CHECK_ERR(wandb_alert(run, "x", "t", "WARNING", 0), WANDB_EINVAL);
    char title[80];
    memset(title, 'a', 64);
    title[64] = '\0';
    CHECK_ERR(wandb_alert(run, title, "t", NULL, 0), WANDB_EINVAL);
    title[63] = '\0';
    CHECK_OK(wandb_alert(run, title, "t4", NULL, 0));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *al = wbt_http_get(&s_srv, "/api/v1/runs/ra-alert/alerts?project=" S_PROJECT);
    json_t *items = json_object_get(al, "alerts");
    CHECK_EQ(json_array_size(items), 4);
    const char *want[][2] = {{"low lr", "WARN"}, {"diverged", "ERROR"}, {"note", "INFO"}};
    for (size_t w = 0; w < 3; w++) {
        bool seen = false;
        size_t i;
        json_t *a;
        json_array_foreach(items, i, a)
        {
            const char *t = json_string_value(json_object_get(a, "title"));
            const char *sev = json_string_value(json_object_get(a, "severity"));
            seen |= t && sev && strcmp(t, want[w][0]) == 0 && strcmp(sev, want[w][1]) == 0;
        }
        if (!seen)
            WBT_FAIL("alert '%s' with severity %s not stored", want[w][0], want[w][1]);
    }
    json_decref(al);
}

static char s_last_msg[1024]; // the last message the capturing logger saw

static void s_capture(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    snprintf(s_last_msg, sizeof s_last_msg, "%s", msg);
}

// A key with invalid bytes is named in the warning with those bytes escaped.
static void test_escaped_warning(void)
{
    wandb_settings_t *s = s_settings("ra-escape");
    wandb_set_logger(s_capture, NULL);
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    s_last_msg[0] = '\0';
    CHECK_ERR(wandb_log(run, WANDB_INT("bad\xC3(\x1b[2J", 1)), WANDB_EINVAL);
    CHECK(strstr(s_last_msg, "bad\\xC3(\\x1B[2J") != NULL);
    for (const char *p = s_last_msg; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_set_logger(NULL, NULL);
    wandb_settings_destroy(&s);
}

// URLs, properties, the settings view, setters that reach the server.
static void test_properties_and_setters(void)
{
    wandb_settings_t *s = s_settings("ra-props");
    CHECK_OK(wandb_settings_set(s, "notes", "first notes"));
    CHECK_OK(wandb_settings_set(s, "tags", "x,y"));
    CHECK_OK(wandb_settings_set(s, "sweep_id", "sw1"));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "65536"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_STREQ(wandb_run_notes(run), "first notes");
    CHECK_STREQ(wandb_run_tags(run), "x,y");
    CHECK_STREQ(wandb_run_mode(run), "online");
    CHECK_STREQ(wandb_run_sweep_id(run), "sw1");
    CHECK_STREQ(wandb_run_project_name(run), S_PROJECT);
    CHECK(!wandb_run_resumed(run));
    // The in-process aggregator's journal directory, under the dir setting.
    CHECK(wandb_run_dir(run)[0] == '/' && strstr(wandb_run_dir(run), "/wandb/journal-") != NULL);
    struct stat dst;
    CHECK(stat(wandb_run_dir(run), &dst) == 0 && S_ISDIR(dst.st_mode));
    CHECK_STREQ(wandb_run_setting(run, "project"), S_PROJECT);
    CHECK_STREQ(wandb_run_setting(run, "ring_bytes"), "65536");
    CHECK_STREQ(wandb_run_setting(run, "base_url"), s_srv.url);
    CHECK(wandb_run_setting(run, "api_key") == NULL);
    CHECK(wandb_run_setting(run, "no_such_setting") == NULL);
    for (int i = 0; i < 5000 && wandb_run_entity(run)[0] == '\0'; i++)
        usleep(1000);
    const char *entity = wandb_run_entity(run);
    CHECK(entity[0] != '\0');
    char want[512];
    snprintf(want, sizeof want, "%s/%s/%s/runs/ra-props", s_srv.url, entity, S_PROJECT);
    CHECK_STREQ(wandb_run_url(run), want);
    CHECK_STREQ(wandb_run_get_url(run), want);
    CHECK(strstr(wandb_run_url(run), "//" S_PROJECT) == NULL);
    snprintf(want, sizeof want, "%s/%s/%s", s_srv.url, entity, S_PROJECT);
    CHECK_STREQ(wandb_run_get_project_url(run), want);
    snprintf(want, sizeof want, "%s/%s/%s/sweeps/sw1", s_srv.url, entity, S_PROJECT);
    CHECK_STREQ(wandb_run_get_sweep_url(run), want);
    snprintf(want, sizeof want, "%s/%s/ra-props", entity, S_PROJECT);
    CHECK_STREQ(wandb_run_path(run), want);
    char *html = wandb_run_to_html(run, 0, false);
    snprintf(want, sizeof want,
             "<iframe src='%s?jupyter=true' style='border:none;width:100%%;height:420px;'>"
             "</iframe>",
             wandb_run_get_url(run));
    CHECK_STREQ(html, want);
    wandb_free(html);
    html = wandb_run_to_html(run, 300, true);
    CHECK(strstr(html, "height:300px;display:none;'") != NULL);
    wandb_free(html);
    CHECK_ERR(wandb_run_display(run, 420, false), WANDB_ENOTSUP);

    CHECK_OK(wandb_log(run, WANDB_INT("x", 1)));
    const char *old_name = wandb_run_name(run);
    CHECK_OK(wandb_run_set_name(run, "renamed"));
    CHECK_STREQ(old_name, ""); // a borrowed old value stays readable
    CHECK_OK(wandb_run_set_notes(run, "second notes"));
    CHECK_OK(wandb_run_set_tags(run, "a,b"));
    CHECK_STREQ(wandb_run_name(run), "renamed");
    CHECK_STREQ(wandb_run_notes(run), "second notes");
    CHECK_STREQ(wandb_run_tags(run), "a,b");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_ERR(wandb_run_set_name(run, longname), WANDB_EINVAL);
    CHECK_ERR(wandb_run_set_name(run, NULL), WANDB_EINVAL);
    CHECK_ERR(wandb_run_set_name(run, ""), WANDB_EINVAL); // an empty name is refused
    CHECK_STREQ(wandb_run_name(run), "renamed");
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *r = s_run_json("ra-props");
    CHECK_STREQ(json_string_value(json_object_get(r, "display_name")), "renamed");
    CHECK_STREQ(json_string_value(json_object_get(r, "notes")), "second notes");
    json_t *tags = json_object_get(r, "tags");
    CHECK_EQ(json_array_size(tags), 2);
    CHECK_STREQ(json_string_value(json_array_get(tags, 0)), "a");
    CHECK_STREQ(json_string_value(json_array_get(tags, 1)), "b");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    json_decref(r);
}

// A row left open is committed by a higher step: status() counts it as logged
// and as sent, like the row the server stores.
static void test_status_counts_rows_closed_by_step(void)
{
    wandb_settings_t *s = s_settings("ra-count");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 0)));         // step 0
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));         // step 1
    CHECK_OK(wandb_log_step(run, 5, WANDB_DOUBLE("x", 5))); // open at 5
    CHECK_OK(wandb_log_step(run, 5, WANDB_DOUBLE("y", 5))); // still open
    CHECK_OK(wandb_log_values(run, (wandb_value_t[]){WANDB_DOUBLE("x", 7)}, 1, 7,
                              WANDB_COMMIT_TRUE));  // commits 5, then 7
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 8))); // step 8
    char *text = wandb_run_summary_json(run);       // waits until the rows were sent
    wandb_free(text);
    wandb_run_status_t st;
    CHECK_OK(wandb_run_status(run, &st));
    CHECK_EQ_U64(st.rows_logged, 5);
    CHECK_EQ_U64(st.rows_sent, 5);
    CHECK_EQ_U64(st.rows_pending, 0);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-count");
    CHECK_EQ(json_array_size(rows), 5);
    json_decref(rows);
}

// summary and config read back, status(), join and detach.
static void test_summary_config_status(void)
{
    wandb_settings_t *s = s_settings("ra-summary");
    CHECK_OK(wandb_settings_config_json(s, "{\"lr\": 0.5}"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_detach(run));
    CHECK_OK(wandb_config_update(run, WANDB_INT("batch", 32)));
    for (int k = 0; k < 10; k++)
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 10 - k), WANDB_STRING("phase", "train")));
    CHECK_OK(wandb_summary_update(run, WANDB_DOUBLE("best", 0.25)));
    CHECK_OK(wandb_log(run, WANDB_INT("epoch", 3)));
    CHECK_OK(wandb_summary_update(run, WANDB_INT("epoch", 99))); // explicit wins...
    char *text = wandb_run_summary_json(run);
    json_error_t jerr;
    json_t *sum = json_loads(text, 0, &jerr);
    wandb_free(text);
    double d = 0;
    CHECK(wbi_jsonx_number(json_object_get(sum, "loss"), &d) && d == 1.0);
    CHECK_STREQ(json_string_value(json_object_get(sum, "phase")), "train");
    CHECK(wbi_jsonx_number(json_object_get(sum, "best"), &d) && d == 0.25);
    CHECK_EQ(s_int(sum, "epoch"), 99);
    CHECK_EQ(s_int(sum, "_step"), 10);
    json_decref(sum);
    CHECK_OK(wandb_log(run, WANDB_INT("epoch", 4))); // ...until logged again
    text = wandb_run_summary_json(run);
    sum = json_loads(text, 0, &jerr);
    wandb_free(text);
    CHECK_EQ(s_int(sum, "epoch"), 4);
    json_decref(sum);
    text = wandb_run_config_json(run);
    json_t *cfg = json_loads(text, 0, &jerr);
    wandb_free(text);
    CHECK(wbi_jsonx_number(json_object_get(cfg, "lr"), &d) && d == 0.5);
    CHECK_EQ(s_int(cfg, "batch"), 32);
    json_decref(cfg);
    wandb_run_status_t st;
    CHECK_OK(wandb_run_status(run, &st));
    CHECK_EQ_U64(st.rows_logged, 12);
    CHECK_EQ_U64(st.rows_sent, 12); // the summary read waited for the rows to be sent
    CHECK_EQ_U64(st.rows_pending, 0);
    CHECK(st.records_sent >= 12 && st.sync_time > 0 && !st.finished);
    CHECK_ERR(wandb_run_status(run, NULL), WANDB_EINVAL);
    wandb_run_t *stale = run;
    CHECK_OK(wandb_join(&run, 0));
    CHECK_OK(wandb_run_status(stale, &st));
    CHECK(st.finished);
    text = wandb_run_summary_json(stale); // the last state stays readable
    CHECK(text && strstr(text, "\"epoch\":4") != NULL);
    wandb_free(text);
    wandb_settings_destroy(&s);
    json_t *r = s_run_json("ra-summary");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(s_int(json_object_get(r, "summary"), "epoch"), 4);
    CHECK_EQ(s_int(json_object_get(r, "config"), "batch"), 32);
    json_decref(r);
}

// After finish, a copy of the pointer is safe: properties read, calls that
// would send return WANDB_ECLOSED, a second finish too.
static void test_stale_pointer(void)
{
    wandb_settings_t *s = s_settings("ra-stale");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_run_t *stale = run;
    wandb_run_t *stale2 = run;
    CHECK_OK(wandb_log(run, WANDB_INT("x", 1)));
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(run == NULL);
    CHECK_ERR(wandb_log(stale, WANDB_INT("x", 2)), WANDB_ECLOSED);
    CHECK_ERR(wandb_summary_update(stale, WANDB_INT("y", 2)), WANDB_ECLOSED);
    CHECK_ERR(wandb_config_update(stale, WANDB_INT("y", 2)), WANDB_ECLOSED);
    CHECK_ERR(wandb_alert(stale, "t", "t", NULL, 0), WANDB_ECLOSED);
    CHECK_ERR(wandb_run_set_name(stale, "late"), WANDB_ECLOSED);
    CHECK_ERR(wandb_save(stale, "/etc/hostname", NULL, WANDB_SAVE_END), WANDB_ECLOSED);
    CHECK_STREQ(wandb_run_id(stale), "ra-stale");
    CHECK_EQ(wandb_run_step(stale), 1);
    CHECK_ERR(wandb_finish(&stale2, 0), WANDB_ECLOSED);
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-stale");
    CHECK_EQ(json_array_size(rows), 1);
    json_decref(rows);
}

typedef struct {
    wandb_run_t *run;    // shared pointer, finished by the main thread
    atomic_long ok;      // calls accepted
    atomic_bool started; // the first call was made
    wandb_err last;      // the error that ended the loop
} s_logger_arg_t;

static void *s_logger_thread(void *p)
{
    s_logger_arg_t *a = p;
    for (long k = 0; k < 10000000; k++) {
        wandb_err err = wandb_log(a->run, WANDB_INT("k", k));
        atomic_store(&a->started, true);
        if (err != WANDB_OK) {
            a->last = err;
            break;
        }
        atomic_fetch_add(&a->ok, 1);
        if (k % 64 == 0)
            usleep(100);
    }
    return NULL;
}

// log in one thread while another calls finish: the logger gets
// WANDB_ECLOSED, nothing is read after free (ASan, TSan), and every call
// accepted before is stored at its step.
static void test_finish_while_logging(void)
{
    wandb_settings_t *s = s_settings("ra-race");
    s_logger_arg_t a = {0};
    CHECK_OK(wandb_init(s, &a.run));
    wandb_run_t *mine = a.run;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, s_logger_thread, &a) == 0);
    while (!atomic_load(&a.started))
        usleep(100);
    usleep(30000);
    CHECK_OK(wandb_finish(&mine, 0));
    pthread_join(th, NULL);
    CHECK_ERR(a.last, WANDB_ECLOSED);
    wandb_settings_destroy(&s);
    json_t *rows = s_history("ra-race");
    long ok = atomic_load(&a.ok);
    fprintf(stderr, "finish_while_logging: %ld rows accepted before finish\n", ok);
    CHECK(ok > 0);
    CHECK_EQ(json_array_size(rows), ok);
    for (size_t k = 0; k < json_array_size(rows); k++)
        CHECK_EQ(s_int(json_array_get(rows, k), "k"), (int64_t)k);
    json_decref(rows);
}

// Runs the child program with mode and rows; returns its exit code.
static int s_child(const char *mode, const char *run_id, const char *rows)
{
    const char *bin_dir = getenv("WANDB_TEST_BIN_DIR");
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tests/run_api_child", bin_dir ? bin_dir : ".");
    wbt_run_env_clear();
    setenv("WANDB_BASE_URL", s_srv.url, 1);
    setenv("WANDB_API_KEY", S_KEY, 1);
    setenv("WANDB_PROJECT", S_PROJECT, 1);
    setenv("WANDB_RUN_ID", run_id, 1);
    setenv("WANDB_FINISH_TIMEOUT_MS", "20000", 1);
    // LeakSanitizer at the exit of a child forked from a threaded process
    // can hang (its allocator locks were held by other threads at fork):
    // the fork mode runs without it.
    const char *asan = getenv("ASAN_OPTIONS");
    char *saved = asan ? strdup(asan) : NULL;
    if (strcmp(mode, "fork") == 0) {
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "", asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
    const char *argv[] = {bin, mode, rows, NULL};
    int fd = -1;
    pid_t pid = wbt_spawn(argv, &fd);
    int rc = wbt_wait_exit(pid, 60000);
    close(fd);
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    wbt_run_env_clear();
    unsetenv("WANDB_PROJECT");
    unsetenv("WANDB_FINISH_TIMEOUT_MS");
    return rc;
}

// A program that returns from main (or calls exit) without wandb_finish
// still finishes its run: every row, state finished. A killed one does not.
static void test_finish_at_exit(void)
{
    CHECK_EQ(s_child("return", "ra-exit-ret", "25"), 0);
    json_t *r = s_run_json("ra-exit-ret");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(s_int(r, "history_count"), 25);
    json_decref(r);
    json_t *rows = s_history("ra-exit-ret");
    CHECK_EQ(json_array_size(rows), 25);
    CHECK_EQ(s_int(json_array_get(rows, 24), "i"), 24);
    json_decref(rows);

    CHECK_EQ(s_child("exit", "ra-exit-exit", "7"), 0);
    r = s_run_json("ra-exit-exit");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(s_int(r, "history_count"), 7);
    json_decref(r);

    CHECK_EQ(s_child("fork", "ra-exit-fork", "4"), 0); // the forked child left the run alone
    r = s_run_json("ra-exit-fork");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(s_int(r, "history_count"), 4);
    json_decref(r);

    CHECK_EQ(s_child("kill", "ra-exit-kill", "3"), 128 + 9);
    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=" S_PROJECT);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "runs"), i, it)
    {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && strcmp(n, "ra-exit-kill") == 0)
            CHECK(strcmp(json_string_value(json_object_get(it, "state")), "finished") != 0);
    }
    json_decref(list);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {
        {"bad_step_and_commit", test_bad_step_and_commit},
        {"reserved_keys", test_reserved_keys},
        {"drop_keeps_step", test_drop_keeps_step},
        {"alert_levels", test_alert_levels},
        {"escaped_warning", test_escaped_warning},
        {"properties_and_setters", test_properties_and_setters},
        {"summary_config_status", test_summary_config_status},
        {"status_counts_rows_closed_by_step", test_status_counts_rows_closed_by_step},
        {"stale_pointer", test_stale_pointer},
        {"finish_while_logging", test_finish_while_logging},
        {"finish_at_exit", test_finish_at_exit}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    return rc;
}
