//  media_json.c - JSON text as the official client writes its media files
//  SPDX-License-Identifier: MIT
//
//  Numbers: the shortest round-trip digits come from common/dtoa.c; only
//  the layout changes, to ryu's (format64): with k digits d1..dk and the
//  decimal point after position kk (value = 0.d1..dk * 10^kk), plain when
//  -5 < kk <= 16 ("123.0" when integral, "0.00123"), else scientific with
//  a signed exponent ("1e+16", "1.5e-7"), as pydantic_core writes it. Thread: any.
#include "logger/media_json.h"

#include "common/dtoa.h"
#include "common/jsonx.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wandb_err wbi_mjson_double(wbi_buf_t *out, double d)
{
    if (!isfinite(d))
        return wbi_jsonx_put_double(out, d);
    char txt[WBI_DTOA_BUFSIZE];
    wbi_dtoa(d, txt);
    // Split the %g-style text into sign, digits and the exponent of the first digit.
    const char *p = txt;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[32];
    int nd = 0;
    int point = -1; // digits before '.', -1 while none seen
    int exp = 0;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.')
            point = nd;
        else if (nd < 30)
            digits[nd++] = *p;
    }
    if (point < 0)
        point = nd;
    if (*p == 'e')
        exp = (int)strtol(p + 1, NULL, 10);
    // Drop leading zeros (for 0.00x) and trailing zeros.
    int lead = 0;
    while (lead < nd - 1 && digits[lead] == '0') {
        lead++;
        point--;
    }
    memmove(digits, digits + lead, (size_t)(nd - lead));
    nd -= lead;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int kk = point + exp; // value = 0.digits * 10^kk
    if (nd == 1 && digits[0] == '0')
        kk = 1;
    char buf[64];
    int n = 0;
    if (neg)
        buf[n++] = '-';
    if (kk > 0 && kk <= 16) {
        for (int i = 0; i < kk; i++)
            buf[n++] = i < nd ? digits[i] : '0';
        buf[n++] = '.';
        if (nd <= kk)
            buf[n++] = '0';
        for (int i = kk; i < nd; i++)
            buf[n++] = digits[i];
    } else if (kk > -5 && kk <= 0) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -kk; i++)
            buf[n++] = '0';
        for (int i = 0; i < nd; i++)
            buf[n++] = digits[i];
    } else {
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (int i = 1; i < nd; i++)
                buf[n++] = digits[i];
        }
        n += snprintf(buf + n, sizeof buf - (size_t)n, "e%+d", kk - 1);
    }
    return wbi_buf_append(out, buf, (size_t)n);
}

wandb_err wbi_mjson_string(wbi_buf_t *out, const char *s, size_t len)
{
    if (!wbi_utf8_valid(s, len))
        return WANDB_EINVAL;
    wandb_err e = wbi_buf_putc(out, '"');
    size_t run = 0; // start of the bytes not yet copied
    for (size_t i = 0; e == WANDB_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        e = wbi_buf_append(out, s + run, i - run);
        run = i + 1;
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (e == WANDB_OK)
            e = esc ? wbi_buf_puts(out, esc) : wbi_buf_printf(out, "\\u%04x", c);
    }
    if (e == WANDB_OK)
        e = wbi_buf_append(out, s + run, len - run);
    return e == WANDB_OK ? wbi_buf_putc(out, '"') : e;
}

wandb_err wbi_mjson_value(wbi_buf_t *out, const json_t *v)
{
    double d;
    if (wbi_jsonx_is_nonfinite(v, &d))
        return wbi_jsonx_put_double(out, d);
    switch (json_typeof(v)) {
    case JSON_NULL:
        return wbi_buf_puts(out, "null");
    case JSON_TRUE:
        return wbi_buf_puts(out, "true");
    case JSON_FALSE:
        return wbi_buf_puts(out, "false");
    case JSON_INTEGER:
        return wbi_jsonx_put_int(out, (int64_t)json_integer_value(v));
    case JSON_REAL:
        return wbi_mjson_double(out, json_real_value(v));
    case JSON_STRING:
        return wbi_mjson_string(out, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        wandb_err e = wbi_buf_putc(out, '[');
        for (size_t i = 0; e == WANDB_OK && i < json_array_size(v); i++) {
            if (i)
                e = wbi_buf_putc(out, ',');
            if (e == WANDB_OK)
                e = wbi_mjson_value(out, json_array_get(v, i));
        }
        return e == WANDB_OK ? wbi_buf_putc(out, ']') : e;
    }
    case JSON_OBJECT: {
        wandb_err e = wbi_buf_putc(out, '{');
        const char *key;
        json_t *item;
        bool first = true;
        json_object_foreach((json_t *)v, key, item)
        {
            if (e == WANDB_OK && !first)
                e = wbi_buf_putc(out, ',');
            first = false;
            if (e == WANDB_OK)
                e = wbi_mjson_string(out, key, strlen(key));
            if (e == WANDB_OK)
                e = wbi_buf_putc(out, ':');
            if (e == WANDB_OK)
                e = wbi_mjson_value(out, item);
        }
        return e == WANDB_OK ? wbi_buf_putc(out, '}') : e;
    }
    }
    return WANDB_EINVAL;
}
