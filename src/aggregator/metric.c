//  metric.c - define_metric definitions of one run and their `_wandb.m` form
//  SPDX-License-Identifier: MIT
//
//  Entries are only appended, so an index into the list (the step metric
//  reference "5") stays valid for the life of the run.
#include "aggregator/metric.h"
#include "common/alloc.h"
#include "common/wire.h"
#include <string.h>

// The parsed, validated fields of one DEFINE_METRIC object.
typedef struct {
    const char *name; // metric name or glob pattern
    size_t name_len;  // its length
    const char *step; // step metric, NULL when absent or null
    int step_sync;    // -1 absent, else 0/1
    int hidden;       // -1 absent, else 0/1
    int has_summary;  // summary field given
    unsigned summary; // WBI_MSUM_* bits
    int goal;         // -1 absent, 0 unset, 1 min, 2 max
    bool overwrite;   // replace the earlier definition instead of merging
} s_def_t;

void wbi_metrics_init(wbi_metrics_t *self)
{
    memset(self, 0, sizeof(*self));
    wbi_smap_init(&self->by_name, WBI_METRIC_MAX);
}

void wbi_metrics_release(wbi_metrics_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        wbi_free(self->list[i].name);
        wbi_free(self->list[i].step_name);
    }
    for (size_t i = 0; i < self->nglobs; i++) {
        wbi_free(self->globs[i].name);
        wbi_free(self->globs[i].step_name);
    }
    wbi_free(self->list);
    wbi_free(self->globs);
    wbi_smap_release(&self->by_name);
    wbi_metrics_init(self);
}

// Maps one summary word to its flag; 0 when unknown.
static unsigned s_summary_word(const char *w, size_t len)
{
    static const struct {
        const char *word;
        unsigned flag;
    } words[] = {{"min", WBI_MSUM_MIN},   {"max", WBI_MSUM_MAX},    {"mean", WBI_MSUM_MEAN},
                 {"best", WBI_MSUM_BEST}, {"last", WBI_MSUM_LAST},  {"none", WBI_MSUM_NONE},
                 {"copy", WBI_MSUM_COPY}, {"first", WBI_MSUM_FIRST}};
    while (len && (*w == ' ' || *w == '\t')) {
        w++;
        len--;
    }
    while (len && (w[len - 1] == ' ' || w[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i].word) == len && memcmp(words[i].word, w, len) == 0)
            return words[i].flag;
    return 0;
}

// Adds the flags of a comma-separated list of words.
static wandb_err s_summary_words(const char *s, size_t len, unsigned *out)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        if (i > start) {
            unsigned f = s_summary_word(s + start, i - start);
            if (!f)
                return WANDB_EINVAL;
            *out |= f;
        }
        start = i + 1;
    }
    return WANDB_OK;
}

wandb_err wbi_metrics_parse_summary(const json_t *spec, unsigned *out)
{
    unsigned flags = 0;
    if (json_is_string(spec)) {
        if (s_summary_words(json_string_value(spec), json_string_length(spec), &flags) != WANDB_OK)
            return WANDB_EINVAL;
    } else if (json_is_array(spec)) {
        size_t i;
        const json_t *w;
        json_array_foreach(spec, i, w)
        {
            if (!json_is_string(w) ||
                s_summary_words(json_string_value(w), json_string_length(w), &flags) != WANDB_OK)
                return WANDB_EINVAL;
        }
    } else if (!json_is_null(spec)) {
        return WANDB_EINVAL;
    }
    *out = flags;
    return WANDB_OK;
}

// Reads an optional bool field: -1 absent or null, else 0/1; false if mistyped.
static bool s_opt_bool(const json_t *def, const char *field, int *out)
{
    const json_t *v = json_object_get(def, field);
    *out = -1;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v) ? 1 : 0;
    return true;
}

