//  history.h - typed values and their W&B extended-JSON text
//  SPDX-License-Identifier: MIT
//
//  A history row holds values as small tagged structs; string and JSON bytes
//  live in a separate arena so that merging a scalar never allocates. The
//  encoders append straight to a reused wbi_buf_t (no jansson on the scalar
//  path). Thread: any (no state).
#ifndef WBI_AGG_HISTORY_H
#define WBI_AGG_HISTORY_H

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

// Appends the JSON text of v: shortest round-trip doubles with bare NaN /
// Infinity / -Infinity, integers as integers, strings escaped, JSON values
// (already validated and compacted into the arena) as they are.
wandb_err wbi_hist_put_value(wbi_buf_t *out, const wbi_hval_t *v, const char *arena);
// Appends `"_step":S,"_runtime":R,"_timestamp":T` (no braces, no comma).
wandb_err wbi_hist_put_special(wbi_buf_t *out, int64_t step, double runtime, double ts);
// Appends `"key":` (key escaped) and returns WANDB_EINVAL for invalid UTF-8.
wandb_err wbi_hist_put_key(wbi_buf_t *out, const char *key, size_t len);

#endif
