//  run.h - the run object shared by the API side and the I/O thread
//  SPDX-License-Identifier: MIT
//
//  core.c owns the producer side (log, config, summary, ... write records
//  into the ring under the run mutex); io.c owns the consumer side (the I/O
//  thread drains the ring into ZeroMQ messages); run.c owns the lifetime
//  (wandb_init, wandb_finish). Unit tests build a run with
//  wbi_run_core_new() and read its ring without any thread or socket.
#ifndef WBI_RUN_H
#define WBI_RUN_H

#include "common/clock.h"
#include "logger/keys.h"
#include "logger/ring.h"
#include "logger/settings.h"
#include <pthread.h>

struct wbi_io;
struct wbi_saved;
struct wbi_live;
struct wbi_watch;
struct wbi_mirror;
struct wbi_art_link;

// Warnings that repeat on a hot path are logged the first time and then
// every WBI_WARN_EVERY times.
#define WBI_WARN_EVERY 1000
// Value positions whose last key (pointer and id) is remembered as a hint.
#define WBI_KEY_HINTS 64
// Control records (config, summary, ...) wait at least this long for ring space.
#define WBI_CONTROL_WAIT_MS 100

// Where a run is seen: its entity and the app URLs built from it (props.c).
typedef struct {
    char *entity;      // "" while unknown
    char *path;        // "entity/project/run_id"
    char *url;         // app/entity/project/runs/run_id; "" while the entity is unknown
    char *project_url; // app/entity/project; "" while the entity is unknown
    char *sweep_url;   // app/entity/project/sweeps/sweep_id; NULL: no sweep or entity
} wbi_run_where_t;

struct wandb_run {
    pthread_mutex_t mu;                  // serializes every producer call
    wbi_cfg_t cfg;                       // resolved settings (owned)
    bool disabled;                       // mode disabled: every call is a no-op
    bool closed;                         // FINISH written: later calls get WANDB_ECLOSED
    wbi_ring_t ring;                     // records for the I/O thread
    wbi_keys_t keys;                     // interned keys
    uint32_t *ids;                       // scratch: key id of each value of a call
    uint32_t *lens;                      // scratch: byte length of each string value
    const char *hint_key[WBI_KEY_HINTS]; // key pointer last seen at each value position
    uint32_t hint_id[WBI_KEY_HINTS];     // its id (verified by bytes before use)
    _Atomic int64_t step;                // the step the next committed row gets
    int64_t starting_step;               // step of the first row
    bool row_open;                       // a ROW without COMMIT is pending at step
    atomic_uint_least64_t dropped;       // values dropped because the ring was full
    atomic_uint_least64_t rejected;      // calls rejected for a lower step
    uint64_t full_calls;                 // calls dropped (for the rate-limited warning)
    double start_time;                   // Unix seconds at wandb_init
    wbi_run_where_t where[2];            // [0] from the settings, [1] after WELCOME (props.c)
    atomic_bool welcomed;                // WELCOME applied: where[1] is set (once)
    _Atomic(char *) set_name;            // name set while the run lives; NULL: cfg.name
    _Atomic(char *) set_notes;           // notes set while the run lives; NULL: cfg.notes
    _Atomic(char *) set_tags;            // tags set while the run lives; NULL: cfg.tags
    struct wbi_old_text *old_texts;      // replaced values, kept for borrowers (props.c)
    char *dir_abs;                       // the dir setting as an absolute path
    void *zmq_ctx;                       // ZeroMQ context of the run (owned)
    struct wbi_io *io;                   // the I/O thread, NULL in unit tests
    wandb_aggregator_t *agg;             // the in-process aggregator (hosted.h), NULL: external
    pthread_mutex_t save_mu;             // serializes wandb_save: one file in the ring at a time
    struct wbi_saved *saved;             // files to look at again at finish (end, live)
    size_t nsaved;                       // entries in saved
    size_t cap_saved;                    // allocated entries
    uint32_t file_seq;                   // id of the last FILE_BEGIN
    struct wbi_live *live;               // the live-file watcher (save_live.c), NULL: none
    _Atomic(struct wbi_watch *) watch;   // wandb_watch state (media_watch.c), NULL until used
    struct wbi_mirror *mirror;           // what was shipped: summary, config, counts (mirror.h)
    _Atomic uint64_t rows_logged;        // rows committed by log calls (written under mu)
    atomic_bool retired;                 // finished: buffers freed, the struct kept (run.c)
    struct wandb_run *next_retired;      // the list of finished runs (run.c, under its lock)
    _Atomic(struct wbi_art_link *) art;  // artifact operations (artifact_send.c), NULL before
    // resume (resume.c): the I/O thread writes the fields, then resume_state
    _Atomic int resume_state; // 0, WBI_RESUME_WELCOMED or WBI_RESUME_REFUSED
    wandb_err resume_refusal; // REFUSED: the error wandb_init returns
    char resume_msg[320];     // REFUSED: why
    int64_t resume_step;      // WELCOMED: the starting step
    bool resumed;             // WELCOMED: an existing run continues
    double resume_runtime;    // WELCOMED: seconds the continued run had run before
};

