//  store.h - the SQLite store shared by wandb-mpi-server and the wandb-mpi CLI
//  SPDX-License-Identifier: MIT
//
//  One SQLite connection (WAL mode) over DIR/wandb.db. Runs are keyed by
//  (entity, project, name); history, events and console lines are stored
//  one row per line, keyed by (run, file, line number), so that a re-sent
//  (file, offset) write overwrites instead of appending. JSON texts (config,
//  summary, lines) are W&B extended JSON: bare NaN/Infinity tokens allowed.
//  Every statement is prepared once at open; the schema and its version
//  table live in store.c.
//  Thread: one caller at a time (the server holds one mutex around it).
#ifndef WBI_STORE_H
#define WBI_STORE_H

#include "wandb.h"
#include <jansson.h>

#define WBI_STORE_SCHEMA_VERSION 2
#define WBI_FILE_HISTORY "wandb-history.jsonl"
#define WBI_FILE_EVENTS "wandb-events.jsonl"
#define WBI_FILE_SUMMARY "wandb-summary.json"
#define WBI_FILE_OUTPUT "output.log"

typedef struct wbi_store wbi_store_t;

// One run as stored. Strings are heap copies (NULL when unset); release with
// wbi_store_run_release().
typedef struct {
    int64_t id;            // storage id (SQLite rowid), stable
    char *entity;          // entity name
    char *project;         // project name
    char *name;            // run id (URL slug)
    char *display_name;    // display name or NULL
    char *group;           // group or NULL
    char *job_type;        // job type or NULL
    char *notes;           // notes or NULL
    char *description;     // description or NULL
    char *tags;            // JSON array text, "[]" when none
    char *host;            // host or NULL
    char *program;         // program path or NULL
    char *repo;            // git remote or NULL
    char *commit;          // git commit or NULL
    char *sweep;           // sweep id or NULL
    char *config;          // unwrapped config, JSON object text
    char *summary;         // summary, JSON object text
    char *state;           // running, finished, failed, crashed, preempted
    bool has_exit_code;    // exit_code is set
    int64_t exit_code;     // exit code when finished or failed
    bool preempting;       // the client said it is being preempted
    double created_at;     // Unix seconds
    double heartbeat_at;   // Unix seconds of the last request about the run
    int64_t history_count; // history lines (highest line number + 1)
    int64_t events_count;  // events lines
    int64_t log_count;     // output.log lines
} wbi_run_t;

// What an UpsertBucket changes. NULL fields are left as they are.
typedef struct {
    const char *entity;       // required
    const char *project;      // required
    const char *name;         // required (run id)
    const char *display_name; // optional
    const char *group;        // optional
    const char *job_type;     // optional
    const char *notes;        // optional
    const char *description;  // optional
    const char *host;         // optional
    const char *program;      // optional
    const char *repo;         // optional
    const char *commit;       // optional
    const char *sweep;        // optional
    const char *state;        // optional
    const char *tags;         // optional JSON array text
    const json_t *config;     // optional: unwrapped object, merged key by key
    const char *summary;      // optional JSON object text (replaces)
} wbi_run_upsert_t;

// Opens (creating and migrating when not readonly) the database at path.
// Returns WANDB_OK and the store in *out, or an error with the reason in
// err (may be NULL). Destroy with wbi_store_destroy().
wandb_err wbi_store_open(wbi_store_t **out, const char *path, bool readonly, char *err,
                         size_t errlen);
// Closes the database and frees self; NULL-safe; sets *self_p to NULL.
void wbi_store_destroy(wbi_store_t **self_p);
// The text of the last SQLite error. Borrowed: valid until the next call.
const char *wbi_store_errmsg(const wbi_store_t *self);
// How long a statement waits for another connection's lock before failing
// with WANDB_ETIMEDOUT (default 5000 ms).
void wbi_store_set_busy_timeout(wbi_store_t *self, int ms);
// Durability of commits: true syncs the WAL at every commit (a commit that
// returned survives a power loss), false only at checkpoints (it survives a
// crash of the process). Opening sets false.
wandb_err wbi_store_set_sync_full(wbi_store_t *self, bool full);

// Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). Rollback is safe to
// call when no transaction is open.
wandb_err wbi_store_begin(wbi_store_t *self);
wandb_err wbi_store_commit(wbi_store_t *self);
void wbi_store_rollback(wbi_store_t *self);

