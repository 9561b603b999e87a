//  histscan.c - wandb-mpi-server: a fast reader of numeric history rows
//  SPDX-License-Identifier: MIT
//
//  Reads one history line (a JSON object, W&B extended: bare NaN, Infinity,
//  -Infinity) without building a tree: every numeric leaf, its name
//  flattened with '.', and the x value. About ten times faster than a
//  jansson parse for the dashboard's sampling (routes_sample.c). Anything
//  it does not expect (an escape in a key, deep nesting, a syntax error)
//  makes it answer false, and the caller parses the line with jansson.
//  Thread: any (state is in the caller's row).

#include "server/histscan.h"

#include "common/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_DEPTH_MAX 8 // nested objects followed; deeper: false (jansson)

typedef struct {
    const char *p;                // read position
    const char *end;              // end of the text
    const char *xkey;             // x axis key (flattened name)
    wbi_hist_row_t *row;          // output
    char name[WBI_HIST_NAME_MAX]; // current flattened prefix
} s_scan_t;

static void s_ws(s_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
        s->p++;
}

// Skips a string at s->p ('"'); false when it does not end.
static bool s_skip_string(s_scan_t *s)
{
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\')
            s->p++;
        else if (*s->p == '"') {
            s->p++;
            return true;
        }
    }
    return false;
}

// Skips any value (arrays, nested objects, literals) without looking inside.
static bool s_skip_value(s_scan_t *s)
{
    int depth = 0;
    do {
        s_ws(s);
        if (s->p >= s->end)
            return false;
        char c = *s->p;
        if (c == '"') {
            if (!s_skip_string(s))
                return false;
        } else if (c == '[' || c == '{') {
            depth++;
            s->p++;
        } else if (c == ']' || c == '}') {
            if (--depth < 0)
                return false;
            s->p++;
        } else if (c == ',' || c == ':') {
            if (depth == 0)
                return true;
            s->p++;
        } else {
            while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
                s->p++;
        }
    } while (depth > 0);
    return true;
}

// Appends a pair (name = current prefix + key) to the row.
static bool s_pair(s_scan_t *s, size_t nlen, double v)
{
    wbi_hist_row_t *r = s->row;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        wbi_hist_pair_t *np = wbi_realloc(r->pairs, cap * sizeof *np);
        if (!np)
            return false;
        r->pairs = np;
        r->cap = cap;
    }
    size_t off = r->names.len;
    if (wbi_buf_append(&r->names, s->name, nlen) != WANDB_OK || wbi_buf_putc(&r->names, '\0'))
        return false;
    r->pairs[r->n].name_off = off;
    r->pairs[r->n].value = v;
    r->n++;
    return true;
}

// Reads a number (or NaN / Infinity / -Infinity) at s->p.
static bool s_number(s_scan_t *s, double *out)
{
    const char *p = s->p;
    if (s->end - p >= 3 && memcmp(p, "NaN", 3) == 0) {
        *out = NAN;
        s->p += 3;
        return true;
    }
    if (s->end - p >= 8 && memcmp(p, "Infinity", 8) == 0) {
        *out = INFINITY;
        s->p += 8;
        return true;
    }
    if (s->end - p >= 9 && memcmp(p, "-Infinity", 9) == 0) {
        *out = -INFINITY;
        s->p += 9;
        return true;
    }
    // The line is NUL-terminated in the caller's copy, so strtod stops in it.
    char *e = NULL;
    *out = strtod(p, &e);
    if (!e || e == p || e > s->end)
        return false;
    s->p = e;
    return true;
}

// Reads an object at s->p ('{') whose members are named prefix (plen bytes) + key.
static bool s_object(s_scan_t *s, size_t plen, int depth)
{
    if (depth > S_DEPTH_MAX)
        return false;
    size_t first = s->row->n; // pairs of this object start here (media: dropped)
    bool media = false;       // the object has "_type": a media value, not series
    s->p++;
    s_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        s_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return false;
        const char *k = ++s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\')
            s->p++;
        if (s->p >= s->end || *s->p == '\\')
            return false; // an escaped key: jansson decodes it
        size_t klen = (size_t)(s->p - k);
        s->p++;
        s_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return false;
        s->p++;
        s_ws(s);
        if (s->p >= s->end || plen + klen + 2 >= sizeof s->name)
            return false;
        memcpy(s->name + plen, k, klen);
        size_t nlen = plen + klen;
        s->name[nlen] = '\0';
        char c = *s->p;
        bool is_x = strcmp(s->name, s->xkey) == 0;
        if (klen == 5 && memcmp(k, "_type", 5) == 0 && depth > 0)
            media = true;
        if (c == '{' && k[0] != '_') {
            s->name[nlen] = '.';
            if (!s_object(s, nlen + 1, depth + 1))
                return false;
        } else if (c == '-' || c == 'N' || c == 'I' || (c >= '0' && c <= '9')) {
            double v;
            if (!s_number(s, &v))
                return false;
            if (is_x) {
                s->row->has_x = true;
                s->row->x = v;
            } else if (k[0] != '_' && !s_pair(s, nlen, v)) {
                return false;
            }
        } else if (!s_skip_value(s)) {
            return false;
        }
        s_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            if (media)
                s->row->n = first;
            return true;
        }
        return false;
    }
}

bool wbi_hist_scan(const char *text, size_t len, const char *xkey, wbi_hist_row_t *row)
{
    row->n = 0;
    row->has_x = false;
    wbi_buf_reset(&row->names);
    s_scan_t s = {.p = text, .end = text + len, .xkey = xkey, .row = row};
    s_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return false;
    if (!s_object(&s, 0, 0))
        return false;
    s_ws(&s);
    return s.p == s.end;
}

void wbi_hist_row_release(wbi_hist_row_t *row)
{
    wbi_free(row->pairs);
    wbi_buf_release(&row->names);
    memset(row, 0, sizeof *row);
}
