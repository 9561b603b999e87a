//  base64.h - standard base64 (RFC 4648 section 4, with padding)
//  SPDX-License-Identifier: MIT
//
//  HTTP Basic credentials (backend client, server) and GraphQL ids (server).
//  Thread: any (no state).
#ifndef WBI_BASE64_H
#define WBI_BASE64_H

#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

// Bytes of the encoding of len bytes, without the terminating NUL.
#define WBI_B64_LEN(len) (((len) + 2) / 3 * 4)

// Writes the base64 of data[0..len) to dst and NUL-terminates it; dst has
// room for WBI_B64_LEN(len) + 1 bytes.
void wbi_b64_encode(char *dst, const void *data, size_t len);
// Appends the base64 of data[0..len) to out.
wandb_err wbi_b64_append(wbi_buf_t *out, const void *data, size_t len);
// Decodes base64 (padding optional, stops at the first '=') into out; false
// on a character outside the alphabet or when out is full.
bool wbi_b64_decode(wbi_buf_t *out, const char *text, size_t len);

#endif
