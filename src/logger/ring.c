//  ring.c - a single-producer single-consumer byte ring
//  SPDX-License-Identifier: MIT
#include "logger/ring.h"

#include "common/alloc.h"

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
