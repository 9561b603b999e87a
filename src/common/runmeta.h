//  runmeta.h - what every component says about a run: its metadata, its line files
//  SPDX-License-Identifier: MIT
//
//  The aggregator fills these from a rank's HELLO and hands them to its sink;
//  the backend client sends them (UpsertBucket, file_stream); `wandb-mpi
//  sync` rebuilds them from a journal. Defined here so that none of those
//  components has to include another's header. Thread: any (types only).
#ifndef WBI_RUNMETA_H
#define WBI_RUNMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Longest history, summary or stream line a run may carry (10 MiB - 100 KiB):
// the W&B file_stream line cap, with room for the request around it.
#define WBI_LINE_MAX ((size_t)10 * 1024 * 1024 - 100 * 1024)

// The append-only file_stream files beside history (wbi_backend_run_stream);
// each has its own offsets. Never renumber: journals store the file names.
enum {
    WBI_STREAM_EVENTS = 0, // wandb-events.jsonl: system metrics, one JSON object a line
    WBI_STREAM_OUTPUT = 1, // output.log: console lines (plain text)
    WBI_STREAMS = 2,       // number of streams
};

// What UpsertBucket needs about a run. All strings copied; NULL = unset.
typedef struct {
    const char *run_id;       // run ID (name in UpsertBucket), required
    const char *project;      // required
    const char *entity;       // NULL: the server's default entity
    const char *group;        // groupName
    const char *job_type;     // jobType
    const char *display_name; // displayName ("rank-3")
    const char *notes;        // notes
    const char *host;         // host
    const char *program;      // program
    const char *tags;         // comma-separated
    const char *config_json;  // UNWRAPPED config object (extended JSON); wrapped on send
    void *tag;                // handed back to on_ack
    // true: the first queued line goes at first_offset whatever historyLineCount the first
    // UpsertBucket answers (sync resuming a partly sent run); false: historyLineCount when
    // > 0, else 0
    bool has_first_offset;
    int64_t first_offset; // see has_first_offset
    // where each stream's first queued line goes (0 for a new run); the server
    // reports no line count for these files, so has_first_offset plays no part
    int64_t stream_first_offset[WBI_STREAMS];
} wbi_run_meta_t;

#endif
