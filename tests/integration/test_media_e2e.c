//  test_media_e2e.c - histograms, images, tables and watch logged through the
//  public API into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, logs media through the in-process aggregator, then
//  checks the history rows the server stored (GET .../history) field by
//  field and GETs every media file back (GET .../files/<name>): its bytes,
//  size and SHA-256 as the row says. Exits 77 (CTest: skipped) when the
//  server is not built.
#include "common/alloc.h"
#include "harness/http_client.h"
#include "harness/server_harness.h"
#include "logger/media_png.h"
#include "logger/media_sha256.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server of every test
static const char *s_work; // where the test writes its PNG file (wbt_work_dir)

// Settings for a run into the test server, without an aggregator endpoint.
static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "mediaproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "262144"));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "30000"));
    return s;
}

// The stored history rows of run_id (a new reference to the array's owner in *owner).
static json_t *s_rows(const char *run_id, json_t **owner)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=mediaproj", run_id);
    *owner = wbt_http_get(&s_srv, path);
    json_t *rows = json_object_get(*owner, "rows");
    CHECK(json_is_array(rows));
    return rows;
}

// GETs the run file name back and checks it is exactly data[0..len).
static void s_check_file(const char *run_id, const char *name, const void *data, size_t len)
{
    wbt_client_t c;
    wbt_client_init(&c);
    char path[1024];
    snprintf(path, sizeof path, "/api/v1/runs/%s/files/%s?project=mediaproj", run_id, name);
    CHECK_EQ(wbt_client_req(&c, s_srv.url, S_KEY, "GET", path, NULL, 0), CURLE_OK);
    if (c.status != 200)
        WBT_FAIL("GET %s: HTTP %ld: %.300s", path, c.status, c.body ? c.body : "");
    CHECK_EQ(c.len, len);
    CHECK(memcmp(c.body, data, len) == 0);
    wbt_client_release(&c);
}

// Checks a file-backed history value: its path starts with prefix, its
// sha256 and size describe the bytes, and the server serves those bytes.
static void s_check_media(const char *run_id, json_t *obj, const char *type, const char *prefix,
                          const void *data, size_t len)
{
    CHECK_STREQ(json_string_value(json_object_get(obj, "_type")), type);
    const char *path = json_string_value(json_object_get(obj, "path"));
    CHECK(path != NULL);
    CHECK(strncmp(path, prefix, strlen(prefix)) == 0);
    char sha[65];
    wbi_sha256_hex(data, len, sha);
    CHECK_STREQ(json_string_value(json_object_get(obj, "sha256")), sha);
    CHECK_EQ(json_integer_value(json_object_get(obj, "size")), len);
    // The name ends in <sha256[:20]> and the extension.
    CHECK(strstr(path, "_") != NULL);
    char tail[32];
    snprintf(tail, sizeof tail, "_%.20s", sha);
    CHECK(strstr(path, tail) != NULL);
    s_check_file(run_id, path, data, len);
}

// Pixels of a w x h image with c channels, made from a seed.
static uint8_t *s_pixels(int w, int h, int c, unsigned seed)
{
    uint8_t *px = malloc((size_t)(w * h * c));
    CHECK(px != NULL);
    for (int i = 0; i < w * h * c; i++)
        px[i] = (uint8_t)(i * 37 + (int)seed * 11);
    return px;
}

// The PNG the library makes of pixels (the same encoder, so the same bytes).
static uint8_t *s_png(const uint8_t *px, int w, int h, int c, size_t *len)
{
    uint8_t *png = NULL;
    CHECK_OK(wbi_png_encode(px, (uint32_t)w, (uint32_t)h, c, &png, len));
    return png;
}

