//  bench_feed.h - replayed rank traffic for the aggregator benchmarks (B4)
//  SPDX-License-Identifier: MIT
//
//  The HELLO, KEY and ROW messages of N simulated ranks (10 doubles a row,
//  one run per rank, one group, world_size N), encoded once with the
//  encoders of src/common/wire.h and kept in one buffer, ROW messages in the
//  round-robin order a ROUTER delivers them: message m of every rank, then
//  message m + 1. Thread: the caller's only.
#ifndef WANDB_BENCH_FEED_H
#define WANDB_BENCH_FEED_H

#include <stddef.h>
#include <stdint.h>

#define BF_KEYS 10 // values a row
#define BF_T0 1767225600.0

typedef struct {
    uint32_t rank;     // which simulated rank
    size_t off;        // offset in bf_feed_t.data
    uint32_t len;      // message length
    int64_t last_step; // highest step in the message (-1: none)
} bf_msg_t;

typedef struct {
    uint8_t *data;     // every encoded message
    size_t len;        // used
    size_t cap;        // allocated
    bf_msg_t *hello;   // the HELLO+KEY message of each rank
    bf_msg_t *rows;    // the ROW messages, in feed order
    size_t nrows_msgs; // how many
    uint64_t points;   // values in the ROW messages
    uint64_t lines;    // rows in them (each one COMMIT)
} bf_feed_t;

// The key names, "train/m0" ... (filled by bf_feed_build).
extern char bf_names[BF_KEYS][16];

// The value of key k at step of rank r: metric-like doubles with full
// precision (losses decaying with noise, accuracies, learning rates).
double bf_value(int r, int64_t step, int k);
// Encodes nranks x rows_per_rank rows, rows_per_msg rows a message. Aborts
// when out of memory (a benchmark).
void bf_feed_build(bf_feed_t *f, int nranks, int64_t rows_per_rank, int rows_per_msg);
void bf_feed_free(bf_feed_t *f);

#endif
