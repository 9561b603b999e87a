//  run_int.h - the state of one run, shared by run.c, run_row.c and run_summary.c
//  SPDX-License-Identifier: MIT
//
//  Private to those three files: nothing else includes it (callers use run.h).
//  Thread: the run's owning thread only, as for run.h.
#ifndef WBI_AGG_RUN_INT_H
#define WBI_AGG_RUN_INT_H

#include "aggregator/history.h"
#include "aggregator/map.h"
#include "aggregator/metric.h"
#include "aggregator/names.h"
#include "aggregator/run.h"

// Aggregates for define_metric summaries.
typedef struct {
    double min;            // smallest numeric value
    double max;            // largest numeric value
    double sum;            // sum of numeric values (for mean)
    uint64_t n;            // numeric values seen
    bool has_first;        // first is set
    wbi_hval_t first;      // first value after the definition
    wbi_buf_t *first_text; // bytes of first when a string or JSON (lazy)
} wbi_agg_key_stats_t;

// One key of a run: its name, its place in the open row, what it last emitted.
typedef struct {
    const wbi_agg_name_t *nm;   // shared name and `"key":` prefix
    uint32_t row_gen;           // generation of the open row that holds this key
    uint32_t row_pos;           // slot in the open row when row_gen matches
    int metric;                 // index into metrics.list, -1: none
    bool logged;                // emitted in at least one row
    bool reserved;              // _step/_runtime/_timestamp/_wandb: never emitted
    wbi_hval_t last;            // last emitted value
    wbi_buf_t *last_text;       // bytes of last when a string or JSON (lazy)
    wbi_agg_key_stats_t *stats; // aggregates when a metric asks for them, else NULL
} wbi_agg_key_t;

// One run (run.h): who it is, its keys, the open row, summary and config state, the saved file
// being assembled and its counters.
struct wbi_agg_run {
    wbi_agg_sink_t sink;    // where output goes
    void *handle;           // what sink.open returned
    char *run_id;           // HELLO run_id
    char *project;          // HELLO project
    char *entity;           // HELLO entity or learned later; NULL: unknown
    int rank;               // HELLO rank (-1 unknown)
    double start_time;      // HELLO start_time (Unix seconds); NAN: first row's ts
    int64_t starting_step;  // HELLO starting_step, or the resumed run's next step
    int resume_mode;        // HELLO resume as WBI_RESUME_* ("auto" is allow)
    bool resumed;           // the backend continued an existing run (run_resume.c)
    bool continued;         // HELLO "continued": start_time already counts the stored runtime
    double resumed_runtime; // the stored runtime start_time was moved back by

    wbi_agg_key_t *keys;    // interned keys in first-seen order
    size_t nkeys;           // keys used
    size_t keys_cap;        // keys allocated
    wbi_imap_t ids;         // wire id -> key index
    wbi_agg_names_t *names; // shared key names (borrowed)
    wbi_imap_t by_name;     // name id -> key index

    bool row_open;                    // a row is being assembled
    int64_t row_step;                 // its step
    double row_ts;                    // ts of the last call merged into it
    uint32_t row_gen;                 // current row generation (never 0)
    int64_t row_arrived;              // monotonic ms of its first ROW record
    uint32_t *row_keys;               // key index per slot
    wbi_hval_t *row_vals;             // value per slot
    const wbi_agg_name_t **row_names; // key name per slot (filled at emit)
    size_t row_n;                     // slots used
    size_t row_cap;                   // slots allocated
    wbi_buf_t arena;                  // string/JSON bytes of the open row
    wbi_buf_t line;                   // reused output buffer (summaries)
    wbi_agg_row_fn observe;           // second receiver of emitted rows (the job view)
    void *observe_arg;                // its first argument

    int64_t last_step;   // last emitted step (-1: none)
    double last_runtime; // _runtime of the last emitted row
    double last_ts;      // _timestamp of the last emitted row
    double end_runtime;  // runtime at finish/abandon (0 before)
    uint64_t dropped;    // from FINISH: values the rank dropped
    uint64_t rejected;   // from FINISH: calls the rank rejected (lower step)
    bool summary_dirty;  // something changed since the last summary
    bool config_dirty;   // keys created from globs changed `_wandb.m`

    json_t *config;        // the unwrapped config object
    json_t *explicit_;     // explicit summary values (SUMMARY records)
    wbi_metrics_t metrics; // define_metric definitions
    bool any_sync;         // some metric has a step metric with step_sync

    char *platform; // HELLO platform ("linux-x86_64"), for `_wandb.t`; NULL: unknown

    bool file_open;   // a saved file is being assembled
    uint32_t file_id; // its FILE_BEGIN id
    char *file_name;  // its run-relative name
    char *file_data;  // its bytes so far (file_size allocated)
    size_t file_size; // announced size
    size_t file_got;  // bytes received

    wbi_agg_run_counters_t counters; // see run.h
};

// Keys (run_row.c)

// True for the keys the aggregator writes itself (_step, _runtime, _timestamp, _wandb).
bool wbi_agg_run_reserved_name(const char *k);
// The bytes a key keeps for a string or JSON value ("" when none). Borrowed.
const char *wbi_agg_run_text(const wbi_buf_t *text);
// Emits the open row to the sink and the observer (empty rows are never sent).
void wbi_agg_run_emit_row(wbi_agg_run_t *self);

// Summary and metrics (run_summary.c)

// Gives key k the aggregates its metric needs (or none); -1: no metric.
void wbi_agg_run_bind_metric(wbi_agg_run_t *self, wbi_agg_key_t *k, int metric);

// Records (run.c)

// Parses extended JSON that must be an object; NULL otherwise. Caller owns it (json_decref).
json_t *wbi_agg_run_load_object(const char *json, size_t len);

#endif
