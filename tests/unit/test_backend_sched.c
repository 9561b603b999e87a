//  test_backend_sched.c - the request budget and the choice of requests, on virtual time
//  SPDX-License-Identifier: MIT
//
//  Every function under test takes the time as an argument, so these tests
//  step a virtual clock in milliseconds: no sleeping, no network.
#include "backend/backend_int.h"
#include "common/alloc.h"
#include "testutil.h"

// Starts taken in [from, to) when the caller asks at every millisecond.
static int s_drain_bucket(wbi_sched_t *s, int64_t from, int64_t to)
{
    int n = 0;
    for (int64_t t = from; t < to; t++) {
        int64_t wake = t + 1000;
        while (wbi_sched_ready(s, t, &wake)) {
            wbi_sched_spend(s, t);
            n++;
        }
        CHECK(wake > t);
    }
    return n;
}

// A full bucket lets one second's worth go, then the rate holds.
static void test_budget(void)
{
    wbi_sched_t s;
    wbi_sched_init(&s, 10, 0);
    CHECK_EQ(s_drain_bucket(&s, 0, 1), 10); // the burst
    int64_t wake = 1000000;
    CHECK(!wbi_sched_ready(&s, 1, &wake));
    CHECK(wake >= 90 && wake <= 102); // the next token in about 100 ms
    int n = s_drain_bucket(&s, 1, 10001);
    if (n < 99 || n > 101)
        WBT_FAIL("%d starts in 10 s at 10/s", n);
    wbi_sched_init(&s, 0, 0);
    CHECK(wbi_sched_rate(&s, 0) == WBI_SCHED_BUDGET_DEFAULT);
}

// A 429 pauses every start until Retry-After, halves the rate, and
// acknowledged requests bring it back.
static void test_429(void)
{
    wbi_sched_t s;
    wbi_sched_init(&s, 20, 0);
    s_drain_bucket(&s, 0, 1000);
    wbi_sched_answer(&s, 1000, 429, 2000, -1, -1);
    int64_t wake = 1000000;
    CHECK(!wbi_sched_ready(&s, 1500, &wake));
    CHECK_EQ(wake, 3000);
    CHECK(wbi_sched_rate(&s, 3000) == 10.0);
    int n = s_drain_bucket(&s, 3000, 13000);
    if (n < 95 || n > 105)
        WBT_FAIL("%d starts in 10 s after a 429, want about 100 (half the budget)", n);
    wbi_sched_answer(&s, 13000, 429, -1, -1, -1); // no Retry-After: a second
    wake = 1000000;
    CHECK(!wbi_sched_ready(&s, 13001, &wake));
    CHECK_EQ(wake, 13000 + WBI_SCHED_PAUSE_MS);
    CHECK(wbi_sched_rate(&s, 14000) == 5.0);
    for (int i = 0; i < 200; i++) // repeated 429s stop at 1/16
        wbi_sched_answer(&s, 14000, 429, 0, -1, -1);
    CHECK(wbi_sched_rate(&s, 14000) == 20.0 / 16);
    for (int i = 0; i < 100; i++)
        wbi_sched_answer(&s, 14000, 200, -1, -1, -1);
    CHECK(wbi_sched_rate(&s, 14000) == 20.0);
}

// RateLimit-Remaining/Reset cap the rate until Reset passes; 0 pauses.
static void test_ratelimit_headers(void)
{
    wbi_sched_t s;
    wbi_sched_init(&s, 50, 0);
    wbi_sched_answer(&s, 0, 200, -1, 5, 10000); // 5 left for 10 s
    CHECK(wbi_sched_rate(&s, 1) == 0.5);
    CHECK(wbi_sched_rate(&s, 10001) == 50.0);
    wbi_sched_answer(&s, 20000, 200, -1, 0, 3000);
    int64_t wake = 1000000;
    CHECK(!wbi_sched_ready(&s, 20001, &wake));
    CHECK_EQ(wake, 23000);
    CHECK(wbi_sched_rate(&s, 20001) == WBI_SCHED_RATE_MIN);
    wbi_sched_answer(&s, 30000, 200, -1, 1000, 1000); // plenty: the budget holds
    CHECK(wbi_sched_rate(&s, 30001) == 50.0);
}

