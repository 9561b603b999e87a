//  test_artifact_run.c - artifacts through the public API, the ring and the in-process aggregator
//  SPDX-License-Identifier: MIT
//
//  Offline runs (the in-process aggregator journals under dir, and keeps its
//  artifact store in dir/artifacts): log_artifact with files, a directory
//  and a reference, the bytes streamed through a small ring; a second run
//  uses it and downloads it byte for byte; upsert/finish in one run; the
//  model helpers; every bad input of the issue with a clear error and
//  nothing half-committed.
#include "common/md5.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>

#define S_BIG (3u * 1024u * 1024u + 5u)

static char s_dir[64];    // the runs' dir (journal, artifacts)
static char s_work[64];   // files to log
static char s_log[8192];  // the library's messages
static char s_run_id[32]; // the last run's id

static pthread_mutex_t s_log_mu = PTHREAD_MUTEX_INITIALIZER; // the I/O thread logs too

static void s_logger(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    pthread_mutex_lock(&s_log_mu);
    size_t n = strlen(s_log);
    snprintf(s_log + n, sizeof s_log - n, "%s\n", msg);
    pthread_mutex_unlock(&s_log_mu);
}

// True when the library logged text (under the logger's lock).
static bool s_logged(const char *text)
{
    pthread_mutex_lock(&s_log_mu);
    bool found = strstr(s_log, text) != NULL;
    pthread_mutex_unlock(&s_log_mu);
    return found;
}

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/wbt-artrun-XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    snprintf(s_work, sizeof s_work, "/tmp/wbt-artwork-XXXXXX");
    CHECK(mkdtemp(s_work) != NULL);
    wandb_set_logger(s_logger, NULL);
}

static void s_teardown(void)
{
    wandb_set_logger(NULL, NULL);
    wbt_rm_tree(s_dir);
    wbt_rm_tree(s_work);
}

// Unsets what would steer the test's runs from the environment.
static void s_env_clear(void)
{
    static const char *const vars[] = {
        "WANDB_MODE",           "WANDB_RUN_ID",         "WANDB_AGGREGATOR", "WANDB_API_KEY",
        "WANDB_BASE_URL",       "WANDB_ENTITY",         "WANDB_RUN_GROUP",  "WANDB_DIR",
        "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK",         "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static wandb_run_t *s_init(const char *run_id, const char *group)
{
    s_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "mode", "offline"));
    CHECK_OK(wandb_settings_set(s, "dir", s_dir));
    CHECK_OK(wandb_settings_set(s, "project", "artproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "ring_bytes", "262144"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "20000"));
    if (group)
        CHECK_OK(wandb_settings_set(s, "group", group));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    snprintf(s_run_id, sizeof s_run_id, "%s", run_id);
    return run;
}

static void s_write(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
    *slash = '/';
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

static char *s_big(void)
{
    char *big = malloc(S_BIG);
    CHECK(big != NULL);
    for (size_t i = 0; i < S_BIG; i++)
        big[i] = (char)(i * 7919u >> 3);
    return big;
}

static void s_b64(const void *data, size_t len, char out[WBI_MD5_B64])
{
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    wbi_md5_update(&md5, data, len);
    wbi_md5_final_b64(&md5, out);
}

static json_t *s_load(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/artifacts/artproj/%s", s_dir, rel);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        WBT_FAIL("cannot load %s: %s", path, jerr.text);
    return j;
}

static void s_same_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        WBT_FAIL("no file %s", path);
    char *got = malloc(len + 1);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(got, data, len) != 0)
        WBT_FAIL("%s: %zu bytes (want %zu) or other bytes", path, n, len);
    free(got);
}

// log_artifact (files, a directory, a reference), then a second run uses
// and downloads it: the same bytes, and the consumer is recorded.
static void test_log_then_use(void)
{
    s_setup();
    char *big = s_big();
    s_write("model.bin", big, S_BIG);
    s_write("d/a.txt", "alpha\n", 6);
    s_write("d/sub/b.txt", "beta\n", 5);
    wandb_run_t *run = s_init("producer1", NULL);
    wandb_artifact_t *a = NULL;
    CHECK_OK(wandb_artifact_new("my-data_1.0", "dataset", &a));
    CHECK_OK(wandb_artifact_set_description(a, "four entries"));
    CHECK_OK(wandb_artifact_set_metadata(a, "{\"rows\": 3}"));
    CHECK_OK(wandb_artifact_add_tag(a, "nightly build"));
    CHECK_OK(wandb_artifact_add_file(a, s_path("model.bin"), NULL));
    CHECK_OK(wandb_artifact_add_dir(a, s_path("d"), "data"));
    CHECK_OK(wandb_artifact_add_reference(a, "s3://bucket/path/ref.csv", NULL));
    CHECK_EQ(wandb_artifact_entry_count(a), 4);
    const char *aliases[] = {"best", NULL};
    CHECK_OK(wandb_log_artifact(run, a, aliases));
    CHECK_STREQ(wandb_artifact_version(a), "v0");
    wandb_artifact_destroy(&a);
    CHECK_OK(wandb_finish(&run, 0));

    json_t *m = s_load("my-data_1.0/v0/manifest.json");
    json_t *c = json_object_get(m, "contents");
    CHECK_EQ(json_object_size(c), 4);
    char d[WBI_MD5_B64];
    s_b64(big, S_BIG, d);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(c, "model.bin"), "digest")), d);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(c, "model.bin"), "size")),
             (json_int_t)S_BIG);
    s_b64("beta\n", 5, d);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(c, "data/sub/b.txt"), "digest")),
                d);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(c, "ref.csv"), "ref")),
                "s3://bucket/path/ref.csv");
    json_decref(m);
    json_t *info = s_load("my-data_1.0/v0/info.json");
    CHECK_STREQ(json_string_value(json_object_get(info, "description")), "four entries");
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(info, "metadata"), "rows")), 3);
    CHECK_STREQ(json_string_value(json_array_get(json_object_get(info, "tags"), 0)),
                "nightly build");
    json_decref(info);
    json_t *al = s_load("my-data_1.0/aliases.json");
    CHECK_STREQ(json_string_value(json_object_get(al, "best")), "v0");
    CHECK_STREQ(json_string_value(json_object_get(al, "latest")), "v0");
    json_decref(al);

    run = s_init("consumer1", NULL);
    wandb_artifact_t *u = NULL;
    CHECK_OK(wandb_use_artifact(run, "my-data_1.0:best", &u));
    CHECK_STREQ(wandb_artifact_type(u), "dataset");
    CHECK_STREQ(wandb_artifact_version(u), "v0");
    char out[128], path[256];
    snprintf(out, sizeof out, "%s/download", s_work);
    CHECK_OK(wandb_artifact_download(u, out));
    CHECK_OK(wandb_artifact_file(u, "model.bin", path, sizeof path));
    s_same_file(path, big, S_BIG);
    CHECK_OK(wandb_artifact_file(u, "data/sub/b.txt", path, sizeof path));
    s_same_file(path, "beta\n", 5);
    CHECK_ERR(wandb_artifact_file(u, "ref.csv", path, sizeof path), WANDB_ENOTFOUND);
    wandb_artifact_destroy(&u);
    CHECK_OK(wandb_finish(&run, 0));
    char cons[256];
    snprintf(cons, sizeof cons, "%s/artifacts/artproj/my-data_1.0/v0/consumers.txt", s_dir);
    s_same_file(cons, "consumer1\n", 10);
    free(big);
    s_teardown();
}

