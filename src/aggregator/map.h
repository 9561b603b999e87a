//  map.h - small open-addressing hash maps for the aggregator
//  SPDX-License-Identifier: MIT
//
//  wbi_imap_t maps a u32 (a wire key id) to a u32 value; wbi_smap_t maps a
//  byte string (a key name, a peer identity) to a u32 value and keeps its own
//  copy of the bytes. Both grow by doubling up to a hard cap on entries and
//  never delete (runs and peers only grow during a job). Thread: the owning
//  thread only.
#ifndef WBI_AGG_MAP_H
#define WBI_AGG_MAP_H

#include "wandb.h"

#define WBI_MAP_NONE UINT32_MAX // lookup result when the key is absent

typedef struct {
    uint32_t *keys; // slot keys (valid where vals[i] != WBI_MAP_NONE)
    uint32_t *vals; // slot values, WBI_MAP_NONE for an empty slot
    size_t cap;     // slots, a power of two (0 before the first put)
    size_t count;   // used slots
    size_t max;     // hard cap on count
} wbi_imap_t;

typedef struct {
    char *key;     // owned copy (NULL: empty slot)
    uint32_t len;  // key bytes
    uint32_t val;  // value
    uint64_t hash; // cached hash of key
} wbi_smap_slot_t;

typedef struct {
    wbi_smap_slot_t *slots; // cap slots
    size_t cap;             // slots, a power of two (0 before the first put)
    size_t count;           // used slots
    size_t max;             // hard cap on count
} wbi_smap_t;

void wbi_imap_init(wbi_imap_t *self, size_t max);
void wbi_imap_release(wbi_imap_t *self);
// Returns the value of key or WBI_MAP_NONE.
uint32_t wbi_imap_get(const wbi_imap_t *self, uint32_t key);
// Inserts or replaces. WANDB_EFULL past max, WANDB_ENOMEM.
wandb_err wbi_imap_put(wbi_imap_t *self, uint32_t key, uint32_t val);

void wbi_smap_init(wbi_smap_t *self, size_t max);
void wbi_smap_release(wbi_smap_t *self);
// Returns the value of key[0..len) or WBI_MAP_NONE.
uint32_t wbi_smap_get(const wbi_smap_t *self, const void *key, size_t len);
// Inserts or replaces (copies key). WANDB_EFULL past max, WANDB_ENOMEM.
wandb_err wbi_smap_put(wbi_smap_t *self, const void *key, size_t len, uint32_t val);

#endif
