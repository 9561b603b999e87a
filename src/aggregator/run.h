//  run.h - one run inside the aggregator: keys, row assembly, summary, config
//  SPDX-License-Identifier: MIT
//
//  Pure logic, no sockets: decoded records go in, history lines, summaries
//  and config updates come out through a sink of function pointers (the
//  aggregator's owner points it at the outlet, src/outlet; tests at a recorder). Row assembly
//  follows docs/wire-format.md: ROW records with the same step merge (a later
//  value of a key replaces the earlier one, first-seen order is kept), a ROW
//  with a higher step first emits the open row, COMMIT and FINISH emit it.
//  The summary is rebuilt lazily (wbi_agg_run_flush) rather than per row.
//  Thread: the owning thread only.
#ifndef WBI_AGG_RUN_H
#define WBI_AGG_RUN_H

#include "aggregator/history.h"
#include "aggregator/names.h"
#include "common/runmeta.h"
#include "common/wire.h"
#include <jansson.h>

#define WBI_AGG_RUN_MAX_KEYS 100000 // distinct keys per run
// History and summary lines are capped at WBI_LINE_MAX (common/runmeta.h).

// Where a run's output goes. `run` is what open() returned. The last three
// callbacks are the sink's own life, called by the aggregator thread (agg.c)
// only: tick on the loop thread, drain and close after the loop ended.
typedef struct {
    void *arg; // first argument of every callback
    void *(*open)(void *arg, const wbi_run_meta_t *meta);
    void (*history)(void *arg, void *run, const wbi_agg_row_t *row); // typed (history.h)
    void (*summary)(void *arg, void *run, const char *json, size_t len);
    void (*config)(void *arg, void *run, const char *config_json);
    void (*alert)(void *arg, void *run, const char *title, const char *text, const char *level,
                  int64_t wait_ms);
    void (*preempting)(void *arg, void *run);
    // The rank changed the run's display name, notes or tags (each NULL:
    // unchanged; tags comma-separated). NULL: none.
    void (*update)(void *arg, void *run, const char *display_name, const char *notes,
                   const char *tags);
    // A saved file is complete: consumes *data_p (len bytes, wbi_malloc'd)
    // and sets it to NULL (a sink that leaves it is freed by the caller).
    void (*file)(void *arg, void *run, const char *name, char **data_p, size_t len);
    void (*finish)(void *arg, void *run, int exit_code);
    // The run's process went silent: stop heartbeats so it ends as crashed.
    void (*abandon)(void *arg, void *run);
    bool (*entity)(void *arg, void *run, char *buf, size_t len);
    // For a run opened with a resume mode (meta.resume): copies the
    // backend's decision into *out (release with wbi_run_resume_release)
    // and returns true once decided, false while pending. NULL: resume is
    // not possible here (decided NEW).
    bool (*resume)(void *arg, void *run, wbi_run_resume_t *out);
    // One line (copied) of a stream file beside history: file is
    // WBI_STREAM_EVENTS (wandb-events.jsonl, a JSON object) or
    // WBI_STREAM_OUTPUT (output.log, a console line). NULL: none.
    void (*stream)(void *arg, void *run, int file, const char *line, size_t len);
    // The handle open() returned for the run of this project and id (the
    // newest), or NULL: how callers outside run.c reach a run. NULL: none.
    void *(*find)(void *arg, const char *project, const char *run_id);
    // The directory of the artifact store (aggregator/artifact.h), asked once
    // at the first artifact record; NULL (or a NULL callback): artifacts are
    // refused. Borrowed: valid until close.
    const char *(*artifact_dir)(void *arg);
    // An artifact event of a run (a version committed, used, linked): a JSON
    // object text (docs/artifacts.md). NULL: none.
    void (*artifact)(void *arg, void *run, const char *json, size_t len);
    // A timer pass of the loop (mono_ms: monotonic ms), every few ms. NULL: none.
    void (*tick)(void *arg, int64_t mono_ms);
    // End of service: delivers what is pending within timeout_ms and returns
    // the verdict wbi_agg_stop passes on (WANDB_OK: everything delivered).
    // NULL: WANDB_OK.
    wandb_err (*drain)(void *arg, int timeout_ms);
    // Frees the sink; nothing is called after it. NULL: none.
    void (*close)(void *arg);
} wbi_agg_sink_t;

