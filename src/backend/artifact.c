//  artifact.c - artifact jobs of the backend (artifact.h)
//  SPDX-License-Identifier: MIT
//
//  The variables of each request are the ones wandb-core sends (compared
//  field by field with the official client's captures in
//  tests/conformance/test_artifact_requests.py). The job lives at the head
//  of its run's artifact queue until its last step is answered or given up.
#include "backend/artifact.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/md5.h"
#include "common/random.h"
#include <string.h>

enum {
    S_CREATE = 0,  // CreateArtifact
    S_MAN0 = 1,    // CreateArtifactManifest without upload
    S_FILES = 2,   // CreateArtifactFiles
    S_PUT = 3,     // PUT of file idx
    S_MAN1 = 4,    // CreateArtifactManifest with the digest and upload
    S_PUTMAN = 5,  // PUT of the manifest
    S_COMMIT = 6,  // CommitArtifact
    S_LOOKUP = 10, // ArtifactMembershipByName
    S_USE = 11,    // UseArtifact
    S_LINK = 12,   // LinkArtifact
    S_DONE = 99,
};

static const char *s_q_create =
    "mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: $input) { "
    "artifact { id state artifactSequence { id latestArtifact { id versionIndex } } } } }";
static const char *s_q_manifest =
    "mutation CreateArtifactManifest($artifactID: ID!, $baseArtifactID: ID, $name: String!, "
    "$digest: String!, $entityName: String!, $projectName: String!, $runName: String!, "
    "$manifestType: ArtifactManifestType!, $includeUpload: Boolean!) { "
    "createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID, "
    "name: $name, digest: $digest, entityName: $entityName, projectName: $projectName, "
    "runName: $runName, type: $manifestType}) { artifactManifest { id file { id "
    "uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) } } } }";
static const char *s_q_files =
    "mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) { "
    "createArtifactFiles(input: $input) { files { edges { node { storagePath uploadUrl "
    "uploadHeaders uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } } "
    "artifact { id } } } } } }";
static const char *s_q_commit =
    "mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {artifactID: "
    "$artifactID}) { artifact { id digest } } }";
static const char *s_q_lookup =
    "query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) { "
    "project(name: $project, entityName: $entity) { artifactCollectionMembership(name: $name) { "
    "id versionIndex artifact { id digest state artifactType { name } } } } }";
static const char *s_q_use =
    "mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!, "
    "$artifactID: ID!) { useArtifact(input: {entityName: $entityName, projectName: $projectName, "
    "runName: $runName, artifactID: $artifactID}) { artifact { id digest } } }";
static const char *s_q_link =
    "mutation LinkArtifact($input: LinkArtifactInput!) { result: linkArtifact(input: $input) { "
    "versionIndex } }";

static const char *s_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

wbi_bk_art_t *wbi_bk_art_new(const char *event, size_t len, const char *store_dir, char *why,
                             size_t n)
{
    json_error_t jerr;
    json_t *ev = wbi_jsonx_loadb(event, len, 0, &jerr);
    const char *kind = s_str(ev, "event");
    wbi_bk_art_t *job = NULL;
    if (!json_is_object(ev) ||
        (strcmp(kind, "commit") && strcmp(kind, "use") && strcmp(kind, "link"))) {
        snprintf(why, n, "not an artifact event");
        goto fail;
    }
    job = wbi_calloc(1, sizeof *job);
    if (!job)
        goto fail;
    job->ev = ev;
    snprintf(job->dir, sizeof job->dir, "%s", store_dir);
    job->step = strcmp(kind, "commit") == 0 ? S_CREATE : S_LOOKUP;
    if (job->step != S_CREATE)
        return job;
    char path[2048];
    snprintf(path, sizeof path, "%.1000s/%.128s/%.128s/%.32s/manifest.json", store_dir,
             s_str(ev, "project"), s_str(ev, "name"), s_str(ev, "version"));
    json_t *m = json_load_file(path, 0, &jerr);
    job->contents = json_incref(json_object_get(m, "contents"));
    json_decref(m);
    snprintf(path, sizeof path, "%.1000s/%.128s/%.128s/%.32s/info.json", store_dir,
             s_str(ev, "project"), s_str(ev, "name"), s_str(ev, "version"));
    json_t *info = json_load_file(path, 0, &jerr);
    if (!json_is_object(job->contents) || !json_is_object(info)) {
        json_decref(info);
        snprintf(why, n, "the store has no version %s of '%s'", s_str(ev, "version"),
                 s_str(ev, "name"));
        wbi_bk_art_free(job);
        return NULL;
    }
    json_object_set_new(ev, "info", info);
    job->files = json_array();
    const char *p;
    json_t *e;
    json_object_foreach(job->contents, p, e) if (!json_object_get(e, "ref"))
        json_array_append_new(job->files, json_string(p));
    return job;
fail:
    json_decref(ev);
    wbi_free(job);
    return NULL;
}

