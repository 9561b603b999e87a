//  http.c - the libcurl multi transport: many requests over ONE connection
//  SPDX-License-Identifier: MIT
//
//  Each request in flight has a slot: an easy handle, its answer buffer and
//  the headers captured. The easy handles stay attached to their slot, the
//  connection lives in the multi handle's cache, so every request to the
//  backend host shares it (CURLMOPT_MAX_HOST_CONNECTIONS 1, PIPEWAIT).
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

// One request in flight (or finished and not yet released).
typedef struct {
    CURL *curl;                   // the easy handle (kept across requests)
    int state;                    // S_FREE, S_BUSY or S_TAKEN (handed out by wbi_http_done)
    bool put;                     // a PUT
    void *token;                  // the caller's token
    struct curl_slist *extra;     // PUT: the header list built for it
    wbi_buf_t answer;             // the answer body, capped
    bool truncated;               // the answer did not fit in answer
    char retry_after[64];         // Retry-After value
    char rl_remaining[32];        // RateLimit-Remaining value
    char rl_reset[32];            // RateLimit-Reset value
    char errbuf[CURL_ERROR_SIZE]; // libcurl's error text
    char url[112];                // the start of the URL, for messages
} s_slot_t;

enum { S_FREE = 0, S_BUSY = 1, S_TAKEN = 2 };

struct wbi_http {
    CURLM *multi;                   // the multi handle (owns the connection cache)
    struct curl_slist *gql_headers; // headers of GraphQL requests
    struct curl_slist *fs_headers;  // headers of file_stream requests
    struct curl_slist *put_headers; // headers of uploads (no credentials)
    long timeout_ms;                // total timeout of POSTs
    long http_version;              // CURL_HTTP_VERSION_* for every request
    char *ca_cert;                  // CAINFO, or NULL
    s_slot_t *slots;                // max_streams slots
    int nslots;                     // their number
    int in_flight;                  // slots S_BUSY
    bool multiplexed;               // the last answer came over HTTP/2
    bool pk_reuse_bug;              // libcurl < 7.89: prior knowledge breaks connection reuse
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

// Keeps up to WBI_HTTP_ANSWER_MAX bytes; reads and drops the rest so that
// the connection stays usable.
static size_t s_on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_slot_t *slot = arg;
    size_t n = size * nmemb;
    size_t room = slot->answer.max - slot->answer.len;
    if (n > room)
        slot->truncated = true;
    (void)wbi_buf_append(&slot->answer, ptr, n < room ? n : room);
    return n;
}

// Copies the value of header line ptr (n bytes) into dst when it is name.
static void s_header_value(const char *ptr, size_t n, const char *name, char *dst, size_t cap)
{
    size_t nlen = strlen(name);
    if (n <= nlen || strncasecmp(ptr, name, nlen) != 0)
        return;
    size_t vlen = n - nlen;
    const char *v = ptr + nlen;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (vlen >= cap)
        vlen = cap - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

// Remembers Retry-After and the RateLimit-* headers of the answer.
static size_t s_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_slot_t *slot = arg;
    size_t n = size * nmemb;
    s_header_value(ptr, n, "retry-after:", slot->retry_after, sizeof slot->retry_after);
    s_header_value(ptr, n, "ratelimit-remaining:", slot->rl_remaining, sizeof slot->rl_remaining);
    s_header_value(ptr, n, "ratelimit-reset:", slot->rl_reset, sizeof slot->rl_reset);
    return n;
}

// Parses a non-negative integer header value; -1 when absent or malformed.
static int64_t s_header_int(const char *v)
{
    if (!v[0])
        return -1;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || x < 0 || (*end && *end != ' ' && *end != ';' && *end != ','))
        return -1;
    return (int64_t)x;
}

// Sets the options of an easy handle that do not change per request.
static CURLcode s_easy_setup(wbi_http_t *self, s_slot_t *slot)
{
    CURL *c = slot->curl;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, S_USER_AGENT);
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                           self->timeout_ms < 10000 ? self->timeout_ms : 10000L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, slot->errbuf);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_data);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, slot);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, slot);
    rc |= curl_easy_setopt(c, CURLOPT_PRIVATE, slot);
    rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
    // Wait for the one connection to say whether it multiplexes rather than open another.
    rc |= curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    // Whatever this libcurl can decode (gzip with zlib), as wandb-core's "gzip".
    rc |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (self->ca_cert)
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, self->ca_cert);
    return rc;
}

// Maps the http2 option to libcurl's HTTP version.
static long s_http_version(int http2)
{
    switch (http2) {
    case WBI_HTTP2_PRIOR_KNOWLEDGE:
        return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    case WBI_HTTP2_OFF:
        return CURL_HTTP_VERSION_1_1;
    default:
        return CURL_HTTP_VERSION_2TLS; // h2 via ALPN on https, HTTP/1.1 on http
    }
}

