//  media_deflate.c - a small zlib stream writer (fixed-Huffman deflate, LZ77)
//  SPDX-License-Identifier: MIT
//
//  One pass of greedy LZ77 (a 3-byte hash, chains of at most S_CHAIN
//  candidates, distances up to 32767) written with the fixed Huffman codes
//  of RFC 1951 3.2.6 into one final block. When that is not smaller than the
//  input in stored blocks (noise compresses badly: 9-bit literals), the
//  stream is written as stored blocks instead. Thread: any.
#include "logger/media_deflate.h"

#include "common/alloc.h"
#include <string.h>

#define S_HASH_BITS 15
#define S_WINDOW 32768u   // positions remembered (a power of two)
#define S_MAX_DIST 32767u // farthest match (below the window: chains stay valid)
#define S_MIN_MATCH 3
#define S_MAX_MATCH 258
#define S_CHAIN 32          // candidates tried per position
#define S_STORED_MAX 65535u // bytes in one stored block

static const uint16_t s_len_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                        15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                        67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t s_len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t s_dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t s_dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Bits written LSB first into a buffer sized for the worst case.
typedef struct {
    uint8_t *out;  // next byte to write
    uint64_t acc;  // pending bits
    unsigned bits; // how many
} s_bits_t;

static inline void s_put(s_bits_t *b, uint32_t value, unsigned n)
{
    b->acc |= (uint64_t)value << b->bits;
    b->bits += n;
    while (b->bits >= 8) {
        *b->out++ = (uint8_t)b->acc;
        b->acc >>= 8;
        b->bits -= 8;
    }
}

// A Huffman code of n bits, written most significant bit first.
static inline void s_put_code(s_bits_t *b, uint32_t code, unsigned n)
{
    uint32_t rev = 0;
    for (unsigned i = 0; i < n; i++)
        rev |= ((code >> i) & 1u) << (n - 1 - i);
    s_put(b, rev, n);
}

// A literal/length symbol (0..287) with its fixed code.
static void s_put_sym(s_bits_t *b, unsigned sym)
{
    if (sym < 144)
        s_put_code(b, 0x30 + sym, 8);
    else if (sym < 256)
        s_put_code(b, 0x190 + sym - 144, 9);
    else if (sym < 280)
        s_put_code(b, sym - 256, 7);
    else
        s_put_code(b, 0xC0 + sym - 280, 8);
}

// A match of len (3..258) at dist (1..32767).
static void s_put_match(s_bits_t *b, unsigned len, unsigned dist)
{
    unsigned l = 28;
    while (s_len_base[l] > len)
        l--;
    s_put_sym(b, 257 + l);
    s_put(b, len - s_len_base[l], s_len_extra[l]);
    unsigned d = 29;
    while (s_dist_base[d] > dist)
        d--;
    s_put_code(b, d, 5);
    s_put(b, dist - s_dist_base[d], s_dist_extra[d]);
}

static inline uint32_t s_hash(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - S_HASH_BITS);
}

// Writes the fixed-Huffman block of in; returns the end of what was written.
static uint8_t *s_fixed_block(const uint8_t *in, size_t len, uint8_t *out, int32_t *head,
                              int32_t *prev)
{
    s_bits_t b = {.out = out};
    s_put(&b, 1, 1); // BFINAL
    s_put(&b, 1, 2); // BTYPE 01: fixed Huffman
    for (size_t i = 0; i < ((size_t)1 << S_HASH_BITS); i++)
        head[i] = -1;
    size_t i = 0;
    while (i < len) {
        unsigned best = 0, best_dist = 0;
        if (i + S_MIN_MATCH <= len) {
            uint32_t h = s_hash(in + i);
            int64_t cand = head[h];
            size_t max = len - i < S_MAX_MATCH ? len - i : S_MAX_MATCH;
            for (int chain = 0; cand >= 0 && i - (size_t)cand <= S_MAX_DIST && chain < S_CHAIN;
                 chain++) {
                const uint8_t *p = in + cand, *q = in + i;
                size_t l = 0;
                while (l < max && p[l] == q[l])
                    l++;
                if (l > best) {
                    best = (unsigned)l;
                    best_dist = (unsigned)(i - (size_t)cand);
                    if (l == max)
                        break;
                }
                int64_t next = prev[cand & (S_WINDOW - 1)];
                if (next >= cand)
                    break; // an overwritten slot: the chain ends
                cand = next;
            }
            prev[i & (S_WINDOW - 1)] = head[h];
            head[h] = (int32_t)i;
        }
        if (best < S_MIN_MATCH) {
            s_put_sym(&b, in[i]);
            i++;
            continue;
        }
        s_put_match(&b, best, best_dist);
        // Remember the positions the match covers, for later matches.
        for (size_t k = i + 1; k < i + best && k + S_MIN_MATCH <= len; k++) {
            uint32_t h = s_hash(in + k);
            prev[k & (S_WINDOW - 1)] = head[h];
            head[h] = (int32_t)k;
        }
        i += best;
    }
    s_put_sym(&b, 256); // end of block
    if (b.bits)
        s_put(&b, 0, 8 - b.bits);
    return b.out;
}

// Writes in as stored blocks; returns the end of what was written.
static uint8_t *s_stored_blocks(const uint8_t *in, size_t len, uint8_t *w)
{
    size_t left = len;
    do {
        uint32_t n = left > S_STORED_MAX ? S_STORED_MAX : (uint32_t)left;
        left -= n;
        w[0] = left == 0 ? 1 : 0; // BFINAL, BTYPE 00
        w[1] = (uint8_t)n;
        w[2] = (uint8_t)(n >> 8);
        w[3] = (uint8_t)~n;
        w[4] = (uint8_t)(~n >> 8);
        memcpy(w + 5, in, n);
        in += n;
        w += 5 + n;
    } while (left > 0);
    return w;
}

uint32_t wbi_adler32(uint32_t adler, const void *data, size_t len)
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

wandb_err wbi_zlib_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t stored = 5 * (len / S_STORED_MAX + 1) + len;
    size_t fixed = len + len / 8 + 16; // at most 9 bits a byte, plus the block's frame
    size_t cap = 2 + (fixed > stored ? fixed : stored) + 4;
    uint8_t *z = wbi_malloc(cap);
    int32_t *head = wbi_malloc(sizeof(int32_t) << S_HASH_BITS);
    int32_t *prev = wbi_malloc(sizeof(int32_t) * S_WINDOW);
    if (!z || !head || !prev) {
        wbi_free(z);
        wbi_free(head);
        wbi_free(prev);
        return WANDB_ENOMEM;
    }
    z[0] = 0x78; // deflate, 32 KiB window
    z[1] = 0x01; // (0x78 * 256 + 0x01) % 31 == 0
    uint8_t *end = s_fixed_block(in, len, z + 2, head, prev);
    if ((size_t)(end - (z + 2)) >= stored)
        end = s_stored_blocks(in, len, z + 2);
    wbi_free(head);
    wbi_free(prev);
    uint32_t adler = wbi_adler32(1, in, len);
    end[0] = (uint8_t)(adler >> 24);
    end[1] = (uint8_t)(adler >> 16);
    end[2] = (uint8_t)(adler >> 8);
    end[3] = (uint8_t)adler;
    *out = z;
    *out_len = (size_t)(end + 4 - z);
    return WANDB_OK;
}
