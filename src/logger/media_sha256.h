//  media_sha256.h - SHA-256 of a byte buffer, as hex (media file digests)
//  SPDX-License-Identifier: MIT
//
//  The official client names media files by the SHA-256 of their bytes and
//  reports the digest in the history object. No state, no allocation.
//  Thread: any.
#ifndef WBI_MEDIA_SHA256_H
#define WBI_MEDIA_SHA256_H

#include <stddef.h>
#include <stdint.h>

// Writes the SHA-256 of data[0..len) into out (32 bytes).
void wbi_sha256(const void *data, size_t len, uint8_t out[32]);
// Writes the lower-case hex SHA-256 of data[0..len) into hex (65 bytes, NUL-terminated).
void wbi_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
