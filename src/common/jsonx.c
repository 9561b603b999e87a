//  jsonx.c - W&B extended JSON: bare NaN, Infinity, -Infinity tokens
//  SPDX-License-Identifier: MIT
//
//  Parse: the bare tokens outside strings are rewritten into marker strings
//  ("\u0000NaN" ...) before jansson sees the text. Dump: our own compact
//  encoder (not json_dumps), so markers become bare tokens again and doubles
//  get their shortest round-trip form (jansson would write 0.1 as
//  0.10000000000000001).
#include "jsonx.h"
#include "alloc.h"
#include "dtoa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_NAN "\\u0000NaN"
#define MARK_INF "\\u0000Infinity"
#define MARK_NINF "\\u0000-Infinity"

wandb_err wbi_jsonx_put_double(wbi_buf_t *out, double d)
{
    if (isnan(d))
        return wbi_buf_append(out, "NaN", 3);
    if (isinf(d))
        return d > 0 ? wbi_buf_append(out, "Infinity", 8) : wbi_buf_append(out, "-Infinity", 9);
    char tmp[WBI_DTOA_BUFSIZE + 2];
    // The shortest digits that read back to the same double, laid out like %g.
    size_t n = wbi_dtoa(d, tmp);
    // Keep it a float for readers that tell 3 from 3.0.
    if (!memchr(tmp, '.', n) && !memchr(tmp, 'e', n))
        tmp[n++] = '.', tmp[n++] = '0', tmp[n] = '\0';
    return wbi_buf_append(out, tmp, n);
}

wandb_err wbi_jsonx_put_int(wbi_buf_t *out, int64_t i)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)i);
    return wbi_buf_append(out, tmp, (size_t)n);
}

// Length of the UTF-8 sequence starting at s (at most len bytes), 0 if invalid.
static size_t s_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0; // overlong or out of range
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0; // surrogate
    return n;
}

bool wbi_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = s_utf8_seq(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

wandb_err wbi_jsonx_put_string(wbi_buf_t *out, const char *s, size_t len)
{
    if (!wbi_utf8_valid(s, len))
        return WANDB_EINVAL;
    size_t start_len = out->len;
    wandb_err rc = wbi_buf_reserve(out, len + 2);
    if (rc != WANDB_OK)
        return rc;
    rc = wbi_buf_putc(out, '"');
    size_t run = 0; // bytes since the last escape, copied in one go
    for (size_t i = 0; i < len && rc == WANDB_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        rc = wbi_buf_append(out, s + i - run, run);
        run = 0;
        if (rc != WANDB_OK)
            break;
        switch (c) {
        case '"':
            rc = wbi_buf_append(out, "\\\"", 2);
            break;
        case '\\':
            rc = wbi_buf_append(out, "\\\\", 2);
            break;
        case '\n':
            rc = wbi_buf_append(out, "\\n", 2);
            break;
        case '\r':
            rc = wbi_buf_append(out, "\\r", 2);
            break;
        case '\t':
            rc = wbi_buf_append(out, "\\t", 2);
            break;
        default:
            rc = wbi_buf_printf(out, "\\u%04x", c);
        }
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_append(out, s + len - run, run);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '"');
    if (rc != WANDB_OK) {
        out->len = start_len; // all or nothing
        if (out->data)
            out->data[out->len] = '\0';
    }
    return rc;
}

// qsort comparator for object keys.
static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// True when text[i..) starts with word.
static bool s_at(const char *text, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    return len - i >= n && memcmp(text + i, word, n) == 0;
}

// Advances the string state over c; true when c lies outside every string
// (and is not the quote that opens one).
static bool s_outside_string(char c, bool *in_str, bool *esc)
{
    if (*in_str) {
        if (*esc)
            *esc = false;
        else if (c == '\\')
            *esc = true;
        else if (c == '"')
            *in_str = false;
        return false;
    }
    if (c == '"') {
        *in_str = true;
        return false;
    }
    return true;
}

// The bare tokens and the marker strings that stand for them in jansson.
static const struct {
    const char *token;  // as W&B writes it
    const char *marker; // as jansson reads it
} s_tokens[] = {{"NaN", "\"" MARK_NAN "\""},
                {"Infinity", "\"" MARK_INF "\""},
                {"-Infinity", "\"" MARK_NINF "\""}};

json_t *wbi_jsonx_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
    flags |= JSON_ALLOW_NUL | JSON_DECODE_ANY;
    // The worst growth is "NaN" (3 bytes) becoming its 11-byte marker: 4x
    // always has room, so the cap never turns a syntax error into ETOOBIG.
    wbi_buf_t b;
    wbi_buf_init(&b, len * 4 + 64);
    bool in_str = false, esc = false, rewritten = false;
    size_t copied = 0; // text[0..copied) is in b, once a token was rewritten
    wandb_err rc = WANDB_OK;
    for (size_t i = 0; i < len && rc == WANDB_OK; i++) {
        char c = text[i];
        if (!s_outside_string(c, &in_str, &esc) || (c != 'N' && c != 'I' && c != '-'))
            continue;
        for (size_t t = 0; t < sizeof(s_tokens) / sizeof(s_tokens[0]); t++) {
            if (!s_at(text, len, i, s_tokens[t].token))
                continue;
            rc = wbi_buf_append(&b, text + copied, i - copied);
            if (rc == WANDB_OK)
                rc = wbi_buf_puts(&b, s_tokens[t].marker);
            copied = i + strlen(s_tokens[t].token);
            i = copied - 1;
            rewritten = true;
            break;
        }
    }
    if (!rewritten) { // plain JSON: no copy
        wbi_buf_release(&b);
        return json_loadb(text, len, flags, err);
    }
    if (rc == WANDB_OK)
        rc = wbi_buf_append(&b, text + copied, len - copied);
    json_t *j = NULL;
    if (rc == WANDB_OK) {
        j = json_loadb(b.data, b.len, flags, err);
    } else if (err) {
        snprintf(err->text, sizeof err->text, "out of memory");
        err->position = 0;
    }
    wbi_buf_release(&b);
    return j;
}

