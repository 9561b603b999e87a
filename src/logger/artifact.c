//  artifact.c - wandb_artifact_t: name, type, entries and the naming rules
//  SPDX-License-Identifier: MIT
//
//  Files are read once when added (MD5 and size, as the official client
//  computes them at add time) and again when the artifact is sent
//  (artifact_send.c), which checks that they did not change. Nothing here
//  talks to the aggregator. Thread: an artifact belongs to one thread at a time.
#include "logger/artifact.h"

#include "common/alloc.h"
#include "common/artname.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_READ_BYTES (256u * 1024u) // bytes read at a time while hashing

wandb_err wbi_art_fail(wandb_artifact_t *self, wandb_err rc, const char *fmt, ...)
{
    char text[WBI_ART_ERR];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (self)
        snprintf(self->errmsg, sizeof self->errmsg, "%s", text);
    wbi_warn("%s", text);
    return rc;
}

// Frees what the run keeps for artifact operations (at run destroy).
void wbi_art_release(wandb_run_t *run)
{
    struct wbi_art_link *l = atomic_load(&run->art);
    if (!l)
        return;
    pthread_mutex_destroy(&l->op_mu);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    wbi_free(l->ack);
    wbi_free(l->data);
    wbi_free(l);
    atomic_store(&run->art, NULL);
}

bool wbi_art_valid(const wandb_artifact_t *self)
{
    return self && self->magic == WBI_ART_MAGIC;
}

wandb_err wbi_art_digest_file(const char *path, char digest[WBI_MD5_B64], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? WANDB_ENOTFOUND : WANDB_EIO;
    wandb_err rc = WANDB_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out_close;
    rc = WANDB_ENOMEM;
    char *buf = wbi_malloc(S_READ_BYTES);
    if (!buf)
        goto out_close;
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    uint64_t total = 0;
    rc = WANDB_OK;
    for (;;) {
        ssize_t n = read(fd, buf, S_READ_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = WANDB_EIO;
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > WANDB_ARTIFACT_FILE_MAX) {
            rc = WANDB_ETOOBIG;
            break;
        }
        wbi_md5_update(&md5, buf, (size_t)n);
    }
    wbi_free(buf);
    if (rc == WANDB_OK) {
        wbi_md5_final_b64(&md5, digest);
        *size = total;
    }
out_close:
    close(fd);
    return rc;
}

wandb_err wandb_artifact_new(const char *name, const char *type, wandb_artifact_t **out)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    char why[WBI_ART_WHY];
    if (!wbi_art_name_ok(name, why, sizeof why) || !wbi_art_type_ok(type, why, sizeof why))
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_artifact_new: %s", why);
    wandb_artifact_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    self->name = wbi_strdup(name);
    self->type = wbi_strdup(type);
    if (!self->name || !self->type) {
        wbi_free(self->name);
        wbi_free(self->type);
        wbi_free(self);
        return WANDB_ENOMEM;
    }
    self->magic = WBI_ART_MAGIC;
    *out = self;
    return WANDB_OK;
}

static void s_free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wbi_free(v[i]);
    wbi_free(v);
}

static void s_entry_free(wbi_art_entry_t *e)
{
    wbi_free(e->name);
    wbi_free(e->path);
    wbi_free(e->ref);
    wbi_free(e->digest);
}

void wandb_artifact_destroy(wandb_artifact_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wandb_artifact_t *self = *self_p;
    *self_p = NULL;
    if (!wbi_art_valid(self))
        return; // not ours, or destroyed twice: leave it
    for (size_t i = 0; i < self->nentries; i++)
        s_entry_free(&self->entries[i]);
    wbi_free(self->entries);
    s_free_list(self->aliases, self->naliases);
    s_free_list(self->tags, self->ntags);
    json_decref(self->metadata);
    json_decref(self->remote);
    wbi_free(self->name);
    wbi_free(self->type);
    wbi_free(self->description);
    wbi_free(self->dir);
    self->magic = 0;
    wbi_free(self);
}

const char *wandb_artifact_errmsg(const wandb_artifact_t *self)
{
    return wbi_art_valid(self) ? self->errmsg : "not an artifact";
}
const char *wandb_artifact_name(const wandb_artifact_t *self)
{
    return wbi_art_valid(self) ? self->name : "";
}
const char *wandb_artifact_type(const wandb_artifact_t *self)
{
    return wbi_art_valid(self) ? self->type : "";
}
const char *wandb_artifact_version(const wandb_artifact_t *self)
{
    return wbi_art_valid(self) ? self->version : "";
}
size_t wandb_artifact_entry_count(const wandb_artifact_t *self)
{
    return wbi_art_valid(self) ? self->nentries : 0;
}

