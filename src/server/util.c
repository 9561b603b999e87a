//  util.c - small helpers of the server: URL paths, directories
//  SPDX-License-Identifier: MIT

#include "server/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// Percent-encodes everything but unreserved characters (and maybe '/').
wandb_err wbi_url_path_encode(wbi_buf_t *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    wandb_err e = WANDB_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && e == WANDB_OK; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            e = wbi_buf_putc(out, (char)c);
        } else {
            char q[3] = {'%', hex[c >> 4], hex[c & 15]};
            e = wbi_buf_append(out, q, 3);
        }
    }
    return e;
}

// One segment, no slash, valid UTF-8 (MHD has already decoded %XX).
bool wbi_segment_ok(const char *s)
{
    return wbi_run_file_name_ok(s) && !strchr(s, '/');
}

// mkdir -p.
wandb_err wbi_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return WANDB_EINVAL;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char saved = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return WANDB_EIO;
            tmp[i] = saved;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return WANDB_EIO;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return WANDB_EIO;
    }
    return WANDB_OK;
}

// Counts UTF-8 characters (the text is known to be valid UTF-8).
static size_t s_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

// The checks both name kinds share: not empty, no NUL or other control
// character, valid UTF-8, one path segment, at most 128 characters.
static bool s_name_basic(const char *what, const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0) {
        snprintf(why, whylen, "%s must not be empty", what);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, whylen, "%s must not contain control characters (found 0x%02x)", what, c);
            return false;
        }
    }
    if (!wbi_run_file_name_ok(s) || strchr(s, '/')) {
        snprintf(why, whylen, "%s must be valid UTF-8 without '/', '\\', and not '.' or '..'",
                 what);
        return false;
    }
    if (s_chars(s, len) > WBI_NAME_CHARS_MAX) {
        snprintf(why, whylen, "%s is longer than %d characters", what, WBI_NAME_CHARS_MAX);
        return false;
    }
    return true;
}

// W&B run id rules (wandb/sdk/wandb_settings.py validate_run_id, plus the
// 128-character bound of project names).
bool wbi_run_id_check(const char *s, size_t len, char *why, size_t whylen)
{
    if (!s_name_basic("run id", s, len, why, whylen))
        return false;
    if (s[0] == ' ' || s[len - 1] == ' ') {
        snprintf(why, whylen, "run id must not start or end with whitespace");
        return false;
    }
    const char *bad = strpbrk(s, ":;,#?'\\");
    if (bad) {
        snprintf(why, whylen, "run id must not contain any of :;,#?'\\ (found '%c')", *bad);
        return false;
    }
    return true;
}

// W&B project name rules (wandb/sdk/wandb_settings.py validate_project).
bool wbi_name_check(const char *what, const char *s, size_t len, char *why, size_t whylen)
{
    if (!s_name_basic(what, s, len, why, whylen))
        return false;
    const char *bad = strpbrk(s, "\\#?%:");
    if (bad) {
        snprintf(why, whylen, "%s must not contain any of /\\#?%%: (found '%c')", what, *bad);
        return false;
    }
    return true;
}
