//  save.c - wandb_save: run files through the ring to the aggregator
//  SPDX-License-Identifier: MIT
//
//  Ranks may run on nodes without a file system shared with the aggregator,
//  so the calling thread reads the file and its bytes travel as records:
//  FILE_BEGIN {id, name, policy, size}, FILE_CHUNK (id, offset, bytes) as
//  often as needed, FILE_END (id, size) (docs/wire-format.md). One file is
//  in the ring at a time per run (save_mu), so the aggregator assembles at
//  most one. Files saved with "end" are read and sent by wandb_finish before
//  FINISH; "live" ones are sent now and again at finish when their bytes
//  changed. This is not the hot path: it allocates and makes system calls.
#include "logger/run.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"
#include "common/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SAVED_MAX 1024  // files a run remembers for finish
#define S_CHUNK_HEADER 12 // id u32 + offset u64

// A file to look at again at finish (policies end and live).
struct wbi_saved {
    char *path;               // where to read it
    char *name;               // run-relative name
    wandb_save_policy policy; // end or live
    bool sent;                // live: bytes were sent, hash/size describe them
    uint64_t hash;            // FNV-1a of the bytes sent last
    size_t size;              // their length
};

// Policy names as on the wire (and in the official FilesItem.policy).
static const char *s_policy_name(wandb_save_policy policy)
{
    switch (policy) {
    case WANDB_SAVE_END:
        return "end";
    case WANDB_SAVE_LIVE:
        return "live";
    default:
        return "now";
    }
}

// FNV-1a over the bytes: enough to notice that a live file changed.
static uint64_t s_hash(const char *data, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)data[i];
        h *= 1099511628211ull;
    }
    return h;
}

// The run-relative name of path, as the official save() names it: the part
// after base_path; without base_path the last segment of an absolute path,
// or a relative path as given ("./" dropped). NULL when path is not under
// base_path or the name is invalid.
static const char *s_name_of(const char *path, const char *base_path)
{
    const char *name = path;
    if (base_path && *base_path) {
        size_t blen = strlen(base_path);
        while (blen > 1 && base_path[blen - 1] == '/')
            blen--;
        if (strncmp(path, base_path, blen) != 0 ||
            (path[blen] != '/' && base_path[blen - 1] != '/'))
            return NULL;
        name = path + blen;
    } else if (path[0] == '/') {
        name = strrchr(path, '/');
    }
    while (*name == '/')
        name++;
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    return wbi_run_file_name_ok(name) ? name : NULL;
}

// Reads a whole regular file of at most WBI_WIRE_FILE_MAX bytes into *out
// (wbi_free). WANDB_ENOTFOUND, WANDB_EIO, WANDB_ETOOBIG, WANDB_ENOMEM.
static wandb_err s_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO;
    wandb_err rc = WANDB_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out_close;
    rc = WANDB_ETOOBIG;
    if ((uint64_t)st.st_size > WBI_WIRE_FILE_MAX)
        goto out_close;
    rc = WANDB_ENOMEM;
    size_t cap = (size_t)st.st_size;
    char *data = wbi_malloc(cap ? cap : 1);
    if (!data)
        goto out_close;
    // The file may change while we read: stop at the size seen by fstat.
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, data + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wbi_free(data);
            rc = WANDB_EIO;
            goto out_close;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *out = data;
    *len = got;
    rc = WANDB_OK;
out_close:
    close(fd);
    return rc;
}

// Milliseconds left until deadline (at least 1).
static int s_left(int64_t deadline)
{
    int64_t left = deadline - wbi_now_ms();
    return left > 1 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 1;
}

// Sends one file as FILE_BEGIN, FILE_CHUNKs, FILE_END, waiting for ring
// room until deadline. Caller holds save_mu.
static wandb_err s_send(wandb_run_t *run, const char *name, wandb_save_policy policy,
                        const char *data, size_t len, int64_t deadline)
{
    uint32_t id = ++run->file_seq;
    json_t *obj = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)id, "name", name, "policy",
                            s_policy_name(policy), "size", (json_int_t)len);
    char *begin = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!begin)
        return WANDB_ENOMEM;
    wandb_err rc =
        wbi_run_put_record(run, WBI_REC_FILE_BEGIN, begin, strlen(begin), s_left(deadline));
    wbi_free(begin);
    // A chunk record must fit in a quarter of the ring, and is written only
    // while the ring is at most half full (wbi_run_put_bulk_record): chunks
    // stream while the I/O thread drains, and rows logged by other threads
    // meanwhile always find room.
    size_t chunk = WBI_WIRE_FILE_CHUNK;
    size_t quarter = run->ring.cap / 4;
    if (chunk + S_CHUNK_HEADER + WBI_WIRE_RECORD_HEADER > quarter)
        chunk = quarter - S_CHUNK_HEADER - WBI_WIRE_RECORD_HEADER;
    uint8_t *buf = rc == WANDB_OK ? wbi_malloc(S_CHUNK_HEADER + chunk) : NULL;
    if (rc == WANDB_OK && !buf)
        rc = WANDB_ENOMEM;
    for (size_t off = 0; rc == WANDB_OK && off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        wbi_put_u32(buf, id);
        wbi_put_u64(buf + 4, (uint64_t)off);
        memcpy(buf + S_CHUNK_HEADER, data + off, n);
        rc = wbi_run_put_bulk_record(run, WBI_REC_FILE_CHUNK, buf, S_CHUNK_HEADER + n,
                                     s_left(deadline));
        if (rc == WANDB_EFULL && wbi_now_ms() >= deadline)
            rc = WANDB_ETIMEDOUT;
    }
    if (rc == WANDB_OK) {
        uint8_t end[12];
        wbi_put_u32(end, id);
        wbi_put_u64(end + 4, (uint64_t)len);
        rc = wbi_run_put_record(run, WBI_REC_FILE_END, end, sizeof end, s_left(deadline));
    }
    wbi_free(buf);
    if (rc == WANDB_EFULL)
        rc = WANDB_ETIMEDOUT; // the ring did not drain in time
    return rc;
}