typedef struct {
    uint64_t rows;          // history lines handed to the sink
    uint64_t values;        // values merged
    uint64_t bad_values;    // values dropped: unknown key id, invalid text or JSON
    uint64_t dropped_lines; // rows or summaries over WBI_LINE_MAX
    uint64_t summaries;     // summaries handed to the sink
    uint64_t files;         // saved files handed to the sink
    uint64_t bad_files;     // saved files dropped (bad chunk, size, a newer file)
} wbi_agg_run_counters_t;

typedef struct wbi_agg_run wbi_agg_run_t;

// Creates the run from a parsed HELLO object and opens it in the sink.
// names: the aggregator's shared key names (borrowed; must outlive the run).
// WANDB_EINVAL when run_id or project is missing or invalid (reason in
// *why, static text), WANDB_ENOMEM. Returns the new run in *out.
wandb_err wbi_agg_run_open(wbi_agg_run_t **out, const wbi_agg_sink_t *sink, const json_t *hello,
                           wbi_agg_names_t *names, const char **why);
// Flushes nothing: frees the run and sets *self_p to NULL. NULL-safe.
void wbi_agg_run_destroy(wbi_agg_run_t **self_p);

// KEY: binds a wire id to a key name (a later KEY may rebind the id). A key
// that a define_metric glob turns into a metric marks the config dirty; it
// is sent by the next wbi_agg_run_flush (not once per key).
// WANDB_EFULL past WBI_AGG_RUN_MAX_KEYS.
wandb_err wbi_agg_run_key(wbi_agg_run_t *self, uint32_t id, const char *key, size_t len);
// ROW: merges one parsed ROW. WANDB_EPROTO when the step is below the open
// row (or not above the last emitted row): nothing merged; or when some
// values were bad (the rest merged, bad ones counted).
// mono_ms: when the record arrived (the row's arrival time is its first).
wandb_err wbi_agg_run_row(wbi_agg_run_t *self, const wbi_wire_row_t *row, int64_t mono_ms);
// Merges numeric values (double, int, bool) by key name at step and emits
// the row at once, as a committed ROW would: how the job view writes its run.
// WANDB_EPROTO when step is not above the last row; WANDB_EINVAL for another
// type (nothing merged); WANDB_EFULL when some keys could not be added.
wandb_err wbi_agg_run_put(wbi_agg_run_t *self, int64_t step, double ts, size_t n,
                          const char *const *keys, const wbi_hval_t *vals);
// Every emitted row also goes to fn(arg, row), after the sink (NULL: none).
void wbi_agg_run_observe(wbi_agg_run_t *self, wbi_agg_row_fn fn, void *arg);
// CONFIG: merges the top-level keys of a JSON object and sends the config.
wandb_err wbi_agg_run_config(wbi_agg_run_t *self, const char *json, size_t len);
// SUMMARY: sets explicit summary values (until the key is logged again).
wandb_err wbi_agg_run_summary(wbi_agg_run_t *self, const char *json, size_t len);
// DEFINE_METRIC: records a definition, re-encodes `_wandb.m`, sends config.
wandb_err wbi_agg_run_define_metric(wbi_agg_run_t *self, const char *json, size_t len);
// ALERT: {title, text, level, wait_ms} to the sink.
wandb_err wbi_agg_run_alert(wbi_agg_run_t *self, const char *json, size_t len);
void wbi_agg_run_preempting(wbi_agg_run_t *self);
// RUN_UPDATE {name?, notes?, tags?}: to the sink. WANDB_EPROTO on a bad
// object or a member that is not a string.
wandb_err wbi_agg_run_update(wbi_agg_run_t *self, const char *json, size_t len);
// FILE_BEGIN {id, name, policy, size}: starts assembling a saved file (one
// at a time; an unfinished one is dropped). WANDB_EPROTO on a bad object,
// name (wbi_run_file_name_ok) or size (> WBI_WIRE_FILE_MAX).
wandb_err wbi_agg_run_file_begin(wbi_agg_run_t *self, const char *json, size_t len);
// FILE_CHUNK (id u32, offset u64, bytes): appends bytes at offset, which
// must be the bytes received so far. WANDB_EPROTO otherwise.
wandb_err wbi_agg_run_file_chunk(wbi_agg_run_t *self, const uint8_t *payload, size_t len);
// FILE_END (id u32, size u64): hands the complete file to the sink.
// WANDB_EPROTO when the id or the size does not match (the file is dropped).
wandb_err wbi_agg_run_file_end(wbi_agg_run_t *self, const uint8_t *payload, size_t len);
// FINISH: emits the open row and the final summary, then finishes in the sink.
// now: Unix seconds (for the final runtime).
void wbi_agg_run_finish(wbi_agg_run_t *self, int exit_code, uint64_t dropped, uint64_t rejected,
                        double now);
