//  artmerge.c - applying artifact operations: versions, distributed merges, use, link
//  SPDX-License-Identifier: MIT
//
//  The distributed rules (docs/artifacts.md, "From the ranks"):
//  * upserts with the same (project, name, distributed_id) accumulate here;
//    an upsert is answered once its entries are merged, so an upsert whose
//    call returned before finish_artifact was called is in that version;
//  * the same path with the same digest from two ranks is kept once; with
//    another digest the later operation (upsert or finish) is refused whole,
//    nothing of it merged, and says which run holds the path (first wins);
//  * finish merges its own entries and commits ONE version of everything
//    merged so far, then forgets the pending set: a later upsert starts the
//    next version;
//  * finish does not wait for upserts still arriving (a crashed or slow
//    rank): it commits without them, and its answer and the version's
//    info.json list them under "incomplete".
#include "aggregator/artifact_int.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void s_ack(wbi_agg_arts_t *self, void *peer, json_t *ack)
{
    char *text = wbi_jsonx_dumps(ack, JSON_COMPACT);
    if (text)
        self->io.reply(self->io.arg, peer, WBI_REC_ART_ACK, text, strlen(text));
    wbi_free(text);
}

static void s_event(wbi_agg_arts_t *self, void *peer, json_t *ev)
{
    if (!self->io.event)
        return;
    char *text = wbi_jsonx_dumps(ev, JSON_COMPACT);
    if (text)
        self->io.event(self->io.arg, peer, text, strlen(text));
    wbi_free(text);
}

static const char *s_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

// The project of an operation: the use target's, else the sender's.
static const char *s_project(const wbi_agg_art_op_t *op, const wbi_agg_art_who_t *who)
{
    const char *p = s_str(json_object_get(op->begin, "use"), "project");
    return *p ? p : who->project;
}

static wbi_agg_art_pending_t *s_pending(wbi_agg_arts_t *self, const char *project, const char *name,
                                        const char *did, bool create)
{
    for (wbi_agg_art_pending_t *p = self->pending; p; p = p->next)
        if (!strcmp(p->project, project) && !strcmp(p->name, name) && !strcmp(p->did, did))
            return p;
    if (!create)
        return NULL;
    wbi_agg_art_pending_t *p = wbi_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->project = wbi_strdup(project);
    p->name = wbi_strdup(name);
    p->did = wbi_strdup(did);
    p->contents = json_object();
    p->owners = json_object();
    p->producers = json_array();
    p->next = self->pending;
    self->pending = p;
    return p;
}

