//  fuzz_wire.c - fuzz target: one ZeroMQ message through the wire-format decoder
//  SPDX-License-Identifier: MIT
//
//  The input is a whole message as a rank sends it (docs/wire-format.md). It
//  is read the way the aggregator reads it: header, records, then each record
//  by type (KEY, ROW, FINISH, and the JSON records through extended JSON).
//  Beyond not crashing, every record the decoder accepts must encode back to
//  the same bytes with the encoders the ranks use.

#include "fuzz/fuzz.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/wire.h"

#include <string.h>

// Re-encodes an accepted KEY record and compares it with the original bytes.
static void s_key(const wbi_wire_record_t *rec)
{
    uint32_t id = 0;
    const char *key = NULL;
    size_t len = 0;
    if (wbi_wire_key_parse(rec, &id, &key, &len) != WANDB_OK)
        return;
    WBF_ASSERT(len >= 1 && len <= WBI_WIRE_KEY_MAX && id <= WBI_WIRE_KEY_ID_MAX);
    WBF_ASSERT(wbi_utf8_valid(key, len) && !memchr(key, '\0', len));
    uint8_t out[WBI_WIRE_KEY_RECORD_MAX];
    size_t n = wbi_wire_key_put(out, id, key, len);
    WBF_ASSERT(n == WBI_WIRE_RECORD_HEADER + rec->len);
    WBF_ASSERT(memcmp(out + WBI_WIRE_RECORD_HEADER, rec->payload, rec->len) == 0);
}

// Re-encodes an accepted FINISH record and compares it with the original bytes.
static void s_finish(const wbi_wire_record_t *rec)
{
    int32_t code = 0;
    uint64_t dropped = 0;
    uint64_t rejected = 0;
    if (wbi_wire_finish_parse(rec, &code, &dropped, &rejected) != WANDB_OK)
        return;
    uint8_t out[WBI_WIRE_FINISH_RECORD];
    wbi_wire_finish_put(out, code, dropped, rejected);
    WBF_ASSERT(memcmp(out + WBI_WIRE_RECORD_HEADER, rec->payload, rec->len) == 0);
}

// Parses a JSON value the way the aggregator does and dumps it back.
static void s_json(const void *text, size_t len, size_t flags)
{
    json_error_t jerr;
    json_t *j = wbi_jsonx_loadb(text, len, flags, &jerr);
    if (!j)
        return;
    char *s = wbi_jsonx_dumps(j, JSON_COMPACT);
    wbi_free(s);
    json_decref(j);
}

// Validates a ROW, then walks its values and re-encodes each one, which must
// give back the bytes it was decoded from.
static void s_row(const wbi_wire_record_t *rec)
{
    wbi_wire_row_t row;
    size_t bad = 0;
    if (wbi_wire_row_parse(rec, &row, &bad) != WANDB_OK) {
        WBF_ASSERT(bad <= rec->len);
        return;
    }
    WBF_ASSERT(row.step >= 0 && (row.flags & ~WBI_WIRE_ROW_COMMIT) == 0);
    const uint8_t *cur = row.values;
    size_t count = 0;
    wbi_wire_value_t v;
    while (wbi_wire_row_next(&row, &cur, &v))
        count++;
    WBF_ASSERT(count == row.count && cur == row.end);
    // Second pass: re-encode value by value.
    cur = row.values;
    uint8_t tmp[12];
    while (cur < row.end) {
        const uint8_t *at = cur;
        WBF_ASSERT(wbi_wire_row_next(&row, &cur, &v));
        WBF_ASSERT(v.key_id <= WBI_WIRE_KEY_ID_MAX);
        wandb_value_t wv = {.type = v.type};
        size_t slen = 0;
        switch (v.type) {
        case WANDB_TYPE_DOUBLE:
            wv.as.d = v.as.d;
            break;
        case WANDB_TYPE_INT:
            wv.as.i = v.as.i;
            break;
        case WANDB_TYPE_BOOL:
            wv.as.b = v.as.b;
            break;
        case WANDB_TYPE_STRING:
            WBF_ASSERT(wbi_utf8_valid(v.as.s.p, v.as.s.len));
            // fall through
        case WANDB_TYPE_JSON:
            WBF_ASSERT(v.as.s.len <= WBI_WIRE_VALUE_MAX);
            WBF_ASSERT(wbi_wire_value_size(v.type, v.as.s.len) == (size_t)(cur - at));
            WBF_ASSERT(wbi_get_u32(at) == (((uint32_t)v.type << 28) | v.key_id));
            WBF_ASSERT(wbi_get_u32(at + 4) == v.as.s.len);
            if (v.type == WANDB_TYPE_JSON)
                s_json(v.as.s.p, v.as.s.len, JSON_DECODE_ANY);
            continue;
        }
        slen = wbi_wire_value_put(tmp, v.key_id, &wv, 0);
        WBF_ASSERT(slen == (size_t)(cur - at) && memcmp(tmp, at, slen) == 0);
    }
}

// One message: the header, then every record until the end or the first
// malformed length.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wbi_wire_reader_t r;
    if (wbi_wire_reader_init(&r, data, size) != WANDB_OK) {
        WBF_ASSERT(r.pos <= size);
        return 0;
    }
    wbi_wire_record_t rec;
    wandb_err rc;
    while ((rc = wbi_wire_next(&r, &rec)) == WANDB_OK) {
        WBF_ASSERT(rec.offset + WBI_WIRE_RECORD_HEADER + rec.len <= size);
        WBF_ASSERT(rec.payload == data + rec.offset + WBI_WIRE_RECORD_HEADER);
        switch (rec.type) {
        case WBI_REC_KEY:
            s_key(&rec);
            break;
        case WBI_REC_ROW:
            s_row(&rec);
            break;
        case WBI_REC_FINISH:
            s_finish(&rec);
            break;
        case WBI_REC_HELLO:
        case WBI_REC_CONFIG:
        case WBI_REC_SUMMARY:
        case WBI_REC_DEFINE_METRIC:
        case WBI_REC_ALERT:
        case WBI_REC_FILE_BEGIN:
        case WBI_REC_REDUCE:
        case WBI_REC_SYSTEM:
        case WBI_REC_WELCOME:
            s_json(rec.payload, rec.len, 0);
            break;
        default:
            break; // unknown and binary records are skipped, as the aggregator does
        }
    }
    WBF_ASSERT(rc == WANDB_ECLOSED || rc == WANDB_EPROTO);
    WBF_ASSERT(r.pos <= size);
    return 0;
}
