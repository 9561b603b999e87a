//  test_save.c - wandb_save end to end: rank -> ring -> aggregator -> backend ->
//  the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port and saves files with each policy through the public API
//  (in-process aggregator, a small ring so that a 3 MiB file streams through
//  it in chunks). Then checks GET /api/v1/runs/<id>/files and the bytes the
//  server stored under DIR/files/<entity>/<project>/<run>/<name>: "now" as
//  saved, "live" with the bytes it had at finish, "end" read at finish.
//  Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_BIG (3u * 1024u * 1024u + 17u) // bytes of the large file

static wbt_server_t s_srv; // the server of every test
static char s_work[64];    // where the test writes the files it saves
static pid_t s_work_owner; // the process that made it

// Settings for a run into the test server, without an aggregator endpoint.
static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "saveproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "262144")); // smaller than the big file
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "30000"));
    return s;
}

// Writes len bytes of data to s_work/name (creating s_work/sub).
static void s_write(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/sub", s_work);
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

// Path of s_work/name in a static buffer (one at a time).
static const char *s_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    return path;
}

// Checks that the server stored name for the run with exactly len bytes of data.
static void s_check_stored(const char *entity, const char *run_id, const char *name,
                           const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/files/%s/saveproj/%s/%s", s_srv.dir, entity, run_id, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        WBT_FAIL("'%s' was not stored at %s", name, path);
    char *got = malloc(len + 1);
    CHECK(got != NULL);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(got, data, len) != 0)
        WBT_FAIL("'%s': stored %zu bytes, want %zu (or the bytes differ)", name, n, len);
    free(got);
}

// Finds name in a /files answer and checks its size and upload flag.
static void s_check_listed(json_t *files, const char *name, size_t size)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(files, "files"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0) {
            CHECK_EQ(json_integer_value(json_object_get(f, "size")), size);
            json_t *up = json_object_get(f, "uploaded");
            CHECK(json_is_true(up) || json_integer_value(up) == 1);
            return;
        }
    }
    WBT_FAIL("'%s' is not listed by /files", name);
}

// The three policies, an empty file, a file larger than the ring and a
// relative name: all stored with their final bytes and reported uploaded.
static void test_policies(void)
{
    static const char now1[] = "saved with policy now\n";
    static const char live1[] = "live v1\n";
    static const char live2[] = "live v2, changed after save\n";
    static const char end1[] = "end, as it was at save time\n";
    static const char end2[] = "end, as it is at finish\n";
    char *big = malloc(S_BIG);
    CHECK(big != NULL);
    for (size_t i = 0; i < S_BIG; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    s_write("now.txt", now1, strlen(now1));
    s_write("live.txt", live1, strlen(live1));
    s_write("sub/end.txt", end1, strlen(end1));
    s_write("empty.bin", "", 0);
    s_write("big.bin", big, S_BIG);

    wandb_settings_t *s = s_settings("save-1");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.5)));
    CHECK_OK(wandb_save(run, s_path("now.txt"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, s_path("live.txt"), s_work, WANDB_SAVE_LIVE));
    CHECK_OK(wandb_save(run, s_path("sub/end.txt"), s_work, WANDB_SAVE_END));
    CHECK_OK(wandb_save(run, s_path("empty.bin"), NULL, WANDB_SAVE_NOW)); // name: last segment
    CHECK_OK(wandb_save(run, s_path("big.bin"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_log(run, WANDB_DOUBLE("loss", 0.25)));
    usleep(300 * 1000); // let the first uploads happen before the files change
    s_write("live.txt", live2, strlen(live2));
    s_write("sub/end.txt", end2, strlen(end2));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    json_t *r = wbt_http_get(&s_srv, "/api/v1/runs/save-1?project=saveproj");
    CHECK_STREQ(json_string_value(json_object_get(r, "state")), "finished");
    CHECK_EQ(json_integer_value(json_object_get(r, "history_count")), 2);
    char entity[128];
    snprintf(entity, sizeof entity, "%s", json_string_value(json_object_get(r, "entity")));
    json_decref(r);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/save-1/files?project=saveproj");
    s_check_listed(files, "now.txt", strlen(now1));
    s_check_listed(files, "live.txt", strlen(live2));
    s_check_listed(files, "sub/end.txt", strlen(end2));
    s_check_listed(files, "empty.bin", 0);
    s_check_listed(files, "big.bin", S_BIG);
    json_decref(files);
    s_check_stored(entity, "save-1", "now.txt", now1, strlen(now1));
    s_check_stored(entity, "save-1", "live.txt", live2, strlen(live2));
    s_check_stored(entity, "save-1", "sub/end.txt", end2, strlen(end2));
    s_check_stored(entity, "save-1", "empty.bin", "", 0);
    s_check_stored(entity, "save-1", "big.bin", big, S_BIG);
    free(big);
}

// Bad arguments and unreadable files are refused with their error; the
// run goes on and finishes normally.
static void test_errors(void)
{
    s_write("ok.txt", "ok\n", 3);
    char huge[256];
    snprintf(huge, sizeof huge, "%s/huge.bin", s_work);
    int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)(64 << 20) + 1) == 0); // sparse: costs no disk
    close(fd);
    wandb_settings_t *s = s_settings("save-2");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_ERR(wandb_save(NULL, s_path("ok.txt"), NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, NULL, NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("ok.txt"), NULL, (wandb_save_policy)7), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("missing.txt"), s_work, WANDB_SAVE_NOW), WANDB_ENOTFOUND);
    CHECK_ERR(wandb_save(run, s_path("missing.txt"), s_work, WANDB_SAVE_END), WANDB_ENOTFOUND);
    CHECK_ERR(wandb_save(run, s_path("ok.txt"), "/elsewhere", WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, "../ok.txt", NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_ERR(wandb_save(run, s_path("sub"), s_work, WANDB_SAVE_NOW), WANDB_EIO); // a directory
    CHECK_ERR(wandb_save(run, huge, s_work, WANDB_SAVE_NOW), WANDB_ETOOBIG);
    CHECK_OK(wandb_save(run, s_path("ok.txt"), s_work, WANDB_SAVE_NOW));
    CHECK_OK(wandb_finish(&run, 0));
    CHECK_ERR(wandb_save(NULL, s_path("ok.txt"), s_work, WANDB_SAVE_NOW), WANDB_EINVAL);
    wandb_settings_destroy(&s);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/save-2/files?project=saveproj");
    CHECK_EQ(json_array_size(json_object_get(files, "files")), 1);
    s_check_listed(files, "ok.txt", 3);
    json_decref(files);
    unlink(huge);
}

// Removes the work directory (in the process that made it, not in a case's).
static void s_work_rm(void)
{
    if (s_work[0] && s_work_owner == getpid())
        wbt_rm_tree(s_work);
    s_work[0] = '\0';
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    snprintf(s_work, sizeof s_work, "/tmp/wbt-save-work-XXXXXX");
    CHECK(mkdtemp(s_work) != NULL);
    s_work_owner = getpid();
    atexit(s_work_rm);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"policies", test_policies}, {"errors", test_errors}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    s_work_rm();
    return rc;
}
