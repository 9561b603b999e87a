//  blob.h - the content-addressed artifact files of wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  Every artifact file and manifest is stored once, under
//  DIR/artifacts/blobs/<first 2 hex>/<32 hex of its MD5>, whatever artifact,
//  version or path it belongs to (docs/artifacts.md). A blob is written to a
//  temp file beside it and renamed into place after its MD5 was checked, so
//  a blob that exists is complete.
//  Thread: any (the file system is the only state).
#ifndef WBI_SRV_BLOB_H
#define WBI_SRV_BLOB_H

#include "wandb.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WBI_BLOB_MANIFEST_MAX (256u << 20) // bytes of a manifest the server reads

// The path of blob hex (32 lower-case hex characters); false when hex is
// not one or the path does not fit.
bool wbi_blob_path(const char *dir, const char *hex, char *out, size_t len);
// True when blob hex is stored; *size (may be NULL) gets its bytes.
bool wbi_blob_exists(const char *dir, const char *hex, int64_t *size);
// The hex of a W&B entry digest (base64 of 16 MD5 bytes); false otherwise.
bool wbi_blob_hex_of_b64(const char *b64, char hex[33]);
// base64 of the 16 bytes of hex (32 hex characters); false otherwise.
bool wbi_blob_b64_of_hex(const char *hex, char b64[25]);
// Stores len bytes as a blob (once); hex gets its MD5.
wandb_err wbi_blob_put(const char *dir, const void *data, size_t len, char hex[33]);
// Parses blob hex as JSON (at most WBI_BLOB_MANIFEST_MAX bytes); NULL when
// missing, too large or not JSON.
json_t *wbi_blob_load_json(const char *dir, const char *hex);

#endif
