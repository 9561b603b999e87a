//  http_client.c - a small libcurl client for the server tests
//  SPDX-License-Identifier: MIT

#include "harness/http_client.h"

#include "common/jsonx.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

// Keeps the answer, truncated to WBT_CLIENT_BODY_MAX.
static size_t s_write(char *data, size_t size, size_t n, void *arg)
{
    wbt_client_t *self = arg;
    size_t len = size * n;
    size_t room = WBT_CLIENT_BODY_MAX - self->len;
    size_t take = len < room ? len : room;
    memcpy(self->body + self->len, data, take);
    self->len += take;
    self->body[self->len] = '\0';
    return len;
}

// Sets up a client.
void wbt_client_init(wbt_client_t *self)
{
    memset(self, 0, sizeof *self);
    self->curl = curl_easy_init();
    self->body = malloc(WBT_CLIENT_BODY_MAX + 1);
    CHECK(self->curl != NULL && self->body != NULL);
    self->body[0] = '\0';
    self->timeout_ms = 10000;
}

// Frees a client.
void wbt_client_release(wbt_client_t *self)
{
    curl_easy_cleanup(self->curl);
    free(self->body);
    memset(self, 0, sizeof *self);
}

// One request.
CURLcode wbt_client_req(wbt_client_t *self, const char *base, const char *key, const char *method,
                        const char *path, const char *body, size_t len)
{
    char url[8192];
    snprintf(url, sizeof url, "%s%s", base, path);
    CURL *c = self->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, self->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, self->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, self);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (key) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, "api");
        curl_easy_setopt(c, CURLOPT_PASSWORD, key);
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    self->len = 0;
    self->body[0] = '\0';
    self->status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &self->status);
    return rc;
}

// The last body as JSON.
json_t *wbt_client_json(const wbt_client_t *self)
{
    return wbi_jsonx_loadb(self->body, self->len, 0, NULL);
}
