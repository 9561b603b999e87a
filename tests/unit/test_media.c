//  test_media.c - the media objects: histograms (numpy's binning, the
//  watch's rules), table rows, file names, the JSON layout of media files,
//  images, and their constructors under failing allocations
//  SPDX-License-Identifier: MIT
//
//  No run, no thread (the PNG writer has its own test, test_media_png.c).
#include "common/alloc.h"
#include "common/buf.h"
#include "logger/media.h"
#include "logger/media_json.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>

// Checks a histogram's counts and edges against expected arrays.
static void s_check_hist(const wandb_histogram_t *h, const double *counts, const double *edges,
                         size_t nbins)
{
    CHECK_EQ(wandb_histogram_bins(h), nbins);
    for (size_t i = 0; i < nbins; i++)
        CHECK_EQ_DBL(wandb_histogram_count(h, i), counts[i]);
    for (size_t i = 0; edges && i <= nbins; i++)
        CHECK_EQ_DBL(wandb_histogram_edge(h, i), edges[i]);
}

// numpy.histogram([1, 2, 2, 3, 4], bins=4) == ([1, 2, 1, 1], [1, 1.75, 2.5, 3.25, 4]),
// and its JSON as the official client writes it.
static void test_hist_basic(void)
{
    const double data[] = {1, 2, 2, 3, 4};
    wandb_histogram_t *h = NULL;
    CHECK_OK(wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 5, 4));
    s_check_hist(h, (const double[]){1, 2, 1, 1}, (const double[]){1, 1.75, 2.5, 3.25, 4}, 4);
    CHECK_STREQ(wandb_histogram_json(h),
                "{\"_type\":\"histogram\",\"values\":[1,2,1,1],\"bins\":[1.0,1.75,2.5,3.25,4.0]}");
    CHECK_EQ(wandb_histogram_nonfinite(h), 0);
    wandb_histogram_destroy(&h);
    CHECK(h == NULL);
    wandb_histogram_destroy(&h); // NULL-safe
    // Floats are binned as doubles; 64 bins by default, the maximum in the last one.
    const float f[] = {0.0f, 0.5f, 1.0f};
    CHECK_OK(wandb_histogram_new(&h, f, WANDB_DTYPE_FLOAT32, 3, 0));
    CHECK_EQ(wandb_histogram_bins(h), 64);
    CHECK_EQ_DBL(wandb_histogram_count(h, 0), 1);
    CHECK_EQ_DBL(wandb_histogram_count(h, 32), 1);
    CHECK_EQ_DBL(wandb_histogram_count(h, 63), 1);
    CHECK_EQ_DBL(wandb_histogram_edge(h, 64), 1.0);
    CHECK(isnan(wandb_histogram_count(h, 64)));
    wandb_histogram_destroy(&h);
}

// Empty data, all-equal values, NaN and infinities, as numpy would bin the
// finite values.
static void test_hist_edge_cases(void)
{
    wandb_histogram_t *h = NULL;
    CHECK_OK(wandb_histogram_new(&h, NULL, WANDB_DTYPE_FLOAT64, 0, 2));
    s_check_hist(h, (const double[]){0, 0}, (const double[]){0, 0.5, 1}, 2);
    wandb_histogram_destroy(&h);
    const double same[] = {3, 3, 3};
    CHECK_OK(wandb_histogram_new(&h, same, WANDB_DTYPE_FLOAT64, 3, 2));
    s_check_hist(h, (const double[]){0, 3}, (const double[]){2.5, 3, 3.5}, 2);
    wandb_histogram_destroy(&h);
    const double odd[] = {NAN, 1, INFINITY, 3, -INFINITY};
    CHECK_OK(wandb_histogram_new(&h, odd, WANDB_DTYPE_FLOAT64, 5, 2));
    s_check_hist(h, (const double[]){1, 1}, (const double[]){1, 2, 3}, 2);
    CHECK_EQ(wandb_histogram_nonfinite(h), 3);
    wandb_histogram_destroy(&h);
    const double nan_only[] = {NAN, NAN};
    CHECK_OK(wandb_histogram_new(&h, nan_only, WANDB_DTYPE_FLOAT64, 2, 1));
    s_check_hist(h, (const double[]){0}, (const double[]){0, 1}, 1);
    CHECK_EQ(wandb_histogram_nonfinite(h), 2);
    wandb_histogram_destroy(&h);
    // 0.1 .. 0.3 in 3 bins: 0.2 sits on an edge computed as 0.1 + 1 * (0.2/3),
    // and numpy's correction against the edges decides its bin.
    const double tenths[] = {0.1, 0.2, 0.3};
    CHECK_OK(wandb_histogram_new(&h, tenths, WANDB_DTYPE_FLOAT64, 3, 3));
    s_check_hist(h, (const double[]){1, 1, 1}, NULL, 3);
    wandb_histogram_destroy(&h);
}

