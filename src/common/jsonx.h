//  jsonx.h - W&B extended JSON: bare NaN, Infinity, -Infinity tokens
//  SPDX-License-Identifier: MIT
//
//  W&B writes non-finite doubles as bare tokens (not valid JSON). jansson
//  cannot hold them, so on parse each token becomes a marker string
//  ("\u0000NaN", "\u0000Infinity", "\u0000-Infinity") that wbi_jsonx_dumps
//  turns back into the bare token. wbi_jsonx_is_nonfinite() recognises a
//  marker. Writers append directly to a wbi_buf_t. Thread: any.
#ifndef WBI_JSONX_H
#define WBI_JSONX_H

#include "buf.h"
#include <jansson.h>

// Appends d in the shortest form that reads back to the same double;
// integral values keep a ".0"-free form only when written by put_int.
// NaN -> NaN, +inf -> Infinity, -inf -> -Infinity.
wandb_err wbi_jsonx_put_double(wbi_buf_t *out, double d);
wandb_err wbi_jsonx_put_int(wbi_buf_t *out, int64_t i);
// Appends a quoted, escaped JSON string. Returns WANDB_EINVAL (and appends
// nothing) when s is not valid UTF-8.
wandb_err wbi_jsonx_put_string(wbi_buf_t *out, const char *s, size_t len);

// True when s[0..len) is valid UTF-8 (no overlongs, no surrogates).
bool wbi_utf8_valid(const char *s, size_t len);

// Parses extended JSON. Returns a new reference or NULL with err filled in
// (line, column, position, text). flags as for json_loadb.
json_t *wbi_jsonx_loadb(const char *text, size_t len, size_t flags, json_error_t *err);
// Dumps compact JSON with the markers written back as bare tokens and
// doubles in their shortest form. Returns a string to free with wbi_free,
// or NULL. flags: JSON_SORT_KEYS is honoured, the rest ignored (always
// compact, any value). Strings with invalid UTF-8 fail the dump.
char *wbi_jsonx_dumps(const json_t *json, size_t flags);
// Appends the dump of json to out.
wandb_err wbi_jsonx_dump_buf(wbi_buf_t *out, const json_t *json, size_t flags);

// Makes a marker for a non-finite d, or json_real(d) for a finite one.
json_t *wbi_jsonx_real(double d);
// True when j is a marker string; *d_out gets the double it stands for.
bool wbi_jsonx_is_nonfinite(const json_t *j, double *d_out);
// The number in j (integer, real or marker) as a double; false if not a number.
bool wbi_jsonx_number(const json_t *j, double *d_out);

#endif