// upsert then finish in one run: one version with both operations' files;
// the run's group is the default distributed_id.
static void test_upsert_finish_one_run(void)
{
    s_setup();
    s_write("part0.txt", "part zero", 9);
    s_write("part1.txt", "part one", 8);
    wandb_run_t *run = s_init("dist1", "groupA");
    wandb_artifact_t *a = NULL, *b = NULL;
    CHECK_OK(wandb_artifact_new("merged", "dataset", &a));
    CHECK_OK(wandb_artifact_add_file(a, s_path("part0.txt"), NULL));
    CHECK_OK(wandb_upsert_artifact(run, a, NULL));
    CHECK_OK(wandb_artifact_new("merged", "dataset", &b));
    CHECK_OK(wandb_artifact_add_file(b, s_path("part1.txt"), NULL));
    CHECK_OK(wandb_finish_artifact(run, b, NULL));
    CHECK_STREQ(wandb_artifact_version(b), "v0");
    wandb_artifact_destroy(&a);
    wandb_artifact_destroy(&b);
    CHECK_OK(wandb_finish(&run, 0));
    json_t *m = s_load("merged/v0/manifest.json");
    CHECK_EQ(json_object_size(json_object_get(m, "contents")), 2);
    json_decref(m);
    json_t *info = s_load("merged/v0/info.json");
    CHECK_STREQ(json_string_value(json_object_get(info, "distributed_id")), "groupA");
    json_decref(info);
    s_teardown();
}

// log_model, use_model (one file: its path), link_model.
static void test_model_helpers(void)
{
    s_setup();
    s_write("weights.pt", "tensor bytes", 12);
    wandb_run_t *run = s_init("modelrun", NULL);
    CHECK_OK(wandb_log_model(run, s_path("weights.pt"), NULL, NULL));
    char out[128], path[256];
    snprintf(out, sizeof out, "%s/m", s_work);
    CHECK_OK(wandb_use_model(run, "run-modelrun-weights.pt:latest", out, path, sizeof path));
    s_same_file(path, "tensor bytes", 12);
    CHECK_OK(wandb_link_model(run, s_path("weights.pt"), "my-registered", "mymodel", NULL));
    CHECK_OK(wandb_finish(&run, 0));
    char links[256];
    snprintf(links, sizeof links, "%s/artifacts/links.jsonl", s_dir);
    FILE *f = fopen(links, "r");
    CHECK(f != NULL);
    char line[1024] = {0};
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    CHECK(strstr(line, "\"portfolio\":\"my-registered\"") != NULL);
    CHECK(strstr(line, "\"target_project\":\"model-registry\"") != NULL);
    CHECK(strstr(line, "\"name\":\"mymodel\"") != NULL);
    s_teardown();
}

