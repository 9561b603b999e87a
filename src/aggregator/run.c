//  run.c - one run inside the aggregator: keys, row assembly, summary, config
//  SPDX-License-Identifier: MIT
//
//  Key names live once per aggregator (names.h) with their escaped `"key":`
//  prefix; a run keeps small per-key state and refers to the name, so
//  emitting a row is a loop of memcpy + number formatting into one reused
//  buffer. The open row is an array of (key, value) in first-seen order; a
//  key remembers its slot through a row generation counter, so a repeated
//  key is replaced in O(1) without clearing anything between rows.
#include "aggregator/run.h"
#include "aggregator/history.h"
#include "aggregator/map.h"
#include "aggregator/metric.h"
#include "aggregator/names.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"
#include <math.h>
#include <string.h>
#include <strings.h>

#define S_ARENA_MAX (16u * 1048576u)         // string/JSON bytes in one open row
#define S_TEXT_MAX (WBI_WIRE_VALUE_MAX + 64) // one kept string/JSON value

// Aggregates for define_metric summaries.
typedef struct {
    double min;            // smallest numeric value
    double max;            // largest numeric value
    double sum;            // sum of numeric values (for mean)
    uint64_t n;            // numeric values seen
    bool has_first;        // first is set
    wbi_hval_t first;      // first value after the definition
    wbi_buf_t *first_text; // bytes of first when a string or JSON (lazy)
} s_stats_t;

typedef struct {
    const wbi_agg_name_t *nm; // shared name and `"key":` prefix
    uint32_t row_gen;         // generation of the open row that holds this key
    uint32_t row_pos;         // slot in the open row when row_gen matches
    int metric;               // index into metrics.list, -1: none
    bool logged;              // emitted in at least one row
    bool reserved;            // _step/_runtime/_timestamp/_wandb: never emitted
    wbi_hval_t last;          // last emitted value
    wbi_buf_t *last_text;     // bytes of last when a string or JSON (lazy)
    s_stats_t *stats;         // aggregates when a metric asks for them, else NULL
} s_key_t;

struct wbi_agg_run {
    wbi_agg_sink_t sink;   // where output goes
    void *handle;          // what sink.open returned
    char *run_id;          // HELLO run_id
    char *project;         // HELLO project
    char *entity;          // HELLO entity or learned later; NULL: unknown
    int rank;              // HELLO rank (-1 unknown)
    double start_time;     // HELLO start_time (Unix seconds); NAN: first row's ts
    int64_t starting_step; // HELLO starting_step

    s_key_t *keys;          // interned keys in first-seen order
    size_t nkeys;           // keys used
    size_t keys_cap;        // keys allocated
    wbi_imap_t ids;         // wire id -> key index
    wbi_agg_names_t *names; // shared key names (borrowed)
    wbi_imap_t by_name;     // name id -> key index

    bool row_open;                    // a row is being assembled
    int64_t row_step;                 // its step
    double row_ts;                    // ts of the last call merged into it
    uint32_t row_gen;                 // current row generation (never 0)
    int64_t row_arrived;              // monotonic ms of its first ROW record
    uint32_t *row_keys;               // key index per slot
    wbi_hval_t *row_vals;             // value per slot
    const wbi_agg_name_t **row_names; // key name per slot (filled at emit)
    size_t row_n;                     // slots used
    size_t row_cap;                   // slots allocated
    wbi_buf_t arena;                  // string/JSON bytes of the open row
    wbi_buf_t line;                   // reused output buffer (summaries)
    wbi_agg_row_fn observe;           // second receiver of emitted rows (the job view)
    void *observe_arg;                // its first argument

    int64_t last_step;   // last emitted step (-1: none)
    double last_runtime; // _runtime of the last emitted row
    double last_ts;      // _timestamp of the last emitted row
    double end_runtime;  // runtime at finish/abandon (0 before)
    uint64_t dropped;    // from FINISH: values the rank dropped
    uint64_t rejected;   // from FINISH: calls the rank rejected (lower step)
    bool summary_dirty;  // something changed since the last summary
    bool config_dirty;   // keys created from globs changed `_wandb.m`

    json_t *config;        // the unwrapped config object
    json_t *explicit_;     // explicit summary values (SUMMARY records)
    wbi_metrics_t metrics; // define_metric definitions
    bool any_sync;         // some metric has a step metric with step_sync

