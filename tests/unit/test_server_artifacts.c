//  test_server_artifacts.c - the artifact GraphQL operations on a real store and blob dir
//  SPDX-License-Identifier: MIT
//
//  Everything but HTTP: versions and aliases, deduplication by MD5, the
//  distributed merge and its digest, upsert after finish, nothing
//  half-committed, links, names, unknown versions. Uploads are simulated by
//  storing the blob and recording the manifest as the PUT handler does.

#include "testutil.h"

#include "harness/server_harness.h"

#include "common/base64.h"
#include "common/md5.h"
#include "server/blob.h"
#include "server/gql_int.h"
#include "store/artifact.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];       // temp dir (wandb.db and artifacts/)
    wbi_store_t *store; // open store
    wbi_gql_ctx_t ctx;  // context pointing at it
} s_env_t;

static void s_env_init(s_env_t *env)
{
    snprintf(env->dir, sizeof env->dir, "/tmp/wbt-art-XXXXXX");
    CHECK(mkdtemp(env->dir) != NULL);
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/wandb.db", env->dir);
    CHECK_OK(wbi_store_open(&env->store, db, false, err, sizeof err));
    env->ctx = (wbi_gql_ctx_t){.store = env->store,
                               .entity = "local",
                               .upload_base = "http://127.0.0.1:9",
                               .upload_token = "tok",
                               .dir = env->dir,
                               .now = 1000.0};
}

static void s_env_release(s_env_t *env)
{
    wbi_store_destroy(&env->store);
    CHECK(wbt_rm_tree(env->dir) == 0);
}

// Runs op with vars (stolen); returns the response body (new reference).
static json_t *s_op(s_env_t *env, const char *op, json_t *vars)
{
    json_t *req = json_pack("{ssssso}", "operationName", op, "query", "", "variables", vars);
    wbi_gql_result_t res;
    wbi_gql_execute(&env->ctx, req, &res);
    json_decref(req);
    CHECK(res.known);
    return res.body;
}

// The first error message of a body, or NULL.
static const char *s_error(json_t *body)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(body, "errors"), 0), "message"));
}

// data.<a>.<b>.<c> of a body.
static json_t *s_at(json_t *body, const char *a, const char *b, const char *c)
{
    json_t *j = json_object_get(json_object_get(body, "data"), a);
    j = b ? json_object_get(j, b) : j;
    return c ? json_object_get(j, c) : j;
}

// base64 MD5 of text (a W&B entry digest) and its hex.
static void s_digest(const char *text, char b64[25], char hex[33])
{
    wbi_md5_t m;
    unsigned char d[WBI_MD5_LEN];
    wbi_md5_init(&m);
    wbi_md5_update(&m, text, strlen(text));
    wbi_md5_final(&m, d);
    wbi_b64_encode(b64, d, sizeof d);
    wbi_md5_hex(d, hex);
}

// CreateArtifact; returns the artifact id (heap) and its state in state.
static char *s_create(s_env_t *env, const char *name, const char *type, const char *digest,
                      const char *dist, char state[16])
{
    json_t *in = json_pack("{ssssssssssss}", "entityName", "local", "projectName", "p",
                           "artifactCollectionName", name, "artifactTypeName", type, "digest",
                           digest, "runName", "r1");
    json_object_set_new(in, "aliases",
                        json_pack("[{ssss}]", "artifactCollectionName", name, "alias", "latest"));
    if (dist)
        json_object_set_new(in, "distributedID", json_string(dist));
    json_t *body = s_op(env, "CreateArtifact", json_pack("{so}", "input", in));
    json_t *art = s_at(body, "createArtifact", "artifact", NULL);
    char *id = art ? strdup(json_string_value(json_object_get(art, "id"))) : NULL;
    snprintf(state, 16, "%s", art ? json_string_value(json_object_get(art, "state")) : "");
    json_decref(body);
    return id;
}

