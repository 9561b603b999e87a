//  media_deflate.h - a small zlib stream writer (fixed-Huffman deflate, LZ77)
//  SPDX-License-Identifier: MIT
//
//  Compresses a buffer into a zlib stream (RFC 1950) holding one deflate
//  block (RFC 1951): fixed Huffman codes over greedy LZ77 matches (hash
//  chains, 32 KiB window), or stored blocks when that would not be smaller.
//  For PNG image data; no dependency. No state. Thread: any.
#ifndef WBI_MEDIA_DEFLATE_H
#define WBI_MEDIA_DEFLATE_H

#include "wandb.h"

// Compresses in[0..len) into *out (free with wbi_free), *out_len bytes.
// WANDB_ENOMEM.
wandb_err wbi_zlib_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

// Adler-32 of data continuing from adler (1 to start).
uint32_t wbi_adler32(uint32_t adler, const void *data, size_t len);

#endif
