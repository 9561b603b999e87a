//  base64.c - standard base64 (RFC 4648 section 4, with padding)
//  SPDX-License-Identifier: MIT
#include "common/base64.h"

#include <stdint.h>

static const char s_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Three bytes at a time; the last group is padded with '='.
void wbi_b64_encode(char *dst, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        dst[o++] = s_alphabet[(v >> 18) & 63];
        dst[o++] = s_alphabet[(v >> 12) & 63];
        dst[o++] = i + 1 < len ? s_alphabet[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < len ? s_alphabet[v & 63] : '=';
    }
    dst[o] = '\0';
}

// Encodes group by group into a small stack buffer.
wandb_err wbi_b64_append(wbi_buf_t *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    wandb_err e = wbi_buf_reserve(out, WBI_B64_LEN(len));
    for (size_t i = 0; e == WANDB_OK && i < len; i += 3) {
        char q[5];
        wbi_b64_encode(q, p + i, len - i < 3 ? len - i : 3);
        e = wbi_buf_append(out, q, 4);
    }
    return e;
}

// Value of one base64 character, or -1.
static int s_value(char c)
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

// Six bits per character; a byte out whenever eight have gathered.
bool wbi_b64_decode(wbi_buf_t *out, const char *text, size_t len)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '=')
            break;
        int v = s_value(text[i]);
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