// Uploads (stores) a manifest with files {path: text} for artifact id, type
// FULL or PATCH, as the client's CreateArtifactManifest + PUT would.
static void s_manifest(s_env_t *env, const char *id, const char *type, const char *const *paths,
                       const char *const *texts, size_t n, bool upload_files)
{
    json_t *contents = json_object();
    for (size_t i = 0; i < n; i++) {
        char b64[25], hex[33];
        s_digest(texts[i], b64, hex);
        json_object_set_new(contents, paths[i],
                            json_pack("{sssi}", "digest", b64, "size", (int)strlen(texts[i])));
        if (upload_files)
            CHECK_OK(wbi_blob_put(env->dir, texts[i], strlen(texts[i]), hex));
    }
    json_t *body =
        s_op(env, "CreateArtifactManifest",
             json_pack("{sssssssssssb}", "artifactID", id, "name", "wandb_manifest.json", "digest",
                       "", "manifestType", type, "entityName", "local", "includeUpload", 1));
    json_t *m = s_at(body, "createArtifactManifest", "artifactManifest", NULL);
    CHECK(json_is_string(json_object_get(json_object_get(m, "file"), "uploadUrl")));
    wbi_buf_t b;
    wbi_buf_init(&b, 128);
    const char *gid = json_string_value(json_object_get(m, "id"));
    CHECK(gid && wbi_b64_decode(&b, gid, strlen(gid)));
    int64_t mid = strtoll(b.data + strlen("ArtifactManifest:"), NULL, 10);
    wbi_buf_release(&b);
    json_decref(body);
    json_t *doc = json_pack("{sissso}", "version", 1, "storagePolicy", "wandb-storage-policy-v1",
                            "contents", contents);
    char *text = json_dumps(doc, JSON_COMPACT);
    char hex[33];
    CHECK_OK(wbi_blob_put(env->dir, text, strlen(text), hex));
    CHECK_OK(wbi_store_art_manifest_uploaded(env->store, mid, hex));
    free(text);
    json_decref(doc);
}

// CommitArtifact; returns the error message (heap) or NULL.
static char *s_commit(s_env_t *env, const char *id)
{
    json_t *body = s_op(env, "CommitArtifact", json_pack("{ss}", "artifactID", id));
    const char *e = s_error(body);
    char *out = e ? strdup(e) : NULL;
    json_decref(body);
    return out;
}

// Looks up name:alias; returns versionIndex or -1 (error).
static int64_t s_lookup(s_env_t *env, const char *name)
{
    json_t *body = s_op(env, "ArtifactMembershipByName",
                        json_pack("{ssssss}", "entity", "local", "project", "p", "name", name));
    json_t *m = s_at(body, "project", "artifactCollectionMembership", NULL);
    int64_t v = m ? json_integer_value(json_object_get(m, "versionIndex")) : -1;
    if (!m)
        CHECK(s_error(body) && strstr(s_error(body), "not found"));
    json_decref(body);
    return v;
}

// Log twice, the same content again, aliases move, type kept.
static void test_versions(void)
{
    s_env_t env;
    s_env_init(&env);
    char state[16];
    const char *paths[] = {"a.txt", "sub/b.txt"};
    const char *v0[] = {"alpha", "beta"}, *v1[] = {"alpha2", "beta"};
    char *id0 = s_create(&env, "data", "dataset", "d0", NULL, state);
    CHECK_STREQ(state, "PENDING");
    CHECK_EQ_I64(s_lookup(&env, "data:latest"), -1); // pending: not found
    s_manifest(&env, id0, "FULL", paths, v0, 2, true);
    char *err = s_commit(&env, id0);
    CHECK(err == NULL);
    free(err);
    CHECK_EQ_I64(s_lookup(&env, "data:latest"), 0);
    char *id1 = s_create(&env, "data", "dataset", "d1", NULL, state);
    s_manifest(&env, id1, "FULL", paths, v1, 2, true);
    CHECK(s_commit(&env, id1) == NULL);
    CHECK_EQ_I64(s_lookup(&env, "data:latest"), 1);
    CHECK_EQ_I64(s_lookup(&env, "data:v0"), 0);
    CHECK_EQ_I64(s_lookup(&env, "data:v7"), -1);
    CHECK_EQ_I64(s_lookup(&env, "data:nope"), -1);
    // The same digest again: the committed version, no new one.
    char *again = s_create(&env, "data", "dataset", "d1", NULL, state);
    CHECK_STREQ(state, "COMMITTED");
    CHECK_STREQ(again, id1);
    // The queries of use_artifact and download, UseArtifact: answered, consumer recorded.
    json_t *body = s_op(&env, "ArtifactByID", json_pack("{ss}", "id", id1));
    CHECK_STREQ(json_string_value(s_at(body, "artifact", "state", NULL)), "COMMITTED");
    CHECK_EQ_I64(json_integer_value(s_at(body, "artifact", "fileCount", NULL)), 2);
    CHECK_STREQ(
        json_string_value(json_object_get(s_at(body, "artifact", "createdBy", NULL), "name")),
        "r1");
    json_decref(body);
    body = s_op(&env, "ArtifactType",
                json_pack("{ssssss}", "entity", "local", "project", "p", "name", "data:latest"));
    CHECK_STREQ(
        json_string_value(json_object_get(
            json_object_get(s_at(body, "project", "artifact", NULL), "artifactType"), "name")),
        "dataset");
    json_decref(body);
    body = s_op(&env, "FetchArtifactManifest", json_pack("{ss}", "id", id1));
    CHECK(strstr(json_string_value(json_object_get(
                     json_object_get(s_at(body, "artifact", "currentManifest", NULL), "file"),
                     "directUrl")),
                 "/artifact-blobs/tok/file/") != NULL);
    json_decref(body);
    body = s_op(&env, "GetArtifactMembershipFileUrls",
                json_pack("{sssssssssi}", "entity", "local", "project", "p", "collection", "data",
                          "alias", "v0", "perPage", 1));
    json_t *files = json_object_get(
        json_object_get(s_at(body, "project", "artifactCollection", "artifactMembership"), "files"),
        "edges");
    CHECK_EQ(json_array_size(files), 1u);
    json_decref(body);
    body = s_op(&env, "UseArtifact",
                json_pack("{ssssssss}", "artifactID", id1, "entityName", "local", "projectName",
                          "p", "runName", "consumer"));
    CHECK(s_error(body) == NULL);
    json_decref(body);
    json_t *users = NULL;
    int64_t n1 = 0;
    CHECK(wbi_gql_art_id(id1, &n1));
    CHECK_OK(wbi_store_art_users(env.store, n1, &users));
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(users, 0), "name")), "consumer");
    json_decref(users);
    // Another type for the same name: refused.
    char *other = s_create(&env, "data", "model", "d2", NULL, state);
    CHECK(other == NULL);
    // "beta" is stored once for both versions.
    char b64[25], hex[33];
    s_digest("beta", b64, hex);
    CHECK(wbi_blob_exists(env.dir, hex, NULL));
    json_t *list = NULL;
    CHECK_OK(wbi_store_art_list(env.store, NULL, "p", &list));
    json_t *vs = json_object_get(json_array_get(list, 0), "versions");
    CHECK_EQ(json_array_size(vs), 2u);
    CHECK_EQ_I64(json_integer_value(json_object_get(json_array_get(vs, 1), "file_count")), 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(vs, 1), "created_by")), "r1");
    json_decref(list);
    free(id0);
    free(id1);
    free(again);
    s_env_release(&env);
}

