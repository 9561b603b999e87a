//  histscan.h - wandb-mpi-server: a fast reader of numeric history rows
//  SPDX-License-Identifier: MIT
//
//  For the dashboard's chart data: the numeric leaves of one history line
//  (names flattened with '.', keys starting with '_' and media objects left
//  out) and its x value, without building a JSON tree. Thread: any.
#ifndef WBI_HISTSCAN_H
#define WBI_HISTSCAN_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define WBI_HIST_NAME_MAX 512 // bytes of a flattened name

typedef struct {
    size_t name_off; // offset of the NUL-terminated name in names
    double value;    // the value (NaN, +-Infinity kept)
} wbi_hist_pair_t;

// One row's pairs; reused from line to line. Zero-initialise, then call
// wbi_hist_row_release() at the end (init names with wbi_buf_init first).
typedef struct {
    wbi_hist_pair_t *pairs; // the numeric leaves
    size_t n;               // pairs used
    size_t cap;             // pairs allocated
    wbi_buf_t names;        // their names
    bool has_x;             // the x key was found with a number
    double x;               // its value
} wbi_hist_row_t;

// Reads text (len bytes, NUL or newline after them) into row. False when the
// line needs a full JSON parse (escaped keys, deep nesting, bad syntax) or
// memory ran out; row is then unspecified.
bool wbi_hist_scan(const char *text, size_t len, const char *xkey, wbi_hist_row_t *row);
void wbi_hist_row_release(wbi_hist_row_t *row);

#endif
