//  test_common_misc.c - the small shared helpers: base64, random ids, clocks
//  SPDX-License-Identifier: MIT
#include "common/base64.h"
#include "common/clock.h"
#include "common/random.h"
#include "testutil.h"

#include <string.h>

// The test vectors of RFC 4648 section 10, both ways.
static void test_base64_rfc4648(void)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        size_t len = strlen(plain[i]);
        char dst[16];
        CHECK_EQ(WBI_B64_LEN(len), strlen(coded[i]));
        wbi_b64_encode(dst, plain[i], len);
        CHECK_STREQ(dst, coded[i]);
        wbi_buf_t b;
        wbi_buf_init(&b, 64);
        CHECK_OK(wbi_b64_append(&b, plain[i], len));
        CHECK_EQ(b.len, strlen(coded[i]));
        CHECK(b.len == 0 || memcmp(b.data, coded[i], b.len) == 0);
        wbi_buf_release(&b);
        wbi_buf_init(&b, 64);
        CHECK(wbi_b64_decode(&b, coded[i], strlen(coded[i])));
        CHECK_EQ(b.len, len);
        CHECK(len == 0 || memcmp(b.data, plain[i], len) == 0);
        wbi_buf_release(&b);
    }
}

// All 256 byte values survive a round trip; bad characters are refused.
static void test_base64_bytes(void)
{
    unsigned char raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (unsigned char)i;
    char coded[WBI_B64_LEN(sizeof raw) + 1];
    wbi_b64_encode(coded, raw, sizeof raw);
    CHECK_EQ(strlen(coded), WBI_B64_LEN(sizeof raw));
    wbi_buf_t b;
    wbi_buf_init(&b, 1024);
    CHECK(wbi_b64_decode(&b, coded, strlen(coded)));
    CHECK_EQ(b.len, sizeof raw);
    CHECK(memcmp(b.data, raw, sizeof raw) == 0);
    wbi_buf_release(&b);
    wbi_buf_init(&b, 1024);
    CHECK(!wbi_b64_decode(&b, "Zm9v!", 5));
    wbi_buf_release(&b);
}

// Random ids are [a-z0-9], NUL-terminated, and differ.
static void test_random_id(void)
{
    char a[41], b[41];
    CHECK_OK(wbi_random_id(a, 40));
    CHECK_OK(wbi_random_id(b, 40));
    CHECK_EQ(strlen(a), 40);
    CHECK(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789") == 40);
    CHECK(strcmp(a, b) != 0);
}

// The wall clock is past 2020; the monotonic clock does not go back.
static void test_clock(void)
{
    CHECK(wbi_now_unix() > 1577836800.0);
    int64_t t0 = wbi_now_ms();
    CHECK(wbi_now_ms() >= t0);
}

WBT_MAIN({"base64_rfc4648", test_base64_rfc4648}, {"base64_bytes", test_base64_bytes},
         {"random_id", test_random_id}, {"clock", test_clock})
