//  io.c - the I/O thread of a run: ring -> ZeroMQ DEALER -> aggregator
//  SPDX-License-Identifier: MIT
#include "logger/io.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/random.h"
#include "common/tsan.h"
#include "common/wire.h"
#include "common/zmon.h"
#include "logger/artifact.h"
#include "logger/mirror.h"
#include "logger/resume.h"
#include "logger/sysmon.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#define S_RECV_BATCH 64 // messages read per loop turn at most
#define S_ROUTING_ID 25 // random [a-z0-9] characters of a routing id: 129 bits

struct wbi_io {
    wandb_run_t *run;               // the run whose ring we drain (not owned)
    void *sock;                     // DEALER socket, used only by the thread
    void *mon;                      // PAIR on the socket's monitor (tcp/ipc), thread only
    char endpoint[256];             // where sock connects (log lines)
    uint8_t *hello;                 // copy of the HELLO record (header and payload)
    size_t hello_len;               // its length (0: not seen yet)
    unsigned handshakes;            // completed handshakes (connections) so far
    bool rehello;                   // a new connection waits for HELLO before any data
    bool warned_refused;            // a refused handshake was logged
    pthread_t thread;               // the I/O thread
    int wake_fd;                    // eventfd: wbi_io_wake ends a poll at once
    atomic_bool stop;               // set by wbi_io_stop
    atomic_bool abort;              // drop what is unsent on close
    atomic_bool finished;           // FINISHED received
    uint32_t seq;                   // next message sequence number
    int64_t last_send_ms;           // monotonic time of the last send
    bool finish_sent;               // FINISH left: nothing of the thread's own follows
    wbi_sysmon_t *sysmon;           // system metrics (the node's local rank 0), thread only
    int64_t sysmon_next_ms;         // when the next sample is due
    wbi_buf_t sysbuf;               // the SYSTEM record being built (thread only)
    atomic_uint_least64_t stats[5]; // messages, bytes, heartbeats, blocked, received
};

enum { S_MESSAGES, S_BYTES, S_HEARTBEATS, S_BLOCKED, S_RECEIVED };

// Adds to one counter.
static void s_count(wbi_io_t *self, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&self->stats[which], n, memory_order_relaxed);
}

// Sends one message without blocking. false when the socket is full.
static bool s_send(wbi_io_t *self, zmq_msg_t *msg)
{
    size_t len = zmq_msg_size(msg);
    WBI_TSAN_RELEASE(zmq_msg_data(msg));
    if (zmq_msg_send(msg, self->sock, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN)
            s_count(self, S_BLOCKED, 1);
        else
            wbi_debug("io: send failed: %s", zmq_strerror(errno));
        zmq_msg_close(msg);
        return false;
    }
    self->seq++;
    self->last_send_ms = wbi_now_ms();
    s_count(self, S_MESSAGES, 1);
    s_count(self, S_BYTES, len);
    return true;
}

// Keeps a copy of the ring's first record, the run's HELLO, so that a new
// connection can say it again before anything else.
static void s_keep_hello(wbi_io_t *self, wbi_ring_t *ring, size_t avail)
{
    uint8_t hdr[WBI_WIRE_RECORD_HEADER];
    if (avail < sizeof hdr)
        return;
    wbi_ring_read_at(ring, 0, hdr, sizeof hdr);
    size_t len = WBI_WIRE_RECORD_HEADER + wbi_get_u32(hdr + 1);
    if (hdr[0] != WBI_REC_HELLO || len > avail)
        return;
    self->hello = wbi_malloc(len);
    if (!self->hello)
        return;
    wbi_ring_read_at(ring, 0, self->hello, len);
    self->hello_len = len;
}

// Sends the kept HELLO alone: the first message of a new connection.
// False while the socket is full (tried again next turn).
static bool s_send_hello(wbi_io_t *self)
{
    zmq_msg_t msg;
    if (!self->hello || zmq_msg_init_size(&msg, WBI_WIRE_HEADER_BYTES + self->hello_len) != 0)
        return true; // nothing to say again: the aggregator drops this connection's data
    uint8_t *data = zmq_msg_data(&msg);
    wbi_wire_header_put(data, self->seq);
    memcpy(data + WBI_WIRE_HEADER_BYTES, self->hello, self->hello_len);
    return s_send(self, &msg);
}

