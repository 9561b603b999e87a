//  delay_proxy.c - a loopback TCP proxy that holds every answer for a while
//  SPDX-License-Identifier: MIT
#include "harness/delay_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct s_chunk {
    struct s_chunk *next; // next chunk to pass on
    uint64_t at_ns;       // when it may go
    size_t len;           // bytes in data
    char data[];          // the bytes
} s_chunk_t;

typedef struct {
    int cfd;                // client side (-1: closed)
    int ufd;                // upstream side (-1: closed)
    s_chunk_t *head, *tail; // answer bytes held
    size_t queued;          // their total
    bool up_eof;            // upstream closed: close the client once drained
} s_conn_t;

struct wbt_delay_proxy {
    int lfd;                               // listening socket (loopback)
    int up_port;                           // where connections go
    uint64_t delay_ns;                     // hold time of answer bytes
    pthread_t thread;                      // the proxy thread
    atomic_bool stop;                      // ends the thread
    atomic_int accepted;                   // connections accepted
    s_conn_t conns[WBT_DELAY_PROXY_CONNS]; // connections (the thread's only)
};

// Monotonic clock in ns.
static uint64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Writes all of buf (blocking; loopback peers keep reading).
static bool s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

// Closes both sides of a connection and frees what it held.
static void s_conn_close(s_conn_t *c)
{
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    for (s_chunk_t *k = c->head; k;) {
        s_chunk_t *next = k->next;
        free(k);
        k = next;
    }
    *c = (s_conn_t){.cfd = -1, .ufd = -1};
}

int wbt_loopback_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int wbt_loopback_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

// Accepts one connection into a free slot and connects it upstream; closes
// it when no slot is free or upstream refuses.
static void s_accept(wbt_delay_proxy_t *px)
{
    int cfd = accept(px->lfd, NULL, NULL);
    int slot = -1;
    for (int i = 0; i < WBT_DELAY_PROXY_CONNS && slot < 0 && cfd >= 0; i++)
        slot = px->conns[i].cfd < 0 ? i : -1;
    int ufd = slot >= 0 ? wbt_loopback_connect(px->up_port) : -1;
    if (ufd < 0) {
        if (cfd >= 0)
            close(cfd);
        return;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    px->conns[slot] = (s_conn_t){.cfd = cfd, .ufd = ufd};
    atomic_fetch_add(&px->accepted, 1);
}

// Reads what is readable on fd of c: a request passes on at once, an answer
// is queued until its time.
static void s_read(wbt_delay_proxy_t *px, s_conn_t *c, int fd, char *buf, size_t len)
{
    if (fd == c->cfd) {
        ssize_t r = recv(c->cfd, buf, len, 0);
        if (r <= 0 || c->ufd < 0 || !s_write_all(c->ufd, buf, (size_t)r))
            s_conn_close(c);
        return;
    }
    ssize_t r = recv(c->ufd, buf, len, 0);
    if (r <= 0) {
        close(c->ufd);
        c->ufd = -1;
        c->up_eof = true;
        return;
    }
    s_chunk_t *ch = malloc(sizeof *ch + (size_t)r);
    if (!ch) {
        s_conn_close(c);
        return;
    }
    *ch = (s_chunk_t){.at_ns = s_now_ns() + px->delay_ns, .len = (size_t)r};
    memcpy(ch->data, buf, (size_t)r);
    if (c->tail)
        c->tail->next = ch;
    else
        c->head = ch;
    c->tail = ch;
    c->queued += (size_t)r;
}

// Passes on the answer bytes of c whose time has come; closes c once
// upstream closed and nothing is held.
static void s_release(s_conn_t *c, uint64_t now)
{
    while (c->cfd >= 0 && c->head && c->head->at_ns <= now) {
        s_chunk_t *ch = c->head;
        bool ok = s_write_all(c->cfd, ch->data, ch->len);
        c->head = ch->next;
        if (!c->head)
            c->tail = NULL;
        c->queued -= ch->len;
        free(ch);
        if (!ok)
            s_conn_close(c);
    }
    if (c->cfd >= 0 && c->up_eof && !c->head)
        s_conn_close(c);
}

// The proxy thread: poll (at most 20 ms, so stop is seen), accept, read,
// release answers on time.
static void *s_main(void *arg)
{
    wbt_delay_proxy_t *px = arg;
    char buf[65536];
    while (!atomic_load(&px->stop)) {
        struct pollfd pfd[1 + 2 * WBT_DELAY_PROXY_CONNS];
        int map[1 + 2 * WBT_DELAY_PROXY_CONNS];
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = px->lfd, .events = POLLIN};
        uint64_t now = s_now_ns();
        uint64_t next = now + 20 * 1000000ull;
        for (int i = 0; i < WBT_DELAY_PROXY_CONNS; i++) {
            s_conn_t *c = &px->conns[i];
            if (c->cfd < 0)
                continue;
            map[n] = i;
            pfd[n++] = (struct pollfd){.fd = c->cfd, .events = POLLIN};
            if (c->ufd >= 0 && c->queued < WBT_DELAY_PROXY_QUEUE) {
                map[n] = i;
                pfd[n++] = (struct pollfd){.fd = c->ufd, .events = POLLIN};
            }
            if (c->head && c->head->at_ns < next)
                next = c->head->at_ns;
        }
        int timeout = next > now ? (int)((next - now + 999999ull) / 1000000ull) : 0;
        if (poll(pfd, (nfds_t)n, timeout) < 0)
            break;
        if (pfd[0].revents & POLLIN)
            s_accept(px);
        for (int k = 1; k < n; k++) {
            s_conn_t *c = &px->conns[map[k]];
            if ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) && c->cfd >= 0 &&
                (pfd[k].fd == c->cfd || pfd[k].fd == c->ufd))
                s_read(px, c, pfd[k].fd, buf, sizeof buf);
        }
        now = s_now_ns();
        for (int i = 0; i < WBT_DELAY_PROXY_CONNS; i++)
            s_release(&px->conns[i], now);
    }
    for (int i = 0; i < WBT_DELAY_PROXY_CONNS; i++)
        s_conn_close(&px->conns[i]);
    return NULL;
}

int wbt_delay_proxy_start(wbt_delay_proxy_t **out, int up_port, int delay_ms)
{
    *out = NULL;
    wbt_delay_proxy_t *px = calloc(1, sizeof *px);
    if (!px)
        return -1;
    px->up_port = up_port;
    px->delay_ns = (uint64_t)(delay_ms > 0 ? delay_ms : 0) * 1000000ull;
    atomic_init(&px->stop, false);
    atomic_init(&px->accepted, 0);
    for (int i = 0; i < WBT_DELAY_PROXY_CONNS; i++)
        px->conns[i] = (s_conn_t){.cfd = -1, .ufd = -1};
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(px->lfd, 16) != 0 || getsockname(px->lfd, (struct sockaddr *)&a, &alen) != 0)
        goto out_close;
    if (pthread_create(&px->thread, NULL, s_main, px) != 0)
        goto out_close;
    *out = px;
    return ntohs(a.sin_port);
out_close:
    if (px->lfd >= 0)
        close(px->lfd);
    free(px);
    return -1;
}

void wbt_delay_proxy_stop(wbt_delay_proxy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbt_delay_proxy_t *px = *self_p;
    atomic_store(&px->stop, true);
    pthread_join(px->thread, NULL);
    close(px->lfd);
    free(px);
    *self_p = NULL;
}

int wbt_delay_proxy_connections(wbt_delay_proxy_t *self)
{
    return atomic_load(&self->accepted);
}