// The peer went silent: sends the summary and tells the sink to stop the
// run's heartbeats (the backend marks it crashed), but keeps the open row,
// so a rank that comes back can go on with that step. Never finishes.
void wbi_agg_run_abandon(wbi_agg_run_t *self, double now);
// End of service: emits the open row (drops an unfinished file) and sends
// the summary and a dirty config. Sends no finish.
void wbi_agg_run_close(wbi_agg_run_t *self, double now);
// Sends the summary when it changed since the last one, and the config
// when keys created from globs changed it (see wbi_agg_run_key).
void wbi_agg_run_flush(wbi_agg_run_t *self);

// Builds the current summary text into out (for tests and the sink).
wandb_err wbi_agg_run_build_summary(wbi_agg_run_t *self, wbi_buf_t *out);
// Dumps the current config with `_wandb` {m, t} (see run_summary.c); free with
// wbi_free. NULL: no memory.
char *wbi_agg_run_config_text(const wbi_agg_run_t *self);

// Accessors. Strings borrowed: valid until the run is destroyed.
const char *wbi_agg_run_id(const wbi_agg_run_t *self);
const char *wbi_agg_run_project(const wbi_agg_run_t *self);
// The entity from HELLO, or learned from the sink; NULL until known.
const char *wbi_agg_run_entity(wbi_agg_run_t *self);
int wbi_agg_run_rank(const wbi_agg_run_t *self);
int64_t wbi_agg_run_starting_step(const wbi_agg_run_t *self);

// Resume (run_resume.c; docs/aggregator.md "Resume").
// The WBI_RESUME_* of a HELLO "resume" text (allow|must|never|auto; auto is
// allow; anything else: none).
int wbi_agg_resume_mode(const char *text);
// The run's WBI_RESUME_*.
int wbi_agg_run_resume_mode(const wbi_agg_run_t *self);
// Asks the sink for the resume decision: true once decided, with it in *out
// (release with wbi_run_resume_release); a sink without resume decides NEW.
bool wbi_agg_run_resume_poll(wbi_agg_run_t *self, wbi_run_resume_t *out);
// Continues a resumed run: its next step, its runtime, the stored summary
// (kept until a key is logged again), the stored config keys the new run
// does not set. A decision other than WBI_RESUMED_YES changes nothing.
void wbi_agg_run_apply_resume(wbi_agg_run_t *self, const wbi_run_resume_t *rs);
// True when the backend continued an existing run.
bool wbi_agg_run_resumed(const wbi_agg_run_t *self);
// The stored runtime the run's clock was moved on by (0: none).
double wbi_agg_run_resumed_runtime(const wbi_agg_run_t *self);
// Last emitted step, -1 before the first row.
int64_t wbi_agg_run_last_step(const wbi_agg_run_t *self);
// The run's config object (without `_wandb`). Borrowed: valid until the
// next CONFIG record or destroy.
const json_t *wbi_agg_run_config_object(const wbi_agg_run_t *self);
void wbi_agg_run_get_counters(const wbi_agg_run_t *self, wbi_agg_run_counters_t *out);

#endif
