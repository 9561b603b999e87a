//  artifact.h - artifact jobs of the backend: the official save, use and link requests
//  SPDX-License-Identifier: MIT
//
//  A version the aggregator committed to its store (aggregator/artstore.h)
//  goes to the backend as ONE FULL manifest, the way wandb-core saves an
//  artifact (WANDB_PROTOCOL.md 7.3): CreateArtifact (COMMITTED: the server
//  has that digest, done), CreateArtifactManifest (no upload),
//  CreateArtifactFiles (every file; a null uploadUrl means the server has the
//  bytes: skipped), a PUT of each other file streamed from the store,
//  CreateArtifactManifest (with the manifest's digest, upload), the PUT of
//  the manifest, CommitArtifact. A use: ArtifactMembershipByName, then
//  UseArtifact (the run becomes a consumer). A link: ArtifactMembershipByName,
//  then LinkArtifact. One job at a time per run, one request at a time, in
//  the run's order; each step retries like any request. Thread: the
//  backend's thread, except wbi_bk_art_new (the caller's).
#ifndef WBI_BACKEND_ARTIFACT_H
#define WBI_BACKEND_ARTIFACT_H

#include "backend/backend_int.h"

// A new job from an artifact event (a JSON object text, see docs/artifacts.md)
// and the store directory; loads the version's manifest now. NULL (with why)
// for an event that needs no request or a version the store lacks.
wbi_bk_art_t *wbi_bk_art_new(const char *event, size_t len, const char *store_dir, char *why,
                             size_t n);
void wbi_bk_art_free(wbi_bk_art_t *job);
// The request kind's three parts (kinds.c's table).
wandb_err wbi_bk_art_build(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                           char *msg, size_t msglen);
wandb_err wbi_bk_art_answer(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                            wbi_bk_outcome_t *o, char *err, size_t errlen);
// Moves the job on; true when it is complete (the caller frees it).
bool wbi_bk_art_step_done(wbi_backend_run_t *run, wbi_bk_art_t *job);
// True when the job's current step is a PUT (and then its file or bytes).
bool wbi_bk_art_put(const wbi_bk_art_t *job, FILE **fp, const char **body, size_t *len,
                    uint64_t *size, char ***headers, size_t *nheaders);

#endif
