//  media_json.h - JSON text as the official client writes its media files
//  SPDX-License-Identifier: MIT
//
//  The official client writes table files with pydantic_core.to_json:
//  compact, UTF-8 unescaped, floats in Rust's ryu layout ("1.0", "1e-7",
//  "1.5e+16"), NaN/Infinity as bare tokens. Writing the same bytes makes the
//  same SHA-256, hence the same file name, as the official client for the
//  same table. Thread: any.
#ifndef WBI_MEDIA_JSON_H
#define WBI_MEDIA_JSON_H

#include "common/buf.h"
#include <jansson.h>

// Appends d as ryu lays it out (shortest round-trip digits).
wandb_err wbi_mjson_double(wbi_buf_t *out, double d);
// Appends a quoted string: '"', '\\' and control characters escaped, the
// rest as is. WANDB_EINVAL for invalid UTF-8.
wandb_err wbi_mjson_string(wbi_buf_t *out, const char *s, size_t len);
// Appends a jansson value (non-finite markers of common/jsonx.h as tokens),
// object keys in their order.
wandb_err wbi_mjson_value(wbi_buf_t *out, const json_t *v);

#endif
