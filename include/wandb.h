/*  wandb.h - the Weights & Biases Run API in C, for MPI training jobs
 *  SPDX-License-Identifier: MIT
 *
 *  Every process links this library. wandb_init() starts one background I/O
 *  thread that ships what the process logs to an aggregator over ZeroMQ; the
 *  aggregator forwards all runs of a job to a W&B backend over one
 *  connection. Without an aggregator endpoint the library starts one inside
 *  the process, so a program that is not under MPI works the same way.
 *
 *  Invariants:
 *  - at most one active run per process; wandb_run() returns it or NULL;
 *  - nothing is ever written to stdout; warnings go to the logger callback
 *    (default: stderr, WARN and ERR only);
 *  - no call forks, exits, aborts on bad input or installs signal handlers;
 *  - no call blocks longer than the timeouts set in the settings.
 *
 *  Names: public symbols are wandb_*, WANDB_*; internal ones wbi_*.
 */
#ifndef WANDB_H_INCLUDED
#define WANDB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// WANDB_VERSION_MAJOR/MINOR/PATCH/STRING/HEX, generated from the build's project version.
#include "wandb_version.h"

#if defined(WANDB_STATIC_BUILD)
#define WANDB_EXPORT
#else
#define WANDB_EXPORT __attribute__((visibility("default")))
#endif

typedef struct wandb_settings wandb_settings_t;
typedef struct wandb_run wandb_run_t;

// ---------------------------------------------------------------------------
// Errors. One enum for the whole project; numbers never change or get reused.

typedef enum {
    WANDB_OK = 0,
    WANDB_EINVAL = 1,     // invalid argument or setting
    WANDB_ENOMEM = 2,     // out of memory
    WANDB_ETIMEDOUT = 3,  // an operation did not finish in time
    WANDB_ECLOSED = 4,    // the object or peer is closed
    WANDB_EPROTO = 5,     // malformed input from a peer
    WANDB_EIO = 6,        // operating-system or file error
    WANDB_EBACKEND = 7,   // the W&B backend refused or failed
    WANDB_ENOTSUP = 8,    // not supported in this build or mode
    WANDB_EEXIST = 9,     // already exists (a second active run)
    WANDB_ESTEP = 10,     // step lower than the current step: data rejected
    WANDB_EFULL = 11,     // a bounded buffer is full: data dropped and counted
    WANDB_ETOOBIG = 12,   // a value or message is over its size limit
    WANDB_EAUTH = 13,     // missing or wrong API key
    WANDB_ENOTFOUND = 14, // no such object
} wandb_err;

// Returns a static English description of err. Thread: any.
WANDB_EXPORT const char *wandb_strerror(wandb_err err);

// ---------------------------------------------------------------------------
// Logging of the library itself (not of metrics).

typedef enum {
    WANDB_LOG_ERR = 3,
    WANDB_LOG_WARN = 4,
    WANDB_LOG_NOTICE = 5,
    WANDB_LOG_INFO = 6,
    WANDB_LOG_DEBUG = 7,
} wandb_log_level;

typedef void (*wandb_logger_fn)(void *arg, wandb_log_level level, const char *msg);

// Installs a logger callback for the library's own messages; NULL restores
// the default (stderr, prefixed "wandb[rank N]: "). The level from
// WANDB_LOG_LEVEL (err|warn|notice|info|debug, WARN by default) filters both:
// a callback only receives messages at or above that level. The callback
// may be called from the I/O thread.
// Thread: call before wandb_init, not concurrently with other calls.
WANDB_EXPORT void wandb_set_logger(wandb_logger_fn fn, void *arg);

// ---------------------------------------------------------------------------
// Values: what log, config and summary take. A small tagged union that the
// caller builds on the stack; the library copies what it needs.

typedef enum {
    WANDB_TYPE_DOUBLE = 1, // as.d; NaN and +-Infinity are kept
    WANDB_TYPE_INT = 2,    // as.i
    WANDB_TYPE_BOOL = 3,   // as.b
    WANDB_TYPE_STRING = 4, // as.s, UTF-8, NUL-terminated, at most 1 MiB
    WANDB_TYPE_JSON = 5,   // as.s, a JSON text (object, array, ...), at most 1 MiB
} wandb_type;

