//  util.h - small helpers of the server: URL paths, directories
//  SPDX-License-Identifier: MIT
//
//  Thread: any (no state).
#ifndef WBI_SRV_UTIL_H
#define WBI_SRV_UTIL_H

#include "common/base64.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/relpath.h"
#include "wandb.h"

// Appends s percent-encoded for a URL path; '/' is kept when keep_slash.
wandb_err wbi_url_path_encode(wbi_buf_t *out, const char *s, bool keep_slash);
// True when s is one safe path segment: wbi_run_file_name_ok (a safe
// relative path in valid UTF-8) and no '/'.
bool wbi_segment_ok(const char *s);
// Creates every directory of path (mode 0700), like mkdir -p.
wandb_err wbi_mkdirs(const char *path);

#define WBI_NAME_CHARS_MAX 128 // characters in a run id, project or entity name

// Checks a run id of len bytes against the W&B rules (docs/server.md): 1 to
// 128 characters of valid UTF-8, no control character (NUL included), no
// leading or trailing whitespace, none of : ; , # ? / ' \ and not "." or
// "..". False with the reason in why.
bool wbi_run_id_check(const char *s, size_t len, char *why, size_t whylen);
// The same for a project or entity name (what: "project" or "entity"):
// 1 to 128 characters, none of / \ # ? % : and no control character.
bool wbi_name_check(const char *what, const char *s, size_t len, char *why, size_t whylen);

#endif
