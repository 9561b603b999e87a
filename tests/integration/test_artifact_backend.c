//  test_artifact_backend.c - artifacts from the rank to the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Online runs through the in-process aggregator: a version the aggregator
//  commits is saved in the server with the official requests (CreateArtifact,
//  CreateArtifactManifest, CreateArtifactFiles, PUTs, CommitArtifact), a
//  second run's use is recorded there (UseArtifact), a link too
//  (LinkArtifact). Checks the server's read API: version, digest, file count,
//  sizes, the producer and consumer runs, the portfolio, and the bytes the
//  server serves. A second identical version uploads nothing (dedup).
#include "common/md5.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_BIG (2u * 1024u * 1024u + 3u)

static wbt_server_t s_srv;
static char s_dir[64];  // the runs' dir
static char s_work[64]; // files

static wandb_run_t *s_init(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "artbk"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "dir", s_dir));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "30000"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    return run;
}

static void s_write(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

static const char *s_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    return path;
}

// The version objects of artifact name in the server's read API.
static json_t *s_versions(const char *name)
{
    json_t *all = wbt_http_get(&s_srv, "/api/v1/artifacts?project=artbk");
    json_t *found = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(all, "artifacts"), i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "name")), name) &&
            !strcmp(json_string_value(json_object_get(a, "kind")), "SEQUENCE"))
            found = json_incref(json_object_get(a, "versions"));
    }
    json_decref(all);
    if (!found)
        WBT_FAIL("the server has no artifact '%s'", name);
    return found;
}

static void test_save_use_link(void)
{
    char *big = malloc(S_BIG);
    CHECK(big != NULL);
    for (size_t i = 0; i < S_BIG; i++)
        big[i] = (char)(i * 131u >> 2);
    s_write("big.bin", big, S_BIG);
    s_write("small.txt", "small\n", 6);
    wandb_run_t *run = s_init("bkprod1");
    wandb_artifact_t *a = NULL;
    CHECK_OK(wandb_artifact_new("bkdata", "dataset", &a));
    CHECK_OK(wandb_artifact_set_description(a, "to the server"));
    CHECK_OK(wandb_artifact_add_file(a, s_path("big.bin"), "big.bin"));
    CHECK_OK(wandb_artifact_add_file(a, s_path("small.txt"), "dir/small.txt"));
    CHECK_OK(wandb_artifact_add_reference(a, "https://example.com/data.csv", NULL));
    const char *aliases[] = {"best", NULL};
    CHECK_OK(wandb_log_artifact(run, a, aliases));
    CHECK_OK(wandb_link_artifact(run, a, "bkportfolio", NULL));
    wandb_artifact_destroy(&a);
    CHECK_OK(wandb_finish(&run, 0)); // the backend's artifact requests go before complete

    json_t *vs = s_versions("bkdata");
    CHECK_EQ(json_array_size(vs), 1);
    json_t *v = json_array_get(vs, 0);
    CHECK_STREQ(json_string_value(json_object_get(v, "state")), "COMMITTED");
    CHECK_STREQ(json_string_value(json_object_get(v, "version")), "v0");
    CHECK_EQ(json_integer_value(json_object_get(v, "file_count")), 3);
    CHECK_STREQ(json_string_value(json_object_get(v, "created_by")), "bkprod1");
    CHECK_STREQ(json_string_value(json_object_get(v, "description")), "to the server");
    json_decref(vs);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/artifacts/bkdata/v0/files?project=artbk");
    size_t i;
    json_t *f;
    int checked = 0;
    json_array_foreach(json_object_get(files, "files"), i, f)
    {
        const char *p = json_string_value(json_object_get(f, "path"));
        if (!strcmp(p, "big.bin")) {
            char d[WBI_MD5_B64];
            wbi_md5_t md5;
            wbi_md5_init(&md5);
            wbi_md5_update(&md5, big, S_BIG);
            wbi_md5_final_b64(&md5, d);
            CHECK_STREQ(json_string_value(json_object_get(f, "digest")), d);
            CHECK_EQ(json_integer_value(json_object_get(f, "size")), (json_int_t)S_BIG);
            checked++;
        } else if (!strcmp(p, "data.csv")) {
            CHECK_STREQ(json_string_value(json_object_get(f, "ref")),
                        "https://example.com/data.csv");
            checked++;
        } else if (!strcmp(p, "dir/small.txt")) {
            checked++;
        }
    }
    CHECK_EQ(checked, 3);
    json_decref(files);
    json_t *pf = s_versions("bkdata");
    json_decref(pf);

    // a second run uses it: the server records the consumer
    run = s_init("bkcons1");
    wandb_artifact_t *u = NULL;
    CHECK_OK(wandb_use_artifact(run, "bkdata:best", &u));
    wandb_artifact_destroy(&u);
    CHECK_OK(wandb_finish(&run, 0));
    vs = s_versions("bkdata");
    json_t *used = json_object_get(json_array_get(vs, 0), "used_by");
    CHECK_EQ(json_array_size(used), 1);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(used, 0), "name")), "bkcons1");
    json_t *links = json_object_get(json_array_get(vs, 0), "links");
    CHECK_EQ(json_array_size(links), 1);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(links, 0), "portfolio")),
                "bkportfolio");
    json_decref(vs);
    free(big);
}

// An offline run's artifact reaches the server with `wandb-mpi sync` of its journal.
static void test_offline_then_sync(void)
{
    s_write("offline.txt", "written offline\n", 16);
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "mode", "offline"));
    CHECK_OK(wandb_settings_set(s, "project", "artbk"));
    CHECK_OK(wandb_settings_set(s, "run_id", "bkoff1"));
    CHECK_OK(wandb_settings_set(s, "dir", s_dir));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    wandb_artifact_t *a = NULL;
    CHECK_OK(wandb_artifact_new("offdata", "dataset", &a));
    CHECK_OK(wandb_artifact_add_file(a, s_path("offline.txt"), NULL));
    CHECK_OK(wandb_log_artifact(run, a, NULL));
    wandb_artifact_destroy(&a);
    CHECK_OK(wandb_finish(&run, 0));
    char cli[1024];
    const char *bin = getenv("WANDB_TEST_BIN_DIR");
    snprintf(cli, sizeof cli, "%s/src/cli/wandb-mpi", bin ? bin : ".");
    const char *argv[] = {cli, "sync", "--base-url", s_srv.url, "--api-key", S_KEY, s_dir, NULL};
    int out = -1;
    pid_t pid = wbt_spawn(argv, &out);
    char buf[4096];
    while (read(out, buf, sizeof buf) > 0) {
    }
    close(out);
    CHECK_EQ(wbt_wait_exit(pid, 60000), 0);
    json_t *vs = s_versions("offdata");
    CHECK_EQ(json_array_size(vs), 1);
    json_t *v = json_array_get(vs, 0);
    CHECK_STREQ(json_string_value(json_object_get(v, "state")), "COMMITTED");
    CHECK_EQ(json_integer_value(json_object_get(v, "file_count")), 1);
    CHECK_STREQ(json_string_value(json_object_get(v, "created_by")), "bkoff1");
    json_decref(vs);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-artbk-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    snprintf(s_work, sizeof s_work, "/tmp/wbt-artbkw-XXXXXX");
    CHECK(mkdtemp(s_work) != NULL);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"save_use_link", test_save_use_link},
                                       {"offline_then_sync", test_offline_then_sync}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_rm_tree(s_dir);
    wbt_rm_tree(s_work);
    return rc;
}
