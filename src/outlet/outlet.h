//  outlet.h - where the aggregator's output goes: the journal, then the backend
//  SPDX-License-Identifier: MIT
//
//  The component above the aggregator, the journal and the backend client
//  (docs/layers.md): the aggregator's sink (aggregator/run.h) points here,
//  and wbi_outlet_start_agg starts an aggregator writing to a new outlet, as
//  wandb-mpi-aggregator and the in-process aggregator do. Every call is first
//  appended to an on-disk journal (src/journal; records in
//  journal/records.h), then handed to the backend client when there is one
//  (online); offline there is none and nothing leaves the machine. The
//  backend reports what the server acknowledged; that is journaled too (ACK
//  records), so `wandb-mpi sync` later sends exactly what is missing.
//  Durability: a record is on disk once the next journal flush (every
//  journal_flush_ms, and at finish) returned; docs/journal.md.
//  Thread: the aggregator's loop thread calls everything except that the
//  backend thread delivers acknowledgements (per-run counters are atomic,
//  the journal locks itself); finish and destroy come after the loop ended.
#ifndef WBI_OUTLET_H
#define WBI_OUTLET_H

#include "aggregator/aggregator.h"
#include "backend/backend.h"

typedef struct wbi_outlet wbi_outlet_t;

typedef struct {
    const char *journal_dir;    // parent of this aggregator's journal directory; NULL: none
    bool offline;               // no backend: the journal only
    int journal_flush_ms;       // journal flush (and fsync) interval; 0: 1000
    uint64_t journal_max_bytes; // cap on the journal's size; 0: the journal's default (1 GiB)
    wbi_backend_opts_t backend; // online: the backend client's options
    // Console capture is on: a run's finish reaches the backend this long
    // after its FINISH (console lines a rank prints before it exits arrive
    // after it), at the latest at wbi_outlet_finish. 0: at once.
    // A stream line of a run whose finish already reached the backend is
    // dropped (logged once, counted), not journaled.
    int finish_grace_ms;
} wbi_outlet_opts_t;

typedef struct {
    uint64_t runs;               // runs opened
    uint64_t lines;              // history lines handed over
    uint64_t lines_acked;        // of those, acknowledged by the backend
    uint64_t finishes;           // runs finished
    uint64_t finishes_acked;     // of those, whose final state the backend acknowledged
    uint64_t journal_drops;      // records the journal refused (full, write error)
    uint64_t stream_lines;       // event and console lines handed over
    uint64_t stream_lines_acked; // of those, acknowledged by the backend
} wbi_outlet_stats_t;

// Opens the journal in a new directory under opts->journal_dir (named
// "journal-<UTC time>-<random>") and, online, starts the backend client.
// On error, err names what failed. Returns a new object in *out; destroy it
// with wbi_outlet_destroy().
wandb_err wbi_outlet_new(wbi_outlet_t **out, const wbi_outlet_opts_t *opts, char *err,
                         size_t errlen);
// Stops the backend (without waiting: call finish first), closes the
// journal, frees every run and sets *self_p to NULL. NULL-safe.
void wbi_outlet_destroy(wbi_outlet_t **self_p);
// Fills every callback of *sink, pointing them at self: tick is
// wbi_outlet_tick, drain wbi_outlet_finish and close wbi_outlet_destroy.
void wbi_outlet_sink(wbi_outlet_t *self, wbi_agg_sink_t *sink);
// Flushes the journal when journal_flush_ms passed since the last flush,
// and hands the backend the finishes whose grace (finish_grace_ms) passed.
void wbi_outlet_tick(wbi_outlet_t *self, int64_t mono_ms);
// End of service: flushes the journal, waits at most timeout_ms for the
// backend to acknowledge everything, and tells the truth: WANDB_OK when
// every line and final state was acknowledged (offline: journaled);
// WANDB_EAUTH when the backend refused the API key; WANDB_EBACKEND when it
// refused a request; WANDB_ETIMEDOUT when data was still unacknowledged at
// the deadline; WANDB_EIO/WANDB_EFULL when the journal lost records. Every
// outcome but OK is logged with the pending counts and the exact
// `wandb-mpi sync` command; nothing is discarded.
wandb_err wbi_outlet_finish(wbi_outlet_t *self, int timeout_ms);
// The journal directory (absolute when it could be resolved); "" without
// a journal. Borrowed: valid until destroy.
const char *wbi_outlet_journal_dir(const wbi_outlet_t *self);
void wbi_outlet_get_stats(wbi_outlet_t *self, wbi_outlet_stats_t *out);

// Starts an aggregator (wbi_agg_start with *opts) whose sink is a new
// outlet made from *oopts once the endpoint is bound. opts->open_sink and
// opts->base_url are set here (the backend's URL online, for WELCOME), and
// the outlet's finish_grace_ms is 2000 when opts->console_dir is set, else 0.
// An outlet that cannot start is logged. wbi_agg_stop ends both and returns
// the outlet's verdict. outlet (may be NULL) gets the outlet, borrowed until
// wbi_agg_stop. Thread: as wbi_agg_start.
wandb_err wbi_outlet_start_agg(wbi_agg_t **out, const wbi_agg_opts_t *opts,
                               const wbi_outlet_opts_t *oopts, wbi_outlet_t **outlet);

#endif