// The file_stream interval stretches with the number of runs.
static void test_interval(void)
{
    wbi_sched_t s;
    wbi_sched_init(&s, 50, 0);
    CHECK_EQ(wbi_sched_interval_ms(&s, 0, 15000, 1), 15000);
    CHECK_EQ(wbi_sched_interval_ms(&s, 0, 15000, 750), 15000);
    CHECK_EQ(wbi_sched_interval_ms(&s, 0, 15000, 1024), 20480);
    wbi_sched_answer(&s, 0, 429, 0, -1, -1); // the rate in use, not the budget
    CHECK_EQ(wbi_sched_interval_ms(&s, 0, 15000, 1024), 40960);
}

// --- the choice of requests over many runs ----------------------------------

// A backend with n upserted runs that always have a summary to send.
static wbi_backend_t *s_fake(size_t n, double budget, int flush_ms)
{
    wbi_backend_t *b = wbi_calloc(1, sizeof *b);
    b->flush_ms = flush_ms;
    b->heartbeat_ms = 30000;
    b->debounce_ms = 5000;
    b->max_streams = 32;
    wbi_sched_init(&b->sched, budget, 0);
    for (size_t i = 0; i < n; i++) {
        wbi_backend_run_t *r = wbi_calloc(1, sizeof *r);
        r->run_id = wbi_strdup("r");
        r->upserted = true;
        r->summary = wbi_strdup("{}");
        r->summary_len = 2;
        if (b->last)
            b->last->next = r;
        else
            b->runs = r;
        b->last = r;
        b->nlive++;
    }
    return b;
}

static void s_fake_free(wbi_backend_t *b)
{
    while (b->runs) {
        wbi_backend_run_t *r = b->runs;
        b->runs = r->next;
        wbi_bkq_run_free(r);
    }
    wbi_free(b);
}

// Requests/s in the second half of `secs` virtual seconds: every request
// picked is answered at once, and its run gets new data right away.
static double s_rate(size_t nruns, double budget, int flush_ms, int secs, int64_t *max_gap)
{
    wbi_backend_t *b = s_fake(nruns, budget, flush_ms);
    int64_t end = (int64_t)secs * 1000, half = end / 2;
    uint64_t counted = 0;
    for (int64_t t = 0; t < end;) {
        int64_t wake = t + 1000;
        wbi_backend_run_t *run = NULL;
        wbi_bk_req_t *req = NULL;
        while (wbi_sched_ready(&b->sched, t, &wake) &&
               (req = wbi_bk_pick(b, t, &wake, &run, false))) {
            CHECK(run != NULL && req->kind == WBI_BK_REQ_FS);
            wbi_sched_spend(&b->sched, t);
            counted += t >= half;
            if (max_gap && t >= half && run->last_fs_ms && t - run->last_fs_ms > *max_gap)
                *max_gap = t - run->last_fs_ms;
            wbi_bkq_req_clear(req); // acknowledged at once
            run->last_fs_ms = t;
            run->next_flush_ms = t + wbi_bk_flush_ms(b, t);
            run->summary = wbi_strdup("{}");
            run->summary_len = 2;
        }
        CHECK(wake > t);
        t = wake < end ? wake : end;
    }
    s_fake_free(b);
    return (double)counted / (double)(end - half) * 1000.0;
}

// B6 on virtual time: requests/s grow with the runs until the budget,
// then stay there (1 ... 1024 runs), and every run is still served.
static void test_rate_flat_in_runs(void)
{
    const double budget = 20;
    const int flush_ms = 1000;
    size_t sizes[] = {1, 4, 16, 64, 256, 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t gap = 0;
        double rate = s_rate(sizes[i], budget, flush_ms, 240, &gap);
        double want = (double)sizes[i] * 1000.0 / flush_ms;
        want = want < budget ? want : budget;
        printf("   %4zu runs: %6.2f requests/s (want %5.2f), longest gap per run %lld ms\n",
               sizes[i], rate, want, (long long)gap);
        if (rate > want * 1.03 + 0.05 || rate < want * 0.9)
            WBT_FAIL("%zu runs: %.2f requests/s, want %.2f", sizes[i], rate, want);
        // each run waits about runs / budget seconds, not longer
        double stretched = (double)sizes[i] * 1000.0 / budget;
        double every = stretched > flush_ms ? stretched : flush_ms;
        if ((double)gap > every * 1.2 + 60)
            WBT_FAIL("%zu runs: a run waited %lld ms, want about %.0f", sizes[i], (long long)gap,
                     every);
    }
}