// Creates a run from resolved settings (*cfg is moved into the run and
// cleared), with its ring and key table, and no thread. Disabled mode makes
// a run without ring. WANDB_ENOMEM.
wandb_err wbi_run_core_new(wandb_run_t **out, wbi_cfg_t *cfg);
// Frees what wbi_run_core_new made (not the thread or the aggregator).
void wbi_run_core_destroy(wandb_run_t **self_p);
// Frees the large buffers of a closed run (ring, key table, saved files)
// under its locks, and keeps the struct and its strings: a stale pointer
// then still reads its properties, and every producer call on it returns
// WANDB_ECLOSED instead of touching freed memory (wandb_finish).
void wbi_run_core_retire(wandb_run_t *self);
// Writes one record (header + payload) into the ring, waiting up to wait_ms
// for room. WANDB_EFULL, WANDB_ETOOBIG, WANDB_ECLOSED. Takes the run mutex
// only to try: the wait happens outside it, so other threads keep logging.
wandb_err wbi_run_put_record(wandb_run_t *self, uint8_t type, const void *payload, size_t len,
                             int wait_ms);
// Like wbi_run_put_record for bulk data (FILE_CHUNK): writes only while the
// ring is at most half full, so rows logged meanwhile find room. The record
// must fit in half the ring (else WANDB_ETOOBIG).
wandb_err wbi_run_put_bulk_record(wandb_run_t *self, uint8_t type, const void *payload, size_t len,
                                  int wait_ms);
// Closes an open row (an empty ROW with COMMIT), writes FINISH and marks the
// run closed. Waits up to wait_ms for room, outside the run mutex; on
// timeout the run is closed anyway (WANDB_ETIMEDOUT).
wandb_err wbi_run_put_finish(wandb_run_t *self, int exit_code, int wait_ms);
// Applies a WELCOME (entity, url; either may be NULL). Only the first one
// counts. Called by the I/O thread (props.c).
void wbi_run_apply_welcome(wandb_run_t *self, const char *entity, const char *url);
// Builds where[0] and the other property strings from cfg (props.c). WANDB_ENOMEM.
wandb_err wbi_run_props_init(wandb_run_t *self);
// Frees what wbi_run_props_init and the setters made (props.c).
void wbi_run_props_release(wandb_run_t *self);

// Sends the files saved with policy "end", and the "live" ones whose bytes
// changed since they were sent (save.c). Called by wandb_finish before
// FINISH; waits for ring room until deadline (monotonic ms). Returns the
// first error (each one is logged) or WANDB_OK.
wandb_err wbi_save_flush(wandb_run_t *run, int64_t deadline);
// Frees the remembered saved files (save.c). The live watcher must be
// stopped first (wbi_save_live_stop, which takes save_mu itself); callers
// may hold save_mu here.
void wbi_save_release(wandb_run_t *run);

// Called by wandb_log_values before it logs (media_watch.c): logs the
// watched histograms when this call starts a step that is due.
void wbi_watch_on_log(wandb_run_t *run, int64_t step);
// Frees the watch state of the run (media_watch.c).
void wbi_watch_release(wandb_run_t *run);

#endif