wandb_err wandb_artifact_set_description(wandb_artifact_t *self, const char *text)
{
    if (!wbi_art_valid(self) || !text)
        return WANDB_EINVAL;
    char *d = wbi_strdup(text);
    if (!d)
        return WANDB_ENOMEM;
    wbi_free(self->description);
    self->description = d;
    self->errmsg[0] = '\0';
    return WANDB_OK;
}

wandb_err wandb_artifact_set_metadata(wandb_artifact_t *self, const char *json)
{
    if (!wbi_art_valid(self))
        return WANDB_EINVAL;
    json_error_t jerr;
    json_t *obj = json ? wbi_jsonx_loadb(json, strlen(json), 0, &jerr) : NULL;
    if (!json_is_object(obj)) {
        json_decref(obj);
        return wbi_art_fail(self, WANDB_EINVAL,
                            "wandb_artifact_set_metadata: '%s': metadata must be a JSON object",
                            self->name);
    }
    json_decref(self->metadata);
    self->metadata = obj;
    self->errmsg[0] = '\0';
    return WANDB_OK;
}

// Appends a copy of s to *v unless it is there.
static wandb_err s_list_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return WANDB_OK;
    if (*n >= 256)
        return WANDB_EFULL;
    char **nv = wbi_realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return WANDB_ENOMEM;
    *v = nv;
    if (!(nv[*n] = wbi_strdup(s)))
        return WANDB_ENOMEM;
    (*n)++;
    return WANDB_OK;
}

wandb_err wandb_artifact_add_alias(wandb_artifact_t *self, const char *alias)
{
    if (!wbi_art_valid(self))
        return WANDB_EINVAL;
    char why[WBI_ART_WHY];
    if (!wbi_art_alias_ok(alias, why, sizeof why))
        return wbi_art_fail(self, WANDB_EINVAL, "wandb_artifact_add_alias: '%s': %s", self->name,
                            why);
    self->errmsg[0] = '\0';
    return s_list_add(&self->aliases, &self->naliases, alias);
}

wandb_err wandb_artifact_add_tag(wandb_artifact_t *self, const char *tag)
{
    if (!wbi_art_valid(self))
        return WANDB_EINVAL;
    char why[WBI_ART_WHY];
    if (!wbi_art_tag_ok(tag, why, sizeof why))
        return wbi_art_fail(self, WANDB_EINVAL, "wandb_artifact_add_tag: '%s': %s", self->name,
                            why);
    self->errmsg[0] = '\0';
    return s_list_add(&self->tags, &self->ntags, tag);
}

static wbi_art_entry_t *s_find(wandb_artifact_t *self, const char *name)
{
    for (size_t i = 0; i < self->nentries; i++)
        if (strcmp(self->entries[i].name, name) == 0)
            return &self->entries[i];
    return NULL;
}

// Adds one entry (strings copied). A name already there with the same
// digest is a no-op; with another one WANDB_EINVAL.
static wandb_err s_add(wandb_artifact_t *self, const char *fn, const char *name, const char *path,
                       const char *ref, const char *digest, uint64_t size)
{
    wbi_art_entry_t *old = s_find(self, name);
    if (old) {
        if (strcmp(old->digest, digest) == 0)
            return WANDB_OK;
        return wbi_art_fail(self, WANDB_EINVAL,
                            "%s: '%s': entry '%s' was already added with other contents", fn,
                            self->name, name);
    }
    if (self->nentries >= WBI_ART_ENTRIES_MAX)
        return wbi_art_fail(self, WANDB_EFULL, "%s: '%s': more than %d entries", fn, self->name,
                            WBI_ART_ENTRIES_MAX);
    if (self->nentries == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        wbi_art_entry_t *v = wbi_realloc(self->entries, cap * sizeof *v);
        if (!v)
            return WANDB_ENOMEM;
        self->entries = v;
        self->cap = cap;
    }
    wbi_art_entry_t e = {.name = wbi_strdup(name),
                         .path = path ? wbi_strdup(path) : NULL,
                         .ref = ref ? wbi_strdup(ref) : NULL,
                         .digest = wbi_strdup(digest),
                         .size = size};
    if (!e.name || !e.digest || (path && !e.path) || (ref && !e.ref)) {
        s_entry_free(&e);
        return WANDB_ENOMEM;
    }
    self->entries[self->nentries++] = e;
    return WANDB_OK;
}