// Counts the version directories of artproj/name (-1: no artifact).
static int s_versions(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/artifacts/artproj/%s", s_dir, name);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        n += e->d_name[0] == 'v';
    closedir(d);
    return n;
}

// Bad input: clear errors, nothing half-committed.
static void test_bad_input(void)
{
    s_setup();
    s_write("ok.txt", "fine", 4);
    s_write("moving.txt", "before", 6);
    wandb_artifact_t *a = NULL;
    CHECK_ERR(wandb_artifact_new("a/b/c:latest", "dataset", &a), WANDB_EINVAL);
    CHECK(a == NULL && s_logged("'a/b/c:latest' may only contain"));
    CHECK_ERR(wandb_artifact_new("bad name!", "dataset", &a), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_new("ok", "wandb-internal", &a), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_new("ok", "a:b", &a), WANDB_EINVAL);
    CHECK_OK(wandb_artifact_new("things", "dataset", &a));
    CHECK_ERR(wandb_artifact_add_file(a, s_path("missing.txt"), NULL), WANDB_ENOTFOUND);
    CHECK(strstr(wandb_artifact_errmsg(a), "no such file") &&
          strstr(wandb_artifact_errmsg(a), "missing.txt"));
    CHECK_ERR(wandb_artifact_add_file(a, s_work, "dir-as-file"), WANDB_EIO);
    CHECK(strstr(wandb_artifact_errmsg(a), "cannot read"));
    CHECK_ERR(wandb_artifact_add_file(a, s_path("ok.txt"), "../escape"), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_add_reference(a, "ftp://host/x", NULL), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_add_alias(a, "v/1"), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_set_metadata(a, "[1,2]"), WANDB_EINVAL);
    CHECK_ERR(wandb_artifact_add_dir(a, s_path("nodir"), NULL), WANDB_ENOTFOUND);
    CHECK_EQ(wandb_artifact_entry_count(a), 0);

    wandb_run_t *run = s_init("badrun", NULL);
    // a file that changed after add: the log fails and no version exists
    CHECK_OK(wandb_artifact_add_file(a, s_path("ok.txt"), NULL));
    CHECK_OK(wandb_artifact_add_file(a, s_path("moving.txt"), NULL));
    s_write("moving.txt", "after!", 6);
    CHECK_ERR(wandb_log_artifact(run, a, NULL), WANDB_EIO);
    CHECK(strstr(wandb_artifact_errmsg(a), "changed since it was added"));
    CHECK_EQ(s_versions("things"), -1);
    wandb_artifact_destroy(&a);
    // upsert without distributed_id or group
    CHECK_OK(wandb_artifact_new("things", "dataset", &a));
    CHECK_ERR(wandb_upsert_artifact(run, a, NULL), WANDB_EINVAL);
    CHECK(strstr(wandb_artifact_errmsg(a), "no distributed_id"));
    // link before log; bad targets
    CHECK_ERR(wandb_link_artifact(run, a, "portfolio", NULL), WANDB_EINVAL);
    CHECK_OK(wandb_artifact_add_file(a, s_path("ok.txt"), NULL));
    CHECK_OK(wandb_log_artifact(run, a, NULL));
    CHECK_ERR(wandb_link_artifact(run, a, "e/p/x:v1", NULL), WANDB_EINVAL);
    CHECK_ERR(wandb_link_artifact(run, a, "a/b/c/d", NULL), WANDB_EINVAL);
    CHECK_OK(wandb_link_artifact(run, a, "proj/portfolio", NULL));
    wandb_artifact_destroy(&a);
    // use: bad names, unknown artifacts
    wandb_artifact_t *u = NULL;
    CHECK_ERR(wandb_use_artifact(run, "e/p/x/y:latest", &u), WANDB_EINVAL);
    CHECK_ERR(wandb_use_artifact(run, "things:a/b", &u), WANDB_EINVAL);
    CHECK_ERR(wandb_use_artifact(run, "nothing:latest", &u), WANDB_EBACKEND);
    CHECK(u == NULL && s_logged("no artifact 'nothing:latest'"));
    // use_model of a dataset: refused, nothing downloaded or committed
    char out[128], path[256];
    snprintf(out, sizeof out, "%s/not-a-model", s_work);
    int before = s_versions("things");
    CHECK_ERR(wandb_use_model(run, "things:latest", out, path, sizeof path), WANDB_EINVAL);
    CHECK(s_logged("type 'dataset'") && s_logged("contains 'model'"));
    struct stat st;
    CHECK(stat(out, &st) != 0);
    CHECK_EQ(s_versions("things"), before);
    CHECK_ERR(wandb_link_model(run, s_path("ok.txt"), "e/p/reg", NULL, NULL), WANDB_EINVAL);
    CHECK(s_logged("must be a bare name"));
    CHECK_OK(wandb_finish(&run, 0));
    s_teardown();
}

WBT_MAIN({"log_then_use", test_log_then_use}, {"upsert_finish_one_run", test_upsert_finish_one_run},
         {"model_helpers", test_model_helpers}, {"bad_input", test_bad_input})
