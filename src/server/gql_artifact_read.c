//  gql_artifact_read.c - artifact queries, UseArtifact and LinkArtifact (GraphQL)
//  SPDX-License-Identifier: MIT
//
//  The shapes are supersets of what the Python SDK's generated queries
//  select (wandb/sdk/artifacts/_generated: ArtifactFragment,
//  ArtifactMembershipFragment, FileFragment); fields under an alias in the
//  query text (`result: linkArtifact`, `name: displayName`) are answered
//  under both names. An unknown version or alias is a GraphQL error that
//  names what was asked.

#include "common/alloc.h"
#include "server/blob.h"
#include "server/gql_int.h"
#include "server/slog.h"
#include "server/util.h"
#include "store/artifact.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ISO 8601 UTC without zone, as W&B answers ("2026-12-06T22:50:00").
static json_t *s_time(double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return json_string(buf);
}

static json_t *s_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

// { __typename name project {...} } of a collection.
static json_t *s_coll_json(const char *kind, const char *name, const char *entity,
                           const char *project)
{
    char text[600];
    snprintf(text, sizeof text, "%s/%s/%s", entity, project, name);
    return json_pack("{sssossso}", "__typename",
                     strcmp(kind, "PORTFOLIO") == 0 ? "ArtifactPortfolio" : "ArtifactSequence",
                     "id", wbi_gql_gid("ArtifactCollection", text), "name", name, "project",
                     wbi_gql_project_json(entity, project));
}

// The aliases of a version in collection coll_id (0: every collection).
static json_t *s_aliases_json(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a, int64_t coll_id)
{
    json_t *list = NULL, *out = json_array();
    if (wbi_store_art_aliases(ctx->store, a->id, coll_id, &list) != WANDB_OK)
        return out;
    size_t i;
    json_t *al;
    json_array_foreach(list, i, al)
    {
        const char *alias = json_string_value(json_object_get(al, "alias"));
        const char *coll = json_string_value(json_object_get(al, "collection"));
        char text[600];
        snprintf(text, sizeof text, "%" PRId64 ":%s:%s", a->id, coll, alias);
        json_array_append_new(
            out, json_pack("{sssossso}", "__typename", "ArtifactAlias", "id",
                           wbi_gql_gid("ArtifactAlias", text), "alias", alias, "artifactCollection",
                           s_coll_json(json_string_value(json_object_get(al, "kind")), coll,
                                       a->entity, a->project)));
    }
    json_decref(list);
    return out;
}

