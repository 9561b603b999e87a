//  media_png.h - a small PNG writer (stored deflate blocks) and header reader
//  SPDX-License-Identifier: MIT
//
//  wbi_png_encode writes 8-bit grey, RGB or RGBA pixels as a valid PNG: one
//  IHDR, one IDAT holding the zlib stream of the filtered rows (fixed-
//  Huffman deflate, or stored blocks when that is smaller: media_deflate.h),
//  and IEND, each chunk with its CRC-32. No dependency.
//  wbi_png_info checks a PNG's signature and IHDR and reads its size.
//  No state. Thread: any.
#ifndef WBI_MEDIA_PNG_H
#define WBI_MEDIA_PNG_H

#include "wandb.h"

// Largest PNG wbi_png_encode makes (the run-file limit of wandb_save).
#define WBI_PNG_MAX ((size_t)64 << 20)

// Encodes width x height pixels of `channels` samples (1 grey, 3 RGB, 4
// RGBA), rows top to bottom, packed (stride width * channels). On success
// *out is the PNG (free with wbi_free) of *len bytes. WANDB_EINVAL (bad
// size or channels), WANDB_ETOOBIG (over WBI_PNG_MAX), WANDB_ENOMEM.
wandb_err wbi_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                         uint8_t **out, size_t *len);

// Reads the size of the PNG in data[0..len): checks the signature, that the
// first chunk is a 13-byte IHDR with a correct CRC and a non-zero size.
// WANDB_EINVAL when it is not such a PNG.
wandb_err wbi_png_info(const uint8_t *data, size_t len, uint32_t *width, uint32_t *height);

// CRC-32 (ISO-HDLC, the one of PNG and zlib) of data, continuing from crc
// (0 to start).
uint32_t wbi_png_crc32(uint32_t crc, const void *data, size_t len);

#endif
