//  series.c - wandb-mpi-server: numeric series of one run's history, and their cache
//  SPDX-License-Identifier: MIT
//
//  See series.h. Points are kept whole (16 bytes each); the sampling to
//  about N points happens when the JSON is written, so a set read once
//  serves every later request and every sample size.

#include "server/series.h"

#include "common/alloc.h"
#include "common/dtoa.h"
#include "common/jsonx.h"
#include "server/histscan.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S_KEYS_MAX 2000 // series per run (the rest are dropped, "truncated": true)
#define S_NAME_MAX 512  // bytes of a flattened metric name

typedef struct {
    double *x;  // x values
    double *y;  // y values (NaN: non-finite)
    size_t n;   // points
    size_t cap; // allocated points
} s_series_t;

struct wbi_series_set {
    int64_t run_id;         // the run's storage id
    char *xkey;             // the x axis key
    char *keys;             // the filter as given ("" when none)
    int64_t lines;          // history lines read
    size_t bytes;           // memory held by points and names (about)
    uint64_t used;          // LRU clock of the last give
    wbi_series_set_t *next; // next in the cache
    json_t *want;           // {key: true} filter, NULL: every key
    json_t *index;          // key -> series index
    s_series_t *series;     // the series
    char **names;           // their keys
    size_t n;               // series
    size_t cap;             // allocated
    bool truncated;         // keys over S_KEYS_MAX were dropped
    bool failed;            // out of memory
};
typedef wbi_series_set_t s_acc_t;

// Adds the point (x, y) to series key.
static void s_add_point(s_acc_t *acc, const char *key, double x, double y)
{
    if (acc->want && !json_object_get(acc->want, key))
        return;
    json_t *idx = json_object_get(acc->index, key);
    size_t i;
    if (idx) {
        i = (size_t)json_integer_value(idx);
    } else {
        if (acc->n >= S_KEYS_MAX) {
            acc->truncated = true;
            return;
        }
        if (acc->n == acc->cap) {
            size_t cap = acc->cap ? acc->cap * 2 : 16;
            s_series_t *s = wbi_realloc(acc->series, cap * sizeof *s);
            if (s)
                acc->series = s;
            char **names = s ? wbi_realloc(acc->names, cap * sizeof *names) : NULL;
            if (names)
                acc->names = names;
            if (!s || !names) {
                acc->failed = true;
                return;
            }
            acc->cap = cap;
        }
        i = acc->n;
        acc->names[i] = wbi_strdup(key);
        if (!acc->names[i] || json_object_set_new(acc->index, key, json_integer((json_int_t)i))) {
            wbi_free(acc->names[i]);
            acc->failed = true;
            return;
        }
        memset(&acc->series[i], 0, sizeof acc->series[i]);
        acc->n++;
    }
    s_series_t *s = &acc->series[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *nx = wbi_realloc(s->x, cap * sizeof *nx);
        if (nx)
            s->x = nx;
        double *ny = nx ? wbi_realloc(s->y, cap * sizeof *ny) : NULL;
        if (ny)
            s->y = ny;
        if (!nx || !ny) {
            acc->failed = true;
            return;
        }
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

// Adds every numeric value of obj (names prefixed with prefix) at x.
static void s_walk(s_acc_t *acc, json_t *obj, const char *prefix, double x)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (key[0] == '_')
            continue;
        char name[S_NAME_MAX];
        int n = snprintf(name, sizeof name, "%s%s", prefix, key);
        if (n < 0 || (size_t)n >= sizeof name)
            continue;
        double d;
        if (json_is_object(v) && !json_object_get(v, "_type") && n + 2 < (int)sizeof name) {
            name[n] = '.';
            name[n + 1] = '\0';
            s_walk(acc, v, name, x);
        } else if (wbi_jsonx_number(v, &d)) {
            s_add_point(acc, name, x, d);
        }
        if (acc->failed)
            return;
    }
}

// Parses the copied lines into series: the fast scanner (histscan.c), or
// jansson for a line it leaves (escaped keys, deep nesting).
static void s_parse_lines(s_acc_t *acc, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    wbi_hist_row_t row = {0};
    wbi_buf_init(&row.names, 1u << 20);
    while (p < end && !acc->failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (wbi_hist_scan(p, n, acc->xkey, &row)) {
            for (size_t i = 0; row.has_x && isfinite(row.x) && i < row.n && !acc->failed; i++)
                s_add_point(acc, row.names.data + row.pairs[i].name_off, row.x, row.pairs[i].value);
        } else {
            json_error_t jerr;
            json_t *obj = wbi_jsonx_loadb(p, n, 0, &jerr);
            double x;
            if (json_is_object(obj) && wbi_jsonx_number(json_object_get(obj, acc->xkey), &x) &&
                isfinite(x))
                s_walk(acc, obj, "", x);
            json_decref(obj);
        }
        p += n + 1;
    }
    wbi_hist_row_release(&row);
}

