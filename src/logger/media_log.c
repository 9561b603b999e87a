//  media_log.c - what logging a media file needs: its name, its step, its bytes
//  SPDX-License-Identifier: MIT
//
//  A media file travels like a wandb_save file with policy "now":
//  FILE_BEGIN {id, name, policy, size}, FILE_CHUNKs, FILE_END
//  (wbi_save_send of save_send.c, docs/wire-format.md), under the run's
//  save_mu so that one file at a time is in the ring. The bytes come from
//  memory (a PNG or table made here), so nothing is written to the rank's
//  disk. Thread: any.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/relpath.h"
#include "common/wire.h"
#include "logger/save.h"
#include <stdio.h>
#include <string.h>

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

wandb_err wbi_media_send(wandb_run_t *run, const char *name, const void *data, size_t len)
{
    if (len > WBI_MEDIA_FILE_MAX)
        return WANDB_ETOOBIG;
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    pthread_mutex_lock(&run->save_mu);
    wandb_err rc = wbi_save_send(run, name, WANDB_SAVE_NOW, data, len, deadline);
    pthread_mutex_unlock(&run->save_mu);
    return rc;
}

wandb_err wbi_media_log_json(wandb_run_t *run, const char *key, const char *json, int64_t step,
                             int commit)
{
    wandb_value_t v = WANDB_JSON(key, json);
    return wandb_log_values(run, &v, 1, step, commit);
}
