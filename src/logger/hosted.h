//  hosted.h - the in-process aggregator, as the rank library needs it
//  SPDX-License-Identifier: MIT
//
//  Without an aggregator endpoint, wandb_init starts an aggregator inside
//  the process on an inproc endpoint of the run's ZeroMQ context, and
//  wandb_finish stops it. The logger declares only this narrow interface and
//  includes no aggregator header: src/hosted implements it above the logger,
//  the aggregator and the outlet (docs/layers.md), and libwandb links it.
//  Thread: start and stop from one thread (wandb_init and wandb_finish do,
//  under their lock); the endpoint from any thread while it runs.
#ifndef WBI_HOSTED_H
#define WBI_HOSTED_H

#include "logger/settings.h"

// Starts an aggregator thread bound to bind, journaling and forwarding as
// the settings in cfg say (borrowed during the call), waiting at stop for
// expected_runs FINISHes. zmq_ctx: the context the ranks' sockets use (an
// inproc endpoint needs it; NULL: its own). secret: what HELLO must carry
// (NULL: not checked). On error errmsg gets the reason. Returns a new
// aggregator in *out, the same object wandb_aggregator_start makes: read its
// endpoint with wandb_aggregator_endpoint, stop it with wandb_aggregator_stop.
wandb_err wbi_hosted_start(wandb_aggregator_t **out, const wbi_cfg_t *cfg, const char *bind,
                           void *zmq_ctx, int expected_runs, const char *secret, char *errmsg,
                           size_t errlen);

// The journal directory of an aggregator this file started (absolute when
// it could be resolved); "" without a journal. Borrowed: valid until stop.
const char *wbi_hosted_journal_dir(const wandb_aggregator_t *self);

#endif
