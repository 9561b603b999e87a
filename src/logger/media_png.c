//  media_png.c - a small PNG writer (stored deflate blocks) and header reader
//  SPDX-License-Identifier: MIT
//
//  Layout written (PNG spec): signature, IHDR (8-bit depth, colour type
//  0/2/6, no interlace), one IDAT with the zlib stream of the filtered rows
//  (media_deflate.c), IEND. Each row gets the filter (None, Sub, Up,
//  Average, Paeth) whose output has the smallest sum of absolute values,
//  libpng's heuristic.
//  Thread: any.
#include "logger/media_png.h"

#include "common/alloc.h"
#include "logger/media_deflate.h"
#include <string.h>

static const uint8_t s_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
// PNG colour type by channel count: 0 grey, 2 RGB, 6 RGBA.
static const uint8_t s_colour[5] = {0, 0, 0, 2, 6};

// Fills t with the CRC-32 table (reflected polynomial 0xEDB88320).
static void s_crc_table(uint32_t t[256])
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
}

// CRC-32 with a table the caller filled.
static uint32_t s_crc(const uint32_t t[256], uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t wbi_png_crc32(uint32_t crc, const void *data, size_t len)
{
    uint32_t t[256];
    s_crc_table(t);
    return s_crc(t, crc, data, len);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Writes a chunk's length and type at p; its data follows at p + 8. Returns
// the data pointer.
static uint8_t *s_chunk_begin(uint8_t *p, const char type[4], uint32_t len)
{
    s_put32(p, len);
    memcpy(p + 4, type, 4);
    return p + 8;
}

// Writes the CRC of the chunk that starts at chunk (type and data) after
// its data; returns the end of the chunk.
static uint8_t *s_chunk_end(const uint32_t t[256], uint8_t *chunk, uint32_t len)
{
    uint32_t crc = s_crc(t, 0, chunk + 4, 4 + (size_t)len);
    s_put32(chunk + 8 + len, crc);
    return chunk + 12 + len;
}

// Filters one row of n bytes (bpp bytes a pixel) with the filter of PNG
// type t into out; prev is the row above (zeros for the first).
static void s_filter(int t, const uint8_t *row, const uint8_t *prev, size_t n, size_t bpp,
                     uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int a = i >= bpp ? row[i - bpp] : 0;
        int b = prev[i];
        int c = i >= bpp ? prev[i - bpp] : 0;
        int pred = 0;
        if (t == 1) {
            pred = a;
        } else if (t == 2) {
            pred = b;
        } else if (t == 3) {
            pred = (a + b) / 2;
        } else if (t == 4) {
            int p = a + b - c;
            int pa = p > a ? p - a : a - p, pb = p > b ? p - b : b - p, pc = p > c ? p - c : c - p;
            pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        out[i] = (uint8_t)(row[i] - pred);
    }
}

// The sum of the filtered bytes taken as signed: libpng's heuristic for
// the filter that compresses best.
static uint64_t s_cost(const uint8_t *f, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += f[i] < 128 ? f[i] : 256u - f[i];
    return sum;
}

wandb_err wbi_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                         uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!pixels || width == 0 || height == 0 || width > INT32_MAX || height > INT32_MAX ||
        (channels != 1 && channels != 3 && channels != 4))
        return WANDB_EINVAL;
    size_t stride = (size_t)width * (size_t)channels;
    uint64_t raw = (uint64_t)(stride + 1) * height; // a filter byte a row
    if (raw > WBI_PNG_MAX)
        return WANDB_ETOOBIG;
    uint8_t *filtered = wbi_malloc((size_t)raw);
    uint8_t *scratch = wbi_malloc(5 * stride);
    uint8_t *zero = wbi_calloc(1, stride);
    wandb_err rc = filtered && scratch && zero ? WANDB_OK : WANDB_ENOMEM;
    for (uint32_t y = 0; rc == WANDB_OK && y < height; y++) {
        const uint8_t *row = pixels + (size_t)y * stride;
        const uint8_t *prev = y ? row - stride : zero;
        int best = 0;
        uint64_t best_cost = UINT64_MAX;
        for (int t = 0; t < 5; t++) {
            s_filter(t, row, prev, stride, (size_t)channels, scratch + (size_t)t * stride);
            uint64_t cost = s_cost(scratch + (size_t)t * stride, stride);
            if (cost < best_cost) {
                best_cost = cost;
                best = t;
            }
        }
        uint8_t *dst = filtered + (size_t)y * (stride + 1);
        dst[0] = (uint8_t)best;
        memcpy(dst + 1, scratch + (size_t)best * stride, stride);
    }
    wbi_free(scratch);
    wbi_free(zero);
    uint8_t *z = NULL;
    size_t zlen = 0;
    if (rc == WANDB_OK)
        rc = wbi_zlib_compress(filtered, (size_t)raw, &z, &zlen);
    wbi_free(filtered);
    if (rc != WANDB_OK)
        return rc;
    size_t total = 8 + (12 + 13) + (12 + zlen) + 12;
    uint8_t *png = total <= WBI_PNG_MAX ? wbi_malloc(total) : NULL;
    if (!png) {
        wbi_free(z);
        return total <= WBI_PNG_MAX ? WANDB_ENOMEM : WANDB_ETOOBIG;
    }
    uint32_t t[256];
    s_crc_table(t);
    memcpy(png, s_signature, 8);
    uint8_t *chunk = png + 8;
    uint8_t *d = s_chunk_begin(chunk, "IHDR", 13);
    s_put32(d, width);
    s_put32(d + 4, height);
    d[8] = 8;                  // bit depth
    d[9] = s_colour[channels]; // 0 grey, 2 RGB, 6 RGBA
    d[10] = d[11] = d[12] = 0; // deflate, adaptive filtering, no interlace
    chunk = s_chunk_end(t, chunk, 13);
    memcpy(s_chunk_begin(chunk, "IDAT", (uint32_t)zlen), z, zlen);
    wbi_free(z);
    chunk = s_chunk_end(t, chunk, (uint32_t)zlen);
    s_chunk_begin(chunk, "IEND", 0);
    chunk = s_chunk_end(t, chunk, 0);
    *out = png;
    *len = (size_t)(chunk - png);
    return WANDB_OK;
}

wandb_err wbi_png_info(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height)
{
    if (!data || len < 8 + 12 + 13 || memcmp(data, s_signature, 8) != 0)
        return WANDB_EINVAL;
    const uint8_t *c = data + 8;
    if (s_get32(c) != 13 || memcmp(c + 4, "IHDR", 4) != 0)
        return WANDB_EINVAL;
    if (wbi_png_crc32(0, c + 4, 17) != s_get32(c + 8 + 13))
        return WANDB_EINVAL;
    uint32_t w = s_get32(c + 8), h = s_get32(c + 12);
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX)
        return WANDB_EINVAL;
    *width = w;
    *height = h;
    return WANDB_OK;
}
