//  hosted_agg.c - the public face of an aggregator hosted by this process
//  SPDX-License-Identifier: MIT
//
//  wandb_aggregator_start resolves the settings like wandb_init does and
//  starts the aggregator thread; wandb_mpi_init uses it on rank 0.
#include "aggregator/aggregator.h"
#include "common/alloc.h"
#include "logger/settings.h"

#include <stdio.h>

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
        .backend = {.base_url = cfg.base_url,
                    .api_key = cfg.api_key,
                    .flush_interval_ms = cfg.flush_interval_ms},
    };
    rc = wbi_agg_start(&self->agg, &opts);
    wbi_cfg_release(&cfg);
    if (rc != WANDB_OK) {
        snprintf(errmsg, sizeof errmsg, "cannot start the aggregator on '%s': %s", opts.bind,
                 wandb_strerror(rc));
        wbi_settings_set_errmsg(settings, errmsg);
        wbi_free(self);
        return rc;
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
