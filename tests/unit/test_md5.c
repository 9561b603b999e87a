//  test_md5.c - MD5 against the RFC 1321 test suite and chunked input
//  SPDX-License-Identifier: MIT
#include "common/md5.h"
#include "testutil.h"

#include <string.h>

static void s_hex_of(const char *text, char out[33])
{
    wbi_md5_t m;
    unsigned char d[WBI_MD5_LEN];
    wbi_md5_init(&m);
    wbi_md5_update(&m, text, strlen(text));
    wbi_md5_final(&m, d);
    wbi_md5_hex(d, out);
}

// The test suite of RFC 1321 appendix A.5.
static void test_rfc(void)
{
    char hex[33];
    s_hex_of("", hex);
    CHECK_STREQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
    s_hex_of("a", hex);
    CHECK_STREQ(hex, "0cc175b9c0f1b6a831c399e269772661");
    s_hex_of("abc", hex);
    CHECK_STREQ(hex, "900150983cd24fb0d6963f7d28e17f72");
    s_hex_of("message digest", hex);
    CHECK_STREQ(hex, "f96b697d7cb7938d525a2f31aaf161d0");
    s_hex_of("abcdefghijklmnopqrstuvwxyz", hex);
    CHECK_STREQ(hex, "c3fcd3d76192e4007dfb496cca67e13b");
    s_hex_of("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
             hex);
    CHECK_STREQ(hex, "57edf4a22be3c955ac49da2e2107b67a");
}

// Any split of the input into chunks gives the same digest.
static void test_chunks(void)
{
    unsigned char data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    unsigned char whole[WBI_MD5_LEN], parts[WBI_MD5_LEN];
    wbi_md5_t m;
    wbi_md5_init(&m);
    wbi_md5_update(&m, data, sizeof data);
    wbi_md5_final(&m, whole);
    for (size_t step = 1; step < 130; step += 7) {
        wbi_md5_init(&m);
        for (size_t off = 0; off < sizeof data; off += step)
            wbi_md5_update(&m, data + off, off + step <= sizeof data ? step : sizeof data - off);
        wbi_md5_final(&m, parts);
        CHECK(memcmp(whole, parts, WBI_MD5_LEN) == 0);
    }
}

WBT_MAIN({"rfc", test_rfc}, {"chunks", test_chunks})
