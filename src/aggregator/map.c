//  map.c - small open-addressing hash maps for the aggregator
//  SPDX-License-Identifier: MIT
//
//  Linear probing, load factor at most 1/2, capacities are powers of two.
#include "aggregator/map.h"
#include "common/alloc.h"
#include <string.h>

#define S_MIN_CAP 16

// Mixes a u32 into a well-spread 64-bit hash (splitmix64 finaliser).
static uint64_t s_hash_u32(uint32_t k)
{
    uint64_t x = (uint64_t)k + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// FNV-1a over bytes.
static uint64_t s_hash_bytes(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

void wbi_imap_init(wbi_imap_t *self, size_t max)
{
    memset(self, 0, sizeof(*self));
    self->max = max;
}

void wbi_imap_release(wbi_imap_t *self)
{
    wbi_free(self->keys);
    wbi_free(self->vals);
    size_t max = self->max;
    wbi_imap_init(self, max);
}

uint32_t wbi_imap_get(const wbi_imap_t *self, uint32_t key)
{
    if (self->cap == 0)
        return WBI_MAP_NONE;
    size_t mask = self->cap - 1;
    for (size_t i = (size_t)s_hash_u32(key) & mask;; i = (i + 1) & mask) {
        if (self->vals[i] == WBI_MAP_NONE)
            return WBI_MAP_NONE;
        if (self->keys[i] == key)
            return self->vals[i];
    }
}

// Puts without growing; the table must have a free slot.
static void s_imap_put_raw(wbi_imap_t *self, uint32_t key, uint32_t val)
{
    size_t mask = self->cap - 1;
    for (size_t i = (size_t)s_hash_u32(key) & mask;; i = (i + 1) & mask) {
        if (self->vals[i] == WBI_MAP_NONE) {
            self->keys[i] = key;
            self->vals[i] = val;
            self->count++;
            return;
        }
        if (self->keys[i] == key) {
            self->vals[i] = val;
            return;
        }
    }
}

// Doubles the table (or creates it).
static wandb_err s_imap_grow(wbi_imap_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : S_MIN_CAP;
    uint32_t *keys = wbi_malloc(cap * sizeof(*keys));
    uint32_t *vals = wbi_malloc(cap * sizeof(*vals));
    if (!keys || !vals) {
        wbi_free(keys);
        wbi_free(vals);
        return WANDB_ENOMEM;
    }
    memset(vals, 0xFF, cap * sizeof(*vals));
    wbi_imap_t old = *self;
    self->keys = keys;
    self->vals = vals;
    self->cap = cap;
    self->count = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.vals[i] != WBI_MAP_NONE)
            s_imap_put_raw(self, old.keys[i], old.vals[i]);
    wbi_free(old.keys);
    wbi_free(old.vals);
    return WANDB_OK;
}

wandb_err wbi_imap_put(wbi_imap_t *self, uint32_t key, uint32_t val)
{
    if (val == WBI_MAP_NONE)
        return WANDB_EINVAL;
    if (wbi_imap_get(self, key) == WBI_MAP_NONE) {
        if (self->count >= self->max)
            return WANDB_EFULL;
        if ((self->count + 1) * 2 > self->cap) {
            wandb_err rc = s_imap_grow(self);
            if (rc != WANDB_OK)
                return rc;
        }
    }
    s_imap_put_raw(self, key, val);
    return WANDB_OK;
}

void wbi_smap_init(wbi_smap_t *self, size_t max)
{
    memset(self, 0, sizeof(*self));
    self->max = max;
}

void wbi_smap_release(wbi_smap_t *self)
{
    for (size_t i = 0; i < self->cap; i++)
        wbi_free(self->slots[i].key);
    wbi_free(self->slots);
    size_t max = self->max;
    wbi_smap_init(self, max);
}

// Returns the slot holding key, or the empty slot where it would go.
static wbi_smap_slot_t *s_smap_find(const wbi_smap_t *self, const void *key, size_t len,
                                    uint64_t hash)
{
    size_t mask = self->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        wbi_smap_slot_t *s = &self->slots[i];
        if (!s->key)
            return s;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

uint32_t wbi_smap_get(const wbi_smap_t *self, const void *key, size_t len)
{
    if (self->cap == 0)
        return WBI_MAP_NONE;
    wbi_smap_slot_t *s = s_smap_find(self, key, len, s_hash_bytes(key, len));
    return s->key ? s->val : WBI_MAP_NONE;
}

// Doubles the table (or creates it), moving the owned keys.
static wandb_err s_smap_grow(wbi_smap_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : S_MIN_CAP;
    wbi_smap_slot_t *slots = wbi_calloc(cap, sizeof(*slots));
    if (!slots)
        return WANDB_ENOMEM;
    wbi_smap_t old = *self;
    self->slots = slots;
    self->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        wbi_smap_slot_t *o = &old.slots[i];
        if (o->key)
            *s_smap_find(self, o->key, o->len, o->hash) = *o;
    }
    wbi_free(old.slots);
    return WANDB_OK;
}

wandb_err wbi_smap_put(wbi_smap_t *self, const void *key, size_t len, uint32_t val)
{
    if (len > UINT32_MAX)
        return WANDB_ETOOBIG;
    uint64_t hash = s_hash_bytes(key, len);
    if (self->cap) {
        wbi_smap_slot_t *s = s_smap_find(self, key, len, hash);
        if (s->key) {
            s->val = val;
            return WANDB_OK;
        }
    }
    if (self->count >= self->max)
        return WANDB_EFULL;
    if ((self->count + 1) * 2 > self->cap) {
        wandb_err rc = s_smap_grow(self);
        if (rc != WANDB_OK)
            return rc;
    }
    char *copy = wbi_malloc(len + 1);
    if (!copy)
        return WANDB_ENOMEM;
    memcpy(copy, key, len);
    copy[len] = '\0';
    wbi_smap_slot_t *s = s_smap_find(self, key, len, hash);
    s->key = copy;
    s->len = (uint32_t)len;
    s->val = val;
    s->hash = hash;
    self->count++;
    return WANDB_OK;
}
