//  journal.h - the aggregator's on-disk journal: checksummed record segments
//  SPDX-License-Identifier: MIT
//
//  A journal is a directory of segment files "000001.wjl", "000002.wjl", ... Each starts
//  with the 8-byte magic WBI_JOURNAL_MAGIC and a u32 format version; records follow, each
//  framed as u32 payload length, u32 CRC-32C over (type, run, payload), u8 type, u32 run,
//  payload (little-endian; docs/journal.md).
//
//  Writer: records are copied into an in-memory buffer and written when it passes
//  WBI_JOURNAL_WRITE_BYTES or at wbi_journal_flush, which is the durability point (one
//  fdatasync of the segment written to). Segments are never rewritten: a new writer starts
//  a new segment after the highest existing one. One writer per directory.
//  Thread: append, append2, flush, get_stats and errmsg from any thread (see below);
//  open and close from one thread, with no other call running.
//
//  Reader: every segment in number order; damage (bad magic, checksum mismatch, truncated
//  record) skips the rest of that segment and is reported with file and offset, never fatal.
//  Thread: the owning thread only.
#ifndef WBI_JOURNAL_H
#define WBI_JOURNAL_H

#include "wandb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WBI_JOURNAL_MAGIC "WBMPJRN1"            // 8 bytes at the start of every segment
#define WBI_JOURNAL_MAGIC_LEN 8                 // bytes of the magic (no NUL on disk)
#define WBI_JOURNAL_VERSION 1u                  // the u32 after the magic
#define WBI_JOURNAL_SEG_HEADER 12u              // magic + version
#define WBI_JOURNAL_REC_HEADER 13u              // length, crc, type, run
#define WBI_JOURNAL_RECORD_MAX (256u << 20)     // largest payload accepted and read back
#define WBI_JOURNAL_WRITE_BYTES (256u << 10)    // buffered bytes that trigger a write()
#define WBI_JOURNAL_BUFFER_MAX (16u << 20)      // buffered bytes past which an append waits
#define WBI_JOURNAL_MAX_BYTES (1ull << 30)      // default max_bytes
#define WBI_JOURNAL_SEGMENT_BYTES (64ull << 20) // default segment_bytes

typedef struct wbi_journal wbi_journal_t;

typedef struct {
    uint64_t max_bytes;     // cap on all segments of this journal (bytes on disk); 0: 1 GiB
    uint64_t segment_bytes; // a new segment file starts past this; 0: 64 MiB
    bool no_fsync;          // true: flush writes but never fsyncs (tests, benchmarks)
} wbi_journal_opts_t;

typedef struct {
    uint64_t records;      // records appended (accepted)
    uint64_t bytes;        // bytes written to segments (headers included)
    uint64_t flushes;      // wbi_journal_flush calls that wrote something
    uint64_t fsyncs;       // fsync/fdatasync calls made
    uint64_t dropped_full; // records refused: max_bytes reached (WANDB_EFULL)
    uint64_t dropped_io;   // records refused or lost by a write error (WANDB_EIO)
    uint64_t segments;     // segment files this journal created
} wbi_journal_stats_t;

// Opens the journal directory `dir` for appending (creates it and missing parents with
// mode 0700). Existing segments are never rewritten: a new segment starts after the highest
// existing number. Segment files are named "%06u.wjl" and created 0600. The bytes of the
// existing segments count against max_bytes. Unless no_fsync, the directory is synced once
// (the new segment's entry; and the parent's when the directory was created), counted in
// fsyncs. On error, a message naming the path and the cause goes to err (may be NULL).
// Errors: WANDB_EINVAL (NULL out or dir), WANDB_EIO, WANDB_ENOMEM. On success *out is a new
// journal; close it with wbi_journal_close().
wandb_err wbi_journal_open(wbi_journal_t **out, const char *dir, const wbi_journal_opts_t *opts,
                           char *err, size_t errlen);

