//  test_media_png.c - the PNG writer, the zlib writer, CRC-32, Adler-32 and
//  SHA-256 of the media files
//  SPDX-License-Identifier: MIT
//
//  No run, no thread: each case encodes and decodes what it made with the
//  test's own inflater (stored and fixed-Huffman blocks) and unfilter (the
//  five PNG filters), checking every CRC and the Adler-32.
#include "common/alloc.h"
#include "logger/media_deflate.h"
#include "logger/media_png.h"
#include "logger/media_sha256.h"
#include "testutil.h"

#include <stdlib.h>

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// A bit reader over a deflate stream (LSB first), for the test's inflater.
typedef struct {
    const uint8_t *p; // the stream
    size_t len;       // its bytes
    size_t bit;       // next bit
} s_in_t;

static uint32_t s_bits(s_in_t *in, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++, in->bit++) {
        CHECK(in->bit / 8 < in->len);
        v |= (uint32_t)((in->p[in->bit / 8] >> (in->bit % 8)) & 1) << i;
    }
    return v;
}

// Reads one fixed-Huffman literal/length symbol (codes MSB first).
static unsigned s_fixed_sym(s_in_t *in)
{
    uint32_t c = 0;
    for (unsigned n = 1; n <= 9; n++) {
        c = c << 1 | s_bits(in, 1);
        if (n == 7 && c <= 0x17)
            return 256 + c;
        if (n == 8 && c >= 0x30 && c <= 0xBF)
            return c - 0x30;
        if (n == 8 && c >= 0xC0 && c <= 0xC7)
            return 280 + (c - 0xC0);
        if (n == 9 && c >= 0x190)
            return 144 + (c - 0x190);
    }
    WBT_FAIL("bad fixed Huffman code %x", c);
}

// Inflates the stored and fixed-Huffman blocks of a zlib stream (what
// wbi_zlib_compress writes) into out (cap bytes); returns the length and
// checks the header and the Adler-32.
static size_t s_inflate(const uint8_t *z, size_t zlen, uint8_t *out, size_t cap)
{
    static const uint16_t lbase[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                       15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                       67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const uint8_t lextra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const uint16_t dbase[30] = {
        1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
        193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static const uint8_t dextra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    CHECK(zlen >= 6);
    CHECK_EQ((z[0] * 256 + z[1]) % 31, 0);
    CHECK_EQ(z[0] & 0x0f, 8); // deflate
    s_in_t in = {.p = z + 2, .len = zlen - 6};
    size_t got = 0;
    bool final = false;
    while (!final) {
        final = s_bits(&in, 1);
        uint32_t type = s_bits(&in, 2);
        if (type == 0) {
            in.bit = (in.bit + 7) / 8 * 8;
            uint32_t n = s_bits(&in, 16), nn = s_bits(&in, 16);
            CHECK_EQ(n ^ 0xffffu, nn);
            CHECK(got + n <= cap && in.bit / 8 + n <= in.len);
            memcpy(out + got, in.p + in.bit / 8, n);
            in.bit += 8 * (size_t)n;
            got += n;
            continue;
        }
        CHECK_EQ(type, 1); // fixed Huffman
        for (;;) {
            unsigned sym = s_fixed_sym(&in);
            if (sym < 256) {
                CHECK(got < cap);
                out[got++] = (uint8_t)sym;
                continue;
            }
            if (sym == 256)
                break;
            CHECK(sym <= 285);
            unsigned len = lbase[sym - 257] + s_bits(&in, lextra[sym - 257]);
            uint32_t dc = 0;
            for (int i = 0; i < 5; i++)
                dc = dc << 1 | s_bits(&in, 1);
            CHECK(dc < 30);
            unsigned dist = dbase[dc] + s_bits(&in, dextra[dc]);
            CHECK(dist <= got && got + len <= cap);
            for (unsigned k = 0; k < len; k++, got++)
                out[got] = out[got - dist];
        }
    }
    CHECK_EQ((in.bit + 7) / 8, in.len); // the Adler-32 follows at once
    CHECK_EQ(wbi_adler32(1, out, got), s_be32(z + zlen - 4));
    return got;
}

// Decodes a PNG made by wbi_png_encode, checking every CRC, the zlib stream
// and the filters. Returns the pixels (malloc) and their layout.
static uint8_t *s_decode(const uint8_t *png, size_t len, uint32_t *w, uint32_t *h, int *channels)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(len > 8 && memcmp(png, sig, 8) == 0);
    size_t pos = 8;
    uint8_t *z = NULL;
    size_t zlen = 0;
    bool end = false;
    int ctype = -1;
    while (!end) {
        CHECK(pos + 12 <= len);
        uint32_t n = s_be32(png + pos);
        CHECK(pos + 12 + n <= len);
        const uint8_t *type = png + pos + 4;
        CHECK_EQ(wbi_png_crc32(0, type, 4 + (size_t)n), s_be32(png + pos + 8 + n));
        const uint8_t *d = png + pos + 8;
        if (memcmp(type, "IHDR", 4) == 0) {
            CHECK_EQ(n, 13);
            *w = s_be32(d);
            *h = s_be32(d + 4);
            CHECK_EQ(d[8], 8);
            ctype = d[9];
        } else if (memcmp(type, "IDAT", 4) == 0) {
            z = realloc(z, zlen + n);
            CHECK(z != NULL);
            memcpy(z + zlen, d, n);
            zlen += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            end = true;
        }
        pos += 12 + n;
    }
    CHECK_EQ(pos, len);
    *channels = ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 6 ? 4 : 0;
    CHECK(*channels > 0);
    size_t bpp = (size_t)*channels;
    size_t stride = (size_t)*w * bpp;
    size_t row = 1 + stride;
    uint8_t *raw = malloc(row * *h);
    CHECK(raw != NULL);
    CHECK_EQ(s_inflate(z, zlen, raw, row * *h), row * *h);
    uint8_t *px = malloc(stride * *h);
    CHECK(px != NULL);
    for (uint32_t y = 0; y < *h; y++) {
        int f = raw[y * row];
        CHECK(f >= 0 && f <= 4);
        uint8_t *cur = px + y * stride;
        const uint8_t *up = y ? cur - stride : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= bpp ? cur[i - bpp] : 0;
            int b = up ? up[i] : 0;
            int c = up && i >= bpp ? up[i - bpp] : 0;
            int p = a + b - c;
            int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
            int pred = f == 0   ? 0
                       : f == 1 ? a
                       : f == 2 ? b
                       : f == 3 ? (a + b) / 2
                                : (pa <= pb && pa <= pc ? a
                                   : pb <= pc           ? b
                                                        : c);
            cur[i] = (uint8_t)(raw[y * row + 1 + i] + pred);
        }
    }
    free(raw);
    free(z);
    return px;
}

