//  test_artifact_remote.c - wandb_use_artifact of a version only the backend holds
//  SPDX-License-Identifier: MIT
//
//  One run logs an artifact with data dir A (its in-process aggregator's
//  store is A/artifacts) into the real wandb-mpi-server; runs with data dir
//  B (an empty store) use it by "name:latest" and "name:v0": the rank asks
//  the server itself (ArtifactMembershipByName, FetchArtifactManifest,
//  UseArtifact, GetArtifactMembershipFileUrls), downloads byte for byte, and
//  the server lists the run as consumer. Also: wandb_use_model, a missing
//  name (WANDB_ENOTFOUND and its message), a blob corrupted in the server's
//  store (an error, no file left behind).
#include "common/md5.h"
#include "harness/server_harness.h"
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_BIG (1024u * 1024u + 7u)

static wbt_server_t s_srv;
static char s_dir_a[64]; // the producer's data dir
static char s_dir_b[64]; // the consumers' data dir (another aggregator store)
static char s_work[64];  // files to log, downloads
static char s_log[16384];
static pthread_mutex_t s_log_mu = PTHREAD_MUTEX_INITIALIZER;

static void s_logger(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    pthread_mutex_lock(&s_log_mu);
    size_t n = strlen(s_log);
    snprintf(s_log + n, sizeof s_log - n, "%s\n", msg);
    pthread_mutex_unlock(&s_log_mu);
}

static bool s_logged(const char *text)
{
    pthread_mutex_lock(&s_log_mu);
    bool found = strstr(s_log, text) != NULL;
    pthread_mutex_unlock(&s_log_mu);
    return found;
}

static wandb_run_t *s_init(const char *run_id, const char *dir)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "artrm"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "dir", dir));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "30000"));
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    wandb_settings_destroy(&s);
    return run;
}

static const char *s_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_work, name);
    return path;
}

static void s_write(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(s_path(name), "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

// The whole file at path (malloc'd) and its length; NULL when missing.
static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(S_BIG + 64);
    CHECK(buf != NULL);
    *len = fread(buf, 1, S_BIG + 64, f);
    fclose(f);
    return buf;
}

// The consumer run ids of version v of artifact name (server's read API).
static bool s_used_by(const char *name, const char *version, const char *run_id)
{
    json_t *all = wbt_http_get(&s_srv, "/api/v1/artifacts?project=artrm");
    bool found = false;
    size_t i, j, k;
    json_t *a, *v, *u;
    json_array_foreach(json_object_get(all, "artifacts"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), name) != 0)
            continue;
        json_array_foreach(json_object_get(a, "versions"), j, v)
        {
            const char *vv = json_string_value(json_object_get(v, "version"));
            if (!vv || strcmp(vv, version) != 0)
                continue;
            json_array_foreach(json_object_get(v, "used_by"), k, u) found |=
                strcmp(json_string_value(json_object_get(u, "name")), run_id) == 0;
        }
    }
    json_decref(all);
    return found;
}

static char *s_big;

// Run A logs "remote-data" (a 1 MiB file in a subdirectory and a small one)
// and a model, then finishes: the backend has both.
static void s_produce(void)
{
    s_big = malloc(S_BIG);
    CHECK(s_big != NULL);
    for (size_t i = 0; i < S_BIG; i++)
        s_big[i] = (char)(i * 2654435761u >> 13);
    s_write("big.bin", s_big, S_BIG);
    s_write("small.txt", "small\n", 6);
    s_write("weights.pt", "weights v1\n", 11);
    wandb_run_t *run = s_init("rmprod1", s_dir_a);
    wandb_artifact_t *a = NULL;
    CHECK_OK(wandb_artifact_new("remote-data", "dataset", &a));
    CHECK_OK(wandb_artifact_add_file(a, s_path("big.bin"), "sub/big.bin"));
    CHECK_OK(wandb_artifact_add_file(a, s_path("small.txt"), NULL));
    CHECK_OK(wandb_artifact_add_reference(a, "https://example.com/raw.csv", NULL));
    CHECK_OK(wandb_log_artifact(run, a, NULL));
    CHECK_STREQ(wandb_artifact_version(a), "v0");
    wandb_artifact_destroy(&a);
    CHECK_OK(wandb_log_model(run, s_path("weights.pt"), "remote-model", NULL));
    CHECK_OK(wandb_artifact_new("corrupt-me", "dataset", &a));
    s_write("victim.bin", "0123456789abcdef\n", 17);
    CHECK_OK(wandb_artifact_add_file(a, s_path("victim.bin"), NULL));
    CHECK_OK(wandb_log_artifact(run, a, NULL));
    wandb_artifact_destroy(&a);
    CHECK_OK(wandb_finish(&run, 0)); // the artifacts reach the server before complete
}