// Appends one record (copied into an in-memory buffer; written to the file when the buffer
// passes WBI_JOURNAL_WRITE_BYTES or at flush). WANDB_EFULL when the record would take the
// journal past max_bytes (counted, nothing written), WANDB_EIO after a write error (counted;
// the error is sticky and named by errmsg), WANDB_ETOOBIG for a payload over
// WBI_JOURNAL_RECORD_MAX, WANDB_ENOMEM. Thread: any. Never waits for an fsync, except when
// more than WBI_JOURNAL_BUFFER_MAX bytes are buffered (the disk is slower than the appends):
// then it writes them itself first.
wandb_err wbi_journal_append(wbi_journal_t *self, uint8_t type, uint32_t run, const void *payload,
                             size_t len);

// Same, payload given as two parts (header + body) so callers need not concatenate.
wandb_err wbi_journal_append2(wbi_journal_t *self, uint8_t type, uint32_t run, const void *a,
                              size_t alen, const void *b, size_t blen);

// Writes everything buffered and fsyncs (fdatasync) once, unless nothing was appended since
// the last flush. This is the durability point: a record is durable once a flush after its
// append returned WANDB_OK. A flush that finishes segments also syncs each of them and the
// directory (for the new files' entries). Errors: WANDB_EIO (sticky, text in errmsg).
// Thread: any; the write and fsync run under an I/O lock that appends do not take.
wandb_err wbi_journal_flush(wbi_journal_t *self);

// Flushes, closes and frees; NULL-safe; nulls *self_p. A failed final flush is logged.
void wbi_journal_close(wbi_journal_t **self_p);

// Copies the counters into *out. Thread: any.
void wbi_journal_get_stats(wbi_journal_t *self, wbi_journal_stats_t *out);

// The first error ("" when none), e.g. "cannot write '/j/000001.wjl': No space left on
// device". Borrowed: valid until close; it does not change once set. Thread: any.
const char *wbi_journal_errmsg(wbi_journal_t *self);

// The directory given to open. Borrowed: valid until close.
const char *wbi_journal_dir(const wbi_journal_t *self);

// Reading: every segment of a journal directory, in segment order.
typedef struct wbi_journal_reader wbi_journal_reader_t;

typedef struct {
    uint8_t type;           // record type (the caller's)
    uint32_t run;           // run number (the caller's)
    const uint8_t *payload; // borrowed until the next call
    size_t len;             // payload bytes
    const char *file;       // segment path (borrowed until the next call)
    uint64_t offset;        // byte offset of the record in that file
} wbi_jrec_t;

// Lists the segments of `dir`. Errors: WANDB_EINVAL, WANDB_EIO (the directory cannot be
// read; message in err), WANDB_ENOMEM. On success *out is a new reader; close it with
// wbi_journal_reader_close().
wandb_err wbi_journal_reader_open(wbi_journal_reader_t **out, const char *dir, char *err,
                                  size_t errlen);

// 1: *rec filled; 0: end of the journal. Damage (bad magic, a checksum mismatch, a length
// past the end of file = truncation) is never fatal: the reader records a message naming the
// file and the byte offset ("'/x/000002.wjl': checksum mismatch at offset 4096"), skips the
// rest of THAT segment and goes on with the next segment. Records before the damage are
// returned. Each segment is read only up to the size it had when the reader reached it.
int wbi_journal_reader_next(wbi_journal_reader_t *self, wbi_jrec_t *rec);

// Number of damage messages so far (at most one a segment).
size_t wbi_journal_reader_damage_count(const wbi_journal_reader_t *self);

// Damage message i (NULL past the count). Borrowed: valid until close.
const char *wbi_journal_reader_damage(const wbi_journal_reader_t *self, size_t i);

// Closes and frees; NULL-safe; nulls *self_p.
void wbi_journal_reader_close(wbi_journal_reader_t **self_p);

// True when `dir` holds at least one segment file (for directory walks).
bool wbi_journal_is_dir(const char *dir);

#endif
