//  buf.h - a growable byte buffer with a hard cap
//  SPDX-License-Identifier: MIT
//
//  data is always NUL-terminated (the NUL is not counted in len). Appending
//  past max fails with WANDB_ETOOBIG and leaves the buffer unchanged.
//  Thread: the owning thread only.
#ifndef WBI_BUF_H
#define WBI_BUF_H

#include "wandb.h"
#include <stdarg.h>

typedef struct {
    char *data; // NULL until the first append
    size_t len; // bytes used
    size_t cap; // bytes allocated
    size_t max; // hard cap on len
} wbi_buf_t;

void wbi_buf_init(wbi_buf_t *self, size_t max);
void wbi_buf_release(wbi_buf_t *self);
void wbi_buf_reset(wbi_buf_t *self); // len = 0, keeps the memory
wandb_err wbi_buf_reserve(wbi_buf_t *self, size_t extra);
wandb_err wbi_buf_append(wbi_buf_t *self, const void *data, size_t len);
wandb_err wbi_buf_puts(wbi_buf_t *self, const char *s);
wandb_err wbi_buf_putc(wbi_buf_t *self, char c);
wandb_err wbi_buf_printf(wbi_buf_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
wandb_err wbi_buf_vprintf(wbi_buf_t *self, const char *fmt, va_list ap);
// Hands the data to the caller (free with wbi_free) and resets self.
char *wbi_buf_steal(wbi_buf_t *self);

#endif