// A run finished after a refused line retires once its lines are out: it
// gets no more requests and no longer stretches the intervals of the others.
static void test_retired_run(void)
{
    wbi_backend_t *b = s_fake(2, 1, 1000); // budget 1/s: 2 live runs stretch to 2 s
    CHECK_EQ(wbi_bk_flush_ms(b, 0), 2000);
    wbi_backend_run_t *r = b->runs;
    r->finish = r->refused = true;
    wbi_bkq_retire_if_done(b, r);
    CHECK(!r->retired); // its summary is still to go
    int64_t wake = 1000000;
    wbi_backend_run_t *run = NULL;
    wbi_bk_req_t *req = wbi_bk_pick(b, 0, &wake, &run, false);
    CHECK(req && run == r && req->kind == WBI_BK_REQ_FS && !req->finishing); // no complete
    wbi_bkq_req_clear(req);
    wbi_bkq_retire_if_done(b, r);
    CHECK(r->retired);
    CHECK_EQ(b->nlive, 1);
    CHECK_EQ(wbi_bk_flush_ms(b, 0), 1000);
    for (int i = 0; i < 3; i++) { // only the other run is served from now on
        wake = 1000000;
        req = wbi_bk_pick(b, 10000 * (i + 1), &wake, &run, false);
        CHECK(req && run == r->next);
        wbi_bkq_req_clear(req);
        run->summary = wbi_strdup("{}");
        run->summary_len = 2;
    }
    s_fake_free(b);
}

// "preempting" does not wait for a token (the bucket goes into debt), but
// it waits out a 429 pause like everything else.
static void test_preempting_skips_the_queue(void)
{
    wbi_backend_t *b = s_fake(3, 1, 60000);
    for (wbi_backend_run_t *r = b->runs; r; r = r->next) {
        wbi_free(r->summary); // nothing due: only preempting will be
        r->summary = NULL;
        r->last_fs_ms = r->next_flush_ms = 0;
    }
    wbi_sched_spend(&b->sched, 0); // the one token of a 1/s budget is gone
    int64_t wake = 1000000;
    CHECK(!wbi_sched_ready(&b->sched, 0, &wake));
    wbi_backend_run_t *run = NULL;
    CHECK(wbi_bk_pick(b, 0, &wake, &run, true) == NULL); // nobody preempting
    wbi_backend_run_t *p = b->runs->next;
    p->preempt = true;
    wbi_bk_req_t *req = wbi_bk_pick(b, 0, &wake, &run, true);
    CHECK(req && run == p && req->kind == WBI_BK_REQ_FS && req->preempting);
    wbi_sched_spend(&b->sched, 0);
    wbi_bkq_req_clear(req);
    wake = 1000000;
    CHECK(!wbi_sched_ready(&b->sched, 1500, &wake)); // the debt is paid back first
    CHECK(wbi_sched_ready(&b->sched, 2000, &wake));
    wbi_sched_answer(&b->sched, 2000, 429, 5000, -1, -1);
    wake = 1000000;
    CHECK(wbi_sched_paused(&b->sched, 2001, &wake));
    CHECK_EQ(wake, 7000);
    CHECK(!wbi_sched_paused(&b->sched, 7000, &wake));
    s_fake_free(b);
}

WBT_MAIN({"budget", test_budget}, {"429", test_429}, {"ratelimit_headers", test_ratelimit_headers},
         {"interval", test_interval}, {"rate_flat_in_runs", test_rate_flat_in_runs},
         {"retired_run", test_retired_run},
         {"preempting_skips_the_queue", test_preempting_skips_the_queue})