// CreateArtifactFiles answers uploadUrl null for a stored blob, in order.
static void test_files_dedup(void)
{
    s_env_t env;
    s_env_init(&env);
    char state[16], b64a[25], hexa[33], b64b[25], hexb[33];
    char *id = s_create(&env, "dd", "dataset", "x", NULL, state);
    s_digest("stored", b64a, hexa);
    s_digest("new", b64b, hexb);
    CHECK_OK(wbi_blob_put(env.dir, "stored", 6, hexa));
    json_t *files = json_pack("[{ssssss}{ssssss}]", "artifactID", id, "name", "s.txt", "md5", b64a,
                              "artifactID", id, "name", "n.txt", "md5", b64b);
    json_t *body =
        s_op(&env, "CreateArtifactFiles",
             json_pack("{s{soss}}", "input", "artifactFiles", files, "storageLayout", "V2"));
    json_t *edges = s_at(body, "createArtifactFiles", "files", "edges");
    CHECK_EQ(json_array_size(edges), 2u);
    json_t *n0 = json_object_get(json_array_get(edges, 0), "node");
    json_t *n1 = json_object_get(json_array_get(edges, 1), "node");
    CHECK(json_is_null(json_object_get(n0, "uploadUrl")));
    CHECK(strstr(json_string_value(json_object_get(n1, "uploadUrl")), hexb) != NULL);
    CHECK_STREQ(json_string_value(json_object_get(json_object_get(n1, "artifact"), "id")), id);
    json_decref(body);
    // A bad md5 is an error naming the entry.
    files = json_pack("[{ssssss}]", "artifactID", id, "name", "x", "md5", "not-base64!");
    body = s_op(&env, "CreateArtifactFiles", json_pack("{so}", "artifactFiles", files));
    CHECK(s_error(body) && strstr(s_error(body), "artifactFiles[0]"));
    json_decref(body);
    free(id);
    s_env_release(&env);
}

// Two PATCH manifests with one distributed id make one version; the
// digest is the W&B one over the merged files; an upsert after the finish
// starts a new version.
static void test_distributed(void)
{
    s_env_t env;
    s_env_init(&env);
    char state[16];
    char *a = s_create(&env, "shards", "dataset", "da", "job-1", state);
    char *b = s_create(&env, "shards", "dataset", "db", "job-1", state);
    CHECK_STREQ(a, b);
    const char *pa[] = {"shard-0"}, *ta[] = {"zero"}, *pb[] = {"shard-1"}, *tb[] = {"one"};
    s_manifest(&env, a, "PATCH", pa, ta, 1, true);
    s_manifest(&env, b, "PATCH", pb, tb, 1, true);
    CHECK(s_commit(&env, a) == NULL);
    wbi_artifact_t art;
    CHECK_OK(wbi_store_art_find(env.store, "local", "p", "shards", "v0", &art, NULL, NULL));
    CHECK_EQ_I64(art.file_count, 2);
    // md5hex("wandb-artifact-manifest-v1\nshard-0:<b64>\nshard-1:<b64>\n")
    char b0[25], h0[33], b1[25], h1[33], text[200], want_b64[25], want[33];
    s_digest("zero", b0, h0);
    s_digest("one", b1, h1);
    snprintf(text, sizeof text, "wandb-artifact-manifest-v1\nshard-0:%s\nshard-1:%s\n", b0, b1);
    s_digest(text, want_b64, want);
    CHECK_STREQ(art.digest, want);
    wbi_store_art_release(&art);
    char *c = s_create(&env, "shards", "dataset", "dc", "job-1", state);
    CHECK_STREQ(state, "PENDING");
    CHECK(strcmp(c, a) != 0);
    free(a);
    free(b);
    free(c);
    s_env_release(&env);
}