// Validates a DEFINE_METRIC object into d without changing anything.
static wandb_err s_parse_def(const json_t *def, s_def_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!json_is_object(def))
        return WANDB_EINVAL;
    const json_t *name = json_object_get(def, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > WBI_WIRE_KEY_MAX)
        return WANDB_EINVAL;
    d->name = json_string_value(name);
    d->name_len = json_string_length(name);
    if (strlen(d->name) != d->name_len)
        return WANDB_EINVAL; // embedded NUL
    const json_t *step = json_object_get(def, "step_metric");
    if (step && !json_is_null(step)) {
        if (!json_is_string(step) || json_string_length(step) > WBI_WIRE_KEY_MAX ||
            strlen(json_string_value(step)) != json_string_length(step))
            return WANDB_EINVAL;
        if (json_string_length(step) > 0)
            d->step = json_string_value(step);
    }
    int overwrite;
    if (!s_opt_bool(def, "step_sync", &d->step_sync) || !s_opt_bool(def, "hidden", &d->hidden) ||
        !s_opt_bool(def, "overwrite", &overwrite))
        return WANDB_EINVAL;
    d->overwrite = overwrite == 1;
    const json_t *summary = json_object_get(def, "summary");
    if (summary && !json_is_null(summary)) {
        if (wbi_metrics_parse_summary(summary, &d->summary) != WANDB_OK)
            return WANDB_EINVAL;
        d->has_summary = 1;
    }
    d->goal = -1;
    const json_t *goal = json_object_get(def, "goal");
    if (goal && !json_is_null(goal)) {
        const char *g = json_is_string(goal) ? json_string_value(goal) : "";
        if (strcmp(g, "minimize") == 0 || strcmp(g, "min") == 0)
            d->goal = 1;
        else if (strcmp(g, "maximize") == 0 || strcmp(g, "max") == 0)
            d->goal = 2;
        else if (g[0] == '\0' && json_is_string(goal))
            d->goal = 0;
        else
            return WANDB_EINVAL;
    }
    return WANDB_OK;
}

int wbi_metrics_find(const wbi_metrics_t *self, const char *name, size_t len)
{
    uint32_t i = wbi_smap_get(&self->by_name, name, len);
    return i == WBI_MAP_NONE ? -1 : (int)i;
}

// Grows an entry array by one slot; returns the new (zeroed) entry or NULL.
static wbi_metric_t *s_push(wbi_metric_t **arr, size_t *n, size_t *cap)
{
    if (*n >= WBI_METRIC_MAX)
        return NULL;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        wbi_metric_t *p = wbi_realloc(*arr, ncap * sizeof(*p));
        if (!p)
            return NULL;
        *arr = p;
        *cap = ncap;
    }
    wbi_metric_t *m = &(*arr)[(*n)++];
    memset(m, 0, sizeof(*m));
    m->step_index = -1;
    return m;
}

// Returns the index of the concrete metric name, appending an empty
// (not defined) entry when it does not exist; -1 when full or out of memory.
static int s_get_or_add(wbi_metrics_t *self, const char *name, size_t len)
{
    int i = wbi_metrics_find(self, name, len);
    if (i >= 0)
        return i;
    char *copy = wbi_strndup(name, len);
    if (!copy)
        return -1;
    wbi_metric_t *m = s_push(&self->list, &self->count, &self->cap);
    if (!m || wbi_smap_put(&self->by_name, name, len, (uint32_t)(self->count - 1)) != WANDB_OK) {
        if (m)
            self->count--; // not indexed: take the entry back
        wbi_free(copy);
        return -1;
    }
    m->name = copy;
    return (int)(self->count - 1);
}

// Forgets every option of m (overwrite=true): name and place stay.
static void s_reset(wbi_metric_t *m)
{
    m->step_index = -1;
    m->step_sync = false;
    m->hidden = false;
    m->summary = 0;
    m->goal = 0;
    wbi_free(m->step_name);
    m->step_name = NULL;
}

