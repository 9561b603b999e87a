//  agg.c - the aggregator thread: a ZeroMQ ROUTER feeding the core handler
//  SPDX-License-Identifier: MIT
//
//  The caller's thread creates and binds the socket (so bind errors and the
//  real endpoint come back from wbi_agg_start), then hands it to the loop
//  thread (pthread_create is the full barrier libzmq asks for); from then on
//  only the loop thread touches it, and closes it. The loop polls with a
//  short timeout so timers (heartbeats, summaries) and the stop flag are
//  seen promptly. Stats and the "settled" flag are published under a mutex.
#include "aggregator/agg_ext.h"
#include "aggregator/console.h"
#include "aggregator/core.h"
#include "aggregator/zap.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/tsan.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_POLL_MS 20           // loop wake-up period
#define S_BATCH 4096           // messages handled between timer passes
#define S_RCVHWM 100000        // queued inbound messages per peer
#define S_MAXMSG (128LL << 20) // largest accepted message (bytes)
#define S_FINAL_DRAIN_MS 1000  // longest final drain of the socket after quit
#define S_REPLY_LINGER_MS 500  // how long queued replies may still leave after the loop
#define S_EXITS_MAX 64         // mpirun exit reports kept

// mpirun's report of one rank's exit (wbi_agg_report_exit).
typedef struct {
    int rank;   // the rank
    int code;   // its exit code (128 + n: signal n)
    bool first; // mpirun named it as the first process to fail
} s_exit_t;

struct wbi_agg {
    void *ctx;                   // ZeroMQ context
    bool own_ctx;                // ctx was created here (terminate it)
    void *sock;                  // ROUTER, owned by the loop thread after start
    char endpoint[256];          // bound endpoint with the real port
    int expected_runs;           // see wbi_agg_opts_t
    wbi_agg_sink_t sink;         // where the output goes (opened by open_sink; closed in s_free)
    wbi_agg_core_t *core;        // message handler (loop thread only)
    pthread_t thread;            // the loop
    atomic_bool quit;            // asks the loop to end
    atomic_bool preempt;         // asks the loop to mark every run preempting
    s_exit_t exits[S_EXITS_MAX]; // mpirun's exit reports not applied yet (under mu)
    int nexits;                  // used (under mu)
    pthread_mutex_t mu;          // guards the published fields below
    wbi_agg_stats_t stats;       // published stats
    wbi_agg_core_extra_t extra;  // published internal counters
    bool settled;                // published wbi_agg_core_settled()
    int left_active;             // runs still active at shutdown (read after join)
    wbi_zap_t *zap;              // ZAP handler (tcp/ipc endpoints), NULL for inproc
    wbi_zap_keys_t keys;         // CURVE keys (curve only)
    bool curve;                  // the ROUTER is a CURVE server
    wbi_console_t *console;      // console capture (loop thread), NULL: off
    int64_t settled_ms;          // when the core first looked settled (console capture; 0: not)
};

// Monotonic milliseconds.
static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Unix time in seconds.
static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Maps a ZeroMQ errno to our error enum.
static wandb_err s_from_zmq(int err)
{
    switch (err) {
    case ENOMEM:
        return WANDB_ENOMEM;
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
        return WANDB_EINVAL;
    case ETERM:
        return WANDB_ECLOSED;
    default:
        return WANDB_EIO;
    }
}

// --- replies to peers ----------------------------------------------------------

// Sends [identity][msg] without blocking; a gone peer just loses the reply.
static void s_reply(void *arg, const void *peer, size_t peer_len, const void *msg, size_t len)
{
    wbi_agg_t *self = arg;
    if (zmq_send(self->sock, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, msg, len, ZMQ_DONTWAIT) < 0)
        wbi_debug("aggregator: reply to a peer not sent: %s", zmq_strerror(zmq_errno()));
}

// --- the loop ----------------------------------------------------------------