// Pixel patterns of the round trips.
enum { S_SMOOTH, S_NOISE, S_FLAT };

// Encodes w x h x c pixels of a pattern, decodes them back and compares;
// returns the PNG's size.
static size_t s_roundtrip(uint32_t w, uint32_t h, int c, int pattern)
{
    size_t n = (size_t)w * h * (size_t)c;
    uint8_t *px = malloc(n);
    CHECK(px != NULL);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t col = i % ((size_t)w * (size_t)c), row = i / ((size_t)w * (size_t)c);
        px[i] = pattern == S_NOISE    ? (uint8_t)(x >> 24)
                : pattern == S_SMOOTH ? (uint8_t)(col / 3 + row * 2)
                                      : 77;
    }
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_OK(wbi_png_encode(px, w, h, c, &png, &len));
    uint32_t dw = 0, dh = 0, iw = 0, ih = 0;
    int dc = 0;
    CHECK_OK(wbi_png_info(png, len, &iw, &ih));
    CHECK_EQ(iw, w);
    CHECK_EQ(ih, h);
    uint8_t *back = s_decode(png, len, &dw, &dh, &dc);
    CHECK_EQ(dw, w);
    CHECK_EQ(dh, h);
    CHECK_EQ(dc, c);
    CHECK(memcmp(back, px, n) == 0);
    free(back);
    free(px);
    wbi_free(png);
    return len;
}

// Grey, RGB and RGBA of several shapes and contents: smooth images shrink,
// noise falls back to stored blocks (several of them for large images) and
// grows only by the frame.
static void test_png_roundtrip(void)
{
    s_roundtrip(1, 1, 1, S_SMOOTH);
    s_roundtrip(3, 2, 3, S_NOISE);
    s_roundtrip(16, 16, 4, S_FLAT);
    size_t smooth = s_roundtrip(300, 200, 3, S_SMOOTH);
    CHECK(smooth < 300 * 200 * 3 / 4);
    size_t noise = s_roundtrip(300, 200, 3, S_NOISE); // 180 KB: three stored blocks
    CHECK(noise > 300 * 200 * 3 && noise < 300 * 200 * 3 + 300);
    size_t flat = s_roundtrip(512, 512, 4, S_FLAT);
    CHECK(flat < 512 * 512 * 4 / 50);
    s_roundtrip(65534, 1, 1, S_NOISE);  // one row of exactly 65535 filtered bytes
    s_roundtrip(1, 70000, 1, S_SMOOTH); // many tiny rows
}