typedef struct wandb_value {
    const char *key; // UTF-8 name, at most 255 bytes; "a/b" groups charts in the UI
    wandb_type type; // which member of `as` is set
    union {
        double d;
        int64_t i;
        bool b;
        const char *s;
    } as;
} wandb_value_t;

// The value constructors, as functions for C and C++ alike (no allocation;
// the strings are borrowed until the call that takes the value returns).
static inline wandb_value_t wandb_double(const char *key, double v)
{
    wandb_value_t r;
    r.key = key;
    r.type = WANDB_TYPE_DOUBLE;
    r.as.d = v;
    return r;
}
static inline wandb_value_t wandb_int(const char *key, int64_t v)
{
    wandb_value_t r;
    r.key = key;
    r.type = WANDB_TYPE_INT;
    r.as.i = v;
    return r;
}
static inline wandb_value_t wandb_bool(const char *key, bool v)
{
    wandb_value_t r;
    r.key = key;
    r.type = WANDB_TYPE_BOOL;
    r.as.b = v;
    return r;
}
static inline wandb_value_t wandb_string(const char *key, const char *v)
{
    wandb_value_t r;
    r.key = key;
    r.type = WANDB_TYPE_STRING;
    r.as.s = v;
    return r;
}
static inline wandb_value_t wandb_json(const char *key, const char *json)
{
    wandb_value_t r;
    r.key = key;
    r.type = WANDB_TYPE_JSON;
    r.as.s = json;
    return r;
}

// The macros. In C they are compound literals: an array on the caller's
// stack, counted with sizeof, so nothing is evaluated twice. C++ has no
// compound literals, so there the value macros call the functions above and
// the array is a braced list bound to a reference parameter, whose size the
// compiler deduces (counted in an unevaluated sizeof) and which lives until
// the end of the full expression, after the call. No allocation either way.
// A new value macro must keep both forms.
#ifndef __cplusplus
#define WANDB_DOUBLE(k, v) ((wandb_value_t){.key = (k), .type = WANDB_TYPE_DOUBLE, .as.d = (v)})
#define WANDB_INT(k, v) ((wandb_value_t){.key = (k), .type = WANDB_TYPE_INT, .as.i = (v)})
#define WANDB_BOOL(k, v) ((wandb_value_t){.key = (k), .type = WANDB_TYPE_BOOL, .as.b = (v)})
#define WANDB_STRING(k, v) ((wandb_value_t){.key = (k), .type = WANDB_TYPE_STRING, .as.s = (v)})
#define WANDB_JSON(k, v) ((wandb_value_t){.key = (k), .type = WANDB_TYPE_JSON, .as.s = (v)})

#define WANDB__VALUES(...) ((const wandb_value_t[]){__VA_ARGS__})
#define WANDB__NVALUES(...) (sizeof(WANDB__VALUES(__VA_ARGS__)) / sizeof(wandb_value_t))
#else
#define WANDB_DOUBLE(k, v) wandb_double((k), (v))
#define WANDB_INT(k, v) wandb_int((k), (v))
#define WANDB_BOOL(k, v) wandb_bool((k), (v))
#define WANDB_STRING(k, v) wandb_string((k), (v))
#define WANDB_JSON(k, v) wandb_json((k), (v))

extern "C++" {
template <size_t N> inline const wandb_value_t *wandb_detail_values(const wandb_value_t (&v)[N])
{
    return v;
}
template <size_t N> char (&wandb_detail_count(const wandb_value_t (&v)[N]))[N];
}
#define WANDB__VALUES(...) wandb_detail_values({__VA_ARGS__})
#define WANDB__NVALUES(...) sizeof(wandb_detail_count({__VA_ARGS__}))
#endif

// ---------------------------------------------------------------------------
// Settings. Names follow the WANDB_* environment variables in lower case:
//   project, entity, api_key, base_url, mode (online|offline|disabled),
//   group, job_type, name, notes, tags (comma-separated), run_id, dir,
//   resume (allow|must|never|auto; see wandb_init)
// plus the transport and buffering knobs documented in docs/settings.md:
//   aggregator (a ZeroMQ endpoint; empty: start one in this process),
//   secret, rank, world_size, ring_bytes, ring_full (drop|wait),
//   ring_wait_ms, flush_interval_ms, heartbeat_ms, init_timeout_ms,
//   finish_timeout_ms.
// What is not set here comes from the environment at wandb_init.

