//  keys.h - the key interning table of a run
//  SPDX-License-Identifier: MIT
//
//  Maps key strings to small ids (1, 2, 3, ... in order of first use) with a
//  fixed-capacity open-addressing table (linear probing, a word-wise hash of
//  the bytes, never the pointer: callers reuse buffers) and a preallocated arena
//  for the key bytes. Nothing allocates after init. Keys added tentatively
//  can be rolled back in reverse order (a log call that fails stores
//  nothing). Thread: the owning run's lock.
#ifndef WBI_KEYS_H
#define WBI_KEYS_H

#include "wandb.h"
#include <string.h>

#define WBI_KEYS_DEFAULT_MAX 4096

typedef struct {
    uint32_t hash; // hash of the key bytes
    uint32_t slot; // index in slots (for rollback)
    uint32_t off;  // offset of the bytes in the arena
    uint16_t len;  // key length in bytes (1..255)
} wbi_key_entry_t;

typedef struct {
    uint32_t *slots;          // nslots entries: 0 empty, else entry index + 1
    uint32_t nslots;          // a power of two, at least 2 * max
    wbi_key_entry_t *entries; // max entries, in id order
    uint32_t count;           // keys interned
    uint32_t max;             // capacity in keys
    char *arena;              // key bytes, not NUL-terminated
    size_t arena_len;         // bytes used
    size_t arena_cap;         // bytes allocated
} wbi_keys_t;

// Preallocates room for max keys with an arena of max * avg_len bytes for
// their text (keys are 1..255 bytes). WANDB_ENOMEM, WANDB_EINVAL.
wandb_err wbi_keys_init(wbi_keys_t *self, uint32_t max, size_t avg_len);
void wbi_keys_release(wbi_keys_t *self);

// Looks key up. Returns its id (>= 1) or 0 when it is not interned. Always
// sets *len_out to the key length (scanning at most 256 bytes: a longer key
// reports 256) and *hash_out to its hash for a following wbi_keys_add.
uint32_t wbi_keys_find(const wbi_keys_t *self, const char *key, size_t *len_out,
                       uint32_t *hash_out);
// Interns a key that wbi_keys_find did not find. WANDB_EFULL when the table
// or the arena is full. *id_out gets the new id.
wandb_err wbi_keys_add(wbi_keys_t *self, const char *key, size_t len, uint32_t hash,
                       uint32_t *id_out);
// Removes every key with an id above count (the most recent ones first).
void wbi_keys_truncate(wbi_keys_t *self, uint32_t count);
// True when id (1..count) is exactly the NUL-terminated key (bytes, not
// pointer: a hint cached by pointer is verified with this). strncmp stops at
// the caller's NUL, so a buffer now holding a shorter key is never read past.
static inline bool wbi_keys_match(const wbi_keys_t *self, uint32_t id, const char *key)
{
    if (id == 0 || id > self->count)
        return false;
    const wbi_key_entry_t *ent = &self->entries[id - 1];
    return strncmp(self->arena + ent->off, key, ent->len) == 0 && key[ent->len] == '\0';
}

// The bytes and length of id (1..count); NULL for an unknown id.
const char *wbi_keys_get(const wbi_keys_t *self, uint32_t id, size_t *len_out);

#endif
