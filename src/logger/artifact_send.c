//  artifact_send.c - an artifact operation from the rank to the aggregator
//  SPDX-License-Identifier: MIT
//
//  log, upsert and finish all travel the same way over the run's ring
//  (docs/wire-format.md): ART_BEGIN {op_id, op, name, type, description,
//  metadata, aliases, tags, distributed_id, refs, files}, then per file
//  ART_FILE {op_id, file_no, name, size, digest}, ART_CHUNKs (at most 64 KiB,
//  written only while the ring is at most half full: the flow control that
//  keeps a 1 GiB file from filling memory) and ART_FILE_END, then ART_COMMIT.
//  A file is read in chunks, never whole; its MD5 is computed again while it
//  is read, and a file that changed since it was added aborts the operation
//  (ART_ABORT). The caller then waits for the aggregator's ART_ACK: the
//  return of the call means the aggregator has the entries (upsert) or the
//  version (log, finish). One operation per run at a time (op_mu).
//  Thread: the API calls from any thread; wbi_art_on_ack from the I/O thread.
#include "logger/artifact.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/wire.h"
#include "logger/io.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t s_alloc_mu = PTHREAD_MUTEX_INITIALIZER;

struct wbi_art_link *wbi_art_link(wandb_run_t *run)
{
    pthread_mutex_lock(&s_alloc_mu);
    struct wbi_art_link *l = atomic_load(&run->art);
    if (!l && (l = wbi_calloc(1, sizeof *l))) {
        pthread_mutex_init(&l->op_mu, NULL);
        pthread_mutex_init(&l->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&l->cv, &ca);
        pthread_condattr_destroy(&ca);
        atomic_store(&run->art, l);
    }
    pthread_mutex_unlock(&s_alloc_mu);
    return l;
}