json_t *wbi_gql_art_json(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a)
{
    json_t *seq = s_coll_json("SEQUENCE", a->name, a->entity, a->project);
    json_object_set_new(seq, "latestArtifact", json_null());
    json_t *o = json_object();
    int bad = 0;
    bad |= json_object_set_new(o, "__typename", json_string("Artifact"));
    bad |= json_object_set_new(o, "id", wbi_gql_art_gid(a->id));
    bad |= json_object_set_new(o, "artifactSequence", seq);
    bad |= json_object_set_new(o, "versionIndex",
                               a->version >= 0 ? json_integer(a->version) : json_null());
    bad |= json_object_set_new(o, "artifactType", json_pack("{ss}", "name", a->type));
    bad |= json_object_set_new(o, "description", s_str(a->description));
    bad |= json_object_set_new(o, "metadata", s_str(a->metadata));
    bad |= json_object_set_new(o, "ttlDurationSeconds", json_integer(-1));
    bad |= json_object_set_new(o, "ttlIsInherited", json_true());
    bad |= json_object_set_new(o, "tags", json_array());
    bad |= json_object_set_new(o, "historyStep",
                               a->history_step >= 0 ? json_integer(a->history_step) : json_null());
    bad |= json_object_set_new(o, "state", json_string(a->state));
    bad |= json_object_set_new(o, "size", json_integer(a->size));
    bad |= json_object_set_new(o, "digest", json_string(a->digest));
    bad |= json_object_set_new(o, "digestAlgorithm", json_string("MANIFEST_MD5"));
    bad |= json_object_set_new(o, "commitHash", s_str(a->manifest_blob));
    bad |= json_object_set_new(o, "fileCount", json_integer(a->file_count));
    bad |= json_object_set_new(o, "createdAt", s_time(a->created_at));
    bad |= json_object_set_new(o, "updatedAt", s_time(a->updated_at));
    bad |= json_object_set_new(o, "aliases", s_aliases_json(ctx, a, 0));
    bad |= json_object_set_new(o, "currentManifest",
                               a->manifest_blob ? json_pack("{s{so}}", "file", "directUrl",
                                                            wbi_gql_blob_url(ctx, a->manifest_blob))
                                                : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

// "name:alias" -> name, alias ("latest" without ':'). False when it does
// not fit or has more than one ':'.
static bool s_split_name(const char *full, char name[256], char alias[256])
{
    const char *colon = full ? strchr(full, ':') : NULL;
    size_t n = colon ? (size_t)(colon - full) : (full ? strlen(full) : 0);
    if (!full || n == 0 || n >= 256 || (colon && strchr(colon + 1, ':')))
        return false;
    memcpy(name, full, n);
    name[n] = '\0';
    snprintf(alias, 256, "%s", colon && colon[1] ? colon + 1 : "latest");
    return strlen(alias) < 255;
}

// Resolves (entity, project, collection, alias) to a committed version;
// false with res failed (a clear error when unknown).
static bool s_find(const wbi_gql_ctx_t *ctx, const json_t *vars, const char *coll,
                   const char *alias, wbi_artifact_t *a, int64_t *coll_id, int64_t *index,
                   wbi_gql_result_t *res)
{
    const char *entity = wbi_gql_var(vars, "entity");
    if (!entity)
        entity = wbi_gql_var(vars, "entityName");
    if (!entity || !*entity)
        entity = ctx->entity;
    const char *project = wbi_gql_var(vars, "project");
    if (!project)
        project = wbi_gql_var(vars, "projectName");
    wandb_err e = project && coll && alias ? wbi_store_art_find(ctx->store, entity, project, coll,
                                                                alias, a, coll_id, index)
                                           : WANDB_ENOTFOUND;
    if (e == WANDB_ENOTFOUND)
        wbi_gql_fail(res, 200,
                     "artifact '%s:%s' not found in project '%s/%s' (no such name, version or"
                     " alias)",
                     coll ? coll : "", alias ? alias : "", entity, project ? project : "");
    else if (e != WANDB_OK)
        wbi_gql_fail_store(ctx, res, e);
    return e == WANDB_OK;
}

// The membership object of a version in a collection.
static json_t *s_membership_json(const wbi_gql_ctx_t *ctx, const wbi_artifact_t *a, int64_t coll_id,
                                 int64_t index, const char *coll_name, const char *kind,
                                 const char *entity, const char *project)
{
    char text[64];
    snprintf(text, sizeof text, "%" PRId64 ":%" PRId64, coll_id, a->id);
    return json_pack("{sssosIsosososo}", "__typename", "ArtifactCollectionMembership", "id",
                     wbi_gql_gid("ArtifactCollectionMembership", text), "versionIndex",
                     (json_int_t)index, "createdAt", s_time(a->updated_at), "aliases",
                     s_aliases_json(ctx, a, coll_id), "artifactCollection",
                     s_coll_json(kind, coll_name, entity, project), "artifact",
                     wbi_gql_art_json(ctx, a));
}

// ArtifactMembershipByName(entity, project, name "collection:alias").
static void s_op_membership(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    char coll[256], alias[256];
    if (!s_split_name(wbi_gql_var(vars, "name"), coll, alias)) {
        wbi_gql_fail(res, 200, "invalid artifact name '%s': expected name[:version or alias]",
                     wbi_gql_var(vars, "name") ? wbi_gql_var(vars, "name") : "");
        return;
    }
    wbi_artifact_t a = {0};
    int64_t coll_id = 0, index = 0;
    if (!s_find(ctx, vars, coll, alias, &a, &coll_id, &index, res))
        return;
    // The collection asked for may be a portfolio the version was linked to.
    bool linked = strcmp(coll, a.name) != 0;
    json_t *m = s_membership_json(ctx, &a, coll_id, index, coll, linked ? "PORTFOLIO" : "SEQUENCE",
                                  a.entity, wbi_gql_var(vars, "project"));
    wbi_store_art_release(&a);
    json_t *project = wbi_gql_project_json(wbi_gql_var(vars, "entity") ? wbi_gql_var(vars, "entity")
                                                                       : ctx->entity,
                                           wbi_gql_var(vars, "project"));
    json_object_set_new(project, "artifactCollectionMembership", m);
    json_object_set_new(project, "artifact", json_null());
    wbi_gql_ok(res, json_pack("{so}", "project", project));
}

// ArtifactType(entity, project, name): the type of an existing name, or
// artifact null.
static void s_op_type(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    char coll[256], alias[256];
    wbi_artifact_t a = {0};
    json_t *art = json_null();
    if (s_split_name(wbi_gql_var(vars, "name"), coll, alias) && wbi_gql_var(vars, "project")) {
        const char *entity = wbi_gql_var(vars, "entity");
        if (wbi_store_art_find(ctx->store, entity && *entity ? entity : ctx->entity,
                               wbi_gql_var(vars, "project"), coll, alias, &a, NULL,
                               NULL) == WANDB_OK) {
            json_decref(art);
            art = json_pack("{s{ss}}", "artifactType", "name", a.type);
        }
        wbi_store_art_release(&a);
    }
    wbi_gql_ok(res, json_pack("{s{so}}", "project", "artifact", art));
}

// Loads the version named by the variable id; false with res failed.
static bool s_by_id(const wbi_gql_ctx_t *ctx, const json_t *vars, const char *var,
                    wbi_artifact_t *a, wbi_gql_result_t *res)
{
    int64_t id = 0;
    const char *gid = wbi_gql_var(vars, var);
    wandb_err e = wbi_gql_art_id(gid, &id) ? wbi_store_art_get(ctx->store, id, a) : WANDB_ENOTFOUND;
    if (e == WANDB_ENOTFOUND)
        wbi_gql_fail(res, 200, "no artifact with id '%.80s'", gid ? gid : "");
    else if (e != WANDB_OK)
        wbi_gql_fail_store(ctx, res, e);
    return e == WANDB_OK;
}

// ArtifactByID(id), FetchArtifactManifest(id), ArtifactCreatedBy(id),
// ArtifactUsedBy(id): one artifact object with every field they select.
static void s_op_by_id(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    wbi_artifact_t a = {0};
    if (!s_by_id(ctx, vars, "id", &a, res))
        return;
    json_t *art = wbi_gql_art_json(ctx, &a);
    json_t *creator = json_null();
    if (a.run_name) {
        json_decref(creator);
        char gid[64];
        wbi_gql_run_gid(a.run_id, gid, sizeof gid);
        creator = json_pack("{ssssssso}", "__typename", "Run", "id", gid, "name", a.run_name,
                            "project", wbi_gql_project_json(a.entity, a.project));
    }
    json_object_set_new(art, "createdBy", creator);
    json_t *users = NULL, *edges = json_array();
    if (wbi_store_art_users(ctx->store, a.id, &users) == WANDB_OK) {
        size_t i;
        json_t *u;
        json_array_foreach(users, i, u)
        {
            char gid[64];
            wbi_gql_run_gid(json_integer_value(json_object_get(u, "id")), gid, sizeof gid);
            json_array_append_new(
                edges,
                json_pack("{s{sssssOso}}", "node", "__typename", "Run", "id", gid, "name",
                          json_object_get(u, "name"), "project",
                          wbi_gql_project_json(json_string_value(json_object_get(u, "entity")),
                                               json_string_value(json_object_get(u, "project")))));
        }
    }
    json_decref(users);
    json_object_set_new(art, "usedBy", json_pack("{so}", "edges", edges));
    wbi_store_art_release(&a);
    wbi_gql_ok(res, json_pack("{so}", "artifact", art));
}

// Collects one page of files.
typedef struct {
    const wbi_gql_ctx_t *ctx;
    json_t *edges;       // page being built
    int64_t skip;        // entries before the page
    int64_t left;        // entries still wanted
    int64_t total;       // entries seen
    int64_t last;        // index of the last entry taken
    const json_t *names; // only these paths, or NULL
} s_files_t;

static int s_file_one(void *arg, const char *path, const char *digest, int64_t size,
                      const char *ref, int64_t birth)
{
    (void)ref;
    (void)birth;
    s_files_t *f = arg;
    if (f->names) {
        bool want = false;
        size_t i;
        json_t *n;
        json_array_foreach(f->names, i, n) want = want || strcmp(json_string_value(n), path) == 0;
        if (!want)
            return 0;
    }
    int64_t idx = f->total++;
    if (idx < f->skip || f->left <= 0)
        return 0;
    f->left--;
    f->last = idx;
    char hex[33] = "";
    bool has = wbi_blob_hex_of_b64(digest, hex);
    json_t *url = has ? wbi_gql_blob_url(f->ctx, hex) : json_null();
    char storage[64];
    snprintf(storage, sizeof storage, "artifacts/blobs/%.2s/%s", hex, hex);
    json_t *node = json_object();
    json_object_set_new(node, "__typename", json_string("File"));
    json_object_set_new(node, "id", wbi_gql_gid("File", has ? hex : path));
    json_object_set_new(node, "name", json_string(path));
    json_object_set_new(node, "displayName", json_string(path));
    json_object_set_new(node, "storagePath", json_string(storage));
    json_object_set(node, "url", url);
    json_object_set(node, "directUrl", url);
    json_object_set_new(node, "sizeBytes", json_integer(size > 0 ? size : 0));
    json_object_set_new(node, "mimetype", json_string("application/octet-stream"));
    json_object_set_new(node, "updatedAt", json_null());
    json_object_set_new(node, "digest", json_string(digest));
    json_object_set_new(node, "md5", json_string(digest));
    json_array_append_new(f->edges, json_pack("{so}", "node", node));
    json_decref(url);
    return 0;
}

// GetArtifactMembershipFileUrls / ArtifactMembershipFiles(entity, project,
// collection, alias, fileNames?, cursor?, perPage?).
static void s_op_files(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    wbi_artifact_t a = {0};
    int64_t coll_id = 0, index = 0;
    const char *coll = wbi_gql_var(vars, "collection");
    if (!s_find(ctx, vars, coll, wbi_gql_var(vars, "alias"), &a, &coll_id, &index, res))
        return;
    json_t *per = json_object_get(vars, "perPage");
    const char *cursor = wbi_gql_var(vars, "cursor");
    s_files_t f = {.ctx = ctx,
                   .edges = json_array(),
                   .skip = cursor ? strtoll(cursor, NULL, 10) + 1 : 0,
                   .left = json_is_integer(per) ? json_integer_value(per) : 50,
                   .last = -1};
    json_t *names = json_object_get(vars, "fileNames");
    f.names = json_is_array(names) ? names : NULL;
    wandb_err e = wbi_store_art_files_each(ctx->store, a.id, NULL, s_file_one, &f);
    wbi_store_art_release(&a);
    if (e != WANDB_OK) {
        json_decref(f.edges);
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    char end[32];
    snprintf(end, sizeof end, "%" PRId64, f.last >= 0 ? f.last : f.skip - 1);
    json_t *files = json_pack("{sIs{sssssb}so}", "totalCount", (json_int_t)f.total, "pageInfo",
                              "__typename", "PageInfo", "endCursor", end, "hasNextPage",
                              f.last >= 0 && f.last + 1 < f.total, "edges", f.edges);
    json_t *project = wbi_gql_project_json(wbi_gql_var(vars, "entity") ? wbi_gql_var(vars, "entity")
                                                                       : ctx->entity,
                                           wbi_gql_var(vars, "project"));
    json_object_set_new(project, "artifactCollection",
                        json_pack("{sss{so}}", "__typename", "ArtifactSequence",
                                  "artifactMembership", "files", files));
    wbi_gql_ok(res, json_pack("{so}", "project", project));
}

// UseArtifact: records the run as a consumer (variables or input object).
static void s_op_use(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    json_t *input = json_object_get(vars, "input");
    const json_t *in = json_is_object(input) ? input : vars;
    wbi_artifact_t a = {0};
    if (!s_by_id(ctx, in, "artifactID", &a, res))
        return;
    const char *entity = wbi_gql_var(in, "entityName");
    const char *project = wbi_gql_var(in, "projectName");
    const char *run = wbi_gql_var(in, "runName");
    int64_t run_id = 0;
    wandb_err e = wbi_store_begin(ctx->store);
    if (e == WANDB_OK && project && run && wbi_segment_ok(run) && wbi_segment_ok(project))
        e = wbi_store_run_ensure(ctx->store, entity && *entity ? entity : ctx->entity, project, run,
                                 ctx->now, &run_id);
    if (e == WANDB_OK && run_id)
        e = wbi_store_art_use(ctx->store, a.id, run_id, ctx->now);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        wbi_store_art_release(&a);
        wbi_gql_fail_store(ctx, res, e);
        return;
    }
    json_t *art = wbi_gql_art_json(ctx, &a);
    wbi_store_art_release(&a);
    wbi_gql_ok(res, json_pack("{s{so}}", "useArtifact", "artifact", art));
}

// LinkArtifact(input: {artifactID, artifactPortfolioName, entityName,
// projectName, aliases}), answered as linkArtifact and as result.
static void s_op_link(const wbi_gql_ctx_t *ctx, const json_t *vars, wbi_gql_result_t *res)
{
    json_t *input = json_object_get(vars, "input");
    const json_t *in = json_is_object(input) ? input : vars;
    wbi_artifact_t a = {0};
    int64_t id = 0;
    const char *cid = wbi_gql_var(in, "clientID");
    if (!wbi_gql_var(in, "artifactID") && cid &&
        wbi_store_art_by_client_id(ctx->store, cid, &id) == WANDB_OK) {
        if (wbi_store_art_get(ctx->store, id, &a) != WANDB_OK) {
            wbi_gql_fail(res, 200, "LinkArtifact: no artifact for client id '%.80s'", cid);
            return;
        }
    } else if (!s_by_id(ctx, in, "artifactID", &a, res)) {
        return;
    }
    const char *portfolio = wbi_gql_var(in, "artifactPortfolioName");
    const char *entity = wbi_gql_var(in, "entityName");
    const char *project = wbi_gql_var(in, "projectName");
    entity = entity && *entity ? entity : a.entity;
    project = project && *project ? project : a.project;
    char why[256];
    if (!wbi_gql_art_name_ok("portfolio name", portfolio, why, sizeof why)) {
        wbi_store_art_release(&a);
        wbi_gql_fail(res, 200, "LinkArtifact: %s", why);
        return;
    }
    json_t *names = json_array();
    size_t i;
    json_t *al;
    json_array_foreach(json_object_get(in, "aliases"), i, al)
    {
        const char *alias = json_is_string(al) ? json_string_value(al) : wbi_gql_var(al, "alias");
        if (alias)
            json_array_append_new(names, json_string(alias));
    }
    char *aliases = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    int64_t coll = 0, index = 0;
    wandb_err e = wbi_store_begin(ctx->store);
    if (e == WANDB_OK)
        e = wbi_store_art_link(ctx->store, a.id, entity, project, portfolio, aliases, ctx->now,
                               &coll, &index);
    if (e == WANDB_OK)
        e = wbi_store_commit(ctx->store);
    free(aliases);
    if (e != WANDB_OK) {
        wbi_store_rollback(ctx->store);
        if (e == WANDB_EINVAL)
            wbi_gql_fail(res, 200, "LinkArtifact: %s", wbi_store_errmsg(ctx->store));
        else
            wbi_gql_fail_store(ctx, res, e);
        wbi_store_art_release(&a);
        return;
    }
    wbi_slog(WANDB_LOG_INFO, "artifact", "%s/%s/%s:v%" PRId64 " linked to %s/%s/%s:v%" PRId64,
             a.entity, a.project, a.name, a.version, entity, project, portfolio, index);
    json_t *m = s_membership_json(ctx, &a, coll, index, portfolio, "PORTFOLIO", entity, project);
    wbi_store_art_release(&a);
    json_t *out = json_pack("{sIsO}", "versionIndex", (json_int_t)index, "artifactMembership", m);
    json_decref(m);
    wbi_gql_ok(res, json_pack("{sOso}", "linkArtifact", out, "result", out));
}

static const wbi_gql_op_t s_ops[] = {
    {"ArtifactMembershipByName", s_op_membership},
    {"ArtifactType", s_op_type},
    {"ArtifactByID", s_op_by_id},
    {"FetchArtifactManifest", s_op_by_id},
    {"ArtifactCreatedBy", s_op_by_id},
    {"ArtifactUsedBy", s_op_by_id},
    {"GetArtifactMembershipFileUrls", s_op_files},
    {"ArtifactMembershipFiles", s_op_files},
    {"UseArtifact", s_op_use},
    {"LinkArtifact", s_op_link},
};

bool wbi_gql_artifact_query(const wbi_gql_ctx_t *ctx, const char *op, const json_t *vars,
                            wbi_gql_result_t *res)
{
    return wbi_gql_dispatch(s_ops, sizeof s_ops / sizeof s_ops[0], ctx, op, vars, res);
}
