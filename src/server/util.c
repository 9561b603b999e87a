//  util.c - small helpers of the server: URL paths, directories
//  SPDX-License-Identifier: MIT

#include "server/util.h"

#include <errno.h>
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
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return WANDB_EIO;
            tmp[i] = saved;
        }
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? WANDB_OK : WANDB_EIO;
}
