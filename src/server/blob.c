//  blob.c - wandb-mpi-server: artifact files on disk, their uploads and downloads
//  SPDX-License-Identifier: MIT
//
//  PUT /artifact-blobs/<token>/file/<md5 hex>       an artifact file
//  PUT /artifact-blobs/<token>/manifest/<id>        a manifest (CreateArtifactManifest)
//  GET /artifact-blobs/<token>/file/<md5 hex>       directUrl of files and manifests
//  GET /artifactsV2/.../<md5 hex>/<name>, /artifacts/<entity>/<md5 hex>
//                                                   the URLs the Python client builds
//                                                   itself (API key required)
//  Upload bodies stream into a temp file on the polling thread while their
//  MD5 is computed (upload.c writes, this file opens and finishes), so a
//  file of any size costs a few buffers of memory. A file whose blob is
//  already stored is read and dropped, never written again.

#include "server/blob.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/jsonx.h"
#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"
#include "store/artifact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool s_is_hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

bool wbi_blob_path(const char *dir, const char *hex, char *out, size_t len)
{
    if (!dir || !s_is_hex32(hex)) // no data directory: no blob exists (the fuzz target)
        return false;
    int n = snprintf(out, len, "%s/artifacts/blobs/%.2s/%s", dir, hex, hex);
    return n > 0 && (size_t)n < len;
}