// Meta key/value pairs (e.g. the upload token). get: WANDB_ENOTFOUND when
// missing; *value_out is a heap string to free with wbi_free.
wandb_err wbi_store_meta_get(wbi_store_t *self, const char *key, char **value_out);
wandb_err wbi_store_meta_set(wbi_store_t *self, const char *key, const char *value);

// Creates or updates a run; *id_out gets its storage id, *inserted whether it
// was created. The config is merged into the stored one key by key.
wandb_err wbi_store_run_upsert(wbi_store_t *self, const wbi_run_upsert_t *in, double now,
                               int64_t *id_out, bool *inserted);
// Returns the run with (entity, project, name), creating it (state running)
// when missing.
wandb_err wbi_store_run_ensure(wbi_store_t *self, const char *entity, const char *project,
                               const char *name, double now, int64_t *id_out);
// Fills *out with the run of that storage id (WANDB_ENOTFOUND if none).
wandb_err wbi_store_run_get(wbi_store_t *self, int64_t id, wbi_run_t *out);
// Finds a run by name; entity and project may be NULL (any). Among several,
// the most recently created wins. WANDB_ENOTFOUND if none.
wandb_err wbi_store_run_find(wbi_store_t *self, const char *entity, const char *project,
                             const char *name, wbi_run_t *out);
// Frees the strings of a run filled by the store and zeroes it.
void wbi_store_run_release(wbi_run_t *run);

// Calls fn for every run matching entity and project (NULL: any), oldest
// first. A non-zero return from fn stops the walk (returned as WANDB_OK).
typedef int (*wbi_store_run_fn)(void *arg, const wbi_run_t *run);
wandb_err wbi_store_runs_each(wbi_store_t *self, const char *entity, const char *project,
                              wbi_store_run_fn fn, void *arg);

// Heartbeat: updates heartbeat_at; a crashed run becomes running again.
wandb_err wbi_store_run_touch(wbi_store_t *self, int64_t id, double now);
// Marks the run finished (exit_code 0) or failed (otherwise).
wandb_err wbi_store_run_finish(wbi_store_t *self, int64_t id, int64_t exit_code, double now);
wandb_err wbi_store_run_set_summary(wbi_store_t *self, int64_t id, const char *json, size_t len);
wandb_err wbi_store_run_set_preempting(wbi_store_t *self, int64_t id);
// Running runs whose heartbeat is older than now - timeout_s become crashed
// (preempted when they announced preemption). *changed gets the count.
wandb_err wbi_store_mark_stale(wbi_store_t *self, double now, double timeout_s, int *changed);

// Stores line line_no of file (overwriting the same line number).
wandb_err wbi_store_line_put(wbi_store_t *self, int64_t run_id, const char *file, int64_t line_no,
                             const char *text, size_t len);
// Calls fn for lines [from, from+limit) of file in order (limit < 0: all).
typedef int (*wbi_store_line_fn)(void *arg, int64_t line_no, const char *text, size_t len);
wandb_err wbi_store_lines_each(wbi_store_t *self, int64_t run_id, const char *file, int64_t from,
                               int64_t limit, wbi_store_line_fn fn, void *arg);
// Calls fn for the last n lines of file, in line order.
wandb_err wbi_store_lines_tail(wbi_store_t *self, int64_t run_id, const char *file, int64_t n,
                               wbi_store_line_fn fn, void *arg);

// Records a run file: size < 0 keeps the known size; uploaded only ever
// goes from false to true.
wandb_err wbi_store_file_put(wbi_store_t *self, int64_t run_id, const char *name, int64_t size,
                             bool uploaded, double now);
typedef int (*wbi_store_file_fn)(void *arg, const char *name, int64_t size, bool uploaded,
                                 double updated_at);
wandb_err wbi_store_files_each(wbi_store_t *self, int64_t run_id, wbi_store_file_fn fn, void *arg);

// Stores an alert of a run.
wandb_err wbi_store_alert_add(wbi_store_t *self, int64_t run_id, const char *title,
                              const char *text, const char *severity, int64_t wait_ms, double now);
typedef int (*wbi_store_alert_fn)(void *arg, const char *title, const char *text,
                                  const char *severity, int64_t wait_ms, double created_at);
wandb_err wbi_store_alerts_each(wbi_store_t *self, int64_t run_id, wbi_store_alert_fn fn,
                                void *arg);

#endif
