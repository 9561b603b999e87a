//  ring.h - a single-producer single-consumer byte ring
//  SPDX-License-Identifier: MIT
//
//  A preallocated power-of-two byte array with two monotonically growing
//  counters: head (bytes published by the producer) and tail (bytes consumed
//  by the consumer). Positions are taken modulo the capacity, so a write that
//  crosses the end is copied in two pieces. The producer reserves, writes at
//  its private head, then publishes with a release store; the consumer reads
//  head with an acquire load and frees space with a release store of tail.
//  Design note: docs/logger.md. Thread: one producer thread (or producers
//  serialized by a lock) and one consumer thread.
#ifndef WBI_RING_H
#define WBI_RING_H

#include "wandb.h"
#include <stdatomic.h>
#include <string.h>

#define WBI_RING_MIN_BYTES (64u * 1024u)
#define WBI_RING_MAX_BYTES (1u << 30)

typedef struct {
    uint8_t *data;                   // cap bytes, preallocated
    size_t cap;                      // capacity, a power of two
    size_t mask;                     // cap - 1
    _Alignas(64) atomic_size_t head; // bytes ever published (producer writes)
    size_t tail_cache;               // producer's last view of tail
    _Alignas(64) atomic_size_t tail; // bytes ever consumed (consumer writes)
    char pad[64 - sizeof(size_t)];   // keeps tail alone on its cache line
} wbi_ring_t;

// Allocates a ring of at least bytes (rounded up to a power of two, clamped
// to [WBI_RING_MIN_BYTES, WBI_RING_MAX_BYTES]). WANDB_ENOMEM on failure.
wandb_err wbi_ring_init(wbi_ring_t *self, size_t bytes);
// Frees the memory; the struct can be initialised again.
void wbi_ring_release(wbi_ring_t *self);
// Faults in every page without changing a byte (consumer thread). Thread: any.
void wbi_ring_prefault(wbi_ring_t *self);

// --- producer side ------------------------------------------------------------

// The position the next reserved bytes start at. Producer only.
static inline size_t wbi_ring_head(const wbi_ring_t *self)
{
    return atomic_load_explicit(&self->head, memory_order_relaxed);
}

// True when n more bytes fit; refreshes the cached tail only when needed.
// Producer only.
static inline bool wbi_ring_reserve(wbi_ring_t *self, size_t n)
{
    size_t head = wbi_ring_head(self);
    if (self->cap - (head - self->tail_cache) >= n)
        return true;
    self->tail_cache = atomic_load_explicit(&self->tail, memory_order_acquire);
    return self->cap - (head - self->tail_cache) >= n;
}

// Copies n bytes to position pos (which may wrap). Both sides use it.
static inline void wbi_ring_write_at(wbi_ring_t *self, size_t pos, const void *src, size_t n)
{
    size_t off = pos & self->mask;
    size_t first = self->cap - off;
    if (n <= first) {
        memcpy(self->data + off, src, n);
    } else {
        memcpy(self->data + off, src, first);
        memcpy(self->data, (const uint8_t *)src + first, n - first);
    }
}

// Makes every byte before new_head visible to the consumer. Producer only.
static inline void wbi_ring_publish(wbi_ring_t *self, size_t new_head)
{
    atomic_store_explicit(&self->head, new_head, memory_order_release);
}

// Reserve + write + publish in one: WANDB_EFULL when n bytes do not fit.
wandb_err wbi_ring_push(wbi_ring_t *self, const void *src, size_t n);

// --- consumer side ------------------------------------------------------------

// Bytes published and not yet consumed. Consumer only.
static inline size_t wbi_ring_readable(const wbi_ring_t *self)
{
    size_t head = atomic_load_explicit(&((wbi_ring_t *)self)->head, memory_order_acquire);
    return head - atomic_load_explicit(&((wbi_ring_t *)self)->tail, memory_order_relaxed);
}

// The position of the first unconsumed byte. Consumer only.
static inline size_t wbi_ring_tail(const wbi_ring_t *self)
{
    return atomic_load_explicit(&((wbi_ring_t *)self)->tail, memory_order_relaxed);
}

// Copies n bytes starting at position pos (which may wrap) into dst.
static inline void wbi_ring_read_at(const wbi_ring_t *self, size_t pos, void *dst, size_t n)
{
    size_t off = pos & self->mask;
    size_t first = self->cap - off;
    if (n <= first) {
        memcpy(dst, self->data + off, n);
    } else {
        memcpy(dst, self->data + off, first);
        memcpy((uint8_t *)dst + first, self->data, n - first);
    }
}

// Frees n bytes at the tail for the producer. Consumer only.
static inline void wbi_ring_consume(wbi_ring_t *self, size_t n)
{
    size_t tail = atomic_load_explicit(&self->tail, memory_order_relaxed);
    atomic_store_explicit(&self->tail, tail + n, memory_order_release);
}

#endif