// Returns WANDB_OK and a new settings object in *out; destroy it with
// wandb_settings_destroy(). Thread: any.
WANDB_EXPORT wandb_err wandb_settings_new(wandb_settings_t **out);

// Destroys *self_p and sets it to NULL; NULL-safe.
WANDB_EXPORT void wandb_settings_destroy(wandb_settings_t **self_p);

// Sets the setting `name` to `value` (copied). Unknown names and invalid
// values return WANDB_EINVAL; wandb_settings_errmsg() then says which and why.
WANDB_EXPORT wandb_err wandb_settings_set(wandb_settings_t *self, const char *name,
                                          const char *value);

// Merges a JSON object into the initial run config (nested objects kept).
WANDB_EXPORT wandb_err wandb_settings_config_json(wandb_settings_t *self, const char *json);

// Returns the value of setting `name` as set on self or, when unset there, as
// the environment gives it; NULL when neither has it (defaults are applied
// at wandb_init). Borrowed: valid until the setting changes or self is
// destroyed.
WANDB_EXPORT const char *wandb_settings_get(const wandb_settings_t *self, const char *name);

// Returns the text of the last error seen by a call that took self
// (wandb_settings_set, wandb_init). Borrowed: valid until the next such call.
WANDB_EXPORT const char *wandb_settings_errmsg(const wandb_settings_t *self);

// ---------------------------------------------------------------------------
// Runs.

// Starts the run of this process: reads settings (self may be NULL: all from
// the environment), starts the I/O thread and, without an aggregator
// endpoint, an in-process aggregator. Does not wait for the backend, except
// for the resume decision (below).
// On success *run_out is the active run (also returned by wandb_run()).
// With a "resume" setting, waits (at most init_timeout_ms) until the
// aggregator asked the backend whether the run id exists: "allow" continues
// an existing run (wandb_run_resumed, history from wandb_run_starting_step),
// else starts it; "must" continues it or fails with WANDB_ENOTFOUND;
// "never" starts it or fails with WANDB_EEXIST; "auto" is allow with the run
// id of this directory's last run when that one did not finish. Unset: no
// question is asked; an existing run id is upserted and its history goes on
// with steps from 0, as with the official client (docs/decisions.md).
// Under MPI a given run_id names the job: rank r's run is "<run_id>-<r>".
// Errors: WANDB_EINVAL (bad setting; text in wandb_settings_errmsg),
// WANDB_EEXIST (a run is active, or resume "never" and the run exists),
// WANDB_ENOTFOUND (resume "must" and no such run), WANDB_ETIMEDOUT (resume:
// no answer in time), WANDB_ENOTSUP (mode offline, not yet),
// WANDB_EAUTH (online without aggregator endpoint and without API key),
// WANDB_ENOMEM, WANDB_EIO.
// Thread: any, not concurrently with wandb_finish.
WANDB_EXPORT wandb_err wandb_init(wandb_settings_t *settings, wandb_run_t **run_out);

// Returns the active run or NULL. Borrowed. Thread: any.
// (g++ -Wshadow says a function named like the struct hides its C++
// constructor; the struct has none, so that warning is off here.)
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
WANDB_EXPORT wandb_run_t *wandb_run(void);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Ends the run: commits a pending row, flushes everything to the aggregator
// and marks the run finished (exit_code 0) or failed (otherwise). Waits at
// most finish_timeout_ms. Destroys *run_p and sets it to NULL. Returns
// WANDB_ETIMEDOUT when the data could not be handed over in time.
// Thread: any, once.
WANDB_EXPORT wandb_err wandb_finish(wandb_run_t **run_p, int exit_code);

// A program that returns from main (or calls exit) with a run still active
// finishes it at exit with exit code 0, as the official client does: the
// library registers an atexit handler at the first wandb_init (no signal
// handler: a process killed by a signal leaves its run to end as crashed).
// After wandb_finish the pointer is stale but safe (see "Run properties").

