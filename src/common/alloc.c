//  alloc.c - allocation wrappers that tests can count and make fail
//  SPDX-License-Identifier: MIT
#include "alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// Process-wide counters: the one documented exception to "no mutable
// globals", read by tests and benchmarks only.
static atomic_uint_fast64_t s_count;          // successful allocations
static atomic_uint_fast64_t s_fail_at;        // fail when the countdown reaches 1
static _Thread_local uint64_t s_thread_count; // successful allocations by this thread

// Returns true when the test hook says this allocation must fail.
static bool s_should_fail(void)
{
    uint_fast64_t left = atomic_load_explicit(&s_fail_at, memory_order_relaxed);
    if (left == 0)
        return false;
    return atomic_fetch_sub(&s_fail_at, 1) == 1;
}

// Counts a successful allocation and passes p through.
static void *s_counted(void *p)
{
    if (p) {
        atomic_fetch_add_explicit(&s_count, 1, memory_order_relaxed);
        s_thread_count++;
    }
    return p;
}

void *wbi_malloc(size_t size)
{
    return s_should_fail() ? NULL : s_counted(malloc(size ? size : 1));
}

void *wbi_calloc(size_t count, size_t size)
{
    return s_should_fail() ? NULL : s_counted(calloc(count ? count : 1, size ? size : 1));
}

void *wbi_realloc(void *ptr, size_t size)
{
    return s_should_fail() ? NULL : s_counted(realloc(ptr, size ? size : 1));
}

void wbi_free(void *ptr)
{
    free(ptr);
}

char *wbi_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *copy = wbi_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *wbi_strdup(const char *s)
{
    return s ? wbi_strndup(s, strlen(s)) : NULL;
}

uint64_t wbi_alloc_count(void)
{
    return atomic_load_explicit(&s_count, memory_order_relaxed);
}

uint64_t wbi_alloc_count_thread(void)
{
    return s_thread_count;
}

void wbi_alloc_fail_after(uint64_t n)
{
    atomic_store(&s_fail_at, n);
}
