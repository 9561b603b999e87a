//  io.h - the I/O thread of a run: ring -> ZeroMQ DEALER -> aggregator
//  SPDX-License-Identifier: MIT
//
//  One thread per run owns the DEALER socket (created and connected by
//  wbi_io_start, then used only by the thread). It drains the ring into
//  messages of whole records (at most WBI_IO_MSG_BYTES unless one record is
//  larger), sends them without blocking (a full socket leaves the bytes in
//  the ring), sends a header-only heartbeat after heartbeat_ms of silence,
//  and applies WELCOME and FINISHED from the aggregator. On tcp:// and
//  ipc:// the socket is a CURVE client with the job's keys (unless
//  transport_security is plain) and says HELLO again on every new
//  connection (docs/security.md). Thread: start/stop from the run's owner;
//  the rest is internal.
#ifndef WBI_IO_H
#define WBI_IO_H

#include "logger/run.h"

#define WBI_IO_MSG_BYTES (256u * 1024u) // target size of one message
#define WBI_IO_SNDHWM 16                // messages queued in ZeroMQ: <= 16 * 256 KiB in flight
#define WBI_IO_POLL_MIN_MS 1            // poll timeout while data flows
#define WBI_IO_POLL_MAX_MS 8            // poll timeout when idle

typedef struct wbi_io wbi_io_t;

typedef struct {
    uint64_t messages;   // messages sent (heartbeats included)
    uint64_t bytes;      // bytes sent
    uint64_t heartbeats; // header-only messages sent
    uint64_t blocked;    // sends that found the socket full
    uint64_t received;   // messages received
} wbi_io_stats_t;

// Connects a DEALER socket of zmq_ctx to endpoint and starts the thread
// that drains run's ring. On error fills errmsg. WANDB_EIO, WANDB_ENOMEM,
// WANDB_EINVAL (a tcp/ipc endpoint without the CURVE keys, a bad key).
wandb_err wbi_io_start(wbi_io_t **out, wandb_run_t *run, void *zmq_ctx, const char *endpoint,
                       char *errmsg, size_t errlen);
// Makes the thread look at the ring now instead of at its next poll
// timeout (used by finish; costs a system call). Thread: any.
void wbi_io_wake(wbi_io_t *self);
// True once the aggregator acknowledged FINISH.
bool wbi_io_finished(wbi_io_t *self);
// True when every published byte of the ring has been sent.
bool wbi_io_idle(wbi_io_t *self);
// Stops the thread (abort: drop unsent messages instead of lingering),
// closes the socket, frees and nulls *self_p. NULL-safe.
void wbi_io_stop(wbi_io_t **self_p, bool abort);
// Copies the counters (any thread; approximate while running).
void wbi_io_get_stats(wbi_io_t *self, wbi_io_stats_t *out);

#endif
