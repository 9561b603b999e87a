//  artstore.c - the aggregator's artifact store on disk (artstore.h)
//  SPDX-License-Identifier: MIT
#include "aggregator/artstore.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/md5.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool wbi_artstore_blob_path(const char *dir, const char *digest, char *out, size_t n)
{
    char name[128];
    size_t k = 0;
    for (const char *p = digest; *p && *p != '=' && k + 1 < sizeof name; p++)
        name[k++] = *p == '/' ? '_' : *p == '+' ? '-' : *p;
    name[k] = '\0';
    if (!k)
        return false;
    int r = snprintf(out, n, "%s/blobs/%s", dir, name);
    return r > 0 && (size_t)r < n;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void wbi_artstore_digest(const json_t *contents, char hex[33])
{
    size_t n = json_object_size(contents), i = 0;
    const char **keys = wbi_malloc((n ? n : 1) * sizeof *keys);
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    wbi_md5_update(&md5, "wandb-artifact-manifest-v1\n", 27);
    const char *k;
    json_t *v;
    if (keys) {
        json_object_foreach((json_t *)contents, k, v) keys[i++] = k;
        qsort(keys, n, sizeof *keys, s_cmp);
        for (i = 0; i < n; i++) {
            const char *d =
                json_string_value(json_object_get(json_object_get(contents, keys[i]), "digest"));
            wbi_md5_update(&md5, keys[i], strlen(keys[i]));
            wbi_md5_update(&md5, ":", 1);
            wbi_md5_update(&md5, d ? d : "", d ? strlen(d) : 0);
            wbi_md5_update(&md5, "\n", 1);
        }
    }
    wbi_free(keys);
    wbi_md5_final_hex(&md5, hex);
}

// mkdir -p of path.
static int s_mkdirs(const char *path)
{
    char tmp[WBI_ARTSTORE_PATH];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

// Writes json to path through a temporary file, fsync and rename.
static wandb_err s_write_json(const char *path, const json_t *json, size_t flags)
{
    char tmp[WBI_ARTSTORE_PATH + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    char *text = wbi_jsonx_dumps(json, flags);
    if (!text)
        return WANDB_ENOMEM;
    wandb_err rc = WANDB_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t len = strlen(text);
        if (write(fd, text, len) == (ssize_t)len && fsync(fd) == 0)
            rc = WANDB_OK;
        close(fd);
    }
    wbi_free(text);
    if (rc == WANDB_OK && rename(tmp, path) != 0)
        rc = WANDB_EIO;
    if (rc != WANDB_OK)
        unlink(tmp);
    return rc;
}

static json_t *s_load(const char *path)
{
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

// The highest N of the v<N> directories of adir, -1 when none.
static long s_latest(const char *adir)
{
    long best = -1;
    DIR *d = opendir(adir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (de->d_name[0] != 'v' || !de->d_name[1])
            continue;
        long n = strtol(de->d_name + 1, &end, 10);
        if (!*end && n > best)
            best = n;
    }
    closedir(d);
    return best;
}

// Sets aliases (a JSON array) to version in adir/aliases.json, and "latest".
static wandb_err s_aliases(const char *adir, const json_t *aliases, const char *version,
                           bool latest)
{
    char path[WBI_ARTSTORE_PATH];
    snprintf(path, sizeof path, "%s/aliases.json", adir);
    json_t *map = s_load(path);
    if (!json_is_object(map)) {
        json_decref(map);
        map = json_object();
    }
    size_t i;
    json_t *a;
    json_array_foreach((json_t *)aliases, i, a)
    {
        if (json_string_value(a))
            json_object_set_new(map, json_string_value(a), json_string(version));
    }
    if (latest)
        json_object_set_new(map, "latest", json_string(version));
    wandb_err rc = s_write_json(path, map, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(map);
    return rc;
}

wandb_err wbi_artstore_commit(const char *dir, const char *project, const char *name,
                              const json_t *info, const json_t *contents, char *version, size_t vn,
                              char digest[33], bool *existed, char *why, size_t wn)
{
    char adir[WBI_ARTSTORE_PATH], path[WBI_ARTSTORE_PATH + 64];
    *existed = false;
    wbi_artstore_digest(contents, digest);
    if (snprintf(adir, sizeof adir, "%.3700s/%.128s/%.128s", dir, project, name) >=
            (int)sizeof adir ||
        s_mkdirs(adir) != 0) {
        snprintf(why, wn, "cannot create '%.300s': %s", adir, strerror(errno));
        return WANDB_EIO;
    }
    json_t *aliases = json_object_get(info, "aliases");
    long n = s_latest(adir);
    if (n >= 0) { // the same contents as the latest version: no new version
        snprintf(path, sizeof path, "%s/v%ld/info.json", adir, n);
        json_t *old = s_load(path);
        const char *od = json_string_value(json_object_get(old, "digest"));
        bool same = od && strcmp(od, digest) == 0;
        json_decref(old);
        if (same) {
            snprintf(version, vn, "v%ld", n);
            *existed = true;
            return s_aliases(adir, aliases, version, true);
        }
    }
    for (n = n + 1;; n++) { // claim the next number
        snprintf(path, sizeof path, "%s/v%ld", adir, n);
        if (mkdir(path, 0755) == 0)
            break;
        if (errno != EEXIST) {
            snprintf(why, wn, "cannot create '%.300s': %s", path, strerror(errno));
            return WANDB_EIO;
        }
    }
    snprintf(version, vn, "v%ld", n);
    json_t *manifest = json_pack("{s:i, s:s, s:{s:s}, s:O}", "version", 1, "storagePolicy",
                                 "wandb-storage-policy-v1", "storagePolicyConfig", "storageLayout",
                                 "V2", "contents", contents);
    json_t *inf = json_deep_copy(info);
    wandb_err rc = manifest && inf ? WANDB_OK : WANDB_ENOMEM;
    if (rc == WANDB_OK) {
        json_object_set_new(inf, "version", json_string(version));
        json_object_set_new(inf, "digest", json_string(digest));
        json_object_set_new(inf, "files", json_integer((json_int_t)json_object_size(contents)));
        snprintf(path, sizeof path, "%s/v%ld/manifest.json", adir, n);
        rc = s_write_json(path, manifest, JSON_INDENT(1) | JSON_SORT_KEYS);
    }
    if (rc == WANDB_OK) {
        snprintf(path, sizeof path, "%s/v%ld/info.json", adir, n);
        rc = s_write_json(path, inf, JSON_INDENT(1) | JSON_SORT_KEYS);
    }
    if (rc == WANDB_OK)
        rc = s_aliases(adir, aliases, version, true);
    json_decref(manifest);
    json_decref(inf);
    if (rc != WANDB_OK)
        snprintf(why, wn, "cannot write version %s of '%s' under '%.300s': %s", version, name, adir,
                 wandb_strerror(rc));
    return rc;
}

wandb_err wbi_artstore_find(const char *dir, const char *project, const char *name,
                            const char *alias, json_t **info_out, json_t **manifest_out,
                            char *version, size_t vn, char *why, size_t wn)
{
    char adir[WBI_ARTSTORE_PATH], path[WBI_ARTSTORE_PATH + 64];
    *info_out = *manifest_out = NULL;
    snprintf(adir, sizeof adir, "%.3700s/%.128s/%.128s", dir, project, name);
    const char *v = NULL;
    json_t *map = NULL;
    char *end = NULL;
    if (alias[0] == 'v' && alias[1] && (strtol(alias + 1, &end, 10), !*end)) {
        v = alias;
    } else {
        snprintf(path, sizeof path, "%s/aliases.json", adir);
        map = s_load(path);
        v = json_string_value(json_object_get(map, alias));
    }
    wandb_err rc = WANDB_ENOTFOUND;
    if (v) {
        snprintf(version, vn, "%s", v);
        snprintf(path, sizeof path, "%s/%s/info.json", adir, v);
        *info_out = s_load(path);
        snprintf(path, sizeof path, "%s/%s/manifest.json", adir, v);
        *manifest_out = s_load(path);
        if (*info_out && *manifest_out)
            rc = WANDB_OK;
    }
    json_decref(map);
    if (rc != WANDB_OK) {
        json_decref(*info_out);
        json_decref(*manifest_out);
        *info_out = *manifest_out = NULL;
        snprintf(why, wn, "no artifact '%s:%s' in project '%s'", name, alias, project);
    }
    return rc;
}

// Appends one line to path (O_APPEND: whole lines from several writers).
static wandb_err s_append(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return WANDB_EIO;
    size_t len = strlen(line);
    wandb_err rc = write(fd, line, len) == (ssize_t)len ? WANDB_OK : WANDB_EIO;
    close(fd);
    return rc;
}

wandb_err wbi_artstore_consumer(const char *dir, const char *project, const char *name,
                                const char *version, const char *run_id)
{
    char path[WBI_ARTSTORE_PATH], line[512];
    snprintf(path, sizeof path, "%s/%s/%s/%s/consumers.txt", dir, project, name, version);
    snprintf(line, sizeof line, "%s\n", run_id);
    return s_append(path, line);
}

wandb_err wbi_artstore_link(const char *dir, const json_t *link)
{
    char path[WBI_ARTSTORE_PATH];
    snprintf(path, sizeof path, "%s/links.jsonl", dir);
    char *text = wbi_jsonx_dumps(link, JSON_COMPACT);
    if (!text)
        return WANDB_ENOMEM;
    size_t len = strlen(text);
    char *line = wbi_malloc(len + 2);
    wandb_err rc = WANDB_ENOMEM;
    if (line) {
        memcpy(line, text, len);
        line[len] = '\n';
        line[len + 1] = '\0';
        rc = s_append(path, line);
    }
    wbi_free(line);
    wbi_free(text);
    return rc;
}