// Finds the remembered entry for name, or NULL. Caller holds save_mu.
static struct wbi_saved *s_find(wandb_run_t *run, const char *name)
{
    for (size_t i = 0; i < run->nsaved; i++)
        if (strcmp(run->saved[i].name, name) == 0)
            return &run->saved[i];
    return NULL;
}

// Remembers (or updates) a file for finish. Caller holds save_mu.
static wandb_err s_remember(wandb_run_t *run, const char *path, const char *name,
                            wandb_save_policy policy, struct wbi_saved **out)
{
    struct wbi_saved *e = s_find(run, name);
    char *p = wbi_strdup(path);
    if (!p)
        return WANDB_ENOMEM;
    if (!e) {
        if (run->nsaved >= S_SAVED_MAX) {
            wbi_free(p);
            return WANDB_EFULL;
        }
        if (run->nsaved == run->cap_saved) {
            size_t cap = run->cap_saved ? run->cap_saved * 2 : 8;
            struct wbi_saved *v = wbi_realloc(run->saved, cap * sizeof *v);
            if (!v) {
                wbi_free(p);
                return WANDB_ENOMEM;
            }
            run->saved = v;
            run->cap_saved = cap;
        }
        char *n = wbi_strdup(name);
        if (!n) {
            wbi_free(p);
            return WANDB_ENOMEM;
        }
        e = &run->saved[run->nsaved++];
        *e = (struct wbi_saved){.name = n};
    }
    wbi_free(e->path);
    e->path = p;
    e->policy = policy;
    *out = e;
    return WANDB_OK;
}

// Reads and sends one file; for live entries records what was sent.
static wandb_err s_read_send(wandb_run_t *run, const char *path, const char *name,
                             wandb_save_policy policy, struct wbi_saved *e, int64_t deadline)
{
    char *data = NULL;
    size_t len = 0;
    wandb_err rc = s_read_file(path, &data, &len);
    if (rc != WANDB_OK)
        return rc;
    uint64_t h = s_hash(data, len);
    if (e && e->policy == WANDB_SAVE_LIVE && e->sent && e->hash == h && e->size == len) {
        wbi_free(data); // unchanged since it was sent
        return WANDB_OK;
    }
    rc = s_send(run, name, policy, data, len, deadline);
    wbi_free(data);
    if (rc == WANDB_OK && e) {
        e->sent = true;
        e->hash = h;
        e->size = len;
    }
    return rc;
}

wandb_err wandb_save(wandb_run_t *run, const char *path, const char *base_path,
                     wandb_save_policy policy)
{
    if (!run || !path || !*path)
        return WANDB_EINVAL;
    if (policy != WANDB_SAVE_NOW && policy != WANDB_SAVE_END && policy != WANDB_SAVE_LIVE) {
        wbi_warn("wandb_save: invalid policy %d: use WANDB_SAVE_NOW, _END or _LIVE", (int)policy);
        return WANDB_EINVAL;
    }
    if (run->disabled)
        return WANDB_OK;
    const char *name = s_name_of(path, base_path);
    if (!name) {
        wbi_warn("wandb_save: '%.200s' gives no valid file name under '%.200s'", path,
                 base_path ? base_path : "");
        return WANDB_EINVAL;
    }
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    pthread_mutex_lock(&run->save_mu);
    wandb_err rc = WANDB_OK;
    struct wbi_saved *e = NULL;
    pthread_mutex_lock(&run->mu); // finished (or finishing): an end file would never go
    if (run->closed)
        rc = WANDB_ECLOSED;
    pthread_mutex_unlock(&run->mu);
    if (rc == WANDB_OK && policy != WANDB_SAVE_NOW) {
        struct stat st;
        if (policy == WANDB_SAVE_END && stat(path, &st) != 0)
            rc = errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO;
        if (rc == WANDB_OK)
            rc = s_remember(run, path, name, policy, &e);
    }
    if (rc == WANDB_OK && policy != WANDB_SAVE_END)
        rc = s_read_send(run, path, name, policy, e, deadline);
    pthread_mutex_unlock(&run->save_mu);
    if (rc != WANDB_OK)
        wbi_warn("wandb_save: '%.200s' as '%.200s' not saved: %s", path, name, wandb_strerror(rc));
    return rc;
}

wandb_err wbi_save_flush(wandb_run_t *run, int64_t deadline)
{
    wandb_err first = WANDB_OK;
    pthread_mutex_lock(&run->save_mu);
    for (size_t i = 0; i < run->nsaved; i++) {
        struct wbi_saved *e = &run->saved[i];
        wandb_err rc = s_read_send(run, e->path, e->name, e->policy, e, deadline);
        if (rc != WANDB_OK) {
            wbi_warn("wandb_finish: saved file '%.200s' not sent: %s", e->path, wandb_strerror(rc));
            if (first == WANDB_OK)
                first = rc;
        }
    }
    pthread_mutex_unlock(&run->save_mu);
    return first;
}

void wbi_save_release(wandb_run_t *run)
{
    for (size_t i = 0; i < run->nsaved; i++) {
        wbi_free(run->saved[i].path);
        wbi_free(run->saved[i].name);
    }
    wbi_free(run->saved);
    run->saved = NULL;
    run->nsaved = run->cap_saved = 0;
}