    char *platform; // HELLO platform ("linux-x86_64"), for `_wandb.t`; NULL: unknown

    bool file_open;   // a saved file is being assembled
    uint32_t file_id; // its FILE_BEGIN id
    char *file_name;  // its run-relative name
    char *file_data;  // its bytes so far (file_size allocated)
    size_t file_size; // announced size
    size_t file_got;  // bytes received

    wbi_agg_run_counters_t counters; // see run.h
};

// Frees a lazily created text buffer.
static void s_text_free(wbi_buf_t **text)
{
    if (*text) {
        wbi_buf_release(*text);
        wbi_free(*text);
        *text = NULL;
    }
}

// True for the keys the aggregator writes itself.
static bool s_reserved_name(const char *k)
{
    return strcmp(k, "_step") == 0 || strcmp(k, "_runtime") == 0 || strcmp(k, "_timestamp") == 0 ||
           strcmp(k, "_wandb") == 0;
}

// Duplicates a string member of obj, or returns NULL (also when not a string).
static char *s_dup_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? wbi_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

// True when s is a valid run ID (WANDB_PROTOCOL.md §9).
static bool s_valid_run_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    return strpbrk(s, ":;,#?/'\t\r\n") == NULL;
}

// True when s is a valid project name.
static bool s_valid_project(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 128 && strpbrk(s, "/\\#?%:") == NULL;
}

// Joins a tags array into a comma-separated string; NULL when not an array.
static char *s_tags(const json_t *v)
{
    if (json_is_string(v))
        return wbi_strdup(json_string_value(v));
    if (!json_is_array(v))
        return NULL;
    wbi_buf_t b;
    wbi_buf_init(&b, 65536);
    size_t i;
    const json_t *t;
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t))
            continue;
        if (b.len)
            wbi_buf_putc(&b, ',');
        wbi_buf_puts(&b, json_string_value(t));
    }
    if (!b.data)
        wbi_buf_puts(&b, "");
    return wbi_buf_steal(&b);
}

wandb_err wbi_agg_run_open(wbi_agg_run_t **out, const wbi_agg_sink_t *sink, const json_t *hello,
                           wbi_agg_names_t *names, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (!json_is_object(hello)) {
        *why = "HELLO is not a JSON object";
        return WANDB_EINVAL;
    }
    const char *id = json_string_value(json_object_get(hello, "run_id"));
    const char *project = json_string_value(json_object_get(hello, "project"));
    if (!id || !s_valid_run_id(id)) {
        *why = "HELLO has no valid run_id";
        return WANDB_EINVAL;
    }
    if (!project || !s_valid_project(project)) {
        *why = "HELLO has no valid project";
        return WANDB_EINVAL;
    }
    wandb_err rc = WANDB_ENOMEM;
    char *config_text = NULL;
    char *tags = NULL;
    char *group = NULL, *job_type = NULL, *name = NULL, *notes = NULL, *host = NULL;
    char *program = NULL;
    wbi_agg_run_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    self->sink = *sink;
    self->rank = -1;
    self->last_step = -1;
    self->row_gen = 1;
    self->start_time = NAN;
    wbi_imap_init(&self->ids, WBI_AGG_RUN_MAX_KEYS * 4);
    wbi_imap_init(&self->by_name, WBI_AGG_RUN_MAX_KEYS);
    self->names = names;
    wbi_buf_init(&self->arena, S_ARENA_MAX);
    wbi_buf_init(&self->line, WBI_LINE_MAX);
    wbi_metrics_init(&self->metrics);

    self->run_id = wbi_strdup(id);
    self->project = wbi_strdup(project);
    self->entity = s_dup_member(hello, "entity");
    self->platform = s_dup_member(hello, "platform");
    if (self->entity && self->entity[0] == '\0') {
        wbi_free(self->entity);
        self->entity = NULL;
    }
    self->explicit_ = json_object();
    const json_t *cfg = json_object_get(hello, "config");
    self->config = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
    if (!self->run_id || !self->project || !self->explicit_ || !self->config)
        goto out_free_self;
    const json_t *v = json_object_get(hello, "rank");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < INT32_MAX)
        self->rank = (int)json_integer_value(v);
    double st;
    if (wbi_jsonx_number(json_object_get(hello, "start_time"), &st) && isfinite(st) && st > 0)
        self->start_time = st;
    v = json_object_get(hello, "starting_step");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        self->starting_step = json_integer_value(v);

    config_text = wbi_agg_run_config_text(self);
    tags = s_tags(json_object_get(hello, "tags"));
    group = s_dup_member(hello, "group");
    job_type = s_dup_member(hello, "job_type");
    name = s_dup_member(hello, "name");
    notes = s_dup_member(hello, "notes");
    host = s_dup_member(hello, "host");
    program = s_dup_member(hello, "program");
    if (!config_text)
        goto out_free_self;
    wbi_run_meta_t meta = {.run_id = self->run_id,
                           .project = self->project,
                           .entity = self->entity,
                           .group = group,
                           .job_type = job_type,
                           .display_name = name,
                           .notes = notes,
                           .host = host,
                           .program = program,
                           .tags = tags,
                           .config_json = config_text};
    self->handle = sink->open ? sink->open(sink->arg, &meta) : NULL;
    if (sink->open && !self->handle)
        goto out_free_self;
    rc = WANDB_OK;
    *out = self;
    self = NULL;
