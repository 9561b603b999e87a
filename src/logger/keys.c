//  keys.c - the key interning table of a run
//  SPDX-License-Identifier: MIT
#include "logger/keys.h"

#include "common/alloc.h"
#include <stdbool.h>
#include <string.h>

// Sizes the table to twice the capacity (load factor <= 0.5) and allocates
// slots, entries and arena once.
wandb_err wbi_keys_init(wbi_keys_t *self, uint32_t max, size_t avg_len)
{
    memset(self, 0, sizeof(*self));
    if (max == 0 || max > (1u << 24) || avg_len == 0 || avg_len > 255)
        return WANDB_EINVAL;
    uint32_t nslots = 16;
    while (nslots < 2 * max)
        nslots <<= 1;
    self->slots = wbi_calloc(nslots, sizeof(*self->slots));
    self->entries = wbi_calloc(max, sizeof(*self->entries));
    self->arena_cap = (size_t)max * avg_len;
    self->arena = wbi_malloc(self->arena_cap);
    if (!self->slots || !self->entries || !self->arena) {
        wbi_keys_release(self);
        return WANDB_ENOMEM;
    }
    self->nslots = nslots;
    self->max = max;
    return WANDB_OK;
}

// Frees the table; the struct can be initialised again.
void wbi_keys_release(wbi_keys_t *self)
{
    if (!self)
        return;
    wbi_free(self->slots);
    wbi_free(self->entries);
    wbi_free(self->arena);
    memset(self, 0, sizeof(*self));
}

// Hashes len bytes 8 at a time (multiply-xorshift mixing): a byte-wise hash
// would cost a dependent multiply per byte on the log() hot path.
static inline uint32_t s_hash(const char *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    if (i < len) {
        uint64_t w = 0;
        for (size_t j = 0; i + j < len; j++)
            w |= (uint64_t)(uint8_t)key[i + j] << (8 * j);
        h = (h ^ w) * 0x94D049BB133111EBull;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

// Compares len bytes, 8 at a time (keys are short: avoids a libc call).
static inline bool s_equal(const char *a, const char *b, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    for (; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

// Length (capped at 256), hash, then a linear probe comparing bytes.
uint32_t wbi_keys_find(const wbi_keys_t *self, const char *key, size_t *len_out, uint32_t *hash_out)
{
    size_t len = strnlen(key, 256);
    uint32_t h = s_hash(key, len);
    *len_out = len;
    *hash_out = h;
    uint32_t mask = self->nslots - 1;
    for (uint32_t i = h & mask, probes = 0; probes < self->nslots; i = (i + 1) & mask, probes++) {
        uint32_t e = self->slots[i];
        if (e == 0)
            return 0;
        const wbi_key_entry_t *ent = &self->entries[e - 1];
        if (ent->hash == h && ent->len == len && s_equal(self->arena + ent->off, key, len))
            return e;
    }
    return 0;
}

// Appends the bytes to the arena and claims the first empty slot of the
// probe sequence (the table is never more than half full).
wandb_err wbi_keys_add(wbi_keys_t *self, const char *key, size_t len, uint32_t hash,
                       uint32_t *id_out)
{
    if (len == 0 || len > 255)
        return WANDB_EINVAL;
    if (self->count >= self->max || self->arena_cap - self->arena_len < len)
        return WANDB_EFULL;
    uint32_t mask = self->nslots - 1;
    uint32_t i = hash & mask;
    while (self->slots[i] != 0)
        i = (i + 1) & mask;
    wbi_key_entry_t *ent = &self->entries[self->count];
    ent->hash = hash;
    ent->slot = i;
    ent->off = (uint32_t)self->arena_len;
    ent->len = (uint16_t)len;
    memcpy(self->arena + self->arena_len, key, len);
    self->arena_len += len;
    self->count++;
    self->slots[i] = self->count;
    *id_out = self->count;
    return WANDB_OK;
}

// Removing in reverse insertion order is safe with linear probing: no key
// still present was inserted after (and so probed past) a removed one.
void wbi_keys_truncate(wbi_keys_t *self, uint32_t count)
{
    while (self->count > count) {
        wbi_key_entry_t *ent = &self->entries[self->count - 1];
        self->slots[ent->slot] = 0;
        self->arena_len = ent->off;
        self->count--;
    }
}

// Returns the interned bytes of id.
const char *wbi_keys_get(const wbi_keys_t *self, uint32_t id, size_t *len_out)
{
    if (id == 0 || id > self->count)
        return NULL;
    const wbi_key_entry_t *ent = &self->entries[id - 1];
    *len_out = ent->len;
    return self->arena + ent->off;
}
