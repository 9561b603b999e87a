//  retry.h - which answers are retried, and how long to wait
//  SPDX-License-Identifier: MIT
//
//  The retry policy of wandb-core (protocol doc §1.3, §2.6, §3.5): 429,
//  5xx, other 4xx and network errors are retried with exponential backoff
//  plus 0-25 % jitter; Retry-After (seconds or an HTTP date) overrides the
//  computed wait. Pure functions. Thread: any.
#ifndef WBI_BACKEND_RETRY_H
#define WBI_BACKEND_RETRY_H

#include "wandb.h"
#include <time.h>

// Longest wait a Retry-After header may ask for (10 minutes).
#define WBI_BK_RETRY_AFTER_MAX_MS INT64_C(600000)

typedef enum {
    WBI_BK_DONE = 0,  // 2xx: the request was accepted
    WBI_BK_RETRY = 1, // try again later
    WBI_BK_FAIL = 2,  // give up at once
} wbi_bk_verdict;

// Classifies an HTTP status (0: no answer, a network error). upsert: the
// UpsertBucket policy, under which 409 is retried.
wbi_bk_verdict wbi_bk_classify(long status, bool upsert);
// The wait before retry number attempt (0-based): min * 2^attempt capped at
// max, plus jitter01 (0..1) * 25 %, capped at max again.
int64_t wbi_bk_backoff_ms(int attempt, int min_ms, int max_ms, double jitter01);
// Parses a Retry-After value (delta seconds or an HTTP date, compared with
// now). Returns the wait in ms (clamped to 0..WBI_BK_RETRY_AFTER_MAX_MS), or
// -1 when value is NULL or unparsable.
int64_t wbi_bk_retry_after_ms(const char *value, time_t now);

#endif