// Merges the option fields of d (not name/step) into m the way wandb-core's
// definedMetric.With does: flags only turn on, summary words add up ("none"
// is what the latest summary says), a given goal replaces.
static void s_apply(wbi_metric_t *m, const s_def_t *d)
{
    if (d->step_sync == 1)
        m->step_sync = true;
    if (d->hidden == 1)
        m->hidden = true;
    if (d->has_summary)
        m->summary = (m->summary & ~WBI_MSUM_NONE) | d->summary;
    if (d->goal > 0)
        m->goal = d->goal;
}

// Points entry idx at its step metric (created first, so it is listed
// before its user) and applies the step_sync default.
static wandb_err s_set_step(wbi_metrics_t *self, int idx, const char *step, int step_sync)
{
    if (!step || strcmp(step, self->list[idx].name) == 0)
        return WANDB_OK;
    int si = s_get_or_add(self, step, strlen(step));
    if (si < 0)
        return self->count >= WBI_METRIC_MAX ? WANDB_EFULL : WANDB_ENOMEM;
    self->list[idx].step_index = si;
    if (step_sync < 0)
        self->list[idx].step_sync = true; // step_sync defaults to true with a step metric
    return WANDB_OK;
}

// True when name[0..len) matches the trailing-'*' pattern.
static bool s_glob_match(const char *pattern, const char *name, size_t len)
{
    size_t plen = strlen(pattern) - 1; // without the '*'
    return len >= plen && memcmp(pattern, name, plen) == 0;
}

// Adds or merges a glob definition.
static wandb_err s_define_glob(wbi_metrics_t *self, const s_def_t *d)
{
    wbi_metric_t *g = NULL;
    for (size_t i = 0; i < self->nglobs; i++)
        if (strcmp(self->globs[i].name, d->name) == 0)
            g = &self->globs[i];
    char *step_copy = NULL;
    if (d->step) {
        step_copy = wbi_strdup(d->step);
        if (!step_copy)
            return WANDB_ENOMEM;
    }
    if (!g) {
        char *copy = wbi_strndup(d->name, d->name_len);
        if (copy)
            g = s_push(&self->globs, &self->nglobs, &self->glob_cap);
        if (!g) {
            wbi_free(copy);
            wbi_free(step_copy);
            return self->nglobs >= WBI_METRIC_MAX ? WANDB_EFULL : WANDB_ENOMEM;
        }
        g->name = copy;
    } else if (d->overwrite) {
        s_reset(g);
    }
    if (step_copy) {
        wbi_free(g->step_name);
        g->step_name = step_copy;
        if (d->step_sync < 0)
            g->step_sync = true;
    }
    s_apply(g, d);
    g->defined = true;
    return WANDB_OK;
}

wandb_err wbi_metrics_define(wbi_metrics_t *self, const json_t *def)
{
    s_def_t d;
    if (s_parse_def(def, &d) != WANDB_OK)
        return WANDB_EINVAL;
    if (d.name[d.name_len - 1] == '*')
        return s_define_glob(self, &d);
    // The step metric's entry goes first, so create it before the metric.
    if (d.step && strcmp(d.step, d.name) != 0 && s_get_or_add(self, d.step, strlen(d.step)) < 0)
        return self->count >= WBI_METRIC_MAX ? WANDB_EFULL : WANDB_ENOMEM;
    int idx = s_get_or_add(self, d.name, d.name_len);
    if (idx < 0)
        return self->count >= WBI_METRIC_MAX ? WANDB_EFULL : WANDB_ENOMEM;
    if (d.overwrite)
        s_reset(&self->list[idx]);
    wandb_err rc = s_set_step(self, idx, d.step, d.step_sync);
    if (rc != WANDB_OK)
        return rc;
    s_apply(&self->list[idx], &d);
    self->list[idx].defined = true;
    return WANDB_OK;
}

