//  retry.c - which answers are retried, and how long to wait
//  SPDX-License-Identifier: MIT
#include "backend/retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>

// 2xx done; the fixed list of permanent codes fails; everything else retries.
wbi_bk_verdict wbi_bk_classify(long status, bool upsert)
{
    if (status >= 200 && status < 300)
        return WBI_BK_DONE;
    switch (status) {
    case 409:
        return upsert ? WBI_BK_RETRY : WBI_BK_FAIL;
    case 400:
    case 401:
    case 403:
    case 404:
    case 410:
    case 413:
    case 422:
    case 501:
        return WBI_BK_FAIL;
    default:
        break;
    }
    // Informational and redirect answers are not something a retry fixes.
    if (status >= 100 && status < 200)
        return WBI_BK_FAIL;
    if (status >= 300 && status < 400)
        return WBI_BK_FAIL;
    return WBI_BK_RETRY; // 0 (network), 429, other 4xx, 5xx, >= 600
}

// Doubling from min, capped, with up to 25 % jitter on top (capped again).
int64_t wbi_bk_backoff_ms(int attempt, int min_ms, int max_ms, double jitter01)
{
    if (min_ms < 0)
        min_ms = 0;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t wait = min_ms;
    for (int i = 0; i < attempt && wait < max_ms; i++)
        wait *= 2;
    if (wait > max_ms)
        wait = max_ms;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 > 1)
        jitter01 = 1;
    wait += (int64_t)((double)wait * 0.25 * jitter01);
    return wait > max_ms ? max_ms : wait;
}

// Delta-seconds first; otherwise an HTTP date through curl_getdate.
int64_t wbi_bk_retry_after_ms(const char *value, time_t now)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -1;
    int64_t ms = -1;
    if (*value >= '0' && *value <= '9') {
        char *end = NULL;
        errno = 0;
        long long secs = strtoll(value, &end, 10);
        while (end && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (errno != 0 || !end || *end != '\0')
            return -1;
        ms = secs > WBI_BK_RETRY_AFTER_MAX_MS / 1000 ? WBI_BK_RETRY_AFTER_MAX_MS : secs * 1000;
    } else {
        time_t when = curl_getdate(value, &now);
        if (when == (time_t)-1)
            return -1;
        double diff = difftime(when, now);
        ms = diff <= 0 ? 0 : (int64_t)(diff * 1000.0);
    }
    if (ms < 0)
        ms = 0;
    return ms > WBI_BK_RETRY_AFTER_MAX_MS ? WBI_BK_RETRY_AFTER_MAX_MS : ms;
}
