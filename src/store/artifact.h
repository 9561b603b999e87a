//  artifact.h - artifacts in the SQLite store: collections, versions, aliases, manifests
//  SPDX-License-Identifier: MIT
//
//  A collection is a sequence (where versions are born: entity/project/name
//  of one type) or a portfolio (where versions are linked). A version is a
//  row of artifacts: PENDING from CreateArtifact until its commit, then
//  COMMITTED with version index vN in its sequence (a membership row), and
//  in every portfolio it was linked to. Aliases are per collection; "latest"
//  moves to the newest committed member. Manifests are recorded per upload
//  (their bytes live on disk, content-addressed by MD5; the server owns the
//  files). Rules and layout: docs/artifacts.md.
//  Thread: one caller at a time (as store.h).
#ifndef WBI_STORE_ARTIFACT_H
#define WBI_STORE_ARTIFACT_H

#include "store/store.h"

#define WBI_ART_NAME_MAX 128 // characters of an artifact or portfolio name

// One artifact version as stored. Strings are heap copies (NULL when unset);
// release with wbi_store_art_release().
typedef struct {
    int64_t id;           // storage id
    int64_t seq_id;       // its sequence
    char *entity;         // of the sequence
    char *project;        // of the sequence
    char *name;           // sequence name
    char *type;           // artifact type
    int64_t version;      // index in the sequence, -1 while not committed
    char *state;          // PENDING, COMMITTED, DELETED
    char *digest;         // hex MD5 of the manifest text (§7.1)
    char *description;    // or NULL
    char *metadata;       // JSON object text or NULL
    char *aliases_req;    // JSON array of the aliases asked at creation
    char *distributed_id; // or NULL
    char *client_id;      // or NULL
    char *seq_client_id;  // or NULL
    int64_t run_id;       // producer run, 0 when none
    char *run_name;       // its run id, or NULL
    int64_t history_step; // -1 when none
    char *manifest_blob;  // hex MD5 of the committed manifest file, or NULL
    int64_t size;         // bytes of the files (committed)
    int64_t file_count;   // entries of the manifest (committed)
    double created_at;    // Unix seconds
    double updated_at;    // Unix seconds
} wbi_artifact_t;

// What CreateArtifact asks.
typedef struct {
    const char *entity;         // required
    const char *project;        // required
    const char *name;           // sequence name, required
    const char *type;           // required
    const char *digest;         // required
    const char *description;    // optional
    const char *metadata;       // optional JSON object text
    const char *aliases;        // optional JSON array of alias names
    const char *distributed_id; // optional
    const char *client_id;      // optional
    const char *seq_client_id;  // optional
    int64_t run_id;             // 0: none
    int64_t history_step;       // -1: none
} wbi_art_new_t;

// Creates a version, or finds the one it is: with a distributed id, the
// PENDING version of that sequence with the same id; else the COMMITTED
// version with the same digest (whose aliases then get the asked ones).
// WANDB_EINVAL when the sequence exists with another type (text in errmsg).
wandb_err wbi_store_art_create(wbi_store_t *self, const wbi_art_new_t *in, double now,
                               int64_t *id_out);
wandb_err wbi_store_art_get(wbi_store_t *self, int64_t id, wbi_artifact_t *out);
// Finds a committed member of collection name (sequence or portfolio) by
// "vN" or alias; *coll_id and *index get the collection and the member's
// index in it (NULL: not wanted). WANDB_ENOTFOUND when none.
wandb_err wbi_store_art_find(wbi_store_t *self, const char *entity, const char *project,
                             const char *name, const char *version_or_alias, wbi_artifact_t *out,
                             int64_t *coll_id, int64_t *index);
// The artifact created with a client id (ClientIDMapping).
wandb_err wbi_store_art_by_client_id(wbi_store_t *self, const char *client_id, int64_t *id_out);
void wbi_store_art_release(wbi_artifact_t *a);

// Manifests: add records one (digest may be empty), set changes its digest,
// uploaded records the blob holding its bytes.
wandb_err wbi_store_art_manifest_add(wbi_store_t *self, int64_t art_id, const char *name,
                                     const char *type, const char *digest, double now,
                                     int64_t *id_out);
wandb_err wbi_store_art_manifest_set(wbi_store_t *self, int64_t manifest_id, const char *digest,
                                     int64_t *art_id_out);
wandb_err wbi_store_art_manifest_uploaded(wbi_store_t *self, int64_t manifest_id, const char *blob);
// Calls fn for every uploaded manifest of an artifact, oldest first.
typedef int (*wbi_store_manifest_fn)(void *arg, int64_t id, const char *type, const char *blob);
wandb_err wbi_store_art_manifests_each(wbi_store_t *self, int64_t art_id, wbi_store_manifest_fn fn,
                                       void *arg);

// Commits a PENDING version: contents is the manifest's "contents" object
// (path -> {digest, size, ref?, birthArtifactID?}), blob the hex MD5 of the
// manifest file, digest its artifact digest. Gives the next index of its
// sequence, moves "latest" and sets the asked aliases. *version_out may be
// NULL. WANDB_EEXIST when already committed (nothing changes).
wandb_err wbi_store_art_commit(wbi_store_t *self, int64_t id, const json_t *contents,
                               const char *blob, const char *digest, double now,
                               int64_t *version_out);
// Records run_id as a consumer (idempotent).
wandb_err wbi_store_art_use(wbi_store_t *self, int64_t art_id, int64_t run_id, double now);
// Links a committed version into portfolio (entity, project, name), created
// with the artifact's type when missing; aliases (JSON array, may be NULL)
// plus "latest" point at it there. *index_out gets its index there.
wandb_err wbi_store_art_link(wbi_store_t *self, int64_t art_id, const char *entity,
                             const char *project, const char *portfolio, const char *aliases,
                             double now, int64_t *coll_id_out, int64_t *index_out);

// The aliases of a version: [{"alias", "collection", "kind"}], in every
// collection (coll_id 0) or one. *out is a new reference.
wandb_err wbi_store_art_aliases(wbi_store_t *self, int64_t art_id, int64_t coll_id, json_t **out);
// The entries of a committed version, by path.
typedef int (*wbi_store_art_file_fn)(void *arg, const char *path, const char *digest, int64_t size,
                                     const char *ref, int64_t birth_id);
wandb_err wbi_store_art_files_each(wbi_store_t *self, int64_t art_id, const char *only_path,
                                   wbi_store_art_file_fn fn, void *arg);

// Read API (artifact_read.c): every sequence of a project (entity may be
// NULL: any) with its versions: [{name, type, entity, project, versions:
// [{version, state, digest, size, file_count, aliases, created_by,
// used_by, ...}]}]. *out is a new reference.
wandb_err wbi_store_art_list(wbi_store_t *self, const char *entity, const char *project,
                             json_t **out);
// The runs that used a version: [{"id", "name", "entity", "project"}].
wandb_err wbi_store_art_users(wbi_store_t *self, int64_t art_id, json_t **out);

#endif
