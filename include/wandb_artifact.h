//  wandb_artifact.h - artifacts: versioned sets of files, logged and used by runs
//  SPDX-License-Identifier: MIT
//
//  The W&B Artifact API for C (the seed's wandb.Artifact and the Run's
//  log_artifact, upsert_artifact, finish_artifact, use_artifact,
//  link_artifact, log_model, use_model, link_model, log_code). An artifact
//  is built in the rank (files are read and their MD5 computed at add time),
//  then its bytes travel to the aggregator over the run's transport in
//  bounded chunks; the aggregator checks the digests, spools the bytes to
//  disk, merges the upserts of one distributed_id from every rank and
//  creates the version (docs/artifacts.md, "From the ranks").
//
//  Errors: the wandb_err of wandb.h; the text of the last error of an
//  artifact is in wandb_artifact_errmsg() and is also logged (WARN).
//  Thread: an artifact object belongs to one thread at a time; the run
//  functions may be called from any thread (one artifact operation of a run
//  at a time: the others wait).
#ifndef WANDB_ARTIFACT_H
#define WANDB_ARTIFACT_H

#include "wandb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wandb_artifact wandb_artifact_t;

// Bytes of one file an artifact may hold at most (the aggregator spools it).
#define WANDB_ARTIFACT_FILE_MAX ((uint64_t)64 << 30)

// Creates an empty artifact. name: 1..128 characters of [A-Za-z0-9_-.];
// type: 1..128 characters without '/' or ':' and not starting with "wandb-".
// WANDB_EINVAL (*out stays NULL; the reason is logged), WANDB_ENOMEM.
// Destroy it with wandb_artifact_destroy().
WANDB_EXPORT wandb_err wandb_artifact_new(const char *name, const char *type,
                                          wandb_artifact_t **out);
// Frees the artifact and sets *self_p to NULL. NULL-safe.
WANDB_EXPORT void wandb_artifact_destroy(wandb_artifact_t **self_p);

// The text of the last error of a call on self ("" after a success).
// Borrowed: valid until the next call on self.
WANDB_EXPORT const char *wandb_artifact_errmsg(const wandb_artifact_t *self);
// Name, type, and (for an artifact returned by wandb_use_artifact) the
// version "vN"; "" before the artifact was logged. Borrowed.
WANDB_EXPORT const char *wandb_artifact_name(const wandb_artifact_t *self);
WANDB_EXPORT const char *wandb_artifact_type(const wandb_artifact_t *self);
WANDB_EXPORT const char *wandb_artifact_version(const wandb_artifact_t *self);
// Entries (files and references) in the artifact.
WANDB_EXPORT size_t wandb_artifact_entry_count(const wandb_artifact_t *self);

// Sets the description (UTF-8, copied).
WANDB_EXPORT wandb_err wandb_artifact_set_description(wandb_artifact_t *self, const char *text);
// Sets the metadata: a JSON object text (copied). WANDB_EINVAL otherwise.
WANDB_EXPORT wandb_err wandb_artifact_set_metadata(wandb_artifact_t *self, const char *json);
// Adds an alias (no '/' or ':'); "latest" is always added when logged.
WANDB_EXPORT wandb_err wandb_artifact_add_alias(wandb_artifact_t *self, const char *alias);
// Adds a tag (words of [A-Za-z0-9_-] separated by spaces).
WANDB_EXPORT wandb_err wandb_artifact_add_tag(wandb_artifact_t *self, const char *tag);

// Adds the regular file at path under name (a relative '/'-separated path;
// NULL: the file's base name). The file is read now (its MD5 and size are
// kept) and read again when the artifact is logged: a file that changed in
// between fails the log. WANDB_ENOTFOUND (no such file), WANDB_EIO
// (unreadable, not a regular file), WANDB_EINVAL (bad name, a name already
// added with other contents), WANDB_ETOOBIG (over WANDB_ARTIFACT_FILE_MAX).
// Adding the same name with the same contents again is a no-op.
WANDB_EXPORT wandb_err wandb_artifact_add_file(wandb_artifact_t *self, const char *path,
                                               const char *name);
// Adds every regular file under the directory path, recursively, named by
// its path below path, under the prefix name (NULL or "": none). Symbolic
// links are followed to files, not to directories. Nothing is added when any
// file fails (same errors as add_file).
WANDB_EXPORT wandb_err wandb_artifact_add_dir(wandb_artifact_t *self, const char *path,
                                              const char *name);
// Adds a reference entry: uri (s3://, gs://, https://, http://, file://) is
// recorded, not fetched; its digest is the uri itself. name NULL: the
// last segment of the uri.
WANDB_EXPORT wandb_err wandb_artifact_add_reference(wandb_artifact_t *self, const char *uri,
                                                    const char *name);

