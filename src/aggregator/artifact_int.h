//  artifact_int.h - the state artifact.c (receiving) and artmerge.c (applying) share
//  SPDX-License-Identifier: MIT
//  Thread: the aggregator's loop thread only.
#ifndef WBI_AGG_ARTIFACT_INT_H
#define WBI_AGG_ARTIFACT_INT_H

#include "aggregator/artifact.h"
#include "aggregator/artstore.h"
#include "common/md5.h"
#include <jansson.h>
#include <stdbool.h>

#define WBI_AGG_ART_USES 1024       // used versions a module remembers for READ
#define WBI_AGG_ART_READ_MAX 262144 // bytes in one ART_DATA at most

// One operation of one peer, from ART_BEGIN to ART_COMMIT or ART_ABORT.
struct wbi_agg_art_op {
    struct wbi_agg_art_op *next; // the module's list of operations in progress
    struct wbi_agg_art_op *prev;
    uint32_t op_id;              // the rank's operation number
    char *op;                    // "log", "upsert", "finish", "use", "link"
    char *run_id;                // the sender's run, for messages and producers
    int rank;                    // the sender's rank
    json_t *begin;               // the ART_BEGIN object
    json_t *contents;            // {path: {digest, size[, ref]}} received so far
    char error[512];             // the first error ("" none): the operation fails
    bool open;                   // a file is being received
    int fd;                      // its temporary file
    char tmp[WBI_ARTSTORE_PATH]; // its path
    uint32_t file_no;            // its number
    uint32_t next_file;          // the number the next file must have
    char *fname;                 // its path in the artifact
    char *fdigest;               // its announced digest
    uint64_t fsize;              // its announced size
    uint64_t got;                // bytes written so far
    wbi_md5_t md5;               // of those bytes
};

// A version being built from upserts of one (project, name, distributed_id).
typedef struct wbi_agg_art_pending {
    struct wbi_agg_art_pending *next;
    char *project;
    char *name;
    char *did;
    json_t *contents;  // {path: {digest, size[, ref]}}
    json_t *owners;    // {path: "run 'id' (rank r)"}: who upserted it first
    json_t *producers; // run ids, in the order they upserted
} wbi_agg_art_pending_t;

// A used version: where its files are, by file number.
typedef struct {
    uint32_t id;     // handed to the rank (0: free)
    char **blobs;    // blob paths (owned)
    uint64_t *sizes; // their sizes
    size_t n;        // files
} wbi_agg_art_use_t;

struct wbi_agg_arts {
    char dir[WBI_ARTSTORE_PATH];
    wbi_agg_art_io_t io;
    wbi_agg_art_op_t *ops;          // operations in progress
    wbi_agg_art_pending_t *pending; // distributed versions being built
    wbi_agg_art_use_t uses[WBI_AGG_ART_USES];
    uint32_t next_use; // the last use id given
    wbi_agg_arts_stats_t stats;
};

// Applies a committed operation and answers it (artmerge.c). The op is
// freed by the caller afterwards.
void wbi_agg_arts_apply(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer,
                        const wbi_agg_art_who_t *who);
// Answers a READ (artmerge.c).
wandb_err wbi_agg_arts_read(wbi_agg_arts_t *self, void *peer, const uint8_t *payload, size_t len);
// Sends an ART_ACK {op_id, ok: false, error, code} (artifact.c).
void wbi_agg_arts_refuse(wbi_agg_arts_t *self, void *peer, uint32_t op_id, const char *code,
                         const char *error);
// Frees the pending versions and uses (artmerge.c).
void wbi_agg_arts_release_merge(wbi_agg_arts_t *self);

#endif
