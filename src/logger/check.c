//  check.c - argument checks shared by the run API calls
//  SPDX-License-Identifier: MIT
#include "logger/check.h"

#include "common/jsonx.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool wbi_check_reserved_key(const char *key, size_t len)
{
    static const char *const names[] = {"_step", "_runtime", "_timestamp", "_wandb"};
    if (len < 5 || key[0] != '_')
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
            return true;
    return false;
}

// Length of the valid UTF-8 sequence of 2..4 bytes at s (n bytes left), 0 if none.
static size_t s_utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
    return len && len <= n && wbi_utf8_valid((const char *)s, len) ? len : 0;
}

const char *wbi_check_escape(const char *s, size_t max_in, char *out, size_t outlen)
{
    if (!s)
        s = "(null)";
    size_t n = strnlen(s, max_in + 1);
    bool cut = n > max_in;
    if (cut)
        n = max_in;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n && o + 8 < outlen;) {
        size_t seq = p[i] >= 0x80 ? s_utf8_seq(p + i, n - i) : 0;
        if (seq) {
            memcpy(out + o, p + i, seq);
            o += seq;
            i += seq;
        } else if (p[i] == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
            i++;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            out[o++] = (char)p[i++];
        } else {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02X", p[i++]);
        }
        if (i < n && o + 8 >= outlen)
            cut = true;
    }
    if (cut && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < outlen ? o : outlen - 1] = '\0';
    return out;
}

const char *wbi_check_alert_level(const char *level)
{
    static const char *const names[] = {"INFO", "WARN", "ERROR"};
    if (!level)
        return names[0];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(level, names[i]) == 0)
            return names[i];
    return NULL;
}

size_t wbi_check_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}
