//  artifacts.h - wandb-mpi artifacts: the artifacts of a project, from the store
//  SPDX-License-Identifier: MIT
#ifndef WBI_CLI_ARTIFACTS_H
#define WBI_CLI_ARTIFACTS_H

#include "store/store.h"

// Prints every artifact collection (entity, project: filters, NULL for any)
// with its versions: a table (one line a version: name, type, version,
// state, aliases, files, bytes, digest, producer, consumers), or with json
// one object a line, the shape of GET /api/v1/artifacts. Returns 0, or 1 on
// a read error (with a message on stderr).
int wbi_cli_artifacts(wbi_store_t *store, const char *entity, const char *project, bool json);

#endif
