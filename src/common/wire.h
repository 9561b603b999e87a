//  wire.h - the binary frame format between ranks and the aggregator
//  SPDX-License-Identifier: MIT
//
//  One ZeroMQ message = an 8-byte header and whole records; all integers
//  little-endian. The layout is specified in docs/wire-format.md. Encoders
//  here are inline so the log() hot path can write straight into its ring;
//  the decoder does no I/O, validates every length before use and reports
//  the byte offset of the first malformed byte. Thread: any (no state).
#ifndef WBI_WIRE_H
#define WBI_WIRE_H

#include "buf.h"
#include "wandb.h"
#include <string.h>

#define WBI_WIRE_VERSION 1
#define WBI_WIRE_HEADER_BYTES 8  // "WB", version, flags, seq u32
#define WBI_WIRE_RECORD_HEADER 5 // type u8, payload length u32
#define WBI_WIRE_ROW_HEADER 19   // step i64, ts f64, flags u8, count u16
#define WBI_WIRE_KEY_MAX 255     // bytes in a key
#define WBI_WIRE_KEY_ID_MAX 0x0FFFFFFFu
#define WBI_WIRE_VALUE_MAX (1u << 20) // bytes in one string or JSON value
#define WBI_WIRE_ROW_MAX_VALUES 65535
#define WBI_WIRE_ROW_COMMIT 0x01 // row flag: this record ends the row

#define WBI_WIRE_FILE_MAX ((size_t)64 << 20)    // bytes in one saved file (wandb_save)
#define WBI_WIRE_FILE_CHUNK (64u * 1024u)       // file bytes in one FILE_CHUNK record at most
#define WBI_WIRE_ART_CHUNK_HEADER 16            // ART_CHUNK: op_id u32, file_no u32, offset u64
#define WBI_WIRE_ART_STEP ((uint64_t)1 << 20)   // ART_PROGRESS every this many bytes of a file
#define WBI_WIRE_ART_WINDOW ((uint64_t)8 << 20) // bytes a rank sends ahead of ART_PROGRESS

typedef enum {
    // rank -> aggregator
    WBI_REC_HELLO = 1,         // JSON object: run metadata (first record)
    WBI_REC_KEY = 2,           // id u32, key bytes: interns a key
    WBI_REC_ROW = 3,           // a log() call: step, ts, flags, values
    WBI_REC_CONFIG = 4,        // JSON object merged into the config
    WBI_REC_SUMMARY = 5,       // JSON object merged into the summary
    WBI_REC_DEFINE_METRIC = 6, // JSON object: one metric definition
    WBI_REC_ALERT = 7,         // JSON object: title, text, level, wait_ms
    WBI_REC_FINISH = 8,        // exit_code i32, dropped u64, rejected u64
    WBI_REC_PREEMPTING = 9,    // empty: the run is about to be preempted
    WBI_REC_FILE_BEGIN = 10,   // JSON object: id, name, policy, size of a saved file
    WBI_REC_FILE_CHUNK = 11,   // id u32, offset u64, then file bytes
    WBI_REC_FILE_END = 12,     // id u32, size u64: the file is complete
    WBI_REC_REDUCE = 13,       // JSON object {name, reduce}: cross-rank reductions
    WBI_REC_SYSTEM = 14,       // JSON object {node, ts, metrics}: one system-metrics sample
    WBI_REC_RUN_UPDATE = 15,   // JSON object {name?, notes?, tags?}: run metadata changed
    // 20-31: artifacts (docs/wire-format.md, docs/artifacts.md)
    WBI_REC_ART_BEGIN = 20,    // JSON {op_id, op, name, type, ..., refs, files}: an operation
    WBI_REC_ART_FILE = 21,     // JSON {op_id, file_no, name, size, digest}: a file starts
    WBI_REC_ART_CHUNK = 22,    // op_id u32, file_no u32, offset u64, then file bytes
    WBI_REC_ART_FILE_END = 23, // op_id u32, file_no u32, size u64: the file is complete
    WBI_REC_ART_COMMIT = 24,   // op_id u32: every file was sent; apply the operation
    WBI_REC_ART_ABORT = 25,    // op_id u32: drop the operation (a file changed, a timeout)
    WBI_REC_ART_READ = 26,     // use_id u32, file_no u32, offset u64, max u32: send me bytes
    // aggregator -> rank
    WBI_REC_WELCOME = 32,  // JSON object: entity, url, starting_step
    WBI_REC_FINISHED = 33, // empty: every record up to FINISH was received
    WBI_REC_ART_ACK = 34,  // JSON {op_id, ok, error, version, digest, files}: an operation's end
    WBI_REC_ART_DATA = 35, // use_id u32, file_no u32, offset u64, then bytes (none: the end)
    WBI_REC_ART_PROGRESS = 36, // op_id u32, file_no u32, bytes u64: written to disk so far
} wbi_rec_type;