// Receives and handles up to S_BATCH messages without blocking. Returns
// how many were received.
static int s_drain_socket(wbi_agg_t *self)
{
    zmq_msg_t id;
    zmq_msg_t body;
    int i;
    for (i = 0; i < S_BATCH; i++) {
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return i;
        }
        if (!zmq_msg_more(&id)) {
            zmq_msg_close(&id); // a ROUTER always prefixes the identity
            continue;
        }
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, self->sock, 0) < 0) {
            zmq_msg_close(&body);
            zmq_msg_close(&id);
            return i;
        }
        WBI_TSAN_ACQUIRE(zmq_msg_data(&body));
        bool extra_frames = false;
        while (zmq_msg_more(&body)) {
            // One frame per message is the format; drop any extra frames.
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            int more = zmq_msg_recv(&junk, self->sock, 0) >= 0 && zmq_msg_more(&junk);
            zmq_msg_close(&junk);
            extra_frames = true;
            if (!more)
                break;
        }
        // The ZAP handler's id of the connection (NULL over inproc).
        const char *conn = zmq_msg_gets(&body, "User-Id");
        if (extra_frames) {
            // Counted as one malformed message: hand the core an invalid one.
            wbi_agg_core_handle_conn(self->core, zmq_msg_data(&id), zmq_msg_size(&id), conn, "", 0,
                                     s_mono_ms(), s_wall());
        } else {
            wbi_agg_core_handle_conn(self->core, zmq_msg_data(&id), zmq_msg_size(&id), conn,
                                     zmq_msg_data(&body), zmq_msg_size(&body), s_mono_ms(),
                                     s_wall());
        }
        zmq_msg_close(&body);
        zmq_msg_close(&id);
    }
    return i;
}

// Publishes stats and the settled flag for other threads.
static void s_publish(wbi_agg_t *self)
{
    wbi_agg_stats_t st;
    wbi_agg_core_extra_t ex;
    wbi_agg_core_get_stats(self->core, &st, &ex);
    if (self->zap) {
        wbi_zap_stats_t zs;
        wbi_zap_get_stats(self->zap, &zs);
        ex.refused_keys = zs.refused;
        ex.failed_handshakes = zs.handshakes_failed;
    }
    bool settled = wbi_agg_core_settled(self->core, self->expected_runs);
    if (self->console && !atomic_load(&self->quit)) {
        // Ranks print their last lines as they exit, after FINISH: settled once
        // the console was quiet for a second (at most 5 s after the runs ended).
        int64_t now = s_mono_ms();
        if (!settled)
            self->settled_ms = 0;
        else if (!self->settled_ms)
            self->settled_ms = now;
        settled = settled && now - self->settled_ms >= 1000 &&
                  (now - wbi_console_last_read_ms(self->console) >= 1000 ||
                   now - self->settled_ms >= 5000);
    }
    pthread_mutex_lock(&self->mu);
    self->stats = st;
    self->extra = ex;
    self->settled = settled;
    pthread_mutex_unlock(&self->mu);
}

// Applies mpirun's exit reports (loop thread).
static void s_apply_exits(wbi_agg_t *self)
{
    pthread_mutex_lock(&self->mu);
    for (int i = 0; i < self->nexits; i++)
        wbi_agg_core_rank_exit(self->core, self->exits[i].rank, self->exits[i].code,
                               self->exits[i].first);
    self->nexits = 0;
    pthread_mutex_unlock(&self->mu);
}

