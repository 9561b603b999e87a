//  hosted_agg.c - the public face of an aggregator hosted by this process
//  SPDX-License-Identifier: MIT
//
//  wandb_aggregator_start resolves the settings like wandb_init does and
//  starts the aggregator thread; wandb_mpi_init uses it on rank 0.
#include "aggregator/zap.h"
#include "common/alloc.h"
#include "logger/run.h"
#include "logger/settings.h"
#include "outlet/outlet.h"

#include <stdio.h>

void wbi_agg_opts_from_cfg(const wbi_cfg_t *cfg, wbi_agg_opts_t *opts, wbi_outlet_opts_t *oopts)
{
    oopts->journal_dir = cfg->dir;
    opts->plain = cfg->transport_plain;
    oopts->offline = cfg->mode == WBI_MODE_OFFLINE;
    oopts->journal_flush_ms = cfg->journal_flush_ms;
    oopts->journal_max_bytes = cfg->journal_max_bytes;
    oopts->backend.base_url = cfg->base_url;
    oopts->backend.api_key = cfg->api_key;
    oopts->backend.flush_interval_ms = cfg->flush_interval_ms;
    oopts->backend.http2 = cfg->http2;
    oopts->backend.ca_cert = cfg->ca_cert;
    oopts->backend.request_budget = cfg->request_budget;
    opts->no_job_run = cfg->no_job_run;
    opts->no_rank_runs = cfg->no_rank_runs;
    opts->job_lateness_ms = cfg->job_lateness_ms;
}

struct wandb_aggregator {
    wbi_agg_t *agg; // the aggregator thread and its backend client
};

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
    wbi_agg_opts_t opts = {
        .bind = bind ? bind : "tcp://127.0.0.1:*",
        .secret = cfg.secret,
        .expected_runs = expected_runs,
    };
    wbi_outlet_opts_t oopts = {.journal_dir = NULL};
    wbi_agg_opts_from_cfg(&cfg, &opts, &oopts);
    rc = wbi_outlet_start_agg(&self->agg, &opts, &oopts, NULL);
    wbi_cfg_release(&cfg);
    if (rc != WANDB_OK) {
        snprintf(errmsg, sizeof errmsg, "cannot start the aggregator on '%s': %s", opts.bind,
                 wandb_strerror(rc));
        wbi_settings_set_errmsg(settings, errmsg);
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
    wbi_free(self);
    return rc;
}
