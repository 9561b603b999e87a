//  metric.h - define_metric definitions of one run and their `_wandb.m` form
//  SPDX-License-Identifier: MIT
//
//  Keeps the merged definition per metric name in definition order, expands
//  trailing-'*' globs into concrete names (the server is not assumed to
//  expand them) and encodes the list the way wandb-core does
//  (WANDB_PROTOCOL.md §2.4): records keyed by field number, the step metric
//  listed before its first user, "6"/"7" always present. Thread: the owning
//  thread only.
#ifndef WBI_AGG_METRIC_H
#define WBI_AGG_METRIC_H

#include "aggregator/map.h"
#include "wandb.h"
#include <jansson.h>

// Summary flags, numbered as in MetricSummary (bit n = field n).
#define WBI_MSUM_MIN (1u << 1)
#define WBI_MSUM_MAX (1u << 2)
#define WBI_MSUM_MEAN (1u << 3)
#define WBI_MSUM_BEST (1u << 4)
#define WBI_MSUM_LAST (1u << 5)
#define WBI_MSUM_NONE (1u << 6)
#define WBI_MSUM_COPY (1u << 7)
#define WBI_MSUM_FIRST (1u << 8)

#define WBI_METRIC_MAX 10000 // definitions (concrete + globs) per run

typedef struct {
    char *name;       // concrete metric name, or the glob pattern ("train/*")
    int step_index;   // index of the step metric's entry in the list, -1: none
    bool step_sync;   // insert the step metric's latest value into rows
    bool hidden;      // hidden in the UI
    bool defined;     // explicitly defined (not created by a glob or as a step)
    bool from_glob;   // created from a glob when a matching key was logged
    unsigned summary; // WBI_MSUM_* bits; 0: default (plain last value)
    int goal;         // 0 unset, 1 minimize, 2 maximize
    char *step_name;  // for globs: the step metric's name (NULL: none)
} wbi_metric_t;

typedef struct {
    wbi_metric_t *list;  // concrete metrics in `_wandb.m` order
    size_t count;        // entries in list
    size_t cap;          // allocated entries
    wbi_smap_t by_name;  // concrete name -> index in list
    wbi_metric_t *globs; // glob definitions (name is the pattern with '*')
    size_t nglobs;       // entries in globs
    size_t glob_cap;     // allocated entries
} wbi_metrics_t;

void wbi_metrics_init(wbi_metrics_t *self);
void wbi_metrics_release(wbi_metrics_t *self);

// Applies one DEFINE_METRIC object {name, step_metric, step_sync, hidden,
// summary, goal, overwrite}, merged as wandb-core merges MetricRecords
// (docs/decisions.md "define_metric"): without overwrite, step_sync and
// hidden only turn on, the summary words add to the earlier ones ("none" is
// replaced by each call that gives a summary), step_metric and goal replace
// the earlier ones when given; overwrite starts from an empty definition.
// summary: "min,max" or ["min","max"] of min|max|mean|best|last|none|copy|
// first. goal: minimize|maximize (or min|max). WANDB_EINVAL on a bad object
// (nothing changed), WANDB_EFULL past WBI_METRIC_MAX, WANDB_ENOMEM.
wandb_err wbi_metrics_define(wbi_metrics_t *self, const json_t *def);
// Returns the index of the concrete metric name[0..len), or -1.
int wbi_metrics_find(const wbi_metrics_t *self, const char *name, size_t len);
// For a newly seen key: the index of its concrete metric, creating one from
// the first matching glob if needed (*created set). -1 when none applies.
int wbi_metrics_match(wbi_metrics_t *self, const char *name, size_t len, bool *created);
// Returns a new JSON array: the `_wandb.m` list. Entries only created as a
// step metric and no longer referenced (after an overwrite) are left out, as
// wandb-core lists step metrics only through their users. NULL when out of
// memory.
json_t *wbi_metrics_encode(const wbi_metrics_t *self);
// Parses a summary spec (see define); WANDB_EINVAL on an unknown word.
wandb_err wbi_metrics_parse_summary(const json_t *spec, unsigned *out);

#endif
