//  core_art.c - the core's side of artifacts: a store made on first use, replies to peers
//  SPDX-License-Identifier: MIT
//
//  The core hands ART_* records to the artifact module (artifact.h) with
//  the peer's run as the sender, and lends it two callbacks: replies go to
//  the peer over the aggregator's socket (wbi_agg_core_reply), events go to
//  the sink's artifact callback (the outlet journals them).
//  Thread: the aggregator's loop thread only.
#include "aggregator/core_int.h"

#include "common/log.h"

static void s_reply(void *arg, void *peer, uint8_t type, const void *payload, size_t len)
{
    wbi_agg_core_reply(arg, peer, (wbi_rec_type)type, payload, len);
}

static void s_event(void *arg, void *peer, const char *json, size_t len)
{
    wbi_agg_core_t *self = arg;
    wbi_agg_peer_t *p = peer;
    if (!self->sink.artifact || !self->sink.find)
        return;
    void *handle =
        self->sink.find(self->sink.arg, wbi_agg_run_project(p->run), wbi_agg_run_id(p->run));
    if (handle)
        self->sink.artifact(self->sink.arg, handle, json, len);
}

// The artifact module, made at the first artifact record; NULL when the
// sink names no directory (or it cannot be created).
static wbi_agg_arts_t *s_arts(wbi_agg_core_t *self)
{
    if (self->arts || self->arts_refused)
        return self->arts;
    const char *dir = self->sink.artifact_dir ? self->sink.artifact_dir(self->sink.arg) : NULL;
    wbi_agg_art_io_t io = {.arg = self, .reply = s_reply, .event = s_event};
    if (!dir || wbi_agg_arts_new(&self->arts, dir, &io) != WANDB_OK) {
        self->arts_refused = true;
        wbi_warn("aggregator: artifacts are refused: %s",
                 dir ? "the artifact directory cannot be created"
                     : "this aggregator has no directory for them (no journal directory)");
    }
    return self->arts;
}

void wbi_agg_core_artifact(wbi_agg_core_t *self, wbi_agg_peer_t *p, const wbi_wire_record_t *rec)
{
    wbi_agg_arts_t *arts = s_arts(self);
    if (!arts) {
        if (rec->type == WBI_REC_ART_COMMIT && rec->len == 4) {
            char ack[160];
            int n = snprintf(ack, sizeof ack,
                             "{\"op_id\":%u,\"ok\":false,\"code\":\"store\",\"error\":\"the "
                             "aggregator keeps no artifact directory\"}",
                             wbi_get_u32(rec->payload));
            wbi_agg_core_reply(self, p, WBI_REC_ART_ACK, ack, (size_t)n);
        }
        return;
    }
    wbi_agg_art_who_t who = {.run_id = wbi_agg_run_id(p->run),
                             .project = wbi_agg_run_project(p->run),
                             .rank = wbi_agg_run_rank(p->run)};
    wandb_err rc = wbi_agg_arts_record(arts, &p->art, p, &who, rec->type, rec->payload, rec->len);
    if (rc != WANDB_OK)
        wbi_agg_core_bad(self, p, "artifact record %u rejected: %s", rec->type, wandb_strerror(rc));
}

void wbi_agg_core_artifact_drop(wbi_agg_core_t *self, wbi_agg_peer_t *p, const char *why)
{
    if (p->art)
        wbi_agg_arts_drop(self->arts, &p->art, why);
}
