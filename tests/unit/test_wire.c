//  test_wire.c - the rank -> aggregator frame format: round trips and rejects
//  SPDX-License-Identifier: MIT
#include "common/wire.h"
#include "testutil.h"

#include <math.h>

// Builds a message holding one KEY and one ROW of three values.
static size_t s_build_message(uint8_t *msg, size_t cap)
{
    wbi_buf_t b;
    wbi_buf_init(&b, cap);
    uint8_t head[WBI_WIRE_HEADER_BYTES];
    wbi_wire_header_put(head, 7);
    CHECK_OK(wbi_buf_append(&b, head, sizeof head));
    CHECK_OK(wbi_wire_put_key(&b, 1, "loss", 4));
    const wandb_value_t v[] = {WANDB_DOUBLE("loss", NAN), WANDB_INT("epoch", -3),
                               WANDB_STRING("tag", "héllo")};
    uint8_t row[256];
    size_t n = WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER;
    n += wbi_wire_value_put(row + n, 1, &v[0], 0);
    n += wbi_wire_value_put(row + n, 2, &v[1], 0);
    n += wbi_wire_value_put(row + n, 3, &v[2], strlen(v[2].as.s));
    wbi_wire_record_put(row, WBI_REC_ROW, (uint32_t)(n - WBI_WIRE_RECORD_HEADER));
    wbi_wire_row_put(row + WBI_WIRE_RECORD_HEADER, 42, 1767225600.5, WBI_WIRE_ROW_COMMIT, 3);
    CHECK_OK(wbi_buf_append(&b, row, n));
    CHECK_OK(wbi_wire_put_finish(&b, 3, 5, 6));
    size_t len = b.len;
    memcpy(msg, b.data, len);
    wbi_buf_release(&b);
    return len;
}

// Normal use: encode a message, decode every record and value back.
static void test_round_trip(void)
{
    uint8_t msg[512];
    size_t len = s_build_message(msg, sizeof msg);
    wbi_wire_reader_t r;
    CHECK_OK(wbi_wire_reader_init(&r, msg, len));
    CHECK_EQ(r.seq, 7);

    wbi_wire_record_t rec;
    CHECK_OK(wbi_wire_next(&r, &rec));
    uint32_t id;
    const char *key;
    size_t klen;
    CHECK_OK(wbi_wire_key_parse(&rec, &id, &key, &klen));
    CHECK_EQ(id, 1);
    CHECK(klen == 4 && memcmp(key, "loss", 4) == 0);

    CHECK_OK(wbi_wire_next(&r, &rec));
    wbi_wire_row_t row;
    CHECK_OK(wbi_wire_row_parse(&rec, &row, NULL));
    CHECK_EQ(row.step, 42);
    CHECK(row.ts == 1767225600.5);
    CHECK_EQ(row.flags, WBI_WIRE_ROW_COMMIT);
    CHECK_EQ(row.count, 3);
    const uint8_t *cur = row.values;
    wbi_wire_value_t v;
    CHECK(wbi_wire_row_next(&row, &cur, &v));
    CHECK(v.type == WANDB_TYPE_DOUBLE && isnan(v.as.d) && v.key_id == 1);
    CHECK(wbi_wire_row_next(&row, &cur, &v));
    CHECK(v.type == WANDB_TYPE_INT && v.as.i == -3 && v.key_id == 2);
    CHECK(wbi_wire_row_next(&row, &cur, &v));
    CHECK(v.type == WANDB_TYPE_STRING && v.as.s.len == strlen("héllo"));
    CHECK(!wbi_wire_row_next(&row, &cur, &v));

    CHECK_OK(wbi_wire_next(&r, &rec));
    int32_t code;
    uint64_t dropped, rejected;
    CHECK_OK(wbi_wire_finish_parse(&rec, &code, &dropped, &rejected));
    CHECK(code == 3 && dropped == 5 && rejected == 6);
    CHECK_ERR(wbi_wire_next(&r, &rec), WANDB_ECLOSED);
}

// A 10-scalar row costs 14.4 bytes a point on the wire.
static void test_row_size(void)
{
    size_t n = WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER;
    for (int i = 0; i < 10; i++)
        n += wbi_wire_value_size(WANDB_TYPE_DOUBLE, 0);
    CHECK_EQ(n, 144);
}

// Headers that are short, foreign or from another version are rejected.
static void test_bad_header(void)
{
    wbi_wire_reader_t r;
    CHECK_ERR(wbi_wire_reader_init(&r, "WB", 2), WANDB_EPROTO);
    CHECK_ERR(wbi_wire_reader_init(&r, "XB\1\0\0\0\0\0", 8), WANDB_EPROTO);
    CHECK_ERR(wbi_wire_reader_init(&r, "WB\2\0\0\0\0\0", 8), WANDB_EPROTO);
    CHECK_EQ(r.pos, 2);
    CHECK_OK(wbi_wire_reader_init(&r, "WB\1\0\0\0\0\0", 8));
}

