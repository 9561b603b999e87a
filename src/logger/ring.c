//  ring.c - a single-producer single-consumer byte ring
//  SPDX-License-Identifier: MIT
#include "logger/ring.h"

#include "common/alloc.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14
#endif

// Allocates the byte array; the counters start at zero.
wandb_err wbi_ring_init(wbi_ring_t *self, size_t bytes)
{
    size_t cap = WBI_RING_MIN_BYTES;
    while (cap < bytes && cap < WBI_RING_MAX_BYTES)
        cap <<= 1;
    memset(self, 0, sizeof(*self));
    self->data = wbi_malloc(cap);
    if (!self->data)
        return WANDB_ENOMEM;
    self->cap = cap;
    self->mask = cap - 1;
    atomic_init(&self->head, 0);
    atomic_init(&self->tail, 0);
    return WANDB_OK;
}

// Faults in every page of the byte array without changing a byte, so that
// the producer never takes a page fault on first touch (a 1-2 us stall in
// log()). Runs on the consumer thread; a kernel without
// MADV_POPULATE_WRITE just skips it.
void wbi_ring_prefault(wbi_ring_t *self)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return;
    uintptr_t start = ((uintptr_t)self->data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)self->data + self->cap) & ~((uintptr_t)page - 1);
    if (end > start)
        madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

// Frees the byte array and clears the struct.
void wbi_ring_release(wbi_ring_t *self)
{
    if (!self)
        return;
    wbi_free(self->data);
    memset(self, 0, sizeof(*self));
}

// Copies n bytes in as one unit, or nothing when they do not fit.
wandb_err wbi_ring_push(wbi_ring_t *self, const void *src, size_t n)
{
    if (!wbi_ring_reserve(self, n))
        return WANDB_EFULL;
    size_t head = wbi_ring_head(self);
    wbi_ring_write_at(self, head, src, n);
    wbi_ring_publish(self, head + n);
    return WANDB_OK;
}
