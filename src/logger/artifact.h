//  artifact.h - the artifact object of the rank library, shared by its files
//  SPDX-License-Identifier: MIT
//
//  artifact.c owns the object (name, type, entries, naming rules, digests at
//  add time); artifact_send.c sends it to the aggregator and waits for the
//  answer; artifact_model.c builds the model and code helpers on both.
//  Thread: an object belongs to one thread at a time.
#ifndef WBI_LOGGER_ARTIFACT_H
#define WBI_LOGGER_ARTIFACT_H

#include "common/artname.h"
#include "common/md5.h"
#include "logger/run.h"
#include "wandb_artifact.h"
#include <jansson.h>

#define WBI_ART_MAGIC 0x41525446u  // "ARTF"; overwritten by destroy
#define WBI_ART_ENTRIES_MAX 100000 // entries in one artifact
#define WBI_ART_ERR 512            // bytes of the error text

// One entry: a local file (path set) or a reference (ref set).
typedef struct {
    char *name;    // path inside the artifact
    char *path;    // local file to read (NULL for a reference)
    char *ref;     // the reference uri (NULL for a file)
    char *digest;  // base64 MD5 of the bytes, or the uri of a reference
    uint64_t size; // bytes (0 for a reference)
} wbi_art_entry_t;

struct wandb_artifact {
    uint32_t magic;           // WBI_ART_MAGIC while alive
    char *name;               // artifact (collection) name
    char *type;               // artifact type
    char *description;        // NULL: none
    json_t *metadata;         // JSON object (owned), NULL: none
    char **aliases;           // owned strings
    size_t naliases;          // entries in aliases
    char **tags;              // owned strings
    size_t ntags;             // entries in tags
    wbi_art_entry_t *entries; // the entries, in the order added
    size_t nentries;          // entries used
    size_t cap;               // entries allocated
    char version[32];         // "vN" once logged or used; "" before
    char digest[64];          // the version's digest once logged or used
    char *dir;                // where a used artifact's files are (download), NULL before
    wandb_run_t *run;         // the run that used it (borrowed), NULL for a new artifact
    uint32_t use_id;          // the aggregator's handle of the used version
    json_t *remote;           // a version only the backend holds: {id, entity, project,
                              // collection} (artifact_remote.c); NULL: the aggregator's
    char errmsg[WBI_ART_ERR]; // the last error ("" after a success)
};

// What a run keeps for artifact operations (artifact_send.c, artifact_get.c).
struct wbi_art_link {
    pthread_mutex_t op_mu; // one operation (or download) at a time
    pthread_mutex_t mu;    // guards the fields below
    pthread_cond_t cv;     // signalled when an ACK or DATA arrives
    uint32_t seq;          // op_id of the last operation (op_mu)
    uint32_t acked;        // op_id of the last ACK
    char *ack;             // its JSON text (owned)
    uint8_t *data;         // the last ART_DATA payload (owned), NULL: none waiting
    size_t data_len;       // its length
    uint32_t prog_op;      // the last ART_PROGRESS: operation,
    uint32_t prog_file;    // file number
    uint64_t prog_bytes;   // and bytes the aggregator has written
};

// The run's link, made on first use; NULL when out of memory.
struct wbi_art_link *wbi_art_link(wandb_run_t *run);

// Sets self->errmsg (when self) and logs it at WARN; returns rc.
wandb_err wbi_art_fail(wandb_artifact_t *self, wandb_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// True for a live artifact object.
bool wbi_art_valid(const wandb_artifact_t *self);
// Reads the file at path through md5, counting its bytes, at most max.
// WANDB_ENOTFOUND, WANDB_EIO (unreadable, not regular), WANDB_ETOOBIG.
wandb_err wbi_art_digest_file(const char *path, char digest[WBI_MD5_B64], uint64_t *size);

// Sends the artifact for op ("log", "upsert", "finish"; "link" and "use"
// send no entries) with distributed_id (NULL for log) and the members of
// extra (borrowed; NULL: none) in ART_BEGIN; waits for the aggregator's
// answer (artifact_send.c). Sets self->version/digest on success and, when
// ack_out, hands the answer over (json_decref it).
wandb_err wbi_art_send(wandb_run_t *run, wandb_artifact_t *self, const char *op,
                       const char *distributed_id, const json_t *extra, json_t **ack_out);
// Downloads the used artifact's entries into dir (artifact_get.c).
wandb_err wbi_art_fetch(wandb_artifact_t *self, const char *dir);
// Creates every missing directory of the parent of path (path is restored).
wandb_err wbi_art_mkdirs(char *path);
// Resolves ref on the backend itself, fills a (type, version, digest,
// entries, remote) and records the run as consumer (artifact_remote.c).
wandb_err wbi_art_remote_use(wandb_run_t *run, const wbi_art_ref_t *ref, wandb_artifact_t *a);
// Downloads a remote version's files into dir, checking each MD5.
wandb_err wbi_art_remote_fetch(wandb_artifact_t *self, const char *dir);
// An ART_PROGRESS from the aggregator (called by the I/O thread).
void wbi_art_on_progress(wandb_run_t *run, const uint8_t *payload, size_t len);
// An ART_DATA from the aggregator (called by the I/O thread).
void wbi_art_on_data(wandb_run_t *run, const uint8_t *payload, size_t len);
// An ART_ACK from the aggregator (called by the I/O thread).
void wbi_art_on_ack(wandb_run_t *run, const uint8_t *payload, size_t len);
// Adds an entry as artifact.c does (strings copied); for used artifacts.
wandb_err wbi_art_add_entry(wandb_artifact_t *self, const char *name, const char *ref,
                            const char *digest, uint64_t size);
// Frees what the run keeps for artifacts (at run destroy).
void wbi_art_release(wandb_run_t *run);

#endif