// A histogram in a row with a scalar, an image joined to the next row, a
// list of captioned images, a table and an image from a PNG file at an
// explicit step: rows and files as the official client writes them.
static void test_media_rows(void)
{
    wandb_settings_t *s = s_settings("media-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));

    const double grads[] = {1, 2, 2, 3, 4};
    wandb_histogram_t *h = NULL;
    CHECK_OK(wandb_histogram_new(&h, grads, WANDB_DTYPE_FLOAT64, 5, 4));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.5), WANDB_HISTOGRAM("grads", h)));
    wandb_histogram_destroy(&h);

    uint8_t *rgb = s_pixels(4, 3, 3, 1);
    wandb_image_t *img = NULL;
    CHECK_OK(wandb_image_new(&img, rgb, 4, 3, 3));
    CHECK_OK(wandb_image_set_caption(img, "four by three"));
    CHECK_OK(wandb_log_image(run, "examples/img", img, WANDB_STEP_AUTO, WANDB_COMMIT_FALSE));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.25)));
    wandb_image_destroy(&img);

    uint8_t *grey = s_pixels(5, 2, 1, 2);
    uint8_t *rgba = s_pixels(2, 2, 4, 3);
    wandb_image_t *imgs[2] = {NULL, NULL};
    CHECK_OK(wandb_image_new(&imgs[0], grey, 5, 2, 1));
    CHECK_OK(wandb_image_new(&imgs[1], rgba, 2, 2, 4));
    CHECK_OK(wandb_image_set_caption(imgs[0], "grey"));
    CHECK_OK(wandb_log_images(run, "batch", (const wandb_image_t *const *)imgs, 2, WANDB_STEP_AUTO,
                              WANDB_COMMIT_AUTO));
    wandb_image_destroy(&imgs[0]);
    wandb_image_destroy(&imgs[1]);

    const char *cols[] = {"id", "label", "score", "ok", "none"};
    wandb_table_t *t = NULL;
    CHECK_OK(wandb_table_new(&t, cols, 5));
    CHECK_OK(wandb_table_row(t, WANDB_CELL_INT(1), WANDB_CELL_STRING("cat"),
                             WANDB_CELL_DOUBLE(0.75), WANDB_CELL_BOOL(true), WANDB_CELL_NULL));
    CHECK_OK(wandb_table_row(t, WANDB_CELL_INT(2), WANDB_CELL_STRING("dog"),
                             WANDB_CELL_DOUBLE(1e-7), WANDB_CELL_BOOL(false), WANDB_CELL_NULL));
    CHECK_OK(wandb_log_table(run, "preds", t, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO));
    wandb_table_destroy(&t);

    size_t file_len = 0;
    uint8_t *file_px = s_pixels(3, 3, 3, 4);
    uint8_t *file_png = s_png(file_px, 3, 3, 3, &file_len);
    char path[128];
    snprintf(path, sizeof path, "%s/in.png", s_work);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(file_png, 1, file_len, f) == file_len);
    CHECK(fclose(f) == 0);
    CHECK_OK(wandb_image_new_png_file(&img, path));
    CHECK_OK(wandb_log_image(run, "from_file", img, 7, WANDB_COMMIT_TRUE));
    wandb_image_destroy(&img);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    json_t *owner = NULL;
    json_t *rows = s_rows("media-1", &owner);
    CHECK_EQ(json_array_size(rows), 5);
    json_t *r0 = json_array_get(rows, 0);
    json_t *hv = json_object_get(r0, "grads");
    CHECK_STREQ(json_string_value(json_object_get(hv, "_type")), "histogram");
    json_t *values = json_object_get(hv, "values");
    json_t *bins = json_object_get(hv, "bins");
    CHECK_EQ(json_array_size(values), 4);
    CHECK_EQ(json_array_size(bins), 5);
    const int64_t want_counts[] = {1, 2, 1, 1};
    const double want_bins[] = {1, 1.75, 2.5, 3.25, 4};
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_I64(json_integer_value(json_array_get(values, i)), want_counts[i]);
    for (size_t i = 0; i < 5; i++)
        CHECK_EQ_DBL(json_number_value(json_array_get(bins, i)), want_bins[i]);
    CHECK_EQ_DBL(json_number_value(json_object_get(r0, "loss")), 0.5);

    json_t *r1 = json_array_get(rows, 1);
    CHECK_EQ(json_integer_value(json_object_get(r1, "_step")), 1);
    CHECK_EQ_DBL(json_number_value(json_object_get(r1, "loss")), 0.25);
    json_t *iv = json_object_get(r1, "examples/img");
    size_t rgb_len = 0;
    uint8_t *rgb_png = s_png(rgb, 4, 3, 3, &rgb_len);
    s_check_media("media-1", iv, "image-file", "media/images/examples/img_1_", rgb_png, rgb_len);
    CHECK_STREQ(json_string_value(json_object_get(iv, "format")), "png");
    CHECK_EQ(json_integer_value(json_object_get(iv, "width")), 4);
    CHECK_EQ(json_integer_value(json_object_get(iv, "height")), 3);
    CHECK_STREQ(json_string_value(json_object_get(iv, "caption")), "four by three");

    json_t *lv = json_object_get(json_array_get(rows, 2), "batch");
    CHECK_STREQ(json_string_value(json_object_get(lv, "_type")), "images/separated");
    CHECK_EQ(json_integer_value(json_object_get(lv, "count")), 2);
    CHECK_EQ(json_integer_value(json_object_get(lv, "width")), 5);
    CHECK_EQ(json_integer_value(json_object_get(lv, "height")), 2);
    CHECK_STREQ(json_string_value(json_object_get(lv, "format")), "png");
    json_t *caps = json_object_get(lv, "captions");
    CHECK_STREQ(json_string_value(json_array_get(caps, 0)), "grey");
    CHECK(json_is_null(json_array_get(caps, 1)));
    size_t g_len = 0, a_len = 0;
    uint8_t *g_png = s_png(grey, 5, 2, 1, &g_len);
    uint8_t *a_png = s_png(rgba, 2, 2, 4, &a_len);
    json_t *names = json_object_get(lv, "filenames");
    CHECK_EQ(json_array_size(names), 2);
    s_check_file("media-1", json_string_value(json_array_get(names, 0)), g_png, g_len);
    s_check_file("media-1", json_string_value(json_array_get(names, 1)), a_png, a_len);
    CHECK(strncmp(json_string_value(json_array_get(names, 0)), "media/images/batch_2_", 21) == 0);

    json_t *tv = json_object_get(json_array_get(rows, 3), "preds");
    static const char table_file[] = "{\"columns\":[\"id\",\"label\",\"score\",\"ok\",\"none\"],"
                                     "\"data\":[[1,\"cat\",0.75,true,null],"
                                     "[2,\"dog\",1e-7,false,null]]}";
    s_check_media("media-1", tv, "table-file", "media/table/preds_3_", table_file,
                  strlen(table_file));
    CHECK_EQ(json_integer_value(json_object_get(tv, "ncols")), 5);
    CHECK_EQ(json_integer_value(json_object_get(tv, "nrows")), 2);
    CHECK_STREQ(json_string_value(json_object_get(tv, "log_mode")), "IMMUTABLE");

    json_t *r4 = json_array_get(rows, 4);
    CHECK_EQ(json_integer_value(json_object_get(r4, "_step")), 7);
    s_check_media("media-1", json_object_get(r4, "from_file"), "image-file",
                  "media/images/from_file_7_", file_png, file_len);
    json_decref(owner);
    free(rgb);
    free(grey);
    free(rgba);
    free(file_px);
    wbi_free(rgb_png);
    wbi_free(g_png);
    wbi_free(a_png);
    wbi_free(file_png);
}

