//  save_path.c - wandb_save's path rules: an absolute glob and its base
//  SPDX-License-Identifier: MIT
//
//  The official Run.save makes glob and base_path absolute (os.path.abspath:
//  the working directory, then a lexical normalization), picks a default
//  base, and refuses a glob that is not below its base, equals it, or starts
//  with '*' below it. This file does the same without touching the file
//  system beyond getcwd, so the rules can be tested alone. Thread: any.
#include "logger/save.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void wbi_save_normalize(char *path)
{
    // Each kept segment is written as "/seg": out stays at or before the '/'
    // that precedes the segment read, so it never overtakes in.
    char *in = path;
    char *out = path;
    while (*in) {
        while (*in == '/')
            in++;
        if (!*in)
            break;
        char *seg = in;
        while (*in && *in != '/')
            in++;
        size_t len = (size_t)(in - seg);
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > path && *--out != '/')
                ; // drop the last kept segment (none at the root)
            continue;
        }
        *out++ = '/';
        memmove(out, seg, len);
        out += len;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

// Writes path made absolute against cwd and normalized into out.
static wandb_err s_absolute(const char *path, const char *cwd, char *out, size_t outlen)
{
    int n = path[0] == '/' ? snprintf(out, outlen, "%s", path)
                           : snprintf(out, outlen, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= outlen)
        return WANDB_ETOOBIG;
    wbi_save_normalize(out);
    return WANDB_OK;
}

// The length of the parent of an absolute normalized path ("/a/b" -> 2,
// "/a" -> 1, "/" -> 1).
static size_t s_parent_len(const char *path, size_t len)
{
    while (len > 1 && path[len - 1] != '/')
        len--;
    return len > 1 ? len - 1 : 1;
}

wandb_err wbi_save_resolve(const char *glob, const char *base_path, char *abs, size_t abslen,
                           size_t *base_len, char *errmsg, size_t errlen)
{
    *base_len = 0;
    if (strncmp(glob, "gs://", 5) == 0 || strncmp(glob, "s3://", 5) == 0) {
        snprintf(errmsg, errlen, "'%.200s' is a cloud storage URL: only local files can be saved",
                 glob);
        return WANDB_EINVAL;
    }
    char cwd[WBI_SAVE_PATH_MAX];
    cwd[0] = '\0';
    bool need_cwd = glob[0] != '/' || (base_path && base_path[0] != '/');
    if (need_cwd && !getcwd(cwd, sizeof cwd)) {
        snprintf(errmsg, errlen, "cannot read the working directory: %s", strerror(errno));
        return errno == ERANGE ? WANDB_ETOOBIG : WANDB_EIO;
    }
    if (s_absolute(glob, cwd, abs, abslen) != WANDB_OK) {
        snprintf(errmsg, errlen, "'%.200s' is longer than %zu bytes once absolute", glob, abslen);
        return WANDB_ETOOBIG;
    }
    size_t glen = strlen(abs);
    char base[WBI_SAVE_PATH_MAX];
    if (base_path) {
        if (s_absolute(base_path, cwd, base, sizeof base) != WANDB_OK) {
            snprintf(errmsg, errlen, "base_path '%.200s' is too long", base_path);
            return WANDB_ETOOBIG;
        }
    } else if (glob[0] != '/') {
        snprintf(base, sizeof base, "%s", cwd);
        wbi_save_normalize(base);
    } else {
        // An absolute glob without base keeps one directory level.
        size_t p = s_parent_len(abs, s_parent_len(abs, glen));
        memcpy(base, abs, p);
        base[p] = '\0';
    }
    size_t blen = strlen(base);
    bool root = blen == 1;
    if (strncmp(abs, base, blen) != 0 || (!root && abs[blen] != '/' && abs[blen] != '\0')) {
        snprintf(errmsg, errlen,
                 "glob '%.200s' (%.200s) is not below base_path '%.200s' (%.200s): it may not"
                 " walk above the base path",
                 glob, abs, base_path ? base_path : ".", base);
        return WANDB_EINVAL;
    }
    if (glen == blen) {
        snprintf(errmsg, errlen, "glob '%.200s' is the base path itself: name files below it",
                 glob);
        return WANDB_EINVAL;
    }
    const char *rel = abs + (root ? 1 : blen + 1);
    if (rel[0] == '*' && (rel[1] == '/' || rel[1] == '\0')) {
        snprintf(errmsg, errlen,
                 "glob '%.200s' starts with '*' relative to the base path '%.200s': name the"
                 " directory below the base",
                 glob, base);
        return WANDB_EINVAL;
    }
    *base_len = root ? 0 : blen;
    return WANDB_OK;
}
