//  http.c - one libcurl easy handle for every request to the backend
//  SPDX-License-Identifier: MIT
#include "backend/http.h"
#include "backend/retry.h"
#include "common/alloc.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)
// Names our client (the official ones say "wandb-core" or "W&B Internal Client <v>").
#define S_USER_AGENT                                                                               \
    "wandb-mpi/" S_XSTR(WANDB_VERSION_MAJOR) "." S_XSTR(WANDB_VERSION_MINOR) "." S_XSTR(           \
        WANDB_VERSION_PATCH)

struct wbi_http {
    CURL *curl;                     // the one easy handle (owns the connection cache)
    struct curl_slist *gql_headers; // headers of GraphQL requests
    struct curl_slist *fs_headers;  // headers of file_stream requests
    struct curl_slist *put_headers; // headers of uploads (no credentials)
    wbi_buf_t answer;               // the answer body, capped
    bool truncated;                 // the answer did not fit in answer
    long timeout_ms;                // total timeout of POSTs
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
    if (n > room)
        self->truncated = true;
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

// Appends "Name: value" from the environment variable, or "Name:" with an
// empty value (curl's "Name;" form) when it is unset or not printable:
// wandb-core always sends the two identity headers, empty when unknown.
static struct curl_slist *s_env_header(struct curl_slist *list, const char *header, const char *env)
{
    if (!list)
        return NULL;
    const char *v = getenv(env);
    bool ok = v && *v && strlen(v) <= 256;
    for (const char *p = v; ok && *p; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
    char line[320];
    if (ok)
        snprintf(line, sizeof line, "%s: %s", header, v);
    else
        snprintf(line, sizeof line, "%s;", header);
    struct curl_slist *next = curl_slist_append(list, line);
    if (!next)
        curl_slist_free_all(list);
    return next;
}

// Appends "Authorization: Basic base64(api:<key>)". The credentials live in
// the GraphQL and file_stream header lists only, so uploads (their own list)
// never carry them. The line is wiped before it is freed.
static struct curl_slist *s_auth_header(struct curl_slist *list, const char *api_key)
{
    if (!list || !api_key)
        return list;
    size_t klen = strlen(api_key);
    size_t plain_len = 4 + klen;
    size_t line_len = sizeof "Authorization: Basic " + WBI_B64_LEN(plain_len) + 1;
    unsigned char *plain = wbi_malloc(plain_len + 1);
    char *line = wbi_malloc(line_len);
    struct curl_slist *next = NULL;
    if (plain && line) {
        memcpy(plain, "api:", 4);
        memcpy(plain + 4, api_key, klen);
        int n = snprintf(line, line_len, "Authorization: Basic ");
        wbi_b64_encode(line + n, plain, plain_len);
        next = curl_slist_append(list, line);
    }
    if (plain)
        memset(plain, 0, plain_len);
    if (line)
        memset(line, 0, line_len);
    wbi_free(plain);
    wbi_free(line);
    if (!next)
        curl_slist_free_all(list);
    return next;
}

// Builds the header list of POSTs with a JSON body.
static struct curl_slist *s_headers(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "Content-Type: application/json");
    if (list && !curl_slist_append(list, "Expect:")) { // no 100-continue round trip
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

// Builds the header list of uploads: raw bytes, no Content-Type (curl would
// add a form type for a body), no 100-continue, no credentials.
static struct curl_slist *s_put_headers(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "Content-Type:");
    if (list && !curl_slist_append(list, "Expect:")) {
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
    self->gql_headers = s_auth_header(s_headers(), api_key);
    self->gql_headers = s_env_header(self->gql_headers, "X-Wandb-Username", "WANDB_USERNAME");
    self->gql_headers = s_env_header(self->gql_headers, "X-Wandb-User-Email", "WANDB_EMAIL");
    self->fs_headers = s_auth_header(s_headers(), api_key);
    self->put_headers = s_put_headers();
    if (!self->curl || !self->gql_headers || !self->fs_headers || !self->put_headers) {
        wbi_http_destroy(&self);
        return WANDB_ENOMEM;
    }
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    self->timeout_ms = timeout_ms;
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
    // Whatever this libcurl can decode (gzip with zlib), as wandb-core's "gzip".
    rc |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
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
    curl_slist_free_all(self->put_headers);
    wbi_buf_release(&self->answer);
    wbi_free(self);
    *self_p = NULL;
}

// One blocking request on the shared handle (POST, or PUT when put); the
// HTTP status is checked by the caller.
static wandb_err s_perform(wbi_http_t *self, bool put, const char *url, const char *body,
                           size_t len, struct curl_slist *headers, wbi_http_result_t *res)
{
    *res = (wbi_http_result_t){.retry_after_ms = -1};
    wbi_buf_reset(&self->answer);
    self->truncated = false;
    self->retry_after[0] = '\0';
    self->errbuf[0] = '\0';
    CURL *c = self->curl;
    CURLcode code = curl_easy_setopt(c, CURLOPT_URL, url);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, put ? "PUT" : NULL);
    // An upload (up to 64 MiB) may take longer than any fixed total: it
    // fails when it stalls instead. Other requests get the total back.
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, put ? 0L : self->timeout_ms);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, put ? WBI_HTTP_PUT_LOW_SPEED : 0L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, put ? WBI_HTTP_PUT_LOW_SPEED_S : 0L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (code == CURLE_OK)
        code = curl_easy_perform(c);
    res->err = s_from_curl(code);
    if (code != CURLE_OK) {
        snprintf(res->errmsg, sizeof res->errmsg, "%s '%.100s': %.140s", put ? "PUT" : "POST", url,
                 self->errbuf[0] ? self->errbuf : curl_easy_strerror(code));
        return res->err;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    res->status = status;
    res->body = self->answer.data ? self->answer.data : "";
    res->body_len = self->answer.len;
    res->truncated = self->truncated;
    if (self->retry_after[0])
        res->retry_after_ms = wbi_bk_retry_after_ms(self->retry_after, time(NULL));
    return WANDB_OK;
}

// POSTs a JSON body with the GraphQL or the file_stream headers.
wandb_err wbi_http_post(wbi_http_t *self, const char *url, const char *body, size_t len,
                        bool graphql, wbi_http_result_t *res)
{
    return s_perform(self, false, url, body, len, graphql ? self->gql_headers : self->fs_headers,
                     res);
}

// PUTs raw bytes to a self-authorizing URL, with the upload headers plus
// the "Key:Value" lines the server asked for (malformed ones skipped).
wandb_err wbi_http_put(wbi_http_t *self, const char *url, const char *body, size_t len,
                       const char *const *extra, size_t nextra, wbi_http_result_t *res)
{
    struct curl_slist *list = NULL;
    for (const struct curl_slist *h = self->put_headers; h; h = h->next) {
        struct curl_slist *next = curl_slist_append(list, h->data);
        if (!next)
            goto out_nomem;
        list = next;
    }
    for (size_t i = 0; i < nextra; i++) {
        const char *colon = extra[i] ? strchr(extra[i], ':') : NULL;
        if (!colon || colon == extra[i] || strpbrk(extra[i], "\r\n") ||
            strncasecmp(extra[i], "Authorization:", 14) == 0)
            continue;
        struct curl_slist *next = curl_slist_append(list, extra[i]);
        if (!next)
            goto out_nomem;
        list = next;
    }
    wandb_err rc = s_perform(self, true, url, body, len, list, res);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, NULL); // list is freed below
    curl_slist_free_all(list);
    return rc;
out_nomem:
    curl_slist_free_all(list);
    *res = (wbi_http_result_t){.retry_after_ms = -1, .err = WANDB_ENOMEM};
    snprintf(res->errmsg, sizeof res->errmsg, "PUT: out of memory");
    return WANDB_ENOMEM;
}
