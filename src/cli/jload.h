//  jload.h - a journal directory read into memory, run by run, for `wandb-mpi sync`
//  SPDX-License-Identifier: MIT
//
//  Reads every record of one journal directory (journal/records.h) and keeps,
//  per run: its metadata, every history line, the last summary and config,
//  alerts, files, preempting, the finish, the lines of each stream file
//  (wandb-events.jsonl, output.log) and the last ACK. Damage is kept as
//  messages (file and offset); what came before it is used.
//  Thread: the owning thread only.
#ifndef WBI_CLI_JLOAD_H
#define WBI_CLI_JLOAD_H

#include "backend/backend.h"
#include "wandb.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A piece of a run's data: a copy of one record's payload.
typedef struct {
    char *data; // owned, NUL-terminated
    size_t len; // bytes before the NUL
} wbi_jl_blob_t;

// A saved file.
typedef struct {
    char *name; // run-relative name (owned)
    char *data; // bytes (owned)
    size_t len; // bytes in data
} wbi_jl_file_t;

// One run of one journal directory.
typedef struct {
    uint32_t no;                        // its number in the journal
    json_t *meta;                       // the RUN object (run_id, project, entity, ...)
    wbi_jl_blob_t *lines;               // history lines in order
    size_t nlines;                      // entries in lines
    size_t cap_lines;                   // allocated entries
    wbi_jl_blob_t summary;              // the last summary (data NULL: none)
    wbi_jl_blob_t config;               // the last config (data NULL: none)
    json_t *alerts;                     // array of ALERT objects
    json_t *artifacts;                  // array of ARTIFACT events (docs/artifacts.md)
    wbi_jl_file_t *files;               // saved files in order
    size_t nfiles;                      // entries in files
    bool preempting;                    // PREEMPTING seen
    bool finished;                      // FINISH seen
    int exit_code;                      // its exit code
    bool abandoned;                     // ABANDON seen (and no FINISH after it)
    bool acked;                         // an ACK was seen
    int64_t ack_first;                  // the last ACK's first_offset
    uint64_t ack_lines;                 // the last ACK's lines
    bool ack_completed;                 // some ACK said completed
    char *ack_url;                      // the backend the last ACK came from (owned; NULL: unknown)
    wbi_jl_blob_t *slines[WBI_STREAMS]; // stream lines in order, per stream (WBI_STREAM_*)
    size_t nslines[WBI_STREAMS];        // entries in slines
    size_t cap_slines[WBI_STREAMS];     // allocated entries
    int64_t ack_sfirst[WBI_STREAMS];    // the last ACK's first_offset per stream
    uint64_t ack_slines[WBI_STREAMS];   // the most lines an ACK acknowledged per stream
    bool gap;                           // damage hid some of its records: later lines and its final
                                        // state are not used (their positions are unknown)
} wbi_jl_run_t;

// One journal directory.
typedef struct {
    char *dir;          // its path (owned)
    double created;     // SESSION created (Unix seconds; 0 when missing)
    char *mode;         // SESSION mode ("online", "offline")
    char *base_url;     // SESSION base_url (NULL offline)
    wbi_jl_run_t *runs; // runs in journal order
    size_t nruns;       // entries in runs
    char **damage;      // damage messages (file and offset)
    size_t ndamage;     // entries in damage
    uint64_t records;   // records read
    uint64_t bad;       // records that could not be used (unknown run, bad payload)
    uint64_t after_gap; // lines and final states not used because damage came before them
} wbi_jl_session_t;

// Reads every segment of dir into *out. WANDB_EIO (message in err) when
// the directory cannot be read at all, WANDB_ENOMEM; damage inside the
// segments is not an error (see damage).
wandb_err wbi_jl_load(wbi_jl_session_t *out, const char *dir, char *err, size_t errlen);
// Frees everything the session holds.
void wbi_jl_release(wbi_jl_session_t *self);
// Borrowed string field of a run's metadata; NULL when absent.
const char *wbi_jl_meta(const wbi_jl_run_t *run, const char *key);

#endif