// Watch with log_freq 2: every second step the rows carry
// parameters/<name> and gradients/<name> with the buffers' values at that
// step; after unwatch, none.
static void test_watch(void)
{
    wandb_settings_t *s = s_settings("media-2");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    double params[4] = {1, 2, 3, 4};
    float grads[4] = {0.5f, 0.5f, 0.5f, NAN};
    CHECK_ERR(wandb_watch(run, "fc", WANDB_DTYPE_FLOAT64, params, NULL, 4, WANDB_WATCH_ALL, 2),
              WANDB_EINVAL);
    CHECK_ERR(wandb_watch(run, "", WANDB_DTYPE_FLOAT64, params, params, 4, WANDB_WATCH_ALL, 2),
              WANDB_EINVAL);
    CHECK_OK(
        wandb_watch(run, "fc", WANDB_DTYPE_FLOAT64, params, NULL, 4, WANDB_WATCH_PARAMETERS, 2));
    CHECK_OK(
        wandb_watch(run, "out", WANDB_DTYPE_FLOAT32, NULL, grads, 4, WANDB_WATCH_GRADIENTS, 2));
    CHECK_ERR(wandb_unwatch(run, "nope"), WANDB_ENOTFOUND);
    for (int step = 0; step < 6; step++) {
        params[0] = step; // the histogram of step 3 sees 3, 2, 3, 4
        CHECK_OK(wandb_log_partial(run, WANDB_INT("epoch", step)));
        CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 1.0 / (step + 1))));
    }
    // A call rejected for its step is rejected once, watch or not.
    CHECK_OK(
        wandb_watch(run, "fc", WANDB_DTYPE_FLOAT64, params, NULL, 4, WANDB_WATCH_PARAMETERS, 1));
    CHECK_ERR(wandb_log_step(run, 2, WANDB_DOUBLE("loss", 9.0)), WANDB_ESTEP);
    CHECK_EQ(wandb_run_rejected_steps(run), 1);
    CHECK_OK(wandb_unwatch(run, NULL));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.1)));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    json_t *owner = NULL;
    json_t *rows = s_rows("media-2", &owner);
    CHECK_EQ(json_array_size(rows), 7);
    for (size_t i = 0; i < 7; i++) {
        json_t *r = json_array_get(rows, i);
        json_t *p = json_object_get(r, "parameters/fc");
        json_t *g = json_object_get(r, "gradients/out");
        bool due = i % 2 == 1 && i < 6;
        if (!due) {
            CHECK(p == NULL && g == NULL);
            continue;
        }
        CHECK_STREQ(json_string_value(json_object_get(p, "_type")), "histogram");
        CHECK_EQ(json_array_size(json_object_get(p, "values")), 64);
        // min and max of the parameters at step i
        double lo = (double)i < 2 ? (double)i : 2;
        CHECK_EQ_DBL(json_number_value(json_array_get(json_object_get(p, "bins"), 0)), lo);
        CHECK_EQ_DBL(json_number_value(json_array_get(json_object_get(p, "bins"), 64)),
                     (double)i > 4 ? (double)i : 4);
        // The gradients are all 0.5 but a NaN: one bin [0.5, 0.5] of 3.
        CHECK_EQ(json_array_size(json_object_get(g, "values")), 1);
        CHECK_EQ_I64(json_integer_value(json_array_get(json_object_get(g, "values"), 0)), 3);
        CHECK_EQ_DBL(json_number_value(json_array_get(json_object_get(g, "bins"), 1)), 0.5);
        CHECK_EQ(json_integer_value(json_object_get(r, "epoch")), (json_int_t)i);
    }
    json_decref(owner);
}

