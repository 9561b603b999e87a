//  test_save.c - wandb_save end to end: rank -> ring -> aggregator -> backend ->
//  the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Starts <build>/src/server/wandb-mpi-server (or $WANDB_MPI_SERVER) on an
//  ephemeral port and saves files with each policy through the public API
//  (in-process aggregator, a small ring so that a 3 MiB file streams through
//  it in chunks). Then checks GET /api/v1/runs/<id>/files and the bytes the
//  server stored under DIR/files/<entity>/<project>/<run>/<name>: "now" as
//  saved, "live" with the bytes it had at finish, "end" read at finish; the
//  base_path examples of the seed's Run.save with globs (names and count);
//  the errors with the text they log; a live file rewritten during the run
//  reaching the server each time. Each case runs in its own process (the
//  base_path case changes the working directory).
//  Exits 77 (CTest: skipped) when the server is not built.
#include "common/jsonx.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_BIG (3u * 1024u * 1024u + 17u) // bytes of the large file

static wbt_server_t s_srv; // the server of every test
static const char *s_work; // where the test writes the files it saves (wbt_work_dir)

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
    // An absolute glob without base keeps one directory level.
    CHECK_OK(wandb_save(run, s_path("empty.bin"), NULL, WANDB_SAVE_NOW));
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
    char empty[128];
    snprintf(empty, sizeof empty, "%s/empty.bin", strrchr(s_work, '/') + 1);
    s_check_listed(files, empty, 0);
    s_check_listed(files, "big.bin", S_BIG);
    json_decref(files);
    s_check_stored(entity, "save-1", "now.txt", now1, strlen(now1));
    s_check_stored(entity, "save-1", "live.txt", live2, strlen(live2));
    s_check_stored(entity, "save-1", "sub/end.txt", end2, strlen(end2));
    s_check_stored(entity, "save-1", empty, "", 0);
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

// Writes text to s_work/rel, creating its directories.
static void s_put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_work, rel);
    for (char *p = path + strlen(s_work) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

// The tree the base_path cases glob over; each file holds "<rel>\n".
static void s_tree(void)
{
    static const char *const rels[] = {"these/are/myfiles/a.txt",
                                       "these/are/myfiles/b.txt",
                                       "these/are/myfiles/.hidden",
                                       "files/x/saveme.txt",
                                       "files/y/saveme.txt",
                                       "files/y/other.txt",
                                       "User/username/Documents/run123/r1.txt",
                                       "User/username/Documents/run123/r2.txt",
                                       "User/username/Documents/run123/notes.log"};
    char text[256];
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        snprintf(text, sizeof text, "%s\n", rels[i]);
        s_put(rels[i], text);
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/these/are/myfiles/sub", s_work); // matched by '*', skipped
    CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
    CHECK(chdir(s_work) == 0);
}

// The seed's Run.save examples, with globs: the exact set of names the
// server lists, with the sizes of the files they came from.
static void test_base_paths(void)
{
    s_tree();
    char abs[256];
    snprintf(abs, sizeof abs, "%s/User/username/Documents/run123/*.txt", s_work);
    char user[256];
    snprintf(user, sizeof user, "%s/User", s_work);
    wandb_settings_t *s = s_settings("save-base");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_save(run, "these/are/myfiles/*", NULL, WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, "these/are/myfiles/*", "these", WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, abs, NULL, WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, abs, user, WANDB_SAVE_NOW));
    CHECK_OK(wandb_save(run, "files/*/saveme.txt", NULL, WANDB_SAVE_NOW));
    // '?', '[...]', "." and ".." segments, a base_path given with a trailing '/'.
    CHECK_OK(wandb_save(run, "./files/../files/[x]/save?e.txt", "files/", WANDB_SAVE_END));
    // "**" is '*' (Python's glob without recursive): one level, so no match.
    CHECK_ERR(wandb_save(run, "these/**/a.txt", NULL, WANDB_SAVE_NOW), WANDB_ENOTFOUND);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);

    static const struct {
        const char *name; // in the run
        const char *from; // the file below s_work
    } want[] = {
        {"these/are/myfiles/a.txt", "these/are/myfiles/a.txt"},
        {"these/are/myfiles/b.txt", "these/are/myfiles/b.txt"},
        {"are/myfiles/a.txt", "these/are/myfiles/a.txt"},
        {"are/myfiles/b.txt", "these/are/myfiles/b.txt"},
        {"run123/r1.txt", "User/username/Documents/run123/r1.txt"},
        {"run123/r2.txt", "User/username/Documents/run123/r2.txt"},
        {"username/Documents/run123/r1.txt", "User/username/Documents/run123/r1.txt"},
        {"username/Documents/run123/r2.txt", "User/username/Documents/run123/r2.txt"},
        {"files/x/saveme.txt", "files/x/saveme.txt"},
        {"files/y/saveme.txt", "files/y/saveme.txt"},
        {"x/saveme.txt", "files/x/saveme.txt"},
    };
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/save-base/files?project=saveproj");
    size_t n = sizeof want / sizeof want[0];
    CHECK_EQ(json_array_size(json_object_get(files, "files")), n);
    for (size_t i = 0; i < n; i++)
        s_check_listed(files, want[i].name, strlen(want[i].from) + 1);
    json_decref(files);
    json_t *r = wbt_http_get(&s_srv, "/api/v1/runs/save-base?project=saveproj");
    const char *entity = json_string_value(json_object_get(r, "entity"));
    s_check_stored(entity, "save-base", "are/myfiles/b.txt", "these/are/myfiles/b.txt\n", 24);
    s_check_stored(entity, "save-base", "x/saveme.txt", "files/x/saveme.txt\n", 19);
    json_decref(r);
}

