//  test_example_save.c - examples/save_files against the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Runs the example (the seed's Run.save docstring in C, then a restore) in
//  a new directory with WANDB_BASE_URL and WANDB_API_KEY pointing at a
//  server on an ephemeral port, then checks the exact names the server
//  holds for its run and the bytes of the restored file. Exits 77 (CTest:
//  skipped) when the server or the example is not built.
#include "harness/server_harness.h"
#include "testutil.h"

#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"

static wbt_server_t s_srv; // the server
static const char *s_work; // the example's directory (wbt_work_dir)

// The example's five saves give exactly these names.
static void test_seed_names(void)
{
    char bin[1024];
    const char *dir = getenv("WANDB_TEST_BIN_DIR");
    snprintf(bin, sizeof bin, "%s/examples/save_files", dir ? dir : ".");
    if (access(bin, X_OK) != 0)
        WBT_SKIP("examples/save_files is not built (WANDB_BUILD_EXAMPLES=OFF)");
    wbt_run_env_clear();
    CHECK(setenv("WANDB_BASE_URL", s_srv.url, 1) == 0);
    CHECK(setenv("WANDB_API_KEY", S_KEY, 1) == 0);
    const char *argv[] = {bin, s_work, NULL};
    char out[2048];
    CHECK_EQ(wbt_run_capture(argv, out, sizeof out, 60000), 0);
    char run_path[256] = "";
    char restored[1024] = "";
    CHECK(sscanf(out, "run %255s restored %1023s", run_path, restored) == 2);
    const char *id = strrchr(run_path, '/');
    CHECK(id != NULL);
    char url[512];
    snprintf(url, sizeof url, "/api/v1/runs/%s/files?project=save-examples", id + 1);
    json_t *files = wbt_http_get(&s_srv, url);
    static const char *const want[] = {"these/are/myfiles/a.txt",
                                       "these/are/myfiles/b.txt",
                                       "are/myfiles/a.txt",
                                       "are/myfiles/b.txt",
                                       "run123/r.txt",
                                       "username/Documents/run123/r.txt",
                                       "files/x/saveme.txt",
                                       "files/y/saveme.txt"};
    json_t *list = json_object_get(files, "files");
    CHECK_EQ(json_array_size(list), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        size_t j;
        json_t *f;
        json_array_foreach(list, j, f)
        {
            found = found || strcmp(json_string_value(json_object_get(f, "name")), want[i]) == 0;
        }
        if (!found)
            WBT_FAIL("'%s' is not among the run's files", want[i]);
    }
    json_decref(files);
    char want_path[256];
    snprintf(want_path, sizeof want_path, "%s/restored/are/myfiles/a.txt", s_work);
    CHECK_STREQ(restored, want_path);
    FILE *f = fopen(restored, "r");
    CHECK(f != NULL);
    char text[64] = "";
    CHECK(fgets(text, sizeof text, f) != NULL);
    fclose(f);
    CHECK_STREQ(text, "these/are/myfiles/a.txt\n");
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    s_work = wbt_work_dir("example-save");
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"seed_names", test_seed_names}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wbt_server_release(&s_srv);
    wbt_work_dir_remove();
    return rc;
}
