//  test_backend_retry.c - status classification, backoff and Retry-After
//  SPDX-License-Identifier: MIT
#include "backend/retry.h"
#include "testutil.h"

#include <curl/curl.h>

// Which statuses are retried, which are final (protocol doc §1.3, §2.6).
static void test_classify(void)
{
    CHECK_EQ(wbi_bk_classify(200, false), WBI_BK_DONE);
    CHECK_EQ(wbi_bk_classify(204, false), WBI_BK_DONE);
    CHECK_EQ(wbi_bk_classify(0, false), WBI_BK_RETRY);
    CHECK_EQ(wbi_bk_classify(429, false), WBI_BK_RETRY);
    CHECK_EQ(wbi_bk_classify(500, false), WBI_BK_RETRY);
    CHECK_EQ(wbi_bk_classify(502, false), WBI_BK_RETRY);
    CHECK_EQ(wbi_bk_classify(503, true), WBI_BK_RETRY);
    CHECK_EQ(wbi_bk_classify(408, false), WBI_BK_RETRY); // other 4xx
    CHECK_EQ(wbi_bk_classify(600, false), WBI_BK_RETRY);
    const long final[] = {400, 401, 403, 404, 410, 413, 422, 501};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        CHECK_EQ(wbi_bk_classify(final[i], false), WBI_BK_FAIL);
        CHECK_EQ(wbi_bk_classify(final[i], true), WBI_BK_FAIL);
    }
    CHECK_EQ(wbi_bk_classify(409, false), WBI_BK_FAIL);
    CHECK_EQ(wbi_bk_classify(409, true), WBI_BK_RETRY); // UpsertBucket retries 409
    CHECK_EQ(wbi_bk_classify(301, false), WBI_BK_FAIL);
}

// min * 2^attempt, capped, jitter adds at most 25 %.
static void test_backoff(void)
{
    CHECK_EQ(wbi_bk_backoff_ms(0, 2000, 60000, 0.0), 2000);
    CHECK_EQ(wbi_bk_backoff_ms(1, 2000, 60000, 0.0), 4000);
    CHECK_EQ(wbi_bk_backoff_ms(4, 2000, 60000, 0.0), 32000);
    CHECK_EQ(wbi_bk_backoff_ms(5, 2000, 60000, 0.0), 60000);
    CHECK_EQ(wbi_bk_backoff_ms(100, 2000, 60000, 0.0), 60000); // no overflow
    CHECK_EQ(wbi_bk_backoff_ms(0, 2000, 60000, 1.0), 2500);
    CHECK_EQ(wbi_bk_backoff_ms(1, 2000, 60000, 0.5), 4500);
    CHECK_EQ(wbi_bk_backoff_ms(5, 2000, 60000, 1.0), 60000); // capped after jitter
    CHECK_EQ(wbi_bk_backoff_ms(0, 100, 50, 0.0), 100);       // max below min: min
    for (int a = 0; a < 10; a++) {
        int64_t w = wbi_bk_backoff_ms(a, 10, 1000, 0.99);
        CHECK(w >= 10 && w <= 1000);
    }
}

// Delta seconds and HTTP dates, relative to a fixed now.
static void test_retry_after(void)
{
    time_t now = 1767225600; // Thu, 01 Jan 2026 00:00:00 GMT
    CHECK_EQ(wbi_bk_retry_after_ms(NULL, now), -1);
    CHECK_EQ(wbi_bk_retry_after_ms("", now), -1);
    CHECK_EQ(wbi_bk_retry_after_ms("abc", now), -1);
    CHECK_EQ(wbi_bk_retry_after_ms("3x", now), -1);
    CHECK_EQ(wbi_bk_retry_after_ms("0", now), 0);
    CHECK_EQ(wbi_bk_retry_after_ms("3", now), 3000);
    CHECK_EQ(wbi_bk_retry_after_ms(" 120 ", now), 120000);
    CHECK_EQ(wbi_bk_retry_after_ms("99999999999", now), WBI_BK_RETRY_AFTER_MAX_MS);
    CHECK_EQ(wbi_bk_retry_after_ms("Thu, 01 Jan 2026 00:00:07 GMT", now), 7000);
    CHECK_EQ(wbi_bk_retry_after_ms("Wed, 31 Dec 2025 23:59:00 GMT", now), 0); // past
    CHECK_EQ(wbi_bk_retry_after_ms("Fri, 02 Jan 2026 00:00:00 GMT", now),
             WBI_BK_RETRY_AFTER_MAX_MS);
}

WBT_MAIN({"classify", test_classify}, {"backoff", test_backoff}, {"retry_after", test_retry_after})
