//  run_row.c - one run's keys and row assembly: wire ids, merged steps, emitted history rows
//  SPDX-License-Identifier: MIT
//
//  Key names live once per aggregator (names.h) with their escaped `"key":`
//  prefix; a run keeps small per-key state and refers to the name, so
//  emitting a row is a loop of memcpy + number formatting into one reused
//  buffer. The open row is an array of (key, value) in first-seen order; a
//  key remembers its slot through a row generation counter, so a repeated
//  key is replaced in O(1) without clearing anything between rows.
#include "aggregator/run.h"
#include "aggregator/run_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include <math.h>
#include <string.h>

#define S_TEXT_MAX (WBI_WIRE_VALUE_MAX + 64) // one kept string/JSON value

// True for the keys the aggregator writes itself.
bool wbi_agg_run_reserved_name(const char *k)
{
    return strcmp(k, "_step") == 0 || strcmp(k, "_runtime") == 0 || strcmp(k, "_timestamp") == 0 ||
           strcmp(k, "_wandb") == 0;
}

// Returns the index of key name, creating it; WBI_MAP_NONE when full or
// the name is invalid.
static uint32_t s_key_intern(wbi_agg_run_t *self, const char *name, size_t len,
                             bool *config_changed)
{
    uint32_t nid = wbi_agg_names_intern(self->names, name, len);
    if (nid == WBI_MAP_NONE)
        return WBI_MAP_NONE;
    uint32_t idx = wbi_imap_get(&self->by_name, nid);
    if (idx != WBI_MAP_NONE)
        return idx;
    if (self->nkeys >= WBI_AGG_RUN_MAX_KEYS)
        return WBI_MAP_NONE;
    if (self->nkeys == self->keys_cap) {
        size_t cap = self->keys_cap ? self->keys_cap * 2 : 64;
        wbi_agg_key_t *p = wbi_realloc(self->keys, cap * sizeof(*p));
        if (!p)
            return WBI_MAP_NONE;
        self->keys = p;
        self->keys_cap = cap;
    }
    if (wbi_imap_put(&self->by_name, nid, (uint32_t)self->nkeys) != WANDB_OK)
        return WBI_MAP_NONE;
    wbi_agg_key_t *k = &self->keys[self->nkeys];
    memset(k, 0, sizeof(*k));
    k->nm = wbi_agg_names_get(self->names, nid);
    k->metric = -1;
    k->reserved = wbi_agg_run_reserved_name(k->nm->name);
    self->nkeys++;
    bool created = false;
    int m = wbi_metrics_match(&self->metrics, name, len, &created);
    wbi_agg_run_bind_metric(self, k, m);
    if (created)
        *config_changed = true;
    return (uint32_t)(self->nkeys - 1);
}

// Returns the key index of name, or WBI_MAP_NONE when the run has no such key.
static uint32_t s_key_find(const wbi_agg_run_t *self, const char *name, size_t len)
{
    uint32_t nid = wbi_agg_names_find(self->names, name, len);
    return nid == WBI_MAP_NONE ? WBI_MAP_NONE : wbi_imap_get(&self->by_name, nid);
}

// KEY: binds wire id to the key's index (interning the name first).
wandb_err wbi_agg_run_key(wbi_agg_run_t *self, uint32_t id, const char *key, size_t len)
{
    bool config_changed = false;
    uint32_t idx = s_key_intern(self, key, len, &config_changed);
    if (idx == WBI_MAP_NONE)
        return self->nkeys >= WBI_AGG_RUN_MAX_KEYS ? WANDB_EFULL : WANDB_EINVAL;
    wandb_err rc = wbi_imap_put(&self->ids, id, idx);
    if (config_changed)
        self->config_dirty = true; // sent by wbi_agg_run_flush: O(1) per key
    return rc;
}

// Copies a value's bytes into a key-owned buffer (created on first use)
// and points dst at it. On failure dst is cleared (type 0: not written).
static void s_keep_value(wbi_hval_t *dst, wbi_buf_t **text, const wbi_hval_t *v, const char *arena)
{
    *dst = *v;
    if (v->type != WANDB_TYPE_STRING && v->type != WANDB_TYPE_JSON)
        return;
    if (!*text) {
        *text = wbi_malloc(sizeof(**text));
        if (*text)
            wbi_buf_init(*text, S_TEXT_MAX);
    }
    if (!*text) {
        dst->type = 0;
        return;
    }
    wbi_buf_reset(*text);
    if (wbi_buf_append(*text, arena + v->as.off, v->len) != WANDB_OK) {
        dst->type = 0;
        return;
    }
    dst->as.off = 0;
}

// The bytes kept by s_keep_value ("" when none).
const char *wbi_agg_run_text(const wbi_buf_t *text)
{
    return text && text->data ? text->data : "";
}

