//  artstore.h - the aggregator's artifact store on disk
//  SPDX-License-Identifier: MIT
//
//  Layout under dir (docs/artifacts.md, "From the ranks"):
//    blobs/<digest, base64url>     every file's bytes, once per digest
//    tmp/                          files being received (renamed into blobs/)
//    <project>/<name>/v<N>/manifest.json   W&B manifest v1 of the version
//    <project>/<name>/v<N>/info.json       type, digest, aliases, producers, ...
//    <project>/<name>/v<N>/consumers.txt   run ids that used it, one a line
//    <project>/<name>/aliases.json         alias -> "vN" ("latest" moves)
//    links.jsonl                           one line per link_artifact
//  Versions are claimed with mkdir, so two aggregators sharing dir never
//  give the same number twice. Every file is written to a temporary name,
//  fsynced and renamed. Pure file I/O; no sockets. Thread: the owner's.
#ifndef WBI_AGG_ARTSTORE_H
#define WBI_AGG_ARTSTORE_H

#include "wandb.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define WBI_ARTSTORE_PATH 4096

// Writes the blob path of a base64 digest into out. False when it does not fit.
bool wbi_artstore_blob_path(const char *dir, const char *digest, char *out, size_t n);
// The W&B artifact digest (hex MD5 of "wandb-artifact-manifest-v1\n" and
// "<path>:<digest>\n" per entry sorted by path) of contents {path: {digest}}.
void wbi_artstore_digest(const json_t *contents, char hex[33]);

// Commits a version of project/name holding contents ({path: {digest,
// size[, ref]}}); info: {type, aliases, tags, description, metadata,
// producers, distributed_id} (borrowed). When the latest version has the same
// digest no version is made: that one is named and *existed is true (its
// aliases get the new ones). version: "vN". why: the reason of a failure.
wandb_err wbi_artstore_commit(const char *dir, const char *project, const char *name,
                              const json_t *info, const json_t *contents, char *version, size_t vn,
                              char digest[33], bool *existed, char *why, size_t wn);
// Finds project/name at alias ("latest", "vN", any alias): *info_out and
// *manifest_out (json_decref them), the version in version.
// WANDB_ENOTFOUND with why.
wandb_err wbi_artstore_find(const char *dir, const char *project, const char *name,
                            const char *alias, json_t **info_out, json_t **manifest_out,
                            char *version, size_t vn, char *why, size_t wn);
// Appends run_id to the version's consumers.
wandb_err wbi_artstore_consumer(const char *dir, const char *project, const char *name,
                                const char *version, const char *run_id);
// Appends one link (a JSON object, borrowed) to links.jsonl.
wandb_err wbi_artstore_link(const char *dir, const json_t *link);

#endif