void wbi_art_on_ack(wandb_run_t *run, const uint8_t *payload, size_t len)
{
    struct wbi_art_link *l = atomic_load(&run->art);
    json_error_t jerr;
    json_t *obj = wbi_jsonx_loadb((const char *)payload, len, 0, &jerr);
    json_int_t id = json_integer_value(json_object_get(obj, "op_id"));
    json_decref(obj);
    char *text = wbi_malloc(len + 1);
    if (!l || !text || id <= 0 || id > (json_int_t)UINT32_MAX) {
        wbi_free(text);
        return;
    }
    memcpy(text, payload, len);
    text[len] = '\0';
    pthread_mutex_lock(&l->mu);
    wbi_free(l->ack);
    l->ack = text;
    l->acked = (uint32_t)id;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void wbi_art_on_progress(wandb_run_t *run, const uint8_t *payload, size_t len)
{
    struct wbi_art_link *l = atomic_load(&run->art);
    if (!l || len != 16)
        return;
    pthread_mutex_lock(&l->mu);
    l->prog_op = wbi_get_u32(payload);
    l->prog_file = wbi_get_u32(payload + 4);
    l->prog_bytes = wbi_get_u64(payload + 8);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

// Flow control: waits until the aggregator has written all but
// WBI_WIRE_ART_WINDOW bytes before off of the file, or until deadline.
static bool s_wait_window(struct wbi_art_link *l, uint32_t op_id, uint32_t file_no, uint64_t off,
                          int64_t deadline)
{
    if (off <= WBI_WIRE_ART_WINDOW)
        return true;
    bool ok;
    pthread_mutex_lock(&l->mu);
    while (!(ok = l->prog_op == op_id && l->prog_file == file_no &&
                  l->prog_bytes + WBI_WIRE_ART_WINDOW >= off) &&
           wbi_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

static int s_left(int64_t deadline)
{
    int64_t left = deadline - wbi_now_ms();
    return left > 1 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 1;
}

// Appends a JSON array of the strings v[0..n) and of extra (NULL-terminated).
static json_t *s_strings(char **v, size_t n, const char *const *extra)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    for (size_t i = 0; extra && extra[i]; i++)
        json_array_append_new(a, json_string(extra[i]));
    return a;
}

// The ART_BEGIN object.
static char *s_begin_text(wandb_run_t *run, const wandb_artifact_t *a, uint32_t op_id,
                          const char *op, const char *did, const json_t *extra)
{
    bool entries = strcmp(op, "link") != 0 && strcmp(op, "use") != 0;
    json_t *refs = json_array();
    size_t nfiles = 0;
    for (size_t i = 0; i < a->nentries; i++) {
        const wbi_art_entry_t *e = &a->entries[i];
        if (!entries)
            break;
        if (!e->ref) {
            nfiles++;
            continue;
        }
        json_array_append_new(refs, json_pack("{s:s, s:s, s:s}", "name", e->name, "ref", e->ref,
                                              "digest", e->digest));
    }
    json_t *obj = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I}", "op_id",
                            (json_int_t)op_id, "op", op, "name", a->name, "type", a->type,
                            "aliases", s_strings(a->aliases, a->naliases, NULL), "tags",
                            s_strings(a->tags, a->ntags, NULL), "refs", refs, "files",
                            (json_int_t)nfiles, "step", (json_int_t)atomic_load(&run->step));
    if (!obj)
        return NULL;
    if (a->description)
        json_object_set_new(obj, "description", json_string(a->description));
    if (a->metadata)
        json_object_set(obj, "metadata", a->metadata);
    if (did)
        json_object_set_new(obj, "distributed_id", json_string(did));
    if (extra)
        json_object_update(obj, (json_t *)extra);
    char *text = wbi_jsonx_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

// Streams one file entry as ART_FILE, ART_CHUNKs, ART_FILE_END, checking
// that its bytes still have the digest of add time.
static wandb_err s_send_file(wandb_run_t *run, wandb_artifact_t *a, const wbi_art_entry_t *e,
                             uint32_t op_id, uint32_t file_no, int wait_ms)
{
    json_t *obj = json_pack("{s:I, s:I, s:s, s:I, s:s}", "op_id", (json_int_t)op_id, "file_no",
                            (json_int_t)file_no, "name", e->name, "size", (json_int_t)e->size,
                            "digest", e->digest);
    char *text = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return WANDB_ENOMEM;
    int fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wbi_free(text);
        return wbi_art_fail(a, errno == ENOENT ? WANDB_ENOTFOUND : WANDB_EIO,
                            "artifact '%s': cannot open '%.300s' (entry '%s'): %s", a->name,
                            e->path, e->name, strerror(errno));
    }
    wandb_err rc = wbi_run_put_record(run, WBI_REC_ART_FILE, text, strlen(text), wait_ms);
    wbi_free(text);
    size_t chunk = WBI_WIRE_FILE_CHUNK;
    size_t quarter = run->ring.cap / 4;
    if (chunk + WBI_WIRE_ART_CHUNK_HEADER + WBI_WIRE_RECORD_HEADER > quarter)
        chunk = quarter - WBI_WIRE_ART_CHUNK_HEADER - WBI_WIRE_RECORD_HEADER;
    uint8_t *buf = rc == WANDB_OK ? wbi_malloc(WBI_WIRE_ART_CHUNK_HEADER + chunk) : NULL;
    if (rc == WANDB_OK && !buf)
        rc = WANDB_ENOMEM;
    wbi_md5_t md5;
    wbi_md5_init(&md5);
    uint64_t off = 0;
    while (rc == WANDB_OK) {
        ssize_t n = read(fd, buf + WBI_WIRE_ART_CHUNK_HEADER, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = wbi_art_fail(a, WANDB_EIO, "artifact '%s': cannot read '%.300s': %s", a->name,
                              e->path, strerror(errno));
            break;
        }
        if (n == 0 || off + (uint64_t)n > e->size)
            break;
        wbi_md5_update(&md5, buf + WBI_WIRE_ART_CHUNK_HEADER, (size_t)n);
        wbi_put_u32(buf, op_id);
        wbi_put_u32(buf + 4, file_no);
        wbi_put_u64(buf + 8, off);
        int64_t deadline = wbi_now_ms() + wait_ms; // a stall bound, not a total
        if (!s_wait_window(wbi_art_link(run), op_id, file_no, off, deadline)) {
            rc = wbi_art_fail(a, WANDB_ETIMEDOUT,
                              "artifact '%s': the aggregator wrote nothing of '%s' for %d ms",
                              a->name, e->name, wait_ms);
            break;
        }
        do {
            rc = wbi_run_put_bulk_record(run, WBI_REC_ART_CHUNK, buf,
                                         WBI_WIRE_ART_CHUNK_HEADER + (size_t)n, s_left(deadline));
        } while (rc == WANDB_EFULL && wbi_now_ms() < deadline);
        off += (uint64_t)n;
    }
    close(fd);
    wbi_free(buf);
    if (rc == WANDB_EFULL)
        rc = wbi_art_fail(a, WANDB_ETIMEDOUT,
                          "artifact '%s': the aggregator took no bytes of '%s' for %d ms", a->name,
                          e->name, wait_ms);
    if (rc != WANDB_OK)
        return rc;
    char digest[WBI_MD5_B64];
    wbi_md5_final_b64(&md5, digest);
    if (off != e->size || strcmp(digest, e->digest) != 0)
        return wbi_art_fail(a, WANDB_EIO,
                            "artifact '%s': '%.300s' (entry '%s') changed since it was added",
                            a->name, e->path, e->name);
    uint8_t end[16];
    wbi_put_u32(end, op_id);
    wbi_put_u32(end + 4, file_no);
    wbi_put_u64(end + 8, off);
    return wbi_run_put_record(run, WBI_REC_ART_FILE_END, end, sizeof end, wait_ms);
}

// Waits for the ACK of op_id until deadline; returns its JSON (owned) or NULL.
static json_t *s_wait_ack(struct wbi_art_link *l, uint32_t op_id, int64_t deadline)
{
    json_t *ack = NULL;
    pthread_mutex_lock(&l->mu);
    while (l->acked != op_id && wbi_now_ms() < deadline) {
        int64_t ms = deadline - wbi_now_ms();
        if (ms > 200)
            ms = 200;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    if (l->acked == op_id && l->ack) {
        json_error_t jerr;
        ack = wbi_jsonx_loadb(l->ack, strlen(l->ack), 0, &jerr);
    }
    pthread_mutex_unlock(&l->mu);
    return ack;
}

// Reads the verdict of an ACK into a.
static wandb_err s_apply_ack(wandb_artifact_t *a, const char *op, json_t *ack)
{
    if (!json_is_true(json_object_get(ack, "ok"))) {
        const char *why = json_string_value(json_object_get(ack, "error"));
        const char *code = json_string_value(json_object_get(ack, "code"));
        wandb_err rc = code && strcmp(code, "conflict") == 0 ? WANDB_EEXIST : WANDB_EBACKEND;
        if (strcmp(op, "use") == 0) {
            // wandb_use_artifact asks the backend next (artifact_remote.c) and
            // reports the outcome: only a debug line here.
            snprintf(a->errmsg, sizeof a->errmsg, "use_artifact '%s': %s", a->name,
                     why ? why : "the aggregator refused it");
            wbi_debug("%s", a->errmsg);
            return rc;
        }
        return wbi_art_fail(a, rc, "%s_artifact '%s': the aggregator refused it: %s", op, a->name,
                            why ? why : "no reason given");
    }
    const char *v = json_string_value(json_object_get(ack, "version"));
    const char *d = json_string_value(json_object_get(ack, "digest"));
    snprintf(a->version, sizeof a->version, "%s", v ? v : "");
    snprintf(a->digest, sizeof a->digest, "%s", d ? d : "");
    a->errmsg[0] = '\0';
    return WANDB_OK;
}

wandb_err wbi_art_send(wandb_run_t *run, wandb_artifact_t *a, const char *op,
                       const char *distributed_id, const json_t *extra, json_t **ack_out)
{
    bool entries = strcmp(op, "link") != 0 && strcmp(op, "use") != 0;
    int wait_ms = run->cfg.finish_timeout_ms > 0 ? run->cfg.finish_timeout_ms : 30000;
    struct wbi_art_link *l = wbi_art_link(run);
    if (!l)
        return WANDB_ENOMEM;
    a->errmsg[0] = '\0';
    pthread_mutex_lock(&l->op_mu);
    uint32_t op_id = ++l->seq;
    char *begin = s_begin_text(run, a, op_id, op, distributed_id, extra);
    wandb_err rc = begin ? WANDB_OK : WANDB_ENOMEM;
    if (rc == WANDB_OK)
        rc = wbi_run_put_record(run, WBI_REC_ART_BEGIN, begin, strlen(begin), wait_ms);
    wbi_free(begin);
    if (rc == WANDB_ETOOBIG)
        wbi_art_fail(a, rc,
                     "%s_artifact '%s': its description, metadata and references do not "
                     "fit in one record (the run's ring)",
                     op, a->name);
    bool begun = rc == WANDB_OK;
    uint32_t file_no = 0;
    for (size_t i = 0; entries && rc == WANDB_OK && i < a->nentries; i++)
        if (!a->entries[i].ref)
            rc = s_send_file(run, a, &a->entries[i], op_id, file_no++, wait_ms);
    uint8_t id[4];
    wbi_put_u32(id, op_id);
    if (rc == WANDB_OK)
        rc = wbi_run_put_record(run, WBI_REC_ART_COMMIT, id, sizeof id, wait_ms);
    else if (begun)
        wbi_run_put_record(run, WBI_REC_ART_ABORT, id, sizeof id, WBI_CONTROL_WAIT_MS);
    if (rc == WANDB_OK) {
        if (run->io)
            wbi_io_wake(run->io);
        json_t *ack = s_wait_ack(l, op_id, wbi_now_ms() + wait_ms);
        rc = ack ? s_apply_ack(a, op, ack)
                 : wbi_art_fail(a, WANDB_ETIMEDOUT,
                                "%s_artifact '%s': no answer from the aggregator within %d ms", op,
                                a->name, wait_ms);
        if (ack_out && rc == WANDB_OK)
            *ack_out = json_incref(ack);
        json_decref(ack);
    } else if (!a->errmsg[0] || rc == WANDB_ECLOSED) {
        wbi_art_fail(a, rc, "%s_artifact '%s': not sent: %s", op, a->name, wandb_strerror(rc));
    }
    pthread_mutex_unlock(&l->op_mu);
    return rc;
}