// Updates a key after its value was emitted in a row.
static void s_key_emitted(wbi_agg_run_t *self, wbi_agg_key_t *k, const wbi_hval_t *v)
{
    s_keep_value(&k->last, &k->last_text, v, self->arena.data);
    k->logged = true;
    if (json_object_size(self->explicit_) > 0)
        json_object_del(self->explicit_, k->nm->name);
    wbi_agg_key_stats_t *st = k->stats;
    if (!st)
        return;
    if (!st->has_first) {
        s_keep_value(&st->first, &st->first_text, v, self->arena.data);
        st->has_first = true;
    }
    double d;
    if (v->type == WANDB_TYPE_DOUBLE)
        d = v->as.d;
    else if (v->type == WANDB_TYPE_INT)
        d = (double)v->as.i;
    else
        return;
    if (isnan(d))
        return;
    if (st->n == 0 || d < st->min)
        st->min = d;
    if (st->n == 0 || d > st->max)
        st->max = d;
    st->sum += d;
    st->n++;
}

// Adds (or replaces) key idx's value in the open row.
static wandb_err s_row_set(wbi_agg_run_t *self, uint32_t idx, const wbi_hval_t *v)
{
    wbi_agg_key_t *k = &self->keys[idx];
    if (k->row_gen == self->row_gen) {
        self->row_vals[k->row_pos] = *v;
        return WANDB_OK;
    }
    if (self->row_n == self->row_cap) {
        size_t cap = self->row_cap ? self->row_cap * 2 : 32;
        uint32_t *keys = wbi_realloc(self->row_keys, cap * sizeof(*keys));
        if (!keys)
            return WANDB_ENOMEM;
        self->row_keys = keys;
        wbi_hval_t *vals = wbi_realloc(self->row_vals, cap * sizeof(*vals));
        if (!vals)
            return WANDB_ENOMEM;
        self->row_vals = vals;
        const wbi_agg_name_t **names = wbi_realloc(self->row_names, cap * sizeof(*names));
        if (!names)
            return WANDB_ENOMEM;
        self->row_names = names;
        self->row_cap = cap;
    }
    k->row_gen = self->row_gen;
    k->row_pos = (uint32_t)self->row_n;
    self->row_keys[self->row_n] = idx;
    self->row_vals[self->row_n] = *v;
    self->row_n++;
    return WANDB_OK;
}

// Starts a fresh row generation (keys keep stale generations).
static void s_row_reset(wbi_agg_run_t *self)
{
    self->row_open = false;
    self->row_n = 0;
    wbi_buf_reset(&self->arena);
    if (++self->row_gen == 0) {
        for (size_t i = 0; i < self->nkeys; i++)
            self->keys[i].row_gen = 0;
        self->row_gen = 1;
    }
}

// With step_sync: adds the step metric's latest value to rows that carry a
// metric using it but not the step metric itself.
static void s_row_step_sync(wbi_agg_run_t *self)
{
    size_t n0 = self->row_n;
    for (size_t i = 0; i < n0; i++) {
        const wbi_agg_key_t *k = &self->keys[self->row_keys[i]];
        if (k->metric < 0)
            continue;
        const wbi_metric_t *m = &self->metrics.list[k->metric];
        if (m->step_index < 0 || !m->step_sync)
            continue;
        const char *sname = self->metrics.list[m->step_index].name;
        uint32_t si = s_key_find(self, sname, strlen(sname));
        if (si == WBI_MAP_NONE)
            continue;
        wbi_agg_key_t *sk = &self->keys[si];
        if (!sk->logged || sk->row_gen == self->row_gen || sk->last.type == 0)
            continue;
        wbi_hval_t v = sk->last;
        if (v.type == WANDB_TYPE_STRING || v.type == WANDB_TYPE_JSON) {
            v.as.off = (uint32_t)self->arena.len;
            if (wbi_buf_append(&self->arena, wbi_agg_run_text(sk->last_text), v.len) != WANDB_OK)
                continue;
        }
        s_row_set(self, si, &v);
    }
}

// Emits the open row to the sink and the observer (empty rows are never sent).
void wbi_agg_run_emit_row(wbi_agg_run_t *self)
{
    if (!self->row_open)
        return;
    if (self->row_n == 0) {
        s_row_reset(self);
        return;
    }
    if (self->any_sync)
        s_row_step_sync(self);
    if (isnan(self->start_time))
        self->start_time = self->row_ts;
    double runtime = self->row_ts - self->start_time;
    if (!(runtime > 0))
        runtime = 0;
    for (size_t i = 0; i < self->row_n; i++)
        self->row_names[i] = self->keys[self->row_keys[i]].nm;
    wbi_agg_row_t row = {.step = self->row_step,
                         .runtime = runtime,
                         .ts = self->row_ts,
                         .arrived_ms = self->row_arrived,
                         .n = self->row_n,
                         .names = self->row_names,
                         .vals = self->row_vals,
                         .arena = self->arena.data ? self->arena.data : ""};
    if (self->sink.history)
        self->sink.history(self->sink.arg, self->handle, &row);
    if (self->observe)
        self->observe(self->observe_arg, &row);
    for (size_t i = 0; i < self->row_n; i++)
        s_key_emitted(self, &self->keys[self->row_keys[i]], &self->row_vals[i]);
    self->counters.rows++;
    self->last_step = self->row_step;
    self->last_runtime = runtime;
    self->last_ts = self->row_ts;
    self->summary_dirty = true;
    s_row_reset(self);
}