void wbi_bk_art_free(wbi_bk_art_t *job)
{
    if (!job)
        return;
    if (job->fp)
        fclose(job->fp);
    json_decref(job->ev);
    json_decref(job->contents);
    json_decref(job->files);
    json_decref(job->urls);
    json_decref(job->answer);
    wbi_bkq_strv_free(job->headers, job->nheaders);
    wbi_free(job->artifact_id);
    wbi_free(job->manifest_id);
    wbi_free(job->upload_url);
    wbi_free(job->manifest);
    wbi_free(job);
}

// A random [a-z0-9] client id of 128 characters, as the official client makes.
static json_t *s_client_id(void)
{
    char id[129];
    if (wbi_random_id(id, 128) != WANDB_OK)
        return json_null();
    return json_string(id);
}

static json_t *s_create_vars(const wbi_backend_run_t *run, const wbi_bk_art_t *job)
{
    const json_t *ev = job->ev, *info = json_object_get(ev, "info");
    const char *coll = s_str(ev, "name");
    json_t *aliases = json_array();
    json_array_append_new(
        aliases, json_pack("{s:s, s:s}", "alias", "latest", "artifactCollectionName", coll));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(info, "aliases"), i,
                       a) if (strcmp(json_string_value(a), "latest"))
        json_array_append_new(aliases,
                              json_pack("{s:O, s:s}", "alias", a, "artifactCollectionName", coll));
    char *meta = json_object_get(info, "metadata")
                     ? wbi_jsonx_dumps(json_object_get(info, "metadata"), JSON_COMPACT)
                     : NULL;
    json_t *in = json_pack(
        "{s:o, s:s, s:n, s:s, s:o, s:o, s:s, s:s, s:b, s:s, s:n, s:n, s:n, s:s, s:o, s:s, s:o, "
        "s:n, s:n}",
        "aliases", aliases, "artifactCollectionName", coll, "artifactCollectionNames",
        "artifactTypeName", s_str(info, "type"), "clientID", s_client_id(), "description",
        json_object_get(info, "description") ? json_incref(json_object_get(info, "description"))
                                             : json_null(),
        "digest", s_str(ev, "digest"), "digestAlgorithm", "MANIFEST_MD5",
        "enableDigestDeduplication", 1, "entityName", wbi_bk_entity(run), "historyStep", "labels",
        "clientMutationId", "projectName", run->project, "metadata",
        meta ? json_string(meta) : json_null(), "runName", run->run_id, "sequenceClientID",
        s_client_id(), "storageRegion", "ttlDurationSeconds");
    wbi_free(meta);
    if (in) {
        json_object_set_new(in, "distributedID", json_null());
        json_t *tags = json_object_get(info, "tags");
        if (json_array_size(tags)) {
            json_t *t = json_array();
            json_array_foreach(tags, i, a)
                json_array_append_new(t, json_pack("{s:O}", "tagName", a));
            json_object_set_new(in, "tags", t);
        }
    }
    return in ? json_pack("{s:o}", "input", in) : NULL;
}

static json_t *s_manifest_vars(const wbi_backend_run_t *run, const wbi_bk_art_t *job,
                               const char *digest, bool upload)
{
    return json_pack("{s:s, s:n, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "artifactID",
                     job->artifact_id, "baseArtifactID", "name", "wandb_manifest.json", "digest",
                     digest, "entityName", wbi_bk_entity(run), "projectName", run->project,
                     "runName", run->run_id, "manifestType", "FULL", "includeUpload", upload);
}