// The seed's join(): a deprecated alias of wandb_finish.
WANDB_EXPORT wandb_err wandb_join(wandb_run_t **run_p, int exit_code);

// The seed's detach(): in a notebook it lets the kernel go on without the
// run's console; a C process has no such attachment, so it does nothing
// and returns WANDB_OK (WANDB_EINVAL for NULL). The run keeps logging.
WANDB_EXPORT wandb_err wandb_detach(wandb_run_t *run);

// Logs one history row, the seed's Run.log(data, step, commit):
//   step WANDB_STEP_AUTO (-1): the current step; >= 0: an explicit step;
//     any other negative step: WANDB_EINVAL.
//     A step lower than the current one rejects the whole call (WANDB_ESTEP,
//     a warning, counted in wandb_run_rejected_steps) and stores nothing.
//     A higher step first commits the pending row.
//   commit: WANDB_COMMIT_AUTO commits when no step is given and
//     accumulates otherwise; WANDB_COMMIT_TRUE/FALSE force it; any other
//     value: WANDB_EINVAL.
// A commit ends the row and increments the step. Keys are 1..255 bytes of
// UTF-8, not one the library writes itself (_step, _runtime, _timestamp,
// _wandb). A refused call (WANDB_EINVAL, WANDB_ETOOBIG, ...) stores nothing,
// does not move the step and says why in a warning. Scalars and strings are
// copied into a preallocated ring: no allocation, no system call (a JSON
// value is parsed in the calling thread to check it, which allocates).
// When the ring is full the policy "ring_full" applies (drop: WANDB_EFULL,
// counted in wandb_run_dropped; wait: bounded, then drop). A dropped call
// still uses up its step, so later rows keep the caller's step numbering.
// Thread: any; calls are serialized internally.
WANDB_EXPORT wandb_err wandb_log_values(wandb_run_t *run, const wandb_value_t *values, size_t n,
                                        int64_t step, int commit);

#define WANDB_STEP_AUTO INT64_C(-1)
#define WANDB_COMMIT_AUTO (-1)
#define WANDB_COMMIT_FALSE 0
#define WANDB_COMMIT_TRUE 1

// The common forms:
//   wandb_log(run, WANDB_DOUBLE("loss", loss), WANDB_DOUBLE("acc", acc));
//   wandb_log_step(run, 100, WANDB_DOUBLE("loss", loss));   // explicit step
//   wandb_log_partial(run, WANDB_INT("epoch", e));          // commit=false
#define wandb_log(run, ...)                                                                        \
    wandb_log_values((run), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__),               \
                     WANDB_STEP_AUTO, WANDB_COMMIT_AUTO)
#define wandb_log_step(run, step, ...)                                                             \
    wandb_log_values((run), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__), (step),       \
                     WANDB_COMMIT_AUTO)
#define wandb_log_partial(run, ...)                                                                \
    wandb_log_values((run), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__),               \
                     WANDB_STEP_AUTO, WANDB_COMMIT_FALSE)

// Updates the run config with values (nested: WANDB_JSON). Sent to the
// backend as an update. Thread: any.
WANDB_EXPORT wandb_err wandb_config_values(wandb_run_t *run, const wandb_value_t *values, size_t n);
#define wandb_config_update(run, ...)                                                              \
    wandb_config_values((run), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__))

// Merges a JSON object into the run config. Thread: any.
WANDB_EXPORT wandb_err wandb_config_json(wandb_run_t *run, const char *json);

// Sets summary values explicitly; they override the last logged value of the
// same key until that key is logged again. The reserved keys of
// wandb_log_values are refused (WANDB_EINVAL). Thread: any.
WANDB_EXPORT wandb_err wandb_summary_values(wandb_run_t *run, const wandb_value_t *values,
                                            size_t n);
#define wandb_summary_update(run, ...)                                                             \
    wandb_summary_values((run), WANDB__VALUES(__VA_ARGS__), WANDB__NVALUES(__VA_ARGS__))