static char s_logged[8192]; // what the library logged in this case

// Keeps the library's messages (wandb_set_logger).
static void s_logger(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    size_t len = strlen(s_logged);
    snprintf(s_logged + len, sizeof s_logged - len, "%s\n", msg);
}

// Calls wandb_save, expects err and a logged message holding both texts.
static void s_expect(wandb_run_t *run, const char *glob, const char *base, wandb_err err,
                     const char *text1, const char *text2)
{
    s_logged[0] = '\0';
    CHECK_ERR(wandb_save(run, glob, base, WANDB_SAVE_NOW), err);
    if (!strstr(s_logged, text1) || !strstr(s_logged, text2))
        WBT_FAIL("save('%s', '%s'): logged '%s', want '%s' and '%s'", glob, base ? base : "NULL",
                 s_logged, text1, text2);
}

// Globs and base paths the official client refuses, and a glob with no
// match: each an error whose logged text names the glob and the reason;
// nothing of them reaches the server.
static void test_glob_errors(void)
{
    s_tree();
    wandb_set_logger(s_logger, NULL);
    wandb_settings_t *s = s_settings("save-gerr");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    s_expect(run, "nomatch/*.bin", NULL, WANDB_ENOTFOUND, "no file matches", "nomatch/*.bin");
    s_expect(run, "these/are/myfiles/*", "other", WANDB_EINVAL, "not below base_path", "'other'");
    s_expect(run, "../x/*", NULL, WANDB_EINVAL, "walk above the base path", "'../x/*'");
    s_expect(run, "these", "these", WANDB_EINVAL, "is the base path itself", "'these'");
    s_expect(run, "these/are/*/a.txt", "these/are", WANDB_EINVAL, "starts with '*'",
             "these/are/*/a.txt");
    s_expect(run, "s3://bucket/key", NULL, WANDB_EINVAL, "cloud storage", "s3://bucket/key");
    s_expect(run, "these/are/myfiles/su?", NULL, WANDB_EIO, "no regular file",
             "these/are/myfiles/su?");
    CHECK_ERR(wandb_save(run, "", NULL, WANDB_SAVE_NOW), WANDB_EINVAL);
    CHECK_OK(wandb_save(run, "these/are/myfiles/a.txt", NULL, WANDB_SAVE_NOW));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    wandb_set_logger(NULL, NULL);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/save-gerr/files?project=saveproj");
    CHECK_EQ(json_array_size(json_object_get(files, "files")), 1);
    s_check_listed(files, "these/are/myfiles/a.txt", 24);
    json_decref(files);
}

// True when the server holds exactly text as file name of run (any entity).
static bool s_stored_is(const char *run_id, const char *name, const char *text)
{
    char pattern[512];
    snprintf(pattern, sizeof pattern, "%s/files/*/saveproj/%s/%s", s_srv.dir, run_id, name);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) {
        globfree(&g);
        return false;
    }
    FILE *f = fopen(g.gl_pathv[0], "rb");
    globfree(&g);
    if (!f)
        return false;
    char got[256];
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    return n == strlen(text) && memcmp(got, text, n) == 0;
}

// Waits (at most 20 s) until the server holds text as name of run_id.
static void s_wait_stored(const char *run_id, const char *name, const char *text)
{
    for (int i = 0; i < 400; i++) {
        if (s_stored_is(run_id, name, text))
            return;
        usleep(50 * 1000);
    }
    WBT_FAIL("the server never held '%s' as %s of run %s", text, name, run_id);
}

// The upload requests the server has answered so far.
static int64_t s_uploads(void)
{
    json_t *st = wbt_http_get(&s_srv, "/api/v1/stats");
    int64_t n = json_integer_value(json_object_get(json_object_get(st, "requests"), "upload"));
    json_decref(st);
    return n;
}

// A live file rewritten three times while the run lives reaches the server
// each time (before finish), and the server ends with the last bytes.
static void test_live(void)
{
    static const char *const versions[] = {"v1\n", "version two\n", "the third version, longer\n"};
    int64_t before = s_uploads();
    s_put("live/metrics.txt", versions[0]);
    wandb_settings_t *s = s_settings("save-live");
    CHECK_OK(wandb_settings_set(s, "save_live_interval_ms", "100"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_save(run, s_path("live/metrics.txt"), s_work, WANDB_SAVE_LIVE));
    for (int v = 0; v < 3; v++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (v > 0)
            s_put("live/metrics.txt", versions[v]);
        s_wait_stored("save-live", "live/metrics.txt", versions[v]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "live: version %d on the server after %.0f ms\n", v + 1,
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        CHECK_OK(wandb_log(run, WANDB_INT("version", v)));
    }
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    CHECK(s_stored_is("save-live", "live/metrics.txt", versions[2]));
    int64_t uploads = s_uploads() - before;
    fprintf(stderr, "live: %lld uploads of the run\n", (long long)uploads);
    if (uploads < 3)
        WBT_FAIL("the server saw %lld uploads of the live file, want at least 3",
                 (long long)uploads);
    json_t *files = wbt_http_get(&s_srv, "/api/v1/runs/save-live/files?project=saveproj");
    CHECK_EQ(json_array_size(json_object_get(files, "files")), 1);
    s_check_listed(files, "live/metrics.txt", strlen(versions[2]));
    json_decref(files);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    s_work = wbt_work_dir("save-work");
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"policies", test_policies},
                                       {"errors", test_errors},
                                       {"base_paths", test_base_paths},
                                       {"glob_errors", test_glob_errors},
                                       {"live", test_live}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_work_dir_remove();
    return rc;
}