static void s_pending_free(wbi_agg_arts_t *self, wbi_agg_art_pending_t *p)
{
    for (wbi_agg_art_pending_t **pp = &self->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    wbi_free(p->project);
    wbi_free(p->name);
    wbi_free(p->did);
    json_decref(p->contents);
    json_decref(p->owners);
    json_decref(p->producers);
    wbi_free(p);
}

void wbi_agg_arts_release_merge(wbi_agg_arts_t *self)
{
    while (self->pending)
        s_pending_free(self, self->pending);
    for (size_t i = 0; i < WBI_AGG_ART_USES; i++) {
        wbi_agg_art_use_t *u = &self->uses[i];
        for (size_t k = 0; k < u->n; k++)
            wbi_free(u->blobs[k]);
        wbi_free(u->blobs);
        wbi_free(u->sizes);
        *u = (wbi_agg_art_use_t){0};
    }
}

// Merges op's entries into p; false (and why) on a conflicting path, with
// nothing merged.
static bool s_merge(wbi_agg_art_pending_t *p, const wbi_agg_art_op_t *op, char *why, size_t n)
{
    const char *path;
    json_t *e;
    json_object_foreach(op->contents, path, e)
    {
        json_t *old = json_object_get(p->contents, path);
        if (old && strcmp(s_str(old, "digest"), s_str(e, "digest")) != 0) {
            snprintf(why, n,
                     "conflict on '%.200s': %s put it with digest %s; run '%s' (rank %d) has "
                     "digest %s: this operation is refused, nothing of it merged",
                     path, s_str(p->owners, path), s_str(old, "digest"), op->run_id, op->rank,
                     s_str(e, "digest"));
            return false;
        }
    }
    char owner[256];
    snprintf(owner, sizeof owner, "run '%s' (rank %d)", op->run_id, op->rank);
    json_object_foreach(op->contents, path, e)
    {
        if (json_object_get(p->contents, path))
            continue; // the same contents: kept once
        json_object_set(p->contents, path, e);
        json_object_set_new(p->owners, path, json_string(owner));
    }
    size_t i;
    json_t *r;
    json_array_foreach(p->producers, i,
                       r) if (!strcmp(json_string_value(r), op->run_id)) return true;
    json_array_append_new(p->producers, json_string(op->run_id));
    return true;
}

// Upserts of did still arriving (other peers' operations in progress).
static json_t *s_incomplete(wbi_agg_arts_t *self, const wbi_agg_art_op_t *fin, const char *did)
{
    json_t *a = json_array();
    for (const wbi_agg_art_op_t *o = self->ops; o; o = o->next)
        if (o != fin && !strcmp(o->op, "upsert") &&
            !strcmp(s_str(o->begin, "distributed_id"), did) &&
            !strcmp(s_str(o->begin, "name"), s_str(fin->begin, "name")))
            json_array_append_new(a, json_pack("{s:s, s:i}", "run", o->run_id, "rank", o->rank));
    return a;
}

// Commits contents as a version and answers op.
static void s_commit(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer, const char *project,
                     const json_t *contents, json_t *producers, json_t *incomplete)
{
    const json_t *b = op->begin;
    const char *name = s_str(b, "name");
    json_t *info = json_pack("{s:s, s:O, s:O, s:O, s:s}", "type", s_str(b, "type"), "aliases",
                             json_object_get(b, "aliases"), "tags", json_object_get(b, "tags"),
                             "producers", producers, "created_by", op->run_id);
    if (json_object_get(b, "description"))
        json_object_set(info, "description", json_object_get(b, "description"));
    if (json_object_get(b, "metadata"))
        json_object_set(info, "metadata", json_object_get(b, "metadata"));
    if (json_object_get(b, "distributed_id"))
        json_object_set(info, "distributed_id", json_object_get(b, "distributed_id"));
    if (incomplete && json_array_size(incomplete))
        json_object_set(info, "incomplete", incomplete);
    char version[32], digest[33], why[512] = "";
    bool existed = false;
    wandb_err rc = info ? wbi_artstore_commit(self->dir, project, name, info, contents, version,
                                              sizeof version, digest, &existed, why, sizeof why)
                        : WANDB_ENOMEM;
    json_decref(info);
    if (rc != WANDB_OK) {
        self->stats.failed++;
        wbi_err("aggregator: artifact '%s' not committed: %s", name, why);
        wbi_agg_arts_refuse(self, peer, op->op_id, "store", why);
        return;
    }
    if (!existed)
        self->stats.versions++;
    wbi_info("aggregator: artifact %s/%s:%s (%zu entries, digest %s)%s by run '%s'", project, name,
             version, json_object_size(contents), digest, existed ? " already existed" : "",
             op->run_id);
    json_t *ack = json_pack("{s:I, s:b, s:s, s:s, s:I, s:b, s:o}", "op_id", (json_int_t)op->op_id,
                            "ok", 1, "version", version, "digest", digest, "files",
                            (json_int_t)json_object_size(contents), "existed", existed,
                            "incomplete", incomplete ? json_incref(incomplete) : json_array());
    s_ack(self, peer, ack);
    json_decref(ack);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:O}", "event", "commit", "project",
                           project, "name", name, "type", s_str(b, "type"), "version", version,
                           "digest", digest, "existed", existed, "producers", producers);
    s_event(self, peer, ev);
    json_decref(ev);
}