// Defines how the metric `name` (or a glob ending in '*', e.g. "train/*") is
// shown and summarised, as the seed's define_metric:
//   step_metric: the x-axis metric (NULL: _step);
//   summary: comma-separated from "min,max,mean,best,first,last,none"
//     (NULL: last); the run summary of the metric is then an object such as
//     {"min": 0.1, "last": 0.3}; "best" is the min, or the max when goal is
//     "maximize"; "none" leaves the metric out of the summary;
//   goal: "minimize", "maximize" or NULL (best then minimizes);
//   flags: WANDB_METRIC_HIDDEN, WANDB_METRIC_NO_STEP_SYNC,
//     WANDB_METRIC_OVERWRITE.
// A later call for the same name merges with the earlier one (the seed's
// overwrite=false): hidden and step_sync stay on once set, summary words add
// up, a given step_metric or goal replaces the earlier one. With
// WANDB_METRIC_OVERWRITE the call replaces the earlier definition.
// WANDB_EINVAL on a bad name, summary or goal. Thread: any.
WANDB_EXPORT wandb_err wandb_define_metric(wandb_run_t *run, const char *name,
                                           const char *step_metric, const char *summary,
                                           const char *goal, unsigned flags);
#define WANDB_METRIC_HIDDEN 0x1u       // hide the metric in the UI
#define WANDB_METRIC_NO_STEP_SYNC 0x2u // do not fill step_metric into rows automatically
#define WANDB_METRIC_OVERWRITE 0x4u    // replace the earlier definition instead of merging

// Declares how the job run (docs/job-view.md) reduces the metric `name` (or
// a glob ending in '*') across ranks at each step: a comma-separated list of
// "mean", "min", "max", "sum", "std", "argmin", "argmax" (the ranks holding
// the min and the max), or "none" (left out of the job run). Undeclared
// numeric metrics get "mean". A later call replaces the earlier list. Only
// the declarations of rank 0 (or of the run that joined first without one)
// count. WANDB_EINVAL on a bad name or list. Thread: any.
WANDB_EXPORT wandb_err wandb_define_reduce(wandb_run_t *run, const char *name, const char *reduce);

// Sends an alert (the seed's Run.alert): title (1..63 characters), text,
// level "INFO", "WARN" or "ERROR" in any case (NULL: INFO; sent in upper
// case), wait_ms the server-side de-duplication window for the same title
// (< 0: 60000). WANDB_EINVAL with a warning otherwise. Thread: any.
WANDB_EXPORT wandb_err wandb_alert(wandb_run_t *run, const char *title, const char *text,
                                   const char *level, int64_t wait_ms);

// Tells the backend the run is about to be preempted (the seed's
// mark_preempting): its end is then shown as preempted, not crashed. Thread: any.
WANDB_EXPORT wandb_err wandb_mark_preempting(wandb_run_t *run);

// When a file given to wandb_save is uploaded (the numbers of the official
// client's FilesItem.policy).
typedef enum {
    WANDB_SAVE_NOW = 0,  // now, once
    WANDB_SAVE_END = 1,  // at wandb_finish (read then, not now)
    WANDB_SAVE_LIVE = 2, // now, again whenever it changes while the run lives, and at finish
} wandb_save_policy;

