//  agg_rows.h - typed history rows for tests that drive an aggregator sink directly
//  SPDX-License-Identifier: MIT
#ifndef WBT_AGG_ROWS_H
#define WBT_AGG_ROWS_H

#include "aggregator/run.h"

// Hands run of sink the row {"loss": loss} at step with _runtime runtime,
// as a run would emit it. Thread: one thread (the key table is static).
static inline void wbt_sink_loss_row(wbi_agg_sink_t *sink, void *run, int64_t step, double loss,
                                     double runtime)
{
    static wbi_agg_names_t names;
    static const wbi_agg_name_t *key;
    if (!key) {
        wbi_agg_names_init(&names);
        key = wbi_agg_names_get(&names, wbi_agg_names_intern(&names, "loss", 4));
    }
    wbi_hval_t v = {.type = WANDB_TYPE_DOUBLE, .as.d = loss};
    wbi_agg_row_t row = {
        .step = step, .runtime = runtime, .n = 1, .names = &key, .vals = &v, .arena = ""};
    sink->history(sink->arg, run, &row);
}

#endif
