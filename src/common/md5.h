//  md5.h - MD5 (RFC 1321), streaming, for W&B artifact digests
//  SPDX-License-Identifier: MIT
//
//  W&B names every artifact file by the base64 of its MD5 and the artifact
//  by the hex MD5 of its manifest text (docs/artifacts.md). MD5 is used here
//  as a content address, not for security.
//  Thread: any (the context belongs to its caller).
#ifndef WBI_MD5_H
#define WBI_MD5_H

#include <stddef.h>
#include <stdint.h>

#define WBI_MD5_LEN 16 // bytes of a digest

typedef struct {
    uint32_t state[4];     // A, B, C, D
    uint64_t bytes;        // bytes hashed so far
    unsigned char buf[64]; // partial block
} wbi_md5_t;

void wbi_md5_init(wbi_md5_t *self);
void wbi_md5_update(wbi_md5_t *self, const void *data, size_t len);
// Writes the 16-byte digest; self must be initialised again before reuse.
void wbi_md5_final(wbi_md5_t *self, unsigned char out[WBI_MD5_LEN]);
// The digest as 32 lower-case hex characters and a NUL.
void wbi_md5_hex(const unsigned char digest[WBI_MD5_LEN], char out[33]);

#define WBI_MD5_B64 25 // "xxxxxxxxxxxxxxxxxxxxxx==" and its NUL
#define WBI_MD5_HEX 33 // 32 hex digits and the NUL
// Finishes self and writes the digest as base64 (W&B's entry digest) or hex.
void wbi_md5_final_b64(wbi_md5_t *self, char out[WBI_MD5_B64]);
void wbi_md5_final_hex(wbi_md5_t *self, char out[WBI_MD5_HEX]);

#endif
