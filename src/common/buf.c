//  buf.c - a growable byte buffer with a hard cap
//  SPDX-License-Identifier: MIT
#include "buf.h"
#include "alloc.h"

#include <stdio.h>
#include <string.h>

void wbi_buf_init(wbi_buf_t *self, size_t max)
{
    *self = (wbi_buf_t){.max = max};
}

void wbi_buf_release(wbi_buf_t *self)
{
    wbi_free(self->data);
    *self = (wbi_buf_t){.max = self->max};
}

void wbi_buf_reset(wbi_buf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

// Makes room for extra more bytes plus the terminating NUL, doubling.
wandb_err wbi_buf_reserve(wbi_buf_t *self, size_t extra)
{
    if (extra > self->max || self->len > self->max - extra)
        return WANDB_ETOOBIG;
    size_t need = self->len + extra + 1;
    if (need <= self->cap)
        return WANDB_OK;
    size_t cap = self->cap ? self->cap : 64;
    while (cap < need)
        cap *= 2;
    char *data = wbi_realloc(self->data, cap);
    if (!data)
        return WANDB_ENOMEM;
    self->data = data;
    self->cap = cap;
    return WANDB_OK;
}

wandb_err wbi_buf_append(wbi_buf_t *self, const void *data, size_t len)
{
    wandb_err rc = wbi_buf_reserve(self, len);
    if (rc != WANDB_OK)
        return rc;
    if (len)
        memcpy(self->data + self->len, data, len);
    self->len += len;
    self->data[self->len] = '\0';
    return WANDB_OK;
}

wandb_err wbi_buf_puts(wbi_buf_t *self, const char *s)
{
    return wbi_buf_append(self, s, strlen(s));
}

wandb_err wbi_buf_putc(wbi_buf_t *self, char c)
{
    return wbi_buf_append(self, &c, 1);
}

wandb_err wbi_buf_vprintf(wbi_buf_t *self, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return WANDB_EINVAL;
    wandb_err rc = wbi_buf_reserve(self, (size_t)n);
    if (rc != WANDB_OK)
        return rc;
    vsnprintf(self->data + self->len, (size_t)n + 1, fmt, ap);
    self->len += (size_t)n;
    return WANDB_OK;
}

wandb_err wbi_buf_printf(wbi_buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wandb_err rc = wbi_buf_vprintf(self, fmt, ap);
    va_end(ap);
    return rc;
}

char *wbi_buf_steal(wbi_buf_t *self)
{
    char *data = self->data;
    if (!data)
        data = wbi_strdup("");
    *self = (wbi_buf_t){.max = self->max};
    return data;
}
