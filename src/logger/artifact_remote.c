//  artifact_remote.c - a used artifact that only the backend holds
//  SPDX-License-Identifier: MIT
//
//  When the aggregator's store has no version of the name asked for (it was
//  logged by another client, or by a job with another data dir),
//  wandb_use_artifact asks the backend itself, as the official client does:
//  ArtifactMembershipByName resolves [entity/project/]name:alias to the
//  version (id, digest, type, versionIndex), FetchArtifactManifest gives the
//  manifest's URL, the manifest lists the entries (path, digest, size, ref),
//  and UseArtifact records the run as a consumer. wandb_artifact_download
//  then asks GetArtifactMembershipFileUrls for each file's directUrl and
//  GETs it through a temporary file, checked against the manifest's MD5,
//  renamed into place. HTTP goes through bhttp.c on the calling thread.
//  Thread: the caller's (the artifact belongs to one thread at a time).
#include "logger/artifact.h"

#include "common/alloc.h"
#include "common/relpath.h"
#include "logger/bhttp.h"
#include <stdio.h>
#include <string.h>

#define S_MANIFEST_MAX ((size_t)256 << 20) // bytes of a manifest
#define S_PER_PAGE 1000                    // file URLs asked for at a time

static const char s_q_member[] =
    "query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) {"
    " project(name: $project, entityName: $entity) { artifactCollectionMembership(name: $name)"
    " { id versionIndex artifactCollection { name project { name entity { name } } }"
    " artifact { id digest state versionIndex artifactType { name } } } } }";
static const char s_q_manifest[] =
    "query FetchArtifactManifest($id: ID!) { artifact(id: $id) { currentManifest { file {"
    " directUrl } } } }";
static const char s_q_use[] =
    "mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!,"
    " $artifactID: ID!) { useArtifact(input: {entityName: $entityName, projectName:"
    " $projectName, runName: $runName, artifactID: $artifactID}) { artifact { id digest } } }";
static const char s_q_files[] =
    "query GetArtifactMembershipFileUrls($entity: String!, $project: String!, $collection:"
    " String!, $alias: String!, $cursor: String, $perPage: Int) { project(name: $project,"
    " entityName: $entity) { artifactCollection(name: $collection) { artifactMembership("
    "aliasName: $alias) { files(after: $cursor, first: $perPage) { pageInfo { endCursor"
    " hasNextPage } edges { node { name directUrl } } } } } } }";

// A string member at a path of objects, or NULL.
static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

// Resolves ref to the version: fills a (type, version, digest) and
// a->remote {id, entity, project, collection, version}. ENOTFOUND when the
// backend has no such name, version or alias.
static wandb_err s_resolve(wandb_run_t *run, const wbi_art_ref_t *ref, wandb_artifact_t *a,
                           const char *entity, const char *project, char *msg, size_t msglen)
{
    char full[2 * WBI_ART_NAME_MAX + 2];
    snprintf(full, sizeof full, "%s:%s", ref->name, ref->alias);
    json_t *vars = json_pack("{s:s?, s:s, s:s}", "entity", *entity ? entity : NULL, "project",
                             project, "name", full);
    json_t *doc = NULL;
    wandb_err rc =
        vars ? wbi_bh_gql(run, "ArtifactMembershipByName", s_q_member, vars, &doc, msg, msglen)
             : WANDB_ENOMEM;
    if (rc != WANDB_OK)
        return rc;
    const char *err = wbi_bh_gql_error(doc);
    json_t *m = json_object_get(json_object_get(json_object_get(doc, "data"), "project"),
                                "artifactCollectionMembership");
    json_t *art = json_object_get(m, "artifact");
    json_t *coll = json_object_get(m, "artifactCollection");
    const char *id = s_str(art, "id");
    const char *type = s_str(json_object_get(art, "artifactType"), "name");
    const char *digest = s_str(art, "digest");
    json_t *vi = json_object_get(m, "versionIndex");
    if (!json_is_integer(vi))
        vi = json_object_get(art, "versionIndex");
    const char *aent = s_str(json_object_get(json_object_get(coll, "project"), "entity"), "name");
    if (err && strstr(err, "not found")) {
        snprintf(msg, msglen, "no artifact '%s' in project '%s/%s' of the backend: %.300s", full,
                 entity, project, err);
        rc = WANDB_ENOTFOUND;
    } else if (err) {
        snprintf(msg, msglen, "the backend cannot resolve '%s': %.300s", full, err);
        rc = WANDB_EBACKEND;
    } else if (!json_is_object(m) || !json_is_object(art)) {
        snprintf(msg, msglen, "no artifact '%s' in project '%s/%s' of the backend", full, entity,
                 project);
        rc = WANDB_ENOTFOUND;
    } else if (!id || !json_is_integer(vi) || !digest) {
        snprintf(msg, msglen, "the backend's answer for '%s' has no id, version or digest", full);
        rc = WANDB_EPROTO;
    } else {
        char *t = wbi_strdup(type ? type : "unknown");
        a->remote =
            json_pack("{s:s, s:s, s:s, s:s}", "id", id, "entity", aent && *aent ? aent : entity,
                      "project", project, "collection", ref->name);
        rc = t && a->remote ? WANDB_OK : WANDB_ENOMEM;
        if (t) {
            wbi_free(a->type);
            a->type = t;
        }
        snprintf(a->version, sizeof a->version, "v%lld", (long long)json_integer_value(vi));
        snprintf(a->digest, sizeof a->digest, "%s", digest);
    }
    json_decref(doc);
    return rc;
}

