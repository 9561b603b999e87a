//  artifact_code.c - wandb_log_code: the job's source files as a "code" artifact
//  SPDX-License-Identifier: MIT
//
//  Walks root (not following symbolic links to directories, skipping
//  hidden directories) and adds the files whose names end in one of the
//  suffixes, then logs the artifact like wandb_log_artifact. The seed's
//  log_code takes include/exclude functions; C callers give suffixes.
//  Thread: any.
#include "logger/artifact.h"

#include "common/artname.h"
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const s_default[] = {".c", ".h", ".cc", ".cpp", ".hpp", ".py", NULL};

static bool s_wanted(const char *name, const char *const *suffixes)
{
    size_t n = strlen(name);
    for (size_t i = 0; suffixes[i]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static wandb_err s_walk(wandb_artifact_t *a, const char *dir, const char *rel,
                        const char *const *suffixes, int depth)
{
    if (depth > 32)
        return WANDB_OK;
    DIR *d = opendir(dir);
    if (!d)
        return wbi_art_fail(a, WANDB_ENOTFOUND, "wandb_log_code: cannot open '%.300s'", dir);
    wandb_err rc = WANDB_OK;
    struct dirent *de;
    while (rc == WANDB_OK && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096], name[2048];
        int x = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int y = snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (x < 0 || (size_t)x >= sizeof path || y < 0 || (size_t)y >= sizeof name)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = s_walk(a, path, name, suffixes, depth + 1);
        else if (S_ISREG(st.st_mode) && s_wanted(de->d_name, suffixes))
            rc = wandb_artifact_add_file(a, path, name);
    }
    closedir(d);
    return rc;
}

wandb_err wandb_log_code(wandb_run_t *run, const char *root, const char *name,
                         const char *const *suffixes)
{
    if (!run)
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_log_code: no run");
    char def[WBI_ART_NAME_MAX + 1];
    if (!name) {
        snprintf(def, sizeof def, "source-%s", run->cfg.run_id);
        name = def;
    }
    wandb_artifact_t *a = NULL;
    wandb_err rc = wandb_artifact_new(name, "code", &a);
    if (rc != WANDB_OK)
        return rc;
    rc = s_walk(a, root && *root ? root : ".", "", suffixes ? suffixes : s_default, 0);
    if (rc == WANDB_OK && a->nentries == 0)
        rc = wbi_art_fail(a, WANDB_ENOTFOUND, "wandb_log_code: no source file under '%.300s'",
                          root && *root ? root : ".");
    if (rc == WANDB_OK)
        rc = wandb_log_artifact(run, a, NULL);
    wandb_artifact_destroy(&a);
    return rc;
}
