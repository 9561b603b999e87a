//  check.h - argument checks shared by the run API calls (no state)
//  SPDX-License-Identifier: MIT
//
//  What a key, an alert level or a step may be, and how a rejected name is
//  shown in a warning (invalid bytes escaped). Pure functions; the log()
//  hot path calls none of them once a key is interned. Thread: any.
#ifndef WBI_CHECK_H
#define WBI_CHECK_H

#include "wandb.h"

// Bytes an escaped name needs at most (wbi_check_escape's out).
#define WBI_ESCAPED_BYTES 280

// True for the keys the aggregator writes itself and a caller may not log
// or put in the summary: "_step", "_runtime", "_timestamp", "_wandb".
bool wbi_check_reserved_key(const char *key, size_t len);

// Writes s (NULL: "(null)") into out as printable text: at most max_in
// input bytes; valid UTF-8 and printable ASCII are copied, every other
// byte becomes \xNN, a backslash \\; "..." marks a cut. Returns out.
const char *wbi_check_escape(const char *s, size_t max_in, char *out, size_t outlen);

// Maps an alert level, case-insensitively, to its upper-case name: "INFO",
// "WARN" or "ERROR" (NULL: "INFO"). NULL for anything else.
const char *wbi_check_alert_level(const char *level);

// Number of UTF-8 code points of a valid UTF-8 text.
size_t wbi_check_utf8_chars(const char *s);

#endif
