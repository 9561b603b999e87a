//  history.h - typed values and their W&B extended-JSON text
//  SPDX-License-Identifier: MIT
//
//  A history row holds values as small tagged structs; string and JSON bytes
//  live in a separate arena so that merging a scalar never allocates. Rows
//  travel typed (wbi_agg_row_t) from a run to its sinks; only the edge that
//  writes them out (the outlet) encodes them, appending straight to a reused
//  wbi_buf_t (no jansson on the scalar path). Thread: any (no state).
#ifndef WBI_AGG_HISTORY_H
#define WBI_AGG_HISTORY_H

#include "aggregator/names.h"
#include "common/buf.h"

typedef struct {
    uint8_t type; // wandb_type
    uint32_t len; // bytes of a string or JSON value
    union {
        double d;     // WANDB_TYPE_DOUBLE
        int64_t i;    // WANDB_TYPE_INT
        bool b;       // WANDB_TYPE_BOOL
        uint32_t off; // string/JSON: offset of the bytes in the arena
    } as;
} wbi_hval_t;

// One emitted history row, borrowed for the duration of the callback that
// receives it: values in first-seen order, names[i] the key of vals[i].
typedef struct {
    int64_t step;                       // _step
    double runtime;                     // _runtime (seconds since the run started)
    double ts;                          // _timestamp (Unix seconds of the last call merged)
    int64_t arrived_ms;                 // monotonic ms its first record arrived (0: unknown)
    size_t n;                           // values
    const wbi_agg_name_t *const *names; // key per value
    const wbi_hval_t *vals;             // the values
    const char *arena;                  // bytes of string and JSON values
} wbi_agg_row_t;

// Receives emitted rows (besides the sink): arg, then the row.
typedef void (*wbi_agg_row_fn)(void *arg, const wbi_agg_row_t *row);

// Replaces out with the history line of row: `{"k":v,...,"_step":S,
// "_runtime":R,"_timestamp":T}`. WANDB_ENOMEM, or WANDB_EFULL past out's cap.
wandb_err wbi_agg_row_encode(const wbi_agg_row_t *row, wbi_buf_t *out);
// Numeric view of v: true for doubles, integers and booleans (as 0/1).
bool wbi_hval_number(const wbi_hval_t *v, double *out);

// Appends the JSON text of v: shortest round-trip doubles with bare NaN /
// Infinity / -Infinity, integers as integers, strings escaped, JSON values
// (already validated and compacted into the arena) as they are.
wandb_err wbi_hist_put_value(wbi_buf_t *out, const wbi_hval_t *v, const char *arena);
// Appends `"_step":S,"_runtime":R,"_timestamp":T` (no braces, no comma).
wandb_err wbi_hist_put_special(wbi_buf_t *out, int64_t step, double runtime, double ts);
// Appends `"key":` (key escaped) and returns WANDB_EINVAL for invalid UTF-8.
wandb_err wbi_hist_put_key(wbi_buf_t *out, const char *key, size_t len);

#endif