// Every truncation of a valid message fails cleanly, never reads past it.
static void test_truncations(void)
{
    uint8_t msg[512];
    size_t len = s_build_message(msg, sizeof msg);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); // exact size: ASan sees overreads
        memcpy(copy, msg, cut);
        wbi_wire_reader_t r;
        if (wbi_wire_reader_init(&r, copy, cut) == WANDB_OK) {
            wbi_wire_record_t rec;
            wandb_err rc;
            int records = 0;
            while ((rc = wbi_wire_next(&r, &rec)) == WANDB_OK) {
                wbi_wire_row_t row;
                if (rec.type == WBI_REC_ROW)
                    CHECK_OK(wbi_wire_row_parse(&rec, &row, NULL)); // whole records only
                records++;
            }
            CHECK(records < 3);
            CHECK(rc == WANDB_EPROTO || rc == WANDB_ECLOSED);
        }
        free(copy);
    }
}

// Rows with a bad bool byte, a negative step, unknown flags, a length that
// lies, an unknown type or invalid UTF-8 are rejected with an offset.
static void test_bad_rows(void)
{
    uint8_t p[64] = {0};
    wbi_wire_row_put(p, 1, 0.0, 0, 1);
    wbi_put_u32(p + 19, ((uint32_t)WANDB_TYPE_BOOL << 28) | 1);
    p[23] = 2;
    wbi_wire_record_t rec = {.type = WBI_REC_ROW, .payload = p, .len = 24};
    wbi_wire_row_t row;
    size_t bad = 99;
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, &bad), WANDB_EPROTO);
    CHECK_EQ(bad, 19);
    p[23] = 1;
    CHECK_OK(wbi_wire_row_parse(&rec, &row, NULL));
    rec.len = 25; // trailing garbage
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, &bad), WANDB_EPROTO);
    rec.len = 24;
    wbi_wire_row_put(p, -5, 0.0, 0, 1);
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);
    wbi_wire_row_put(p, 5, 0.0, 0x80, 1);
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);
    wbi_wire_row_put(p, 5, 0.0, 0, 1);
    wbi_put_u32(p + 19, (7u << 28) | 1); // unknown type
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);
    wbi_put_u32(p + 19, ((uint32_t)WANDB_TYPE_STRING << 28) | 1);
    wbi_put_u32(p + 23, 2);
    p[27] = (uint8_t)0xC3, p[28] = (uint8_t)0x28; // invalid UTF-8
    rec.len = 29;
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);
    wbi_put_u32(p + 23, 1000); // length past the record
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);

    uint8_t k[8] = {1, 0, 0, 0, 0xFF, 'a'};
    wbi_wire_record_t krec = {.type = WBI_REC_KEY, .payload = k, .len = 6};
    uint32_t id;
    const char *key;
    size_t klen;
    CHECK_ERR(wbi_wire_key_parse(&krec, &id, &key, &klen), WANDB_EPROTO);
    krec.len = 4;
    CHECK_ERR(wbi_wire_key_parse(&krec, &id, &key, &klen), WANDB_EPROTO);
}

// The inline KEY and FINISH encoders (used by the rank's ring) write the
// documented bytes, and the buffer encoders are built on them.
static void test_record_encoders(void)
{
    uint8_t key[WBI_WIRE_KEY_RECORD_MAX];
    const uint8_t want_key[] = {WBI_REC_KEY, 6, 0, 0, 0, 4, 3, 2, 1, 'a', 'b'};
    CHECK_EQ(wbi_wire_key_put(key, 0x01020304u, "ab", 2), sizeof want_key);
    CHECK(memcmp(key, want_key, sizeof want_key) == 0);
    uint8_t fin[WBI_WIRE_FINISH_RECORD];
    const uint8_t want_fin[] = {WBI_REC_FINISH,
                                20,
                                0,
                                0,
                                0,
                                0xFF,
                                0xFF,
                                0xFF,
                                0xFF,
                                5,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                6,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                1};
    CHECK_EQ(wbi_wire_finish_put(fin, -1, 5, 6 + (1ull << 56)), sizeof want_fin);
    CHECK(memcmp(fin, want_fin, sizeof want_fin) == 0);

    wbi_buf_t b;
    wbi_buf_init(&b, 1024);
    CHECK_OK(wbi_wire_put_key(&b, 0x01020304u, "ab", 2));
    CHECK_OK(wbi_wire_put_finish(&b, -1, 5, 6 + (1ull << 56)));
    CHECK_EQ(b.len, sizeof want_key + sizeof want_fin);
    CHECK(memcmp(b.data, want_key, sizeof want_key) == 0);
    CHECK(memcmp(b.data + sizeof want_key, want_fin, sizeof want_fin) == 0);
    CHECK_ERR(wbi_wire_put_key(&b, 1, "", 0), WANDB_EINVAL);
    CHECK_ERR(wbi_wire_put_key(&b, WBI_WIRE_KEY_ID_MAX + 1, "a", 1), WANDB_EINVAL);
    char long_key[WBI_WIRE_KEY_MAX + 1];
    memset(long_key, 'k', sizeof long_key);
    CHECK_ERR(wbi_wire_put_key(&b, 1, long_key, sizeof long_key), WANDB_EINVAL);
    CHECK_OK(wbi_wire_put_key(&b, 1, long_key, WBI_WIRE_KEY_MAX));
    CHECK_EQ(b.len, sizeof want_key + sizeof want_fin + WBI_WIRE_KEY_RECORD_MAX);
    wbi_buf_t tiny;
    wbi_buf_init(&tiny, 8); // too small: the buffer is left as it was
    CHECK(wbi_wire_put_finish(&tiny, 0, 0, 0) != WANDB_OK);
    CHECK_EQ(tiny.len, 0);
    wbi_buf_release(&tiny);
    wbi_buf_release(&b);
}

