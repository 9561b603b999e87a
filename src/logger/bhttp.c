//  bhttp.c - the rank library's own requests to the backend (libcurl)
//  SPDX-License-Identifier: MIT
//
//  See bhttp.h: one easy handle per request, made and freed by the call
//  (these are rare, user-initiated calls: restore, use of a remote artifact).
//  Thread: any.
#include "logger/bhttp.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/md5.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_GQL_MAX ((size_t)16 << 20)     // bytes of a GraphQL answer
#define S_FILE_MAX ((curl_off_t)4 << 30) // bytes of a downloaded file (the server's cap)
#define S_CONNECT_MS 10000L              // connect timeout
#define S_STALL_S 30L                    // a download slower than 1 B/s this long fails
#define S_PATH_MAX 4200                  // bytes of a temporary file's path

wandb_err wbi_bh_init(char *msg, size_t msglen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        return WANDB_OK;
    snprintf(msg, msglen, "libcurl cannot be initialized");
    return WANDB_EIO;
}

void wbi_bh_done(void)
{
    curl_global_cleanup();
}

// Appends a response chunk to the bounded buffer (curl write callback).
static size_t s_collect(char *data, size_t size, size_t nmemb, void *arg)
{
    return wbi_buf_append(arg, data, size * nmemb) == WANDB_OK ? size * nmemb : 0;
}

// Sets what every request shares on h: timeouts, TLS, errors, no signals.
static void s_common(CURL *h, const wandb_run_t *run, const char *url, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, S_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "wandb-mpi rank");
    if (run->cfg.ca_cert)
        curl_easy_setopt(h, CURLOPT_CAINFO, run->cfg.ca_cert);
    // The API key goes only to the backend itself (a URL under base_url).
    size_t blen = strlen(run->cfg.base_url);
    if (strncmp(url, run->cfg.base_url, blen) == 0 && url[blen] == '/') {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, "api");
        curl_easy_setopt(h, CURLOPT_PASSWORD, run->cfg.api_key ? run->cfg.api_key : "");
    }
}

// Maps a transfer's outcome to a wandb_err with text: curl's own error, then
// the HTTP status (401/403: EAUTH, 404: ENOTFOUND, others: EBACKEND).
static wandb_err s_outcome(CURL *h, CURLcode cc, const char *errbuf, const char *what, char *msg,
                           size_t msglen)
{
    if (cc != CURLE_OK) {
        snprintf(msg, msglen, "%s failed: %s", what, *errbuf ? errbuf : curl_easy_strerror(cc));
        return cc == CURLE_OPERATION_TIMEDOUT ? WANDB_ETIMEDOUT
               : cc == CURLE_WRITE_ERROR      ? WANDB_EIO
                                              : WANDB_EBACKEND;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return WANDB_OK;
    snprintf(msg, msglen, "%s answered HTTP %ld%s", what, status,
             status == 401 || status == 403 ? " (missing or wrong API key)" : "");
    return status == 401 || status == 403 ? WANDB_EAUTH
           : status == 404                ? WANDB_ENOTFOUND
                                          : WANDB_EBACKEND;
}

wandb_err wbi_bh_gql(const wandb_run_t *run, const char *op, const char *query, json_t *vars,
                     json_t **doc_out, char *msg, size_t msglen)
{
    *doc_out = NULL;
    json_t *req = json_pack("{sssoss}", "query", query, "variables", vars, "operationName", op);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    CURL *h = body ? curl_easy_init() : NULL;
    if (!h) {
        free(body);
        return WANDB_ENOMEM;
    }
    char url[2200], what[160];
    snprintf(url, sizeof url, "%s/graphql", run->cfg.base_url);
    snprintf(what, sizeof what, "the %.100s query", op);
    char errbuf[CURL_ERROR_SIZE] = "";
    wbi_buf_t resp;
    wbi_buf_init(&resp, S_GQL_MAX);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    s_common(h, run, url, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)run->cfg.finish_timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    wandb_err rc = s_outcome(h, curl_easy_perform(h), errbuf, what, msg, msglen);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    free(body);
    if (rc == WANDB_OK) {
        json_error_t jerr;
        *doc_out = json_loadb(resp.data ? resp.data : "", resp.len, 0, &jerr);
        if (!*doc_out) {
            snprintf(msg, msglen, "the %.100s answer is not JSON: %s at %d:%d", op, jerr.text,
                     jerr.line, jerr.column);
            rc = WANDB_EPROTO;
        }
    }
    wbi_buf_release(&resp);
    return rc;
}

const char *wbi_bh_gql_error(const json_t *doc)
{
    json_t *errors = json_object_get(doc, "errors");
    if (json_array_size(errors) == 0)
        return NULL;
    const char *m = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    return m ? m : "(no message)";
}

// Sets what a GET shares: redirects, size cap, stall timeout.
static void s_get_opts(CURL *h)
{
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, S_FILE_MAX);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, S_STALL_S);
}

