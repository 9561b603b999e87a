//  gql_artifact.c - the artifact save flow of wandb-mpi-server (GraphQL)
//  SPDX-License-Identifier: MIT
//
//  CreateArtifact, CreateArtifactManifest, CreateArtifactFiles,
//  UpdateArtifactManifest, CommitArtifact, ClientIDMapping (§7.3, §7.4 of
//  WANDB_PROTOCOL.md), and the dispatch of every artifact operation; the
//  queries, UseArtifact and LinkArtifact are in gql_artifact_read.c.
//  Commit builds the version from the uploaded manifests: the last FULL
//  one, or every PATCH one merged (distributed artifacts), and refuses while
//  a file of it was never uploaded (the version stays PENDING).

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/md5.h"
#include "server/blob.h"
#include "server/gql_int.h"
#include "server/slog.h"
#include "server/util.h"
#include "store/artifact.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Ids and names.

json_t *wbi_gql_art_gid(int64_t id)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, id);
    return wbi_gql_gid("Artifact", text);
}

bool wbi_gql_art_id(const char *gid, int64_t *id)
{
    if (!gid)
        return false;
    wbi_buf_t b;
    wbi_buf_init(&b, 128);
    bool ok =
        wbi_b64_decode(&b, gid, strlen(gid)) && b.data && strncmp(b.data, "Artifact:", 9) == 0;
    if (ok) {
        char *end = NULL;
        long long v = strtoll(b.data + 9, &end, 10);
        ok = end && *end == '\0' && v > 0;
        *id = v;
    }
    wbi_buf_release(&b);
    return ok;
}

bool wbi_gql_art_name_ok(const char *what, const char *name, char *why, size_t whylen)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > WBI_ART_NAME_MAX) {
        snprintf(why, whylen, "invalid %s '%.140s': it must have 1 to %d characters", what,
                 name ? name : "", WBI_ART_NAME_MAX);
        return false;
    }
    size_t bad = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
    if (bad != n) {
        snprintf(why, whylen,
                 "invalid %s '%.140s': character %zu ('%c') is not one of A-Z a-z 0-9 _ - .", what,
                 name, bad + 1, name[bad]);
        return false;
    }
    return true;
}

// An alias or type: 1 to 128 characters, no '/' or ':' and no control byte.
static bool s_label_ok(const char *what, const char *s, char *why, size_t whylen)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n <= WBI_ART_NAME_MAX && strcspn(s, "/:") == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20;
    if (!ok)
        snprintf(why, whylen, "invalid %s '%.140s': 1 to %d characters without '/' or ':'", what,
                 s ? s : "", WBI_ART_NAME_MAX);
    return ok;
}

// The URL of a blob's upload or download.
static json_t *s_blob_url(const wbi_gql_ctx_t *ctx, const char *kind, const char *what)
{
    char url[512];
    snprintf(url, sizeof url, "%s/artifact-blobs/%s/%s/%s", ctx->upload_base, ctx->upload_token,
             kind, what);
    return json_string(url);
}

json_t *wbi_gql_blob_url(const wbi_gql_ctx_t *ctx, const char *hex)
{
    return hex ? s_blob_url(ctx, "file", hex) : json_null();
}

// The input object: variables.input, or the variables themselves.
static const json_t *s_input(const json_t *vars)
{
    json_t *in = json_object_get(vars, "input");
    return json_is_object(in) ? in : vars;
}

// Reads and checks the artifact id variable name; false with res failed.
static bool s_art_var(const wbi_gql_ctx_t *ctx, const json_t *in, const char *name,
                      wbi_artifact_t *a, wbi_gql_result_t *res)
{
    int64_t id = 0;
    const char *gid = wbi_gql_var(in, name);
    if (!wbi_gql_art_id(gid, &id)) {
        wbi_gql_fail(res, 200, "'%s' is not an artifact id: '%.80s'", name, gid ? gid : "");
        return false;
    }
    wandb_err e = wbi_store_art_get(ctx->store, id, a);
    if (e == WANDB_ENOTFOUND)
        wbi_gql_fail(res, 200, "no artifact with id '%s'", gid);
    else if (e != WANDB_OK)
        wbi_gql_fail_store(ctx, res, e);
    return e == WANDB_OK;
}

