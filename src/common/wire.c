//  wire.c - encoders for control records and the I/O-free decoder
//  SPDX-License-Identifier: MIT
#include "wire.h"
#include "jsonx.h"

wandb_err wbi_wire_put(wbi_buf_t *out, wbi_rec_type type, const void *payload, size_t len)
{
    if (len > UINT32_MAX)
        return WANDB_ETOOBIG;
    uint8_t head[WBI_WIRE_RECORD_HEADER];
    wbi_wire_record_put(head, (uint8_t)type, (uint32_t)len);
    size_t start_len = out->len;
    wandb_err rc = wbi_buf_reserve(out, sizeof head + len);
    if (rc == WANDB_OK)
        rc = wbi_buf_append(out, head, sizeof head);
    if (rc == WANDB_OK)
        rc = wbi_buf_append(out, payload, len);
    if (rc != WANDB_OK)
        out->len = start_len;
    return rc;
}

// Grows out by n bytes at its end and returns where they start, or NULL
// (out unchanged) when the buffer cannot grow.
static uint8_t *s_grow(wbi_buf_t *out, size_t n, wandb_err *rc)
{
    *rc = wbi_buf_reserve(out, n);
    if (*rc != WANDB_OK)
        return NULL;
    uint8_t *p = (uint8_t *)out->data + out->len;
    out->len += n;
    return p;
}

wandb_err wbi_wire_put_key(wbi_buf_t *out, uint32_t id, const char *key, size_t len)
{
    if (len == 0 || len > WBI_WIRE_KEY_MAX || id > WBI_WIRE_KEY_ID_MAX)
        return WANDB_EINVAL;
    wandb_err rc;
    uint8_t *p = s_grow(out, WBI_WIRE_RECORD_HEADER + 4 + len, &rc);
    if (p)
        wbi_wire_key_put(p, id, key, len);
    return rc;
}

wandb_err wbi_wire_put_finish(wbi_buf_t *out, int32_t exit_code, uint64_t dropped,
                              uint64_t rejected)
{
    wandb_err rc;
    uint8_t *p = s_grow(out, WBI_WIRE_FINISH_RECORD, &rc);
    if (p)
        wbi_wire_finish_put(p, exit_code, dropped, rejected);
    return rc;
}

wandb_err wbi_wire_reader_init(wbi_wire_reader_t *r, const void *msg, size_t len)
{
    *r = (wbi_wire_reader_t){.data = msg, .len = len};
    if (len < WBI_WIRE_HEADER_BYTES)
        return WANDB_EPROTO;
    if (r->data[0] != 'W' || r->data[1] != 'B')
        return WANDB_EPROTO;
    if (r->data[2] != WBI_WIRE_VERSION) {
        r->pos = 2;
        return WANDB_EPROTO;
    }
    r->seq = wbi_get_u32(r->data + 4);
    r->pos = WBI_WIRE_HEADER_BYTES;
    return WANDB_OK;
}

wandb_err wbi_wire_next(wbi_wire_reader_t *r, wbi_wire_record_t *rec)
{
    if (r->pos >= r->len)
        return WANDB_ECLOSED;
    if (r->len - r->pos < WBI_WIRE_RECORD_HEADER)
        return WANDB_EPROTO;
    const uint8_t *p = r->data + r->pos;
    uint32_t len = wbi_get_u32(p + 1);
    if (len > r->len - r->pos - WBI_WIRE_RECORD_HEADER)
        return WANDB_EPROTO;
    *rec = (wbi_wire_record_t){
        .type = p[0], .payload = p + WBI_WIRE_RECORD_HEADER, .len = len, .offset = r->pos};
    r->pos += WBI_WIRE_RECORD_HEADER + (size_t)len;
    return WANDB_OK;
}

