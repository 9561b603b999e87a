//  console.h - the ranks' console output, tailed from mpirun's output files
//  SPDX-License-Identifier: MIT
//
//  The launcher runs mpirun with --output-filename DIR, so Open MPI writes
//  every rank's stdout and stderr to DIR/<job>/rank.<N>/stdout and stderr
//  (and still copies them to the terminal). The aggregator process tails
//  those files (the rank library never touches file descriptors) and hands
//  each whole line to wbi_agg_core_console, which writes it to output.log of
//  rank N's run. A line waits in its file, unread, until rank N's run said
//  HELLO. Memory is bounded: at most WBI_CONSOLE_FILES files, and a line
//  longer than WBI_CONSOLE_LINE_MAX bytes goes out in pieces of that size.
//  Thread: the aggregator's loop thread only.
#ifndef WBI_AGG_CONSOLE_H
#define WBI_AGG_CONSOLE_H

#include "aggregator/core.h"

#define WBI_CONSOLE_FILES 16384          // files tailed at most (two per rank)
#define WBI_CONSOLE_LINE_MAX (64 * 1024) // bytes of one output.log line at most
#define WBI_CONSOLE_READ_MAX (1 << 20)   // bytes read per file and poll at most

typedef struct wbi_console wbi_console_t;

typedef struct {
    uint64_t lines;   // lines handed to the core
    uint64_t bytes;   // bytes read
    uint64_t files;   // files being tailed
    uint64_t dropped; // files past WBI_CONSOLE_FILES (not tailed)
} wbi_console_stats_t;

// Tails dir (copied; it need not exist yet). Returns a new object in *out;
// destroy it with wbi_console_destroy(). WANDB_ENOMEM, WANDB_EINVAL.
wandb_err wbi_console_new(wbi_console_t **out, const char *dir);
void wbi_console_destroy(wbi_console_t **self_p);
// Looks for new files and reads what was appended to each, handing whole
// lines to core. final: the end of service; a last line without its
// newline goes out too. mono_ms: a monotonic clock; wall: Unix seconds.
void wbi_console_poll(wbi_console_t *self, wbi_agg_core_t *core, int64_t mono_ms, double wall,
                      bool final);
// When new bytes were last read (monotonic ms; the creation time before any).
int64_t wbi_console_last_read_ms(const wbi_console_t *self);
void wbi_console_get_stats(const wbi_console_t *self, wbi_console_stats_t *out);

#endif