// Writes a number (null when not finite).
static wandb_err s_put_num(wbi_buf_t *out, double d)
{
    if (!isfinite(d))
        return wbi_buf_append(out, "null", 4);
    char tmp[40];
    size_t n = wbi_dtoa(d, tmp);
    return wbi_buf_append(out, tmp, n);
}

// Picks the points of s to send (at most about samples): indices into keep.
static size_t s_pick(const s_series_t *s, size_t samples, size_t *keep)
{
    if (s->n <= samples) {
        for (size_t i = 0; i < s->n; i++)
            keep[i] = i;
        return s->n;
    }
    size_t buckets = samples / 2 ? samples / 2 : 1;
    size_t k = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = b * s->n / buckets;
        size_t hi = (b + 1) * s->n / buckets;
        size_t imin = lo;
        size_t imax = lo;
        for (size_t i = lo; i < hi; i++) {
            if (isnan(s->y[imin]) || s->y[i] < s->y[imin])
                imin = i;
            if (isnan(s->y[imax]) || s->y[i] > s->y[imax])
                imax = i;
        }
        size_t a = imin < imax ? imin : imax;
        size_t c = imin < imax ? imax : imin;
        keep[k++] = a;
        if (c != a)
            keep[k++] = c;
    }
    if (keep[k - 1] != s->n - 1)
        keep[k++] = s->n - 1;
    return k;
}

// Writes the series of one run: "name":{"x":[...],"y":[...]},...
static wandb_err s_put_series(wbi_buf_t *out, const s_acc_t *acc, size_t samples)
{
    wandb_err e = WANDB_OK;
    for (size_t i = 0; i < acc->n && e == WANDB_OK; i++) {
        const s_series_t *s = &acc->series[i];
        size_t *keep = wbi_malloc((s->n < samples ? s->n : samples + 2) * sizeof *keep + 1);
        if (!keep)
            return WANDB_ENOMEM;
        size_t k = s_pick(s, samples, keep);
        if (i > 0)
            e = wbi_buf_putc(out, ',');
        if (e == WANDB_OK)
            e = wbi_jsonx_put_string(out, acc->names[i], strlen(acc->names[i]));
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, ":{\"x\":[");
        for (size_t j = 0; j < k && e == WANDB_OK; j++) {
            if (j > 0)
                e = wbi_buf_putc(out, ',');
            if (e == WANDB_OK)
                e = s_put_num(out, s->x[keep[j]]);
        }
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, "],\"y\":[");
        for (size_t j = 0; j < k && e == WANDB_OK; j++) {
            if (j > 0)
                e = wbi_buf_putc(out, ',');
            if (e == WANDB_OK)
                e = s_put_num(out, s->y[keep[j]]);
        }
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, "]}");
        wbi_free(keep);
    }
    return e;
}

// Frees the series of acc (keeps xkey and want).
static void s_acc_release(s_acc_t *acc)
{
    for (size_t i = 0; i < acc->n; i++) {
        wbi_free(acc->series[i].x);
        wbi_free(acc->series[i].y);
        wbi_free(acc->names[i]);
    }
    wbi_free(acc->series);
    wbi_free(acc->names);
    json_decref(acc->index);
}

// Splits "a,b,c" into a {a: true, ...} object; NULL for NULL or "".
static json_t *s_list(const char *csv)
{
    if (!csv || !*csv)
        return NULL;
    json_t *o = json_object();
    const char *p = csv;
    while (o && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && n < S_NAME_MAX) {
            char name[S_NAME_MAX];
            memcpy(name, p, n);
            name[n] = '\0';
            json_object_set_new(o, name, json_true());
        }
        p += n + (comma ? 1 : 0);
    }
    return o;
}

wbi_series_set_t *wbi_series_new(int64_t run_id, const char *xkey, const char *keys)
{
    wbi_series_set_t *set = wbi_calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->run_id = run_id;
    set->xkey = wbi_strdup(xkey);
    set->keys = wbi_strdup(keys ? keys : "");
    set->index = json_object();
    set->want = s_list(keys);
    if (!set->xkey || !set->keys || !set->index || (keys && *keys && !set->want)) {
        wbi_series_destroy(&set);
        return NULL;
    }
    return set;
}