// Lists of histograms and of tables: one row holding the lists, every
// table file fetched back.
static void test_lists(void)
{
    wandb_settings_t *s = s_settings("media-5");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    const double d[] = {0, 1, 2, 3};
    wandb_histogram_t *hs[2] = {NULL, NULL};
    CHECK_OK(wandb_histogram_new(&hs[0], d, WANDB_DTYPE_FLOAT64, 4, 2));
    CHECK_OK(wandb_histogram_new(&hs[1], d, WANDB_DTYPE_FLOAT64, 2, 3));
    CHECK_OK(wandb_log_histograms(run, "hs", (const wandb_histogram_t *const *)hs, 2,
                                  WANDB_STEP_AUTO, WANDB_COMMIT_FALSE));
    const char *cols[] = {"v"};
    wandb_table_t *ts[2] = {NULL, NULL};
    CHECK_OK(wandb_table_new(&ts[0], cols, 1));
    CHECK_OK(wandb_table_new(&ts[1], cols, 1));
    CHECK_OK(wandb_table_row(ts[1], WANDB_CELL_STRING("only row")));
    CHECK_OK(wandb_log_tables(run, "ts", (const wandb_table_t *const *)ts, 2, WANDB_STEP_AUTO,
                              WANDB_COMMIT_AUTO));
    CHECK_ERR(wandb_log_tables(run, "ts", (const wandb_table_t *const *)ts, 0, WANDB_STEP_AUTO,
                               WANDB_COMMIT_AUTO),
              WANDB_EINVAL);
    CHECK_ERR(wandb_log_histograms(run, "hs", NULL, 1, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO),
              WANDB_EINVAL);
    CHECK_OK(wandb_finish(&run, 0));
    for (int i = 0; i < 2; i++) {
        wandb_histogram_destroy(&hs[i]);
        wandb_table_destroy(&ts[i]);
    }
    wandb_settings_destroy(&s);
    json_t *owner = NULL;
    json_t *rows = s_rows("media-5", &owner);
    CHECK_EQ(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    json_t *hl = json_object_get(row, "hs");
    CHECK_EQ(json_array_size(hl), 2);
    CHECK_EQ(json_array_size(json_object_get(json_array_get(hl, 0), "values")), 2);
    CHECK_EQ(json_array_size(json_object_get(json_array_get(hl, 1), "values")), 3);
    json_t *tl = json_object_get(row, "ts");
    CHECK_EQ(json_array_size(tl), 2);
    static const char empty[] = "{\"columns\":[\"v\"],\"data\":[]}";
    static const char one[] = "{\"columns\":[\"v\"],\"data\":[[\"only row\"]]}";
    s_check_media("media-5", json_array_get(tl, 0), "table-file", "media/table/ts_0_", empty,
                  strlen(empty));
    s_check_media("media-5", json_array_get(tl, 1), "table-file", "media/table/ts_0_", one,
                  strlen(one));
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(tl, 0), "nrows")), 0);
    json_decref(owner);
}