// After the first WELCOME the run exists in the backend: a HELLO said again
// to another aggregator (one restarted) continues it ("resume": "allow")
// instead of asking the first question again, which "never" would now fail,
// with its start_time moved back by the runtime the WELCOME applied and
// "continued" so that the new aggregator does not move it again.
static void s_hello_continue(wbi_io_t *self)
{
    if (!self->hello || self->hello_len <= WBI_WIRE_RECORD_HEADER)
        return;
    json_error_t jerr;
    json_t *h = wbi_jsonx_loadb((const char *)self->hello + WBI_WIRE_RECORD_HEADER,
                                self->hello_len - WBI_WIRE_RECORD_HEADER, 0, &jerr);
    const char *mode = json_string_value(json_object_get(h, "resume"));
    char *text = NULL;
    double st = json_number_value(json_object_get(h, "start_time"));
    double rt = self->run->resume_runtime;
    bool done = json_is_true(json_object_get(h, "continued")); // rewritten already
    if (mode && !done && json_object_set_new(h, "resume", json_string("allow")) == 0 &&
        json_object_set_new(h, "continued", json_true()) == 0 &&
        (rt <= 0 || json_object_set_new(h, "start_time", json_real(st - rt)) == 0))
        text = wbi_jsonx_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t n = text ? strlen(text) : 0;
    uint8_t *rec = text ? wbi_malloc(WBI_WIRE_RECORD_HEADER + n) : NULL;
    if (rec) {
        wbi_wire_record_put(rec, WBI_REC_HELLO, (uint32_t)n);
        memcpy(rec + WBI_WIRE_RECORD_HEADER, text, n);
        wbi_free(self->hello);
        self->hello = rec;
        self->hello_len = WBI_WIRE_RECORD_HEADER + n;
    }
    wbi_free(text);
}

// Reads one monitor event: a completed handshake after the first one is a
// new connection that must say HELLO again; a refused one is logged once.
static void s_monitor(wbi_io_t *self)
{
    uint16_t event;
    if (!wbi_zmon_read(self->mon, &event))
        return;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        if (self->handshakes++ > 0) {
            self->rehello = true;
            wbi_debug("io: reconnected to '%s': saying HELLO again", self->endpoint);
        }
    } else if (!self->warned_refused) {
        self->warned_refused = true;
        wbi_warn("io: the aggregator at '%s' refused the connection (event 0x%x): check "
                 "aggregator_server_key, aggregator_client_key and aggregator_client_secret",
                 self->endpoint, (unsigned)event);
    }
}

// Packs whole records from the tail of the ring into one message and sends
// it. Returns the bytes of records sent (0: nothing to send or socket full).
static size_t s_drain_once(wbi_io_t *self)
{
    wbi_ring_t *ring = &self->run->ring;
    size_t avail = wbi_ring_readable(ring);
    if (avail == 0)
        return 0;
    size_t tail = wbi_ring_tail(ring);
    if (tail == 0 && !self->hello)
        s_keep_hello(self, ring, avail);
    size_t take = 0;
    bool finish = false;
    while (take + WBI_WIRE_RECORD_HEADER <= avail) {
        uint8_t hdr[WBI_WIRE_RECORD_HEADER];
        wbi_ring_read_at(ring, tail + take, hdr, sizeof(hdr));
        size_t rec = WBI_WIRE_RECORD_HEADER + wbi_get_u32(hdr + 1);
        if (take + rec > avail) // cannot happen: records are published whole
            break;
        if (take > 0 && take + rec > WBI_IO_MSG_BYTES)
            break;
        take += rec;
        finish |= hdr[0] == WBI_REC_FINISH;
    }
    if (take == 0)
        return 0;
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, WBI_WIRE_HEADER_BYTES + take) != 0)
        return 0;
    uint8_t *data = zmq_msg_data(&msg);
    wbi_wire_header_put(data, self->seq);
    wbi_ring_read_at(ring, tail, data + WBI_WIRE_HEADER_BYTES, take);
    // The mirror (summary, config read back) learns what was sent: a shared
    // reference to the bytes outlives the send, which takes msg.
    zmq_msg_t sent;
    zmq_msg_init(&sent);
    bool keep = zmq_msg_copy(&sent, &msg) == 0;
    if (!s_send(self, &msg)) {
        zmq_msg_close(&sent);
        return 0;
    }
    if (keep)
        wbi_mirror_message(self->run->mirror, zmq_msg_data(&sent), zmq_msg_size(&sent));
    zmq_msg_close(&sent);
    wbi_ring_consume(ring, take);
    self->finish_sent |= finish;
    return take;
}

