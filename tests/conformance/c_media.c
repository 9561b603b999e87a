//  c_media.c - the media scenario of python_media.py, logged with the C API
//  SPDX-License-Identifier: MIT
//
//  usage: c_media BASE_URL API_KEY PROJECT RUN_ID PNG_FILE
//  Logs the same histograms, images and table as python_media.py, row by
//  row, through the in-process aggregator into the server at BASE_URL;
//  test_media_conformance.py compares what the server stored from both.
//  Exit 0 when every call returned WANDB_OK.
#include "wandb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

// Exits 1 with the call's text when rc is not WANDB_OK.
static void s_ok(wandb_err rc, const char *what)
{
    if (rc != WANDB_OK) {
        fprintf(stderr, "c_media: %s: %s\n", what, wandb_strerror(rc));
        exit(1);
    }
}

// An image of the scenario's pixels: byte i is (i * 37 + seed * 11) mod 256.
static wandb_image_t *s_image(int w, int h, int c, int seed, const char *caption)
{
    uint8_t *px = malloc((size_t)(w * h * c));
    if (!px)
        exit(1);
    for (int i = 0; i < w * h * c; i++)
        px[i] = (uint8_t)((i * 37 + seed * 11) % 256);
    wandb_image_t *img = NULL;
    s_ok(wandb_image_new(&img, px, w, h, c), "wandb_image_new");
    free(px);
    if (caption)
        s_ok(wandb_image_set_caption(img, caption), "wandb_image_set_caption");
    return img;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: c_media BASE_URL API_KEY PROJECT RUN_ID PNG_FILE\n");
        return 2;
    }
    const char *png_path = argv[5];
    wandb_settings_t *s = NULL;
    s_ok(wandb_settings_new(&s), "settings");
    s_ok(wandb_settings_set(s, "base_url", argv[1]), "base_url");
    s_ok(wandb_settings_set(s, "api_key", argv[2]), "api_key");
    s_ok(wandb_settings_set(s, "project", argv[3]), "project");
    s_ok(wandb_settings_set(s, "run_id", argv[4]), "run_id");
    wandb_run_t *run = NULL;
    s_ok(wandb_init(s, &run), "wandb_init");

    const double seq[] = {1, 2, 2, 3, 4};
    const double counts[] = {3, 1};
    const double edges[] = {0.0, 0.5, 1.0};
    double values[1000];
    for (int i = 0; i < 1000; i++)
        values[i] = (double)((i * 7919) % 1000) / 37.0 - 10.0;
    float values32[1000];
    for (int i = 0; i < 1000; i++)
        values32[i] = (float)values[i];
    const float same32[3] = {0.1f, 0.1f, 0.1f};
    wandb_histogram_t *h = NULL, *h_np = NULL, *h64 = NULL, *h32 = NULL, *h32s = NULL;
    s_ok(wandb_histogram_new(&h32, values32, WANDB_DTYPE_FLOAT32, 1000, 33), "histogram f32");
    s_ok(wandb_histogram_new(&h32s, same32, WANDB_DTYPE_FLOAT32, 3, 0), "histogram f32 same");
    s_ok(wandb_histogram_new(&h, seq, WANDB_DTYPE_FLOAT64, 5, 4), "histogram");
    s_ok(wandb_histogram_from_counts(&h_np, counts, edges, 2), "histogram from counts");
    s_ok(wandb_histogram_new(&h64, values, WANDB_DTYPE_FLOAT64, 1000, 0), "histogram 64");
    s_ok(wandb_log(run, WANDB_HISTOGRAM("hist", h), WANDB_HISTOGRAM("hist_np", h_np),
                   WANDB_HISTOGRAM("hist64", h64), WANDB_HISTOGRAM("hist32", h32),
                   WANDB_HISTOGRAM("hist32_same", h32s)),
         "log histograms");
    wandb_histogram_destroy(&h);
    wandb_histogram_destroy(&h_np);
    wandb_histogram_destroy(&h64);
    wandb_histogram_destroy(&h32);
    wandb_histogram_destroy(&h32s);

    wandb_image_t *img = s_image(4, 3, 3, 1, "four by three");
    s_ok(wandb_log_image(run, "img", img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), "log img");
    wandb_image_destroy(&img);

    wandb_image_t *grey = s_image(5, 2, 1, 2, NULL);
    wandb_image_t *rgba = s_image(2, 2, 4, 3, NULL);
    s_ok(wandb_log_image(run, "grey", grey, WANDB_STEP_AUTO, WANDB_COMMIT_FALSE), "log grey");
    s_ok(wandb_log_image(run, "rgba", rgba, WANDB_STEP_AUTO, WANDB_COMMIT_TRUE), "log rgba");
    wandb_image_destroy(&grey);
    wandb_image_destroy(&rgba);

    const wandb_image_t *list[2] = {s_image(5, 2, 1, 2, "grey"), s_image(2, 2, 4, 3, "rgba")};
    s_ok(wandb_log_images(run, "imgs", list, 2, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), "log imgs");
    for (int i = 0; i < 2; i++) {
        wandb_image_t *p = (wandb_image_t *)list[i];
        wandb_image_destroy(&p);
    }

    const char *cols[] = {"id", "label", "score", "ok", "none"};
    wandb_table_t *t = NULL;
    s_ok(wandb_table_new(&t, cols, 5), "table");
    s_ok(wandb_table_row(t, WANDB_CELL_INT(1), WANDB_CELL_STRING("cat"), WANDB_CELL_DOUBLE(0.75),
                         WANDB_CELL_BOOL(true), WANDB_CELL_NULL),
         "row 1");
    s_ok(wandb_table_row(t, WANDB_CELL_INT(2), WANDB_CELL_STRING("dog"), WANDB_CELL_DOUBLE(1e-7),
                         WANDB_CELL_BOOL(false), WANDB_CELL_NULL),
         "row 2");
    s_ok(wandb_log_table(run, "table", t, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), "log table");
    wandb_table_destroy(&t);

    // python_media.py's TRICKY rows: number and string layout.
    static const struct {
        double x;
        const char *s;
        const char *j;
    } tricky[] = {
        {1e16, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "[1, 2.5, \"x\"]"},
        {1e15, "quote \" backslash \\ nl \n tab \t", "{\"a\": 1, \"b\": null}"},
        {0.00001, "ctl \x01 del \x7f", "true"},
        {-0.0, "", "null"},
        {123456.789, "emoji \xf0\x9f\x98\x80", "[[]]"},
        {NAN, "nan", "0"},
        {INFINITY, "inf", "-1"},
        {-INFINITY, "-inf", "9007199254740992"},
        {2.5e-300, "tiny", "1.0"},
        {1.7976931348623157e308, "max", "0.1"},
    };
    const char *tcols[] = {"x", "s", "j"};
    s_ok(wandb_table_new(&t, tcols, 3), "tricky table");
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++)
        s_ok(wandb_table_row(t, WANDB_CELL_DOUBLE(tricky[i].x), WANDB_CELL_STRING(tricky[i].s),
                             WANDB_JSON(NULL, tricky[i].j)),
             "tricky row");
    s_ok(wandb_log_table(run, "tricky", t, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), "log tricky");
    wandb_table_destroy(&t);

    const double h1[] = {1, 2, 3};
    const double one[] = {1};
    const double unit[] = {0.0, 1.0};
    wandb_histogram_t *hs[2] = {NULL, NULL};
    s_ok(wandb_histogram_new(&hs[0], h1, WANDB_DTYPE_FLOAT64, 3, 2), "histogram 1");
    s_ok(wandb_histogram_from_counts(&hs[1], one, unit, 1), "histogram 2");
    s_ok(wandb_log_histograms(run, "hists", (const wandb_histogram_t *const *)hs, 2,
                              WANDB_STEP_AUTO, WANDB_COMMIT_FALSE),
         "log hists");
    wandb_histogram_destroy(&hs[0]);
    wandb_histogram_destroy(&hs[1]);
    const char *ab[] = {"a", "b"};
    wandb_table_t *ts[2] = {NULL, NULL};
    s_ok(wandb_table_new(&ts[0], ab, 2), "table a, b");
    s_ok(wandb_table_row(ts[0], WANDB_CELL_INT(1), WANDB_CELL_STRING("x")), "row a, b");
    s_ok(wandb_table_new(&ts[1], ab, 1), "table a");
    s_ok(wandb_table_row(ts[1], WANDB_CELL_DOUBLE(2.5)), "row a");
    s_ok(wandb_log_tables(run, "tables", (const wandb_table_t *const *)ts, 2, WANDB_STEP_AUTO,
                          WANDB_COMMIT_AUTO),
         "log tables");
    wandb_table_destroy(&ts[0]);
    wandb_table_destroy(&ts[1]);

    s_ok(wandb_image_new_png_file(&img, png_path), "PNG file");
    s_ok(wandb_log_image(run, "file_img", img, WANDB_STEP_AUTO, WANDB_COMMIT_AUTO), "log file");
    wandb_image_destroy(&img);

    s_ok(wandb_finish(&run, 0), "wandb_finish");
    wandb_settings_destroy(&s);
    wandb_shutdown();
    return 0;
}