static json_t *s_files_vars(const wbi_bk_art_t *job)
{
    json_t *files = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(job->files, i, p)
    {
        const json_t *e = json_object_get(job->contents, json_string_value(p));
        json_array_append_new(files, json_pack("{s:s, s:s, s:O, s:s, s:n, s:n}", "artifactID",
                                               job->artifact_id, "artifactManifestID",
                                               job->manifest_id, "name", p, "md5",
                                               s_str(e, "digest"), "mimetype", "uploadPartsInput"));
    }
    return json_pack("{s:{s:o, s:s, s:n, s:n}}", "input", "artifactFiles", files, "storageLayout",
                     "V2", "cloudRegionID", "clientMutationId");
}

// The manifest as uploaded: version 1, the store's contents with the
// birthArtifactID the server named.
static char *s_manifest_text(const wbi_bk_art_t *job)
{
    json_t *m = json_pack("{s:i, s:s, s:{s:s}, s:O}", "version", 1, "storagePolicy",
                          "wandb-storage-policy-v1", "storagePolicyConfig", "storageLayout", "V2",
                          "contents", job->contents);
    char *text = m ? wbi_jsonx_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    return text;
}

static wandb_err s_gql(wbi_bk_req_t *req, const char *op, const char *query, json_t *vars)
{
    if (!vars)
        return WANDB_ENOMEM;
    json_t *body =
        json_pack("{s:s, s:o, s:s}", "query", query, "variables", vars, "operationName", op);
    char *text = body ? wbi_jsonx_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    wandb_err rc = text ? wbi_buf_puts(&req->body, text) : WANDB_ENOMEM;
    wbi_free(text);
    return rc;
}

wandb_err wbi_bk_art_build(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                           char *msg, size_t msglen)
{
    (void)self;
    wbi_bk_art_t *job = req->art;
    const json_t *ev = job->ev;
    char name[300];
    switch (job->step) {
    case S_CREATE:
        return s_gql(req, "CreateArtifact", s_q_create, s_create_vars(run, job));
    case S_MAN0:
        return s_gql(req, "CreateArtifactManifest", s_q_manifest,
                     s_manifest_vars(run, job, "", false));
    case S_FILES:
        return s_gql(req, "CreateArtifactFiles", s_q_files, s_files_vars(job));
    case S_MAN1: {
        wbi_free(job->manifest);
        job->manifest = s_manifest_text(job);
        if (!job->manifest)
            return WANDB_ENOMEM;
        wbi_md5_t md5;
        char d[WBI_MD5_B64];
        wbi_md5_init(&md5);
        wbi_md5_update(&md5, job->manifest, strlen(job->manifest));
        wbi_md5_final_b64(&md5, d);
        return s_gql(req, "CreateArtifactManifest", s_q_manifest,
                     s_manifest_vars(run, job, d, true));
    }
    case S_PUT: {
        const char *url = json_string_value(json_array_get(job->urls, job->idx));
        const char *p = json_string_value(json_array_get(job->files, job->idx));
        const char *digest = s_str(json_object_get(job->contents, p), "digest");
        char blob[1200];
        size_t k = (size_t)snprintf(blob, sizeof blob, "%s/blobs/", job->dir);
        for (const char *c = digest; *c && *c != '=' && k + 1 < sizeof blob; c++)
            blob[k++] = *c == '/' ? '_' : *c == '+' ? '-' : *c;
        blob[k] = '\0';
        if (job->fp)
            fclose(job->fp);
        job->fp = fopen(blob, "rb");
        if (!job->fp) {
            snprintf(msg, msglen, "artifact '%s': cannot open '%s' in the store", s_str(ev, "name"),
                     blob);
            return WANDB_EIO;
        }
        return wbi_buf_puts(&req->url, url ? url : "");
    }
    case S_PUTMAN:
        return wbi_buf_puts(&req->url, job->upload_url ? job->upload_url : "");
    case S_COMMIT:
        return s_gql(req, "CommitArtifact", s_q_commit,
                     json_pack("{s:s}", "artifactID", job->artifact_id));
    case S_LOOKUP:
        snprintf(name, sizeof name, "%s:%s", s_str(ev, "name"), s_str(ev, "version"));
        return s_gql(req, "ArtifactMembershipByName", s_q_lookup,
                     json_pack("{s:s, s:s, s:s}", "entity", wbi_bk_entity(run), "project",
                               s_str(ev, "project"), "name", name));
    case S_USE:
        return s_gql(req, "UseArtifact", s_q_use,
                     json_pack("{s:s, s:s, s:s, s:s, s:n}", "artifactID", job->artifact_id,
                               "entityName", wbi_bk_entity(run), "projectName", run->project,
                               "runName", run->run_id, "usedAs"));
    case S_LINK: {
        const char *portfolio = s_str(ev, "portfolio");
        json_t *aliases = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ev, "aliases"), i, a) json_array_append_new(
            aliases, json_pack("{s:O, s:s}", "alias", a, "artifactCollectionName", portfolio));
        const char *ent = s_str(ev, "target_entity");
        return s_gql(req, "LinkArtifact", s_q_link,
                     json_pack("{s:{s:o, s:s, s:s, s:s, s:s}}", "input", "aliases", aliases,
                               "artifactID", job->artifact_id, "artifactPortfolioName", portfolio,
                               "entityName", *ent ? ent : wbi_bk_entity(run), "projectName",
                               s_str(ev, "target_project")));
    }
    default:
        return WANDB_EINVAL;
    }
}

