//  run_summary.c - one run's summary and config, as define_metric shapes them
//  SPDX-License-Identifier: MIT
//
//  The summary is each logged key's last value (or the aggregates its
//  define_metric asks for), then explicit SUMMARY values, `_step`/`_runtime`/
//  `_timestamp` and `_wandb`; it is rebuilt lazily by wbi_agg_run_flush. The
//  config is the user's object plus `_wandb` with the metric definitions.
#include "aggregator/run.h"
#include "aggregator/run_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include <math.h>
#include <string.h>

// Gives key k the aggregates its metric needs (or none).
void wbi_agg_run_bind_metric(wbi_agg_run_t *self, wbi_agg_key_t *k, int metric)
{
    k->metric = metric;
    if (metric < 0)
        return;
    const wbi_metric_t *m = &self->metrics.list[metric];
    if (m->step_index >= 0 && m->step_sync)
        self->any_sync = true;
    unsigned need = WBI_MSUM_MIN | WBI_MSUM_MAX | WBI_MSUM_MEAN | WBI_MSUM_BEST | WBI_MSUM_FIRST;
    if ((m->summary & need) && !k->stats) {
        k->stats = wbi_calloc(1, sizeof(*k->stats));
    }
}

// Sends the whole config (with `_wandb.m` when metrics are defined).
static void s_send_config(wbi_agg_run_t *self)
{
    char *text = wbi_agg_run_config_text(self);
    if (!text) {
        wbi_warn("aggregator: run '%s': cannot encode the config", self->run_id);
        return;
    }
    self->config_dirty = false;
    if (self->sink.config)
        self->sink.config(self->sink.arg, self->handle, text);
    wbi_free(text);
}

// CONFIG: merges the object's top-level keys into the config and sends it.
wandb_err wbi_agg_run_config(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *upd = wbi_agg_run_load_object(json, len);
    if (!upd)
        return WANDB_EPROTO;
    int rc = json_object_update(self->config, upd);
    json_decref(upd);
    if (rc != 0)
        return WANDB_ENOMEM;
    s_send_config(self);
    return WANDB_OK;
}

// SUMMARY: explicit values, kept until the key is logged again.
wandb_err wbi_agg_run_summary(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *upd = wbi_agg_run_load_object(json, len);
    if (!upd)
        return WANDB_EPROTO;
    int rc = json_object_update(self->explicit_, upd);
    json_decref(upd);
    self->summary_dirty = true;
    return rc == 0 ? WANDB_OK : WANDB_ENOMEM;
}

// DEFINE_METRIC: records the definition, rebinds every key and sends the config.
wandb_err wbi_agg_run_define_metric(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *def = wbi_agg_run_load_object(json, len);
    if (!def)
        return WANDB_EPROTO;
    wandb_err rc = wbi_metrics_define(&self->metrics, def);
    json_decref(def);
    if (rc != WANDB_OK)
        return rc == WANDB_EINVAL ? WANDB_EPROTO : rc;
    // Rebind every key: a new concrete metric or glob may now apply.
    for (size_t i = 0; i < self->nkeys; i++) {
        wbi_agg_key_t *k = &self->keys[i];
        bool created = false;
        int m = wbi_metrics_match(&self->metrics, k->nm->name, k->nm->len, &created);
        wbi_agg_run_bind_metric(self, k, m); // sets any_sync
    }
    self->summary_dirty = true;
    s_send_config(self);
    return WANDB_OK;
}

