//  aggregator.h - receives every rank's records and forwards runs to W&B
//  SPDX-License-Identifier: MIT
//
//  One thread owns a ZeroMQ ROUTER socket bound to one endpoint. Each peer
//  (a DEALER in a rank's I/O thread) says HELLO once with its run metadata,
//  then sends KEY/ROW/CONFIG/SUMMARY/... records; the aggregator applies the
//  step/commit rules per run, keeps the summary, builds history rows and
//  hands them to the sink it was started with (run.h; in the programs, the
//  outlet of src/outlet: the on-disk journal, then the backend client).
//  Runs whose peer stays silent past the heartbeat timeout are abandoned:
//  never finished, their heartbeats stop, so the backend marks them crashed
//  (a peer that speaks again goes on). Thread: start/stop from one thread;
//  the rest is internal.
#ifndef WBI_AGGREGATOR_H
#define WBI_AGGREGATOR_H

#include "aggregator/run.h"

typedef struct wbi_agg wbi_agg_t;
struct wbi_zap_keys; // aggregator/zap.h

typedef struct {
    const char *bind;         // ZeroMQ endpoint, e.g. "tcp://127.0.0.1:*" or "inproc://x"
    const char *secret;       // HELLO must carry it ("secret"); NULL: not checked
    void *zmq_ctx;            // context to use (needed for inproc); NULL: own one
    int expected_runs;        // stop waits for this many FINISHes; 0: every HELLO seen
    int heartbeat_timeout_ms; // silence that marks a run crashed; 0: 15000
    bool plain;               // tcp/ipc without CURVE (transport_security=plain); see zap.h
    bool no_job_run;          // job_run=false: no merged run per group
    bool no_rank_runs;        // per_rank_runs=false: a job's ranks only in its job run
    int job_lateness_ms;      // job_lateness_ms: wait for a slow rank; 0: 10000
    const char *base_url;     // the backend's URL, for the run URL in WELCOME; NULL: none
    // Opens where the output goes (the outlet, src/outlet), called by
    // wbi_agg_start once the endpoint is bound, so a failed bind leaves
    // nothing behind: fills *sink, which the aggregator then owns (its close
    // is called when the aggregator is freed). Logs its own errors. Required.
    wandb_err (*open_sink)(void *arg, wbi_agg_sink_t *sink);
    void *sink_arg;          // first argument of open_sink
    const char *console_dir; // mpirun --output-filename directory to tail into output.log
                             // (aggregator/console.h); NULL: no console capture
} wbi_agg_opts_t;

typedef struct {
    uint64_t messages;       // ZeroMQ messages received
    uint64_t records;        // records decoded
    uint64_t rows;           // history rows emitted
    uint64_t malformed;      // messages or records rejected (decoder, failed HELLO)
    uint64_t runs;           // runs seen (HELLO)
    uint64_t runs_finished;  // FINISH received
    uint64_t runs_crashed;   // heartbeat timed out, or still active at shutdown
    uint64_t runs_preempted; // the same, after the run (or the job) announced preemption
} wbi_agg_stats_t;

// Binds, opens the sink (opts->open_sink), starts the thread and returns a
// new aggregator in *out. WANDB_EINVAL without open_sink.
wandb_err wbi_agg_start(wbi_agg_t **out, const wbi_agg_opts_t *opts);
// The bound endpoint with the real port ("tcp://127.0.0.1:40123").
// Borrowed: valid until wbi_agg_stop.
const char *wbi_agg_endpoint(const wbi_agg_t *self);
// The CURVE keys ranks need (docs/security.md), or NULL when the endpoint
// is plain (inproc, or opts.plain). Borrowed: valid until wbi_agg_stop.
const struct wbi_zap_keys *wbi_agg_keys(const wbi_agg_t *self);
// Waits until expected runs finished (or crashed) and the sink drained,
// at most timeout_ms, then stops, frees and sets *self_p to NULL. Returns
// what the sink's drain says when it is not WANDB_OK (the outlet:
// wbi_outlet_finish), else WANDB_ETIMEDOUT when runs were still active after
// the final drain of the socket or fewer than expected_runs ever ended.
wandb_err wbi_agg_stop(wbi_agg_t **self_p, int timeout_ms);
void wbi_agg_get_stats(wbi_agg_t *self, wbi_agg_stats_t *out);

#endif
