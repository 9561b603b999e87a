//  segment.c - segment file names, paths and listing, for writer and reader
//  SPDX-License-Identifier: MIT
#include "segment.h"
#include "common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SUFFIX ".wjl"

// Accepts exactly the names "%06u.wjl" prints for a number from 1 to UINT32_MAX.
bool wbi_jseg_parse(const char *name, uint32_t *seq)
{
    size_t digits = strspn(name, "0123456789");
    if (digits < 6 || digits > 10 || strcmp(name + digits, S_SUFFIX) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++)
        v = v * 10 + (uint64_t)(name[i] - '0');
    if (v == 0 || v > UINT32_MAX)
        return false;
    char canon[16];
    snprintf(canon, sizeof canon, "%06u", (unsigned)v);
    if (strlen(canon) != digits || memcmp(canon, name, digits) != 0)
        return false;
    *seq = (uint32_t)v;
    return true;
}

// Joins dir and the segment name with exactly one slash between them.
char *wbi_jseg_path(const char *dir, uint32_t seq)
{
    size_t dlen = strlen(dir);
    size_t size = dlen + 32;
    char *path = wbi_malloc(size);
    if (!path)
        return NULL;
    const char *sep = dlen > 0 && dir[dlen - 1] == '/' ? "" : "/";
    snprintf(path, size, "%s%s%06u" S_SUFFIX, dir, sep, (unsigned)seq);
    return path;
}

// qsort comparator for segment numbers.
static int s_cmp_seq(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

// Reads the directory once; the array doubles as it fills.
int wbi_jseg_list(const char *dir, uint32_t **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno;
    uint32_t *v = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            rc = errno;
            break;
        }
        uint32_t seq;
        if (!wbi_jseg_parse(e->d_name, &seq))
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint32_t *nv = wbi_realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                rc = ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = seq;
    }
    closedir(d);
    if (rc != 0) {
        wbi_free(v);
        return rc;
    }
    if (len > 1)
        qsort(v, len, sizeof(*v), s_cmp_seq);
    *seqs = v;
    *n = len;
    return 0;
}
