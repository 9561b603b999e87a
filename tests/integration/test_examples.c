//  test_examples.c - runs the C examples of the seed and checks their rows
//  SPDX-License-Identifier: MIT
//
//  Runs examples/log_forms against the real wandb-mpi-server: the three
//  equivalent log forms store the same two rows, and the sections example
//  stores its "/" keys as given.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server of every test

// The stored history rows of run id (a new reference).
static json_t *s_history(const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=examples", id);
    json_t *hist = wbt_http_get(&s_srv, path);
    json_t *rows = json_incref(json_object_get(hist, "rows"));
    json_decref(hist);
    if (!json_is_array(rows))
        WBT_FAIL("no history rows for '%s'", id);
    return rows;
}

static double s_num(const json_t *row, const char *key)
{
    double d = -1;
    if (!wbi_jsonx_number(json_object_get(row, key), &d))
        WBT_FAIL("no number '%s' in a row", key);
    return d;
}

static void test_log_forms(void)
{
    const char *bin_dir = getenv("WANDB_TEST_BIN_DIR");
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/examples/log_forms", bin_dir ? bin_dir : ".");
    wbt_run_env_clear();
    setenv("WANDB_BASE_URL", s_srv.url, 1);
    setenv("WANDB_API_KEY", S_KEY, 1);
    setenv("WANDB_PROJECT", "examples", 1);
    const char *argv[] = {bin, "ex", NULL};
    char out[256];
    CHECK_EQ(wbt_run_capture(argv, out, sizeof out, 60000), 0);
    const char *forms[] = {"ex-normal", "ex-partial", "ex-explicit"};
    for (int f = 0; f < 3; f++) {
        json_t *rows = s_history(forms[f]);
        CHECK_EQ(json_array_size(rows), 2);
        for (size_t k = 0; k < 2; k++) {
            json_t *row = json_array_get(rows, k);
            CHECK_EQ(json_integer_value(json_object_get(row, "_step")), (json_int_t)k);
            CHECK(s_num(row, "train-loss") == (k == 0 ? 0.5 : 0.4));
            CHECK(s_num(row, "accuracy") == (k == 0 ? 0.8 : 0.9));
        }
        json_decref(rows);
    }
    json_t *rows = s_history("ex-sections");
    CHECK_EQ(json_array_size(rows), 2);
    json_t *row = json_array_get(rows, 0);
    CHECK(s_num(row, "train/accuracy") == 0.9 && s_num(row, "train/loss") == 30);
    CHECK(s_num(row, "validate/accuracy") == 0.8 && s_num(row, "validate/loss") == 20);
    CHECK(s_num(json_array_get(rows, 1), "epoch") == 40);
    json_decref(rows);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"log_forms", test_log_forms}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wbt_server_release(&s_srv);
    return rc;
}
