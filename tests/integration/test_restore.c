//  test_restore.c - wandb_restore against the real wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  A first run saves files (through ring, aggregator, backend, upload); a
//  second run restores them: from the other run by entity/project/run_id and
//  by project/run_id, from itself (run_path NULL), into a given root and the
//  default one, with replace true and false; a missing file and a missing
//  run are WANDB_ENOTFOUND with a text naming them. The restored bytes are
//  compared with the saved ones. Exits 77 (CTest: skipped) when the server
//  is not built.
#include "harness/server_harness.h"
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY "local-abcdefghijabcdefghijabcdefghijabcdefghij"
#define S_LEN (200u * 1024u + 3u) // bytes of the binary file

static wbt_server_t s_srv;  // the server of every case
static const char *s_work;  // files the cases write and restore into (wbt_work_dir)
static char s_logged[4096]; // what the library logged

// Keeps the library's messages (wandb_set_logger).
static void s_logger(void *arg, wandb_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    size_t len = strlen(s_logged);
    snprintf(s_logged + len, sizeof s_logged - len, "%s\n", msg);
}

// Settings for a run into the test server.
static wandb_settings_t *s_settings(const char *run_id)
{
    wbt_run_env_clear();
    wandb_settings_t *s = NULL;
    CHECK_OK(wandb_settings_new(&s));
    CHECK_OK(wandb_settings_set(s, "base_url", s_srv.url));
    CHECK_OK(wandb_settings_set(s, "api_key", S_KEY));
    CHECK_OK(wandb_settings_set(s, "project", "restproj"));
    CHECK_OK(wandb_settings_set(s, "run_id", run_id));
    CHECK_OK(wandb_settings_set(s, "dir", s_work));
    CHECK_OK(wandb_settings_set(s, "flush_interval_ms", "50"));
    return s;
}

// The deterministic bytes of the binary file.
static void s_fill(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)((i * 2654435761u) >> 11);
}

// Writes len bytes to path.
static void s_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

// Fails unless the file at path holds exactly len bytes of data.
static void s_check_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        WBT_FAIL("'%s' does not exist", path);
    char *got = malloc(len + 1);
    CHECK(got != NULL);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    if (n != len || memcmp(got, data, len) != 0)
        WBT_FAIL("'%s': %zu bytes, want %zu (or the bytes differ)", path, n, len);
    free(got);
}

// Calls wandb_restore, expects err and a logged text holding text.
static void s_expect(wandb_run_t *run, const char *name, const char *run_path, wandb_err err,
                     const char *text)
{
    s_logged[0] = '\0';
    char out[512] = "unchanged";
    CHECK_ERR(wandb_restore(run, name, run_path, true, s_work, out, sizeof out), err);
    CHECK_STREQ(out, "");
    if (!strstr(s_logged, text))
        WBT_FAIL("restore('%s', '%s'): logged '%s', want '%s'", name, run_path, s_logged, text);
}

// Saves model/weights.bin (binary) and notes.txt in run rest-src.
static void s_save_source(char *entity, size_t len)
{
    char *data = malloc(S_LEN);
    CHECK(data != NULL);
    s_fill(data, S_LEN);
    char path[256];
    snprintf(path, sizeof path, "%s/src/model", s_work);
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/src/model/weights.bin", s_work);
    s_write(path, data, S_LEN);
    free(data);
    snprintf(path, sizeof path, "%s/src/notes.txt", s_work);
    s_write(path, "saved notes\n", 12);
    wandb_settings_t *s = s_settings("rest-src");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    snprintf(path, sizeof path, "%s/src/*.txt", s_work);
    char base[256];
    snprintf(base, sizeof base, "%s/src", s_work);
    CHECK_OK(wandb_save(run, path, base, WANDB_SAVE_NOW));
    snprintf(path, sizeof path, "%s/src/model/*.bin", s_work);
    CHECK_OK(wandb_save(run, path, base, WANDB_SAVE_NOW));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    json_t *r = wbt_http_get(&s_srv, "/api/v1/runs/rest-src?project=restproj");
    snprintf(entity, len, "%s", json_string_value(json_object_get(r, "entity")));
    json_decref(r);
}

// Files of a finished run come back byte for byte, by both path forms;
// replace=false keeps a local file, replace=true overwrites it.
static void test_restore_other_run(void)
{
    char entity[128];
    s_save_source(entity, sizeof entity);
    char *data = malloc(S_LEN);
    CHECK(data != NULL);
    s_fill(data, S_LEN);
    char from[256];
    snprintf(from, sizeof from, "%s/restproj/rest-src", entity);
    char root[256];
    snprintf(root, sizeof root, "%s/a/b", s_work); // does not exist yet
    wandb_settings_t *s = s_settings("rest-dst");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    char out[512];
    CHECK_OK(wandb_restore(run, "model/weights.bin", from, false, root, out, sizeof out));
    char want[512];
    snprintf(want, sizeof want, "%s/model/weights.bin", root);
    CHECK_STREQ(out, want);
    s_check_file(out, data, S_LEN);
    CHECK_OK(wandb_restore(run, "notes.txt", "restproj/rest-src", false, root, out, sizeof out));
    s_check_file(out, "saved notes\n", 12);
    // replace=false: the local file stays as it is, and its path comes back.
    s_write(out, "local edit\n", 11);
    CHECK_OK(wandb_restore(run, "notes.txt", from, false, root, out, sizeof out));
    s_check_file(out, "local edit\n", 11);
    // replace=true: downloaded again.
    CHECK_OK(wandb_restore(run, "notes.txt", from, true, root, NULL, 0));
    s_check_file(out, "saved notes\n", 12);
    // "entity/project/runs/run_id" is the same run.
    char runs_form[256];
    snprintf(runs_form, sizeof runs_form, "%s/restproj/runs/rest-src", entity);
    CHECK_OK(wandb_restore(run, "notes.txt", runs_form, true, root, NULL, 0));
    // "/project/run_id": the backend's default entity (the server's is the run's).
    CHECK_OK(wandb_restore(run, "notes.txt", "/restproj/rest-src", true, root, NULL, 0));
    s_check_file(out, "saved notes\n", 12);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    free(data);
}

