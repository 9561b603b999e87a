//  media_png.c - a small PNG writer (stored deflate blocks) and header reader
//  SPDX-License-Identifier: MIT
//
//  Layout written (PNG spec, RFC 1950, RFC 1951): signature, IHDR (8-bit
//  depth, colour type 0/2/6, no interlace), one IDAT with the zlib stream
//  (header 0x78 0x01, stored blocks of at most 65535 bytes, Adler-32 of the
//  filtered rows), IEND. Every row starts with filter byte 0 (None).
//  Thread: any.
#include "logger/media_png.h"

#include "common/alloc.h"
#include <string.h>

#define S_STORED_MAX 65535u // bytes in one stored deflate block

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

uint32_t wbi_png_adler32(uint32_t adler, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (len > 0) {
        // 5552 bytes keep b below 2^32 before the modulo (zlib's NMAX).
        size_t n = len < 5552 ? len : 5552;
        len -= n;
        while (n--) {
            a += *p++;
            b += a;
        }
        a %= 65521u;
        b %= 65521u;
    }
    return b << 16 | a;
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

wandb_err wbi_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                         uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!pixels || width == 0 || height == 0 || width > INT32_MAX || height > INT32_MAX ||
        (channels != 1 && channels != 3 && channels != 4))
        return WANDB_EINVAL;
    uint64_t row = 1 + (uint64_t)width * (uint64_t)channels; // filter byte + samples
    uint64_t raw = row * height;
    if (raw > WBI_PNG_MAX)
        return WANDB_ETOOBIG;
    uint64_t blocks = (raw + S_STORED_MAX - 1) / S_STORED_MAX; // raw > 0
    uint64_t zlen = 2 + raw + 5 * blocks + 4;
    uint64_t total = 8 + (12 + 13) + (12 + zlen) + 12;
    if (total > WBI_PNG_MAX + 1024 * 1024)
        return WANDB_ETOOBIG;
    uint8_t *png = wbi_malloc((size_t)total);
    if (!png)
        return WANDB_ENOMEM;
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

    uint8_t *z = s_chunk_begin(chunk, "IDAT", (uint32_t)zlen);
    z[0] = 0x78; // deflate, 32 KiB window
    z[1] = 0x01; // no preset dictionary, fastest; (0x78 * 256 + 0x01) % 31 == 0
    uint8_t *w = z + 2;
    uint32_t adler = 1;
    // The filtered stream is row by row "0, samples"; blocks cut it anywhere.
    uint64_t left = raw; // bytes of it still to write
    uint32_t y = 0;      // row of pos
    uint64_t in_row = 0; // offset of pos inside its row
    do {
        uint32_t n = left > S_STORED_MAX ? S_STORED_MAX : (uint32_t)left;
        left -= n;
        w[0] = left == 0 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
        w[1] = (uint8_t)n;
        w[2] = (uint8_t)(n >> 8);
        w[3] = (uint8_t)~n;
        w[4] = (uint8_t)(~n >> 8);
        w += 5;
        uint8_t *block = w;
        for (uint32_t k = 0; k < n;) {
            if (in_row == 0) {
                *w++ = 0; // filter None
                k++;
                in_row = 1;
                continue;
            }
            uint64_t take = row - in_row;
            if (take > n - k)
                take = n - k;
            memcpy(w, pixels + (uint64_t)y * (row - 1) + (in_row - 1), (size_t)take);
            w += take;
            k += (uint32_t)take;
            in_row += take;
            if (in_row == row) {
                in_row = 0;
                y++;
            }
        }
        adler = wbi_png_adler32(adler, block, n);
    } while (left > 0);
    s_put32(w, adler);
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
