//  zap.c - the aggregator's ZAP handler: who may connect to its ROUTER
//  SPDX-License-Identifier: MIT
//
//  One thread owns a REP socket on inproc://zeromq.zap.01 (RFC 27) and,
//  when given, a PAIR connected to the ROUTER's monitor. It answers each
//  request at once, so a handshake never waits behind the aggregator's
//  message loop. Refusals are counted and logged at most once a minute.
#include "aggregator/zap.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/zmon.h"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_POLL_MS 20         // stop flag check period
#define S_FRAMES 8           // frames of a request we look at (the rest are skipped)
#define S_WARN_MS 60000      // at most one WARN about refusals this often
#define S_CURVE_KEY_BYTES 32 // a binary CURVE key

struct wbi_zap {
    void *rep;                       // ZAP REP socket (the handler thread's)
    void *mon;                       // PAIR on the ROUTER's monitor, or NULL (the thread's)
    bool curve;                      // admit CURVE with client_key; else admit NULL only
    uint8_t client_key[32];          // the admitted client public key (curve)
    pthread_t thread;                // the handler thread
    atomic_bool stop;                // asks the thread to end
    uint64_t next_user;              // next User-Id number (thread only)
    int64_t warn_ms;                 // when refusals were last logged at WARN (thread only)
    bool warned;                     // warn_ms is valid (thread only)
    atomic_uint_least64_t counts[3]; // admitted, refused, handshakes_failed
};

enum { S_ADMITTED, S_REFUSED, S_FAILED };

// Monotonic milliseconds.
static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wandb_err wbi_zap_keys_make(wbi_zap_keys_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!zmq_has("curve"))
        return WANDB_ENOTSUP;
    if (zmq_curve_keypair(out->server_key, out->server_secret) != 0 ||
        zmq_curve_keypair(out->client_key, out->client_secret) != 0) {
        memset(out, 0, sizeof(*out));
        return WANDB_EIO;
    }
    return WANDB_OK;
}

bool wbi_zap_key_valid(const char *text)
{
    uint8_t raw[S_CURVE_KEY_BYTES];
    return text && strlen(text) == 40 && zmq_z85_decode(raw, text) != NULL;
}

// Counts one refusal and logs it, at WARN at most once per S_WARN_MS.
static void s_refused(wbi_zap_t *self, const char *mechanism, const char *address)
{
    atomic_fetch_add(&self->counts[S_REFUSED], 1);
    int64_t now = s_mono_ms();
    bool warn = !self->warned || now - self->warn_ms >= S_WARN_MS;
    if (warn) {
        self->warned = true;
        self->warn_ms = now;
    }
    wbi_log(warn ? WANDB_LOG_WARN : WANDB_LOG_DEBUG,
            "aggregator: connection from '%s' refused: %s client without the job's key "
            "(%" PRIu64 " refused so far)",
            address, mechanism, (uint64_t)atomic_load(&self->counts[S_REFUSED]));
}

// Copies frame i of a request as text (bounded) into buf.
static void s_text(zmq_msg_t *frames, int n, int i, char *buf, size_t len)
{
    buf[0] = '\0';
    if (i >= n)
        return;
    size_t sz = zmq_msg_size(&frames[i]);
    if (sz >= len)
        sz = len - 1;
    memcpy(buf, zmq_msg_data(&frames[i]), sz);
    buf[sz] = '\0';
}