// What the watching thread of test_watch_threads does: watch and unwatch a
// second name while the main thread logs.
static void *s_rewatch(void *arg)
{
    wandb_run_t *run = arg;
    static const double other[3] = {1, 2, 3};
    for (int i = 0; i < 200; i++) {
        CHECK_OK(wandb_watch(run, "other", WANDB_DTYPE_FLOAT64, other, NULL, 3,
                             WANDB_WATCH_PARAMETERS, 1));
        CHECK_OK(wandb_unwatch(run, "other"));
    }
    return NULL;
}

// wandb_watch/wandb_unwatch from one thread while another logs with a
// watched buffer: every row of the logging thread that is due carries its
// histogram, and nothing races (TSan).
static void test_watch_threads(void)
{
    wandb_settings_t *s = s_settings("media-4");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    float w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (float)i;
    CHECK_OK(wandb_watch(run, "w", WANDB_DTYPE_FLOAT32, w, NULL, 16, WANDB_WATCH_PARAMETERS, 5));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, s_rewatch, run) == 0);
    for (int step = 0; step < 100; step++)
        CHECK_OK(wandb_log(run, WANDB_INT("i", step)));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *owner = NULL;
    json_t *rows = s_rows("media-4", &owner);
    CHECK_EQ(json_array_size(rows), 100);
    for (size_t i = 0; i < 100; i++) {
        json_t *p = json_object_get(json_array_get(rows, i), "parameters/w");
        CHECK((p != NULL) == (i % 5 == 4));
        if (p)
            CHECK_EQ(json_array_size(json_object_get(p, "values")), 64);
    }
    json_decref(owner);
}

// Bad arguments: clear errors, nothing sent; a lower step is rejected and
// counted without a file; the run goes on and finishes.
static void test_errors(void)
{
    wandb_settings_t *s = s_settings("media-3");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    uint8_t px[3] = {1, 2, 3};
    wandb_image_t *img = NULL;
    CHECK_OK(wandb_image_new(&img, px, 1, 1, 3));
    CHECK_ERR(wandb_log_image(run, "a//b", img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), WANDB_EINVAL);
    CHECK_ERR(wandb_log_image(run, NULL, img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), WANDB_EINVAL);
    CHECK_ERR(wandb_log_image(NULL, "k", img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), WANDB_EINVAL);
    CHECK_ERR(wandb_log_images(run, "k", NULL, 1, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO),
              WANDB_EINVAL);
    CHECK_OK(wandb_log_image(run, "ok", img, 5, WANDB_COMMIT_AUTO));
    CHECK_ERR(wandb_log_image(run, "late", img, 2, WANDB_COMMIT_AUTO), WANDB_ESTEP);
    CHECK_EQ(wandb_run_rejected_steps(run), 1);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK_ERR(wandb_log_image(NULL, "ok", img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), WANDB_EINVAL);
    wandb_image_destroy(&img);
    wandb_settings_destroy(&s);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/media-3/files?project=mediaproj");
    size_t i;
    json_t *f;
    size_t media = 0;
    json_array_foreach(json_object_get(files, "files"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strncmp(n, "media/", 6) == 0) {
            media++;
            CHECK(strncmp(n, "media/images/ok_5_", 18) == 0);
        }
    }
    CHECK_EQ(media, 1);
    json_decref(files);
    json_t *owner = NULL;
    CHECK_EQ(json_array_size(s_rows("media-3", &owner)), 1);
    json_decref(owner);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    s_work = wbt_work_dir("media-work");
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"media_rows", test_media_rows},
                                       {"watch", test_watch},
                                       {"watch_threads", test_watch_threads},
                                       {"lists", test_lists},
                                       {"errors", test_errors}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_work_dir_remove();
    return rc;
}
