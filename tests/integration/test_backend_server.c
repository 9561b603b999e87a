//  test_backend_server.c - the backend client against the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port, logs two runs through one backend and reads them back
//  through the server's JSON API. Exits 77 (CTest: skipped) with a message
//  when the server binary is not built.
#include "backend/backend.h"
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <jansson.h>
#include <unistd.h>

#define S_KEY "local-0123456789012345678901234567890123456789"

static char s_bin[1024];   // the server binary
static wbt_server_t s_srv; // the server of the test

// Finds a run by name in a /api/v1/runs answer.
static json_t *s_find(json_t *runs, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

// Two runs through one backend land in the server over one connection.
static void test_two_runs_into_server(void)
{
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, s_bin, NULL, extra);
    json_t *st0 = wbt_http_get(&s_srv, "/api/v1/stats");
    json_int_t c0 = json_integer_value(json_object_get(st0, "connections"));
    json_decref(st0);

    wbi_backend_opts_t o = {.base_url = s_srv.url,
                            .api_key = S_KEY,
                            .flush_interval_ms = 50,
                            .heartbeat_ms = 10000,
                            .request_timeout_ms = 5000,
                            .retry_min_ms = 20,
                            .retry_max_ms = 200};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    const char *names[2] = {"srv-run-a", "srv-run-b"};
    wbi_backend_run_t *runs[2];
    for (int r = 0; r < 2; r++) {
        wbi_run_meta_t m = {.run_id = names[r],
                            .project = "bkproj",
                            .group = "job-9",
                            .job_type = "train",
                            .display_name = r ? "rank-1" : "rank-0",
                            .tags = "mpi,c",
                            .config_json = "{\"lr\":0.1,\"odd\":NaN}"};
        runs[r] = wbi_backend_run_open(b, &m);
        CHECK(runs[r]);
    }
    for (int k = 0; k < 30; k++) {
        for (int r = 0; r < 2; r++) {
            char line[128];
            int n = snprintf(line, sizeof line,
                             "{\"loss\":%d.5,\"_step\":%d,\"_runtime\":1.0,\"_timestamp\":1.0e9}",
                             k, k);
            wbi_backend_run_history(b, runs[r], line, (size_t)n);
        }
        if (k == 15)
            usleep(80 * 1000);
    }
    wbi_backend_run_summary(b, runs[0], "{\"loss\":29.5,\"_step\":29}", 25);
    wbi_backend_run_finish(b, runs[0], 0);
    wbi_backend_run_finish(b, runs[1], 2);
    CHECK_OK(wbi_backend_drain(b, 15000));
    char entity[128];
    CHECK(wbi_backend_run_entity(b, runs[0], entity, sizeof entity));
    CHECK(entity[0] != '\0');
    wbi_backend_stats_t stats;
    wbi_backend_get_stats(b, &stats);
    CHECK_EQ(stats.history_lines_sent, 60);
    CHECK_EQ(stats.failures, 0);
    wbi_backend_destroy(&b);

    json_t *st1 = wbt_http_get(&s_srv, "/api/v1/stats");
    json_int_t c1 = json_integer_value(json_object_get(st1, "connections"));
    json_decref(st1);
    if (c1 - c0 != 2) // the backend's one connection plus this GET
        WBT_FAIL("server saw %lld connections from the backend, want 1", (long long)(c1 - c0 - 1));

    json_t *list = wbt_http_get(&s_srv, "/api/v1/runs?project=bkproj");
    for (int r = 0; r < 2; r++) {
        json_t *run = s_find(list, names[r]);
        if (!run)
            WBT_FAIL("run %s not listed", names[r]);
        CHECK_EQ(json_integer_value(json_object_get(run, "history_count")), 30);
        CHECK_EQ(json_integer_value(json_object_get(run, "exit_code")), r ? 2 : 0);
        CHECK_STREQ(json_string_value(json_object_get(run, "state")), r ? "failed" : "finished");
        CHECK_STREQ(json_string_value(json_object_get(run, "group")), "job-9");
        CHECK(json_object_get(json_object_get(run, "config"), "lr") != NULL);
        CHECK_EQ(json_array_size(json_object_get(run, "tags")), 2);
    }
    json_t *sum = json_object_get(s_find(list, names[0]), "summary");
    CHECK(json_object_get(sum, "loss") != NULL);
    json_decref(list);

    char path[256];
    snprintf(path, sizeof path, "/api/v1/runs/%s/history?project=bkproj", names[1]);
    json_t *hist = wbt_http_get(&s_srv, path);
    json_t *rows = json_object_get(hist, "rows");
    CHECK_EQ(json_array_size(rows), 30);
    for (size_t k = 0; k < 30; k++)
        CHECK_EQ(json_integer_value(json_object_get(json_array_get(rows, k), "_step")), k);
    json_decref(hist);
    wbt_server_release(&s_srv);
}

int main(int argc, char **argv)
{
    wbt_server_path(s_bin, sizeof s_bin, true);
    wbt_server_require(s_bin);
    static const wbt_case_t cases[] = {{"two_runs_into_server", test_two_runs_into_server}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    return rc;
}