static void s_distributed(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer,
                          const wbi_agg_art_who_t *who, bool finish)
{
    const char *did = s_str(op->begin, "distributed_id");
    const char *name = s_str(op->begin, "name");
    char why[700];
    if (!*did) {
        wbi_agg_arts_refuse(self, peer, op->op_id, "invalid", "no distributed_id");
        return;
    }
    wbi_agg_art_pending_t *p = s_pending(self, who->project, name, did, true);
    if (!p) {
        wbi_agg_arts_refuse(self, peer, op->op_id, "store", "out of memory");
        return;
    }
    if (!s_merge(p, op, why, sizeof why)) {
        self->stats.conflicts++;
        wbi_warn("aggregator: artifact '%s' (distributed_id '%s'): %s", name, did, why);
        wbi_agg_arts_refuse(self, peer, op->op_id, "conflict", why);
        return;
    }
    if (!finish) {
        self->stats.upserts++;
        json_t *ack = json_pack("{s:I, s:b, s:s, s:I}", "op_id", (json_int_t)op->op_id, "ok", 1,
                                "version", "", "files", (json_int_t)json_object_size(p->contents));
        s_ack(self, peer, ack);
        json_decref(ack);
        return;
    }
    json_t *incomplete = s_incomplete(self, op, did);
    if (json_array_size(incomplete))
        wbi_warn("aggregator: artifact '%s' (distributed_id '%s') finished while %zu upsert(s) "
                 "were still arriving: committed without them",
                 name, did, json_array_size(incomplete));
    s_commit(self, op, peer, who->project, p->contents, p->producers, incomplete);
    json_decref(incomplete);
    s_pending_free(self, p); // an upsert after this starts the next version
}

// use: finds the version, remembers its blobs for READ, records the consumer.
static void s_use(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer,
                  const wbi_agg_art_who_t *who)
{
    const json_t *u = json_object_get(op->begin, "use");
    const char *project = s_project(op, who);
    json_t *info = NULL, *manifest = NULL;
    char version[64], why[512];
    wandb_err rc = wbi_artstore_find(self->dir, project, s_str(u, "name"), s_str(u, "alias"), &info,
                                     &manifest, version, sizeof version, why, sizeof why);
    if (rc != WANDB_OK) {
        wbi_agg_arts_refuse(self, peer, op->op_id, "notfound", why);
        return;
    }
    uint32_t id = ++self->next_use ? self->next_use : ++self->next_use;
    wbi_agg_art_use_t *slot = &self->uses[id % WBI_AGG_ART_USES];
    for (size_t k = 0; k < slot->n; k++)
        wbi_free(slot->blobs[k]);
    wbi_free(slot->blobs);
    wbi_free(slot->sizes);
    json_t *contents = json_object_get(manifest, "contents");
    size_t n = json_object_size(contents);
    *slot = (wbi_agg_art_use_t){.id = id,
                                .blobs = wbi_calloc(n ? n : 1, sizeof(char *)),
                                .sizes = wbi_calloc(n ? n : 1, sizeof(uint64_t))};
    json_t *entries = json_array();
    const char *path;
    json_t *e;
    // File numbers follow the order of the entries sent in the answer.
    json_object_foreach(contents, path, e)
    {
        json_t *item = json_pack("{s:s, s:s, s:I}", "name", path, "digest", s_str(e, "digest"),
                                 "size", json_integer_value(json_object_get(e, "size")));
        if (json_object_get(e, "ref")) {
            json_object_set(item, "ref", json_object_get(e, "ref"));
        } else if (slot->blobs) {
            char blob[WBI_ARTSTORE_PATH];
            if (wbi_artstore_blob_path(self->dir, s_str(e, "digest"), blob, sizeof blob))
                slot->blobs[slot->n] = wbi_strdup(blob);
            slot->sizes[slot->n++] = (uint64_t)json_integer_value(json_object_get(e, "size"));
        }
        json_array_append_new(entries, item);
    }
    wbi_artstore_consumer(self->dir, project, s_str(u, "name"), version, who->run_id);
    json_t *ack = json_pack("{s:I, s:b, s:s, s:s, s:s, s:I, s:o}", "op_id", (json_int_t)op->op_id,
                            "ok", 1, "version", version, "digest", s_str(info, "digest"), "type",
                            s_str(info, "type"), "use_id", (json_int_t)id, "entries", entries);
    s_ack(self, peer, ack);
    json_decref(ack);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "use", "project", project, "name",
                           s_str(u, "name"), "version", version, "run", who->run_id);
    s_event(self, peer, ev);
    json_decref(ev);
    json_decref(info);
    json_decref(manifest);
}

