//  test_media_examples.c - the media examples (examples/media_*.c) run against
//  the real wandb-mpi-server, their results checked there
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server on an ephemeral port, runs
//  each example program with WANDB_BASE_URL/API_KEY/PROJECT/RUN_ID set (its
//  settings all come from the environment, as a user would run it), then
//  checks the stored rows and GETs the media files back; one runs offline
//  and is then uploaded by `wandb-mpi sync`. Exits 77 when the server or the
//  examples are not built.
#include "common/alloc.h"
#include "harness/http_client.h"
#include "harness/server_harness.h"
#include "logger/media_png.h"
#include "testutil.h"

#include <jansson.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server of every test

// Runs examples/<name> as run <name> of project "examples"; fails unless it exits 0.
static void s_run_example(const char *name)
{
    const char *dir = getenv("WANDB_TEST_BIN_DIR");
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/examples/%s", dir ? dir : ".", name);
    if (access(bin, X_OK) != 0)
        WBT_SKIP("%s is not built", bin);
    wbt_run_env_clear();
    setenv("WANDB_BASE_URL", s_srv.url, 1);
    setenv("WANDB_API_KEY", S_KEY, 1);
    setenv("WANDB_PROJECT", "examples", 1);
    setenv("WANDB_RUN_ID", name, 1);
    const char *argv[] = {bin, NULL};
    char out[4096];
    int rc = wbt_run_capture(argv, out, sizeof out, 60000);
    if (rc != 0)
        WBT_FAIL("%s exited %d: %s", name, rc, out);
    CHECK_EQ(strlen(out), 0); // the library never prints to stdout
}

// The stored history rows of run (owner: a new reference to free).
static json_t *s_rows(const char *run, json_t **owner)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=examples", run);
    *owner = wbt_http_get(&s_srv, path);
    return json_object_get(*owner, "rows");
}

// GETs the file name of run into c (status 200 required).
static void s_get_file(wbt_client_t *c, const char *run, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "/api/v1/runs/%s/files/%s?project=examples", run, name);
    CHECK_EQ(wbt_client_req(c, s_srv.url, S_KEY, "GET", path, NULL, 0), CURLE_OK);
    if (c->status != 200)
        WBT_FAIL("GET %s: HTTP %ld", path, c->status);
}

// Sum of a JSON array of numbers.
static double s_sum(json_t *arr)
{
    double sum = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) sum += json_number_value(v);
    return sum;
}

// The seed's histogram: 10000 normal samples in 64 bins.
static void test_histogram(void)
{
    s_run_example("media_histogram");
    json_t *owner = NULL;
    json_t *rows = s_rows("media_histogram", &owner);
    CHECK_EQ(json_array_size(rows), 1);
    json_t *h = json_object_get(json_array_get(rows, 0), "gradients");
    CHECK_STREQ(json_string_value(json_object_get(h, "_type")), "histogram");
    CHECK_EQ(json_array_size(json_object_get(h, "values")), 64);
    CHECK_EQ(json_array_size(json_object_get(h, "bins")), 65);
    CHECK_EQ_DBL(s_sum(json_object_get(h, "values")), 10000);
    CHECK(json_number_value(json_array_get(json_object_get(h, "bins"), 0)) < -3);
    CHECK(json_number_value(json_array_get(json_object_get(h, "bins"), 64)) > 3);
    json_decref(owner);
}

// The seed's images: three captioned 100x100 RGB fields under one key.
static void test_images(void)
{
    s_run_example("media_images");
    json_t *owner = NULL;
    json_t *rows = s_rows("media_images", &owner);
    CHECK_EQ(json_array_size(rows), 1);
    json_t *v = json_object_get(json_array_get(rows, 0), "examples");
    CHECK_STREQ(json_string_value(json_object_get(v, "_type")), "images/separated");
    CHECK_EQ(json_integer_value(json_object_get(v, "count")), 3);
    CHECK_EQ(json_integer_value(json_object_get(v, "width")), 100);
    CHECK_EQ(json_integer_value(json_object_get(v, "height")), 100);
    wbt_client_t c;
    wbt_client_init(&c);
    for (size_t i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "random field %zu", i);
        CHECK_STREQ(json_string_value(json_array_get(json_object_get(v, "captions"), i)), want);
        const char *name = json_string_value(json_array_get(json_object_get(v, "filenames"), i));
        CHECK(name && strncmp(name, "media/images/examples_0_", 24) == 0);
        s_get_file(&c, "media_images", name);
        uint32_t w = 0, h = 0;
        CHECK_OK(wbi_png_info((const uint8_t *)c.body, c.len, &w, &h));
        CHECK_EQ(w, 100);
        CHECK_EQ(h, 100);
        CHECK(c.len > 100 * 100 * 3); // noise does not compress: stored blocks
    }
    wbt_client_release(&c);
    json_decref(owner);
}

