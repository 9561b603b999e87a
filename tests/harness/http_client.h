//  http_client.h - a small libcurl client for the server tests
//  SPDX-License-Identifier: MIT
//
//  One wbt_client_t is one keep-alive connection (one curl handle). A
//  request never fails the test by itself: it returns the curl code, and
//  the status and body land in the client, so tests can also probe a
//  server that is down. Thread: one client per thread.
#ifndef WBT_HTTP_CLIENT_H
#define WBT_HTTP_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

#define WBT_CLIENT_BODY_MAX (1 << 20) // bytes of an answer kept (the rest is dropped)

typedef struct {
    CURL *curl;      // the handle (its connection is reused)
    long status;     // status of the last answer (0: none)
    char *body;      // body of the last answer, NUL-terminated (truncated)
    size_t len;      // its length
    long timeout_ms; // bound on one request (default 10000)
} wbt_client_t;

// Sets up a client; fails the test when curl cannot.
void wbt_client_init(wbt_client_t *self);
// Frees it.
void wbt_client_release(wbt_client_t *self);
// One request to base + path. key: "Authorization: Basic api:key" when not
// NULL. body may be NULL (no body) and holds len bytes. Returns the curl code.
CURLcode wbt_client_req(wbt_client_t *self, const char *base, const char *key, const char *method,
                        const char *path, const char *body, size_t len);
// The last body as (extended) JSON, or NULL. Returns a new reference.
json_t *wbt_client_json(const wbt_client_t *self);

#endif