// ---------------------------------------------------------------------------
// Operations of the save flow.

// The aliases of CreateArtifactInput as a JSON array text of names.
static char *s_aliases_text(const json_t *in, char *why, size_t whylen, bool *ok)
{
    json_t *names = json_array();
    size_t i;
    json_t *al;
    *ok = true;
    json_array_foreach(json_object_get(in, "aliases"), i, al)
    {
        const char *alias = json_is_string(al) ? json_string_value(al) : wbi_gql_var(al, "alias");
        if (!s_label_ok("alias", alias, why, whylen)) {
            *ok = false;
            break;
        }
        json_array_append_new(names, json_string(alias));
    }
    char *text = *ok ? json_dumps(names, JSON_COMPACT) : NULL; // free() it
    json_decref(names);
    return text;
}

// CreateArtifact(input: CreateArtifactInput): a PENDING version, or the
// existing one (same distributed id pending, or same digest committed).
static void s_op_create_artifact(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                 wbi_gql_result_t *res)
{
    const json_t *in = s_input(vars);
    const char *entity = wbi_gql_var(in, "entityName");
    const char *name = wbi_gql_var(in, "artifactCollectionName");
    if (!name)
        name = json_string_value(json_array_get(json_object_get(in, "artifactCollectionNames"), 0));
    wbi_art_new_t n = {.entity = entity && *entity ? entity : ctx->entity,
                       .project = wbi_gql_var(in, "projectName"),
                       .name = name,
                       .type = wbi_gql_var(in, "artifactTypeName"),
                       .digest = wbi_gql_var(in, "digest"),
                       .description = wbi_gql_var(in, "description"),
                       .metadata = wbi_gql_var(in, "metadata"),
                       .distributed_id = wbi_gql_var(in, "distributedID"),
                       .client_id = wbi_gql_var(in, "clientID"),
                       .seq_client_id = wbi_gql_var(in, "sequenceClientID"),
                       .history_step = -1};
    char why[256];
    if (!wbi_gql_art_name_ok("artifact name", n.name, why, sizeof why) ||
        !s_label_ok("artifact type", n.type, why, sizeof why) ||
        !wbi_name_check("project", n.project ? n.project : "", n.project ? strlen(n.project) : 0,
                        why, sizeof why) ||
        !wbi_name_check("entity", n.entity, strlen(n.entity), why, sizeof why)) {
        wbi_gql_fail(res, 200, "CreateArtifact: %s", why);
        return;
    }
    if (!n.digest || !*n.digest) {
        wbi_gql_fail(res, 200, "CreateArtifact: 'digest' is required");
        return;
    }
    bool ok = true;
    char *aliases = s_aliases_text(in, why, sizeof why, &ok);
    if (!ok) {
        wbi_gql_fail(res, 200, "CreateArtifact: %s", why);
        return;
    }
    n.aliases = aliases;
    const char *run = wbi_gql_var(in, "runName");
    if (run && *run && !wbi_run_id_check(run, strlen(run), why, sizeof why)) {
        free(aliases);
        wbi_gql_fail(res, 200, "CreateArtifact: %s", why);
        return;
    }
    json_t *step = json_object_get(in, "historyStep");
    if (json_is_integer(step))
        n.history_step = json_integer_value(step);
    wandb_err e = wbi_store_begin(ctx->store);
    if (e == WANDB_OK && run && *run)
        e = wbi_store_run_ensure(ctx->store, n.entity, n.project, run, ctx->now, &n.run_id);
    int64_t id = 0;
    if (e == WANDB_OK)
        e = wbi_store_art_create(ctx->store, &n, ctx->now, &id);
    wbi_artifact_t a = {0};
    if (e == WANDB_OK)
        e = wbi_store_art_get(ctx->store, id, &a);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    free(aliases);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        if (e == WANDB_EINVAL)
            wbi_gql_fail(res, 200, "CreateArtifact: %s", wbi_store_errmsg(ctx->store));
        else
            wbi_gql_fail_store(ctx, res, e);
        wbi_store_art_release(&a);
        return;
    }
    wbi_slog(WANDB_LOG_INFO, "artifact", "%s/%s/%s: artifact id %" PRId64 " %s%s%s", n.entity,
             n.project, n.name, id, a.state, n.distributed_id ? " distributed id " : "",
             n.distributed_id ? n.distributed_id : "");
    json_t *art = wbi_gql_art_json(ctx, &a);
    wbi_store_art_release(&a);
    wbi_gql_ok(res, json_pack("{s{so}}", "createArtifact", "artifact", art));
}

