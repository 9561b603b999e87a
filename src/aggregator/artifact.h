//  artifact.h - artifact operations in the aggregator: receive, spool, merge, commit
//  SPDX-License-Identifier: MIT
//
//  The ranks' ART_* records (common/wire.h) arrive here through the core
//  (core_record.c). Each peer has at most one operation in progress (its
//  wbi_agg_art_op_t): files are written to a temporary file under
//  <dir>/tmp as their chunks arrive (never held whole in memory), their MD5
//  checked at ART_FILE_END, then moved to <dir>/blobs/<digest> (or dropped
//  when that digest is already stored: stored once). ART_COMMIT applies the
//  operation: log commits a version, upsert merges the entries into the
//  version being built for (project, name, distributed_id), finish merges
//  and commits that version, use looks a version up (and records the
//  consumer), link records a link. Every operation is answered with one
//  ART_ACK; READ requests of a used version with ART_DATA. The store on disk
//  is artstore.h. Thread: the aggregator's loop thread only.
#ifndef WBI_AGG_ARTIFACT_H
#define WBI_AGG_ARTIFACT_H

#include "wandb.h"
#include <stddef.h>
#include <stdint.h>

typedef struct wbi_agg_arts wbi_agg_arts_t;
typedef struct wbi_agg_art_op wbi_agg_art_op_t;

// Who sent a record.
typedef struct {
    const char *run_id;  // the peer's run
    const char *project; // its project
    int rank;            // its rank (-1: none)
} wbi_agg_art_who_t;

// What the module needs from its owner.
typedef struct {
    void *arg; // first argument of the callbacks
    // Sends one record (ART_ACK, ART_DATA) to peer.
    void (*reply)(void *arg, void *peer, uint8_t type, const void *payload, size_t len);
    // A version was committed, used or linked: a JSON object {event, project,
    // name, version, digest, ...} for the sink (journal). NULL: none.
    void (*event)(void *arg, void *peer, const char *json, size_t len);
} wbi_agg_art_io_t;

typedef struct {
    uint64_t versions;  // versions committed
    uint64_t upserts;   // upserts merged
    uint64_t conflicts; // operations refused for a conflicting path
    uint64_t files;     // files received and checked
    uint64_t deduped;   // of those, already stored (not written again)
    uint64_t bytes;     // bytes received
    uint64_t failed;    // operations refused for another reason
    uint64_t dropped;   // operations dropped unfinished (abort, crash, a newer BEGIN)
} wbi_agg_arts_stats_t;

// A new module over the store directory dir (created when missing).
// WANDB_EIO when dir cannot be created, WANDB_ENOMEM.
wandb_err wbi_agg_arts_new(wbi_agg_arts_t **out, const char *dir, const wbi_agg_art_io_t *io);
// Drops every operation in progress (temporary files removed), frees, nulls.
void wbi_agg_arts_destroy(wbi_agg_arts_t **self_p);
// One ART_* record of peer; *op_p is that peer's operation slot (NULL when
// none). WANDB_EPROTO for a malformed record (counted by the caller).
wandb_err wbi_agg_arts_record(wbi_agg_arts_t *self, wbi_agg_art_op_t **op_p, void *peer,
                              const wbi_agg_art_who_t *who, uint8_t type, const uint8_t *payload,
                              size_t len);
// The peer is gone (crashed, or the aggregator ends): drops its unfinished
// operation, logged with why. NULL-safe.
void wbi_agg_arts_drop(wbi_agg_arts_t *self, wbi_agg_art_op_t **op_p, const char *why);
void wbi_agg_arts_get_stats(const wbi_agg_arts_t *self, wbi_agg_arts_stats_t *out);
// The store directory. Borrowed.
const char *wbi_agg_arts_dir(const wbi_agg_arts_t *self);

#endif
