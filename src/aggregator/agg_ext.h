//  agg_ext.h - aggregator calls used by its own executable (not by ranks)
//  SPDX-License-Identifier: MIT
//
//  Extensions of aggregator.h for src/aggregator_program/main.c and the tests.
//  Thread: as aggregator.h (start/stop from one thread; queries from any).
#ifndef WBI_AGG_EXT_H
#define WBI_AGG_EXT_H

#include "aggregator/aggregator.h"
#include "aggregator/core.h"

// Like wbi_agg_stop, with separate budgets: wait at most wait_ms for the
// expected runs, then (whatever happened) at most drain_ms for the sink to drain.
// Runs still active are logged and left without a finish (crashed).
// final (may be NULL) gets the stats as they were when the loop ended.
// WANDB_ETIMEDOUT when runs were still active after the final drain of the
// socket, fewer than expected_runs ever ended, or the sink did not drain.
// delivery (may be NULL) gets the sink's verdict alone (the outlet's
// wbi_outlet_finish: WANDB_OK when everything received reached the backend,
// or the journal offline), which tells a crashed rank from data left behind.
wandb_err wbi_agg_stop_ex(wbi_agg_t **self_p, int wait_ms, int drain_ms, wbi_agg_stats_t *final,
                          wandb_err *delivery);
// True when the expected runs (see wbi_agg_opts_t) are all finished or crashed.
bool wbi_agg_settled(wbi_agg_t *self);
// Records mpirun's report of a rank's exit code (first: it failed first),
// applied on the loop thread before the runs are settled. At most 64 are
// kept. Thread: any.
void wbi_agg_report_exit(wbi_agg_t *self, int rank, int exit_code, bool first);
// Marks every active run preempting (wbi_agg_core_preempt) on the loop
// thread, soon. Thread: any (async-signal-safe: one atomic store).
void wbi_agg_preempt(wbi_agg_t *self);
// Internal counters (sequence gaps, ignored peers, dropped values).
void wbi_agg_get_extra(wbi_agg_t *self, wbi_agg_core_extra_t *out);
// Sleeps ms milliseconds (any ms >= 0; returns early on a signal).
void wbi_agg_sleep_ms(int ms);

#endif