// Appends one value, compact, recursing into objects and arrays (depth capped).
static wandb_err s_dump(wbi_buf_t *out, const json_t *j, size_t flags, int depth)
{
    if (depth > 256)
        return WANDB_ETOOBIG;
    double d;
    wandb_err rc = WANDB_OK;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        const char **keys = NULL;
        if (n && (flags & JSON_SORT_KEYS)) {
            keys = wbi_malloc(n * sizeof(*keys));
            if (!keys)
                return WANDB_ENOMEM;
            size_t i = 0;
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)j, k, v) keys[i++] = k;
            qsort(keys, n, sizeof(*keys), s_cmp_str);
        }
        rc = wbi_buf_putc(out, '{');
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            const char *key = keys ? keys[i] : k;
            const json_t *val = keys ? json_object_get(j, key) : v;
            if (rc == WANDB_OK && i > 0)
                rc = wbi_buf_putc(out, ',');
            if (rc == WANDB_OK)
                rc = wbi_jsonx_put_string(out, key, strlen(key));
            if (rc == WANDB_OK)
                rc = wbi_buf_putc(out, ':');
            if (rc == WANDB_OK)
                rc = s_dump(out, val, flags, depth + 1);
            i++;
        }
        wbi_free(keys);
        return rc == WANDB_OK ? wbi_buf_putc(out, '}') : rc;
    }
    case JSON_ARRAY:
        rc = wbi_buf_putc(out, '[');
        for (size_t i = 0; rc == WANDB_OK && i < json_array_size(j); i++) {
            if (i > 0)
                rc = wbi_buf_putc(out, ',');
            if (rc == WANDB_OK)
                rc = s_dump(out, json_array_get(j, i), flags, depth + 1);
        }
        return rc == WANDB_OK ? wbi_buf_putc(out, ']') : rc;
    case JSON_STRING:
        if (wbi_jsonx_is_nonfinite(j, &d))
            return wbi_jsonx_put_double(out, d);
        return wbi_jsonx_put_string(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return wbi_jsonx_put_int(out, (int64_t)json_integer_value(j));
    case JSON_REAL:
        return wbi_jsonx_put_double(out, json_real_value(j));
    case JSON_TRUE:
        return wbi_buf_append(out, "true", 4);
    case JSON_FALSE:
        return wbi_buf_append(out, "false", 5);
    case JSON_NULL:
        return wbi_buf_append(out, "null", 4);
    }
    return WANDB_EINVAL;
}

wandb_err wbi_jsonx_dump_buf(wbi_buf_t *out, const json_t *json, size_t flags)
{
    size_t start_len = out->len;
    wandb_err rc = s_dump(out, json, flags, 0);
    if (rc != WANDB_OK) {
        out->len = start_len; // all or nothing
        if (out->data)
            out->data[out->len] = '\0';
    }
    return rc;
}

char *wbi_jsonx_dumps(const json_t *json, size_t flags)
{
    wbi_buf_t b;
    wbi_buf_init(&b, SIZE_MAX / 2);
    if (wbi_jsonx_dump_buf(&b, json, flags) != WANDB_OK) {
        wbi_buf_release(&b);
        return NULL;
    }
    return wbi_buf_steal(&b);
}

json_t *wbi_jsonx_real(double d)
{
    if (isnan(d))
        return json_stringn("\0NaN", 4);
    if (isinf(d))
        return d > 0 ? json_stringn("\0Infinity", 9) : json_stringn("\0-Infinity", 10);
    return json_real(d);
}

bool wbi_jsonx_is_nonfinite(const json_t *j, double *d_out)
{
    if (!json_is_string(j) || json_string_length(j) < 2 || json_string_value(j)[0] != '\0')
        return false;
    const char *s = json_string_value(j) + 1;
    size_t n = json_string_length(j) - 1;
    double d;
    if (n == 3 && memcmp(s, "NaN", 3) == 0)
        d = NAN;
    else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
        d = INFINITY;
    else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
        d = -INFINITY;
    else
        return false;
    if (d_out)
        *d_out = d;
    return true;
}

bool wbi_jsonx_number(const json_t *j, double *d_out)
{
    if (json_is_integer(j)) {
        *d_out = (double)json_integer_value(j);
        return true;
    }
    if (json_is_real(j)) {
        *d_out = json_real_value(j);
        return true;
    }
    return wbi_jsonx_is_nonfinite(j, d_out);
}