wandb_err wbi_bk_art_answer(const wbi_bk_req_t *req, const wbi_http_result_t *res,
                            wbi_bk_outcome_t *o, char *err, size_t errlen)
{
    (void)o;
    wbi_bk_art_t *job = req->art;
    if (job->step == S_PUT || job->step == S_PUTMAN)
        return WANDB_OK;
    json_decref(job->answer);
    job->answer = NULL;
    wandb_err rc = wbi_bk_graphql_data(res->body, res->body_len, &job->answer, err, errlen);
    if (rc == WANDB_OK && job->step == S_LOOKUP) {
        const json_t *m = json_object_get(json_object_get(job->answer, "project"),
                                          "artifactCollectionMembership");
        if (!json_string_value(json_object_get(json_object_get(m, "artifact"), "id"))) {
            snprintf(err, errlen, "the server has no artifact '%s:%s'", s_str(job->ev, "name"),
                     s_str(job->ev, "version"));
            rc = WANDB_EBACKEND;
        }
    }
    return rc;
}

// Keeps the uploadHeaders ("Key:Value" strings) of an answer.
static void s_headers(wbi_bk_art_t *job, const json_t *arr)
{
    wbi_bkq_strv_free(job->headers, job->nheaders);
    job->headers = NULL;
    job->nheaders = 0;
    size_t n = json_array_size(arr);
    if (!n || !(job->headers = wbi_calloc(n, sizeof(char *))))
        return;
    for (size_t i = 0; i < n; i++)
        if (json_string_value(json_array_get(arr, i)))
            job->headers[job->nheaders++] = wbi_strdup(json_string_value(json_array_get(arr, i)));
}

static char *s_dup(const char *s)
{
    return s ? wbi_strdup(s) : NULL;
}

// The next file at or after i that the server asked for, or the count.
static size_t s_next_put(const wbi_bk_art_t *job, size_t i)
{
    size_t n = json_array_size(job->files);
    while (i < n && !json_string_value(json_array_get(job->urls, i)))
        i++;
    return i;
}

