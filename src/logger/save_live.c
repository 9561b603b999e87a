//  save_live.c - the watcher that re-sends live files when they change
//  SPDX-License-Identifier: MIT
//
//  Started by the first wandb_save with policy live, one thread per run
//  wakes every save_live_interval_ms (a setting), looks at each live file
//  (stat: modification time and size) and, when they changed, reads it and
//  sends it again unless its bytes hash as the ones sent last (save_send.c).
//  So a file rewritten during the run reaches the backend within about one
//  interval, at most once per interval. The thread holds save_mu only for a
//  pass; it never touches the ZeroMQ socket (the I/O thread drains the ring).
//  wbi_save_live_stop ends it before wandb_finish sends the last versions.
#include "logger/save.h"

#include "common/alloc.h"
#include "common/log.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct wbi_live {
    wandb_run_t *run;   // the run whose live files are watched
    pthread_t thread;   // the watcher
    pthread_mutex_t mu; // guards stop
    pthread_cond_t cv;  // signalled by stop (CLOCK_MONOTONIC)
    bool stop;          // end the thread
};

// True when st differs from what e saw last (or e saw nothing yet).
static bool s_changed(const struct wbi_saved *e, const struct stat *st)
{
    return !e->seen || e->seen_size != st->st_size || e->seen_mtime.tv_sec != st->st_mtim.tv_sec ||
           e->seen_mtime.tv_nsec != st->st_mtim.tv_nsec;
}

// One look at every live file; sends the changed ones.
static void s_pass(wandb_run_t *run)
{
    pthread_mutex_lock(&run->save_mu);
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    for (size_t i = 0; i < run->nsaved; i++) {
        struct wbi_saved *e = &run->saved[i];
        struct stat st;
        if (e->policy != WANDB_SAVE_LIVE || stat(e->path, &st) != 0 || !s_changed(e, &st))
            continue;
        wandb_err rc = wbi_save_read_send(run, e->path, e->name, WANDB_SAVE_LIVE, e, deadline);
        // Seen either way: a failure is logged once per change of the file,
        // and wandb_finish tries every live file again.
        if (rc != WANDB_OK)
            wbi_warn("wandb_save: live file '%.200s' not sent again: %s", e->path,
                     wandb_strerror(rc));
        e->seen = true;
        e->seen_mtime = st.st_mtim;
        e->seen_size = st.st_size;
    }
    pthread_mutex_unlock(&run->save_mu);
}

// The watcher: a pass every interval until stopped.
static void *s_main(void *arg)
{
    struct wbi_live *self = arg;
    int interval = self->run->cfg.save_live_interval_ms;
    pthread_mutex_lock(&self->mu);
    while (!self->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval / 1000;
        until.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!self->stop && pthread_cond_timedwait(&self->cv, &self->mu, &until) != ETIMEDOUT)
            ;
        if (self->stop)
            break;
        pthread_mutex_unlock(&self->mu);
        s_pass(self->run);
        pthread_mutex_lock(&self->mu);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

wandb_err wbi_save_live_start(wandb_run_t *run)
{
    if (run->live)
        return WANDB_OK;
    struct wbi_live *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    self->run = run;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&self->mu, NULL);
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        pthread_cond_destroy(&self->cv);
        pthread_mutex_destroy(&self->mu);
        wbi_free(self);
        return WANDB_EIO;
    }
    run->live = self;
    return WANDB_OK;
}

void wbi_save_live_stop(wandb_run_t *run)
{
    pthread_mutex_lock(&run->save_mu);
    struct wbi_live *self = run->live;
    run->live = NULL;
    pthread_mutex_unlock(&run->save_mu);
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    self->stop = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
}