// --- inline little-endian writers (dst must have room) ---------------------

static inline void wbi_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
// On little-endian hosts one memcpy is one store (compilers do not always
// merge the byte loop); the hot path of log() relies on it.
static inline void wbi_put_u32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}
static inline void wbi_put_u64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}
static inline void wbi_put_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    wbi_put_u64(p, v);
}
static inline uint16_t wbi_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wbi_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t wbi_get_u64(const uint8_t *p)
{
    return (uint64_t)wbi_get_u32(p) | ((uint64_t)wbi_get_u32(p + 4) << 32);
}
static inline double wbi_get_f64(const uint8_t *p)
{
    uint64_t v = wbi_get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

// Writes a message header into dst[0..8).
static inline void wbi_wire_header_put(uint8_t *dst, uint32_t seq)
{
    dst[0] = 'W';
    dst[1] = 'B';
    dst[2] = WBI_WIRE_VERSION;
    dst[3] = 0;
    wbi_put_u32(dst + 4, seq);
}

// Writes a record header (type, payload length) into dst[0..5).
static inline void wbi_wire_record_put(uint8_t *dst, uint8_t type, uint32_t payload_len)
{
    dst[0] = type;
    wbi_put_u32(dst + 1, payload_len);
}

// Writes the fixed part of a ROW payload into dst[0..19).
static inline void wbi_wire_row_put(uint8_t *dst, int64_t step, double ts, uint8_t flags,
                                    uint16_t count)
{
    wbi_put_u64(dst, (uint64_t)step);
    wbi_put_f64(dst + 8, ts);
    dst[16] = flags;
    wbi_put_u16(dst + 17, count);
}

// Bytes one value takes in a ROW (slen: strlen of a string/JSON value).
static inline size_t wbi_wire_value_size(wandb_type type, size_t slen)
{
    switch (type) {
    case WANDB_TYPE_BOOL:
        return 5;
    case WANDB_TYPE_STRING:
    case WANDB_TYPE_JSON:
        return 8 + slen;
    default:
        return 12;
    }
}

// Writes one value (tag = type << 28 | key id) and returns the bytes written.
static inline size_t wbi_wire_value_put(uint8_t *dst, uint32_t key_id, const wandb_value_t *v,
                                        size_t slen)
{
    wbi_put_u32(dst, ((uint32_t)v->type << 28) | key_id);
    switch (v->type) {
    case WANDB_TYPE_BOOL:
        dst[4] = v->as.b ? 1 : 0;
        return 5;
    case WANDB_TYPE_STRING:
    case WANDB_TYPE_JSON:
        wbi_put_u32(dst + 4, (uint32_t)slen);
        memcpy(dst + 8, v->as.s, slen);
        return 8 + slen;
    case WANDB_TYPE_INT:
        wbi_put_u64(dst + 4, (uint64_t)v->as.i);
        return 12;
    default:
        wbi_put_f64(dst + 4, v->as.d);
        return 12;
    }
}

#define WBI_WIRE_KEY_RECORD_MAX (WBI_WIRE_RECORD_HEADER + 4 + WBI_WIRE_KEY_MAX)
#define WBI_WIRE_FINISH_RECORD (WBI_WIRE_RECORD_HEADER + 20)

// Writes a whole KEY record (header, id, key bytes) into dst, which has room
// for WBI_WIRE_RECORD_HEADER + 4 + len bytes, and returns that size. The
// caller checks 1 <= len <= WBI_WIRE_KEY_MAX and id <= WBI_WIRE_KEY_ID_MAX.
static inline size_t wbi_wire_key_put(uint8_t *dst, uint32_t id, const char *key, size_t len)
{
    wbi_wire_record_put(dst, WBI_REC_KEY, (uint32_t)(4 + len));
    wbi_put_u32(dst + WBI_WIRE_RECORD_HEADER, id);
    memcpy(dst + WBI_WIRE_RECORD_HEADER + 4, key, len);
    return WBI_WIRE_RECORD_HEADER + 4 + len;
}

// Writes a whole FINISH record into dst[0..WBI_WIRE_FINISH_RECORD) and
// returns WBI_WIRE_FINISH_RECORD.
static inline size_t wbi_wire_finish_put(uint8_t *dst, int32_t exit_code, uint64_t dropped,
                                         uint64_t rejected)
{
    wbi_wire_record_put(dst, WBI_REC_FINISH, 20);
    uint8_t *p = dst + WBI_WIRE_RECORD_HEADER;
    wbi_put_u32(p, (uint32_t)exit_code);
    wbi_put_u64(p + 4, dropped);
    wbi_put_u64(p + 12, rejected);
    return WBI_WIRE_FINISH_RECORD;
}

// --- buffer encoders for control records -----------------------------------

// Appends a record with an opaque payload (JSON text for HELLO, CONFIG, ...).
wandb_err wbi_wire_put(wbi_buf_t *out, wbi_rec_type type, const void *payload, size_t len);
// Appends a KEY record (wbi_wire_key_put); WANDB_EINVAL on an empty or too
// long key or an id above WBI_WIRE_KEY_ID_MAX.
wandb_err wbi_wire_put_key(wbi_buf_t *out, uint32_t id, const char *key, size_t len);
// Appends a FINISH record (wbi_wire_finish_put).
wandb_err wbi_wire_put_finish(wbi_buf_t *out, int32_t exit_code, uint64_t dropped,
                              uint64_t rejected);

// --- decoder ----------------------------------------------------------------

typedef struct {
    const uint8_t *data; // the whole message
    size_t len;          // its length
    size_t pos;          // next byte to read; on error, the offending offset
    uint32_t seq;        // the header's sequence number
} wbi_wire_reader_t;

typedef struct {
    uint8_t type;           // wbi_rec_type (unknown types are returned too)
    const uint8_t *payload; // borrowed from the message
    uint32_t len;           // payload length
    size_t offset;          // offset of the record in the message
} wbi_wire_record_t;

typedef struct {
    uint32_t key_id; // interned key
    wandb_type type; // which member is set
    union {
        double d;
        int64_t i;
        bool b;
        struct {
            const char *p; // borrowed, not NUL-terminated
            uint32_t len;
        } s;
    } as;
} wbi_wire_value_t;

typedef struct {
    int64_t step;          // explicit step of the call (>= 0)
    double ts;             // Unix seconds at log() time
    uint8_t flags;         // WBI_WIRE_ROW_COMMIT
    uint16_t count;        // number of values
    const uint8_t *values; // first value (validated)
    const uint8_t *end;    // end of the values
} wbi_wire_row_t;

// Checks the header. WANDB_EPROTO (r->pos says where) on a short message, a
// bad magic or an unknown version.
wandb_err wbi_wire_reader_init(wbi_wire_reader_t *r, const void *msg, size_t len);
// Returns the next record: WANDB_OK, WANDB_ECLOSED at the end, WANDB_EPROTO
// when a length runs past the message (r->pos says where; reading stops).
wandb_err wbi_wire_next(wbi_wire_reader_t *r, wbi_wire_record_t *rec);
// Validates a whole ROW record (every value and length, types, bool bytes,
// UTF-8 of strings, negative step) so that iterating it cannot fail
// afterwards. Key ids are only range-checked (the tag has 28 bits for them):
// whether an id was interned by a KEY record is for the caller (the
// aggregator) to check. On WANDB_EPROTO *bad_offset is the offset within
// the payload.
wandb_err wbi_wire_row_parse(const wbi_wire_record_t *rec, wbi_wire_row_t *row, size_t *bad_offset);
// Decodes the value at *cursor (start with row->values) and advances it,
// without validating it again. Only valid on a row accepted by
// wbi_wire_row_parse; false at row->end.
bool wbi_wire_row_next(const wbi_wire_row_t *row, const uint8_t **cursor, wbi_wire_value_t *v);
// Parses a KEY payload. WANDB_EPROTO on a short payload, an empty or too long
// key, an id above WBI_WIRE_KEY_ID_MAX or a key that is not UTF-8.
wandb_err wbi_wire_key_parse(const wbi_wire_record_t *rec, uint32_t *id, const char **key,
                             size_t *key_len);
wandb_err wbi_wire_finish_parse(const wbi_wire_record_t *rec, int32_t *exit_code, uint64_t *dropped,
                                uint64_t *rejected);

#endif
