//  store_int.h - what the files of the store share besides store.h
//  SPDX-License-Identifier: MIT
//
//  store.c owns the connection and the migrations; artifact.c and
//  artifact_read.c reach the connection through these calls and prepare
//  their own statements. Thread: as store.h (one caller at a time).
#ifndef WBI_STORE_INT_H
#define WBI_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>

// The artifact tables (migration 1 -> 2), defined in artifact.c.
extern const char WBI_STORE_ARTIFACT_SCHEMA[];

// The connection. Borrowed: valid until the store is destroyed.
sqlite3 *wbi_store__db(wbi_store_t *self);
// Records the connection's error text and maps rc to the project's errors.
wandb_err wbi_store__fail(wbi_store_t *self, int rc);
// Sets the text wbi_store_errmsg() returns.
void wbi_store__set_error(wbi_store_t *self, const char *msg);

#endif
