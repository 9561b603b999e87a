//  artifact_get.c - wandb_use_artifact and the download of a used artifact
//  SPDX-License-Identifier: MIT
//
//  use: an ART_BEGIN {op: "use", use: {entity, project, name, alias}} that the
//  aggregator answers with the version and its entries (and records the run
//  as a consumer). download: the rank pulls each file with ART_READ (one
//  request of at most S_READ_MAX bytes in flight: the flow control of the
//  way back) and the aggregator answers ART_DATA; the bytes go to a
//  temporary file beside the target, their MD5 is checked against the
//  manifest, then the file is renamed into place. Thread: the caller's; the
//  I/O thread only hands DATA over (wbi_art_on_data).
#include "logger/artifact.h"

#include "common/alloc.h"
#include "common/artname.h"
#include "common/log.h"
#include "common/relpath.h"
#include "common/wire.h"
#include "logger/io.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_READ_MAX (256u * 1024u) // bytes asked for at a time

void wbi_art_on_data(wandb_run_t *run, const uint8_t *payload, size_t len)
{
    struct wbi_art_link *l = atomic_load(&run->art);
    uint8_t *copy = len >= 16 ? wbi_malloc(len) : NULL;
    if (!l || !copy) {
        wbi_free(copy);
        return;
    }
    memcpy(copy, payload, len);
    pthread_mutex_lock(&l->mu);
    wbi_free(l->data);
    l->data = copy;
    l->data_len = len;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

// Waits for a DATA answer until deadline; returns it (owned) or NULL.
static uint8_t *s_wait_data(struct wbi_art_link *l, size_t *len, int64_t deadline)
{
    pthread_mutex_lock(&l->mu);
    while (!l->data && wbi_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    uint8_t *d = l->data;
    *len = l->data_len;
    l->data = NULL;
    pthread_mutex_unlock(&l->mu);
    return d;
}

// Creates every missing directory of the parent of path.
wandb_err wbi_art_mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return WANDB_EIO;
    }
    return WANDB_OK;
}

// Pulls file file_no into fd, checking its MD5. Caller holds op_mu.
static wandb_err s_pull(wandb_artifact_t *a, struct wbi_art_link *l, uint32_t file_no,
                        const wbi_art_entry_t *e, int fd, int wait_ms)
{
    wandb_run_t *run = a->run;
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    uint64_t off = 0;
    for (;;) {
        uint8_t req[20];
        wbi_put_u32(req, a->use_id);
        wbi_put_u32(req + 4, file_no);
        wbi_put_u64(req + 8, off);
        wbi_put_u32(req + 16, S_READ_MAX);
        pthread_mutex_lock(&l->mu);
        wbi_free(l->data); // a late answer of an abandoned download
        l->data = NULL;
        pthread_mutex_unlock(&l->mu);
        wandb_err rc = wbi_run_put_record(run, WBI_REC_ART_READ, req, sizeof req, wait_ms);
        if (rc != WANDB_OK)
            return wbi_art_fail(a, rc, "download of '%s': cannot ask for '%s': %s", a->name,
                                e->name, wandb_strerror(rc));
        if (run->io)
            wbi_io_wake(run->io);
        size_t len = 0;
        uint8_t *d = s_wait_data(l, &len, wbi_now_ms() + wait_ms);
        if (!d)
            return wbi_art_fail(a, WANDB_ETIMEDOUT,
                                "download of '%s': no bytes of '%s' from the aggregator in %d ms",
                                a->name, e->name, wait_ms);
        bool match = wbi_get_u32(d) == a->use_id && wbi_get_u32(d + 4) == file_no &&
                     wbi_get_u64(d + 8) == off;
        size_t n = len - 16;
        if (match && n > 0 && write(fd, d + 16, n) != (ssize_t)n) {
            wbi_free(d);
            return wbi_art_fail(a, WANDB_EIO, "download of '%s': cannot write '%s': %s", a->name,
                                e->name, strerror(errno));
        }
        if (match)
            wbi_md5_update(&md5, d + 16, n);
        wbi_free(d);
        if (!match)
            return wbi_art_fail(a, WANDB_EPROTO, "download of '%s': an answer out of order",
                                a->name);
        off += n;
        if (n == 0 || off >= e->size)
            break;
    }
    char digest[WBI_MD5_B64];
    wbi_md5_final_b64(&md5, digest);
    if (off != e->size || strcmp(digest, e->digest) != 0)
        return wbi_art_fail(a, WANDB_EIO,
                            "download of '%s': '%s' arrived with %llu bytes and digest %s, the "
                            "manifest says %llu and %s",
                            a->name, e->name, (unsigned long long)off, digest,
                            (unsigned long long)e->size, e->digest);
    return WANDB_OK;
}

