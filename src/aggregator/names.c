//  names.c - key names shared by every run of an aggregator
//  SPDX-License-Identifier: MIT
#include "aggregator/names.h"
#include "aggregator/history.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/wire.h"
#include <string.h>

void wbi_agg_names_init(wbi_agg_names_t *self)
{
    memset(self, 0, sizeof(*self));
    wbi_smap_init(&self->ids, WBI_AGG_NAMES_MAX);
}

void wbi_agg_names_release(wbi_agg_names_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        wbi_free(self->list[i]);
    wbi_free(self->list);
    wbi_smap_release(&self->ids);
    wbi_agg_names_init(self);
}

uint32_t wbi_agg_names_find(const wbi_agg_names_t *self, const char *name, size_t len)
{
    return wbi_smap_get(&self->ids, name, len);
}

const wbi_agg_name_t *wbi_agg_names_get(const wbi_agg_names_t *self, uint32_t id)
{
    return self->list[id];
}

uint32_t wbi_agg_names_intern(wbi_agg_names_t *self, const char *name, size_t len)
{
    uint32_t id = wbi_smap_get(&self->ids, name, len);
    if (id != WBI_MAP_NONE)
        return id;
    if (len == 0 || len > WBI_WIRE_KEY_MAX || memchr(name, '\0', len) ||
        !wbi_utf8_valid(name, len) || self->count >= WBI_AGG_NAMES_MAX)
        return WBI_MAP_NONE;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        wbi_agg_name_t **p = wbi_realloc(self->list, cap * sizeof(*p));
        if (!p)
            return WBI_MAP_NONE;
        self->list = p;
        self->cap = cap;
    }
    wbi_buf_t pre;
    wbi_buf_init(&pre, 6 * WBI_WIRE_KEY_MAX + 8);
    if (wbi_hist_put_key(&pre, name, len) != WANDB_OK) {
        wbi_buf_release(&pre);
        return WBI_MAP_NONE;
    }
    wbi_agg_name_t *e = wbi_malloc(sizeof(*e) + pre.len + 1 + len + 1);
    if (!e) {
        wbi_buf_release(&pre);
        return WBI_MAP_NONE;
    }
    memcpy(e->prefix, pre.data, pre.len + 1);
    e->prefix_len = (uint32_t)pre.len;
    char *n = e->prefix + pre.len + 1;
    memcpy(n, name, len);
    n[len] = '\0';
    e->name = n;
    e->len = (uint32_t)len;
    e->id = (uint32_t)self->count;
    wbi_buf_release(&pre);
    if (wbi_smap_put(&self->ids, name, len, (uint32_t)self->count) != WANDB_OK) {
        wbi_free(e);
        return WBI_MAP_NONE;
    }
    self->list[self->count] = e;
    return (uint32_t)self->count++;
}
