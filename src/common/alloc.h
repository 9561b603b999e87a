//  alloc.h - allocation wrappers that tests can count and make fail
//  SPDX-License-Identifier: MIT
//
//  All allocations by the project's own code go through these. Its
//  libraries do not: jansson allocates with malloc (json_set_alloc_funcs is
//  not used) and libzmq with its own allocator, so wbi_alloc_count and the
//  failure injection do not see their memory. Thread: any.
#ifndef WBI_ALLOC_H
#define WBI_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *wbi_malloc(size_t size);
void *wbi_calloc(size_t count, size_t size);
void *wbi_realloc(void *ptr, size_t size);
void wbi_free(void *ptr);
// Returns a copy of s (NULL if s is NULL or out of memory); free with wbi_free.
char *wbi_strdup(const char *s);
char *wbi_strndup(const char *s, size_t n);

// Number of successful wbi_malloc/calloc/realloc calls since the start.
uint64_t wbi_alloc_count(void);
// The same, counting only the calling thread's allocations.
uint64_t wbi_alloc_count_thread(void);
// Test hook: the n-th allocation from now fails (0 disables).
void wbi_alloc_fail_after(uint64_t n);

#endif
