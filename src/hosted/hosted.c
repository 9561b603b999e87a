//  hosted.c - an aggregator hosted by a process that links the rank library
//  SPDX-License-Identifier: MIT
//
//  Sits above the logger and the aggregator (docs/layers.md): implements
//  logger/hosted.h, the in-process aggregator wandb_init starts without an
//  endpoint, and the public wandb_aggregator_* calls, which resolve the
//  settings as wandb_init does (wandb_mpi_init uses them on rank 0). Both
//  start an aggregator whose sink is the outlet (journal, then backend).
#include "logger/hosted.h"
#include "aggregator/aggregator.h"
#include "aggregator/zap.h"
#include "common/alloc.h"
#include "logger/settings.h"
#include "outlet/outlet.h"

#include <stdio.h>

struct wandb_aggregator {
    wbi_agg_t *agg; // the aggregator thread and its outlet
    char *journal;  // its journal directory (copied at start); NULL: none
};

// Starts an aggregator on bind with the journal and backend settings of cfg.
static wandb_err s_start(wandb_aggregator_t *self, const wbi_cfg_t *cfg, const char *bind,
                         void *zmq_ctx, int expected_runs, const char *secret)
{
    wbi_agg_opts_t opts = {
        .bind = bind,
        .secret = secret,
        .zmq_ctx = zmq_ctx,
        .expected_runs = expected_runs,
        .plain = cfg->transport_plain,
        .no_job_run = cfg->no_job_run,
        .no_rank_runs = cfg->no_rank_runs,
        .job_lateness_ms = cfg->job_lateness_ms,
    };
    wbi_outlet_opts_t oopts = {
        .journal_dir = cfg->dir,
        .offline = cfg->mode == WBI_MODE_OFFLINE,
        .journal_flush_ms = cfg->journal_flush_ms,
        .journal_max_bytes = cfg->journal_max_bytes,
        .backend = {.base_url = cfg->base_url,
                    .api_key = cfg->api_key,
                    .flush_interval_ms = cfg->flush_interval_ms,
                    .http2 = cfg->http2,
                    .ca_cert = cfg->ca_cert,
                    .request_budget = cfg->request_budget},
    };
    wbi_outlet_t *outlet = NULL;
    wandb_err rc = wbi_outlet_start_agg(&self->agg, &opts, &oopts, &outlet);
    const char *dir = rc == WANDB_OK && outlet ? wbi_outlet_journal_dir(outlet) : "";
    self->journal = *dir ? wbi_strdup(dir) : NULL;
    return rc;
}

const char *wbi_hosted_journal_dir(const wandb_aggregator_t *self)
{
    return self && self->journal ? self->journal : "";
}

// --- the in-process aggregator of wandb_init (logger/hosted.h) -----------------

wandb_err wbi_hosted_start(wandb_aggregator_t **out, const wbi_cfg_t *cfg, const char *bind,
                           void *zmq_ctx, int expected_runs, const char *secret, char *errmsg,
                           size_t errlen)
{
    *out = NULL;
    wandb_aggregator_t *self = wbi_calloc(1, sizeof(*self));
    wandb_err rc = self ? s_start(self, cfg, bind, zmq_ctx, expected_runs, secret) : WANDB_ENOMEM;
    if (rc != WANDB_OK) {
        snprintf(errmsg, errlen, "cannot start the in-process aggregator: %s", wandb_strerror(rc));
        if (self)
            wbi_free(self->journal);
        wbi_free(self);
        return rc;
    }
    *out = self;
    return WANDB_OK;
}

// --- the public wandb_aggregator_* (include/wandb.h) -------------------------------

wandb_err wandb_aggregator_start(wandb_settings_t *settings, const char *bind, int expected_runs,
                                 wandb_aggregator_t **out)
{
    if (!out || expected_runs < 0)
        return WANDB_EINVAL;
    *out = NULL;
    wbi_cfg_t cfg;
    char errmsg[WBI_ERRMSG_BYTES];
    wandb_err rc = wbi_settings_resolve(settings, &cfg, errmsg, sizeof errmsg);
    if (rc != WANDB_OK) {
        wbi_settings_set_errmsg(settings, errmsg);
        return rc;
    }
    wandb_aggregator_t *self = wbi_calloc(1, sizeof(*self));
    if (!self) {
        wbi_cfg_release(&cfg);
        return WANDB_ENOMEM;
    }
    if (!bind)
        bind = "tcp://127.0.0.1:*";
    rc = s_start(self, &cfg, bind, NULL, expected_runs, cfg.secret);
    wbi_cfg_release(&cfg);
    if (rc != WANDB_OK) {
        snprintf(errmsg, sizeof errmsg, "cannot start the aggregator on '%s': %s", bind,
                 wandb_strerror(rc));
        wbi_settings_set_errmsg(settings, errmsg);
        wbi_free(self->journal);
        wbi_free(self);
        return rc;
    }
    // What this process's runs need to connect (docs/security.md).
    const wbi_zap_keys_t *keys = wbi_agg_keys(self->agg);
    if (keys && settings) {
        wandb_settings_set(settings, "aggregator_server_key", keys->server_key);
        wandb_settings_set(settings, "aggregator_client_key", keys->client_key);
        wandb_settings_set(settings, "aggregator_client_secret", keys->client_secret);
    }
    *out = self;
    return WANDB_OK;
}

const char *wandb_aggregator_endpoint(const wandb_aggregator_t *self)
{
    return self ? wbi_agg_endpoint(self->agg) : NULL;
}

wandb_err wandb_aggregator_stop(wandb_aggregator_t **self_p, int timeout_ms)
{
    if (!self_p || !*self_p)
        return WANDB_OK;
    wandb_aggregator_t *self = *self_p;
    *self_p = NULL;
    wandb_err rc = wbi_agg_stop(&self->agg, timeout_ms);
    wbi_free(self->journal);
    wbi_free(self);
    return rc;
}
