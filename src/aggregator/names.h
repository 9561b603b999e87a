//  names.h - key names shared by every run of an aggregator
//  SPDX-License-Identifier: MIT
//
//  All ranks of a job log the same keys, so each distinct name is stored
//  once, with its escaped `"name":` JSON prefix, and runs refer to it by id.
//  Entries never move or change once interned. Thread: the owning thread only.
#ifndef WBI_AGG_NAMES_H
#define WBI_AGG_NAMES_H

#include "aggregator/map.h"

#define WBI_AGG_NAMES_MAX (1u << 22) // distinct key names per aggregator

typedef struct {
    const char *name;    // the key, NUL-terminated UTF-8 (points into this block)
    uint32_t len;        // its length
    uint32_t id;         // its id in the table
    uint32_t prefix_len; // length of prefix
    char prefix[];       // `"escaped name":`, then the NUL-terminated name
} wbi_agg_name_t;

typedef struct {
    wbi_agg_name_t **list; // entries by id
    size_t count;          // entries used
    size_t cap;            // entries allocated
    wbi_smap_t ids;        // name -> id
} wbi_agg_names_t;

void wbi_agg_names_init(wbi_agg_names_t *self);
void wbi_agg_names_release(wbi_agg_names_t *self);
// Interns name[0..len) and returns its id, or WBI_MAP_NONE when the name is
// empty, too long, not UTF-8, contains NUL, or the table is full/out of memory.
uint32_t wbi_agg_names_intern(wbi_agg_names_t *self, const char *name, size_t len);
// Returns the id of an interned name, or WBI_MAP_NONE.
uint32_t wbi_agg_names_find(const wbi_agg_names_t *self, const char *name, size_t len);
// Returns the entry of id (valid id only). Borrowed: valid until release.
const wbi_agg_name_t *wbi_agg_names_get(const wbi_agg_names_t *self, uint32_t id);

#endif
