//  media_log.c - what logging a media file needs: its name, its step, its bytes
//  SPDX-License-Identifier: MIT
//
//  A media file travels like a wandb_save file with policy "now":
//  FILE_BEGIN {id, name, policy, size}, FILE_CHUNKs, FILE_END (save.c,
//  docs/wire-format.md), under the run's save_mu so that one file at a time
//  is in the ring. The bytes come from memory (a PNG or table made here),
//  so nothing is written to the rank's disk. Thread: any.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/relpath.h"
#include "common/wire.h"
#include <stdio.h>
#include <string.h>

#define S_CHUNK_HEADER 12 // id u32 + offset u64

int64_t wbi_media_step(const wandb_run_t *run, int64_t step)
{
    return step >= 0 ? step : atomic_load_explicit(&run->step, memory_order_relaxed);
}

wandb_err wbi_media_name(char *out, const char *subdir, const char *key, int64_t step,
                         const char *sha256_hex, const char *ext)
{
    char safe[WBI_MEDIA_NAME_MAX];
    size_t len = 0;
    if (strlen(key) > WBI_WIRE_KEY_MAX)
        return WANDB_EINVAL; // wandb_log would refuse the key after the file was sent
    while (*key == '/')
        key++;
    // Segment by segment: "." becomes "_" and ".." becomes "__".
    while (*key) {
        const char *end = strchr(key, '/');
        size_t seg = end ? (size_t)(end - key) : strlen(key);
        bool dots = (seg == 1 && key[0] == '.') || (seg == 2 && key[0] == '.' && key[1] == '.');
        if (len + seg + 2 >= sizeof safe)
            return WANDB_EINVAL;
        for (size_t i = 0; i < seg; i++)
            safe[len++] = dots ? '_' : key[i];
        key += seg;
        if (*key == '/')
            safe[len++] = *key++;
    }
    safe[len] = '\0';
    int n = snprintf(out, WBI_MEDIA_NAME_MAX, "%s/%s_%lld_%.20s%s", subdir, safe, (long long)step,
                     sha256_hex, ext);
    if (len == 0 || n < 0 || n >= WBI_MEDIA_NAME_MAX || !wbi_run_file_name_ok(out))
        return WANDB_EINVAL;
    return WANDB_OK;
}

// Milliseconds left until deadline (at least 1).
static int s_left(int64_t deadline)
{
    int64_t left = deadline - wbi_now_ms();
    return left > 1 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 1;
}

// Sends the file as records; the caller holds save_mu.
static wandb_err s_send_locked(wandb_run_t *run, const char *name, const uint8_t *data, size_t len,
                               int64_t deadline)
{
    uint32_t id = ++run->file_seq;
    json_t *obj = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)id, "name", name, "policy",
                            "now", "size", (json_int_t)len);
    char *begin = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!begin)
        return WANDB_ENOMEM;
    wandb_err rc =
        wbi_run_put_record(run, WBI_REC_FILE_BEGIN, begin, strlen(begin), s_left(deadline));
    wbi_free(begin);
    // Chunks fit in a quarter of the ring and are written while it is at
    // most half full, as wandb_save's: rows logged meanwhile keep their room.
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
    return rc == WANDB_EFULL ? WANDB_ETIMEDOUT : rc;
}

wandb_err wbi_media_send(wandb_run_t *run, const char *name, const void *data, size_t len)
{
    if (len > WBI_MEDIA_FILE_MAX)
        return WANDB_ETOOBIG;
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    pthread_mutex_lock(&run->save_mu);
    wandb_err rc = s_send_locked(run, name, data, len, deadline);
    pthread_mutex_unlock(&run->save_mu);
    return rc;
}

wandb_err wbi_media_log_json(wandb_run_t *run, const char *key, const char *json, int64_t step,
                             int commit)
{
    wandb_value_t v = WANDB_JSON(key, json);
    return wandb_log_values(run, &v, 1, step, commit);
}