// A file never uploaded: commit fails naming it, the version stays PENDING.
static void test_half_commit(void)
{
    s_env_t env;
    s_env_init(&env);
    char state[16];
    char *id = s_create(&env, "half", "dataset", "h", NULL, state);
    const char *paths[] = {"ok.txt", "missing.bin"}, *texts[] = {"ok", "missing"};
    s_manifest(&env, id, "FULL", paths, texts, 2, false);
    char hex[33];
    CHECK_OK(wbi_blob_put(env.dir, "ok", 2, hex));
    char *err = s_commit(&env, id);
    CHECK(err && strstr(err, "missing.bin") && strstr(err, "PENDING"));
    free(err);
    CHECK_EQ_I64(s_lookup(&env, "half:latest"), -1);
    wbi_artifact_t art;
    int64_t n = 0;
    CHECK(wbi_gql_art_id(id, &n));
    CHECK_OK(wbi_store_art_get(env.store, n, &art));
    CHECK_STREQ(art.state, "PENDING");
    CHECK_EQ_I64(art.version, -1);
    wbi_store_art_release(&art);
    // Commit without any manifest: refused too.
    char *empty = s_create(&env, "empty", "dataset", "e", NULL, state);
    err = s_commit(&env, empty);
    CHECK(err && strstr(err, "no uploaded manifest"));
    free(err);
    free(empty);
    free(id);
    s_env_release(&env);
}

// Names: the backend's character set and length; link targets.
static void test_names_and_links(void)
{
    s_env_t env;
    s_env_init(&env);
    char state[16];
    const char *bad[] = {"a/b/c", "sp ace", "semi;", "", "x:y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(s_create(&env, bad[i], "dataset", "d", NULL, state) == NULL);
    char longname[140];
    memset(longname, 'n', 129);
    longname[129] = '\0';
    CHECK(s_create(&env, longname, "dataset", "d", NULL, state) == NULL);
    longname[128] = '\0';
    char *ok = s_create(&env, longname, "dataset", "d", NULL, state);
    CHECK(ok != NULL);
    free(ok);
    char *id = s_create(&env, "m", "model", "m0", NULL, state);
    const char *paths[] = {"w.bin"}, *texts[] = {"weights"};
    s_manifest(&env, id, "FULL", paths, texts, 1, true);
    CHECK(s_commit(&env, id) == NULL);
    for (int round = 0; round < 2; round++) { // linking twice keeps index 0
        json_t *body = s_op(&env, "LinkArtifact",
                            json_pack("{s{sssssssss[{ssss}]}}", "input", "artifactID", id,
                                      "artifactPortfolioName", "reg", "entityName", "local",
                                      "projectName", "model-registry", "aliases",
                                      "artifactCollectionName", "reg", "alias", "prod"));
        CHECK(s_error(body) == NULL);
        CHECK_EQ_I64(json_integer_value(s_at(body, "result", "versionIndex", NULL)), 0);
        CHECK_EQ_I64(json_integer_value(s_at(body, "linkArtifact", "versionIndex", NULL)), 0);
        json_decref(body);
    }
    json_t *body =
        s_op(&env, "LinkArtifact",
             json_pack("{s{ssssssss}}", "input", "artifactID", id, "artifactPortfolioName",
                       "bad/name", "entityName", "local", "projectName", "p"));
    CHECK(s_error(body) && strstr(s_error(body), "invalid portfolio name"));
    json_decref(body);
    wbi_artifact_t art;
    CHECK_OK(
        wbi_store_art_find(env.store, "local", "model-registry", "reg", "prod", &art, NULL, NULL));
    CHECK_STREQ(art.name, "m");
    wbi_store_art_release(&art);
    free(id);
    s_env_release(&env);
}

WBT_MAIN({"versions", test_versions}, {"files_dedup", test_files_dedup},
         {"distributed", test_distributed}, {"half_commit", test_half_commit},
         {"names_and_links", test_names_and_links})
