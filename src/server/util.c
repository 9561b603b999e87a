//  util.c - small helpers of the server: base64, random ids, paths, time
//  SPDX-License-Identifier: MIT

#include "server/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// Wall-clock seconds since the epoch.
double wbi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Random [a-z0-9] by rejection sampling, so every character is uniform.
wandb_err wbi_random_alnum(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t filled = 0;
    for (int rounds = 0; filled < n && rounds < 64; rounds++) {
        unsigned char raw[64];
        ssize_t got = getrandom(raw, sizeof raw, 0);
        if (got <= 0) {
            if (got < 0 && errno == EINTR)
                continue;
            return WANDB_EIO;
        }
        for (ssize_t i = 0; i < got && filled < n; i++) {
            if (raw[i] >= 252) // 252 = 7 * 36: keeps the draw uniform
                continue;
            out[filled++] = alphabet[raw[i] % 36];
        }
    }
    out[filled] = '\0';
    return filled == n ? WANDB_OK : WANDB_EIO;
}

// Standard base64 with padding.
wandb_err wbi_b64_encode(wbi_buf_t *out, const void *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    wandb_err e = wbi_buf_reserve(out, (len + 2) / 3 * 4);
    for (size_t i = 0; e == WANDB_OK && i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                     i + 1 < len ? tab[(v >> 6) & 63] : '=', i + 2 < len ? tab[v & 63] : '='};
        e = wbi_buf_append(out, q, 4);
    }
    return e;
}

// Value of one base64 character, or -1.
static int s_b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

// Decodes base64, stopping at the first '='.
bool wbi_b64_decode(wbi_buf_t *out, const char *text, size_t len)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '=')
            break;
        int v = s_b64_val(text[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (wbi_buf_putc(out, (char)((acc >> bits) & 0xff)) != WANDB_OK)
                return false;
        }
    }
    return true;
}

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

// One segment, no slash.
bool wbi_segment_ok(const char *s)
{
    return wbi_rel_path_ok(s) && !strchr(s, '/');
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
