//  series.h - wandb-mpi-server: numeric series of one run's history, and their cache
//  SPDX-License-Identifier: MIT
//
//  A series set holds every (x, y) point of every numeric metric of one run
//  against one x key (optionally only some keys), read line by line from
//  the history; it remembers how many lines it has read, so a live run's
//  next request reads only the new ones. The cache (one per server) keeps
//  sets between requests, least recently used first out, within a byte
//  budget. A set is used by one request at a time: take removes it from
//  the cache, give puts it back. Cache calls: any thread (own mutex); a set:
//  the thread that took it.
#ifndef WBI_SERIES_H
#define WBI_SERIES_H

#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wbi_series_set wbi_series_set_t;
typedef struct wbi_series_cache wbi_series_cache_t;

// A new empty set for run run_id against xkey, keeping only the
// comma-separated keys (NULL or "": every key). NULL when out of memory.
wbi_series_set_t *wbi_series_new(int64_t run_id, const char *xkey, const char *keys);
// Frees *self_p and sets it to NULL; NULL-safe.
void wbi_series_destroy(wbi_series_set_t **self_p);
// History lines read so far (the next line number to read).
int64_t wbi_series_lines(const wbi_series_set_t *self);
// Reads text: lines separated by '\n'; next_line is the line number after
// the last of them. False when out of memory (the set is then unusable).
bool wbi_series_add_lines(wbi_series_set_t *self, const char *text, size_t len, int64_t next_line);
// Writes "name":{"x":[...],"y":[...]},... with at most about samples points
// per series (min and max of samples/2 buckets, plus the last point).
wandb_err wbi_series_put_json(const wbi_series_set_t *self, wbi_buf_t *out, size_t samples);
// True when keys over the per-run limit were dropped.
bool wbi_series_is_truncated(const wbi_series_set_t *self);

// The cache: budget in bytes of points and names.
wbi_series_cache_t *wbi_series_cache_new(size_t budget);
// Frees the cache and every set in it, sets *self_p to NULL; NULL-safe.
void wbi_series_cache_destroy(wbi_series_cache_t **self_p);
// Removes and returns the set of (run_id, xkey, keys), or NULL.
wbi_series_set_t *wbi_series_cache_take(wbi_series_cache_t *self, int64_t run_id, const char *xkey,
                                        const char *keys);
// Puts *set_p back and sets it to NULL (the cache owns the set; it may free
// it at once, or older sets, to stay within the budget). NULL-safe.
void wbi_series_cache_give(wbi_series_cache_t *self, wbi_series_set_t **set_p);

#endif