// A table of predictions in the same row as the accuracy it implies.
static void test_table(void)
{
    s_run_example("media_table");
    json_t *owner = NULL;
    json_t *rows = s_rows("media_table", &owner);
    CHECK_EQ(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    json_t *t = json_object_get(row, "predictions");
    CHECK_STREQ(json_string_value(json_object_get(t, "_type")), "table-file");
    CHECK_EQ(json_integer_value(json_object_get(t, "nrows")), 10);
    CHECK_EQ(json_integer_value(json_object_get(t, "ncols")), 5);
    wbt_client_t c;
    wbt_client_init(&c);
    s_get_file(&c, "media_table", json_string_value(json_object_get(t, "path")));
    CHECK_EQ(json_integer_value(json_object_get(t, "size")), c.len);
    json_t *file = wbt_client_json(&c);
    CHECK(file != NULL);
    json_t *data = json_object_get(file, "data");
    CHECK_EQ(json_array_size(data), 10);
    CHECK_EQ(json_array_size(json_object_get(file, "columns")), 5);
    int correct = 0;
    size_t i;
    json_t *r;
    json_array_foreach(data, i, r) correct += json_is_true(json_array_get(r, 4));
    CHECK_EQ_DBL(json_number_value(json_object_get(row, "accuracy")), correct / 10.0);
    json_decref(file);
    wbt_client_release(&c);
    json_decref(owner);
}

// Watch with log_freq 10 over 50 steps: histograms at steps 9, 19, ... 49.
static void test_watch(void)
{
    s_run_example("media_watch");
    json_t *owner = NULL;
    json_t *rows = s_rows("media_watch", &owner);
    CHECK_EQ(json_array_size(rows), 50);
    size_t with = 0;
    for (size_t i = 0; i < 50; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *p = json_object_get(row, "parameters/linear.weight");
        json_t *g = json_object_get(row, "gradients/linear.weight");
        CHECK(json_object_get(row, "loss") != NULL);
        if (i % 10 != 9) {
            CHECK(!p && !g);
            continue;
        }
        with++;
        CHECK_EQ_DBL(s_sum(json_object_get(p, "values")), 8);
        CHECK_EQ_DBL(s_sum(json_object_get(g, "values")), 8);
    }
    CHECK_EQ(with, 5);
    json_decref(owner);
}

// media_images offline (the journal only), then `wandb-mpi sync`: the
// row and the three PNG files reach the server as if it had been online.
static void test_offline_sync(void)
{
    const char *dir = getenv("WANDB_TEST_BIN_DIR");
    char bin[1024], cli[1024], work[64];
    snprintf(bin, sizeof bin, "%s/examples/media_images", dir ? dir : ".");
    snprintf(cli, sizeof cli, "%s/src/cli/wandb-mpi", dir ? dir : ".");
    if (access(bin, X_OK) != 0 || access(cli, X_OK) != 0)
        WBT_SKIP("%s or %s is not built", bin, cli);
    snprintf(work, sizeof work, "/tmp/wbt-media-off-XXXXXX");
    CHECK(mkdtemp(work) != NULL);
    wbt_run_env_clear();
    setenv("WANDB_MODE", "offline", 1);
    setenv("WANDB_DIR", work, 1);
    setenv("WANDB_PROJECT", "examples", 1);
    setenv("WANDB_RUN_ID", "media_offline", 1);
    const char *argv[] = {bin, NULL};
    char out[4096];
    if (wbt_run_capture(argv, out, sizeof out, 60000) != 0)
        WBT_FAIL("media_images offline failed: %s", out);
    unsetenv("WANDB_MODE");
    const char *sync[] = {cli, "sync", "--base-url", s_srv.url, "--api-key", S_KEY, work, NULL};
    if (wbt_run_capture(sync, out, sizeof out, 60000) != 0)
        WBT_FAIL("wandb-mpi sync failed: %s", out);
    wbt_rm_tree(work);
    json_t *owner = NULL;
    json_t *rows = s_rows("media_offline", &owner);
    CHECK_EQ(json_array_size(rows), 1);
    json_t *v = json_object_get(json_array_get(rows, 0), "examples");
    CHECK_EQ(json_integer_value(json_object_get(v, "count")), 3);
    wbt_client_t c;
    wbt_client_init(&c);
    for (size_t i = 0; i < 3; i++) {
        s_get_file(&c, "media_offline",
                   json_string_value(json_array_get(json_object_get(v, "filenames"), i)));
        uint32_t w = 0, h = 0;
        CHECK_OK(wbi_png_info((const uint8_t *)c.body, c.len, &w, &h));
        CHECK_EQ(w, 100);
    }
    wbt_client_release(&c);
    json_decref(owner);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"histogram", test_histogram},
                                       {"images", test_images},
                                       {"table", test_table},
                                       {"watch", test_watch},
                                       {"offline_sync", test_offline_sync}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wbt_server_release(&s_srv);
    return rc;
}