// Given edges (numpy.histogram(data, bins=edges)) and given counts
// (np_histogram), with their errors.
static void test_hist_given(void)
{
    const double data[] = {-1, 0, 0.5, 1, 2, 2, 5, NAN};
    const double edges[] = {0, 1, 2, 2, 3};
    wandb_histogram_t *h = NULL;
    CHECK_OK(wandb_histogram_new_edges(&h, data, WANDB_DTYPE_FLOAT64, 8, edges, 5));
    // [0,1): 0, 0.5; [1,2): 1; [2,2): none; [2,3]: 2, 2. -1 and 5 outside, NaN counted apart.
    s_check_hist(h, (const double[]){2, 1, 0, 2}, edges, 4);
    CHECK_EQ(wandb_histogram_nonfinite(h), 1);
    wandb_histogram_destroy(&h);
    const double bad_edges[] = {0, 2, 1};
    CHECK_ERR(wandb_histogram_new_edges(&h, data, WANDB_DTYPE_FLOAT64, 8, bad_edges, 3),
              WANDB_EINVAL);
    CHECK_ERR(wandb_histogram_new_edges(&h, data, WANDB_DTYPE_FLOAT64, 8, edges, 1), WANDB_EINVAL);
    const double counts[] = {3, 0.5};
    const double ce[] = {0, 1, 2};
    CHECK_OK(wandb_histogram_from_counts(&h, counts, ce, 2));
    CHECK_STREQ(wandb_histogram_json(h),
                "{\"_type\":\"histogram\",\"values\":[3,0.5],\"bins\":[0.0,1.0,2.0]}");
    wandb_histogram_destroy(&h);
    const double negative[] = {-1, 0};
    CHECK_ERR(wandb_histogram_from_counts(&h, negative, ce, 2), WANDB_EINVAL);
    const double inf_edges[] = {0, INFINITY, 2};
    CHECK_ERR(wandb_histogram_from_counts(&h, counts, inf_edges, 2), WANDB_EINVAL);
    CHECK_ERR(wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 8, 513), WANDB_EINVAL);
    CHECK_ERR(wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 8, -1), WANDB_EINVAL);
    CHECK_ERR(wandb_histogram_new(&h, data, (wandb_dtype)9, 8, 4), WANDB_EINVAL);
    CHECK_ERR(wandb_histogram_new(&h, NULL, WANDB_DTYPE_FLOAT64, 8, 4), WANDB_EINVAL);
    CHECK(h == NULL);
    CHECK_OK(wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 8, 512));
    CHECK_EQ(wandb_histogram_bins(h), 512);
    wandb_histogram_destroy(&h);
}

// The official watch's rules: nothing for no finite value, one bin when all
// are equal, 64 bins otherwise with NaN/inf left out.
static void test_hist_watch(void)
{
    char *json = NULL;
    const double nan_only[] = {NAN, INFINITY};
    CHECK_OK(wbi_hist_watch_json(nan_only, WANDB_DTYPE_FLOAT64, 2, 64, &json));
    CHECK(json == NULL);
    CHECK_OK(wbi_hist_watch_json(NULL, WANDB_DTYPE_FLOAT64, 0, 64, &json));
    CHECK(json == NULL);
    const float same[] = {2.5f, 2.5f, NAN, 2.5f};
    CHECK_OK(wbi_hist_watch_json(same, WANDB_DTYPE_FLOAT32, 4, 64, &json));
    CHECK_STREQ(json, "{\"_type\":\"histogram\",\"values\":[3],\"bins\":[2.5,2.5]}");
    wbi_free(json);
    const double spread[] = {0, 1, 2, 3, NAN};
    CHECK_OK(wbi_hist_watch_json(spread, WANDB_DTYPE_FLOAT64, 5, 3, &json));
    CHECK_STREQ(json, "{\"_type\":\"histogram\",\"values\":[1,1,2],\"bins\":[0.0,1.0,2.0,3.0]}");
    wbi_free(json);
}

