//  core_int.h - the state of the aggregator's message handler, shared by its three files
//  SPDX-License-Identifier: MIT
//
//  Private to core.c, core_peer.c and core_record.c: nothing else includes it
//  (callers use core.h). Thread: the handler's owning thread only, as for core.h.
#ifndef WBI_AGG_CORE_INT_H
#define WBI_AGG_CORE_INT_H

#include "aggregator/artifact.h"
#include "aggregator/core.h"
#include "aggregator/jobview.h"
#include "aggregator/map.h"
#include "aggregator/names.h"

#define WBI_AGG_CONN_MAX 32 // bytes kept of a connection id (ZAP User-Id)

// Where a peer stands.
typedef enum {
    WBI_AGG_PEER_ACTIVE,   // HELLO accepted, run open
    WBI_AGG_PEER_FINISHED, // FINISH received
    WBI_AGG_PEER_CRASHED,  // silent past the heartbeat timeout
} wbi_agg_peer_state_t;

// One peer: a routing id that said a valid HELLO, and its run.
typedef struct {
    char *id;                     // routing id (copy)
    size_t id_len;                // its length
    char conn[WBI_AGG_CONN_MAX];  // connection of the accepted HELLO ("" without ZAP)
    uint32_t index;               // position in the peer table
    wbi_agg_peer_state_t state;   // see wbi_agg_peer_state_t
    wbi_agg_run_t *run;           // the run (ACTIVE, FINISHED, CRASHED)
    wbi_jobview_member_t *member; // its place in the job run (NULL: none)
    int64_t last_seen_ms;         // monotonic time of the last message
    int timeout_ms;               // heartbeat timeout of this peer (HELLO heartbeat_ms)
    int64_t last_summary_ms;      // monotonic time of the last summary
    uint32_t next_seq;            // expected next seq
    bool seq_known;               // next_seq is valid
    uint32_t out_seq;             // seq of our next message to the peer
    bool warned;                  // first problem already logged at WARN
    bool warned_gap;              // first sequence gap already logged at WARN
    bool welcome_sent;            // WELCOME was sent
    bool resume_done;             // the resume decision was taken (or none was needed)
    bool refused;                 // resume refused: the run is closed, its records ignored
    bool preempting;              // PREEMPTING was received
    double start_time;            // HELLO start_time (Unix seconds; the HELLO's arrival without)
    wbi_agg_art_op_t *art;        // its artifact operation in progress (NULL: none)
} wbi_agg_peer_t;

// The handler (core.h): options, the sink, the peer table, the job view and the counters.
struct wbi_agg_core {
    char *secret;             // required secret (NULL: none)
    char *base_url;           // for WELCOME urls (NULL: none)
    int heartbeat_timeout_ms; // see opts
    int summary_interval_ms;  // see opts
    wbi_agg_sink_t sink;      // where output goes
    void (*reply)(void *, const void *, size_t, const void *, size_t); // see the options
    void *reply_arg;                                                   // first argument of reply
    wbi_agg_sink_t quiet;       // the sink of members' runs when per-rank runs are off
    bool rank_runs;             // per-rank runs reach the sink
    bool warned_quiet;          // "files/alerts of members are not sent" was logged
    wbi_jobview_t *jobview;     // the job runs (NULL: off)
    wbi_agg_peer_t **peers;     // peer table
    size_t npeers;              // peers used
    size_t peers_cap;           // peers allocated
    wbi_smap_t by_id;           // routing id -> peer index
    wbi_agg_names_t names;      // key names shared by all runs
    wbi_agg_stats_t stats;      // public counters
    wbi_agg_core_extra_t extra; // internal counters
    int64_t last_tick_ms;       // when the last summary pass ran
    int64_t prev_tick_ms;       // when the last tick ran (any)
    bool ticked;                // prev_tick_ms is valid
    uint64_t strangers;         // unknown-peer messages since the last WARN about them
    int64_t stranger_warn_ms;   // when that WARN was logged
    bool stranger_warned;       // stranger_warn_ms is valid
    bool full_warned;           // "peer table full" was logged
    wbi_agg_arts_t *arts;       // artifact operations (made at the first artifact record)
    bool arts_refused;          // no artifact directory: artifacts are refused
};

// Peers (core_peer.c)

// Sends one record to peer p in its own message (nothing without a reply option).
void wbi_agg_core_reply(wbi_agg_core_t *self, wbi_agg_peer_t *p, wbi_rec_type type,
                        const char *payload, size_t len);
// Sends WELCOME to p once its run's entity is known (once).
void wbi_agg_core_try_welcome(wbi_agg_core_t *self, wbi_agg_peer_t *p);

// Records (core_record.c)

// One ART_* record of p (core_art.c).
void wbi_agg_core_artifact(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_wire_record_t *rec);
// Drops p's artifact operation in progress (its run crashed or ends).
void wbi_agg_core_artifact_drop(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *why);

// Counts one malformed message or record of p and logs it (WARN once per peer).
void wbi_agg_core_bad(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Handles the records left in r (the rest of one message) for peer p.
void wbi_agg_core_records(wbi_agg_core_t *self, wbi_agg_peer_t *p, wbi_wire_reader_t *r,
                          int64_t mono_ms, double wall);

#endif