wandb_err wbi_bh_get_mem(const wandb_run_t *run, const char *url, size_t max, char **out,
                         size_t *out_len, char *msg, size_t msglen)
{
    *out = NULL;
    *out_len = 0;
    CURL *h = curl_easy_init();
    if (!h)
        return WANDB_ENOMEM;
    char errbuf[CURL_ERROR_SIZE] = "";
    wbi_buf_t resp;
    wbi_buf_init(&resp, max);
    s_common(h, run, url, errbuf);
    s_get_opts(h);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    wandb_err rc = s_outcome(h, curl_easy_perform(h), errbuf, "the download", msg, msglen);
    curl_easy_cleanup(h);
    char *copy = rc == WANDB_OK ? wbi_malloc(resp.len + 1) : NULL;
    if (rc == WANDB_OK && !copy)
        rc = WANDB_ENOMEM;
    if (copy) {
        if (resp.len)
            memcpy(copy, resp.data, resp.len);
        copy[resp.len] = '\0';
        *out = copy;
        *out_len = resp.len;
    }
    wbi_buf_release(&resp);
    return rc;
}

// A download into a file, hashed on the way (curl write callback state).
typedef struct {
    FILE *f;
    wbi_md5_t md5;
    uint64_t bytes;
} s_sink_t;

static size_t s_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_sink_t *s = arg;
    size_t n = size * nmemb;
    if (fwrite(data, 1, n, s->f) != n)
        return 0;
    wbi_md5_update(&s->md5, data, n);
    s->bytes += n;
    return n;
}

wandb_err wbi_bh_get_file(const wandb_run_t *run, const char *url, const char *path,
                          const char *md5_b64, uint64_t size, char *msg, size_t msglen)
{
    char tmp[S_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot create '%.300s': %s", tmp, strerror(errno));
        return WANDB_EIO;
    }
    s_sink_t sink = {.f = fdopen(fd, "wb")};
    CURL *h = sink.f ? curl_easy_init() : NULL;
    if (!h) {
        if (sink.f)
            fclose(sink.f);
        else
            close(fd);
        unlink(tmp);
        return WANDB_ENOMEM;
    }
    wbi_md5_init(&sink.md5);
    char errbuf[CURL_ERROR_SIZE] = "";
    s_common(h, run, url, errbuf);
    s_get_opts(h);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    wandb_err rc = s_outcome(h, curl_easy_perform(h), errbuf, "the download", msg, msglen);
    curl_easy_cleanup(h);
    if (fclose(sink.f) != 0 && rc == WANDB_OK) {
        snprintf(msg, msglen, "cannot write '%.300s': %s", tmp, strerror(errno));
        rc = WANDB_EIO;
    }
    char got[WBI_MD5_B64];
    wbi_md5_final_b64(&sink.md5, got);
    if (rc == WANDB_OK && md5_b64 && (strcmp(got, md5_b64) != 0 || sink.bytes != size)) {
        snprintf(msg, msglen,
                 "'%.300s' arrived with %llu bytes and MD5 %s, the manifest says %llu and %s", path,
                 (unsigned long long)sink.bytes, got, (unsigned long long)size, md5_b64);
        rc = WANDB_EIO;
    }
    if (rc == WANDB_OK && rename(tmp, path) != 0) {
        snprintf(msg, msglen, "cannot move the download to '%.300s': %s", path, strerror(errno));
        rc = WANDB_EIO;
    }
    if (rc != WANDB_OK)
        unlink(tmp);
    return rc;
}
