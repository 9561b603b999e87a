//  core.h - the aggregator's message handler: peers, decoding, timers
//  SPDX-License-Identifier: MIT
//
//  Everything the aggregator does between "a ZeroMQ message arrived from
//  peer P" and the sink, without sockets or threads: the peer table (one run
//  per peer identity), HELLO/secret checks, wire decoding with counted and
//  rate-limited malformed input, sequence gaps, heartbeat timeouts and the
//  summary timer. The socket loop (agg.c) and the tests drive it alike.
//  Thread: the owning thread only.
#ifndef WBI_AGG_CORE_H
#define WBI_AGG_CORE_H

#include "aggregator/aggregator.h"
#include "aggregator/run.h"

#define WBI_AGG_MAX_PEERS 65536 // peers (runs) per aggregator
#define WBI_AGG_PEER_ID_MAX 255 // bytes of a ZeroMQ routing id

typedef struct {
    const char *secret;       // required HELLO secret; NULL: not checked
    const char *base_url;     // for the run URL in WELCOME (may be NULL)
    int heartbeat_timeout_ms; // silence that marks a run crashed; 0: 15000
                              // (per peer: at least 3 x HELLO "heartbeat_ms")
    int summary_interval_ms;  // at most one summary per run this often; 0: 200
    bool no_job_run;          // no job run per group (jobview.h)
    bool no_rank_runs;        // members of a job reach the backend only through its job run
    int job_lateness_ms;      // wait for a slow rank's step; 0: WBI_JOBVIEW_LATENESS_MS
    // Sends msg (WELCOME, FINISHED) to the peer with this ZeroMQ identity
    // (best effort). NULL: replies are not sent.
    void (*reply)(void *arg, const void *peer, size_t peer_len, const void *msg, size_t len);
    void *reply_arg; // first argument of reply
} wbi_agg_core_opts_t;

// Counters beyond wbi_agg_stats_t.
typedef struct {
    uint64_t lost_messages;      // sequence gaps
    uint64_t ignored;            // messages from ids that have not sent a valid HELLO
    uint64_t bad_values;         // values dropped inside otherwise good rows
    uint64_t dropped_lines;      // rows/summaries over the line cap
    uint64_t reconnects;         // known routing ids that proved themselves on a new connection
    uint64_t refused_reconnects; // messages of a known routing id on a new connection
                                 // without a valid HELLO (dropped)
    uint64_t refused_keys;       // connections the ZAP handler refused (filled by agg.c)
    uint64_t failed_handshakes;  // failed security handshakes (filled by agg.c)
} wbi_agg_core_extra_t;

typedef struct wbi_agg_core wbi_agg_core_t;

// Returns a new handler in *out (strings copied, sink copied).
wandb_err wbi_agg_core_new(wbi_agg_core_t **out, const wbi_agg_core_opts_t *opts,
                           const wbi_agg_sink_t *sink);
// Frees every run without sending anything more. NULL-safe; nulls *self_p.
void wbi_agg_core_destroy(wbi_agg_core_t **self_p);
// Handles one message from peer (its routing id). mono_ms: a monotonic
// clock; wall: Unix seconds. Never fails: bad input is counted.
void wbi_agg_core_handle(wbi_agg_core_t *self, const void *peer, size_t peer_len, const void *msg,
                         size_t len, int64_t mono_ms, double wall);
// Like wbi_agg_core_handle for a message that came over connection conn
// (the ZAP User-Id; NULL or "" without ZAP). A peer is bound to the
// connection of its HELLO: a message of its routing id over another
// connection is dropped (refused_reconnects) unless it starts with a HELLO
// with the secret, the same run_id and the same rank, which moves the peer
// to that connection.
void wbi_agg_core_handle_conn(wbi_agg_core_t *self, const void *peer, size_t peer_len,
                              const char *conn, const void *msg, size_t len, int64_t mono_ms,
                              double wall);
// Housekeeping: heartbeat timeouts, due summaries (and dirty configs),
// pending WELCOMEs. When the previous tick was more than half the heartbeat
// timeout ago, the loop itself stalled: every active peer's silence clock is
// moved forward by the gap before it is judged.
void wbi_agg_core_tick(wbi_agg_core_t *self, int64_t mono_ms, double wall);
// mpirun's report of a rank's exit (see wbi_jobview_rank_exit).
void wbi_agg_core_rank_exit(wbi_agg_core_t *self, int rank, int exit_code, bool first);
// The job is being preempted (the scheduler's SIGTERM reached the
// launcher): every active run, and its job run, is marked preempting, so
// that it ends preempted rather than crashed when its rank is killed.
// Returns how many runs were marked.
int wbi_agg_core_preempt(wbi_agg_core_t *self);
// True when `expected` runs (0: every run that said HELLO) are finished or
// crashed.
bool wbi_agg_core_settled(const wbi_agg_core_t *self, int expected);
// End of service: emits the open rows and summaries of runs still active
// and of crashed ones, and logs the active ones as crashed (no finish is
// sent, so the backend marks them crashed; they count in runs_crashed, or
// in runs_preempted when preemption was announced).
// Returns how many runs were still active.
int wbi_agg_core_shutdown(wbi_agg_core_t *self, double wall);
// One console line of MPI rank `rank` (its stdout, or stderr when err),
// without the newline: written to output.log of that rank's run (the newest
// run whose HELLO named the rank) as the official client writes console
// lines: "<UTC time YYYY-MM-DDTHH:MM:SS.ffffff> <text>", stderr lines with
// "ERROR " before the text; bytes that are not UTF-8 become U+FFFD. wall:
// Unix seconds of the line. Returns false when no run of that rank said
// HELLO yet (the caller keeps the line for later); true when the line was
// taken (also when the run's output does not reach the sink: per-rank runs
// off).
bool wbi_agg_core_console(wbi_agg_core_t *self, int rank, bool err, const char *line, size_t len,
                          double wall);
void wbi_agg_core_get_stats(const wbi_agg_core_t *self, wbi_agg_stats_t *out,
                            wbi_agg_core_extra_t *extra);

#endif