// Numbers laid out as pydantic_core (ryu) writes them in table files.
static void test_json_layout(void)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0, "0.0"},
        {-0.0, "-0.0"},
        {1, "1.0"},
        {0.1, "0.1"},
        {1.5, "1.5"},
        {123.25, "123.25"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {1.5e16, "1.5e+16"},
        {0.0001, "0.0001"},
        {0.00001, "0.00001"},
        {0.000001, "1e-6"},
        {1.5e-7, "1.5e-7"},
        {-2.5e300, "-2.5e+300"},
        {123456789.125, "123456789.125"},
        {NAN, "NaN"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wbi_buf_t b;
        wbi_buf_init(&b, 64);
        CHECK_OK(wbi_mjson_double(&b, cases[i].d));
        CHECK_OK(wbi_buf_putc(&b, '\0'));
        CHECK_STREQ(b.data, cases[i].want);
        wbi_buf_release(&b);
    }
    wbi_buf_t b;
    wbi_buf_init(&b, 256);
    CHECK_OK(wbi_mjson_string(&b, "a\"b\\c\n\x01\xc3\xa9", 9));
    CHECK_OK(wbi_buf_putc(&b, '\0'));
    CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
    wbi_buf_release(&b);
    wbi_buf_init(&b, 256);
    CHECK_ERR(wbi_mjson_string(&b, "\xff", 1), WANDB_EINVAL);
    wbi_buf_release(&b);
}

// Run-file names of media as the official client makes them.
static void test_names(void)
{
    char name[WBI_MEDIA_NAME_MAX];
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_OK(wbi_media_name(name, "media/images", "examples", 7, sha, ".png"));
    CHECK_STREQ(name, "media/images/examples_7_0123456789abcdef0123.png");
    CHECK_OK(wbi_media_name(name, "media/table", "/eval/../t.x", 0, sha, ".table.json"));
    CHECK_STREQ(name, "media/table/eval/__/t.x_0_0123456789abcdef0123.table.json");
    CHECK_ERR(wbi_media_name(name, "media/images", "a//b", 0, sha, ".png"), WANDB_EINVAL);
    CHECK_ERR(wbi_media_name(name, "media/images", "/", 0, sha, ".png"), WANDB_EINVAL);
}

// Table rows: typed cells in the official file layout; bad rows are not added.
static void test_table_rows(void)
{
    wandb_table_t *t = NULL;
    const char *cols[] = {"id", "name", "score", "ok", "extra"};
    CHECK_OK(wandb_table_new(&t, cols, 5));
    CHECK_OK(wandb_table_row(t, WANDB_CELL_INT(1), WANDB_CELL_STRING("a\"b"),
                             WANDB_CELL_DOUBLE(0.5), WANDB_CELL_BOOL(true), WANDB_CELL_NULL));
    CHECK_OK(wandb_table_row(t, WANDB_CELL_INT(2), WANDB_CELL_STRING("\xc3\xa9"),
                             WANDB_CELL_DOUBLE(NAN), WANDB_CELL_BOOL(false),
                             WANDB_JSON(NULL, "{\"b\":1.0,\"a\":[1,2]}")));
    CHECK_ERR(wandb_table_row(t, WANDB_CELL_INT(3)), WANDB_EINVAL);
    CHECK_ERR(wandb_table_row(t, WANDB_CELL_INT(3), WANDB_CELL_STRING("x"), WANDB_CELL_DOUBLE(1),
                              WANDB_CELL_BOOL(true), WANDB_JSON(NULL, "{bad")),
              WANDB_EINVAL);
    CHECK_EQ(wandb_table_nrows(t), 2);
    CHECK_EQ(wandb_table_ncols(t), 5);
    wandb_table_destroy(&t);
    CHECK(t == NULL);
    const char *dup[] = {"a", "a"};
    CHECK_ERR(wandb_table_new(&t, dup, 2), WANDB_EINVAL);
    CHECK_ERR(wandb_table_new(&t, cols, 0), WANDB_EINVAL);
    CHECK(t == NULL);
}