// Logs the artifact as an output of run: its files travel to the aggregator,
// which creates a new version (or none when the latest one has the same
// digest). aliases: NULL-terminated list added to the artifact's own and
// "latest" (NULL: none). Returns when the aggregator has the whole version
// (at most the run's finish_timeout_ms). On success wandb_artifact_version()
// names the version. WANDB_EINVAL, WANDB_ENOTFOUND/WANDB_EIO (a file vanished
// or changed), WANDB_ETIMEDOUT, WANDB_ECLOSED (run finished), WANDB_EBACKEND
// (the aggregator refused it: text in errmsg). Nothing is committed on error.
WANDB_EXPORT wandb_err wandb_log_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                          const char *const *aliases);
// Adds the artifact's entries to the version being built under
// distributed_id (NULL: the run's group; WANDB_EINVAL without either) by
// every rank. Returns when the aggregator has merged the entries: an upsert
// that returned before a finish_artifact was called (in MPI terms: before a
// barrier that precedes the finish) is in that version. The same path with
// the same contents from two ranks is kept once; with other contents the
// later upsert is refused whole (WANDB_EEXIST, the conflict in errmsg).
WANDB_EXPORT wandb_err wandb_upsert_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                             const char *distributed_id);
// Adds the artifact's entries like wandb_upsert_artifact, then commits ONE
// version holding every entry upserted under distributed_id so far. A later
// upsert with the same id starts the next version.
WANDB_EXPORT wandb_err wandb_finish_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                             const char *distributed_id);
// Links the logged artifact into a portfolio: target is "portfolio",
// "project/portfolio" or "entity/project/portfolio". aliases: NULL-terminated
// (NULL: none). WANDB_EINVAL before the artifact was logged or on a bad target.
WANDB_EXPORT wandb_err wandb_link_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                           const char *target, const char *const *aliases);
// Declares that run uses the artifact named "name", "name:alias",
// "name:vN", "project/name:alias" or "entity/project/name:alias", and
// returns it in *out (destroy it with wandb_artifact_destroy). Answered
// from the aggregator's store; a version it lacks (logged by another client
// or with another data dir) is asked from the backend itself, on the
// calling thread, when the run is online (docs/artifacts.md). Either way
// the run is recorded as consumer. WANDB_EINVAL (bad name), WANDB_ENOTFOUND
// (no such name, version or alias in the backend), WANDB_EAUTH (no API
// key), WANDB_EBACKEND (not in the store, offline; or the backend failed),
// WANDB_ETIMEDOUT; the reason is logged.
WANDB_EXPORT wandb_err wandb_use_artifact(wandb_run_t *run, const char *name,
                                          wandb_artifact_t **out);
// Downloads a used artifact's files into dir (created when missing), each
// checked against the manifest's MD5 and renamed into place only then.
// WANDB_EIO (a digest mismatch: the file is not left behind), WANDB_ETIMEDOUT.
WANDB_EXPORT wandb_err wandb_artifact_download(wandb_artifact_t *self, const char *dir);
// The local path of the entry `name` of a downloaded artifact, into
// buf[0..len) (snprintf-style). WANDB_ENOTFOUND, WANDB_ETOOBIG.
WANDB_EXPORT wandb_err wandb_artifact_file(wandb_artifact_t *self, const char *name, char *buf,
                                           size_t len);

// log_artifact of the file or directory at path as type "model"; name
// NULL: "run-<run id>-<base name of path>".
WANDB_EXPORT wandb_err wandb_log_model(wandb_run_t *run, const char *path, const char *name,
                                       const char *const *aliases);
// use_artifact + a check that the type contains "model" (WANDB_EINVAL
// otherwise) + download into dir; the path of the file (one file) or of the
// directory goes to buf[0..len).
WANDB_EXPORT wandb_err wandb_use_model(wandb_run_t *run, const char *name, const char *dir,
                                       char *buf, size_t len);
// log_model, then link to "<entity>/model-registry/<registered_model_name>";
// registered_model_name is a bare name (no '/').
WANDB_EXPORT wandb_err wandb_link_model(wandb_run_t *run, const char *path,
                                        const char *registered_model_name, const char *name,
                                        const char *const *aliases);
// Logs the source files under root (NULL: ".") whose names end in one of
// the NULL-terminated suffixes (NULL: ".c", ".h", ".cc", ".cpp", ".hpp",
// ".py") as an artifact of type "code" named name (NULL: "source-<run id>").
WANDB_EXPORT wandb_err wandb_log_code(wandb_run_t *run, const char *root, const char *name,
                                      const char *const *suffixes);

#ifdef __cplusplus
}
#endif
#endif