wandb_err wbi_art_fetch(wandb_artifact_t *a, const char *dir)
{
    wandb_run_t *run = a->run;
    int wait_ms = run->cfg.finish_timeout_ms > 0 ? run->cfg.finish_timeout_ms : 30000;
    struct wbi_art_link *l = wbi_art_link(run);
    if (!l)
        return WANDB_ENOMEM;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return wbi_art_fail(a, WANDB_EIO, "download of '%s': cannot create '%.300s': %s", a->name,
                            dir, strerror(errno));
    if (a->remote) {
        wandb_err rr = wbi_art_remote_fetch(a, dir);
        if (rr != WANDB_OK)
            return rr;
        char *d = wbi_strdup(dir);
        if (!d)
            return WANDB_ENOMEM;
        wbi_free(a->dir);
        a->dir = d;
        a->errmsg[0] = '\0';
        return WANDB_OK;
    }
    pthread_mutex_lock(&l->op_mu);
    wandb_err rc = WANDB_OK;
    uint32_t file_no = 0;
    for (size_t i = 0; rc == WANDB_OK && i < a->nentries; i++) {
        const wbi_art_entry_t *e = &a->entries[i];
        if (e->ref)
            continue; // references are not fetched
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->name);
        snprintf(tmp, sizeof tmp, "%s.part-%d", path, (int)getpid());
        if (wbi_art_mkdirs(path) != WANDB_OK) {
            rc = wbi_art_fail(a, WANDB_EIO,
                              "download of '%s': cannot create the directory of "
                              "'%.300s'",
                              a->name, path);
            break;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = wbi_art_fail(a, WANDB_EIO, "download of '%s': cannot create '%.300s': %s", a->name,
                              tmp, strerror(errno));
            break;
        }
        rc = s_pull(a, l, file_no++, e, fd, wait_ms);
        if (close(fd) != 0 && rc == WANDB_OK)
            rc =
                wbi_art_fail(a, WANDB_EIO, "download of '%s': cannot write '%.300s'", a->name, tmp);
        if (rc == WANDB_OK && rename(tmp, path) != 0)
            rc = wbi_art_fail(a, WANDB_EIO, "download of '%s': cannot rename to '%.300s': %s",
                              a->name, path, strerror(errno));
        if (rc != WANDB_OK)
            unlink(tmp);
    }
    pthread_mutex_unlock(&l->op_mu);
    if (rc == WANDB_OK) {
        char *d = wbi_strdup(dir);
        if (!d)
            return WANDB_ENOMEM;
        wbi_free(a->dir);
        a->dir = d;
        a->errmsg[0] = '\0';
    }
    return rc;
}

wandb_err wandb_use_artifact(wandb_run_t *run, const char *name, wandb_artifact_t **out)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!run)
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_use_artifact: no run");
    wbi_art_ref_t ref;
    char why[WBI_ART_WHY];
    if (!wbi_art_use_parse(name, &ref, why, sizeof why))
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_use_artifact: %s", why);
    if (run->disabled)
        return wbi_art_fail(NULL, WANDB_ENOTSUP, "wandb_use_artifact: '%s': the run is disabled",
                            name);
    wandb_artifact_t *a = NULL;
    wandb_err rc = wandb_artifact_new(ref.name, "unknown", &a);
    if (rc != WANDB_OK)
        return rc;
    json_t *extra = json_pack("{s:{s:s, s:s, s:s, s:s}}", "use", "entity", ref.entity, "project",
                              ref.project, "name", ref.name, "alias", ref.alias);
    json_t *ack = NULL;
    rc = extra ? wbi_art_send(run, a, "use", NULL, extra, &ack) : WANDB_ENOMEM;
    json_decref(extra);
    // Not in the aggregator's store: ask the backend itself (artifact_remote.c).
    if (rc == WANDB_EBACKEND && run->cfg.mode == WBI_MODE_ONLINE)
        rc = wbi_art_remote_use(run, &ref, a);
    else if (rc == WANDB_EBACKEND)
        wbi_warn("%s (offline: no backend to ask)", a->errmsg);
    else if (rc == WANDB_OK) {
        const char *type = json_string_value(json_object_get(ack, "type"));
        char *t = wbi_strdup(type ? type : "unknown");
        if (t) {
            wbi_free(a->type);
            a->type = t;
        }
        a->use_id = (uint32_t)json_integer_value(json_object_get(ack, "use_id"));
        a->run = run;
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(ack, "entries"), i, f)
        {
            const char *en = json_string_value(json_object_get(f, "name"));
            const char *dg = json_string_value(json_object_get(f, "digest"));
            const char *rf = json_string_value(json_object_get(f, "ref"));
            json_int_t sz = json_integer_value(json_object_get(f, "size"));
            if (!en || !dg || sz < 0 || !wbi_run_file_name_ok(en)) {
                rc = wbi_art_fail(a, WANDB_EPROTO, "wandb_use_artifact: '%s': a bad entry", name);
                break;
            }
            if ((rc = wbi_art_add_entry(a, en, rf, dg, (uint64_t)sz)) != WANDB_OK)
                break;
        }
    }
    json_decref(ack);
    if (rc != WANDB_OK) {
        wandb_artifact_destroy(&a);
        return rc;
    }
    *out = a;
    return WANDB_OK;
}

wandb_err wandb_artifact_download(wandb_artifact_t *self, const char *dir)
{
    if (!wbi_art_valid(self) || !dir || !*dir)
        return WANDB_EINVAL;
    if (!self->run)
        return wbi_art_fail(self, WANDB_EINVAL,
                            "wandb_artifact_download: '%s' was not returned by wandb_use_artifact",
                            self->name);
    return wbi_art_fetch(self, dir);
}

wandb_err wandb_artifact_file(wandb_artifact_t *self, const char *name, char *buf, size_t len)
{
    if (!wbi_art_valid(self) || !name || !buf)
        return WANDB_EINVAL;
    if (!self->dir)
        return wbi_art_fail(self, WANDB_EINVAL, "wandb_artifact_file: '%s' is not downloaded",
                            self->name);
    for (size_t i = 0; i < self->nentries; i++) {
        if (strcmp(self->entries[i].name, name) != 0 || self->entries[i].ref)
            continue;
        int n = snprintf(buf, len, "%s/%s", self->dir, name);
        return n >= 0 && (size_t)n < len ? WANDB_OK : WANDB_ETOOBIG;
    }
    return wbi_art_fail(self, WANDB_ENOTFOUND, "wandb_artifact_file: '%s' has no file '%.200s'",
                        self->name, name);
}