out_free_self:
    wbi_agg_run_destroy(&self);
    wbi_free(config_text);
    wbi_free(tags);
    wbi_free(group);
    wbi_free(job_type);
    wbi_free(name);
    wbi_free(notes);
    wbi_free(host);
    wbi_free(program);
    return rc;
}

void wbi_agg_run_destroy(wbi_agg_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_agg_run_t *self = *self_p;
    for (size_t i = 0; i < self->nkeys; i++) {
        s_key_t *k = &self->keys[i];
        s_text_free(&k->last_text);
        if (k->stats) {
            s_text_free(&k->stats->first_text);
            wbi_free(k->stats);
        }
    }
    wbi_free(self->keys);
    wbi_imap_release(&self->ids);
    wbi_imap_release(&self->by_name);
    wbi_free(self->row_keys);
    wbi_free(self->row_vals);
    wbi_free(self->row_names);
    wbi_buf_release(&self->arena);
    wbi_buf_release(&self->line);
    json_decref(self->config);
    json_decref(self->explicit_);
    wbi_metrics_release(&self->metrics);
    wbi_free(self->run_id);
    wbi_free(self->project);
    wbi_free(self->entity);
    wbi_free(self->platform);
    wbi_free(self->file_name);
    wbi_free(self->file_data);
    wbi_free(self);
    *self_p = NULL;
}

// Gives key k the aggregates its metric needs (or none).
static void s_key_bind_metric(wbi_agg_run_t *self, s_key_t *k, int metric)
{
    k->metric = metric;
    if (metric < 0)
        return;
    const wbi_metric_t *m = &self->metrics.list[metric];
    if (m->step_index >= 0 && m->step_sync)
        self->any_sync = true;
    unsigned need = WBI_MSUM_MIN | WBI_MSUM_MAX | WBI_MSUM_MEAN | WBI_MSUM_FIRST;
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
        s_key_t *p = wbi_realloc(self->keys, cap * sizeof(*p));
        if (!p)
            return WBI_MAP_NONE;
        self->keys = p;
        self->keys_cap = cap;
    }
    if (wbi_imap_put(&self->by_name, nid, (uint32_t)self->nkeys) != WANDB_OK)
        return WBI_MAP_NONE;
    s_key_t *k = &self->keys[self->nkeys];
    memset(k, 0, sizeof(*k));
    k->nm = wbi_agg_names_get(self->names, nid);
    k->metric = -1;
    k->reserved = s_reserved_name(k->nm->name);
    self->nkeys++;
    bool created = false;
    int m = wbi_metrics_match(&self->metrics, name, len, &created);
    s_key_bind_metric(self, k, m);
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
static const char *s_text(const wbi_buf_t *text)
{
    return text && text->data ? text->data : "";
}