// Uploads the files matching glob to the run's files (the seed's
// Run.save(glob_str, base_path, policy)). The glob is expanded once, now
// (files created later are not picked up), with the syntax of Python's
// glob.glob: '*', '?', '[...]' (a '\' before a character matches it
// literally), "**" is the same as '*', and a '*' does not match a leading
// '.'. Glob and base_path are made absolute against the working directory
// and normalized ("." and ".." resolved); a file's name in the run is its
// path below base_path. Without base_path a relative glob keeps its
// directories below the working directory and an absolute one keeps one
// directory level. The seed's examples:
//   "these/are/myfiles/*"                     -> these/are/myfiles/<f>
//   "these/are/myfiles/*", base "these"       -> are/myfiles/<f>
//   "/User/username/Documents/run123/*.txt"   -> run123/<f>.txt
//   same, base "/User"                        -> username/Documents/run123/<f>.txt
//   "files/*/saveme.txt"                      -> files/<dir>/saveme.txt
// Matches that are not regular files (directories) are skipped. Each file
// is read by a saving thread (at most 64 MiB; allocates, not for hot loops)
// and its bytes travel to the aggregator with the run's other data, so ranks
// need no file system shared with it; the backend uploads it like the
// official client (CreateRunFiles, PUT, "uploaded"). Live files are looked
// at every save_live_interval_ms (setting, default 5000) by a watcher
// thread of the run: when their modification time or size changed and
// their bytes differ from the last ones sent, they are sent again (so at
// most once per interval); wandb_finish sends them a last time if changed.
// Waits for ring room at most finish_timeout_ms, without blocking other
// threads; file chunks only fill the ring up to half, so rows logged
// meanwhile keep their room. Saving the same name again replaces it.
// Errors, each logged with the glob or file it concerns: WANDB_EINVAL (bad
// arguments or policy; the glob is not below base_path, is base_path itself,
// starts with a '*' segment below it, or is a gs:// or s3:// URL),
// WANDB_ENOTFOUND (no file matches the glob: nothing saved), WANDB_EIO
// (matches, but no readable regular file with a valid name), WANDB_ETOOBIG
// (a file over 64 MiB, or more than 4096 matches: nothing saved),
// WANDB_EFULL (more than 1024 end/live files), WANDB_ETIMEDOUT (the ring did
// not drain in time). With several matches, every file is tried and the
// first error is returned. Mode disabled: WANDB_OK, nothing read.
// Thread: any; saves are serialized per run.
WANDB_EXPORT wandb_err wandb_save(wandb_run_t *run, const char *glob, const char *base_path,
                                  wandb_save_policy policy);

// Downloads the file name of a run from the backend (the seed's
// Run.restore(name, run_path, replace, root)) to root/name and writes that
// local path into out_path (out_len bytes; out_path may be NULL). run_path
// is "entity/project/run_id" (also "entity/project/runs/run_id";
// "project/run_id" for this run's entity; "/project/run_id", as
// wandb_run_path gives it before the entity is known, for the backend's
// default entity); NULL: this run. root NULL: the
// run's files directory, <dir>/run-<run_id>/files. When root/name exists and
// replace is false, nothing is downloaded and its path is returned (as the
// official restore); otherwise the file is fetched (GraphQL RunFiles, then a
// GET of its URL, directly from the calling thread with libcurl and the
// run's base_url, api_key and ca_cert), written beside the target and
// renamed into place, creating root's missing directories. Blocks: connect
// at most 10 s, the query at most finish_timeout_ms, a download stalled
// 30 s fails. Errors (logged with text): WANDB_EINVAL (bad name, run_path),
// WANDB_ENOTFOUND (no such run, or the run has no uploaded file name),
// WANDB_EAUTH (no or wrong API key), WANDB_EBACKEND (the backend failed or
// cannot be reached), WANDB_ETIMEDOUT, WANDB_EIO (local file system),
// WANDB_ETOOBIG (the local path does not fit out_len or 4096 bytes),
// WANDB_ENOTSUP (mode disabled and no local file). Thread: any.
WANDB_EXPORT wandb_err wandb_restore(wandb_run_t *run, const char *name, const char *run_path,
                                     bool replace, const char *root, char *out_path,
                                     size_t out_len);

// ---------------------------------------------------------------------------
// Run properties (the seed's Run attributes). Strings are borrowed and stay
// valid as long as the process: wandb_finish keeps the small record of a
// finished run (its buffers are freed), so a stale pointer still reads its
// last properties, and every call that would send something returns
// WANDB_ECLOSED. NULL run: NULL (or 0/false). Thread: any.

