//  relpath.c - checks of the relative file names runs upload and serve
//  SPDX-License-Identifier: MIT
#include "common/relpath.h"

#include "common/jsonx.h"
#include <string.h>

// Walks the segments of s; any unsafe one makes it unsafe.
bool wbi_rel_path_ok(const char *s)
{
    if (!s || !*s || *s == '/' || strlen(s) > WBI_RELPATH_MAX)
        return false;
    const char *seg = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        } else if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
}

// A safe relative path that is also UTF-8 (the backend stores names as text).
bool wbi_run_file_name_ok(const char *name)
{
    return wbi_rel_path_ok(name) && wbi_utf8_valid(name, strlen(name));
}
