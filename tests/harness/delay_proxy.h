//  delay_proxy.h - a loopback TCP proxy that holds every answer for a while
//  SPDX-License-Identifier: MIT
//
//  Listens on an ephemeral 127.0.0.1 port and forwards each connection to
//  127.0.0.1:up_port. Bytes from the client (requests) pass on at once;
//  bytes from upstream (answers) are held delay_ms after they arrived, then
//  passed on in order, so every answer reaches the client delay_ms late
//  while requests may still overlap (HTTP/2 streams). Bounded: at most
//  WBT_DELAY_PROXY_CONNS connections at once (more are closed on accept),
//  at most WBT_DELAY_PROXY_QUEUE answer bytes held per connection (upstream
//  is not read beyond that). One thread of its own does all the I/O.
//  Thread: start, stop and connections from any one thread.
#ifndef WBT_DELAY_PROXY_H
#define WBT_DELAY_PROXY_H

#define WBT_DELAY_PROXY_CONNS 8          // connections served at once
#define WBT_DELAY_PROXY_QUEUE (8u << 20) // answer bytes held per connection at most

typedef struct wbt_delay_proxy wbt_delay_proxy_t;

// Starts the proxy in front of 127.0.0.1:up_port, holding answers delay_ms.
// Returns its port and a new object in *out (destroy it with
// wbt_delay_proxy_stop()), or -1 with *out NULL when a socket, the memory
// or the thread could not be had.
int wbt_delay_proxy_start(wbt_delay_proxy_t **out, int up_port, int delay_ms);
// Stops the thread, closes every connection, frees the proxy and sets
// *self_p to NULL. NULL-safe.
void wbt_delay_proxy_stop(wbt_delay_proxy_t **self_p);
// Connections accepted (and forwarded) since start.
int wbt_delay_proxy_connections(wbt_delay_proxy_t *self);

// A TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1.
int wbt_loopback_connect(int port);
// A loopback port that was free a moment ago (for programs that need a
// number, as nghttpx does), or -1.
int wbt_loopback_free_port(void);

#endif