// The loop thread.
static void *s_loop(void *arg)
{
    wbi_agg_t *self = arg;
    zmq_pollitem_t item = {.socket = self->sock, .events = ZMQ_POLLIN};
    while (!atomic_load(&self->quit)) {
        int n = zmq_poll(&item, 1, S_POLL_MS);
        if (n < 0 && zmq_errno() == ETERM)
            break;
        if (n > 0)
            s_drain_socket(self);
        s_apply_exits(self);
        if (atomic_exchange(&self->preempt, false))
            wbi_info("aggregator: job preempted: %d run(s) marked preempting",
                     wbi_agg_core_preempt(self->core));
        wbi_agg_core_tick(self->core, s_mono_ms(), s_wall());
        if (self->console)
            wbi_console_poll(self->console, self->core, s_mono_ms(), s_wall(), false);
        if (self->sink.tick)
            self->sink.tick(self->sink.arg, s_mono_ms());
        s_publish(self);
    }
    // Whatever already arrived (FINISH records may sit behind a backlog):
    // batches until one comes back short, for at most S_FINAL_DRAIN_MS.
    int64_t until = s_mono_ms() + S_FINAL_DRAIN_MS;
    while (s_drain_socket(self) == S_BATCH && s_mono_ms() < until)
        wbi_agg_core_tick(self->core, s_mono_ms(), s_wall());
    wbi_agg_core_tick(self->core, s_mono_ms(), s_wall());
    s_apply_exits(self);
    if (self->console)
        wbi_console_poll(self->console, self->core, s_mono_ms(), s_wall(), true);
    self->left_active = wbi_agg_core_shutdown(self->core, s_wall());
    s_publish(self);
    // The last FINISHED replies are still queued: give them a moment to leave.
    int linger = S_REPLY_LINGER_MS;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(self->sock);
    self->sock = NULL;
    return NULL;
}

// Copies bind into buf, turning a tcp port 0 into '*' (ephemeral).
static void s_bind_spec(const char *bind, char *buf, size_t len)
{
    snprintf(buf, len, "%s", bind);
    size_t n = strlen(buf);
    if (strncmp(buf, "tcp://", 6) == 0 && n >= 2 && strcmp(buf + n - 2, ":0") == 0 && n + 1 < len)
        buf[n - 1] = '*';
}

// Frees what start acquired (after the thread is gone or never started).
static void s_free(wbi_agg_t *self)
{
    if (self->sock) {
        int linger = 0;
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(self->sock);
    }
    wbi_agg_core_destroy(&self->core);
    wbi_console_destroy(&self->console);
    if (self->sink.close)
        self->sink.close(self->sink.arg);
    wbi_zap_stop(&self->zap);
    if (self->own_ctx && self->ctx)
        zmq_ctx_term(self->ctx);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
}

wandb_err wbi_agg_start(wbi_agg_t **out, const wbi_agg_opts_t *opts)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!opts || !opts->bind || !opts->bind[0] || opts->expected_runs < 0 || !opts->open_sink)
        return WANDB_EINVAL;
    wbi_agg_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    pthread_mutex_init(&self->mu, NULL);
    atomic_init(&self->quit, false);
    atomic_init(&self->preempt, false);
    self->expected_runs = opts->expected_runs;
    self->settled = opts->expected_runs == 0;
    wandb_err rc;

    self->ctx = opts->zmq_ctx;
    if (!self->ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
        if (!self->ctx) {
            rc = WANDB_ENOMEM;
            goto out_free;
        }
    }
    self->sock = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->sock) {
        rc = s_from_zmq(zmq_errno());
        goto out_free;
    }
    int hwm = S_RCVHWM;
    int64_t maxmsg = S_MAXMSG;
    zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    char spec[sizeof self->endpoint];
    s_bind_spec(opts->bind, spec, sizeof spec);
    rc = wbi_zap_secure(self->ctx, self->sock, spec, opts->plain, &self->keys, &self->curve,
                        &self->zap);
    if (rc != WANDB_OK)
        goto out_free;
    if (zmq_bind(self->sock, spec) != 0) {
        int err = zmq_errno();
        wbi_err("aggregator: cannot bind '%s': %s", spec, zmq_strerror(err));
        rc = s_from_zmq(err);
        goto out_free;
    }
    size_t elen = sizeof self->endpoint;
    if (zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &elen) != 0)
        snprintf(self->endpoint, sizeof self->endpoint, "%s", spec);

    rc = opts->open_sink(opts->sink_arg, &self->sink);
    if (rc != WANDB_OK) {
        self->sink = (wbi_agg_sink_t){0}; // nothing to close
        goto out_free;
    }
    wbi_agg_core_opts_t copts = {.secret = opts->secret,
                                 .base_url = opts->base_url,
                                 .heartbeat_timeout_ms = opts->heartbeat_timeout_ms,
                                 .no_job_run = opts->no_job_run,
                                 .no_rank_runs = opts->no_rank_runs,
                                 .job_lateness_ms = opts->job_lateness_ms,
                                 .reply = s_reply,
                                 .reply_arg = self};
    rc = wbi_agg_core_new(&self->core, &copts, &self->sink);
    if (rc != WANDB_OK)
        goto out_free;
    if (opts->console_dir && (rc = wbi_console_new(&self->console, opts->console_dir)) != WANDB_OK)
        goto out_free;
    if (pthread_create(&self->thread, NULL, s_loop, self) != 0) {
        rc = WANDB_EIO;
        goto out_free;
    }
    *out = self;
    return WANDB_OK;