// Reads one request and answers it (RFC 27: version, request id, domain,
// address, identity, mechanism, credentials).
static void s_answer(wbi_zap_t *self)
{
    zmq_msg_t frames[S_FRAMES];
    int n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t junk;
        zmq_msg_t *part = n < S_FRAMES ? &frames[n] : &junk;
        zmq_msg_init(part);
        if (zmq_msg_recv(part, self->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(part);
            break;
        }
        more = zmq_msg_more(part);
        if (part == &junk)
            zmq_msg_close(&junk); // frames past S_FRAMES are not looked at
        else
            n++;
    }
    if (n == 0)
        return;
    char version[8];
    char mechanism[16];
    char address[64];
    s_text(frames, n, 0, version, sizeof version);
    s_text(frames, n, 3, address, sizeof address);
    s_text(frames, n, 5, mechanism, sizeof mechanism);
    bool ok = false;
    if (strcmp(version, "1.0") == 0 && n >= 6) {
        if (self->curve)
            ok = strcmp(mechanism, "CURVE") == 0 && n >= 7 &&
                 zmq_msg_size(&frames[6]) == S_CURVE_KEY_BYTES &&
                 memcmp(zmq_msg_data(&frames[6]), self->client_key, S_CURVE_KEY_BYTES) == 0;
        else
            ok = strcmp(mechanism, "NULL") == 0;
    }
    char user[32] = "";
    if (ok) {
        snprintf(user, sizeof user, "c%" PRIu64, self->next_user++);
        atomic_fetch_add(&self->counts[S_ADMITTED], 1);
        wbi_debug("aggregator: connection from '%s' admitted (%s)", address, mechanism);
    } else {
        s_refused(self, mechanism[0] ? mechanism : "unknown", address);
    }
    // The reply echoes the request id (frame 1) and closes the REP cycle.
    const char *status = ok ? "200" : "400";
    const char *text = ok ? "OK" : "key not admitted";
    zmq_send(self->rep, "1.0", 3, ZMQ_SNDMORE);
    if (n > 1)
        zmq_send(self->rep, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
    else
        zmq_send(self->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(self->rep, status, 3, ZMQ_SNDMORE);
    zmq_send(self->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(self->rep, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(self->rep, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

// Reads one monitor event (two frames) and counts failed handshakes.
static void s_monitor(wbi_zap_t *self)
{
    uint16_t event;
    if (!wbi_zmon_read(self->mon, &event))
        return;
    if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        atomic_fetch_add(&self->counts[S_FAILED], 1);
        wbi_debug("aggregator: a handshake failed (event 0x%x)", (unsigned)event);
    }
}

// The handler thread: answers requests until stop is set.
static void *s_thread(void *arg)
{
    wbi_zap_t *self = arg;
    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t items[2] = {{self->rep, 0, ZMQ_POLLIN, 0}, {self->mon, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self->mon ? 2 : 1, S_POLL_MS);
        if (rc < 0 && zmq_errno() == ETERM)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            s_answer(self);
        if (rc > 0 && self->mon && (items[1].revents & ZMQ_POLLIN))
            s_monitor(self);
    }
    int zero = 0;
    zmq_setsockopt(self->rep, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(self->rep);
    if (self->mon) {
        zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(self->mon);
    }
    return NULL;
}

wandb_err wbi_zap_start(wbi_zap_t **out, void *ctx, const char *client_key, const char *monitor)
{
    *out = NULL;
    wbi_zap_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    atomic_init(&self->stop, false);
    for (int i = 0; i < 3; i++)
        atomic_init(&self->counts[i], 0);
    wandb_err rc = WANDB_EIO;
    if (client_key) {
        if (!wbi_zap_key_valid(client_key)) {
            rc = WANDB_EINVAL;
            goto out_free;
        }
        zmq_z85_decode(self->client_key, client_key);
        self->curve = true;
    }
    int zero = 0;
    self->rep = zmq_socket(ctx, ZMQ_REP);
    if (!self->rep)
        goto out_free;
    zmq_setsockopt(self->rep, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(self->rep, S_ZAP_ENDPOINT) != 0) {
        wbi_err("aggregator: cannot bind the ZAP handler: %s", zmq_strerror(zmq_errno()));
        goto out_close;
    }
    if (monitor) {
        self->mon = zmq_socket(ctx, ZMQ_PAIR);
        if (!self->mon || zmq_connect(self->mon, monitor) != 0)
            goto out_close;
        zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof zero);
    }
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        goto out_close;
    *out = self;
    return WANDB_OK;
out_close:
    if (self->mon)
        zmq_close(self->mon);
    zmq_close(self->rep);
out_free:
    wbi_free(self);
    return rc;
}

void wbi_zap_stop(wbi_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_zap_t *self = *self_p;
    atomic_store(&self->stop, true);
    pthread_join(self->thread, NULL);
    wbi_free(self);
    *self_p = NULL;
}

void wbi_zap_get_stats(wbi_zap_t *self, wbi_zap_stats_t *out)
{
    out->admitted = atomic_load(&self->counts[S_ADMITTED]);
    out->refused = atomic_load(&self->counts[S_REFUSED]);
    out->handshakes_failed = atomic_load(&self->counts[S_FAILED]);
}

wandb_err wbi_zap_secure(void *ctx, void *sock, const char *endpoint, bool plain,
                         wbi_zap_keys_t *keys, bool *curve, wbi_zap_t **zap)
{
    *zap = NULL;
    *curve = false;
    memset(keys, 0, sizeof(*keys));
    int off = 0;
    zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &off, sizeof off);
    if (strncmp(endpoint, "inproc://", 9) == 0)
        return WANDB_OK;
    if (!plain) {
        wandb_err rc = wbi_zap_keys_make(keys);
        if (rc != WANDB_OK) {
            wbi_err("aggregator: cannot make CURVE keys: %s", wandb_strerror(rc));
            return rc;
        }
        int on = 1;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->server_secret, 40) != 0) {
            wbi_err("aggregator: cannot make a CURVE server: %s", zmq_strerror(zmq_errno()));
            return WANDB_EIO;
        }
    }
    // A domain makes libzmq ask ZAP about NULL handshakes too.
    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "wandb", 5);
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://wandb-zap-monitor-%p", sock);
    if (zmq_socket_monitor(sock, mon,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        wbi_err("aggregator: cannot monitor the socket: %s", zmq_strerror(zmq_errno()));
        return WANDB_EIO;
    }
    wandb_err rc = wbi_zap_start(zap, ctx, plain ? NULL : keys->client_key, mon);
    if (rc != WANDB_OK) {
        zmq_socket_monitor(sock, NULL, 0);
        return rc;
    }
    if (!plain) {
        // Every peer passed ZAP with the job's key, and a new connection must
        // say HELLO with the secret again before its records count.
        int on = 1;
        zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &on, sizeof on);
        *curve = true;
    }
    return WANDB_OK;
}