// Fetches the manifest of a->remote's version and adds its entries.
static wandb_err s_manifest(wandb_run_t *run, wandb_artifact_t *a, char *msg, size_t msglen)
{
    json_t *vars = json_pack("{s:s}", "id", s_str(a->remote, "id"));
    json_t *doc = NULL;
    wandb_err rc =
        vars ? wbi_bh_gql(run, "FetchArtifactManifest", s_q_manifest, vars, &doc, msg, msglen)
             : WANDB_ENOMEM;
    if (rc != WANDB_OK)
        return rc;
    json_t *art = json_object_get(json_object_get(doc, "data"), "artifact");
    json_t *file = json_object_get(json_object_get(art, "currentManifest"), "file");
    const char *url = s_str(file, "directUrl");
    char *body = NULL;
    size_t len = 0;
    if (!url) {
        const char *err = wbi_bh_gql_error(doc);
        snprintf(msg, msglen, "the backend gives no manifest URL for '%s:%s'%s%.300s", a->name,
                 a->version, err ? ": " : "", err ? err : "");
        rc = WANDB_EBACKEND;
    } else {
        rc = wbi_bh_get_mem(run, url, S_MANIFEST_MAX, &body, &len, msg, msglen);
    }
    json_decref(doc);
    if (rc != WANDB_OK)
        return rc;
    json_error_t jerr;
    json_t *man = json_loadb(body, len, 0, &jerr);
    wbi_free(body);
    json_t *contents = json_object_get(man, "contents");
    if (!json_is_object(contents)) {
        json_decref(man);
        snprintf(msg, msglen, "the manifest of '%s:%s' is not a W&B manifest (no contents)",
                 a->name, a->version);
        return WANDB_EPROTO;
    }
    const char *path;
    json_t *e;
    json_object_foreach(contents, path, e)
    {
        const char *digest = s_str(e, "digest");
        const char *uri = s_str(e, "ref");
        json_int_t size = json_integer_value(json_object_get(e, "size"));
        if (!digest || size < 0 || !wbi_run_file_name_ok(path)) {
            snprintf(msg, msglen, "the manifest of '%s:%s' has a bad entry '%.200s'", a->name,
                     a->version, path);
            rc = WANDB_EPROTO;
            break;
        }
        if ((rc = wbi_art_add_entry(a, path, uri, digest, (uint64_t)size)) != WANDB_OK)
            break;
    }
    json_decref(man);
    return rc;
}

// Records the run as a consumer of a->remote's version (UseArtifact).
static wandb_err s_record_use(wandb_run_t *run, wandb_artifact_t *a, char *msg, size_t msglen)
{
    const char *entity = wandb_run_entity(run);
    json_t *vars = json_pack("{s:s, s:s, s:s, s:s}", "entityName",
                             entity && *entity ? entity : s_str(a->remote, "entity"), "projectName",
                             run->cfg.project, "runName", run->cfg.run_id, "artifactID",
                             s_str(a->remote, "id"));
    json_t *doc = NULL;
    wandb_err rc =
        vars ? wbi_bh_gql(run, "UseArtifact", s_q_use, vars, &doc, msg, msglen) : WANDB_ENOMEM;
    const char *err = rc == WANDB_OK ? wbi_bh_gql_error(doc) : NULL;
    if (err) {
        snprintf(msg, msglen, "the backend did not record the use of '%s:%s': %.300s", a->name,
                 a->version, err);
        rc = WANDB_EBACKEND;
    }
    json_decref(doc);
    return rc;
}

