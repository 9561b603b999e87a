//  test_logger_e2e.c - wandb_init/log/finish through the in-process
//  aggregator into the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, runs the public API with no aggregator endpoint (so the
//  library starts one in the process) and reads the run back through the
//  server's JSON API. Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server of every test

// Finds a run by id in a /api/v1/runs answer.
static json_t *s_find(json_t *runs, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && strcmp(n, name) == 0)
            return r;
    }
    return NULL;
}

// Settings for a run into the test server, without an aggregator endpoint.
static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "lgproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "group", "e2e-group"));
    CHECK_OK(wandb_settings_set(s, "tags", "c,e2e"));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    CHECK_OK(wandb_settings_config_json(s, "{\"lr\": 0.1, \"opt\": {\"name\": \"adam\"}}"));
    return s;
}

// Normal use: 50 rows (some assembled from partial calls), config and
// summary updates; everything lands in the server and the run is finished.
static void test_run_into_server(void)
{
    wandb_settings_t *s = s_settings("lg-e2e-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_config_update(run, WANDB_INT("batch", 32)));
    for (int k = 0; k < 50; k++) {
        if (k % 10 == 0) {
            CHECK_OK(wandb_log_partial(run, WANDB_INT("epoch", k / 10)));
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", k + 0.5)));
        } else {
            CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", k + 0.5), WANDB_STRING("phase", "t")));
        }
    }
    CHECK_ERR(wandb_log_step(run, 10, WANDB_DOUBLE("loss", 1)), WANDB_ESTEP);
    CHECK_OK(wandb_summary_update(run, WANDB_DOUBLE("best_loss", 0.5)));
    CHECK_EQ(wandb_run_step(run), 50);
    for (int i = 0; i < 5000 && wandb_run_entity(run)[0] == '\0'; i++)
        usleep(1000);
    CHECK(wandb_run_entity(run)[0] != '\0'); // WELCOME came back
    CHECK(strstr(wandb_run_url(run), "/lgproj/runs/lg-e2e-1") != NULL);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(run == NULL && wandb_run() == NULL);
    wandb_settings_destroy(&s);

    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=lgproj");
    json_t *r = s_find(list, "lg-e2e-1");
    if (!r)
        WBT_FAIL("run lg-e2e-1 not listed");
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 50);
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 0);
    CHECK_STREQ(json_string_value(json_object_get(r, "group")), "e2e-group");
    json_t *cfg = json_object_get(r, "config");
    CHECK(json_object_get(cfg, "lr") != NULL);
    CHECK(json_object_get(cfg, "batch") != NULL);
    json_t *sum = json_object_get(r, "summary");
    double loss = 0;
    CHECK(wbi_jsonx_number(json_object_get(sum, "loss"), &loss) && loss == 49.5);
    CHECK(json_object_get(sum, "best_loss") != NULL);
    json_decref(list);

    json_t *hist = wbt_http_get(&s_srv, "/api/v1/runs/lg-e2e-1/history?project=lgproj");
    json_t *rows = json_object_get(hist, "rows");
    CHECK_EQ(json_array_size(rows), 50);
    for (size_t k = 0; k < 50; k++) {
        json_t *row = json_array_get(rows, k);
        CHECK_EQ(json_integer_value(json_object_get(row, "_step")), k);
        double v = 0;
        CHECK(wbi_jsonx_number(json_object_get(row, "loss"), &v) && v == (double)k + 0.5);
        if (k % 10 == 0)
            CHECK_EQ(json_integer_value(json_object_get(row, "epoch")), k / 10);
        else
            CHECK_STREQ(json_string_value(json_object_get(row, "phase")), "t");
    }
    json_decref(hist);
}

// A failing exit code marks the run failed; a second run can follow.
static void test_failed_run(void)
{
    wandb_settings_t *s = s_settings("lg-e2e-2");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("x", 1)));
    CHECK_OK(wandb_finish(&run, 3));
    wandb_settings_destroy(&s);
    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=lgproj");
    json_t *r = s_find(list, "lg-e2e-2");
    if (!r)
        WBT_FAIL("run lg-e2e-2 not listed");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(r, "exit_code")), 3);
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 1);
    json_decref(list);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"run_into_server", test_run_into_server},
                                       {"failed_run", test_failed_run}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    return rc;
}
