//  mirror.h - what a run has shipped, kept for reading back: summary, config, status
//  SPDX-License-Identifier: MIT
//
//  The seed's run.summary and run.config read back, and run.status(). The
//  I/O thread feeds every message it hands to ZeroMQ (whole records:
//  HELLO, KEY, ROW, CONFIG, SUMMARY, ...) into the mirror, so the log()
//  hot path does nothing more: the mirror learns key names from KEY
//  records, keeps the last value of every logged key (and the explicit
//  summary values, which win until the key is logged again), and the
//  config from HELLO and CONFIG. JSON is built only when asked for.
//  Thread: wbi_mirror_message from the I/O thread; the readers from any
//  thread (one mutex; the I/O thread holds it once per message).
#ifndef WBI_MIRROR_H
#define WBI_MIRROR_H

#include "wandb.h"

typedef struct wbi_mirror wbi_mirror_t;

// Counters of what was handed to the aggregator's connection.
typedef struct {
    uint64_t records;  // records sent
    uint64_t rows;     // ROW records that ended a row (COMMIT)
    double last_sent;  // Unix seconds of the last message with records; 0: none
    int64_t last_step; // step of the last ROW sent; -1: none
} wbi_mirror_counts_t;

// A new, empty mirror. start_time: the run's Unix start (for _runtime).
wandb_err wbi_mirror_new(wbi_mirror_t **out, double start_time);
void wbi_mirror_destroy(wbi_mirror_t **self_p);
// Applies the records of one message (with its 8-byte header) that was sent.
void wbi_mirror_message(wbi_mirror_t *self, const uint8_t *msg, size_t len);
// The summary as a JSON object text: the last value of every logged key,
// the explicit summary values, _step, _runtime and _timestamp of the last
// row. malloc'd (free(3)); NULL when out of memory.
char *wbi_mirror_summary_json(wbi_mirror_t *self);
// The config as a JSON object text, malloc'd; NULL when out of memory.
char *wbi_mirror_config_json(wbi_mirror_t *self);
void wbi_mirror_counts(wbi_mirror_t *self, wbi_mirror_counts_t *out);

#endif
