//  bench_feed.c - replayed rank traffic for the aggregator benchmarks (B4)
//  SPDX-License-Identifier: MIT
#include "bench_feed.h"
#include "common/buf.h"
#include "common/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char bf_names[BF_KEYS][16];

// The value of key k at step of rank r (bench_feed.h).
double bf_value(int r, int64_t step, int k)
{
    uint64_t x =
        (uint64_t)step * 0x9E3779B97F4A7C15ull ^ (uint64_t)(r * 131 + k) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    double u = (double)(x >> 11) / 9007199254740992.0;
    switch (k % 3) {
    case 0:
        return 2.5 * exp(-(double)step / 2000.0) + 0.05 * u;
    case 1:
        return u;
    default:
        return 1e-3 * (1.0 + u);
    }
}

// Appends bytes to the feed buffer.
static void s_feed_put(bf_feed_t *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap * 2 : ((size_t)16 << 20);
        while (cap < f->len + n)
            cap *= 2;
        f->data = realloc(f->data, cap);
        if (!f->data)
            abort();
        f->cap = cap;
    }
    memcpy(f->data + f->len, p, n);
    f->len += n;
}

// Encodes N ranks x rows_per_rank rows, rows_per_msg rows a message.
void bf_feed_build(bf_feed_t *f, int nranks, int64_t rows_per_rank, int rows_per_msg)
{
    for (int k = 0; k < BF_KEYS; k++)
        snprintf(bf_names[k], sizeof bf_names[k], "train/m%d", k);
    memset(f, 0, sizeof *f);
    f->hello = calloc((size_t)nranks, sizeof(bf_msg_t));
    size_t per_rank = (size_t)((rows_per_rank + rows_per_msg - 1) / rows_per_msg);
    f->rows = calloc(per_rank * (size_t)nranks, sizeof(bf_msg_t));
    wbi_buf_t b;
    wbi_buf_init(&b, (size_t)1 << 30);
    uint8_t hdr[WBI_WIRE_HEADER_BYTES];
    for (int r = 0; r < nranks; r++) {
        wbi_buf_reset(&b);
        wbi_wire_header_put(hdr, 0);
        wbi_buf_append(&b, hdr, sizeof hdr);
        char hello[256];
        int n = snprintf(hello, sizeof hello,
                         "{\"run_id\":\"bench-%d\",\"project\":\"bench\",\"group\":\"g\","
                         "\"rank\":%d,\"world_size\":%d,\"start_time\":%.3f,\"config\":{}}",
                         r, r, nranks, BF_T0);
        wbi_wire_put(&b, WBI_REC_HELLO, hello, (size_t)n);
        for (int k = 0; k < BF_KEYS; k++)
            wbi_wire_put_key(&b, (uint32_t)k + 1, bf_names[k], strlen(bf_names[k]));
        f->hello[r] = (bf_msg_t){(uint32_t)r, f->len, (uint32_t)b.len, -1};
        s_feed_put(f, b.data, b.len);
    }
    // Round-robin: message m of every rank, then message m + 1.
    uint8_t row[WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER + BF_KEYS * 12];
    for (size_t m = 0; m < per_rank; m++) {
        for (int r = 0; r < nranks; r++) {
            wbi_buf_reset(&b);
            int64_t last_step = -1;
            wbi_wire_header_put(hdr, (uint32_t)m + 1);
            wbi_buf_append(&b, hdr, sizeof hdr);
            for (int64_t i = 0; i < rows_per_msg; i++) {
                int64_t step = (int64_t)m * rows_per_msg + i;
                if (step >= rows_per_rank)
                    break;
                wbi_wire_record_put(row, WBI_REC_ROW, WBI_WIRE_ROW_HEADER + BF_KEYS * 12);
                wbi_wire_row_put(row + WBI_WIRE_RECORD_HEADER, step,
                                 BF_T0 + 1.0 + (double)step * 0.01, WBI_WIRE_ROW_COMMIT, BF_KEYS);
                uint8_t *p = row + WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER;
                for (int k = 0; k < BF_KEYS; k++) {
                    wandb_value_t v = WANDB_DOUBLE(bf_names[k], bf_value(r, step, k));
                    p += wbi_wire_value_put(p, (uint32_t)k + 1, &v, 0);
                }
                wbi_buf_append(&b, row, sizeof row);
                last_step = step;
                f->points += BF_KEYS;
                f->lines++;
            }
            f->rows[f->nrows_msgs++] = (bf_msg_t){(uint32_t)r, f->len, (uint32_t)b.len, last_step};
            s_feed_put(f, b.data, b.len);
        }
    }
    wbi_buf_release(&b);
}

// Frees the feed.
void bf_feed_free(bf_feed_t *f)
{
    free(f->data);
    free(f->hello);
    free(f->rows);
    memset(f, 0, sizeof *f);
}
