//  http.c - one libcurl easy handle that POSTs JSON to the backend
//  SPDX-License-Identifier: MIT
#include "backend/http.h"
#include "backend/retry.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_USER_AGENT "wandb-mpi/0.1.0"

struct wbi_http {
    CURL *curl;                     // the one easy handle (owns the connection cache)
    struct curl_slist *gql_headers; // headers of GraphQL requests
    struct curl_slist *fs_headers;  // headers of file_stream requests
    wbi_buf_t answer;               // the answer body, capped
    char retry_after[64];           // Retry-After value of the last answer
    char errbuf[CURL_ERROR_SIZE];   // libcurl's error text
    const atomic_bool *abort_flag;  // set: abort the transfer
};

// Maps a transport error to our enum: the one place CURLcode is read.
static wandb_err s_from_curl(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return WANDB_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return WANDB_ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return WANDB_ENOMEM;
    case CURLE_ABORTED_BY_CALLBACK:
        return WANDB_ECLOSED;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return WANDB_EINVAL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WRITE_ERROR:
        return WANDB_EIO;
    default:
        return WANDB_EBACKEND;
    }
}

// Maps an HTTP status to our enum (the status half of the boundary).
wandb_err wbi_http_status_err(long status)
{
    if (status >= 200 && status < 300)
        return WANDB_OK;
    if (status == 401 || status == 403)
        return WANDB_EAUTH;
    if (status == 404)
        return WANDB_ENOTFOUND;
    if (status == 413)
        return WANDB_ETOOBIG;
    return WANDB_EBACKEND;
}

// Keeps up to WBI_HTTP_ANSWER_MAX bytes; reads and drops the rest so that
// the connection stays usable.
static size_t s_on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    wbi_http_t *self = arg;
    size_t n = size * nmemb;
    size_t room = self->answer.max - self->answer.len;
    (void)wbi_buf_append(&self->answer, ptr, n < room ? n : room);
    return n;
}

// Remembers the Retry-After header of the answer.
static size_t s_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    wbi_http_t *self = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    size_t nlen = sizeof name - 1;
    if (n > nlen && strncasecmp(ptr, name, nlen) == 0) {
        size_t vlen = n - nlen;
        const char *v = ptr + nlen;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen >= sizeof self->retry_after)
            vlen = sizeof self->retry_after - 1;
        memcpy(self->retry_after, v, vlen);
        self->retry_after[vlen] = '\0';
    }
    return n;
}

// Aborts a transfer when the owner is shutting down.
static int s_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    wbi_http_t *self = arg;
    return self->abort_flag && atomic_load(self->abort_flag) ? 1 : 0;
}

// Appends "Name: value" when the environment variable is set and printable.
static struct curl_slist *s_env_header(struct curl_slist *list, const char *header, const char *env)
{
    const char *v = getenv(env);
    if (!list || !v || !*v || strlen(v) > 256)
        return list;
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return list;
    }
    char line[320];
    snprintf(line, sizeof line, "%s: %s", header, v);
    struct curl_slist *next = curl_slist_append(list, line);
    return next ? next : list;
}

// Builds the common header list.
static struct curl_slist *s_headers(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "Content-Type: application/json");
    if (list && !curl_slist_append(list, "Expect:")) { // no 100-continue round trip
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

// Creates the handle and sets every option that does not change per request.
wandb_err wbi_http_new(wbi_http_t **out, const char *api_key, int timeout_ms,
                       const atomic_bool *abort_flag)
{
    *out = NULL;
    wbi_http_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    wbi_buf_init(&self->answer, WBI_HTTP_ANSWER_MAX);
    self->abort_flag = abort_flag;
    self->curl = curl_easy_init();
    self->gql_headers = s_headers();
    self->fs_headers = s_headers();
    if (!self->curl || !self->gql_headers || !self->fs_headers) {
        wbi_http_destroy(&self);
        return WANDB_ENOMEM;
    }
    self->gql_headers = s_env_header(self->gql_headers, "X-WANDB-USERNAME", "WANDB_USERNAME");
    self->gql_headers = s_env_header(self->gql_headers, "X-WANDB-USER-EMAIL", "WANDB_EMAIL");
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    CURL *c = self->curl;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, S_USER_AGENT);
    rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                           (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->errbuf);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_data);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, self);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, self);
    rc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    rc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, self);
    rc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (api_key) {
        rc |= curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        rc |= curl_easy_setopt(c, CURLOPT_USERNAME, "api");
        rc |= curl_easy_setopt(c, CURLOPT_PASSWORD, api_key);
    }
    if (rc != CURLE_OK) {
        wbi_http_destroy(&self);
        return WANDB_EINVAL;
    }
    *out = self;
    return WANDB_OK;
}

// Closes the handle (and its connection); NULL-safe.
void wbi_http_destroy(wbi_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_http_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->gql_headers);
    curl_slist_free_all(self->fs_headers);
    wbi_buf_release(&self->answer);
    wbi_free(self);
    *self_p = NULL;
}

// One blocking POST on the shared handle; the HTTP status is checked by the caller.
wandb_err wbi_http_post(wbi_http_t *self, const char *url, const char *body, size_t len,
                        bool graphql, wbi_http_result_t *res)
{
    *res = (wbi_http_result_t){.retry_after_ms = -1};
    wbi_buf_reset(&self->answer);
    self->retry_after[0] = '\0';
    self->errbuf[0] = '\0';
    CURL *c = self->curl;
    CURLcode code = curl_easy_setopt(c, CURLOPT_URL, url);
    if (code == CURLE_OK)
        code =
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, graphql ? self->gql_headers : self->fs_headers);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (code == CURLE_OK)
        code = curl_easy_perform(c);
    res->err = s_from_curl(code);
    if (code != CURLE_OK) {
        snprintf(res->errmsg, sizeof res->errmsg, "POST '%.100s': %.140s", url,
                 self->errbuf[0] ? self->errbuf : curl_easy_strerror(code));
        return res->err;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    res->status = status;
    res->body = self->answer.data ? self->answer.data : "";
    res->body_len = self->answer.len;
    if (self->retry_after[0])
        res->retry_after_ms = wbi_bk_retry_after_ms(self->retry_after, time(NULL));
    return WANDB_OK;
}