// The zlib writer alone on inputs that exercise the LZ77 corners: empty,
// runs (distance 1, length 258), a pattern repeating beyond 258 bytes and
// far back in the window, text, noise.
static void test_deflate(void)
{
    size_t n = 200000;
    uint8_t *in = malloc(n);
    uint8_t *back = malloc(n);
    CHECK(in && back);
    for (int kind = 0; kind < 5; kind++) {
        size_t len = kind == 0 ? 0 : n;
        uint32_t x = 88172645u;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            in[i] = kind == 1   ? 0
                    : kind == 2 ? (uint8_t)(i % 1000 < 500 ? (i * 7) % 251 : x >> 24)
                    : kind == 3 ? (uint8_t) "the quick brown fox jumps over the lazy dog "[i % 44]
                                : (uint8_t)(x >> 24);
        }
        uint8_t *z = NULL;
        size_t zlen = 0;
        CHECK_OK(wbi_zlib_compress(in, len, &z, &zlen));
        CHECK_EQ(s_inflate(z, zlen, back, n), len);
        CHECK(memcmp(back, in, len) == 0);
        if (kind == 1 || kind == 3)
            CHECK(zlen < len / 20);
        wbi_free(z);
    }
    free(in);
    free(back);
}

// The CRC-32 and Adler-32 check values, in one piece and continued.
static void test_checksums(void)
{
    CHECK_EQ(wbi_png_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(wbi_png_crc32(wbi_png_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    CHECK_EQ(wbi_adler32(1, "Wikipedia", 9), 0x11E60398u);
    CHECK_EQ(wbi_adler32(1, "", 0), 1u);
    uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = 0xff;
    // Adler-32 of 100000 bytes 0xff: a = 1 + 100000*255 mod 65521, b = sum of a's.
    uint64_t a = 1, b = 0;
    for (size_t i = 0; i < sizeof big; i++) {
        a = (a + 0xff) % 65521;
        b = (b + a) % 65521;
    }
    CHECK_EQ(wbi_adler32(1, big, sizeof big), (uint32_t)(b << 16 | a));
}

// Bad arguments and bad PNG headers are refused.
static void test_png_errors(void)
{
    uint8_t px[12] = {0};
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_ERR(wbi_png_encode(px, 2, 2, 2, &png, &len), WANDB_EINVAL);
    CHECK_ERR(wbi_png_encode(px, 0, 2, 3, &png, &len), WANDB_EINVAL);
    CHECK_ERR(wbi_png_encode(NULL, 2, 2, 3, &png, &len), WANDB_EINVAL);
    CHECK_ERR(wbi_png_encode(px, 8192, 8192, 4, &png, &len), WANDB_ETOOBIG);
    CHECK(png == NULL);
    CHECK_OK(wbi_png_encode(px, 2, 2, 3, &png, &len));
    uint32_t w, h;
    CHECK_ERR(wbi_png_info(png, 20, &w, &h), WANDB_EINVAL);
    png[20] ^= 1; // width byte: the IHDR CRC no longer matches
    CHECK_ERR(wbi_png_info(png, len, &w, &h), WANDB_EINVAL);
    png[20] ^= 1;
    png[0] = 0;
    CHECK_ERR(wbi_png_info(png, len, &w, &h), WANDB_EINVAL);
    wbi_free(png);
}

// FIPS 180-4 test vectors, including the two-block padding cases.
static void test_sha256(void)
{
    char hex[65];
    wbi_sha256_hex("", 0, hex);
    CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    wbi_sha256_hex("abc", 3, hex);
    CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    wbi_sha256_hex(m, strlen(m), hex);
    CHECK_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char mil[1000];
    memset(mil, 'a', sizeof mil);
    // 55, 56 and 64 bytes: the length fits, just misses, and a full block.
    wbi_sha256_hex(mil, 55, hex);
    CHECK_STREQ(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    wbi_sha256_hex(mil, 56, hex);
    CHECK_STREQ(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    wbi_sha256_hex(mil, 64, hex);
    CHECK_STREQ(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

WBT_MAIN({"png_roundtrip", test_png_roundtrip}, {"deflate", test_deflate},
         {"checksums", test_checksums}, {"png_errors", test_png_errors}, {"sha256", test_sha256})