// Decodes the value at p (bounded by end) into v and returns its size, or 0
// when a length runs past end or the type is unknown. It does not look
// inside the value: s_value_valid does.
static size_t s_value_decode(const uint8_t *p, const uint8_t *end, wbi_wire_value_t *v)
{
    size_t left = (size_t)(end - p);
    if (left < 4)
        return 0;
    uint32_t tag = wbi_get_u32(p);
    v->key_id = tag & WBI_WIRE_KEY_ID_MAX;
    v->type = (wandb_type)(tag >> 28);
    switch (v->type) {
    case WANDB_TYPE_DOUBLE:
        if (left < 12)
            return 0;
        v->as.d = wbi_get_f64(p + 4);
        return 12;
    case WANDB_TYPE_INT:
        if (left < 12)
            return 0;
        v->as.i = (int64_t)wbi_get_u64(p + 4);
        return 12;
    case WANDB_TYPE_BOOL:
        if (left < 5)
            return 0;
        v->as.b = p[4] == 1;
        return 5;
    case WANDB_TYPE_STRING:
    case WANDB_TYPE_JSON: {
        if (left < 8)
            return 0;
        uint32_t n = wbi_get_u32(p + 4);
        if (n > left - 8)
            return 0;
        v->as.s.p = (const char *)p + 8;
        v->as.s.len = n;
        return 8 + (size_t)n;
    }
    }
    return 0;
}

// Checks a decoded value at p: a bool byte is 0 or 1, a string or JSON value
// is at most WBI_WIRE_VALUE_MAX bytes and a string is UTF-8.
static bool s_value_valid(const uint8_t *p, const wbi_wire_value_t *v)
{
    switch (v->type) {
    case WANDB_TYPE_BOOL:
        return p[4] <= 1;
    case WANDB_TYPE_STRING:
        return v->as.s.len <= WBI_WIRE_VALUE_MAX && wbi_utf8_valid(v->as.s.p, v->as.s.len);
    case WANDB_TYPE_JSON:
        return v->as.s.len <= WBI_WIRE_VALUE_MAX;
    default:
        return true;
    }
}

wandb_err wbi_wire_row_parse(const wbi_wire_record_t *rec, wbi_wire_row_t *row, size_t *bad_offset)
{
    size_t bad = 0;
    if (rec->type != WBI_REC_ROW || rec->len < WBI_WIRE_ROW_HEADER)
        goto malformed;
    const uint8_t *p = rec->payload;
    *row = (wbi_wire_row_t){.step = (int64_t)wbi_get_u64(p),
                            .ts = wbi_get_f64(p + 8),
                            .flags = p[16],
                            .count = wbi_get_u16(p + 17),
                            .values = p + WBI_WIRE_ROW_HEADER,
                            .end = p + rec->len};
    if (row->step < 0 || (row->flags & ~WBI_WIRE_ROW_COMMIT))
        goto malformed;
    const uint8_t *cur = row->values;
    for (uint16_t i = 0; i < row->count; i++) {
        wbi_wire_value_t v;
        size_t n = s_value_decode(cur, row->end, &v);
        if (!n || !s_value_valid(cur, &v)) {
            bad = (size_t)(cur - rec->payload);
            goto malformed;
        }
        cur += n;
    }
    if (cur != row->end) {
        bad = (size_t)(cur - rec->payload);
        goto malformed;
    }
    return WANDB_OK;
malformed:
    if (bad_offset)
        *bad_offset = bad;
    return WANDB_EPROTO;
}

bool wbi_wire_row_next(const wbi_wire_row_t *row, const uint8_t **cursor, wbi_wire_value_t *v)
{
    if (*cursor >= row->end)
        return false;
    size_t n = s_value_decode(*cursor, row->end, v);
    if (!n)
        return false;
    *cursor += n;
    return true;
}

wandb_err wbi_wire_key_parse(const wbi_wire_record_t *rec, uint32_t *id, const char **key,
                             size_t *key_len)
{
    if (rec->type != WBI_REC_KEY || rec->len < 5 || rec->len > 4 + WBI_WIRE_KEY_MAX)
        return WANDB_EPROTO;
    uint32_t kid = wbi_get_u32(rec->payload);
    const char *k = (const char *)rec->payload + 4;
    size_t n = rec->len - 4;
    if (kid > WBI_WIRE_KEY_ID_MAX || !wbi_utf8_valid(k, n) || memchr(k, '\0', n))
        return WANDB_EPROTO;
    *id = kid;
    *key = k;
    *key_len = n;
    return WANDB_OK;
}

wandb_err wbi_wire_finish_parse(const wbi_wire_record_t *rec, int32_t *exit_code, uint64_t *dropped,
                                uint64_t *rejected)
{
    if (rec->type != WBI_REC_FINISH || rec->len != 20)
        return WANDB_EPROTO;
    *exit_code = (int32_t)wbi_get_u32(rec->payload);
    *dropped = wbi_get_u64(rec->payload + 4);
    *rejected = wbi_get_u64(rec->payload + 12);
    return WANDB_OK;
}