// wbi_wire_row_parse validates once; wbi_wire_row_next only decodes (it
// does not check UTF-8 or bool bytes again). Key ids are range-checked
// only: an id no KEY record interned still parses.
static void test_row_next_decodes_only(void)
{
    uint8_t p[64] = {0};
    wbi_wire_row_put(p, 1, 0.0, 0, 2);
    wbi_put_u32(p + 19, ((uint32_t)WANDB_TYPE_STRING << 28) | WBI_WIRE_KEY_ID_MAX);
    wbi_put_u32(p + 23, 2);
    p[27] = (uint8_t)0xC3, p[28] = (uint8_t)0xA9; // "é"
    wbi_put_u32(p + 29, ((uint32_t)WANDB_TYPE_BOOL << 28) | 7);
    p[33] = 1;
    wbi_wire_record_t rec = {.type = WBI_REC_ROW, .payload = p, .len = 34};
    wbi_wire_row_t row;
    CHECK_OK(wbi_wire_row_parse(&rec, &row, NULL));
    // Corrupt the bytes after parsing: row_next decodes what is there.
    p[28] = (uint8_t)0x28; // invalid UTF-8 now
    p[33] = 2;             // not a bool byte
    const uint8_t *cur = row.values;
    wbi_wire_value_t v;
    CHECK(wbi_wire_row_next(&row, &cur, &v));
    CHECK(v.type == WANDB_TYPE_STRING && v.key_id == WBI_WIRE_KEY_ID_MAX && v.as.s.len == 2);
    CHECK(wbi_wire_row_next(&row, &cur, &v));
    CHECK(v.type == WANDB_TYPE_BOOL && v.key_id == 7 && !v.as.b);
    CHECK(!wbi_wire_row_next(&row, &cur, &v));
    CHECK_ERR(wbi_wire_row_parse(&rec, &row, NULL), WANDB_EPROTO);
}

// Random bytes after a valid header: the decoder never crashes and every
// record it returns lies inside the message (a fixed-seed fuzz loop).
static void test_fuzz(void)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 8 + (size_t)(iter % 200);
        uint8_t *msg = malloc(len);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            msg[i] = (uint8_t)x;
        }
        wbi_wire_header_put(msg, 0);
        if (iter % 3 == 0 && len > 14) { // a plausible ROW header more often
            msg[8] = WBI_REC_ROW;
            wbi_put_u32(msg + 9, (uint32_t)(len - 13));
        }
        wbi_wire_reader_t r;
        CHECK_OK(wbi_wire_reader_init(&r, msg, len));
        wbi_wire_record_t rec;
        while (wbi_wire_next(&r, &rec) == WANDB_OK) {
            CHECK(rec.payload + rec.len <= msg + len);
            wbi_wire_row_t row;
            if (wbi_wire_row_parse(&rec, &row, NULL) == WANDB_OK) {
                const uint8_t *cur = row.values;
                wbi_wire_value_t v;
                int n = 0;
                while (wbi_wire_row_next(&row, &cur, &v))
                    n++;
                CHECK_EQ(n, row.count);
            }
        }
        free(msg);
    }
}

WBT_MAIN({"round_trip", test_round_trip}, {"row_size", test_row_size},
         {"bad_header", test_bad_header}, {"truncations", test_truncations},
         {"bad_rows", test_bad_rows}, {"record_encoders", test_record_encoders},
         {"row_next_decodes_only", test_row_next_decodes_only}, {"fuzz", test_fuzz})