// Updates a key after its value was emitted in a row.
static void s_key_emitted(wbi_agg_run_t *self, s_key_t *k, const wbi_hval_t *v)
{
    s_keep_value(&k->last, &k->last_text, v, self->arena.data);
    k->logged = true;
    if (json_object_size(self->explicit_) > 0)
        json_object_del(self->explicit_, k->nm->name);
    s_stats_t *st = k->stats;
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
    s_key_t *k = &self->keys[idx];
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
        const s_key_t *k = &self->keys[self->row_keys[i]];
        if (k->metric < 0)
            continue;
        const wbi_metric_t *m = &self->metrics.list[k->metric];
        if (m->step_index < 0 || !m->step_sync)
            continue;
        const char *sname = self->metrics.list[m->step_index].name;
        uint32_t si = s_key_find(self, sname, strlen(sname));
        if (si == WBI_MAP_NONE)
            continue;
        s_key_t *sk = &self->keys[si];
        if (!sk->logged || sk->row_gen == self->row_gen || sk->last.type == 0)
            continue;
        wbi_hval_t v = sk->last;
        if (v.type == WANDB_TYPE_STRING || v.type == WANDB_TYPE_JSON) {
            v.as.off = (uint32_t)self->arena.len;
            if (wbi_buf_append(&self->arena, s_text(sk->last_text), v.len) != WANDB_OK)
                continue;
        }
        s_row_set(self, si, &v);
    }
}

// Emits the open row to the sink and the observer (empty rows are never sent).
static void s_row_emit(wbi_agg_run_t *self)
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

wandb_err wbi_agg_run_row(wbi_agg_run_t *self, const wbi_wire_row_t *row, int64_t mono_ms)
{
    if (self->row_open && row->step < self->row_step)
        return WANDB_EPROTO;
    if (!self->row_open && row->step <= self->last_step)
        return WANDB_EPROTO;
    if (self->row_open && row->step > self->row_step)
        s_row_emit(self);
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
        s_row_emit(self);
    return bad ? WANDB_EPROTO : WANDB_OK;
}