// Parses the http2 setting.
wandb_err wbi_http_parse_http2(const char *text, int *out)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"auto", WBI_HTTP2_AUTO},
                 {"prior-knowledge", WBI_HTTP2_PRIOR_KNOWLEDGE},
                 {"off", WBI_HTTP2_OFF}};
    for (size_t i = 0; text && out && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].value;
            return WANDB_OK;
        }
    }
    return WANDB_EINVAL;
}

// Creates the multi handle and the header lists; easy handles come later.
wandb_err wbi_http_new(wbi_http_t **out, const wbi_http_opts_t *opts)
{
    *out = NULL;
    wbi_http_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    int streams = opts->max_streams > 0 ? opts->max_streams : 32;
    self->nslots = streams < WBI_HTTP_STREAMS_MAX ? streams : WBI_HTTP_STREAMS_MAX;
    self->slots = wbi_calloc((size_t)self->nslots, sizeof *self->slots);
    self->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    self->http_version = s_http_version(opts->http2);
    // libcurl 7.88 fails a request that reuses an h2c connection made by
    // prior knowledge ("Error in the HTTP2 framing layer", curl issue
    // 10634, fixed in 7.89.0); such requests ask for plain HTTP/2 instead.
    self->pk_reuse_bug = curl_version_info(CURLVERSION_NOW)->version_num < 0x075900;
    self->ca_cert = opts->ca_cert ? wbi_strdup(opts->ca_cert) : NULL;
    self->multi = curl_multi_init();
    self->gql_headers = s_auth_header(s_headers(), opts->api_key);
    self->gql_headers = s_env_header(self->gql_headers, "X-Wandb-Username", "WANDB_USERNAME");
    self->gql_headers = s_env_header(self->gql_headers, "X-Wandb-User-Email", "WANDB_EMAIL");
    self->fs_headers = s_auth_header(s_headers(), opts->api_key);
    self->put_headers = s_put_headers();
    if (!self->slots || !self->multi || !self->gql_headers || !self->fs_headers ||
        !self->put_headers || (opts->ca_cert && !self->ca_cert)) {
        wbi_http_destroy(&self);
        return WANDB_ENOMEM;
    }
    CURLMcode mc = curl_multi_setopt(self->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(self->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)self->nslots);
    if (mc != CURLM_OK) {
        wbi_http_destroy(&self);
        return WANDB_EINVAL;
    }
    for (int i = 0; i < self->nslots; i++)
        wbi_buf_init(&self->slots[i].answer, WBI_HTTP_ANSWER_MAX);
    *out = self;
    return WANDB_OK;
}

// Detaches and frees every easy handle, then the multi handle; NULL-safe.
void wbi_http_destroy(wbi_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_http_t *self = *self_p;
    for (int i = 0; self->slots && i < self->nslots; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->curl) {
            if (slot->state == S_BUSY)
                curl_multi_remove_handle(self->multi, slot->curl);
            curl_easy_cleanup(slot->curl);
        }
        curl_slist_free_all(slot->extra);
        wbi_buf_release(&slot->answer);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    curl_slist_free_all(self->gql_headers);
    curl_slist_free_all(self->fs_headers);
    curl_slist_free_all(self->put_headers);
    wbi_free(self->slots);
    wbi_free(self->ca_cert);
    wbi_free(self);
    *self_p = NULL;
}

// Builds the header list of one upload: the upload headers plus the
// "Key:Value" lines the server asked for (malformed ones and any
// Authorization skipped). NULL when out of memory.
static struct curl_slist *s_put_list(const wbi_http_t *self, const char *const *extra,
                                     size_t nextra)
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
    return list;
out_nomem:
    curl_slist_free_all(list);
    return NULL;
}

// Reads the next bytes of an uploaded file (CURLOPT_READFUNCTION).
static size_t s_read_file(char *buf, size_t size, size_t n, void *arg)
{
    size_t got = fread(buf, 1, size * n, arg);
    return got == 0 && ferror((FILE *)arg) ? CURL_READFUNC_ABORT : got;
}

