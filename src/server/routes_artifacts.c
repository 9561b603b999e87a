//  routes_artifacts.c - wandb-mpi-server: the artifact read API
//  SPDX-License-Identifier: MIT
//
//  GET /api/v1/artifacts?project=P[&entity=E]
//      {"artifacts": [{name, type, kind, entity, project, versions: [...]}]}
//  GET /api/v1/artifacts/<name>/<version or alias>/files?project=P[&entity=E]
//      {"name", "version", "digest", "files": [{path, digest, md5, size, ref, url}]}
//  Same credentials as every /api/v1 route; the file URLs
//  (/artifacts/<entity>/<md5>) ask for the key too. Shapes: docs/artifacts.md.

#include "server/blob.h"
#include "server/server_int.h"
#include "server/util.h"
#include "store/artifact.h"

#include <inttypes.h>
#include <string.h>

// GET /api/v1/artifacts.
void wbi_srv_handle_artifacts_get(wbi_server_t *self, struct MHD_Connection *conn,
                                  wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    (void)url;
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    json_t *list = NULL;
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_art_list(self->store, entity, project, &list);
    if (e != WANDB_OK)
        wbi_srv_reply_store_error(self, reply, e);
    wbi_srv_unlock(&self->store_lock);
    if (e != WANDB_OK)
        return;
    reply->status = 200;
    reply->json = json_pack("{so}", "artifacts", list);
}

// Collects the files of a version.
typedef struct {
    const char *base;   // "http://host:port"
    const char *entity; // for the download URL
    json_t *files;      // [{...}]
} s_files_t;

static int s_file_one(void *arg, const char *path, const char *digest, int64_t size,
                      const char *ref, int64_t birth)
{
    (void)birth;
    s_files_t *f = arg;
    char hex[33] = "", link[1024] = "";
    bool has = !ref && wbi_blob_hex_of_b64(digest, hex);
    if (has)
        snprintf(link, sizeof link, "%s/artifacts/%s/%s", f->base, f->entity, hex);
    json_array_append_new(f->files, json_pack("{sssssosososo}", "path", path, "digest", digest,
                                              "md5", has ? json_string(hex) : json_null(), "size",
                                              size >= 0 ? json_integer(size) : json_null(), "ref",
                                              ref ? json_string(ref) : json_null(), "url",
                                              has ? json_string(link) : json_null()));
    return 0;
}

// GET /api/v1/artifacts/<name>/<version>/files.
void wbi_srv_handle_artifact_files_get(wbi_server_t *self, struct MHD_Connection *conn,
                                       wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    char seg[2][256];
    const char *rest = NULL;
    if (!wbi_srv_split(url + strlen("/api/v1/artifacts/"), seg, 2, &rest) ||
        strcmp(rest, "files") != 0) {
        wbi_srv_reply_error(reply, 404,
                            "no such resource '%s': expected /api/v1/artifacts/<name>/<version or"
                            " alias>/files?project=P",
                            url);
        return;
    }
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    if (!project) {
        wbi_srv_reply_error(reply, 400, "artifact files: the query needs ?project=P");
        return;
    }
    if (!entity)
        entity = self->entity;
    wbi_artifact_t a = {0};
    s_files_t f = {.base = self->url, .entity = entity, .files = json_array()};
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_art_find(self->store, entity, project, seg[0], seg[1], &a, NULL, NULL);
    if (e == WANDB_OK)
        e = wbi_store_art_files_each(self->store, a.id, NULL, s_file_one, &f);
    if (e == WANDB_ENOTFOUND)
        wbi_srv_reply_error(reply, 404, "artifact '%s:%s' not found in project '%s/%s'", seg[0],
                            seg[1], entity, project);
    else if (e != WANDB_OK)
        wbi_srv_reply_store_error(self, reply, e);
    wbi_srv_unlock(&self->store_lock);
    if (e == WANDB_OK) {
        char version[32];
        snprintf(version, sizeof version, "v%" PRId64, a.version);
        reply->status = 200;
        reply->json = json_pack("{sssssssssIsIso}", "name", a.name, "type", a.type, "version",
                                version, "digest", a.digest, "size", (json_int_t)a.size,
                                "file_count", (json_int_t)a.file_count, "files", f.files);
    } else {
        json_decref(f.files);
    }
    wbi_store_art_release(&a);
}
