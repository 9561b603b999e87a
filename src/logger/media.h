//  media.h - what the media files (media_*.c) share inside the logger
//  SPDX-License-Identifier: MIT
//
//  media_hist.c owns histograms (and the watch's binning), media_image.c
//  images, media_table.c tables, media_log.c what logging a media file
//  needs (file name, step, sending the bytes through the ring), and
//  media_watch.c wandb_watch. Thread rules are those of wandb_media.h.
#ifndef WBI_MEDIA_H
#define WBI_MEDIA_H

#include "logger/run.h"
#include "wandb_media.h"

// Bytes of a media file at most (the run-file limit of wandb_save).
#define WBI_MEDIA_FILE_MAX ((size_t)64 << 20)
// Items in one list of images, tables or histograms.
#define WBI_MEDIA_LIST_MAX 256
// Longest run-file name of a media file.
#define WBI_MEDIA_NAME_MAX 1024

// The histogram of the official watch over n values of dtype at data
// (NaN and infinities left out, one bin [v, v] when all are equal, else
// bins equal bins). *json is its history value (wbi_free), or NULL when no
// value is finite (nothing to log). WANDB_ENOMEM.
wandb_err wbi_hist_watch_json(const void *data, wandb_dtype dtype, size_t n, int bins, char **json);

// The step a row logged now with `step` gets: step itself when >= 0, else
// the run's current step.
int64_t wbi_media_step(const wandb_run_t *run, int64_t step);

// Writes the run-file name "<subdir>/<key>_<step>_<sha256[:20]><ext>" into
// out (WBI_MEDIA_NAME_MAX bytes), with the key made safe as the official
// client does (leading '/' dropped, "." and ".." segments turned into "_"
// and "__"). WANDB_EINVAL when that gives no valid run-file name.
wandb_err wbi_media_name(char *out, const char *subdir, const char *key, int64_t step,
                         const char *sha256_hex, const char *ext);

// Sends data[0..len) as the run file `name` (FILE_BEGIN, FILE_CHUNKs,
// FILE_END, like wandb_save with policy now), waiting for ring room at most
// finish_timeout_ms. WANDB_ETIMEDOUT, WANDB_ECLOSED, WANDB_ENOMEM.
wandb_err wbi_media_send(wandb_run_t *run, const char *name, const void *data, size_t len);

// Logs the JSON text json under key (wandb_log_values with one WANDB_JSON value).
wandb_err wbi_media_log_json(wandb_run_t *run, const char *key, const char *json, int64_t step,
                             int commit);

#endif
