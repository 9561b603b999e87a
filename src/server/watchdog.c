//  watchdog.c - wandb-mpi-server: runs whose heartbeat stopped become crashed
//  SPDX-License-Identifier: MIT
//
//  One thread wakes every min(5 s, timeout / 4) (at least 0.2 s) and marks
//  silent running runs crashed; at exit, --settle-on-exit does the same with
//  a zero timeout.

#include "server/server_int.h"
#include "server/slog.h"
#include "server/util.h"

#include <time.h>

// Marks running runs whose heartbeat stopped as crashed, periodically.
void *wbi_srv_watchdog_main(void *arg)
{
    wbi_server_t *self = arg;
    double interval = self->heartbeat_timeout_s / 4;
    if (interval < 0.2)
        interval = 0.2;
    if (interval > 5)
        interval = 5;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        // The condition variable waits on CLOCK_MONOTONIC (wbi_server_start), so
        // a wall-clock step neither stalls nor hurries the watchdog.
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + interval;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&self->wake, &self->lock, &until);
        if (self->stopping)
            break;
        pthread_mutex_unlock(&self->lock);
        int changed = 0;
        wbi_srv_lock(&self->store_lock);
        // No busy wait here: it would hold the store, and so every request,
        // for the whole busy timeout. A locked database is retried next tick.
        wbi_store_set_busy_timeout(self->store, 0);
        wandb_err e =
            wbi_store_mark_stale(self->store, wbi_now_unix(), self->heartbeat_timeout_s, &changed);
        wbi_store_set_busy_timeout(self->store, WBI_SRV_BUSY_TIMEOUT_MS);
        if (e != WANDB_OK)
            wbi_slog(e == WANDB_ETIMEDOUT ? WANDB_LOG_DEBUG : WANDB_LOG_WARN, "watchdog",
                     "cannot check heartbeats: %s", wbi_store_errmsg(self->store));
        wbi_srv_unlock(&self->store_lock);
        if (e == WANDB_OK && changed > 0)
            wbi_slog(WANDB_LOG_INFO, "watchdog",
                     "%d run(s) without heartbeat for %.0f s marked crashed", changed,
                     self->heartbeat_timeout_s);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

// Marks every run still running as crashed (preempted when it said so), in
// one store call: the stale-marking with a zero timeout. Called at destroy
// with no request or watchdog left, for a server that lives as long as one
// job (--settle-on-exit): a rank that died never sends complete.
void wbi_srv_settle(wbi_server_t *self)
{
    int changed = 0;
    // The same store call as the watchdog; 'now' is a second ahead so that a
    // heartbeat stored in this very instant also counts as silent.
    wandb_err e = wbi_store_mark_stale(self->store, wbi_now_unix() + 1, 0, &changed);
    if (e != WANDB_OK)
        wbi_slog(WANDB_LOG_ERR, "server", "cannot settle running runs at exit: %s (%s)",
                 wandb_strerror(e), wbi_store_errmsg(self->store));
    else
        wbi_slog(WANDB_LOG_INFO, "server", "settled at exit: %d running run(s) marked crashed",
                 changed);
}
