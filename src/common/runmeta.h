//  runmeta.h - what every component says about a run: its metadata, its line files
//  SPDX-License-Identifier: MIT
//
//  The aggregator fills these from a rank's HELLO and hands them to its sink;
//  the backend client sends them (UpsertBucket, file_stream); `wandb-mpi
//  sync` rebuilds them from a journal. Defined here so that none of those
//  components has to include another's header. Thread: any (types only).
#ifndef WBI_RUNMETA_H
#define WBI_RUNMETA_H

#include "common/alloc.h"
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

// The resume mode a run asks for (the setting; "auto" is allow on the wire).
enum {
    WBI_RESUME_NONE = 0,  // unset: no RunResumeStatus, UpsertBucket as for a new run
    WBI_RESUME_ALLOW = 1, // resume when the run exists, else a new run
    WBI_RESUME_MUST = 2,  // resume; refused when the run does not exist
    WBI_RESUME_NEVER = 3, // a new run; refused when the run exists
};

// What RunResumeStatus decided for a run opened with a resume mode
// (WANDB_PROTOCOL.md §4). Release with wbi_run_resume_release.
typedef enum {
    WBI_RESUMED_PENDING = 0, // not decided yet
    WBI_RESUMED_NEW = 1,     // no such run: it starts new (allow, never)
    WBI_RESUMED_YES = 2,     // the run exists and continues (allow, must)
    WBI_RESUMED_EXISTS = 3,  // refused: the run exists and resume is never
    WBI_RESUMED_MISSING = 4, // refused: no such run and resume is must
    WBI_RESUMED_FAILED = 5,  // refused: the backend could not be asked, or answered badly
} wbi_resumed_t;

typedef struct {
    wbi_resumed_t state;               // the decision
    int64_t starting_step;             // YES: the step after the last one stored
    double runtime;                    // YES: seconds the run ran before
    int64_t history_lines;             // YES: lines of history stored
    char *summary_json;                // YES: the stored summary object (owned), or NULL
    char *config_json;                 // YES: the stored config, unwrapped (owned), or NULL
    int64_t stream_lines[WBI_STREAMS]; // YES: lines stored in each stream file
    char msg[320];                     // refused: why, for the user
} wbi_run_resume_t;

// Frees the strings of *r and makes it PENDING again.
static inline void wbi_run_resume_release(wbi_run_resume_t *r)
{
    wbi_free(r->summary_json);
    wbi_free(r->config_json);
    *r = (wbi_run_resume_t){0};
}

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
    // WBI_RESUME_*: when set, RunResumeStatus decides before the first UpsertBucket
    // (wbi_backend_run_resume); a refused run sends nothing
    int resume;
} wbi_run_meta_t;

#endif
