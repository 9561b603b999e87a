//  zap.h - the aggregator's ZAP handler: who may connect to its ROUTER
//  SPDX-License-Identifier: MIT
//
//  libzmq asks the ZAP handler of a context (a socket bound to
//  inproc://zeromq.zap.01) about every connection that completes a
//  security handshake. This one admits a CURVE client only when its public
//  key is the job's client key, and a NULL (plain) client only when it was
//  started for plain text. Every admitted connection gets its own User-Id
//  ("c<n>", never reused), which libzmq attaches to each of its messages:
//  the core uses it to see that a routing id arrived over a new connection
//  (docs/security.md). The handler also reads the ROUTER's monitor and
//  counts failed handshakes (no key, wrong mechanism, refused key). One
//  thread owns both sockets. Thread: start/stop from one thread; stats from
//  any.
#ifndef WBI_ZAP_H
#define WBI_ZAP_H

#include "wandb.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WBI_ZAP_KEY_TEXT 41 // a Z85 CURVE key: 40 characters and a NUL

typedef struct wbi_zap wbi_zap_t;

typedef struct {
    uint64_t admitted;          // connections admitted
    uint64_t refused;           // ZAP requests refused (unknown key, wrong mechanism)
    uint64_t handshakes_failed; // failed handshakes seen by the monitor (refusals included)
} wbi_zap_stats_t;

// The CURVE keys of one aggregator, Z85 text.
typedef struct wbi_zap_keys {
    char server_key[WBI_ZAP_KEY_TEXT];    // the aggregator's public key
    char server_secret[WBI_ZAP_KEY_TEXT]; // its secret key (never leaves the aggregator)
    char client_key[WBI_ZAP_KEY_TEXT];    // the job's client public key
    char client_secret[WBI_ZAP_KEY_TEXT]; // the job's client secret key (handed to ranks)
} wbi_zap_keys_t;

// Makes two fresh key pairs (the aggregator's and the job's client pair).
// WANDB_ENOTSUP when libzmq has no CURVE.
wandb_err wbi_zap_keys_make(wbi_zap_keys_t *out);
// True when text is a 40-character Z85 CURVE key.
bool wbi_zap_key_valid(const char *text);
// Binds the ZAP endpoint in ctx and starts the handler thread. client_key:
// the Z85 public key admitted over CURVE; NULL: admit plain (NULL
// mechanism) connections instead. monitor: an inproc endpoint of the
// ROUTER's monitor (zmq_socket_monitor) to count failed handshakes, or
// NULL. Returns a new handler in *out; stop it with wbi_zap_stop().
// WANDB_EIO when the endpoint is taken (one ZAP handler per context).
wandb_err wbi_zap_start(wbi_zap_t **out, void *ctx, const char *client_key, const char *monitor);
// Secures a ROUTER of ctx before it binds endpoint. tcp:// and ipc://: with
// plain false, makes fresh keys into *keys, makes sock a CURVE server with
// them and sets *curve; with plain true, routes NULL handshakes through ZAP
// too (connection ids). Either way starts the handler (*zap) on the socket's
// monitor, and allows ZMQ_ROUTER_HANDOVER only with CURVE. inproc://
// (reachable from this process only): nothing, no handover. On error *zap
// is NULL and the reason is logged.
wandb_err wbi_zap_secure(void *ctx, void *sock, const char *endpoint, bool plain,
                         wbi_zap_keys_t *keys, bool *curve, wbi_zap_t **zap);
// Stops the thread, closes its sockets, frees and nulls *self_p. NULL-safe.
void wbi_zap_stop(wbi_zap_t **self_p);
// Copies the counters. Thread: any.
void wbi_zap_get_stats(wbi_zap_t *self, wbi_zap_stats_t *out);

#endif
