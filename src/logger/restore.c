//  restore.c - wandb_restore: a run file downloaded from the backend
//  SPDX-License-Identifier: MIT
//
//  The official restore asks the public GraphQL API for the file (query
//  RunFiles: project { run { files(names: [name]) { edges { node { directUrl
//  md5 ... } } } } }) and GETs its URL. This file does the same through
//  bhttp.c (libcurl, synchronously, on the calling thread; docs/decisions.md
//  "save and restore"), with the run's base_url, api_key and ca_cert. The bytes go to
//  a temporary file beside the target, renamed into place when complete.
//  Thread: any; it touches neither the ring nor the I/O thread.
#include "logger/save.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"
#include "logger/bhttp.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SEG_MAX 128 // bytes of an entity, project or run id

// The RunFiles query of the official public API (wandb/apis/public/files.py).
static const char s_query[] =
    "query RunFiles($project: String!, $entity: String!, $name: String!, $fileCursor: String,"
    " $fileLimit: Int = 50, $fileNames: [String] = [], $upload: Boolean = false,"
    " $pattern: String) { project(name: $project, entityName: $entity) { internalId"
    " run(name: $name) { fileCount files(names: $fileNames, after: $fileCursor,"
    " first: $fileLimit, pattern: $pattern) { edges { node { id name url(upload: $upload)"
    " directUrl sizeBytes mimetype updatedAt md5 } cursor } pageInfo { endCursor hasNextPage"
    " } } } } }";

// entity/project/run_id of the run to restore from.
typedef struct {
    char entity[S_SEG_MAX]; // "" : the backend's default
    char project[S_SEG_MAX];
    char run[S_SEG_MAX];
} s_runpath_t;

// The error text of one call, logged once at the end.
typedef struct {
    char text[1024];
} s_msg_t;

// Copies one '/'-free segment of n bytes into out; false when empty or too long.
static bool s_seg(char *out, const char *p, size_t n)
{
    if (n == 0 || n >= S_SEG_MAX || memchr(p, '/', n))
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

// Parses "entity/project/run_id", "entity/project/runs/run_id" or
// "project/run_id" (the entity of run, as the official Api.run). out is
// zeroed by the caller.
static bool s_parse_path(const wandb_run_t *run, const char *text, s_runpath_t *out)
{
    const char *part[4];
    size_t len[4];
    size_t n = 0;
    const char *p = text;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (n == 4)
            return false;
        part[n] = p;
        len[n++] = slash ? (size_t)(slash - p) : strlen(p);
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n == 4 && !(len[2] == 4 && memcmp(part[2], "runs", 4) == 0))
        return false;
    if (n == 4) {
        part[2] = part[3];
        len[2] = len[3];
        n = 3;
    }
    if (n == 2) {
        snprintf(out->entity, sizeof out->entity, "%s", wandb_run_entity(run));
        return s_seg(out->project, part[0], len[0]) && s_seg(out->run, part[1], len[1]);
    }
    // An empty entity ("/project/run_id", what wandb_run_path gives before
    // the entity is known) is the backend's default one.
    return n == 3 && (len[0] == 0 || s_seg(out->entity, part[0], len[0])) &&
           s_seg(out->project, part[1], len[1]) && s_seg(out->run, part[2], len[2]);
}