// { artifactManifest { id file { id directUrl uploadUrl uploadHeaders } } }
static json_t *s_manifest_json(const wbi_gql_ctx_t *ctx, int64_t mid, bool upload)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, mid);
    return json_pack("{s{sos{sososos[]}}}", "artifactManifest", "id",
                     wbi_gql_gid("ArtifactManifest", text), "file", "id", wbi_gql_gid("File", text),
                     "directUrl", json_null(), "uploadUrl",
                     upload ? s_blob_url(ctx, "manifest", text) : json_null(), "uploadHeaders");
}

// CreateArtifactManifest(artifactID, name, digest, type, includeUpload, ...).
static void s_op_create_manifest(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                 wbi_gql_result_t *res)
{
    const json_t *in = s_input(vars);
    wbi_artifact_t a = {0};
    if (!s_art_var(ctx, in, "artifactID", &a, res))
        return;
    const char *name = wbi_gql_var(in, "name");
    const char *type = wbi_gql_var(in, "type");
    if (!type)
        type = wbi_gql_var(in, "manifestType");
    int64_t mid = 0;
    wandb_err e = wbi_store_begin(ctx->store);
    if (e == WANDB_OK)
        e = wbi_store_art_manifest_add(ctx->store, a.id, name ? name : "wandb_manifest.json",
                                       type ? type : "FULL", wbi_gql_var(in, "digest"), ctx->now,
                                       &mid);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    wbi_store_art_release(&a);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    bool upload = json_is_true(json_object_get(in, "includeUpload"));
    wbi_gql_ok(res, json_pack("{so}", "createArtifactManifest", s_manifest_json(ctx, mid, upload)));
}

// UpdateArtifactManifest(artifactManifestID, digest, includeUpload, ...).
static void s_op_update_manifest(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                 wbi_gql_result_t *res)
{
    const json_t *in = s_input(vars);
    const char *gid = wbi_gql_var(in, "artifactManifestID");
    wbi_buf_t b;
    wbi_buf_init(&b, 128);
    int64_t mid = 0;
    if (gid && wbi_b64_decode(&b, gid, strlen(gid)) && b.data &&
        strncmp(b.data, "ArtifactManifest:", 17) == 0)
        mid = strtoll(b.data + 17, NULL, 10);
    wbi_buf_release(&b);
    wandb_err e = mid > 0
                      ? wbi_store_art_manifest_set(ctx->store, mid, wbi_gql_var(in, "digest"), NULL)
                      : WANDB_ENOTFOUND;
    if (e == WANDB_ENOTFOUND) {
        wbi_gql_fail(res, 200, "UpdateArtifactManifest: no manifest '%s'", gid ? gid : "");
        return;
    }
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    bool upload = json_is_true(json_object_get(in, "includeUpload"));
    wbi_gql_ok(res, json_pack("{so}", "updateArtifactManifest", s_manifest_json(ctx, mid, upload)));
}