// A run restores what it saved itself (run_path NULL) into its default
// root, <dir>/run-<run_id>/files.
static void test_restore_own_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/own.txt", s_work);
    s_write(path, "my own file\n", 12);
    wandb_settings_t *s = s_settings("rest-own");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    CHECK_OK(wandb_save(run, path, s_work, WANDB_SAVE_NOW));
    // The upload is asynchronous: the file is there once the server lists it.
    char out[512];
    wandb_err rc = WANDB_ENOTFOUND;
    wandb_set_logger(s_logger, NULL); // the misses while waiting stay quiet
    for (int i = 0; i < 200 && rc == WANDB_ENOTFOUND; i++) {
        rc = wandb_restore(run, "own.txt", NULL, true, NULL, out, sizeof out);
        if (rc == WANDB_ENOTFOUND)
            usleep(50 * 1000);
    }
    wandb_set_logger(NULL, NULL);
    CHECK_OK(rc);
    char want[512];
    snprintf(want, sizeof want, "%s/run-rest-own/files/own.txt", s_work);
    CHECK_STREQ(out, want);
    s_check_file(out, "my own file\n", 12);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
}

// Missing files and runs, bad arguments: errors with text, nothing written.
static void test_restore_errors(void)
{
    char entity[128];
    s_save_source(entity, sizeof entity);
    char from[256];
    snprintf(from, sizeof from, "%s/restproj/rest-src", entity);
    wandb_set_logger(s_logger, NULL);
    wandb_settings_t *s = s_settings("rest-err");
    wandb_run_t *run = NULL;
    CHECK_OK(wandb_init(s, &run));
    s_expect(run, "nope.txt", from, WANDB_ENOTFOUND, "has no uploaded file 'nope.txt'");
    s_expect(run, "notes.txt", "restproj/no-such-run", WANDB_ENOTFOUND, "run '" /* entity */);
    s_expect(run, "notes.txt", "restproj/no-such-run", WANDB_ENOTFOUND, "no-such-run' not found");
    s_expect(run, "../escape.txt", from, WANDB_EINVAL, "relative path");
    s_expect(run, "notes.txt", "a/b/c/d", WANDB_EINVAL, "run_path 'a/b/c/d'");
    s_expect(run, "notes.txt", "just-a-run", WANDB_EINVAL, "run_path 'just-a-run'");
    CHECK_ERR(wandb_restore(NULL, "notes.txt", from, true, s_work, NULL, 0), WANDB_EINVAL);
    char tiny[8];
    CHECK_ERR(wandb_restore(run, "notes.txt", from, true, s_work, tiny, sizeof tiny),
              WANDB_ETOOBIG);
    char path[256];
    snprintf(path, sizeof path, "%s/nope.txt", s_work);
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    wandb_set_logger(NULL, NULL);
    // Mode disabled: no backend to ask, ENOTSUP (a local file is still returned).
    s = s_settings("rest-off");
    CHECK_OK(wandb_settings_set(s, "mode", "disabled"));
    CHECK_OK(wandb_init(s, &run));
    CHECK_ERR(wandb_restore(run, "notes.txt", from, true, s_work, NULL, 0), WANDB_ENOTSUP);
    CHECK_OK(wandb_restore(run, "src/notes.txt", from, false, s_work, NULL, 0));
    CHECK_OK(wandb_finish(&run, 0));
    wandb_settings_destroy(&s);
    // A wrong API key: EAUTH (the run itself cannot reach the backend either).
    s = s_settings("rest-key");
    CHECK_OK(wandb_settings_set(s, "api_key", "local-wrongwrongwrongwrongwrongwrongwrongwrong"));
    CHECK_OK(wandb_settings_set(s, "finish_timeout_ms", "1000"));
    CHECK_OK(wandb_init(s, &run));
    CHECK_ERR(wandb_restore(run, "notes.txt", from, true, s_work, NULL, 0), WANDB_EAUTH);
    (void)wandb_finish(&run, 0); // its data is refused: the outcome is not this test's
    wandb_settings_destroy(&s);
}

int main(int argc, char **argv)
{
    char bin[1024];
    wbt_server_path(bin, sizeof bin, true);
    wbt_server_require(bin);
    s_work = wbt_work_dir("restore");
    char src[128];
    snprintf(src, sizeof src, "%s/src", s_work);
    CHECK(mkdir(src, 0700) == 0);
    const char *extra[] = {"--api-key", S_KEY, NULL};
    wbt_server_start(&s_srv, bin, NULL, extra);
    static const wbt_case_t cases[] = {{"other_run", test_restore_other_run},
                                       {"own_file", test_restore_own_file},
                                       {"errors", test_restore_errors}};
    int rc = wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
    wandb_shutdown();
    wbt_server_release(&s_srv);
    wbt_work_dir_remove();
    return rc;
}