bool wbi_bk_art_step_done(wbi_backend_run_t *run, wbi_bk_art_t *job)
{
    const json_t *d = job->answer;
    const char *name = s_str(job->ev, "name");
    switch (job->step) {
    case S_CREATE: {
        const json_t *a = json_object_get(json_object_get(d, "createArtifact"), "artifact");
        job->artifact_id = s_dup(json_string_value(json_object_get(a, "id")));
        if (!strcmp(s_str(a, "state"), "COMMITTED")) {
            wbi_info("run '%s': artifact '%s' %s already exists with the same content", run->run_id,
                     name, s_str(job->ev, "version"));
            job->step = S_DONE;
        } else {
            job->step = S_MAN0;
        }
        break;
    }
    case S_MAN0:
        job->manifest_id = s_dup(json_string_value(json_object_get(
            json_object_get(json_object_get(d, "createArtifactManifest"), "artifactManifest"),
            "id")));
        job->step = json_array_size(job->files) ? S_FILES : S_MAN1;
        break;
    case S_FILES: {
        const json_t *edges = json_object_get(
            json_object_get(json_object_get(d, "createArtifactFiles"), "files"), "edges");
        json_decref(job->urls);
        job->urls = json_array();
        for (size_t i = 0; i < json_array_size(job->files); i++) {
            const json_t *node = json_object_get(json_array_get(edges, i), "node");
            const char *url = json_string_value(json_object_get(node, "uploadUrl"));
            json_array_append_new(job->urls, url ? json_string(url) : json_null());
            const char *birth =
                json_string_value(json_object_get(json_object_get(node, "artifact"), "id"));
            json_t *e =
                json_object_get(job->contents, json_string_value(json_array_get(job->files, i)));
            if (birth && e)
                json_object_set_new(e, "birthArtifactID", json_string(birth));
            if (i == 0)
                s_headers(job, json_object_get(node, "uploadHeaders"));
        }
        job->idx = s_next_put(job, 0);
        job->step = job->idx < json_array_size(job->files) ? S_PUT : S_MAN1;
        break;
    }
    case S_PUT:
        if (job->fp)
            fclose(job->fp);
        job->fp = NULL;
        job->idx = s_next_put(job, job->idx + 1);
        job->step = job->idx < json_array_size(job->files) ? S_PUT : S_MAN1;
        break;
    case S_MAN1: {
        const json_t *f = json_object_get(
            json_object_get(json_object_get(d, "createArtifactManifest"), "artifactManifest"),
            "file");
        wbi_free(job->upload_url);
        job->upload_url = s_dup(json_string_value(json_object_get(f, "uploadUrl")));
        s_headers(job, json_object_get(f, "uploadHeaders"));
        job->step = job->upload_url ? S_PUTMAN : S_COMMIT;
        break;
    }
    case S_PUTMAN:
        job->step = S_COMMIT;
        break;
    case S_COMMIT:
        wbi_info("run '%s': artifact '%s' %s committed in the backend", run->run_id, name,
                 s_str(job->ev, "version"));
        job->step = S_DONE;
        break;
    case S_LOOKUP: {
        const json_t *m =
            json_object_get(json_object_get(d, "project"), "artifactCollectionMembership");
        job->artifact_id =
            s_dup(json_string_value(json_object_get(json_object_get(m, "artifact"), "id")));
        job->step = strcmp(s_str(job->ev, "event"), "use") == 0 ? S_USE : S_LINK;
        break;
    }
    default:
        job->step = S_DONE;
        break;
    }
    json_decref(job->answer);
    job->answer = NULL;
    return job->step == S_DONE;
}

bool wbi_bk_art_put(const wbi_bk_art_t *job, FILE **fp, const char **body, size_t *len,
                    uint64_t *size, char ***headers, size_t *nheaders)
{
    *headers = job->headers;
    *nheaders = job->nheaders;
    if (job->step == S_PUT) {
        const char *p = json_string_value(json_array_get(job->files, job->idx));
        *fp = job->fp;
        *body = NULL;
        *len = 0;
        *size = (uint64_t)json_integer_value(
            json_object_get(json_object_get(job->contents, p), "size"));
        return true;
    }
    if (job->step == S_PUTMAN) {
        *fp = NULL;
        *body = job->manifest;
        *len = job->manifest ? strlen(job->manifest) : 0;
        *size = *len;
        return true;
    }
    return false;
}

wandb_err wbi_backend_run_artifact(wbi_backend_t *self, wbi_backend_run_t *run, const char *event,
                                   size_t len, const char *store_dir)
{
    if (!self || !run || !event || !store_dir)
        return WANDB_EINVAL;
    char why[300] = "";
    wbi_bk_art_t *job = wbi_bk_art_new(event, len, store_dir, why, sizeof why);
    if (!job) {
        wbi_warn("run '%s': artifact event not sent: %s", run->run_id, why);
        return WANDB_EINVAL;
    }
    pthread_mutex_lock(&self->mu);
    wandb_err rc = WANDB_OK;
    if (run->dead || run->completed) {
        rc = WANDB_ECLOSED;
    } else {
        wbi_list_append(&run->art, &job->node);
        job = NULL;
        run->abandoned = false;
        wbi_bk_wake(self);
    }
    pthread_mutex_unlock(&self->mu);
    if (rc != WANDB_OK)
        wbi_warn("run '%s': artifact event dropped: the run ended in the backend", run->run_id);
    wbi_bk_art_free(job);
    return rc;
}