// Creates the directories of path's parent (mode 0755), like mkdir -p.
static wandb_err s_mkdirs_parent(const char *path)
{
    char dir[WBI_SAVE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return WANDB_OK;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return WANDB_EIO;
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? WANDB_OK : WANDB_EIO;
}

// Asks the backend for the file's URL (RunFiles). *url_out (wbi_free) on
// success; WANDB_ENOTFOUND with text when the run or the file is missing.
static wandb_err s_lookup(const wandb_run_t *run, const s_runpath_t *rp, const char *name,
                          char **url_out, s_msg_t *msg)
{
    *url_out = NULL;
    json_t *vars = json_pack("{ss ss? ss s[s] si sb}", "project", rp->project, "entity",
                             *rp->entity ? rp->entity : NULL, "name", rp->run, "fileNames", name,
                             "fileLimit", 1, "upload", 0);
    if (!vars)
        return WANDB_ENOMEM;
    json_t *doc = NULL;
    wandb_err rc = wbi_bh_gql(run, "RunFiles", s_query, vars, &doc, msg->text, sizeof msg->text);
    if (rc != WANDB_OK)
        return rc;
    const char *err = wbi_bh_gql_error(doc);
    json_t *project = json_object_get(json_object_get(doc, "data"), "project");
    json_t *r = json_object_get(project, "run");
    json_t *node = json_object_get(
        json_array_get(json_object_get(json_object_get(r, "files"), "edges"), 0), "node");
    const char *md5 = json_string_value(json_object_get(node, "md5"));
    const char *u = json_string_value(json_object_get(node, "directUrl"));
    if (!u)
        u = json_string_value(json_object_get(node, "url"));
    if (err) {
        snprintf(msg->text, sizeof msg->text, "the RunFiles query failed: %.300s", err);
        rc = WANDB_EBACKEND;
    } else if (!json_is_object(r)) {
        snprintf(msg->text, sizeof msg->text, "run '%s/%s/%s' not found", rp->entity, rp->project,
                 rp->run);
        rc = WANDB_ENOTFOUND;
    } else if (!json_is_object(node) || (md5 && strcmp(md5, "0") == 0) || !u || !*u) {
        snprintf(msg->text, sizeof msg->text, "run '%s/%s/%s' has no uploaded file '%.200s'",
                 rp->entity, rp->project, rp->run, name);
        rc = WANDB_ENOTFOUND;
    } else if (!(*url_out = wbi_strdup(u))) {
        rc = WANDB_ENOMEM;
    }
    json_decref(doc);
    return rc;
}

// The default root: <dir>/run-<run_id>/files, as the official run.dir
// (wandb/run-<time>-<id>/files).
static wandb_err s_default_root(const wandb_run_t *run, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/run-%s/files", run->cfg.dir, run->cfg.run_id);
    return n >= 0 && (size_t)n < len ? WANDB_OK : WANDB_ETOOBIG;
}

// Fetches name into path: RunFiles, then the GET.
static wandb_err s_fetch(const wandb_run_t *run, const s_runpath_t *rp, const char *name,
                         const char *path, s_msg_t *msg)
{
    if (wbi_bh_init(msg->text, sizeof msg->text) != WANDB_OK)
        return WANDB_EIO;
    char *url = NULL;
    wandb_err rc = s_lookup(run, rp, name, &url, msg);
    if (rc == WANDB_OK && s_mkdirs_parent(path) != WANDB_OK) {
        snprintf(msg->text, sizeof msg->text, "cannot create the directory of '%.300s': %s", path,
                 strerror(errno));
        rc = WANDB_EIO;
    }
    if (rc == WANDB_OK)
        rc = wbi_bh_get_file(run, url, path, NULL, 0, msg->text, sizeof msg->text);
    wbi_free(url);
    wbi_bh_done();
    return rc;
}

wandb_err wandb_restore(wandb_run_t *run, const char *name, const char *run_path, bool replace,
                        const char *root, char *out_path, size_t out_len)
{
    s_msg_t msg = {""};
    wandb_err rc = WANDB_EINVAL;
    s_runpath_t rp = {"", "", ""};
    char path[WBI_SAVE_PATH_MAX];
    char dflt[WBI_SAVE_PATH_MAX];
    if (out_path && out_len)
        out_path[0] = '\0';
    if (!run || !name || !wbi_run_file_name_ok(name)) {
        snprintf(msg.text, sizeof msg.text, "%s",
                 !run    ? "run is NULL"
                 : !name ? "name is NULL"
                         : "name must be a relative path without '.' or '..' segments");
        goto out;
    }
    if (!run_path) {
        snprintf(rp.entity, sizeof rp.entity, "%s", wandb_run_entity(run));
        snprintf(rp.project, sizeof rp.project, "%s", run->cfg.project);
        snprintf(rp.run, sizeof rp.run, "%s", run->cfg.run_id);
    } else if (!s_parse_path(run, run_path, &rp)) {
        snprintf(msg.text, sizeof msg.text,
                 "run_path '%.200s' is not entity/project/run_id (or project/run_id)", run_path);
        goto out;
    }
    rc = WANDB_OK;
    if (!root) {
        rc = s_default_root(run, dflt, sizeof dflt);
        root = dflt;
    }
    size_t rlen = strlen(root);
    size_t n = rlen + 1 + strlen(name);
    if (rc == WANDB_ETOOBIG || n >= sizeof path || (out_path && n >= out_len)) {
        snprintf(msg.text, sizeof msg.text, "the local path of '%.200s' under '%.200s' is too long",
                 name, root);
        rc = WANDB_ETOOBIG;
        goto out;
    }
    memcpy(path, root, rlen);
    path[rlen] = '/';
    memcpy(path + rlen + 1, name, n - rlen); // with the NUL
    struct stat st;
    if (!replace && lstat(path, &st) == 0) {
        rc = WANDB_OK; // kept, as the official restore without replace
    } else if (run->disabled) {
        snprintf(msg.text, sizeof msg.text, "mode disabled: no backend to download '%.200s' from",
                 name);
        rc = WANDB_ENOTSUP;
    } else if (!run->cfg.api_key) {
        snprintf(msg.text, sizeof msg.text, "no API key: set WANDB_API_KEY or the api_key setting");
        rc = WANDB_EAUTH;
    } else {
        rc = s_fetch(run, &rp, name, path, &msg);
    }
    if (rc == WANDB_OK && out_path)
        memcpy(out_path, path, n + 1); // fits: checked above
out:
    if (rc != WANDB_OK)
        wbi_warn("wandb_restore: '%.200s': %s", name ? name : "", msg.text);
    return rc;
}
