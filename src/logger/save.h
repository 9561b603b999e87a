//  save.h - run files inside the rank library: what save.c, save_path.c,
//  save_send.c, save_live.c and restore.c share
//  SPDX-License-Identifier: MIT
//
//  save_path.c turns the arguments of wandb_save into an absolute glob and
//  the length of its base (no I/O but getcwd); save.c expands the glob and
//  remembers end/live files; save_send.c reads a file and sends it through
//  the ring as FILE_BEGIN/CHUNK/END; save_live.c is the watcher thread that
//  re-sends changed live files. Every function here except the path ones
//  is called with run->save_mu held, unless its comment says otherwise.
#ifndef WBI_SAVE_H
#define WBI_SAVE_H

#include "logger/run.h"
#include <sys/types.h>
#include <time.h>

#define WBI_SAVE_PATH_MAX 4096 // bytes of an absolute path (or glob) wandb_save handles

// A file to look at again: at finish (policies end and live) and, for live
// ones, on every pass of the watcher.
struct wbi_saved {
    char *path;                 // where to read it
    char *name;                 // run-relative name
    wandb_save_policy policy;   // end or live
    bool sent;                  // bytes were sent, hash/size describe them
    uint64_t hash;              // FNV-1a of the bytes sent last
    size_t size;                // their length
    bool seen;                  // live: st_* below describe the file at the last look
    struct timespec seen_mtime; // modification time then
    off_t seen_size;            // size then
};

// Resolves glob (as given to wandb_save) and base_path (NULL: the official
// default) the way the official Run.save does: both made absolute against
// the working directory and normalized ("." and ".." segments, repeated
// '/'); without base_path a relative glob is relative to the working
// directory and an absolute one keeps one directory level (its parent's
// parent is the base). Writes the absolute glob into abs (abslen bytes) and
// the length of its base prefix into *base_len (the run-relative part
// starts after it and a '/'). WANDB_EINVAL with errmsg when the glob walks
// above the base, equals it or starts with '*' below it, or is a cloud
// storage URL; WANDB_ETOOBIG for a path over abslen; WANDB_EIO when the
// working directory cannot be read. Thread: any.
wandb_err wbi_save_resolve(const char *glob, const char *base_path, char *abs, size_t abslen,
                           size_t *base_len, char *errmsg, size_t errlen);

// Normalizes an absolute path in place: no repeated '/', no "." segment,
// ".." removes the segment before it (none at the root), no trailing '/'
// except for "/" itself. Thread: any.
void wbi_save_normalize(char *path);

// Sends len bytes as the run file name (FILE_BEGIN, FILE_CHUNKs, FILE_END),
// waiting for ring room until deadline (monotonic ms). Also used for media
// files, which come from memory (media_log.c). WANDB_ETIMEDOUT (the ring did
// not drain in time), WANDB_ECLOSED, WANDB_ENOMEM.
wandb_err wbi_save_send(wandb_run_t *run, const char *name, wandb_save_policy policy,
                        const void *bytes, size_t len, int64_t deadline);

// Reads and sends the file at path as name, unless e is a live entry whose
// bytes were sent already unchanged; records what was sent in e (may be
// NULL). Waits for ring room until deadline (monotonic ms).
wandb_err wbi_save_read_send(wandb_run_t *run, const char *path, const char *name,
                             wandb_save_policy policy, struct wbi_saved *e, int64_t deadline);

// Starts the live-file watcher of run once (no-op when it runs). Caller
// holds save_mu. WANDB_ENOMEM, WANDB_EIO (no thread).
wandb_err wbi_save_live_start(wandb_run_t *run);
// Stops the watcher and waits for it. Call WITHOUT save_mu held. No-op when
// none runs.
void wbi_save_live_stop(wandb_run_t *run);

#endif