int wbi_metrics_match(wbi_metrics_t *self, const char *name, size_t len, bool *created)
{
    *created = false;
    int i = wbi_metrics_find(self, name, len);
    if (i >= 0)
        return i;
    for (size_t g = 0; g < self->nglobs; g++) {
        if (!s_glob_match(self->globs[g].name, name, len))
            continue;
        // Copy what we need first: the list may move while we append.
        wbi_metric_t glob = self->globs[g];
        if (glob.step_name && strlen(glob.step_name) == len &&
            memcmp(glob.step_name, name, len) == 0)
            glob.step_name = NULL; // a metric is not its own step
        if (glob.step_name && s_get_or_add(self, glob.step_name, strlen(glob.step_name)) < 0)
            return -1;
        int idx = s_get_or_add(self, name, len);
        if (idx < 0)
            return -1;
        wbi_metric_t *m = &self->list[idx];
        if (glob.step_name)
            m->step_index = wbi_metrics_find(self, glob.step_name, strlen(glob.step_name));
        m->step_sync = glob.step_sync;
        m->hidden = glob.hidden;
        m->summary = glob.summary;
        m->goal = glob.goal;
        m->defined = false; // created from a glob
        m->from_glob = true;
        *created = true;
        return idx;
    }
    return -1;
}

// Appends the field numbers of the set bits of flags (1..15) to arr.
static void s_flag_list(json_t *arr, unsigned flags, unsigned skip)
{
    for (int n = 1; n < 16; n++)
        if ((flags & (1u << n)) && !(skip & (1u << n)))
            json_array_append_new(arr, json_integer(n));
}

// Fills pos[i] with the 1-based place of entry i in the encoded list, 0 when
// it is left out: an entry is listed when defined, created from a glob, or
// the step metric of a listed entry.
static void s_encoded_places(const wbi_metrics_t *self, int *pos)
{
    for (size_t i = 0; i < self->count; i++)
        pos[i] = self->list[i].defined || self->list[i].from_glob;
    for (size_t i = 0; i < self->count; i++)
        if (pos[i] && self->list[i].step_index >= 0)
            pos[self->list[i].step_index] = 1;
    int n = 0;
    for (size_t i = 0; i < self->count; i++)
        pos[i] = pos[i] ? ++n : 0;
}

json_t *wbi_metrics_encode(const wbi_metrics_t *self)
{
    json_t *list = json_array();
    int *pos = wbi_calloc(self->count ? self->count : 1, sizeof(*pos));
    if (!list || !pos) {
        json_decref(list);
        wbi_free(pos);
        return NULL;
    }
    s_encoded_places(self, pos);
    for (size_t i = 0; i < self->count; i++) {
        const wbi_metric_t *m = &self->list[i];
        if (!pos[i])
            continue;
        json_t *rec = json_object();
        json_t *opts = json_array();
        json_t *sum = json_array();
        if (!rec || !opts || !sum) {
            json_decref(rec);
            json_decref(opts);
            json_decref(sum);
            json_decref(list);
            wbi_free(pos);
            return NULL;
        }
        json_object_set_new(rec, "1", json_string(m->name));
        if (m->step_index >= 0)
            json_object_set_new(rec, "5", json_integer(pos[m->step_index]));
        unsigned o =
            (m->step_sync ? 1u << 1 : 0) | (m->hidden ? 1u << 2 : 0) | (m->defined ? 1u << 3 : 0);
        s_flag_list(opts, o, 0);
        json_object_set_new(rec, "6", opts);
        // wandb-core drops best (4) and copy (7).
        s_flag_list(sum, m->summary, WBI_MSUM_BEST | WBI_MSUM_COPY);
        json_object_set_new(rec, "7", sum);
        if (m->goal > 0)
            json_object_set_new(rec, "8", json_integer(m->goal));
        json_array_append_new(list, rec);
    }
    wbi_free(pos);
    return list;
}
