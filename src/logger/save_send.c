//  save_send.c - a saved file's bytes through the ring: FILE_BEGIN, FILE_CHUNKs, FILE_END
//  SPDX-License-Identifier: MIT
//
//  Ranks may run on nodes without a file system shared with the aggregator,
//  so the saving thread (wandb_save, the live watcher or wandb_finish) reads
//  the file and its bytes travel as records: FILE_BEGIN {id, name, policy,
//  size}, FILE_CHUNK (id, offset, bytes) as often as needed, FILE_END (id,
//  size) (docs/wire-format.md). One file is in the ring at a time per run:
//  every caller holds run->save_mu, so the aggregator assembles at most one.
//  This is not the hot path: it allocates and makes system calls.
#include "logger/save.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CHUNK_HEADER 12 // id u32 + offset u64

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

wandb_err wbi_save_send(wandb_run_t *run, const char *name, wandb_save_policy policy,
                        const void *bytes, size_t len, int64_t deadline)
{
    const char *data = bytes;
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

// Reads and sends one file; for live entries records what was sent.
wandb_err wbi_save_read_send(wandb_run_t *run, const char *path, const char *name,
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
    rc = wbi_save_send(run, name, policy, data, len, deadline);
    wbi_free(data);
    if (rc == WANDB_OK && e) {
        e->sent = true;
        e->hash = h;
        e->size = len;
    }
    return rc;
}
