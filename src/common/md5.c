//  md5.c - MD5 (RFC 1321), streaming
//  SPDX-License-Identifier: MIT
//
//  The textbook algorithm: 64-byte blocks, four rounds of sixteen steps.

#include "common/md5.h"
#include "common/base64.h"

#include <string.h>

// Per-step left rotations and the sine-derived constants of RFC 1321.
static const unsigned char s_rot[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                        5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
static const uint32_t s_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

// Hashes one 64-byte block into the state.
static void s_block(uint32_t st[4], const unsigned char *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = a + f + s_k[i] + m[g];
        a = d;
        d = c;
        c = b;
        b = b + ((t << s_rot[i]) | (t >> (32 - s_rot[i])));
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void wbi_md5_init(wbi_md5_t *self)
{
    self->state[0] = 0x67452301;
    self->state[1] = 0xefcdab89;
    self->state[2] = 0x98badcfe;
    self->state[3] = 0x10325476;
    self->bytes = 0;
}

void wbi_md5_update(wbi_md5_t *self, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t have = (size_t)(self->bytes % 64);
    self->bytes += len;
    if (have > 0) {
        size_t take = 64 - have < len ? 64 - have : len;
        memcpy(self->buf + have, p, take);
        p += take;
        len -= take;
        if (have + take < 64)
            return;
        s_block(self->state, self->buf);
    }
    for (; len >= 64; p += 64, len -= 64)
        s_block(self->state, p);
    memcpy(self->buf, p, len);
}

void wbi_md5_final(wbi_md5_t *self, unsigned char out[WBI_MD5_LEN])
{
    uint64_t bits = self->bytes * 8;
    unsigned char pad[72] = {0x80};
    size_t have = (size_t)(self->bytes % 64);
    size_t padlen = have < 56 ? 56 - have : 120 - have;
    for (int i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (unsigned char)(bits >> (8 * i));
    wbi_md5_update(self, pad, padlen + 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(self->state[i] >> (8 * j));
}

void wbi_md5_hex(const unsigned char digest[WBI_MD5_LEN], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < WBI_MD5_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[32] = '\0';
}

void wbi_md5_final_b64(wbi_md5_t *self, char out[WBI_MD5_B64])
{
    unsigned char d[WBI_MD5_LEN];
    wbi_md5_final(self, d);
    wbi_b64_encode(out, d, sizeof d);
}

void wbi_md5_final_hex(wbi_md5_t *self, char out[WBI_MD5_HEX])
{
    unsigned char d[WBI_MD5_LEN];
    wbi_md5_final(self, d);
    wbi_md5_hex(d, out);
}
