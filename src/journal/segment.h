//  segment.h - segment file names, paths, listing and byte order, for writer and reader
//  SPDX-License-Identifier: MIT
//
//  A segment is named by its number printed with "%06u" and the suffix ".wjl"; numbers start
//  at 1. Only names that "%06u.wjl" would print are segments ("1.wjl" and "0000001.wjl" are
//  not). Thread: any (no state).
#ifndef WBI_JOURNAL_SEGMENT_H
#define WBI_JOURNAL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// True when name is a segment file name; its number goes to *seq.
bool wbi_jseg_parse(const char *name, uint32_t *seq);
// Returns "dir/NNNNNN.wjl" (one slash even when dir ends with one); free with wbi_free.
// NULL when out of memory.
char *wbi_jseg_path(const char *dir, uint32_t seq);
// Lists the segment numbers in dir, ascending, into *seqs (free with wbi_free; NULL when
// there are none) and their count into *n. Returns 0 or an errno value (ENOMEM included).
int wbi_jseg_list(const char *dir, uint32_t **seqs, size_t *n);

// Stores v little-endian at p.
static inline void wbi_jle32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

// Loads a little-endian u32 from p.
static inline uint32_t wbi_jle32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
