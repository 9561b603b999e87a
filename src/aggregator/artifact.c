//  artifact.c - receiving artifact operations: spool, digest check, blobs
//  SPDX-License-Identifier: MIT
//
//  See artifact.h. Bytes go from the message straight to a temporary file;
//  memory per peer is one operation's entry list, never a file's bytes.
#include "aggregator/artifact_int.h"

#include "common/alloc.h"
#include "common/artname.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/random.h"
#include "common/relpath.h"
#include "common/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_mkdir(const char *path)
{
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

wandb_err wbi_agg_arts_new(wbi_agg_arts_t **out, const char *dir, const wbi_agg_art_io_t *io)
{
    *out = NULL;
    wbi_agg_arts_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->io = *io;
    char sub[WBI_ARTSTORE_PATH + 16];
    bool ok = s_mkdir(dir) == 0;
    snprintf(sub, sizeof sub, "%s/blobs", dir);
    ok = ok && s_mkdir(sub) == 0;
    snprintf(sub, sizeof sub, "%s/tmp", dir);
    ok = ok && s_mkdir(sub) == 0;
    if (!ok) {
        wbi_err("aggregator: artifact directory '%s': %s", dir, strerror(errno));
        wbi_free(self);
        return WANDB_EIO;
    }
    *out = self;
    return WANDB_OK;
}

// Closes and removes the file being received.
static void s_file_drop(wbi_agg_art_op_t *op)
{
    if (!op->open)
        return;
    close(op->fd);
    unlink(op->tmp);
    op->open = false;
    wbi_free(op->fname);
    wbi_free(op->fdigest);
    op->fname = op->fdigest = NULL;
}

static void s_op_free(wbi_agg_arts_t *self, wbi_agg_art_op_t *op)
{
    s_file_drop(op);
    if (op->prev)
        op->prev->next = op->next;
    else if (self->ops == op)
        self->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    json_decref(op->begin);
    json_decref(op->contents);
    wbi_free(op->op);
    wbi_free(op->run_id);
    wbi_free(op);
}

void wbi_agg_arts_drop(wbi_agg_arts_t *self, wbi_agg_art_op_t **op_p, const char *why)
{
    if (!self || !op_p || !*op_p)
        return;
    wbi_agg_art_op_t *op = *op_p;
    *op_p = NULL;
    self->stats.dropped++;
    wbi_warn("aggregator: artifact %s '%s' of run '%s' (rank %d) dropped unfinished: %s", op->op,
             json_string_value(json_object_get(op->begin, "name")), op->run_id, op->rank, why);
    s_op_free(self, op);
}

void wbi_agg_arts_destroy(wbi_agg_arts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_agg_arts_t *self = *self_p;
    while (self->ops)
        s_op_free(self, self->ops);
    wbi_agg_arts_release_merge(self);
    wbi_free(self);
    *self_p = NULL;
}

void wbi_agg_arts_get_stats(const wbi_agg_arts_t *self, wbi_agg_arts_stats_t *out)
{
    *out = self->stats;
}

const char *wbi_agg_arts_dir(const wbi_agg_arts_t *self)
{
    return self->dir;
}

void wbi_agg_arts_refuse(wbi_agg_arts_t *self, void *peer, uint32_t op_id, const char *code,
                         const char *error)
{
    json_t *ack = json_pack("{s:I, s:b, s:s, s:s}", "op_id", (json_int_t)op_id, "ok", 0, "code",
                            code, "error", error);
    char *text = ack ? wbi_jsonx_dumps(ack, JSON_COMPACT) : NULL;
    json_decref(ack);
    if (text)
        self->io.reply(self->io.arg, peer, WBI_REC_ART_ACK, text, strlen(text));
    wbi_free(text);
}

// Records the first error of op.
static void s_fail(wbi_agg_art_op_t *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_fail(wbi_agg_art_op_t *op, const char *fmt, ...)
{
    if (op->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->error, sizeof op->error, fmt, ap);
    va_end(ap);
    s_file_drop(op);
}

// ART_BEGIN: a new operation (a peer's unfinished one is dropped).
static wandb_err s_begin(wbi_agg_arts_t *self, wbi_agg_art_op_t **op_p,
                         const wbi_agg_art_who_t *who, const uint8_t *payload, size_t len)
{
    json_error_t jerr;
    json_t *b = wbi_jsonx_loadb((const char *)payload, len, 0, &jerr);
    json_int_t id = json_integer_value(json_object_get(b, "op_id"));
    const char *opname = json_string_value(json_object_get(b, "op"));
    if (!json_is_object(b) || id <= 0 || id > (json_int_t)UINT32_MAX || !opname) {
        json_decref(b);
        return WANDB_EPROTO;
    }
    wbi_agg_arts_drop(self, op_p, "a newer operation began");
    wbi_agg_art_op_t *op = wbi_calloc(1, sizeof *op);
    if (op) {
        op->op = wbi_strdup(opname);
        op->run_id = wbi_strdup(who->run_id);
        op->contents = json_object();
    }
    if (!op || !op->op || !op->run_id || !op->contents) {
        if (op)
            s_op_free(self, op);
        json_decref(b);
        return WANDB_ENOMEM;
    }
    op->op_id = (uint32_t)id;
    op->rank = who->rank;
    op->begin = b;
    op->next = self->ops;
    if (self->ops)
        self->ops->prev = op;
    self->ops = op;
    *op_p = op;
    char why[WBI_ART_WHY];
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *type = json_string_value(json_object_get(b, "type"));
    bool entries = strcmp(opname, "log") == 0 || strcmp(opname, "upsert") == 0 ||
                   strcmp(opname, "finish") == 0;
    if (!entries && strcmp(opname, "use") != 0 && strcmp(opname, "link") != 0)
        s_fail(op, "unknown artifact operation '%s'", opname);
    else if (!wbi_art_name_ok(name, why, sizeof why) ||
             (entries && !wbi_art_type_ok(type, why, sizeof why)))
        s_fail(op, "%s", why);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(b, "refs"), i, r)
    {
        const char *rn = json_string_value(json_object_get(r, "name"));
        const char *ru = json_string_value(json_object_get(r, "ref"));
        if (!wbi_run_file_name_ok(rn) || !wbi_art_ref_ok(ru, why, sizeof why)) {
            s_fail(op, "a bad reference entry");
            break;
        }
        json_object_set_new(op->contents, rn,
                            json_pack("{s:s, s:s, s:i}", "digest", ru, "ref", ru, "size", 0));
    }
    return WANDB_OK;
}

// ART_FILE: opens the temporary file of the next file.
static wandb_err s_file(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, const uint8_t *payload,
                        size_t len)
{
    json_error_t jerr;
    json_t *f = wbi_jsonx_loadb((const char *)payload, len, 0, &jerr);
    json_int_t id = json_integer_value(json_object_get(f, "op_id"));
    json_int_t no = json_integer_value(json_object_get(f, "file_no"));
    json_int_t size = json_integer_value(json_object_get(f, "size"));
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *digest = json_string_value(json_object_get(f, "digest"));
    wandb_err rc = WANDB_EPROTO;
    if (!op || id != (json_int_t)op->op_id || !name || !digest || size < 0)
        goto out;
    rc = WANDB_OK;
    if (op->error[0])
        goto out; // failed already: the rest is read and ignored
    if (op->open || no != (json_int_t)op->next_file || !wbi_run_file_name_ok(name) ||
        strlen(digest) >= WBI_MD5_B64 || json_object_get(op->contents, name)) {
        s_fail(op, "file %lld ('%.200s') out of order, duplicated or badly named", (long long)no,
               name);
        goto out;
    }
    op->next_file++;
    op->file_no = (uint32_t)no;
    char rnd[17];
    wbi_random_id(rnd, 16);
    int tn = snprintf(op->tmp, sizeof op->tmp, "%.3900s/tmp/%.60s-%u-%s", self->dir, op->run_id,
                      op->op_id, rnd);
    if (tn < 0 || (size_t)tn >= sizeof op->tmp) {
        s_fail(op, "the artifact directory's path is too long");
        goto out;
    }
    op->fd = open(op->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (op->fd < 0) {
        s_fail(op, "cannot create '%.300s': %s", op->tmp, strerror(errno));
        goto out;
    }
    op->open = true;
    op->fname = wbi_strdup(name);
    op->fdigest = wbi_strdup(digest);
    op->fsize = (uint64_t)size;
    op->got = 0;
    wbi_md5_init(&op->md5);
    if (!op->fname || !op->fdigest)
        s_fail(op, "out of memory");
out:
    json_decref(f);
    return rc;
}

// ART_CHUNK: bytes at the end of the file being received.
static wandb_err s_chunk(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer, const uint8_t *p,
                         size_t len)
{
    if (!op || len < WBI_WIRE_ART_CHUNK_HEADER || wbi_get_u32(p) != op->op_id)
        return WANDB_EPROTO;
    uint64_t off = wbi_get_u64(p + 8);
    size_t n = len - WBI_WIRE_ART_CHUNK_HEADER;
    if (op->error[0]) { // failed: the rest is dropped, but the rank must not wait for credit
        uint8_t prog[16];
        wbi_put_u32(prog, op->op_id);
        wbi_put_u32(prog + 4, wbi_get_u32(p + 4));
        wbi_put_u64(prog + 8, off + n);
        self->io.reply(self->io.arg, peer, WBI_REC_ART_PROGRESS, prog, sizeof prog);
        return WANDB_OK;
    }
    if (!op->open || wbi_get_u32(p + 4) != op->file_no || off != op->got ||
        n > op->fsize - op->got) {
        s_fail(op, "a chunk of file %u does not continue it", wbi_get_u32(p + 4));
        return WANDB_OK;
    }
    const uint8_t *d = p + WBI_WIRE_ART_CHUNK_HEADER;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(op->fd, d + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s_fail(op, "cannot write '%.300s': %s", op->tmp, strerror(errno));
            return WANDB_OK;
        }
        done += (size_t)w;
    }
    wbi_md5_update(&op->md5, d, n);
    uint64_t before = op->got;
    op->got += n;
    self->stats.bytes += n;
    // Flow control: the rank sends at most WBI_WIRE_ART_WINDOW ahead of this.
    if (op->got / WBI_WIRE_ART_STEP != before / WBI_WIRE_ART_STEP || op->got == op->fsize) {
        uint8_t prog[16];
        wbi_put_u32(prog, op->op_id);
        wbi_put_u32(prog + 4, op->file_no);
        wbi_put_u64(prog + 8, op->got);
        self->io.reply(self->io.arg, peer, WBI_REC_ART_PROGRESS, prog, sizeof prog);
    }
    return WANDB_OK;
}

// ART_FILE_END: checks size and digest, moves the file into the blobs.
static wandb_err s_file_end(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, const uint8_t *p,
                            size_t len)
{
    if (!op || len != 16 || wbi_get_u32(p) != op->op_id)
        return WANDB_EPROTO;
    if (op->error[0])
        return WANDB_OK;
    if (!op->open || wbi_get_u32(p + 4) != op->file_no) {
        s_fail(op, "the end of file %u that was not begun", wbi_get_u32(p + 4));
        return WANDB_OK;
    }
    char digest[WBI_MD5_B64];
    wbi_md5_final_b64(&op->md5, digest);
    if (wbi_get_u64(p + 8) != op->fsize || op->got != op->fsize) {
        s_fail(op, "'%.200s' arrived with %llu bytes, %llu announced", op->fname,
               (unsigned long long)op->got, (unsigned long long)op->fsize);
        return WANDB_OK;
    }
    if (strcmp(digest, op->fdigest) != 0) {
        s_fail(op, "'%.200s' arrived with digest %s, the rank computed %s", op->fname, digest,
               op->fdigest);
        return WANDB_OK;
    }
    char blob[WBI_ARTSTORE_PATH];
    struct stat st;
    bool ok = fdatasync(op->fd) == 0;
    close(op->fd);
    op->open = false;
    if (!ok || !wbi_artstore_blob_path(self->dir, digest, blob, sizeof blob)) {
        unlink(op->tmp);
        s_fail(op, "cannot store '%.200s'", op->fname);
        return WANDB_OK;
    }
    self->stats.files++;
    if (stat(blob, &st) == 0 && (uint64_t)st.st_size == op->fsize) {
        unlink(op->tmp); // stored once
        self->stats.deduped++;
    } else if (rename(op->tmp, blob) != 0) {
        unlink(op->tmp);
        s_fail(op, "cannot move '%.200s' to '%.300s': %s", op->fname, blob, strerror(errno));
        return WANDB_OK;
    }
    json_object_set_new(op->contents, op->fname,
                        json_pack("{s:s, s:I}", "digest", digest, "size", (json_int_t)op->fsize));
    wbi_free(op->fname);
    wbi_free(op->fdigest);
    op->fname = op->fdigest = NULL;
    return WANDB_OK;
}

wandb_err wbi_agg_arts_record(wbi_agg_arts_t *self, wbi_agg_art_op_t **op_p, void *peer,
                              const wbi_agg_art_who_t *who, uint8_t type, const uint8_t *payload,
                              size_t len)
{
    wbi_agg_art_op_t *op = *op_p;
    switch (type) {
    case WBI_REC_ART_BEGIN:
        return s_begin(self, op_p, who, payload, len);
    case WBI_REC_ART_FILE:
        return s_file(self, op, payload, len);
    case WBI_REC_ART_CHUNK:
        return s_chunk(self, op, peer, payload, len);
    case WBI_REC_ART_FILE_END:
        return s_file_end(self, op, payload, len);
    case WBI_REC_ART_ABORT:
        if (!op || len != 4 || wbi_get_u32(payload) != op->op_id)
            return WANDB_EPROTO;
        wbi_agg_arts_drop(self, op_p, "the rank aborted it");
        return WANDB_OK;
    case WBI_REC_ART_COMMIT:
        if (!op || len != 4 || wbi_get_u32(payload) != op->op_id)
            return WANDB_EPROTO;
        *op_p = NULL;
        if (op->open)
            s_fail(op, "committed while file '%.200s' was incomplete", op->fname);
        if (op->error[0]) {
            self->stats.failed++;
            wbi_warn("aggregator: artifact %s '%s' of run '%s' (rank %d) refused: %s", op->op,
                     json_string_value(json_object_get(op->begin, "name")), op->run_id, op->rank,
                     op->error);
            wbi_agg_arts_refuse(self, peer, op->op_id, "invalid", op->error);
        } else {
            wbi_agg_arts_apply(self, op, peer, who);
        }
        s_op_free(self, op);
        return WANDB_OK;
    case WBI_REC_ART_READ:
        return wbi_agg_arts_read(self, peer, payload, len);
    default:
        return WANDB_EPROTO;
    }
}