static void s_link(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer,
                   const wbi_agg_art_who_t *who)
{
    const json_t *b = op->begin;
    const json_t *t = json_object_get(b, "target");
    json_t *link =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "event", "link", "project",
                  who->project, "name", s_str(b, "name"), "version", s_str(b, "version"),
                  "target_entity", s_str(t, "entity"), "target_project",
                  *s_str(t, "project") ? s_str(t, "project") : who->project, "aliases",
                  json_object_get(b, "link_aliases"), "portfolio", s_str(t, "portfolio"));
    wandb_err rc = link ? wbi_artstore_link(self->dir, link) : WANDB_ENOMEM;
    if (rc != WANDB_OK) {
        json_decref(link);
        wbi_agg_arts_refuse(self, peer, op->op_id, "store", "cannot record the link");
        return;
    }
    json_t *ack = json_pack("{s:I, s:b, s:s}", "op_id", (json_int_t)op->op_id, "ok", 1, "version",
                            s_str(b, "version"));
    s_ack(self, peer, ack);
    json_decref(ack);
    s_event(self, peer, link);
    json_decref(link);
}

void wbi_agg_arts_apply(wbi_agg_arts_t *self, wbi_agg_art_op_t *op, void *peer,
                        const wbi_agg_art_who_t *who)
{
    if (!strcmp(op->op, "log")) {
        json_t *producers = json_pack("[s]", op->run_id);
        s_commit(self, op, peer, who->project, op->contents, producers, NULL);
        json_decref(producers);
    } else if (!strcmp(op->op, "upsert") || !strcmp(op->op, "finish")) {
        s_distributed(self, op, peer, who, !strcmp(op->op, "finish"));
    } else if (!strcmp(op->op, "use")) {
        s_use(self, op, peer, who);
    } else {
        s_link(self, op, peer, who);
    }
}

wandb_err wbi_agg_arts_read(wbi_agg_arts_t *self, void *peer, const uint8_t *p, size_t len)
{
    if (len != 20)
        return WANDB_EPROTO;
    uint32_t id = wbi_get_u32(p), no = wbi_get_u32(p + 4);
    uint64_t off = wbi_get_u64(p + 8);
    uint32_t max = wbi_get_u32(p + 16);
    if (max > WBI_AGG_ART_READ_MAX)
        max = WBI_AGG_ART_READ_MAX;
    const wbi_agg_art_use_t *u = &self->uses[id % WBI_AGG_ART_USES];
    uint8_t *out = wbi_malloc(16 + (size_t)max);
    if (!out)
        return WANDB_ENOMEM;
    wbi_put_u32(out, id);
    wbi_put_u32(out + 4, no);
    wbi_put_u64(out + 8, off);
    size_t n = 0;
    if (id && u->id == id && no < u->n && u->blobs[no] && off < u->sizes[no]) {
        int fd = open(u->blobs[no], O_RDONLY | O_CLOEXEC);
        ssize_t r = fd >= 0 ? pread(fd, out + 16, max, (off_t)off) : -1;
        n = r > 0 ? (size_t)r : 0;
        if (fd >= 0)
            close(fd);
    }
    self->io.reply(self->io.arg, peer, WBI_REC_ART_DATA, out, 16 + n);
    wbi_free(out);
    return WANDB_OK;
}