void wbi_series_destroy(wbi_series_set_t **self_p)
{
    wbi_series_set_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    s_acc_release(self);
    json_decref(self->want);
    wbi_free(self->xkey);
    wbi_free(self->keys);
    wbi_free(self);
    *self_p = NULL;
}

int64_t wbi_series_lines(const wbi_series_set_t *self)
{
    return self->lines;
}

bool wbi_series_add_lines(wbi_series_set_t *self, const char *text, size_t len, int64_t next_line)
{
    s_parse_lines(self, text, len);
    if (next_line > self->lines)
        self->lines = next_line;
    return !self->failed;
}

wandb_err wbi_series_put_json(const wbi_series_set_t *self, wbi_buf_t *out, size_t samples)
{
    return s_put_series(out, self, samples);
}

bool wbi_series_is_truncated(const wbi_series_set_t *self)
{
    return self->truncated;
}

// Memory held by a set (points, names), about.
static size_t s_bytes(const wbi_series_set_t *set)
{
    size_t b = sizeof *set + set->cap * (sizeof *set->series + sizeof *set->names);
    for (size_t i = 0; i < set->n; i++)
        b += set->series[i].cap * 2 * sizeof(double) + strlen(set->names[i]) + 64;
    return b;
}

struct wbi_series_cache {
    pthread_mutex_t lock;   // guards the fields below
    wbi_series_set_t *head; // the sets, any order
    size_t bytes;           // their memory
    size_t budget;          // bytes kept at most
    uint64_t clock;         // LRU clock
};

wbi_series_cache_t *wbi_series_cache_new(size_t budget)
{
    wbi_series_cache_t *c = wbi_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->budget = budget;
    return c;
}

void wbi_series_cache_destroy(wbi_series_cache_t **self_p)
{
    wbi_series_cache_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    while (self->head) {
        wbi_series_set_t *s = self->head;
        self->head = s->next;
        wbi_series_destroy(&s);
    }
    pthread_mutex_destroy(&self->lock);
    wbi_free(self);
    *self_p = NULL;
}

wbi_series_set_t *wbi_series_cache_take(wbi_series_cache_t *cache, int64_t run_id, const char *xkey,
                                        const char *keys)
{
    if (!cache)
        return NULL;
    if (!keys)
        keys = "";
    pthread_mutex_lock(&cache->lock);
    wbi_series_set_t **pp = &cache->head;
    while (*pp && !((*pp)->run_id == run_id && strcmp((*pp)->xkey, xkey) == 0 &&
                    strcmp((*pp)->keys, keys) == 0))
        pp = &(*pp)->next;
    wbi_series_set_t *set = *pp;
    if (set) {
        *pp = set->next;
        set->next = NULL;
        cache->bytes -= set->bytes;
    }
    pthread_mutex_unlock(&cache->lock);
    return set;
}

void wbi_series_cache_give(wbi_series_cache_t *self, wbi_series_set_t **set_p)
{
    wbi_series_cache_t *cache = self;
    wbi_series_set_t *set = set_p ? *set_p : NULL;
    if (!set)
        return;
    *set_p = NULL;
    set->bytes = s_bytes(set);
    if (!cache || set->failed || set->bytes > cache->budget) {
        wbi_series_destroy(&set);
        return;
    }
    wbi_series_set_t *drop = NULL;
    pthread_mutex_lock(&cache->lock);
    set->used = ++cache->clock;
    // A set of the same key given back meanwhile (two requests at once): keep the newer.
    for (wbi_series_set_t **pp = &cache->head; *pp; pp = &(*pp)->next) {
        wbi_series_set_t *s = *pp;
        if (s->run_id == set->run_id && strcmp(s->xkey, set->xkey) == 0 &&
            strcmp(s->keys, set->keys) == 0) {
            *pp = s->next;
            cache->bytes -= s->bytes;
            s->next = drop;
            drop = s;
            break;
        }
    }
    set->next = cache->head;
    cache->head = set;
    cache->bytes += set->bytes;
    while (cache->bytes > cache->budget) {
        wbi_series_set_t **oldest = NULL;
        for (wbi_series_set_t **pp = &cache->head; *pp; pp = &(*pp)->next)
            if (!oldest || (*pp)->used < (*oldest)->used)
                oldest = pp;
        wbi_series_set_t *s = *oldest;
        *oldest = s->next;
        cache->bytes -= s->bytes;
        s->next = drop;
        drop = s;
    }
    pthread_mutex_unlock(&cache->lock);
    while (drop) {
        wbi_series_set_t *s = drop;
        drop = s->next;
        wbi_series_destroy(&s);
    }
}