// Parses extended JSON that must be an object; NULL otherwise.
static json_t *s_load_object(const char *json, size_t len)
{
    json_error_t jerr;
    json_t *j = wbi_jsonx_loadb(json, len, 0, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

wandb_err wbi_agg_run_config(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *upd = s_load_object(json, len);
    if (!upd)
        return WANDB_EPROTO;
    int rc = json_object_update(self->config, upd);
    json_decref(upd);
    if (rc != 0)
        return WANDB_ENOMEM;
    s_send_config(self);
    return WANDB_OK;
}

wandb_err wbi_agg_run_summary(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *upd = s_load_object(json, len);
    if (!upd)
        return WANDB_EPROTO;
    int rc = json_object_update(self->explicit_, upd);
    json_decref(upd);
    self->summary_dirty = true;
    return rc == 0 ? WANDB_OK : WANDB_ENOMEM;
}

wandb_err wbi_agg_run_define_metric(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *def = s_load_object(json, len);
    if (!def)
        return WANDB_EPROTO;
    wandb_err rc = wbi_metrics_define(&self->metrics, def);
    json_decref(def);
    if (rc != WANDB_OK)
        return rc == WANDB_EINVAL ? WANDB_EPROTO : rc;
    // Rebind every key: a new concrete metric or glob may now apply.
    for (size_t i = 0; i < self->nkeys; i++) {
        s_key_t *k = &self->keys[i];
        bool created = false;
        int m = wbi_metrics_match(&self->metrics, k->nm->name, k->nm->len, &created);
        s_key_bind_metric(self, k, m); // sets any_sync
    }
    self->summary_dirty = true;
    s_send_config(self);
    return WANDB_OK;
}

wandb_err wbi_agg_run_alert(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *a = s_load_object(json, len);
    if (!a)
        return WANDB_EPROTO;
    const char *title = json_string_value(json_object_get(a, "title"));
    const char *text = json_string_value(json_object_get(a, "text"));
    const char *level = json_string_value(json_object_get(a, "level"));
    const json_t *wait = json_object_get(a, "wait_ms");
    wandb_err rc = WANDB_EPROTO;
    if (!title || title[0] == '\0')
        goto out_decref;
    const char *lvl = "INFO";
    if (level && (strcasecmp(level, "WARN") == 0 || strcasecmp(level, "WARNING") == 0))
        lvl = "WARN";
    else if (level && strcasecmp(level, "ERROR") == 0)
        lvl = "ERROR";
    else if (level && strcasecmp(level, "INFO") != 0)
        goto out_decref;
    int64_t wait_ms = json_is_integer(wait) ? json_integer_value(wait) : 60000;
    if (wait_ms < 0)
        wait_ms = 0;
    if (self->sink.alert)
        self->sink.alert(self->sink.arg, self->handle, title, text ? text : "", lvl, wait_ms);
    rc = WANDB_OK;
out_decref:
    json_decref(a);
    return rc;
}

void wbi_agg_run_preempting(wbi_agg_run_t *self)
{
    if (self->sink.preempting)
        self->sink.preempting(self->sink.arg, self->handle);
}

// Appends one define_metric summary object for key k; false: nothing to write.
static wandb_err s_put_metric_summary(wbi_buf_t *b, const s_key_t *k, unsigned flags, bool *wrote)
{
    const s_stats_t *st = k->stats;
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
            rc = wbi_hist_put_value(b, &st->first, s_text(st->first_text));
        sep = ",";
        any = true;
    }
    if (rc == WANDB_OK && (flags & WBI_MSUM_LAST) && k->last.type) {
        rc = wbi_buf_printf(b, "%s\"last\":", sep);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(b, &k->last, s_text(k->last_text));
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

wandb_err wbi_agg_run_build_summary(wbi_agg_run_t *self, wbi_buf_t *b)
{
    const unsigned stat_flags =
        WBI_MSUM_MIN | WBI_MSUM_MAX | WBI_MSUM_MEAN | WBI_MSUM_FIRST | WBI_MSUM_LAST;
    bool has_explicit = json_object_size(self->explicit_) > 0;
    wbi_buf_reset(b);
    wandb_err rc = wbi_buf_putc(b, '{');
    for (size_t i = 0; i < self->nkeys && rc == WANDB_OK; i++) {
        const s_key_t *k = &self->keys[i];
        if (!k->logged || k->reserved || k->last.type == 0)
            continue;
        if (has_explicit && json_object_get(self->explicit_, k->nm->name))
            continue;
        unsigned flags = k->metric >= 0 ? self->metrics.list[k->metric].summary : 0;
        if (flags & WBI_MSUM_NONE)
            continue;
        if (flags & stat_flags) {
            bool wrote;
            rc = s_put_metric_summary(b, k, flags, &wrote);
            continue;
        }
        rc = wbi_buf_append(b, k->nm->prefix, k->nm->prefix_len);
        if (rc == WANDB_OK)
            rc = wbi_hist_put_value(b, &k->last, s_text(k->last_text));
        if (rc == WANDB_OK)
            rc = wbi_buf_putc(b, ',');
    }
    const char *key;
    json_t *val;
    json_object_foreach(self->explicit_, key, val)
    {
        if (rc != WANDB_OK)
            break;
        if (s_reserved_name(key))
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

// Drops the file being assembled (a newer FILE_BEGIN, a bad record, the end).
static void s_file_drop(wbi_agg_run_t *self, const char *why)
{
    if (!self->file_open)
        return;
    if (why) {
        self->counters.bad_files++;
        wbi_warn("aggregator: run '%s': file '%s' dropped: %s", self->run_id, self->file_name, why);
    }
    wbi_free(self->file_name);
    wbi_free(self->file_data);
    self->file_name = NULL;
    self->file_data = NULL;
    self->file_open = false;
}

// Records the end runtime; the summary is dirty when it grew.
static void s_end_runtime(wbi_agg_run_t *self, double now)
{
    if (!isnan(self->start_time) && now - self->start_time > self->end_runtime) {
        self->end_runtime = now - self->start_time;
        self->summary_dirty = true;
    }
}

void wbi_agg_run_close(wbi_agg_run_t *self, double now)
{
    s_file_drop(self, "the run ended before the file did");
    s_row_emit(self);
    s_end_runtime(self, now);
    wbi_agg_run_flush(self);
}

void wbi_agg_run_finish(wbi_agg_run_t *self, int exit_code, uint64_t dropped, uint64_t rejected,
                        double now)
{
    self->dropped = dropped;
    self->rejected = rejected;
    self->summary_dirty = true; // the final summary is always sent
    wbi_agg_run_close(self, now);
    if (self->sink.finish)
        self->sink.finish(self->sink.arg, self->handle, exit_code);
}

void wbi_agg_run_abandon(wbi_agg_run_t *self, double now)
{
    // The open row stays open: a rank that was only stalled continues its
    // step, and a ROW at that step must still merge. A higher step, FINISH
    // or wbi_agg_run_close emits it.
    s_end_runtime(self, now);
    wbi_agg_run_flush(self);
    if (self->sink.abandon)
        self->sink.abandon(self->sink.arg, self->handle);
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

wandb_err wbi_agg_run_file_begin(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *obj = s_load_object(json, len);
    if (!obj)
        return WANDB_EPROTO;
    const json_t *id = json_object_get(obj, "id");
    const json_t *size = json_object_get(obj, "size");
    const char *name = json_string_value(json_object_get(obj, "name"));
    wandb_err rc = WANDB_EPROTO;
    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) > (json_int_t)UINT32_MAX || !json_is_integer(size) ||
        json_integer_value(size) < 0 || (uint64_t)json_integer_value(size) > WBI_WIRE_FILE_MAX ||
        !wbi_run_file_name_ok(name))
        goto out_decref;
    // One file at a time per run (the rank serializes saves): an open one
    // means the rank lost its end.
    s_file_drop(self, "a newer file started before it ended");
    rc = WANDB_ENOMEM;
    size_t n = (size_t)json_integer_value(size);
    self->file_name = wbi_strdup(name);
    self->file_data = wbi_malloc(n ? n : 1);
    if (!self->file_name || !self->file_data) {
        self->file_open = true;
        s_file_drop(self, "out of memory");
        goto out_decref;
    }
    self->file_id = (uint32_t)json_integer_value(id);
    self->file_size = n;
    self->file_got = 0;
    self->file_open = true;
    rc = WANDB_OK;
out_decref:
    json_decref(obj);
    return rc;
}

wandb_err wbi_agg_run_file_chunk(wbi_agg_run_t *self, const uint8_t *payload, size_t len)
{
    if (len < 12)
        return WANDB_EPROTO;
    uint32_t id = wbi_get_u32(payload);
    uint64_t off = wbi_get_u64(payload + 4);
    size_t n = len - 12;
    if (!self->file_open || id != self->file_id)
        return WANDB_EPROTO;
    if (off != self->file_got || n > self->file_size - self->file_got) {
        s_file_drop(self, "a chunk does not fit");
        return WANDB_EPROTO;
    }
    memcpy(self->file_data + self->file_got, payload + 12, n);
    self->file_got += n;
    return WANDB_OK;
}

wandb_err wbi_agg_run_file_end(wbi_agg_run_t *self, const uint8_t *payload, size_t len)
{
    if (len != 12)
        return WANDB_EPROTO;
    uint32_t id = wbi_get_u32(payload);
    uint64_t size = wbi_get_u64(payload + 4);
    if (!self->file_open || id != self->file_id)
        return WANDB_EPROTO;
    if (size != self->file_size || self->file_got != self->file_size) {
        s_file_drop(self, "its size does not match the bytes received");
        return WANDB_EPROTO;
    }
    char *data = self->file_data;
    self->file_data = NULL;
    self->counters.files++;
    if (self->sink.file)
        self->sink.file(self->sink.arg, self->handle, self->file_name, &data, self->file_size);
    wbi_free(data); // a sink that does not take it
    s_file_drop(self, NULL);
    return WANDB_OK;
}

const char *wbi_agg_run_id(const wbi_agg_run_t *self)
{
    return self->run_id;
}

const char *wbi_agg_run_project(const wbi_agg_run_t *self)
{
    return self->project;
}

const char *wbi_agg_run_entity(wbi_agg_run_t *self)
{
    if (!self->entity && self->sink.entity) {
        char buf[256];
        if (self->sink.entity(self->sink.arg, self->handle, buf, sizeof buf) && buf[0])
            self->entity = wbi_strdup(buf);
    }
    return self->entity;
}

int wbi_agg_run_rank(const wbi_agg_run_t *self)
{
    return self->rank;
}

int64_t wbi_agg_run_starting_step(const wbi_agg_run_t *self)
{
    return self->starting_step;
}

int64_t wbi_agg_run_last_step(const wbi_agg_run_t *self)
{
    return self->last_step;
}

void wbi_agg_run_get_counters(const wbi_agg_run_t *self, wbi_agg_run_counters_t *out)
{
    *out = self->counters;
}

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
    s_row_emit(self);
    return rc;
}

void wbi_agg_run_observe(wbi_agg_run_t *self, wbi_agg_row_fn fn, void *arg)
{
    self->observe = fn;
    self->observe_arg = arg;
}

const json_t *wbi_agg_run_config_object(const wbi_agg_run_t *self)
{
    return self->config;
}