// Sends a header-only message when nothing was sent for heartbeat_ms.
static void s_heartbeat(wbi_io_t *self, int64_t now)
{
    if (now - self->last_send_ms < self->run->cfg.heartbeat_ms)
        return;
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, WBI_WIRE_HEADER_BYTES) != 0)
        return;
    wbi_wire_header_put(zmq_msg_data(&msg), self->seq);
    if (s_send(self, &msg))
        s_count(self, S_HEARTBEATS, 1);
    else
        self->last_send_ms = now; // try again one interval later
}

// Starts the system-metrics sampler when this rank samples for its node:
// the interval is on and it is the node's local rank 0 (docs/job-view.md).
static void s_sysmon_open(wbi_io_t *self)
{
    const wbi_cfg_t *c = &self->run->cfg;
    if (c->sysmon_interval_s <= 0 || c->local_rank != 0)
        return;
    if (wbi_sysmon_new(&self->sysmon, NULL, NULL, true) != WANDB_OK)
        return;
    wbi_buf_init(&self->sysbuf, 256 * 1024);
    self->sysmon_next_ms = wbi_now_ms() + (int64_t)c->sysmon_interval_s * 1000;
}

// Sends one SYSTEM record {node, ts, metrics} in its own message when a
// sample is due, after HELLO and before FINISH. A full socket skips it.
static void s_sysmon_tick(wbi_io_t *self, int64_t now)
{
    if (!self->sysmon || now < self->sysmon_next_ms || self->finish_sent || self->rehello ||
        !self->hello)
        return;
    self->sysmon_next_ms = now + (int64_t)self->run->cfg.sysmon_interval_s * 1000;
    char host[256] = "";
    const char *node = self->run->cfg.node_label;
    if (!node) {
        gethostname(host, sizeof host - 1);
        node = host;
    }
    wbi_buf_t *b = &self->sysbuf;
    wbi_buf_reset(b);
    uint8_t head[WBI_WIRE_HEADER_BYTES + WBI_WIRE_RECORD_HEADER] = {0};
    wandb_err rc = wbi_buf_append(b, head, sizeof head);
    if (rc == WANDB_OK)
        rc = wbi_buf_puts(b, "{\"node\":");
    if (rc == WANDB_OK)
        rc = wbi_jsonx_put_string(b, node, strlen(node));
    if (rc == WANDB_OK)
        rc = wbi_buf_printf(b, ",\"ts\":%.6f,\"metrics\":", wbi_now_unix());
    if (rc == WANDB_OK)
        rc = wbi_sysmon_sample(self->sysmon, b);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(b, '}');
    zmq_msg_t msg;
    if (rc != WANDB_OK || zmq_msg_init_size(&msg, b->len) != 0)
        return;
    uint8_t *data = zmq_msg_data(&msg);
    memcpy(data, b->data, b->len);
    wbi_wire_header_put(data, self->seq);
    wbi_wire_record_put(data + WBI_WIRE_HEADER_BYTES, WBI_REC_SYSTEM,
                        (uint32_t)(b->len - sizeof head));
    s_send(self, &msg);
}

// Applies the records of one message from the aggregator.
static void s_handle(wbi_io_t *self, const uint8_t *data, size_t len)
{
    wbi_wire_reader_t r;
    if (wbi_wire_reader_init(&r, data, len) != WANDB_OK) {
        wbi_debug("io: malformed message from the aggregator at byte %zu", r.pos);
        return;
    }
    wbi_wire_record_t rec;
    while (wbi_wire_next(&r, &rec) == WANDB_OK) {
        if (rec.type == WBI_REC_FINISHED) {
            atomic_store(&self->finished, true);
        } else if (rec.type == WBI_REC_ART_ACK) {
            wbi_art_on_ack(self->run, rec.payload, rec.len);
        } else if (rec.type == WBI_REC_ART_PROGRESS) {
            wbi_art_on_progress(self->run, rec.payload, rec.len);
        } else if (rec.type == WBI_REC_ART_DATA) {
            wbi_art_on_data(self->run, rec.payload, rec.len);
        } else if (rec.type == WBI_REC_WELCOME) {
            json_error_t jerr;
            json_t *obj = wbi_jsonx_loadb((const char *)rec.payload, rec.len, 0, &jerr);
            if (json_is_object(obj))
                wbi_resume_note(self->run, obj);
            if (json_is_object(obj) && !json_object_get(obj, "error")) {
                wbi_run_apply_welcome(self->run, json_string_value(json_object_get(obj, "entity")),
                                      json_string_value(json_object_get(obj, "url")));
                s_hello_continue(self);
            }
            json_decref(obj);
        }
    }
}