wandb_err wbi_art_remote_use(wandb_run_t *run, const wbi_art_ref_t *ref, wandb_artifact_t *a)
{
    char msg[WBI_BH_MSG] = "";
    if (!run->cfg.api_key)
        return wbi_art_fail(a, WANDB_EAUTH,
                            "wandb_use_artifact: '%s:%s' is not in the aggregator's store and "
                            "there is no API key to ask the backend",
                            ref->name, ref->alias);
    if (wbi_bh_init(msg, sizeof msg) != WANDB_OK)
        return wbi_art_fail(a, WANDB_EIO, "wandb_use_artifact: %s", msg);
    const char *entity = *ref->entity ? ref->entity : wandb_run_entity(run);
    const char *project = *ref->project ? ref->project : run->cfg.project;
    wandb_err rc = s_resolve(run, ref, a, entity ? entity : "", project, msg, sizeof msg);
    if (rc == WANDB_OK)
        rc = s_manifest(run, a, msg, sizeof msg);
    if (rc == WANDB_OK)
        rc = s_record_use(run, a, msg, sizeof msg);
    wbi_bh_done();
    if (rc != WANDB_OK)
        return wbi_art_fail(a, rc,
                            "wandb_use_artifact: '%s:%s' (not in the aggregator's store; "
                            "asked %s): %s",
                            ref->name, ref->alias, run->cfg.base_url, msg);
    a->run = run;
    a->errmsg[0] = '\0';
    return WANDB_OK;
}

// Maps each file of a->remote's version to its directUrl: {name: url}.
static wandb_err s_file_urls(wandb_artifact_t *a, json_t *urls, char *msg, size_t msglen)
{
    char cursor[128] = "";
    // Bounded: one page per S_PER_PAGE entries, and one more.
    for (size_t page = 0; page <= a->nentries / S_PER_PAGE + 1; page++) {
        json_t *vars = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i}", "entity",
                                 s_str(a->remote, "entity"), "project", s_str(a->remote, "project"),
                                 "collection", s_str(a->remote, "collection"), "alias", a->version,
                                 "cursor", *cursor ? cursor : NULL, "perPage", S_PER_PAGE);
        json_t *doc = NULL;
        wandb_err rc = vars ? wbi_bh_gql(a->run, "GetArtifactMembershipFileUrls", s_q_files, vars,
                                         &doc, msg, msglen)
                            : WANDB_ENOMEM;
        if (rc != WANDB_OK)
            return rc;
        json_t *files = json_object_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "data"), "project"),
                                "artifactCollection"),
                "artifactMembership"),
            "files");
        json_t *info = json_object_get(files, "pageInfo");
        const char *err = wbi_bh_gql_error(doc);
        if (err || !json_is_object(files)) {
            snprintf(msg, msglen, "the backend lists no files of '%s:%s'%s%.300s", a->name,
                     a->version, err ? ": " : "", err ? err : "");
            json_decref(doc);
            return WANDB_EBACKEND;
        }
        size_t i;
        json_t *edge;
        json_array_foreach(json_object_get(files, "edges"), i, edge)
        {
            json_t *node = json_object_get(edge, "node");
            const char *n = s_str(node, "name");
            json_t *u = json_object_get(node, "directUrl");
            if (n && json_is_string(u))
                json_object_set(urls, n, u);
        }
        const char *end = s_str(info, "endCursor");
        bool more = json_is_true(json_object_get(info, "hasNextPage")) && end;
        if (more)
            snprintf(cursor, sizeof cursor, "%s", end);
        json_decref(doc);
        if (!more)
            return WANDB_OK;
    }
    snprintf(msg, msglen, "the backend lists more pages of files of '%s:%s' than it has entries",
             a->name, a->version);
    return WANDB_EPROTO;
}

wandb_err wbi_art_remote_fetch(wandb_artifact_t *a, const char *dir)
{
    char msg[WBI_BH_MSG] = "";
    if (wbi_bh_init(msg, sizeof msg) != WANDB_OK)
        return wbi_art_fail(a, WANDB_EIO, "download of '%s': %s", a->name, msg);
    json_t *urls = json_object();
    wandb_err rc = urls ? s_file_urls(a, urls, msg, sizeof msg) : WANDB_ENOMEM;
    for (size_t i = 0; rc == WANDB_OK && i < a->nentries; i++) {
        const wbi_art_entry_t *e = &a->entries[i];
        if (e->ref)
            continue; // references are not fetched
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->name);
        const char *url = s_str(urls, e->name);
        if (!url) {
            snprintf(msg, sizeof msg, "the backend gives no URL for '%.200s'", e->name);
            rc = WANDB_EBACKEND;
        } else if (wbi_art_mkdirs(path) != WANDB_OK) {
            snprintf(msg, sizeof msg, "cannot create the directory of '%.300s'", path);
            rc = WANDB_EIO;
        } else {
            rc = wbi_bh_get_file(a->run, url, path, e->digest, e->size, msg, sizeof msg);
        }
    }
    json_decref(urls);
    wbi_bh_done();
    if (rc != WANDB_OK)
        return wbi_art_fail(a, rc, "download of '%s:%s' from the backend: %s", a->name, a->version,
                            msg);
    return WANDB_OK;
}
