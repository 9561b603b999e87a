//  md5.h - MD5 (RFC 1321), streamed, and the base64 form W&B names digests in
//  SPDX-License-Identifier: MIT
//
//  Artifact entries are named by the base64 of the MD5 of their bytes
//  (WANDB_PROTOCOL.md section 7.1); the rank computes it while it reads a
//  file, the aggregator again while it spools the chunks. Not for security.
//  Thread: any (the state is the caller's).
#ifndef WBI_MD5_H
#define WBI_MD5_H

#include <stddef.h>
#include <stdint.h>

#define WBI_MD5_B64 25 // "xxxxxxxxxxxxxxxxxxxxxx==" and its NUL
#define WBI_MD5_HEX 33 // 32 hex digits and the NUL

typedef struct {
    uint32_t h[4];     // the chaining state
    uint64_t len;      // bytes hashed so far
    uint8_t block[64]; // the unfinished block
} wbi_md5_t;

void wbi_md5_init(wbi_md5_t *self);
void wbi_md5_update(wbi_md5_t *self, const void *data, size_t len);
// Writes the 16-byte digest to out; self must be initialised again to reuse it.
void wbi_md5_final(wbi_md5_t *self, uint8_t out[16]);
// The digest of self as base64 (W&B's entry digest) or lower-case hex.
void wbi_md5_final_b64(wbi_md5_t *self, char out[WBI_MD5_B64]);
void wbi_md5_final_hex(wbi_md5_t *self, char out[WBI_MD5_HEX]);

#endif