bool wbi_blob_exists(const char *dir, const char *hex, int64_t *size)
{
    char path[WBI_SRV_PATH_MAX];
    struct stat st;
    if (!wbi_blob_path(dir, hex, path, sizeof path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (size)
        *size = (int64_t)st.st_size;
    return true;
}

bool wbi_blob_hex_of_b64(const char *b64, char hex[33])
{
    if (!b64)
        return false;
    wbi_buf_t b;
    wbi_buf_init(&b, 64);
    bool ok = wbi_b64_decode(&b, b64, strlen(b64)) && b.len == WBI_MD5_LEN;
    if (ok)
        wbi_md5_hex((const unsigned char *)b.data, hex);
    wbi_buf_release(&b);
    return ok;
}

bool wbi_blob_b64_of_hex(const char *hex, char b64[25])
{
    if (!s_is_hex32(hex))
        return false;
    unsigned char raw[WBI_MD5_LEN];
    for (int i = 0; i < WBI_MD5_LEN; i++) {
        char two[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        raw[i] = (unsigned char)strtoul(two, NULL, 16);
    }
    wbi_b64_encode(b64, raw, sizeof raw);
    return true;
}

// Creates DIR/artifacts/blobs/<2 hex> and returns the blob's path.
static bool s_blob_dir(const char *dir, const char *hex, char *path, size_t len)
{
    if (!wbi_blob_path(dir, hex, path, len))
        return false;
    char parent[WBI_SRV_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    return wbi_mkdirs(parent) == WANDB_OK;
}

wandb_err wbi_blob_put(const char *dir, const void *data, size_t len, char hex[33])
{
    wbi_md5_t m;
    unsigned char d[WBI_MD5_LEN];
    wbi_md5_init(&m);
    wbi_md5_update(&m, data, len);
    wbi_md5_final(&m, d);
    wbi_md5_hex(d, hex);
    char path[WBI_SRV_PATH_MAX], tmp[WBI_SRV_PATH_MAX + 16], suffix[9];
    if (!s_blob_dir(dir, hex, path, sizeof path) || wbi_random_id(suffix, 8) != WANDB_OK)
        return WANDB_EIO;
    if (access(path, F_OK) == 0)
        return WANDB_OK;
    snprintf(tmp, sizeof tmp, "%s.part-%s", path, suffix);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return WANDB_EIO;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return WANDB_EIO;
    }
    return WANDB_OK;
}

json_t *wbi_blob_load_json(const char *dir, const char *hex)
{
    char path[WBI_SRV_PATH_MAX];
    int64_t size = 0;
    if (!wbi_blob_exists(dir, hex, &size) || size > (int64_t)WBI_BLOB_MANIFEST_MAX ||
        !wbi_blob_path(dir, hex, path, sizeof path))
        return NULL;
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

// Sets an early answer of an artifact upload.
static void s_early(wbi_srv_req_t *req, int status, const char *msg)
{
    req->early_status = status;
    snprintf(req->early_msg, sizeof req->early_msg, "%s", msg);
}

// Validates PUT /artifact-blobs/<token>/{file/<hex>|manifest/<id>} and opens
// the temp file (or marks a stored blob's bytes to be dropped).
void wbi_srv_blob_open(wbi_server_t *self, wbi_srv_req_t *req, const char *url)
{
    char seg[3][256];
    const char *rest = NULL;
    if (!wbi_srv_split(url + strlen("/artifact-blobs/"), seg, 3, &rest) || *rest) {
        s_early(req, 400,
                "invalid artifact upload path: expected /artifact-blobs/<token>/file/<md5>"
                " (the URL CreateArtifactFiles answered)");
        return;
    }
    if (!wbi_srv_key_eq(seg[0], strlen(seg[0]), self->upload_token)) {
        s_early(req, 403, "invalid upload token: use the URL the GraphQL answer gave");
        return;
    }
    bool manifest = strcmp(seg[1], "manifest") == 0;
    if (manifest) {
        char *end = NULL;
        long long id = strtoll(seg[2], &end, 10);
        if (!end || *end || id <= 0) {
            s_early(req, 400, "invalid artifact upload path: bad manifest id");
            return;
        }
        req->art_manifest_id = id;
    } else if (strcmp(seg[1], "file") != 0 || !s_is_hex32(seg[2])) {
        s_early(req, 400, "invalid artifact upload path: expected file/<32 hex MD5>");
        return;
    } else if (wbi_blob_exists(self->dir, seg[2], NULL)) {
        req->art_discard = true; // stored once: read and drop
        return;
    } else {
        memcpy(req->art_hex, seg[2], 33); // 32 hex characters and the NUL (checked)
    }
    char dir[WBI_SRV_PATH_MAX - 32], suffix[9];
    int n = snprintf(dir, sizeof dir, "%s/artifacts/blobs", self->dir);
    if (n < 0 || (size_t)n + 32 >= sizeof req->tmp_path || wbi_random_id(suffix, 8) != WANDB_OK ||
        wbi_mkdirs(dir) != WANDB_OK) {
        s_early(req, 503, "cannot create the artifact blob directory");
        return;
    }
    snprintf(req->tmp_path, sizeof req->tmp_path, "%s/.part-%s", dir, suffix);
    req->fd = open(req->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (req->fd < 0) {
        int err = errno;
        req->tmp_path[0] = '\0';
        s_early(req, wbi_srv_errno_transient(err) ? 503 : 500, "cannot create the upload file");
        return;
    }
    req->art_blob = true;
    wbi_md5_init(&req->md5);
}

// Records an uploaded manifest; false with reply filled on failure.
static bool s_manifest_done(wbi_server_t *self, wbi_srv_req_t *req, const char *hex,
                            wbi_srv_reply_t *reply)
{
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_art_manifest_uploaded(self->store, req->art_manifest_id, hex);
    if (e == WANDB_ENOTFOUND)
        wbi_srv_reply_error(reply, 404, "no artifact manifest %" PRId64, req->art_manifest_id);
    else if (e != WANDB_OK)
        wbi_srv_reply_store_error(self, reply, e);
    wbi_srv_unlock(&self->store_lock);
    return e == WANDB_OK;
}

// PUT /artifact-blobs/...: the bytes are in the temp file (or were dropped);
// check the MD5 and move the blob into place, once.
void wbi_srv_handle_blob_put(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)url;
    if (req->art_discard) {
        wbi_slog(WANDB_LOG_DEBUG, "artifact", "blob already stored, %" PRId64 " bytes dropped",
                 req->up_bytes);
        reply->status = 200;
        reply->json = json_pack("{sb}", "stored", 0);
        return;
    }
    int rc = close(req->fd);
    req->fd = -1;
    if (rc != 0) {
        wbi_srv_reply_error(reply, 503, "cannot write the upload: %s", strerror(errno));
        return;
    }
    unsigned char d[WBI_MD5_LEN];
    char hex[33], path[WBI_SRV_PATH_MAX];
    wbi_md5_final(&req->md5, d);
    wbi_md5_hex(d, hex);
    if (req->art_hex[0] && strcmp(hex, req->art_hex) != 0) {
        wbi_srv_reply_error(reply, 400,
                            "artifact upload: the content's MD5 %s does not match the digest %s"
                            " it was announced with",
                            hex, req->art_hex);
        return; // the completion callback removes the temp file
    }
    if (!s_blob_dir(self->dir, hex, path, sizeof path)) {
        wbi_srv_reply_error(reply, 503, "cannot create the artifact blob directory");
        return;
    }
    bool stored = access(path, F_OK) != 0;
    if (stored && rename(req->tmp_path, path) != 0) {
        wbi_srv_reply_error(reply, 503, "cannot store the artifact file: %s", strerror(errno));
        return;
    }
    if (stored)
        req->tmp_path[0] = '\0'; // renamed; a second copy is removed by the callback
    if (req->art_manifest_id && !s_manifest_done(self, req, hex, reply))
        return;
    wbi_slog(WANDB_LOG_DEBUG, "artifact", "blob %s: %" PRId64 " bytes%s", hex, req->up_bytes,
             stored ? "" : " (already stored)");
    reply->status = 200;
    reply->json = json_pack("{sbss}", "stored", stored, "md5", hex);
}

// Answers blob hex as the body.
static void s_send_blob(wbi_server_t *self, const char *hex, wbi_srv_reply_t *reply)
{
    char path[WBI_SRV_PATH_MAX];
    int fd =
        wbi_blob_path(self->dir, hex, path, sizeof path) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        wbi_srv_reply_error(reply, 404, "no artifact file with MD5 '%s'", hex);
        return;
    }
    reply->status = 200;
    reply->file_fd = fd;
    reply->file_size = (int64_t)st.st_size;
    reply->file_set = true;
}

// GET /artifact-blobs/<token>/file/<hex>: the directUrl (self-authorizing).
void wbi_srv_handle_blob_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                             const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)req;
    char seg[3][256];
    const char *rest = NULL;
    if (!wbi_srv_split(url + strlen("/artifact-blobs/"), seg, 3, &rest) || *rest ||
        strcmp(seg[1], "file") != 0) {
        wbi_srv_reply_error(reply, 404, "no such artifact file");
        return;
    }
    if (!wbi_srv_key_eq(seg[0], strlen(seg[0]), self->upload_token)) {
        wbi_srv_reply_error(reply, 403, "invalid download token");
        return;
    }
    s_send_blob(self, seg[2], reply);
}

// GET /artifactsV2/<region>/<entity>/<project>/<collection>/[<id>/]<birth id>/<hex>/<name>
// and /artifacts/<entity>/<hex> (API key): the blob named by the last
// 32-hex segment.
void wbi_srv_handle_blob_key_get(wbi_server_t *self, struct MHD_Connection *conn,
                                 wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)req;
    char hex[33] = "";
    const char *p = url;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 32) {
            char cand[33];
            memcpy(cand, p, 32);
            cand[32] = '\0';
            if (s_is_hex32(cand))
                memcpy(hex, cand, sizeof hex);
        }
        p += len + (slash ? 1 : 0);
    }
    if (!hex[0]) {
        wbi_srv_reply_error(reply, 404, "no artifact file in '%s'", url);
        return;
    }
    s_send_blob(self, hex, reply);
}