out_free:
    s_free(self);
    return rc;
}

const char *wbi_agg_endpoint(const wbi_agg_t *self)
{
    return self ? self->endpoint : "";
}

const wbi_zap_keys_t *wbi_agg_keys(const wbi_agg_t *self)
{
    return self && self->curve ? &self->keys : NULL;
}

bool wbi_agg_settled(wbi_agg_t *self)
{
    pthread_mutex_lock(&self->mu);
    bool settled = self->settled;
    pthread_mutex_unlock(&self->mu);
    return settled;
}

void wbi_agg_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

wandb_err wbi_agg_stop_ex(wbi_agg_t **self_p, int wait_ms, int drain_ms, wbi_agg_stats_t *final,
                          wandb_err *delivery)
{
    if (!self_p || !*self_p)
        return WANDB_OK;
    wbi_agg_t *self = *self_p;
    *self_p = NULL;
    int64_t deadline = s_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    while (!wbi_agg_settled(self) && s_mono_ms() < deadline)
        wbi_agg_sleep_ms(5);
    atomic_store(&self->quit, true);
    pthread_join(self->thread, NULL);
    // Judged after the final drain: a FINISH handled there counts. The loop
    // published these last, before it ended (the join orders them).
    bool settled = self->left_active == 0 && self->settled;
    if (final)
        *final = self->stats;
    wandb_err orc = WANDB_OK;
    if (self->sink.drain)
        orc = self->sink.drain(self->sink.arg, drain_ms > 0 ? drain_ms : 0);
    if (delivery)
        *delivery = orc;
    s_free(self);
    if (orc != WANDB_OK)
        return orc;
    return settled ? WANDB_OK : WANDB_ETIMEDOUT;
}

wandb_err wbi_agg_stop(wbi_agg_t **self_p, int timeout_ms)
{
    if (!self_p || !*self_p)
        return WANDB_OK;
    int64_t start = s_mono_ms();
    wbi_agg_t *self = *self_p;
    int64_t deadline = start + (timeout_ms > 0 ? timeout_ms : 0);
    // Wait for the runs here so the drain gets exactly the time left.
    while (!wbi_agg_settled(self) && s_mono_ms() < deadline)
        wbi_agg_sleep_ms(5);
    int64_t left = deadline - s_mono_ms();
    return wbi_agg_stop_ex(self_p, 0, left > 0 ? (int)left : 0, NULL, NULL);
}

void wbi_agg_get_stats(wbi_agg_t *self, wbi_agg_stats_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->stats;
    pthread_mutex_unlock(&self->mu);
}

void wbi_agg_get_extra(wbi_agg_t *self, wbi_agg_core_extra_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->extra;
    pthread_mutex_unlock(&self->mu);
}

void wbi_agg_preempt(wbi_agg_t *self)
{
    atomic_store(&self->preempt, true);
}

void wbi_agg_report_exit(wbi_agg_t *self, int rank, int exit_code, bool first)
{
    pthread_mutex_lock(&self->mu);
    if (self->nexits < S_EXITS_MAX)
        self->exits[self->nexits++] = (s_exit_t){rank, exit_code, first};
    pthread_mutex_unlock(&self->mu);
}
