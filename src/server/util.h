//  util.h - small helpers of the server: base64, random ids, paths, time
//  SPDX-License-Identifier: MIT
//
//  Thread: any (no state).
#ifndef WBI_SRV_UTIL_H
#define WBI_SRV_UTIL_H

#include "common/buf.h"
#include "common/relpath.h"
#include "wandb.h"

// Unix time in seconds (CLOCK_REALTIME).
double wbi_now(void);
// Fills out[0..n) with random [a-z0-9] from the kernel and NUL-terminates
// (out has n + 1 bytes). WANDB_EIO when no randomness is available.
wandb_err wbi_random_alnum(char *out, size_t n);
// Appends the standard base64 (with padding) of data to out.
wandb_err wbi_b64_encode(wbi_buf_t *out, const void *data, size_t len);
// Decodes standard base64 (padding optional) into out; false on bad input.
bool wbi_b64_decode(wbi_buf_t *out, const char *text, size_t len);
// Appends s percent-encoded for a URL path; '/' is kept when keep_slash.
wandb_err wbi_url_path_encode(wbi_buf_t *out, const char *s, bool keep_slash);
// True when s is one safe path segment (wbi_rel_path_ok and no '/').
bool wbi_segment_ok(const char *s);
// Creates every directory of path (mode 0755), like mkdir -p.
wandb_err wbi_mkdirs(const char *path);

#endif
