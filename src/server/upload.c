//  upload.c - wandb-mpi-server: PUT /upload/<token>/<entity>/<project>/<run>/<name>
//  SPDX-License-Identifier: MIT
//
//  The body streams into <final>.part-<random> on the polling thread; a
//  worker then renames it into place and records it. Errors the client
//  caused (a name too long, a file where a directory must be) answer 4xx,
//  which clients do not retry; only the server's own trouble answers 5xx.

#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// The status and message of a failed file system call on an upload path:
// 503 when the condition goes away by itself, 4xx when the name the client
// chose cannot be stored (it retries nothing then), 500 otherwise.
static int s_fs_status(int err, const char *what, char *msg, size_t len)
{
    if (wbi_srv_errno_transient(err)) {
        snprintf(msg, len, "cannot %s: %s", what, strerror(err));
        return 503;
    }
    if (err == ENAMETOOLONG) {
        snprintf(msg, len, "cannot %s: a path segment or the whole name is too long", what);
        return 400;
    }
    if (err == EISDIR || err == ENOTDIR || err == EEXIST || err == ENOTEMPTY) {
        snprintf(msg, len,
                 "cannot %s: the name conflicts with an uploaded file or directory of the same"
                 " name (%s)",
                 what, strerror(err));
        return 409;
    }
    snprintf(msg, len, "cannot %s: %s", what, strerror(err));
    return 500;
}

// Validates an upload URL and opens its temp file; sets early_status on
// failure.
void wbi_srv_upload_open(wbi_server_t *self, wbi_srv_req_t *req, const char *url)
{
    char seg[4][256];
    const char *rest = NULL;
    if (!wbi_srv_split(url + strlen("/upload/"), seg, 4, &rest)) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload path: expected /upload/<token>/<entity>/<project>/<run>/<name>"
                 " (the URL CreateRunFiles answered)");
        return;
    }
    if (!wbi_srv_key_eq(seg[0], strlen(seg[0]), self->upload_token)) {
        req->early_status = 403;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload token: use the URL CreateRunFiles answered");
        return;
    }
    if (!wbi_segment_ok(seg[1]) || !wbi_segment_ok(seg[2]) || !wbi_segment_ok(seg[3]) ||
        !wbi_run_file_name_ok(rest) || strlen(rest) >= sizeof req->up_name) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg,
                 "invalid upload path: segments must be valid UTF-8, not empty, '.' or '..'");
        return;
    }
    snprintf(req->up_entity, sizeof req->up_entity, "%s", seg[1]);
    snprintf(req->up_project, sizeof req->up_project, "%s", seg[2]);
    snprintf(req->up_run, sizeof req->up_run, "%s", seg[3]);
    snprintf(req->up_name, sizeof req->up_name, "%s", rest);
    int n = snprintf(req->final_path, sizeof req->final_path, "%s/files/%s/%s/%s/%s", self->dir,
                     seg[1], seg[2], seg[3], rest);
    char suffix[9];
    if (n < 0 || (size_t)n + 16 >= sizeof req->final_path || wbi_random_id(suffix, 8) != WANDB_OK) {
        req->early_status = 400;
        snprintf(req->early_msg, sizeof req->early_msg, "upload path too long");
        return;
    }
    // Fits: final_path is at least 16 bytes shorter than the buffer (checked above).
    memcpy(req->tmp_path, req->final_path, (size_t)n);
    memcpy(req->tmp_path + n, ".part-", 6);
    memcpy(req->tmp_path + n + 6, suffix, 9);
    char parent[WBI_SRV_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", req->final_path);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    if (wbi_mkdirs(parent) != WANDB_OK) {
        req->early_status = s_fs_status(errno, "create the upload directory", req->early_msg,
                                        sizeof req->early_msg);
        return;
    }
    struct stat st;
    if (lstat(req->final_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        req->early_status =
            s_fs_status(EISDIR, "store the upload", req->early_msg, sizeof req->early_msg);
        return;
    }
    req->fd = open(req->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (req->fd < 0) {
        req->early_status =
            s_fs_status(errno, "create the upload file", req->early_msg, sizeof req->early_msg);
        req->tmp_path[0] = '\0';
    }
}

// Writes one body chunk of an upload.
void wbi_srv_upload_write(wbi_srv_req_t *req, const char *data, size_t len)
{
    if (req->up_bytes + (int64_t)len > WBI_SRV_UPLOAD_MAX) {
        req->early_status = 413;
        snprintf(req->early_msg, sizeof req->early_msg, "upload larger than %" PRId64 " bytes",
                 WBI_SRV_UPLOAD_MAX);
        return;
    }
    if (req->art_discard) {
        req->up_bytes += (int64_t)len; // a stored blob: the bytes are not written again
        return;
    }
    if (req->art_blob)
        wbi_md5_update(&req->md5, data, len);
    while (len > 0) {
        ssize_t w = write(req->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            req->early_status = w < 0 && wbi_srv_errno_transient(errno) ? 503 : 500;
            snprintf(req->early_msg, sizeof req->early_msg, "cannot write upload: %s",
                     strerror(errno));
            return;
        }
        data += w;
        len -= (size_t)w;
        req->up_bytes += w;
    }
}

// PUT /upload/<token>/<entity>/<project>/<run>/<name>: the bytes are already
// in the temp file; move it into place and record it.
void wbi_srv_handle_upload_put(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)url;
    if (close(req->fd) != 0) {
        int err = errno;
        req->fd = -1;
        wbi_srv_reply_error(reply, wbi_srv_errno_transient(err) ? 503 : 500,
                            "cannot write upload: %s", strerror(err));
        return; // the completion callback removes the temp file
    }
    req->fd = -1;
    if (rename(req->tmp_path, req->final_path) != 0) {
        char msg[300];
        int status = s_fs_status(errno, "store the upload", msg, sizeof msg);
        wbi_srv_reply_error(reply, status, "%s", msg);
        return; // the completion callback removes the temp file
    }
    req->tmp_path[0] = '\0';
    double now = wbi_now_unix();
    wbi_srv_lock(&self->store_lock);
    int64_t id = 0;
    wandb_err e = wbi_store_begin(self->store);
    if (e == WANDB_OK)
        e = wbi_store_run_ensure(self->store, req->up_entity, req->up_project, req->up_run, now,
                                 &id);
    if (e == WANDB_OK)
        e = wbi_store_file_put(self->store, id, req->up_name, req->up_bytes, true, now);
    if (e == WANDB_OK)
        e = wbi_store_commit(self->store);
    if (e != WANDB_OK) {
        wbi_srv_reply_store_error(self, reply, e);
        wbi_store_rollback(self->store);
    }
    wbi_srv_unlock(&self->store_lock);
    if (e != WANDB_OK)
        return;
    wbi_slog(WANDB_LOG_DEBUG, "upload", "%s/%s/%s: %s (%" PRId64 " bytes)", req->up_entity,
             req->up_project, req->up_run, req->up_name, req->up_bytes);
    reply->status = 200;
    reply->json = json_object();
}