WANDB_EXPORT const char *wandb_run_id(const wandb_run_t *run);
// The display name ("" when none: the backend names the run).
WANDB_EXPORT const char *wandb_run_name(const wandb_run_t *run);
WANDB_EXPORT const char *wandb_run_notes(const wandb_run_t *run);    // "" when none
WANDB_EXPORT const char *wandb_run_tags(const wandb_run_t *run);     // comma-separated, "" none
WANDB_EXPORT const char *wandb_run_group(const wandb_run_t *run);    // "" when none
WANDB_EXPORT const char *wandb_run_job_type(const wandb_run_t *run); // "" when none
WANDB_EXPORT const char *wandb_run_project(const wandb_run_t *run);
// The seed's project_name(): the same as wandb_run_project.
WANDB_EXPORT const char *wandb_run_project_name(const wandb_run_t *run);
WANDB_EXPORT const char *wandb_run_entity(const wandb_run_t *run); // "" until known
// The run's local directory: with the in-process aggregator, its journal
// directory (<dir>/journal-<time>-<random>, where `wandb-mpi sync` finds
// the run); with an external aggregator, the "dir" setting as an absolute path.
WANDB_EXPORT const char *wandb_run_dir(const wandb_run_t *run);
// "online", "offline" or "disabled".
WANDB_EXPORT const char *wandb_run_mode(const wandb_run_t *run);
// True when wandb_init continued an existing run (resume allow, must, auto:
// the backend had it); its history then goes on at wandb_run_starting_step.
WANDB_EXPORT bool wandb_run_resumed(const wandb_run_t *run);
// The sweep the run belongs to (setting sweep_id, WANDB_SWEEP_ID); NULL: none.
WANDB_EXPORT const char *wandb_run_sweep_id(const wandb_run_t *run);
// The seed's run.settings, read-only: the resolved value of setting `name`
// as text (numbers in decimal); NULL when unset or unknown. The api_key,
// secret and CURVE keys are never returned.
WANDB_EXPORT const char *wandb_run_setting(const wandb_run_t *run, const char *name);
// "entity/project/run_id" (entity may be empty until the backend names it).
WANDB_EXPORT const char *wandb_run_path(const wandb_run_t *run);
// The run's page, app/<entity>/<project>/runs/<run_id> (each part
// percent-encoded); "" until the entity is known (the settings name it, or
// the aggregator does when the run is welcomed). app is the app_url setting
// (WANDB_APP_URL) or derived from base_url as the official client does:
// https://api.wandb.ai -> https://wandb.ai; the bundled server: base_url.
WANDB_EXPORT const char *wandb_run_url(const wandb_run_t *run);
// The seed's get_url(), get_project_url() (app/<entity>/<project>) and
// get_sweep_url() (app/<entity>/<project>/sweeps/<sweep_id>): NULL when the
// run is not online, the entity is not known yet, or (sweep) there is no sweep.
WANDB_EXPORT const char *wandb_run_get_url(const wandb_run_t *run);
WANDB_EXPORT const char *wandb_run_get_project_url(const wandb_run_t *run);
WANDB_EXPORT const char *wandb_run_get_sweep_url(const wandb_run_t *run);
// The seed's to_html(height, hidden): an iframe of the run page,
//   <iframe src='URL?jupyter=true' style='border:none;width:100%;height:420px;'></iframe>
// (hidden adds "display:none;" to the style; there is no notebook toggle
// button). height <= 0: 420. Returns a new string (free it with wandb_free)
// or NULL when there is no URL yet (see wandb_run_get_url) or no memory.
WANDB_EXPORT char *wandb_run_to_html(const wandb_run_t *run, int height, bool hidden);
// The seed's display(): a C program has no notebook, so it shows nothing and
// returns WANDB_ENOTSUP (the official client returns False outside Jupyter).
WANDB_EXPORT wandb_err wandb_run_display(const wandb_run_t *run, int height, bool hidden);
// Frees a string the library returned as new (to_html, summary/config JSON).
WANDB_EXPORT void wandb_free(void *p);

// Setters while the run lives: the seed's run.name = ..., run.notes = ...,
// run.tags = (...). The value is checked as the setting of that name
// (name: at most 128 bytes, notes 64 KiB, tags comma-separated), kept
// (the getters return it) and sent to the backend as an update of the run.
// WANDB_EINVAL (text in the warning), WANDB_EFULL (ring full: not kept),
// WANDB_ECLOSED (finished).
WANDB_EXPORT wandb_err wandb_run_set_name(wandb_run_t *run, const char *name);
WANDB_EXPORT wandb_err wandb_run_set_notes(wandb_run_t *run, const char *notes);
WANDB_EXPORT wandb_err wandb_run_set_tags(wandb_run_t *run, const char *tags);

// The seed's run.summary and run.config, read back: a new JSON object text
// (free it with wandb_free), NULL when out of memory. The summary holds the
// last logged value of every key (explicit wandb_summary_update values win
// until the key is logged again) and _step, _runtime, _timestamp of the
// last row; it is the last value, not a define_metric summary. Both are
// kept by the I/O thread from what it sends (log() does no extra work); a
// read first waits up to 1 s for what the caller published before it to be
// sent. Still readable after wandb_finish (the last state). Thread: any.
WANDB_EXPORT char *wandb_run_summary_json(const wandb_run_t *run);
WANDB_EXPORT char *wandb_run_config_json(const wandb_run_t *run);