// Turns one wire value into a row value (bytes into the arena).
// false when the value is invalid and must be dropped.
static bool s_value_from_wire(wbi_agg_run_t *self, const wbi_wire_value_t *w, wbi_hval_t *v)
{
    memset(v, 0, sizeof(*v));
    v->type = (uint8_t)w->type;
    switch (w->type) {
    case WANDB_TYPE_DOUBLE:
        v->as.d = w->as.d;
        return true;
    case WANDB_TYPE_INT:
        v->as.i = w->as.i;
        return true;
    case WANDB_TYPE_BOOL:
        v->as.b = w->as.b;
        return true;
    case WANDB_TYPE_STRING:
        if (!wbi_utf8_valid(w->as.s.p, w->as.s.len))
            return false;
        v->as.off = (uint32_t)self->arena.len;
        v->len = w->as.s.len;
        return wbi_buf_append(&self->arena, w->as.s.p, w->as.s.len) == WANDB_OK;
    case WANDB_TYPE_JSON: {
        json_error_t jerr;
        json_t *j = wbi_jsonx_loadb(w->as.s.p, w->as.s.len, JSON_DECODE_ANY, &jerr);
        if (!j)
            return false;
        size_t before = self->arena.len;
        wandb_err rc = wbi_jsonx_dump_buf(&self->arena, j, JSON_COMPACT);
        json_decref(j);
        if (rc != WANDB_OK) {
            self->arena.len = before;
            if (self->arena.data)
                self->arena.data[before] = '\0';
            return false;
        }
        v->as.off = (uint32_t)before;
        v->len = (uint32_t)(self->arena.len - before);
        return true;
    }
    default:
        return false;
    }
}

// ROW: a higher step emits the open row first; the values merge into the open row, and
// a COMMIT flag emits it.
wandb_err wbi_agg_run_row(wbi_agg_run_t *self, const wbi_wire_row_t *row, int64_t mono_ms)
{
    if (self->row_open && row->step < self->row_step)
        return WANDB_EPROTO;
    if (!self->row_open && row->step <= self->last_step)
        return WANDB_EPROTO;
    if (self->row_open && row->step > self->row_step)
        wbi_agg_run_emit_row(self);
    if (!self->row_open) {
        self->row_open = true;
        self->row_step = row->step;
        self->row_arrived = mono_ms;
    }
    self->row_ts = row->ts;
    bool bad = false;
    const uint8_t *cur = row->values;
    wbi_wire_value_t w;
    while (wbi_wire_row_next(row, &cur, &w)) {
        uint32_t idx = wbi_imap_get(&self->ids, w.key_id);
        wbi_hval_t v;
        if (idx == WBI_MAP_NONE || self->keys[idx].reserved || !s_value_from_wire(self, &w, &v) ||
            s_row_set(self, idx, &v) != WANDB_OK) {
            self->counters.bad_values++;
            bad = true;
            continue;
        }
        self->counters.values++;
    }
    if (row->flags & WBI_WIRE_ROW_COMMIT)
        wbi_agg_run_emit_row(self);
    return bad ? WANDB_EPROTO : WANDB_OK;
}

// Merges numeric values by key name at step and emits the row at once (the job view).
wandb_err wbi_agg_run_put(wbi_agg_run_t *self, int64_t step, double ts, size_t n,
                          const char *const *keys, const wbi_hval_t *vals)
{
    if (step <= self->last_step || (self->row_open && step != self->row_step))
        return WANDB_EPROTO;
    for (size_t i = 0; i < n; i++)
        if (vals[i].type != WANDB_TYPE_DOUBLE && vals[i].type != WANDB_TYPE_INT &&
            vals[i].type != WANDB_TYPE_BOOL)
            return WANDB_EINVAL;
    if (!self->row_open) {
        self->row_open = true;
        self->row_step = step;
        self->row_arrived = 0;
    }
    self->row_ts = ts;
    wandb_err rc = WANDB_OK;
    for (size_t i = 0; i < n; i++) {
        bool config_changed = false;
        uint32_t idx = s_key_intern(self, keys[i], strlen(keys[i]), &config_changed);
        if (config_changed)
            self->config_dirty = true;
        if (idx == WBI_MAP_NONE || self->keys[idx].reserved ||
            s_row_set(self, idx, &vals[i]) != WANDB_OK) {
            self->counters.bad_values++;
            rc = WANDB_EFULL;
            continue;
        }
        self->counters.values++;
    }
    wbi_agg_run_emit_row(self);
    return rc;
}

// Sets the second receiver of emitted rows.
void wbi_agg_run_observe(wbi_agg_run_t *self, wbi_agg_row_fn fn, void *arg)
{
    self->observe = fn;
    self->observe_arg = arg;
}