// Sets the per-request options of a slot and adds it to the multi handle;
// a PUT's body is body[0..len), or the file fp (size bytes) when fp is set.
static wandb_err s_start(wbi_http_t *self, wbi_http_kind kind, const char *url, const char *body,
                         size_t len, FILE *fp, uint64_t size, const char *const *extra,
                         size_t nextra, void *token)
{
    s_slot_t *slot = NULL;
    for (int i = 0; i < self->nslots && !slot; i++)
        slot = self->slots[i].state == S_FREE ? &self->slots[i] : NULL;
    if (!slot)
        return WANDB_EFULL;
    if (!slot->curl) {
        slot->curl = curl_easy_init();
        if (!slot->curl)
            return WANDB_ENOMEM;
        if (s_easy_setup(self, slot) != CURLE_OK) {
            curl_easy_cleanup(slot->curl);
            slot->curl = NULL;
            return WANDB_EINVAL;
        }
    }
    bool put = kind == WBI_HTTP_PUT;
    struct curl_slist *headers = kind == WBI_HTTP_GRAPHQL ? self->gql_headers : self->fs_headers;
    if (put) {
        slot->extra = s_put_list(self, extra, nextra);
        if (!slot->extra)
            return WANDB_ENOMEM;
        headers = slot->extra;
    }
    wbi_buf_reset(&slot->answer);
    slot->truncated = false;
    slot->retry_after[0] = slot->rl_remaining[0] = slot->rl_reset[0] = '\0';
    slot->errbuf[0] = '\0';
    slot->put = put;
    slot->token = token;
    snprintf(slot->url, sizeof slot->url, "%s", url);
    CURL *c = slot->curl;
    long version = self->http_version;
    if (version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE && self->multiplexed && self->pk_reuse_bug)
        version = CURL_HTTP_VERSION_2_0; // reuses the h2c connection (upgrades a new one)
    CURLcode code = curl_easy_setopt(c, CURLOPT_URL, url);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_HTTP_VERSION, version);
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
    if (code == CURLE_OK) // a file streams through the read callback, never whole in memory
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDS, fp ? NULL : body ? body : "");
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_READFUNCTION, fp ? s_read_file : NULL);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_READDATA, fp);
    if (code == CURLE_OK)
        code = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)(fp ? size : (uint64_t)len));
    if (code != CURLE_OK || curl_multi_add_handle(self->multi, c) != CURLM_OK) {
        curl_slist_free_all(slot->extra);
        slot->extra = NULL;
        return code == CURLE_OUT_OF_MEMORY ? WANDB_ENOMEM : WANDB_EINVAL;
    }
    slot->state = S_BUSY;
    self->in_flight++;
    return WANDB_OK;
}

wandb_err wbi_http_start(wbi_http_t *self, wbi_http_kind kind, const char *url, const char *body,
                         size_t len, const char *const *extra, size_t nextra, void *token)
{
    return s_start(self, kind, url, body, len, NULL, 0, extra, nextra, token);
}

wandb_err wbi_http_start_file(wbi_http_t *self, const char *url, FILE *fp, uint64_t size,
                              const char *const *extra, size_t nextra, void *token)
{
    return s_start(self, WBI_HTTP_PUT, url, NULL, 0, fp, size, extra, nextra, token);
}

// Runs the transfers; sleeps in curl_multi_poll until I/O, a curl timer,
// a wakeup or timeout_ms.
void wbi_http_poll(wbi_http_t *self, int timeout_ms)
{
    int running = 0;
    curl_multi_perform(self->multi, &running);
    if (running < self->in_flight)
        return; // a transfer finished: its answer is waiting for wbi_http_done
    if (timeout_ms > 0)
        curl_multi_poll(self->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(self->multi, &running);
}

// Fills *res from a finished slot.
static void s_result(wbi_http_t *self, s_slot_t *slot, CURLcode code, wbi_http_result_t *res)
{
    *res = (wbi_http_result_t){.retry_after_ms = -1, .rl_remaining = -1, .rl_reset_ms = -1};
    res->err = s_from_curl(code);
    if (code != CURLE_OK) {
        snprintf(res->errmsg, sizeof res->errmsg, "%s '%.100s': %.140s", slot->put ? "PUT" : "POST",
                 slot->url, slot->errbuf[0] ? slot->errbuf : curl_easy_strerror(code));
        return;
    }
    long status = 0, version = 0;
    curl_easy_getinfo(slot->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(slot->curl, CURLINFO_HTTP_VERSION, &version);
    res->status = status;
    res->http2 = version == CURL_HTTP_VERSION_2_0;
    if (!slot->put) // an upload may go to another host: it says nothing about this connection
        self->multiplexed = res->http2;
    res->body = slot->answer.data ? slot->answer.data : "";
    res->body_len = slot->answer.len;
    res->truncated = slot->truncated;
    if (slot->retry_after[0])
        res->retry_after_ms = wbi_bk_retry_after_ms(slot->retry_after, time(NULL));
    res->rl_remaining = s_header_int(slot->rl_remaining);
    int64_t reset = s_header_int(slot->rl_reset);
    res->rl_reset_ms = reset >= 0 ? reset * 1000 : -1;
}

// Hands out the next finished request; the slot handed out before is freed.
bool wbi_http_done(wbi_http_t *self, void **token, wbi_http_result_t *res)
{
    for (int i = 0; i < self->nslots; i++) {
        if (self->slots[i].state == S_TAKEN)
            self->slots[i].state = S_FREE;
    }
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *c = msg->easy_handle;
        CURLcode code = msg->data.result;
        s_slot_t *slot = NULL;
        curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&slot);
        curl_multi_remove_handle(self->multi, c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(slot->extra);
        slot->extra = NULL;
        self->in_flight--;
        slot->state = S_TAKEN;
        s_result(self, slot, code, res);
        *token = slot->token;
        return true;
    }
    return false;
}

// Wakes wbi_http_poll from another thread.
void wbi_http_wakeup(wbi_http_t *self)
{
    curl_multi_wakeup(self->multi);
}

int wbi_http_in_flight(const wbi_http_t *self)
{
    return self->in_flight;
}

bool wbi_http_multiplexed(const wbi_http_t *self)
{
    return self->multiplexed;
}
