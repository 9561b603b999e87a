//  sched.h - the request budget of the whole backend, on a given clock
//  SPDX-License-Identifier: MIT
//
//  A token bucket at `budget` requests per second (burst: one second's
//  worth) that every request start takes from, retries included. A 429
//  pauses every start until its Retry-After (or a second) has passed and
//  halves the rate in use (down to 1/16 of the budget), which grows back by
//  2 % of the budget per acknowledged request. RateLimit-Remaining /
//  RateLimit-Reset cap the rate at Remaining per Reset seconds (at least
//  WBI_SCHED_RATE_MIN) until Reset passes; Remaining 0 pauses until then.
//  "preempting" goes without waiting for a token (as wandb-core sends it
//  at once) but not during a pause, and is paid back from later tokens.
//  The file_stream interval of each run stretches to runs / rate, so the
//  request rate stays at the budget however many runs there are. Pure:
//  every function takes the time (ms on any monotonic clock). Thread: no
//  locking (the backend calls it under its mutex).
#ifndef WBI_BACKEND_SCHED_H
#define WBI_BACKEND_SCHED_H

#include "wandb.h"

// Requests per second of a backend when the option says 0.
#define WBI_SCHED_BUDGET_DEFAULT 50.0
// The lowest rate any slow-down goes to (requests/s), as wandb-core's.
#define WBI_SCHED_RATE_MIN 0.1
// Pause after a 429 without Retry-After.
#define WBI_SCHED_PAUSE_MS 1000

typedef struct {
    double budget;        // requests/s asked for
    double tokens;        // requests that may start now (at most one second's worth)
    int64_t refill_ms;    // when tokens was last brought up to date
    int64_t paused_until; // no start before this (429, RateLimit-Remaining 0)
    double factor;        // share of the budget in use after 429s (1/16 .. 1)
    double rl_rate;       // RateLimit-* cap (requests/s), 0: none
    int64_t rl_until;     // the cap holds until then
} wbi_sched_t;

// Starts full (one second's worth of requests may go at once).
void wbi_sched_init(wbi_sched_t *self, double budget, int64_t now);
// The rate in use now (requests/s): the budget, lowered by 429s and RateLimit-*.
double wbi_sched_rate(const wbi_sched_t *self, int64_t now);
// True when a request may start at now; else lowers *wake to when one may.
bool wbi_sched_ready(wbi_sched_t *self, int64_t now, int64_t *wake);
// True while a 429 or RateLimit-Remaining 0 pauses every start; lowers
// *wake to its end.
bool wbi_sched_paused(const wbi_sched_t *self, int64_t now, int64_t *wake);
// Counts one request start (after wbi_sched_ready said true, or for a
// preempting request, which does not wait for a token: the bucket goes
// into debt and later starts wait longer).
void wbi_sched_spend(wbi_sched_t *self, int64_t now);
// Takes an answer into account: status (0: none), Retry-After, RateLimit-*
// (each -1 when absent).
void wbi_sched_answer(wbi_sched_t *self, int64_t now, long status, int64_t retry_after_ms,
                      int64_t rl_remaining, int64_t rl_reset_ms);
// The file_stream interval of each of nruns live runs: base_ms, or longer
// so that nruns requests per interval stay within the rate in use.
int64_t wbi_sched_interval_ms(const wbi_sched_t *self, int64_t now, int64_t base_ms, size_t nruns);

#endif