// Reads what the aggregator sent, without blocking.
static void s_receive(wbi_io_t *self)
{
    for (int i = 0; i < S_RECV_BATCH; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        s_count(self, S_RECEIVED, 1);
        s_handle(self, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
}

// The loop: drain the ring, heartbeat, then poll (1..8 ms, shorter while
// data flows; at once when a drain was cut short) for replies and, when the
// socket was full, for room. Draining first sends HELLO without waiting a
// poll. Ends when stop is set.
static void *s_thread(void *arg)
{
    wbi_io_t *self = arg;
    int timeout = WBI_IO_POLL_MIN_MS;
    bool prefaulted = false;
    self->last_send_ms = wbi_now_ms();
    while (!atomic_load(&self->stop)) {
        size_t sent = 0;
        int turns = 0;
        if (self->rehello && s_send_hello(self))
            self->rehello = false;
        for (; turns < 64 && !self->rehello; turns++) { // bounded: replies get a turn
            size_t n = s_drain_once(self);
            if (n == 0)
                break;
            sent += n;
        }
        bool blocked = turns < 64 && wbi_ring_readable(&self->run->ring) > 0;
        s_heartbeat(self, wbi_now_ms());
        if (!prefaulted) { // after HELLO left: init is not slowed by it
            wbi_ring_prefault(&self->run->ring);
            s_sysmon_open(self);
            prefaulted = true;
        }
        s_sysmon_tick(self, wbi_now_ms());
        if (turns == 64)
            timeout = 0;
        else if (sent > 0 || timeout == 0)
            timeout = WBI_IO_POLL_MIN_MS;
        else if (timeout < WBI_IO_POLL_MAX_MS)
            timeout *= 2;
        if (self->rehello)
            timeout = WBI_IO_POLL_MIN_MS;
        zmq_pollitem_t items[3] = {{self->sock, 0, ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0), 0}};
        int n = 1;
        int mon_at = -1;
        int wake_at = -1;
        if (self->mon) {
            mon_at = n;
            items[n++] = (zmq_pollitem_t){self->mon, 0, ZMQ_POLLIN, 0};
        }
        if (self->wake_fd >= 0) {
            wake_at = n;
            items[n++] = (zmq_pollitem_t){NULL, self->wake_fd, ZMQ_POLLIN, 0};
        }
        int rc = zmq_poll(items, n, timeout);
        if (rc < 0 && errno == ETERM)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            s_receive(self);
        if (rc > 0 && mon_at > 0 && (items[mon_at].revents & ZMQ_POLLIN))
            s_monitor(self);
        if (rc > 0 && wake_at > 0 && (items[wake_at].revents & ZMQ_POLLIN)) {
            uint64_t v;
            (void)!read(self->wake_fd, &v, sizeof(v));
            timeout = WBI_IO_POLL_MIN_MS;
        }
    }
    int linger = atomic_load(&self->abort) ? 0 : 200;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(self->sock);
    self->sock = NULL;
    if (self->mon) {
        int zero = 0;
        zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(self->mon);
        self->mon = NULL;
    }
    return NULL;
}

// Makes the socket a CURVE client with the job's keys (tcp://, ipc:// unless
// transport_security is plain; inproc:// is reachable from this process
// only) and watches its handshakes on a monitor PAIR.
static wandb_err s_secure(wbi_io_t *self, void *zmq_ctx, const char *endpoint, char *errmsg,
                          size_t errlen)
{
    const wbi_cfg_t *c = &self->run->cfg;
    if (strncmp(endpoint, "inproc://", 9) == 0)
        return WANDB_OK;
    if (!c->transport_plain) {
        if (!c->server_key || !c->client_key || !c->client_secret) {
            snprintf(errmsg, errlen,
                     "aggregator '%.120s' needs the settings aggregator_server_key, "
                     "aggregator_client_key and aggregator_client_secret (or "
                     "transport_security=plain)",
                     endpoint);
            return WANDB_EINVAL;
        }
        if (zmq_setsockopt(self->sock, ZMQ_CURVE_SERVERKEY, c->server_key, 40) != 0 ||
            zmq_setsockopt(self->sock, ZMQ_CURVE_PUBLICKEY, c->client_key, 40) != 0 ||
            zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, c->client_secret, 40) != 0) {
            snprintf(errmsg, errlen, "cannot make a CURVE client: %s", zmq_strerror(errno));
            return errno == EINVAL ? WANDB_EINVAL : WANDB_ENOTSUP;
        }
    }
    char mon[64];
    snprintf(mon, sizeof(mon), "inproc://wandb-io-monitor-%p", (void *)self);
    if (zmq_socket_monitor(self->sock, mon,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        snprintf(errmsg, errlen, "cannot monitor the socket: %s", zmq_strerror(errno));
        return WANDB_EIO;
    }
    self->mon = zmq_socket(zmq_ctx, ZMQ_PAIR);
    if (!self->mon || zmq_connect(self->mon, mon) != 0) {
        snprintf(errmsg, errlen, "cannot monitor the socket: %s", zmq_strerror(errno));
        return WANDB_EIO;
    }
    return WANDB_OK;
}

// Creates, configures and connects the socket, then starts the thread.
wandb_err wbi_io_start(wbi_io_t **out, wandb_run_t *run, void *zmq_ctx, const char *endpoint,
                       char *errmsg, size_t errlen)
{
    wbi_io_t *self = wbi_calloc(1, sizeof(*self));
    if (!self) {
        snprintf(errmsg, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    self->run = run;
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); // -1: polls time out instead
    atomic_init(&self->stop, false);
    atomic_init(&self->abort, false);
    atomic_init(&self->finished, false);
    for (int i = 0; i < 5; i++)
        atomic_init(&self->stats[i], 0);
    wandb_err rc = WANDB_EIO;
    self->sock = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (!self->sock) {
        snprintf(errmsg, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int linger = 200;
    int hwm = WBI_IO_SNDHWM;
    int immediate = 0;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    // A routing id nobody can guess: the aggregator binds a run to it and
    // to the connection of its HELLO (docs/security.md).
    char rid[S_ROUTING_ID + 1];
    if (wbi_random_id(rid, S_ROUTING_ID) != WANDB_OK) {
        snprintf(errmsg, errlen, "cannot read random bytes for the routing id");
        goto fail;
    }
    zmq_setsockopt(self->sock, ZMQ_ROUTING_ID, rid, S_ROUTING_ID);
    snprintf(self->endpoint, sizeof(self->endpoint), "%s", endpoint);
    rc = s_secure(self, zmq_ctx, endpoint, errmsg, errlen);
    if (rc != WANDB_OK)
        goto fail;
    if (zmq_connect(self->sock, endpoint) != 0) {
        snprintf(errmsg, errlen, "cannot connect to '%.200s': %s", endpoint, zmq_strerror(errno));
        rc = WANDB_EIO;
        goto fail;
    }
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        snprintf(errmsg, errlen, "cannot start the I/O thread");
        rc = WANDB_EIO;
        goto fail;
    }
    *out = self;
    return WANDB_OK;
fail:
    if (self->sock) {
        int zero = 0;
        zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(self->sock);
    }
    if (self->mon) {
        int zero = 0;
        zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(self->mon);
    }
    if (self->wake_fd >= 0)
        close(self->wake_fd);
    wbi_free(self);
    return rc;
}

// Ends the thread's current poll (one write to the eventfd; not for the
// hot path).
void wbi_io_wake(wbi_io_t *self)
{
    uint64_t one = 1;
    if (self && self->wake_fd >= 0)
        (void)!write(self->wake_fd, &one, sizeof(one));
}

// Reads the FINISHED flag.
bool wbi_io_finished(wbi_io_t *self)
{
    return self && atomic_load(&self->finished);
}

// True when the ring is empty (everything handed to ZeroMQ).
bool wbi_io_idle(wbi_io_t *self)
{
    return self && wbi_ring_readable(&self->run->ring) == 0;
}

// Signals the thread, joins it and frees.
void wbi_io_stop(wbi_io_t **self_p, bool abort)
{
    if (!self_p || !*self_p)
        return;
    wbi_io_t *self = *self_p;
    atomic_store(&self->abort, abort);
    atomic_store(&self->stop, true);
    wbi_io_wake(self);
    pthread_join(self->thread, NULL);
    if (self->wake_fd >= 0)
        close(self->wake_fd);
    wbi_sysmon_destroy(&self->sysmon);
    wbi_buf_release(&self->sysbuf);
    wbi_free(self->hello);
    wbi_free(self);
    *self_p = NULL;
}

// Copies the counters.
void wbi_io_get_stats(wbi_io_t *self, wbi_io_stats_t *out)
{
    out->messages = atomic_load(&self->stats[S_MESSAGES]);
    out->bytes = atomic_load(&self->stats[S_BYTES]);
    out->heartbeats = atomic_load(&self->stats[S_HEARTBEATS]);
    out->blocked = atomic_load(&self->stats[S_BLOCKED]);
    out->received = atomic_load(&self->stats[S_RECEIVED]);
}
