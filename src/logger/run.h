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

// Warnings that repeat on a hot path are logged the first time and then
// every WBI_WARN_EVERY times.
#define WBI_WARN_EVERY 1000
// Value positions whose last key (pointer and id) is remembered as a hint.
#define WBI_KEY_HINTS 64
// Control records (config, summary, ...) wait at least this long for ring space.
#define WBI_CONTROL_WAIT_MS 100

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
    char *path;                          // "entity/project/run_id" from the settings
    char *url;                           // base_url/entity/project/runs/run_id from the settings
    atomic_bool welcomed;                // WELCOME applied: the welcome_* strings are set
    char *welcome_entity;                // entity named by the aggregator (set once)
    char *welcome_path;                  // path with that entity (set once)
    char *welcome_url;                   // url from WELCOME or built with that entity (set once)
    void *zmq_ctx;                       // ZeroMQ context of the run (owned)
    struct wbi_io *io;                   // the I/O thread, NULL in unit tests
    wandb_aggregator_t *agg;             // the in-process aggregator (hosted.h), NULL: external
    pthread_mutex_t save_mu;             // serializes wandb_save: one file in the ring at a time
    struct wbi_saved *saved;             // files to look at again at finish (end, live)
    size_t nsaved;                       // entries in saved
    size_t cap_saved;                    // allocated entries
    uint32_t file_seq;                   // id of the last FILE_BEGIN
    struct wbi_live *live;               // the live-file watcher (save_live.c), NULL: none
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
// counts. Called by the I/O thread.
void wbi_run_apply_welcome(wandb_run_t *self, const char *entity, const char *url);

// Sends the files saved with policy "end", and the "live" ones whose bytes
// changed since they were sent (save.c). Called by wandb_finish before
// FINISH; waits for ring room until deadline (monotonic ms). Returns the
// first error (each one is logged) or WANDB_OK.
wandb_err wbi_save_flush(wandb_run_t *run, int64_t deadline);
// Frees the remembered saved files (save.c).
void wbi_save_release(wandb_run_t *run);

#endif