// CreateArtifactFiles(artifactFiles: [...], storageLayout): one node per
// file, in request order; uploadUrl null when the blob is stored already.
static void s_op_create_files(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    const json_t *files = json_object_get(s_input(vars), "artifactFiles");
    if (!json_is_array(files)) {
        wbi_gql_fail(res, 200, "CreateArtifactFiles: 'artifactFiles' must be a list");
        return;
    }
    json_t *edges = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        wbi_artifact_t a = {0};
        if (!s_art_var(ctx, f, "artifactID", &a, res)) {
            json_decref(edges);
            return;
        }
        const char *name = wbi_gql_var(f, "name");
        char hex[33];
        if (!wbi_blob_hex_of_b64(wbi_gql_var(f, "md5"), hex) || !name || !*name) {
            wbi_store_art_release(&a);
            json_decref(edges);
            wbi_gql_fail(res, 200,
                         "CreateArtifactFiles: artifactFiles[%zu] needs a 'name' and an 'md5'"
                         " (base64 of 16 bytes)",
                         i);
            return;
        }
        bool stored = wbi_blob_exists(ctx->dir, hex, NULL);
        char storage[64];
        snprintf(storage, sizeof storage, "artifacts/blobs/%.2s/%s", hex, hex);
        json_t *node = json_pack("{sosssssssosos[]sos{so}}", "id", wbi_gql_gid("File", hex), "name",
                                 name, "displayName", name, "storagePath", storage, "uploadUrl",
                                 stored ? json_null() : s_blob_url(ctx, "file", hex), "directUrl",
                                 wbi_gql_blob_url(ctx, hex), "uploadHeaders", "uploadMultipartUrls",
                                 json_null(), "artifact", "id", wbi_gql_art_gid(a.id));
        json_array_append_new(edges, json_pack("{so}", "node", node));
        wbi_store_art_release(&a);
    }
    wbi_gql_ok(res, json_pack("{s{s{so}}}", "createArtifactFiles", "files", "edges", edges));
}

// ClientIDMapping(clientID): the server id of a client-side artifact id.
static void s_op_client_id_mapping(const wbi_gql_ctx_t *ctx, const json_t *vars,
                                   wbi_gql_result_t *res)
{
    int64_t id = 0;
    const char *cid = wbi_gql_var(vars, "clientID");
    wandb_err e = cid ? wbi_store_art_by_client_id(ctx->store, cid, &id) : WANDB_ENOTFOUND;
    if (e != WANDB_OK && e != WANDB_ENOTFOUND) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    wbi_gql_ok(res, json_pack("{s{so}}", "clientIDMapping", "serverID",
                              e == WANDB_OK ? wbi_gql_art_gid(id) : json_null()));
}

// Collects the uploaded manifests of a version for its commit.
typedef struct {
    const char *dir;   // data directory
    json_t *contents;  // merged contents (path -> entry)
    json_t *full;      // the last FULL manifest, or NULL
    char full_hex[33]; // its blob
    int npatch;        // PATCH / INCREMENTAL manifests merged
    bool incremental;  // an INCREMENTAL one: the latest version's files are the base
    bool bad;          // a manifest could not be read
} s_merge_t;

static int s_merge_one(void *arg, int64_t id, const char *type, const char *blob)
{
    (void)id;
    s_merge_t *m = arg;
    json_t *doc = wbi_blob_load_json(m->dir, blob);
    json_t *contents = json_object_get(doc, "contents");
    if (!json_is_object(contents)) {
        m->bad = true;
        json_decref(doc);
        return 1;
    }
    if (strcmp(type, "FULL") == 0) {
        json_decref(m->full);
        m->full = doc;
        snprintf(m->full_hex, sizeof m->full_hex, "%s", blob);
        return 0;
    }
    json_object_update(m->contents, contents); // a later patch wins on the same path
    m->npatch++;
    m->incremental |= strcmp(type, "INCREMENTAL") == 0;
    json_decref(doc);
    return 0;
}