// Uses spec from a run in dir B, downloads into dl, checks the bytes.
static void s_use_check(const char *run_id, const char *spec, const char *dl)
{
    wandb_run_t *run = s_init(run_id, s_dir_b);
    wandb_artifact_t *u = NULL;
    CHECK_OK(wandb_use_artifact(run, spec, &u));
    CHECK_STREQ(wandb_artifact_version(u), "v0");
    CHECK_STREQ(wandb_artifact_type(u), "dataset");
    CHECK_EQ(wandb_artifact_entry_count(u), 3);
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/%s", s_work, dl);
    CHECK_OK(wandb_artifact_download(u, dir));
    CHECK_OK(wandb_artifact_file(u, "sub/big.bin", path, sizeof path));
    size_t len = 0;
    char *got = s_read(path, &len);
    CHECK(got != NULL);
    CHECK_EQ(len, (size_t)S_BIG);
    CHECK(memcmp(got, s_big, S_BIG) == 0);
    free(got);
    CHECK_OK(wandb_artifact_file(u, "small.txt", path, sizeof path));
    got = s_read(path, &len);
    CHECK(got != NULL);
    CHECK_EQ(len, 6);
    CHECK(memcmp(got, "small\n", 6) == 0);
    free(got);
    CHECK_EQ(wandb_artifact_file(u, "raw.csv", path, sizeof path), WANDB_ENOTFOUND);
    wandb_artifact_destroy(&u);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(s_used_by("remote-data", "v0", run_id));
}

static void test_use_latest_and_v0(void)
{
    s_produce();
    s_use_check("rmcons1", "remote-data:latest", "dl1");
    s_use_check("rmcons2", "artrm/remote-data:v0", "dl2");
    // B's aggregator never held the version: the bytes came from the server.
    char p[256];
    snprintf(p, sizeof p, "%s/artifacts/artrm/remote-data", s_dir_b);
    struct stat st;
    CHECK(stat(p, &st) != 0);
}

static void test_use_model(void)
{
    wandb_run_t *run = s_init("rmcons3", s_dir_b);
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/model", s_work);
    CHECK_OK(wandb_use_model(run, "remote-model:latest", dir, path, sizeof path));
    size_t len = 0;
    char *got = s_read(path, &len);
    CHECK(got != NULL);
    CHECK_EQ(len, 11);
    CHECK(memcmp(got, "weights v1\n", 11) == 0);
    free(got);
    CHECK_EQ(wandb_use_model(run, "remote-data:latest", dir, path, sizeof path), WANDB_EINVAL);
    CHECK_OK(wandb_finish(&run, 0));
    CHECK(s_used_by("remote-model", "v0", "rmcons3"));
}

static void test_missing_name(void)
{
    wandb_set_logger(s_logger, NULL);
    wandb_run_t *run = s_init("rmcons4", s_dir_b);
    wandb_artifact_t *u = NULL;
    CHECK_EQ(wandb_use_artifact(run, "no-such-data:latest", &u), WANDB_ENOTFOUND);
    CHECK(u == NULL);
    CHECK(s_logged("no-such-data:latest"));
    CHECK(s_logged("not found"));
    CHECK_EQ(wandb_use_artifact(run, "remote-data:v7", &u), WANDB_ENOTFOUND);
    CHECK(u == NULL);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_set_logger(NULL, NULL);
}

// The server's blob of victim.bin is overwritten with other bytes of the
// same size: the download fails its MD5 check and leaves no file.
static void test_corrupt_download(void)
{
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    wbi_md5_update(&md5, "0123456789abcdef\n", 17);
    char hex[WBI_MD5_HEX], blob[512];
    wbi_md5_final_hex(&md5, hex);
    snprintf(blob, sizeof blob, "%s/artifacts/blobs/%.2s/%s", s_srv.dir, hex, hex);
    FILE *f = fopen(blob, "r+b");
    CHECK(f != NULL);
    CHECK(fwrite("X", 1, 1, f) == 1);
    CHECK(fclose(f) == 0);
    wandb_set_logger(s_logger, NULL);
    wandb_run_t *run = s_init("rmcons5", s_dir_b);
    wandb_artifact_t *u = NULL;
    CHECK_OK(wandb_use_artifact(run, "corrupt-me:latest", &u));
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/corrupt", s_work);
    CHECK_EQ(wandb_artifact_download(u, dir), WANDB_EIO);
    CHECK(strstr(wandb_artifact_errmsg(u), "MD5") != NULL);
    CHECK_EQ(wandb_artifact_file(u, "victim.bin", path, sizeof path), WANDB_EINVAL);
    wandb_artifact_destroy(&u);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_set_logger(NULL, NULL);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += e->d_name[0] != '.';
    closedir(d);
    CHECK_EQ(files, 0); // neither victim.bin nor its temporary file
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    snprintf(s_dir_a, sizeof s_dir_a, "/tmp/wbt-artrma-XXXXXX");
    CHECK(mkdtemp(s_dir_a) != NULL);
    snprintf(s_dir_b, sizeof s_dir_b, "/tmp/wbt-artrmb-XXXXXX");
    CHECK(mkdtemp(s_dir_b) != NULL);
    snprintf(s_work, sizeof s_work, "/tmp/wbt-artrmw-XXXXXX");
    CHECK(mkdtemp(s_work) != NULL);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    // In order: the first case logs what the others use.
    static const wbt_case_t cases[] = {{"use_latest_and_v0", test_use_latest_and_v0},
                                       {"use_model", test_use_model},
                                       {"missing_name", test_missing_name},
                                       {"corrupt_download", test_corrupt_download}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_rm_tree(s_dir_a);
    wbt_rm_tree(s_dir_b);
    wbt_rm_tree(s_work);
    free(s_big);
    return rc;
}