// Appends one define_metric summary object for key k; false: nothing to write.
// "best" is the min, or the max when the goal is maximize (the seed's rule:
// no goal means minimize).
static wandb_err s_put_metric_summary(wbi_buf_t *b, const wbi_agg_key_t *k, const wbi_metric_t *m,
                                      bool *wrote)
{
    unsigned flags = m->summary;
    const wbi_agg_key_stats_t *st = k->stats;
    size_t start = b->len;
    wandb_err rc = wbi_buf_append(b, k->nm->prefix, k->nm->prefix_len);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(b, '{');
    bool any = false;
    const char *sep = "";
    if (st && st->n > 0) {
        if (rc == WANDB_OK && (flags & WBI_MSUM_MIN)) {
            rc = wbi_buf_printf(b, "%s\"min\":", sep);
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_double(b, st->min);
            sep = ",";
            any = true;
        }
        if (rc == WANDB_OK && (flags & WBI_MSUM_MAX)) {
            rc = wbi_buf_printf(b, "%s\"max\":", sep);
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_double(b, st->max);
            sep = ",";
            any = true;
        }
        if (rc == WANDB_OK && (flags & WBI_MSUM_BEST)) {
            rc = wbi_buf_printf(b, "%s\"best\":", sep);
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_double(b, m->goal == 2 ? st->max : st->min);
            sep = ",";
            any = true;
        }
        if (rc == WANDB_OK && (flags & WBI_MSUM_MEAN)) {
            rc = wbi_buf_printf(b, "%s\"mean\":", sep);
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_double(b, st->sum / (double)st->n);
            sep = ",";
            any = true;
        }
    }
    if (rc == WANDB_OK && st && st->has_first && (flags & WBI_MSUM_FIRST) && st->first.type) {
        rc = wbi_buf_printf(b, "%s\"first\":", sep);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(b, &st->first, wbi_agg_run_text(st->first_text));
        sep = ",";
        any = true;
    }
    if (rc == WANDB_OK && (flags & WBI_MSUM_LAST) && k->last.type) {
        rc = wbi_buf_printf(b, "%s\"last\":", sep);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(b, &k->last, wbi_agg_run_text(k->last_text));
        any = true;
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_append(b, "},", 2);
    if (rc != WANDB_OK || !any) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    *wrote = rc == WANDB_OK && any;
    return rc;
}

// Builds the summary object into b: keys in first-seen order, then explicit values, the
// last row's specials and `_wandb` (runtime, drop counts).
wandb_err wbi_agg_run_build_summary(wbi_agg_run_t *self, wbi_buf_t *b)
{
    const unsigned stat_flags = WBI_MSUM_MIN | WBI_MSUM_MAX | WBI_MSUM_MEAN | WBI_MSUM_BEST |
                                WBI_MSUM_FIRST | WBI_MSUM_LAST;
    bool has_explicit = json_object_size(self->explicit_) > 0;
    wbi_buf_reset(b);
    wandb_err rc = wbi_buf_putc(b, '{');
    for (size_t i = 0; i < self->nkeys && rc == WANDB_OK; i++) {
        const wbi_agg_key_t *k = &self->keys[i];
        if (!k->logged || k->reserved || k->last.type == 0)
            continue;
        if (has_explicit && json_object_get(self->explicit_, k->nm->name))
            continue;
        unsigned flags = k->metric >= 0 ? self->metrics.list[k->metric].summary : 0;
        if (flags & WBI_MSUM_NONE)
            continue;
        if (flags & stat_flags) {
            bool wrote;
            rc = s_put_metric_summary(b, k, &self->metrics.list[k->metric], &wrote);
            continue;
        }
        rc = wbi_buf_append(b, k->nm->prefix, k->nm->prefix_len);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(b, &k->last, wbi_agg_run_text(k->last_text));
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(b, ',');
    }
    const char *key;
    json_t *val;
    json_object_foreach(self->explicit_, key, val)
    {
        if (rc != WANDB_OK)
            break;
        if (wbi_agg_run_reserved_name(key))
            continue;
        rc = wbi_hist_put_key(b, key, strlen(key));
        if (rc == WANDB_OK)
            rc = wbi_jsonx_dump_buf(b, val, JSON_COMPACT);
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(b, ',');
    }
    if (rc == WANDB_OK && self->last_step >= 0) {
        rc = wbi_hist_put_special(b, self->last_step, self->last_runtime, self->last_ts);
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(b, ',');
    }
    double runtime =
        self->end_runtime > self->last_runtime ? self->end_runtime : self->last_runtime;
    if (rc == WANDB_OK)
        rc = wbi_buf_printf(b, "\"_wandb\":{\"runtime\":%lld", (long long)floor(runtime));
    if (rc == WANDB_OK && self->dropped)
        rc = wbi_buf_printf(b, ",\"dropped\":%llu", (unsigned long long)self->dropped);
    if (rc == WANDB_OK && self->rejected)
        rc = wbi_buf_printf(b, ",\"rejected_steps\":%llu", (unsigned long long)self->rejected);
    if (rc == WANDB_OK)
        rc = wbi_buf_append(b, "}}", 2);
    return rc;
}

// Sends a dirty config, then the summary when it changed.
void wbi_agg_run_flush(wbi_agg_run_t *self)
{
    if (self->config_dirty)
        s_send_config(self);
    if (!self->summary_dirty)
        return;
    self->summary_dirty = false;
    wandb_err rc = wbi_agg_run_build_summary(self, &self->line);
    if (rc != WANDB_OK) {
        self->counters.dropped_lines++;
        wbi_warn("aggregator: run '%s': summary dropped: %s", self->run_id, wandb_strerror(rc));
        return;
    }
    self->counters.summaries++;
    if (self->sink.summary)
        self->sink.summary(self->sink.arg, self->handle, self->line.data, self->line.len);
}

// The config as sent: the user's keys plus `_wandb` with "m" (the metric
// definitions, [] when none) and "t" (telemetry keyed by TelemetryRecord
// field number: only 13, the platform, is true of a C client), as
// wandb-core always sends both. A `_wandb` object the user set is kept and
// extended.
char *wbi_agg_run_config_text(const wbi_agg_run_t *self)
{
    json_t *cfg = json_copy(self->config); // shallow: only _wandb is replaced
    json_t *m = wbi_metrics_encode(&self->metrics);
    json_t *t = json_object();
    char *text = NULL;
    if (!cfg || !m || !t)
        goto out_decref;
    if (self->platform && json_object_set_new(t, "13", json_string(self->platform)) != 0)
        goto out_decref;
    json_t *w = json_object_get(cfg, "_wandb");
    json_t *nw = json_is_object(w) ? json_copy(w) : json_object();
    if (!nw)
        goto out_decref;
    json_object_set_new(nw, "m", m);
    m = NULL;
    if (!json_object_get(nw, "t")) {
        json_object_set_new(nw, "t", t);
        t = NULL;
    }
    json_object_set_new(cfg, "_wandb", nw);
    text = wbi_jsonx_dumps(cfg, JSON_COMPACT);
out_decref:
    json_decref(t);
    json_decref(m);
    json_decref(cfg);
    return text;
}

// The config object without `_wandb`.
const json_t *wbi_agg_run_config_object(const wbi_agg_run_t *self)
{
    return self->config;
}
