//  relpath.h - checks of the relative file names runs upload and serve
//  SPDX-License-Identifier: MIT
//
//  One rule for the rank library (wandb_save), the backend client and the
//  server: a run file is named by a relative, '/'-separated path that cannot
//  leave its run directory. Thread: any (no state).
#ifndef WBI_RELPATH_H
#define WBI_RELPATH_H

#include <stdbool.h>

#define WBI_RELPATH_MAX 1024 // bytes in a relative path

// True when s is a safe relative path: not NULL, not empty, not absolute, at
// most WBI_RELPATH_MAX bytes, no empty, "." or ".." segment, no backslash or
// control character (bytes below 0x20 and 0x7f).
bool wbi_rel_path_ok(const char *s);

// True when name is a run-file name the W&B backend accepts:
// wbi_rel_path_ok and valid UTF-8.
bool wbi_run_file_name_ok(const char *name);

#endif