// The W&B artifact digest (§7.1): hex MD5 of the manifest text.
static void s_art_digest(const json_t *contents, char hex[33])
{
    const char **paths = wbi_calloc(json_object_size(contents) + 1, sizeof *paths);
    size_t n = 0;
    const char *path;
    json_t *entry;
    json_object_foreach((json_t *)contents, path, entry)
    {
        if (paths)
            paths[n++] = path;
    }
    for (size_t i = 1; i < n; i++) // insertion sort: manifests are modest
        for (size_t j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
            const char *t = paths[j];
            paths[j] = paths[j - 1];
            paths[j - 1] = t;
        }
    wbi_md5_t m;
    wbi_md5_init(&m);
    wbi_md5_update(&m, "wandb-artifact-manifest-v1\n", 27);
    for (size_t i = 0; i < n; i++) {
        const char *d =
            json_string_value(json_object_get(json_object_get(contents, paths[i]), "digest"));
        wbi_md5_update(&m, paths[i], strlen(paths[i]));
        wbi_md5_update(&m, ":", 1);
        wbi_md5_update(&m, d ? d : "", d ? strlen(d) : 0);
        wbi_md5_update(&m, "\n", 1);
    }
    unsigned char raw[WBI_MD5_LEN];
    wbi_md5_final(&m, raw);
    wbi_md5_hex(raw, hex);
    wbi_free(paths);
}

// The first entry of contents whose file was never uploaded, or NULL.
static const char *s_missing_file(const wbi_gql_ctx_t *ctx, const json_t *contents)
{
    const char *path;
    json_t *entry;
    json_object_foreach((json_t *)contents, path, entry)
    {
        if (json_is_string(json_object_get(entry, "ref")))
            continue; // a reference: the bytes live elsewhere
        char hex[33];
        if (!wbi_blob_hex_of_b64(json_string_value(json_object_get(entry, "digest")), hex) ||
            !wbi_blob_exists(ctx->dir, hex, NULL))
            return path;
    }
    return NULL;
}

// Adds one committed entry to the contents being built (when not there).
static int s_base_entry(void *arg, const char *path, const char *digest, int64_t size,
                        const char *ref, int64_t birth)
{
    if (json_object_get(arg, path))
        return 0;
    json_t *e = json_pack("{sssI}", "digest", digest, "size", (json_int_t)(size > 0 ? size : 0));
    if (ref)
        json_object_set_new(e, "ref", json_string(ref));
    if (birth > 0)
        json_object_set_new(e, "birthArtifactID", wbi_gql_art_gid(birth));
    json_object_set_new(arg, path, e);
    return 0;
}

// An INCREMENTAL manifest holds the changes only: the files of the latest
// committed version of the sequence are the base.
static wandb_err s_merge_base(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a, json_t *contents)
{
    wbi_artifact_t base = {0};
    wandb_err e =
        wbi_store_art_find(ctx->store, a->entity, a->project, a->name, "latest", &base, NULL, NULL);
    if (e == WANDB_OK)
        e = wbi_store_art_files_each(ctx->store, base.id, NULL, s_base_entry, contents);
    wbi_store_art_release(&base);
    return e == WANDB_ENOTFOUND ? WANDB_OK : e;
}

