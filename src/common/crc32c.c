//  crc32c.c - CRC-32C (Castagnoli), the checksum of journal records
//  SPDX-License-Identifier: MIT
#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <wmmintrin.h>
#define S_HAVE_SSE42 1
#endif

// s_table[i]: the CRC register after shifting byte i through it (reflected 0x82F63B78).
static const uint32_t s_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

// Byte-at-a-time update of the raw (not inverted) register.
static uint32_t s_update_sw(uint32_t reg, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        reg = s_table[(reg ^ p[i]) & 0xffu] ^ (reg >> 8);
    return reg;
}

// Table version: continues crc over data[0..len).
uint32_t wbi_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    return ~s_update_sw(~crc, data, len);
}

#ifdef S_HAVE_SSE42
#define S_LONG 1024 // bytes of each of the three streams of a long round
#define S_MID 256   // longest stream of the other rounds (a multiple of 8)

// Constants K with crc32q(0, clmul(reg, K)) == the register after n zero bytes, for
// n = S_LONG and 2 * S_LONG, then for n = 8i and 16i (i = 1 .. S_MID / 8). test_journal
// checks every length up to 1024 and more against the table code.
#define S_K_LONG1 0x170076faull
#define S_K_LONG2 0xa51b6135ull
static const uint32_t s_k[S_MID / 8][2] = {
    {0x00000001, 0x493c7d27}, // 8 bytes
    {0x493c7d27, 0xba4fc28e}, // 16 bytes
    {0xf20c0dfe, 0xddc0152b}, // 24 bytes
    {0xba4fc28e, 0x9e4addf8}, // 32 bytes
    {0x3da6d0cb, 0x39d3b296}, // 40 bytes
    {0xddc0152b, 0x0715ce53}, // 48 bytes
    {0x1c291d04, 0x47db8317}, // 56 bytes
    {0x9e4addf8, 0x0d3b6092}, // 64 bytes
    {0x740eef02, 0xc96cfdc0}, // 72 bytes
    {0x39d3b296, 0x878a92a7}, // 80 bytes
    {0x083a6eec, 0xdaece73e}, // 88 bytes
    {0x0715ce53, 0xab7aff2a}, // 96 bytes
    {0xc49f4f67, 0x2162d385}, // 104 bytes
    {0x47db8317, 0x83348832}, // 112 bytes
    {0x2ad91c30, 0x299847d5}, // 120 bytes
    {0x0d3b6092, 0xb9e02b86}, // 128 bytes
    {0x6992cea2, 0x18b33a4e}, // 136 bytes
    {0xc96cfdc0, 0xb6dd949b}, // 144 bytes
    {0x7e908048, 0x78d9ccb7}, // 152 bytes
    {0x878a92a7, 0xbac2fd7b}, // 160 bytes
    {0x1b3d8f29, 0xa60ce07b}, // 168 bytes
    {0xdaece73e, 0xce7f39f4}, // 176 bytes
    {0xf1d0f55e, 0x61d82e56}, // 184 bytes
    {0xab7aff2a, 0xd270f1a2}, // 192 bytes
    {0xa87ab8a8, 0xc619809d}, // 200 bytes
    {0x2162d385, 0x2b3cac5d}, // 208 bytes
    {0x8462d800, 0x65863b64}, // 216 bytes
    {0x83348832, 0x1b03397f}, // 224 bytes
    {0x71d111a8, 0xebb883bd}, // 232 bytes
    {0x299847d5, 0xb3e32c28}, // 240 bytes
    {0xffd852c6, 0x064f7f26}, // 248 bytes
    {0xb9e02b86, 0xdd7e3b0c}, // 256 bytes
};

// Loads 8 bytes from any alignment.
static inline uint64_t s_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

// Eight bytes an instruction, then four, two and one.
__attribute__((target("sse4.2"))) static uint32_t s_update_hw(uint32_t reg, const uint8_t *p,
                                                              size_t len)
{
    uint64_t r = reg;
    for (; len >= 8; p += 8, len -= 8)
        r = _mm_crc32_u64(r, s_load64(p));
    uint32_t r32 = (uint32_t)r;
    if (len >= 4) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        r32 = _mm_crc32_u32(r32, v);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        r32 = _mm_crc32_u16(r32, v);
        p += 2;
        len -= 2;
    }
    if (len > 0)
        r32 = _mm_crc32_u8(r32, *p);
    return r32;
}

// Advances reg over n zero bytes, n being the distance K was made for.
__attribute__((target("sse4.2,pclmul"))) static inline uint32_t s_shift(uint32_t reg, uint64_t k)
{
    __m128i t =
        _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)reg), _mm_cvtsi64_si128((long long)k), 0x00);
    return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(t));
}

// One round of three independent streams of blk bytes (the instruction has a latency of
// three cycles and a throughput of one), joined by shifting the first two over what
// follows them: k1 shifts over blk bytes, k2 over 2 * blk.
__attribute__((target("sse4.2,pclmul"))) static inline uint32_t
s_round(uint32_t reg, const uint8_t *p, size_t blk, uint64_t k1, uint64_t k2)
{
    uint64_t c0 = reg;
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < blk; i += 8) {
        c0 = _mm_crc32_u64(c0, s_load64(p + i));
        c1 = _mm_crc32_u64(c1, s_load64(p + blk + i));
        c2 = _mm_crc32_u64(c2, s_load64(p + 2 * blk + i));
    }
    return s_shift((uint32_t)c0, k2) ^ s_shift((uint32_t)c1, k1) ^ (uint32_t)c2;
}

// Long rounds, then rounds sized to what is left (down to three 8-byte words), then one
// stream for the last 0..23 bytes.
__attribute__((target("sse4.2,pclmul"))) static uint32_t s_update_hw3(uint32_t reg,
                                                                      const uint8_t *p, size_t len)
{
    for (; len >= 3 * S_LONG; p += 3 * S_LONG, len -= 3 * S_LONG)
        reg = s_round(reg, p, S_LONG, S_K_LONG1, S_K_LONG2);
    while (len >= 24) {
        size_t blk = len / 24 * 8;
        if (blk > S_MID)
            blk = S_MID;
        const uint32_t *k = s_k[blk / 8 - 1];
        reg = s_round(reg, p, blk, k[0], k[1]);
        p += 3 * blk;
        len -= 3 * blk;
    }
    return s_update_hw(reg, p, len);
}
#endif

// Picks the interleaved SSE4.2 + PCLMUL code, or SSE4.2 alone, when this CPU has them (cached
// cpuid bits), else the table.
uint32_t wbi_crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef S_HAVE_SSE42
    if (__builtin_cpu_supports("sse4.2")) {
        if (__builtin_cpu_supports("pclmul"))
            return ~s_update_hw3(~crc, data, len);
        return ~s_update_hw(~crc, data, len);
    }
#endif
    return wbi_crc32c_sw(crc, data, len);
}
