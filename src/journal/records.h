//  records.h - the record types of a wandb-mpi journal and their payloads
//  SPDX-License-Identifier: MIT
//
//  The journal (journal.h) stores (type, run, payload) records; this is what
//  the aggregator's outlet writes and `wandb-mpi sync` reads. `run` is the
//  run's number inside one journal directory (1, 2, ... in RUN order; 0 for
//  SESSION). JSON payloads are compact objects; text payloads are stored
//  byte for byte. Never renumber a type: old journals must stay readable.
//  Format and meaning: docs/journal.md.
#ifndef WBI_JOURNAL_RECORDS_H
#define WBI_JOURNAL_RECORDS_H

enum {
    WBI_JR_SESSION = 1,     // JSON {version, created, mode, base_url, host, pid}: first record
    WBI_JR_RUN = 2,         // JSON {run_id, project, entity, group, job_type, display_name,
                            //  notes, host, program, tags, config}: a run opened
    WBI_JR_HISTORY = 3,     // one history line (JSON object text)
    WBI_JR_SUMMARY = 4,     // the whole summary (JSON object text): the last one wins
    WBI_JR_CONFIG = 5,      // the whole unwrapped config (JSON object text): the last one wins
    WBI_JR_ALERT = 6,       // JSON {title, text, level, wait_ms}
    WBI_JR_PREEMPTING = 7,  // empty: the run is being preempted
    WBI_JR_FILE = 8,        // u32 LE name length, name, then the file's bytes
    WBI_JR_FINISH = 9,      // JSON {exit_code}: the run finished
    WBI_JR_ABANDON = 10,    // empty: the run's process went silent (it ends crashed)
    WBI_JR_ACK = 11,        // JSON {first_offset, lines, completed[, base_url][, files]}: what
                            //  the backend acknowledged; files: {name: {first_offset, lines}}
                            //  for the stream files
    WBI_JR_STREAM = 12,     // u8 name length, the file name ("wandb-events.jsonl",
                            //  "output.log"), then one line of that file
    WBI_JR_RUN_UPDATE = 15, // JSON {display_name?, notes?, tags?}: changed while the run lived
    WBI_JR_ARTIFACT = 20,   // JSON {event: commit|use|link, project, name, version, ...}: an
                            //  artifact event; the bytes are in the artifact store
};

#define WBI_JR_VERSION 1 // the SESSION "version" this code writes and reads

#endif