// Builds the final manifest of version a: contents, its blob and digest.
// False with res failed (the version stays PENDING).
static bool s_final_manifest(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a, json_t **contents,
                             char blob[33], char digest[33], wbi_gql_result_t *res)
{
    s_merge_t m = {.dir = ctx->dir, .contents = json_object()};
    wandb_err e = wbi_store_art_manifests_each(ctx->store, a->id, s_merge_one, &m);
    bool ok = false;
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
    } else if (m.bad) {
        wbi_gql_fail(res, 200, "CommitArtifact: a manifest of '%s' is not a valid manifest",
                     a->name);
    } else if (!m.full && m.npatch == 0) {
        wbi_gql_fail(res, 200, "CommitArtifact: '%s' has no uploaded manifest; nothing committed",
                     a->name);
    } else {
        ok = true;
    }
    if (ok && m.full && m.npatch == 0) {
        json_decref(m.contents);
        m.contents = json_incref(json_object_get(m.full, "contents"));
        snprintf(blob, 33, "%s", m.full_hex);
        snprintf(digest, 33, "%s", a->digest);
    } else if (ok) {
        if (m.full) // a FULL manifest first, patches over it
            json_object_update_missing(m.contents, json_object_get(m.full, "contents"));
        else if (m.incremental && s_merge_base(ctx, a, m.contents) != WANDB_OK)
            ok = false;
        json_t *doc =
            json_pack("{sisss{ss}sO}", "version", 1, "storagePolicy", "wandb-storage-policy-v1",
                      "storagePolicyConfig", "storageLayout", "V2", "contents", m.contents);
        char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(doc);
        ok = ok && text && wbi_blob_put(ctx->dir, text, strlen(text), blob) == WANDB_OK;
        free(text);
        if (!ok)
            wbi_gql_fail(res, 503, "CommitArtifact: cannot build or store the merged manifest");
        s_art_digest(m.contents, digest);
    }
    const char *missing = ok ? s_missing_file(ctx, m.contents) : NULL;
    if (missing) {
        wbi_gql_fail(res, 200,
                     "CommitArtifact: file '%s' of artifact '%s' was never uploaded; the version"
                     " stays PENDING (upload it, then commit again)",
                     missing, a->name);
        ok = false;
    }
    json_decref(m.full);
    if (ok)
        *contents = m.contents;
    else
        json_decref(m.contents);
    return ok;
}

// CommitArtifact(artifactID): PENDING -> COMMITTED with the next vN.
static void s_op_commit(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    wbi_artifact_t a = {0};
    if (!s_art_var(ctx, s_input(vars), "artifactID", &a, res))
        return;
    json_t *contents = NULL;
    char blob[33], digest[33];
    int64_t version = -1;
    bool committed = strcmp(a.state, "COMMITTED") == 0;
    if (!committed && !s_final_manifest(ctx, &a, &contents, blob, digest, res)) {
        wbi_store_art_release(&a);
        return;
    }
    wandb_err e = committed ? WANDB_OK : wbi_store_begin(ctx->store);
    if (!committed && e == WANDB_OK)
        e = wbi_store_art_commit(ctx->store, a.id, contents, blob, digest, ctx->now, &version);
    if (!committed && e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    json_decref(contents);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        wbi_gql_fail_store(ctx, res, e);
        wbi_store_art_release(&a);
        return;
    }
    if (!committed)
        wbi_slog(WANDB_LOG_INFO, "artifact", "%s/%s/%s:v%" PRId64 " committed", a.entity, a.project,
                 a.name, version);
    int64_t id = a.id;
    wbi_store_art_release(&a);
    e = wbi_store_art_get(ctx->store, id, &a);
    if (e != WANDB_OK) {
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    json_t *art = wbi_gql_art_json(ctx, &a);
    wbi_store_art_release(&a);
    wbi_gql_ok(res, json_pack("{s{so}}", "commitArtifact", "artifact", art));
}

// CompleteMultipartUploadArtifact: multipart uploads are not offered
// (uploadMultipartUrls is always null), so a client never gets here.
static void s_op_multipart(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    (void)ctx;
    (void)vars;
    wbi_gql_fail(res, 200, "multipart artifact uploads are not supported by this server");
}

static const wbi_gql_op_t s_ops[] = {
    {"CreateArtifact", s_op_create_artifact},
    {"CreateArtifactManifest", s_op_create_manifest},
    {"UpdateArtifactManifest", s_op_update_manifest},
    {"CreateArtifactFiles", s_op_create_files},
    {"CommitArtifact", s_op_commit},
    {"ClientIDMapping", s_op_client_id_mapping},
    {"CompleteMultipartUploadArtifact", s_op_multipart},
};

bool wbi_gql_artifact_op(const wbi_gql_ctx_t *ctx, const char *op, const json_t *vars,
                         wbi_gql_result_t *res)
{
    return wbi_gql_dispatch(s_ops, sizeof s_ops / sizeof s_ops[0], ctx, op, vars, res) ||
           wbi_gql_artifact_query(ctx, op, vars, res);
}