// Reads path and adds it under name. fn names the public call for messages.
static wandb_err s_add_file(wandb_artifact_t *self, const char *fn, const char *path,
                            const char *name)
{
    if (!wbi_run_file_name_ok(name))
        return wbi_art_fail(self, WANDB_EINVAL,
                            "%s: '%s': '%.200s' is not a valid entry name (a relative "
                            "'/'-separated path without '.' or '..' parts)",
                            fn, self->name, name);
    char digest[WBI_MD5_B64];
    uint64_t size = 0;
    wandb_err rc = wbi_art_digest_file(path, digest, &size);
    if (rc == WANDB_ENOTFOUND)
        return wbi_art_fail(self, rc, "%s: '%s': no such file '%.300s'", fn, self->name, path);
    if (rc == WANDB_ETOOBIG)
        return wbi_art_fail(self, rc, "%s: '%s': '%.300s' is larger than %llu bytes", fn,
                            self->name, path, (unsigned long long)WANDB_ARTIFACT_FILE_MAX);
    if (rc != WANDB_OK)
        return wbi_art_fail(self, rc, "%s: '%s': cannot read '%.300s': %s", fn, self->name, path,
                            rc == WANDB_EIO && errno ? strerror(errno) : wandb_strerror(rc));
    return s_add(self, fn, name, path, NULL, digest, size);
}

wandb_err wandb_artifact_add_file(wandb_artifact_t *self, const char *path, const char *name)
{
    if (!wbi_art_valid(self) || !path || !*path)
        return wbi_art_fail(wbi_art_valid(self) ? self : NULL, WANDB_EINVAL,
                            "wandb_artifact_add_file: no artifact or no path");
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    wandb_err rc = s_add_file(self, "wandb_artifact_add_file", path, name);
    if (rc == WANDB_OK)
        self->errmsg[0] = '\0';
    return rc;
}

// Adds every regular file below dir (its path below the top is rel).
static wandb_err s_walk(wandb_artifact_t *self, const char *dir, const char *rel, int depth)
{
    if (depth > 64)
        return wbi_art_fail(self, WANDB_EINVAL,
                            "wandb_artifact_add_dir: '%s': '%.300s' is "
                            "nested more than 64 levels deep",
                            self->name, dir);
    DIR *d = opendir(dir);
    if (!d)
        return wbi_art_fail(self, errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO,
                            "wandb_artifact_add_dir: '%s': cannot open directory '%.300s': %s",
                            self->name, dir, strerror(errno));
    wandb_err rc = WANDB_OK;
    struct dirent *de;
    while (rc == WANDB_OK && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096], name[2048];
        int a = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int b = snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (a < 0 || (size_t)a >= sizeof path || b < 0 || (size_t)b >= sizeof name) {
            rc = wbi_art_fail(self, WANDB_ETOOBIG,
                              "wandb_artifact_add_dir: '%s': path too long "
                              "under '%.300s'",
                              self->name, dir);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = wbi_art_fail(self, WANDB_EIO,
                              "wandb_artifact_add_dir: '%s': cannot stat "
                              "'%.300s': %s",
                              self->name, path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            struct stat lst;
            if (lstat(path, &lst) == 0 && !S_ISLNK(lst.st_mode))
                rc = s_walk(self, path, name, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = s_add_file(self, "wandb_artifact_add_dir", path, name);
        }
    }
    closedir(d);
    return rc;
}

wandb_err wandb_artifact_add_dir(wandb_artifact_t *self, const char *path, const char *name)
{
    if (!wbi_art_valid(self) || !path || !*path)
        return wbi_art_fail(wbi_art_valid(self) ? self : NULL, WANDB_EINVAL,
                            "wandb_artifact_add_dir: no artifact or no path");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return wbi_art_fail(self, errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO,
                            "wandb_artifact_add_dir: '%s': '%.300s' is not a directory", self->name,
                            path);
    size_t before = self->nentries;
    wandb_err rc = s_walk(self, path, name ? name : "", 0);
    if (rc != WANDB_OK) { // all or nothing
        while (self->nentries > before)
            s_entry_free(&self->entries[--self->nentries]);
        return rc;
    }
    self->errmsg[0] = '\0';
    return WANDB_OK;
}

wandb_err wandb_artifact_add_reference(wandb_artifact_t *self, const char *uri, const char *name)
{
    if (!wbi_art_valid(self))
        return WANDB_EINVAL;
    char why[WBI_ART_WHY];
    if (!wbi_art_ref_ok(uri, why, sizeof why))
        return wbi_art_fail(self, WANDB_EINVAL, "wandb_artifact_add_reference: '%s': %s",
                            self->name, why);
    if (!name) {
        const char *slash = strrchr(uri, '/');
        name = slash && slash[1] ? slash + 1 : uri + strcspn(uri, ":") + 3;
    }
    if (!wbi_run_file_name_ok(name))
        return wbi_art_fail(self, WANDB_EINVAL,
                            "wandb_artifact_add_reference: '%s': '%.200s' is not a valid entry "
                            "name",
                            self->name, name);
    wandb_err rc = s_add(self, "wandb_artifact_add_reference", name, NULL, uri, uri, 0);
    if (rc == WANDB_OK)
        self->errmsg[0] = '\0';
    return rc;
}

wandb_err wbi_art_add_entry(wandb_artifact_t *self, const char *name, const char *ref,
                            const char *digest, uint64_t size)
{
    return s_add(self, "wandb_use_artifact", name, NULL, ref, digest, size);
}