// The seed's run.status(): what the run has handed to the aggregator.
typedef struct {
    uint64_t rows_logged;   // rows committed by log calls
    uint64_t rows_sent;     // of those, sent to the aggregator
    uint64_t rows_pending;  // logged and not sent yet (the seed's sync_items_pending)
    uint64_t records_sent;  // records sent: rows, keys, config, ... (sync_items_total)
    uint64_t bytes_pending; // bytes in the ring not sent yet
    double sync_time;       // Unix seconds of the last send; 0: nothing sent yet
    bool welcomed;          // the aggregator answered the run's HELLO
    bool finished;          // wandb_finish ended the run
    uint64_t dropped;       // wandb_run_dropped
    uint64_t rejected;      // wandb_run_rejected_steps
} wandb_run_status_t;

// Fills *out. Rows are acknowledged as a whole only at finish (the
// aggregator acknowledges FINISH); "sent" means handed to the connection.
// WANDB_EINVAL on NULL. Thread: any.
WANDB_EXPORT wandb_err wandb_run_status(const wandb_run_t *run, wandb_run_status_t *out);

// The step the next committed row gets.
WANDB_EXPORT int64_t wandb_run_step(const wandb_run_t *run);
WANDB_EXPORT int64_t wandb_run_starting_step(const wandb_run_t *run);
// Unix time in seconds when the run started.
WANDB_EXPORT double wandb_run_start_time(const wandb_run_t *run);
// Rows rejected for a lower step, and values dropped because the ring was
// full (log rows, and config and summary updates).
WANDB_EXPORT uint64_t wandb_run_rejected_steps(const wandb_run_t *run);
WANDB_EXPORT uint64_t wandb_run_dropped(const wandb_run_t *run);

// ---------------------------------------------------------------------------
// Hosting an aggregator. wandb_init starts one inside the process when no
// "aggregator" endpoint is set; wandb_mpi_init starts one on rank 0. These
// calls let any process host one for runs in other processes.

typedef struct wandb_aggregator wandb_aggregator_t;

// Starts an aggregator thread bound to `bind` (a ZeroMQ endpoint such as
// "tcp://127.0.0.1:*"; the port is chosen when it is *), forwarding to the
// backend that settings name (base_url, api_key, flush_interval_ms; the
// "secret" setting, when set, is required from every run). expected_runs:
// how many runs wandb_aggregator_stop waits for (0: every run that
// connected). A tcp:// or ipc:// endpoint is a CURVE server with keys made
// here, unless transport_security is plain: on success the settings
// aggregator_server_key, aggregator_client_key and aggregator_client_secret
// of `settings` are set to what runs need to connect (docs/security.md).
// Returns a new aggregator in *out.
WANDB_EXPORT wandb_err wandb_aggregator_start(wandb_settings_t *settings, const char *bind,
                                              int expected_runs, wandb_aggregator_t **out);
// The bound endpoint, with the real port. Borrowed: valid until stop.
WANDB_EXPORT const char *wandb_aggregator_endpoint(const wandb_aggregator_t *self);
// Waits until the expected runs finished (or were marked crashed) and the
// backend received everything, at most timeout_ms; then stops and frees
// *self_p and sets it to NULL. WANDB_ETIMEDOUT when something was pending.
WANDB_EXPORT wandb_err wandb_aggregator_stop(wandb_aggregator_t **self_p, int timeout_ms);

// Finishes the run left active, if any, as wandb_finish(&run, 0) would
// (bounded by its finish_timeout_ms); does nothing otherwise. It does not
// reset the logger callback. Call at exit, after or instead of the last
// wandb_finish. Not thread-safe.
WANDB_EXPORT void wandb_shutdown(void);

#ifdef __cplusplus
}
#endif

// Histograms, images, tables and watch (wandb_media.h).
#include "wandb_artifact.h" // artifacts (docs/artifacts.md)
#include "wandb_media.h"
#endif