// Images from pixels and their errors (no run needed).
static void test_image_objects(void)
{
    uint8_t px[2 * 3 * 4] = {0};
    wandb_image_t *img = NULL;
    CHECK_OK(wandb_image_new(&img, px, 3, 2, 4));
    CHECK_EQ(wandb_image_width(img), 3);
    CHECK_EQ(wandb_image_height(img), 2);
    CHECK_OK(wandb_image_set_caption(img, "cap"));
    CHECK_ERR(wandb_image_set_caption(img, "\xff"), WANDB_EINVAL);
    CHECK_OK(wandb_image_set_caption(img, NULL));
    wandb_image_destroy(&img);
    CHECK(img == NULL);
    CHECK_ERR(wandb_image_new(&img, px, 3, 2, 2), WANDB_EINVAL);
    CHECK_ERR(wandb_image_new(&img, px, 0, 2, 3), WANDB_EINVAL);
    CHECK_ERR(wandb_image_new(&img, NULL, 3, 2, 3), WANDB_EINVAL);
    CHECK_ERR(wandb_image_new_png_file(&img, "/nonexistent/x.png"), WANDB_ENOTFOUND);
    CHECK_ERR(wandb_image_new_png_file(&img, "/"), WANDB_EIO);
    CHECK(img == NULL);
}

// Every allocation of the constructors failing in turn: WANDB_ENOMEM, no
// object, nothing leaked (ASan); a failed row leaves the table as it was.
static void test_out_of_memory(void)
{
    const double data[] = {1, 2, 3};
    const uint8_t px[12] = {0};
    const char *cols[] = {"a", "b"};
    bool done[4] = {false, false, false, false};
    for (uint64_t n = 1; n < 64 && !(done[0] && done[1] && done[2] && done[3]); n++) {
        wandb_histogram_t *h = NULL;
        wandb_image_t *img = NULL;
        wandb_table_t *t = NULL;
        wbi_alloc_fail_after(n);
        wandb_err rh = wandb_histogram_new(&h, data, WANDB_DTYPE_FLOAT64, 3, 8);
        wbi_alloc_fail_after(n);
        wandb_err ri = wandb_image_new(&img, px, 2, 2, 3);
        wbi_alloc_fail_after(n);
        wandb_err rt = wandb_table_new(&t, cols, 2);
        wbi_alloc_fail_after(0);
        CHECK(rh == WANDB_OK || (rh == WANDB_ENOMEM && h == NULL));
        CHECK(ri == WANDB_OK || (ri == WANDB_ENOMEM && img == NULL));
        CHECK(rt == WANDB_OK || (rt == WANDB_ENOMEM && t == NULL));
        done[0] |= rh == WANDB_OK;
        done[1] |= ri == WANDB_OK;
        done[2] |= rt == WANDB_OK;
        if (t) {
            CHECK_OK(wandb_table_row(t, WANDB_CELL_INT(1), WANDB_CELL_STRING("x")));
            wbi_alloc_fail_after(n);
            wandb_err rr = wandb_table_row(t, WANDB_CELL_INT(2), WANDB_CELL_STRING("y"));
            wbi_alloc_fail_after(0);
            CHECK(rr == WANDB_OK || rr == WANDB_ENOMEM);
            CHECK_EQ(wandb_table_nrows(t), rr == WANDB_OK ? 2 : 1);
            done[3] |= rr == WANDB_OK;
        }
        wandb_histogram_destroy(&h);
        wandb_image_destroy(&img);
        wandb_table_destroy(&t);
    }
    CHECK(done[0] && done[1] && done[2] && done[3]);
}

WBT_MAIN({"hist_basic", test_hist_basic}, {"hist_edge_cases", test_hist_edge_cases},
         {"hist_given", test_hist_given}, {"hist_watch", test_hist_watch},
         {"json_layout", test_json_layout}, {"names", test_names}, {"table_rows", test_table_rows},
         {"image_objects", test_image_objects}, {"out_of_memory", test_out_of_memory})
