//  test_backend_peer.c - the backend client against a scripted HTTP peer
//  SPDX-License-Identifier: MIT
//
//  A small W&B-speaking peer (libmicrohttpd, loopback, ephemeral port) that
//  records every request and connection, answers from a script (429 with
//  Retry-After, 503 bursts, 400, GraphQL errors) and keeps the history it
//  acknowledged by offset, so that the tests can check ordering, duplicate
//  offsets, retries and the single connection.
#include "backend/backend.h"
#include "common/alloc.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define P_MAX_REQS 4096
#define P_MAX_SCRIPT 64
#define P_MAX_LINES 4096

typedef struct {
    char *url;    // request path
    char *body;   // request body
    char *op;     // GraphQL operationName, or NULL for file_stream
    char *auth;   // Authorization header
    char *agent;  // User-Agent header
    char *batch;  // X-Batch header (uploads: the CreateRunFiles call that named them)
    int status;   // status answered
    int64_t t_ms; // monotonic time of the answer
} p_req_t;

typedef struct {
    const char *match;        // substring of the URL or the operation name
    int status;               // status to answer
    const char *retry_after;  // Retry-After header, or NULL
    const char *body;         // answer body, or NULL for the default
    int hold_ms;              // keep the answer this long (cut short by s_peer_stop)
    const char *rl_remaining; // RateLimit-Remaining header, or NULL
    const char *rl_reset;     // RateLimit-Reset header, or NULL
} p_step_t;

typedef struct {
    char run[32];             // run ID from the URL
    char *lines[P_MAX_LINES]; // acknowledged history by offset
    int acked_twice;          // offsets acknowledged more than once
    int exitcode;             // exitcode of complete
    bool complete;            // complete received
    bool preempting;          // preempting received
    int heartbeats;           // "{}" bodies
} p_run_t;

typedef struct {
    struct MHD_Daemon *d;          // the daemon
    int port;                      // bound port
    pthread_mutex_t mu;            // guards all below
    int connections;               // TCP connections accepted
    p_req_t reqs[P_MAX_REQS];      // every request
    int nreqs;                     // count
    p_step_t script[P_MAX_SCRIPT]; // answers to use once each, in order
    int nscript;                   // count
    bool used[P_MAX_SCRIPT];       // script entries consumed
    int64_t hlc;                   // historyLineCount answered
    int file_calls;                // CreateRunFiles answered
    atomic_bool stopping;          // s_peer_stop: held answers go now
    p_run_t runs[8];               // stored runs
    int nruns;                     // count
} peer_t;

typedef struct {
    char *data; // body so far
    size_t len; // its length
} p_body_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *s_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

// Finds or adds the stored run named in a file_stream URL (lock held).
static p_run_t *s_run(peer_t *p, const char *url)
{
    // /files/<entity>/<project>/<run>/file_stream
    const char *end = strstr(url, "/file_stream");
    const char *start = end;
    while (start > url && start[-1] != '/')
        start--;
    char name[32] = "";
    snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
    for (int i = 0; i < p->nruns; i++) {
        if (strcmp(p->runs[i].run, name) == 0)
            return &p->runs[i];
    }
    CHECK(p->nruns < 8);
    p_run_t *r = &p->runs[p->nruns++];
    memset(r, 0, sizeof *r);
    snprintf(r->run, sizeof r->run, "%s", name);
    return r;
}

// Stores an acknowledged file_stream body (lock held).
static void s_store_fs(peer_t *p, const char *url, const char *body)
{
    p_run_t *r = s_run(p, url);
    json_error_t err;
    json_t *j = json_loads(body, 0, &err);
    CHECK(j != NULL);
    if (json_object_size(j) == 0)
        r->heartbeats++;
    json_t *hist = json_object_get(json_object_get(j, "files"), "wandb-history.jsonl");
    if (hist) {
        json_int_t off = json_integer_value(json_object_get(hist, "offset"));
        json_t *content = json_object_get(hist, "content");
        for (size_t i = 0; i < json_array_size(content); i++) {
            json_int_t at = off + (json_int_t)i;
            CHECK(at >= 0 && at < P_MAX_LINES);
            if (r->lines[at]) {
                r->acked_twice++;
                free(r->lines[at]);
            }
            r->lines[at] = strdup(json_string_value(json_array_get(content, i)));
        }
    }
    if (json_is_true(json_object_get(j, "complete"))) {
        r->complete = true;
        r->exitcode = (int)json_integer_value(json_object_get(j, "exitcode"));
    }
    if (json_is_true(json_object_get(j, "preempting")))
        r->preempting = true;
    json_decref(j);
}

// The default GraphQL answer for an operation.
static char *s_graphql_answer(peer_t *p, json_t *req)
{
    const char *op = json_string_value(json_object_get(req, "operationName"));
    json_t *vars = json_object_get(req, "variables");
    if (op && strcmp(op, "ServerFeaturesQuery") == 0)
        return strdup("{\"data\":{\"serverInfo\":{\"features\":[]}}}");
    if (op && strcmp(op, "NotifyScriptableRunAlert") == 0)
        return strdup("{\"data\":{\"notifyScriptableRunAlert\":{\"success\":true}}}");
    if (op && strcmp(op, "CreateRunFiles") == 0) {
        // Each call names its own upload headers: X-Batch:<call>.
        int call = ++p->file_calls;
        json_t *names = json_object_get(vars, "files");
        json_t *files = json_array();
        for (size_t i = 0; i < json_array_size(names); i++) {
            const char *name = json_string_value(json_array_get(names, i));
            char url[256];
            snprintf(url, sizeof url, "http://127.0.0.1:%d/upload/%d/%s", p->port, call, name);
            json_array_append_new(files, json_pack("{s:s,s:s}", "name", name, "uploadUrl", url));
        }
        char hdr[32];
        snprintf(hdr, sizeof hdr, "X-Batch:%d", call);
        json_t *ans = json_pack("{s:{s:{s:o,s:[s]}}}", "data", "createRunFiles", "files", files,
                                "uploadHeaders", hdr);
        char *s = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        return s;
    }
    if (op && strcmp(op, "UpsertBucket") == 0) {
        const char *name = json_string_value(json_object_get(vars, "name"));
        const char *project = json_string_value(json_object_get(vars, "project"));
        const char *entity = json_string_value(json_object_get(vars, "entity"));
        json_t *ans = json_pack(
            "{s:{s:{s:{s:s+,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:I},s:b}}}", "data", "upsertBucket",
            "bucket", "id", "bucket-", name ? name : "?", "name", name ? name : "?", "project",
            "id", "p1", "name", project ? project : "?", "entity", "id", "e1", "name",
            entity ? entity : "peer-entity", "historyLineCount", (json_int_t)p->hlc, "inserted", 1);
        char *s = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        return s;
    }
    return strdup("{\"errors\":[{\"message\":\"unknown operation\"}]}");
}

// Counts every accepted TCP connection.
static void s_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    (void)socket_context;
    peer_t *p = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&p->mu);
        p->connections++;
        pthread_mutex_unlock(&p->mu);
    }
}

// Frees the per-request body.
static void s_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    p_body_t *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
    }
    *con_cls = NULL;
}

// Collects the body, then answers from the script or the defaults.
static enum MHD_Result s_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)method;
    peer_t *p = cls;
    p_body_t *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*upload_data_size) {
        b->data = realloc(b->data, b->len + *upload_data_size + 1);
        memcpy(b->data + b->len, upload_data, *upload_data_size);
        b->len += *upload_data_size;
        b->data[b->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *body = b->data ? b->data : "";
    bool graphql = strcmp(url, "/graphql") == 0;
    json_t *req = graphql ? json_loads(body, 0, NULL) : NULL;
    const char *op = req ? json_string_value(json_object_get(req, "operationName")) : NULL;

    pthread_mutex_lock(&p->mu);
    int status = 200, hold_ms = 0;
    const char *retry_after = NULL, *rl_remaining = NULL, *rl_reset = NULL;
    char *answer = NULL;
    for (int i = 0; i < p->nscript; i++) {
        if (p->used[i])
            continue;
        const char *m = p->script[i].match;
        if (strstr(url, m) || (op && strcmp(op, m) == 0)) {
            p->used[i] = true;
            status = p->script[i].status;
            retry_after = p->script[i].retry_after;
            answer = s_strdup(p->script[i].body);
            hold_ms = p->script[i].hold_ms;
            rl_remaining = p->script[i].rl_remaining;
            rl_reset = p->script[i].rl_reset;
            break;
        }
    }
    if (!answer && status == 200)
        answer = graphql ? s_graphql_answer(p, req) : strdup("{}");
    if (!answer)
        answer = strdup("{\"error\":\"scripted\"}");
    if (status == 200 && strstr(url, "/file_stream"))
        s_store_fs(p, url, body);
    if (p->nreqs < P_MAX_REQS) {
        p_req_t *r = &p->reqs[p->nreqs++];
        r->url = strdup(url);
        r->body = strdup(body);
        r->op = s_strdup(op);
        r->auth = s_strdup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        r->agent = s_strdup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"));
        r->batch = s_strdup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Batch"));
        r->status = status;
        r->t_ms = s_now_ms();
    }
    pthread_mutex_unlock(&p->mu);
    json_decref(req);
    for (int t = 0; t < hold_ms && !atomic_load(&p->stopping); t += 10)
        usleep(10 * 1000);

    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(answer), answer, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(resp, "Retry-After", retry_after);
    if (rl_remaining)
        MHD_add_response_header(resp, "RateLimit-Remaining", rl_remaining);
    if (rl_reset)
        MHD_add_response_header(resp, "RateLimit-Reset", rl_reset);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

// Starts a peer on 127.0.0.1 and an ephemeral port.
static peer_t *s_peer_start(void)
{
    peer_t *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, s_handler, p,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, p,
                            MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, p, MHD_OPTION_END);
    CHECK(p->d != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_BIND_PORT);
    CHECK(info && info->port > 0);
    p->port = info->port;
    return p;
}

static void s_peer_stop(peer_t *p)
{
    atomic_store(&p->stopping, true);
    MHD_stop_daemon(p->d);
    for (int i = 0; i < p->nreqs; i++) {
        free(p->reqs[i].url);
        free(p->reqs[i].body);
        free(p->reqs[i].op);
        free(p->reqs[i].auth);
        free(p->reqs[i].agent);
        free(p->reqs[i].batch);
    }
    for (int i = 0; i < p->nruns; i++) {
        for (int j = 0; j < P_MAX_LINES; j++)
            free(p->runs[i].lines[j]);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

// Adds a scripted answer (before the backend starts).
static void s_script(peer_t *p, const char *match, int status, const char *retry_after,
                     const char *body)
{
    CHECK(p->nscript < P_MAX_SCRIPT);
    p->script[p->nscript++] = (p_step_t){match, status, retry_after, body, 0, NULL, NULL};
}

// Adds a scripted answer that the peer holds for hold_ms before it goes.
static void s_script_hold(peer_t *p, const char *match, int status, const char *body, int hold_ms)
{
    CHECK(p->nscript < P_MAX_SCRIPT);
    p->script[p->nscript++] = (p_step_t){match, status, NULL, body, hold_ms, NULL, NULL};
}

// Adds a scripted answer with RateLimit-Remaining / RateLimit-Reset.
static void s_script_rl(peer_t *p, const char *match, int status, const char *remaining,
                        const char *reset)
{
    CHECK(p->nscript < P_MAX_SCRIPT);
    p->script[p->nscript++] = (p_step_t){match, status, NULL, NULL, 0, remaining, reset};
}

static p_run_t *s_find_run(peer_t *p, const char *name)
{
    for (int i = 0; i < p->nruns; i++) {
        if (strcmp(p->runs[i].run, name) == 0)
            return &p->runs[i];
    }
    return NULL;
}

// A backend pointed at the peer with short intervals and this request timeout.
static wbi_backend_t *s_backend_timeout(peer_t *p, int flush_ms, int heartbeat_ms, int timeout_ms)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p->port);
    wbi_backend_opts_t o = {.base_url = url,
                            .api_key = "testkey",
                            .flush_interval_ms = flush_ms,
                            .heartbeat_ms = heartbeat_ms,
                            .request_timeout_ms = timeout_ms,
                            .max_retries = 10,
                            .retry_min_ms = 20,
                            .retry_max_ms = 200};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    return b;
}

// A backend pointed at the peer with short intervals.
static wbi_backend_t *s_backend(peer_t *p, int flush_ms, int heartbeat_ms)
{
    return s_backend_timeout(p, flush_ms, heartbeat_ms, 5000);
}

// Logs n history lines {"i":k,"_step":k} for k in [from, from + n).
static void s_log(wbi_backend_t *b, wbi_backend_run_t *run, int from, int n)
{
    for (int k = from; k < from + n; k++) {
        char line[96];
        int len = snprintf(line, sizeof line, "{\"i\":%d,\"s\":\"q\\\"x\",\"_step\":%d}", k, k);
        wbi_backend_run_history(b, run, line, (size_t)len);
    }
}

// Checks that the peer acknowledged exactly lines [0, n) of run, in order.
static void s_check_lines(peer_t *p, const char *run, int first, int n)
{
    p_run_t *r = s_find_run(p, run);
    CHECK(r != NULL);
    CHECK_EQ(r->acked_twice, 0);
    for (int k = 0; k < first; k++)
        CHECK(r->lines[k] == NULL);
    for (int k = 0; k < n; k++) {
        char want[96];
        snprintf(want, sizeof want, "{\"i\":%d,\"s\":\"q\\\"x\",\"_step\":%d}", k, k);
        CHECK_STREQ(r->lines[first + k], want);
    }
    CHECK(r->lines[first + n] == NULL);
}

// Where a request goes: URL, operation and the run named in its variables.
static void s_target(const p_req_t *r, char *buf, size_t len)
{
    const char *name = strstr(r->body, "\"name\":\"");
    int n = 0;
    if (name) {
        name += 8;
        while (name[n] && name[n] != '"')
            n++;
    }
    snprintf(buf, len, "%s %s %.*s", r->url, r->op ? r->op : "-", n, name ? name : "");
}

// Every answer that was not 2xx is followed by the same body to the same target.
static void s_check_resent_unchanged(peer_t *p)
{
    for (int i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].status == 200 || p->reqs[i].status == 400)
            continue;
        char want[256], got[256];
        s_target(&p->reqs[i], want, sizeof want);
        int next = -1;
        for (int j = i + 1; j < p->nreqs && next < 0; j++) {
            s_target(&p->reqs[j], got, sizeof got);
            if (strcmp(got, want) == 0)
                next = j;
        }
        CHECK(next >= 0);
        CHECK_STREQ(p->reqs[next].body, p->reqs[i].body);
    }
}

static wbi_run_meta_t s_meta(const char *id)
{
    return (wbi_run_meta_t){.run_id = id,
                            .project = "proj",
                            .group = "job-1",
                            .job_type = "train",
                            .display_name = "rank-0",
                            .host = "node1",
                            .program = "train.c",
                            .tags = "mpi, c",
                            .config_json = "{\"lr\":0.1,\"bad\":NaN,\"net\":{\"depth\":4}}"};
}

// Two runs, one connection: everything arrives in order, complete last.
static void test_two_runs_one_connection(void)
{
    peer_t *p = s_peer_start();
    wbi_backend_t *b = s_backend(p, 50, 10000);
    wbi_run_meta_t m1 = s_meta("run-a"), m2 = s_meta("run-b");
    wbi_backend_run_t *r1 = wbi_backend_run_open(b, &m1);
    wbi_backend_run_t *r2 = wbi_backend_run_open(b, &m2);
    CHECK(r1 && r2);
    for (int chunk = 0; chunk < 5; chunk++) {
        s_log(b, r1, chunk * 40, 40);
        s_log(b, r2, chunk * 40, 40);
        usleep(30 * 1000);
    }
    wbi_backend_run_summary(b, r1, "{\"i\":199,\"x\":NaN}", 17);
    wbi_backend_run_finish(b, r1, 0);
    wbi_backend_run_finish(b, r2, 3);
    CHECK_OK(wbi_backend_drain(b, 10000));
    char entity[64];
    CHECK(wbi_backend_run_entity(b, r1, entity, sizeof entity));
    CHECK_STREQ(entity, "peer-entity");
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.history_lines_sent, 400);
    CHECK_EQ(st.failures, 0);
    CHECK_EQ(st.max_in_flight, 1); // an HTTP/1.1 peer: one request at a time
    wbi_backend_destroy(&b);
    CHECK(b == NULL);

    pthread_mutex_lock(&p->mu);
    CHECK_EQ(p->connections, 1);
    s_check_lines(p, "run-a", 0, 200);
    s_check_lines(p, "run-b", 0, 200);
    CHECK(s_find_run(p, "run-a")->complete);
    CHECK_EQ(s_find_run(p, "run-a")->exitcode, 0);
    CHECK_EQ(s_find_run(p, "run-b")->exitcode, 3);
    // Order: the first upsert goes first, ServerFeaturesQuery once after it
    // (nobody waits for it); complete only in the last request of a run.
    CHECK_STREQ(p->reqs[0].op, "UpsertBucket");
    int upserts = 0, features = 0;
    for (int i = 0; i < p->nreqs; i++) {
        p_req_t *r = &p->reqs[i];
        features += r->op && strcmp(r->op, "ServerFeaturesQuery") == 0;
        CHECK_STREQ(r->auth, "Basic YXBpOnRlc3RrZXk=");
        CHECK(r->agent && strncmp(r->agent, "wandb-mpi/", 10) == 0);
        if (r->op && strcmp(r->op, "UpsertBucket") == 0) {
            upserts++;
            json_t *j = json_loads(r->body, 0, NULL);
            json_t *v = json_object_get(j, "variables");
            CHECK_STREQ(json_string_value(json_object_get(v, "config")),
                        "{\"lr\":{\"value\":0.1},\"bad\":{\"value\":NaN},"
                        "\"net\":{\"value\":{\"depth\":4}}}");
            CHECK_EQ(json_array_size(json_object_get(v, "tags")), 2);
            CHECK(json_is_null(json_object_get(v, "id")));
            CHECK_STREQ(json_string_value(json_object_get(v, "groupName")), "job-1");
            json_decref(j);
        }
        if (strstr(r->body, "\"complete\":true")) {
            const char *run = strstr(r->url, "run-a") ? "run-a" : "run-b";
            CHECK(strstr(r->url, "/files/peer-entity/proj/"));
            for (int k = i + 1; k < p->nreqs; k++)
                CHECK(strstr(p->reqs[k].url, run) == NULL);
        }
    }
    CHECK_EQ(upserts, 2);
    CHECK_EQ(features, 1);
    const char *sum = s_find_run(p, "run-a") ? "{\"i\":199,\"x\":NaN}" : NULL;
    bool saw_summary = false;
    for (int i = 0; i < p->nreqs; i++) {
        json_t *j = json_loads(p->reqs[i].body, 0, NULL);
        json_t *s = json_object_get(json_object_get(j, "files"), "wandb-summary.json");
        if (s) {
            CHECK_STREQ(json_string_value(json_array_get(json_object_get(s, "content"), 0)), sum);
            saw_summary = true;
        }
        json_decref(j);
    }
    CHECK(saw_summary);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// 429 with Retry-After: 1 delays the retry by about a second, unchanged.
static void test_retry_after_honoured(void)
{
    peer_t *p = s_peer_start();
    s_script(p, "file_stream", 429, "1", NULL);
    wbi_backend_t *b = s_backend(p, 50, 10000);
    wbi_run_meta_t m = s_meta("run-r");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 10);
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK(st.retries >= 1);
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    int first = -1, second = -1;
    for (int i = 0; i < p->nreqs; i++) {
        if (!p->reqs[i].op && first < 0)
            first = i;
        else if (!p->reqs[i].op && second < 0)
            second = i;
    }
    CHECK(first >= 0 && second > first);
    CHECK_EQ(p->reqs[first].status, 429);
    int64_t gap = p->reqs[second].t_ms - p->reqs[first].t_ms;
    if (gap < 950 || gap > 2500)
        WBT_FAIL("retry came %lld ms after the 429, want about 1000", (long long)gap);
    CHECK_STREQ(p->reqs[second].body, p->reqs[first].body);
    s_check_lines(p, "run-r", 0, 10);
    CHECK_EQ(p->connections, 1);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// 503 bursts in the middle of a stream: no lost, duplicated or reordered line.
static void test_503_bursts(void)
{
    peer_t *p = s_peer_start();
    for (int i = 0; i < 3; i++)
        s_script(p, "file_stream", 503, NULL, NULL);
    s_script(p, "UpsertBucket", 503, NULL, NULL);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m1 = s_meta("run-x"), m2 = s_meta("run-y");
    wbi_backend_run_t *r1 = wbi_backend_run_open(b, &m1);
    wbi_backend_run_t *r2 = wbi_backend_run_open(b, &m2);
    for (int chunk = 0; chunk < 10; chunk++) {
        s_log(b, r1, chunk * 30, 30);
        s_log(b, r2, chunk * 30, 30);
        if (chunk == 5) { // a second burst while data keeps coming
            pthread_mutex_lock(&p->mu);
            for (int i = 0; i < 4; i++)
                s_script(p, "run-y", 502, NULL, NULL);
            pthread_mutex_unlock(&p->mu);
        }
        usleep(20 * 1000);
    }
    wbi_backend_run_finish(b, r1, 0);
    wbi_backend_run_finish(b, r2, 0);
    CHECK_OK(wbi_backend_drain(b, 15000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK(st.retries >= 8);
    CHECK_EQ(st.failures, 0);
    CHECK_EQ(st.history_lines_sent, 600);
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-x", 0, 300);
    s_check_lines(p, "run-y", 0, 300);
    CHECK(s_find_run(p, "run-x")->complete && s_find_run(p, "run-y")->complete);
    s_check_resent_unchanged(p);
    CHECK_EQ(p->connections, 1);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// An idle run gets "{}" heartbeats; nothing is sent after complete.
static void test_heartbeat(void)
{
    peer_t *p = s_peer_start();
    wbi_backend_t *b = s_backend(p, 50, 150);
    wbi_run_meta_t m = s_meta("run-h");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 3);
    CHECK_OK(wbi_backend_drain(b, 5000));
    usleep(700 * 1000);
    pthread_mutex_lock(&p->mu);
    int hb = s_find_run(p, "run-h")->heartbeats;
    pthread_mutex_unlock(&p->mu);
    if (hb < 2 || hb > 6)
        WBT_FAIL("%d heartbeats in 700 ms at 150 ms, want 2..6", hb);
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    pthread_mutex_lock(&p->mu);
    int n = p->nreqs;
    pthread_mutex_unlock(&p->mu);
    usleep(400 * 1000);
    pthread_mutex_lock(&p->mu);
    CHECK_EQ(p->nreqs, n);
    s_check_lines(p, "run-h", 0, 3);
    pthread_mutex_unlock(&p->mu);
    wbi_backend_destroy(&b);
    s_peer_stop(p);
}

// An abandoned run gets no heartbeats (so the server can mark it crashed)
// while another run keeps getting them; new data for it revives them.
static void test_abandon(void)
{
    peer_t *p = s_peer_start();
    wbi_backend_t *b = s_backend(p, 50, 100);
    wbi_run_meta_t ma = s_meta("run-a"), mb = s_meta("run-b");
    wbi_backend_run_t *ra = wbi_backend_run_open(b, &ma);
    wbi_backend_run_t *rb = wbi_backend_run_open(b, &mb);
    s_log(b, ra, 0, 2);
    s_log(b, rb, 0, 2);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_run_abandon(b, ra);
    pthread_mutex_lock(&p->mu);
    int a0 = s_find_run(p, "run-a")->heartbeats, b0 = s_find_run(p, "run-b")->heartbeats;
    pthread_mutex_unlock(&p->mu);
    usleep(600 * 1000);
    pthread_mutex_lock(&p->mu);
    int a1 = s_find_run(p, "run-a")->heartbeats, b1 = s_find_run(p, "run-b")->heartbeats;
    pthread_mutex_unlock(&p->mu);
    CHECK_EQ(a1, a0);
    if (b1 - b0 < 2)
        WBT_FAIL("run-b got %d heartbeats in 600 ms at 100 ms, want >= 2", b1 - b0);
    s_log(b, ra, 2, 1); // it speaks again
    CHECK_OK(wbi_backend_drain(b, 5000));
    usleep(400 * 1000);
    pthread_mutex_lock(&p->mu);
    int a2 = s_find_run(p, "run-a")->heartbeats;
    s_check_lines(p, "run-a", 0, 3);
    pthread_mutex_unlock(&p->mu);
    if (a2 - a1 < 1)
        WBT_FAIL("run-a got no heartbeat after it spoke again");
    wbi_backend_run_abandon(b, ra); // a summary alone revives it too
    wbi_backend_run_summary(b, ra, "{\"x\":1}", 7);
    CHECK_OK(wbi_backend_drain(b, 5000));
    pthread_mutex_lock(&p->mu);
    int a3 = s_find_run(p, "run-a")->heartbeats;
    pthread_mutex_unlock(&p->mu);
    usleep(400 * 1000);
    pthread_mutex_lock(&p->mu);
    int a4 = s_find_run(p, "run-a")->heartbeats;
    pthread_mutex_unlock(&p->mu);
    if (a4 - a3 < 1)
        WBT_FAIL("run-a got no heartbeat after a summary revived it");
    wbi_backend_destroy(&b);
    s_peer_stop(p);
}

// A 400 ends one run's stream; the other run goes on; drain does not hang.
static void test_give_up_one_run(void)
{
    peer_t *p = s_peer_start();
    s_script(p, "run-bad", 400, NULL, NULL);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m1 = s_meta("run-bad"), m2 = s_meta("run-good");
    wbi_backend_run_t *r1 = wbi_backend_run_open(b, &m1);
    wbi_backend_run_t *r2 = wbi_backend_run_open(b, &m2);
    s_log(b, r1, 0, 20);
    s_log(b, r2, 0, 20);
    wbi_backend_run_finish(b, r1, 0);
    wbi_backend_run_finish(b, r2, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.failures, 1);
    CHECK_EQ(st.history_lines_sent, 20);
    CHECK_EQ(st.lines_refused, 20); // run-bad's lines, dropped with its stream
    CHECK_EQ(st.auth_failures, 0);
    CHECK_ERR(wbi_backend_result(b), WANDB_EBACKEND);
    CHECK(strstr(wbi_backend_errmsg(b), "run 'run-bad': file_stream answered HTTP 400"));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-good", 0, 20);
    CHECK(s_find_run(p, "run-good")->complete);
    int bad = 0;
    for (int i = 0; i < p->nreqs; i++)
        bad += strstr(p->reqs[i].url, "run-bad") != NULL;
    CHECK_EQ(bad, 1); // 400 is not retried
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// GraphQL errors fail the upsert at once; 409 on UpsertBucket is retried.
static void test_upsert_errors(void)
{
    peer_t *p = s_peer_start();
    s_script(p, "UpsertBucket", 200, NULL,
             "{\"data\":{\"upsertBucket\":null},\"errors\":[{\"message\":\"no way\"}]}");
    s_script(p, "UpsertBucket", 409, NULL, NULL);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m1 = s_meta("run-1");
    wbi_backend_run_t *r1 = wbi_backend_run_open(b, &m1);
    CHECK_OK(wbi_backend_drain(b, 5000)); // run-1 is given up on
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.failures, 1);
    CHECK(strstr(wbi_backend_errmsg(b), "no way"));
    char entity[32] = "x";
    CHECK(!wbi_backend_run_entity(b, r1, entity, sizeof entity));
    CHECK_STREQ(entity, "");
    wbi_run_meta_t m2 = s_meta("run-2");
    m2.entity = "mine";
    wbi_backend_run_t *r2 = wbi_backend_run_open(b, &m2);
    s_log(b, r2, 0, 5);
    wbi_backend_run_finish(b, r2, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.failures, 1);
    CHECK(st.retries >= 1);
    // the failure behind the result, not replaced by the later 409 retry
    CHECK_ERR(wbi_backend_result(b), WANDB_EBACKEND);
    CHECK(strstr(wbi_backend_errmsg(b), "no way") && strstr(wbi_backend_errmsg(b), "UpsertBucket"));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-2", 0, 5);
    int upserts = 0;
    for (int i = 0; i < p->nreqs; i++) {
        if (p->reqs[i].op && strcmp(p->reqs[i].op, "UpsertBucket") == 0)
            upserts++;
        if (!p->reqs[i].op)
            CHECK(strstr(p->reqs[i].url, "/files/mine/proj/run-2/file_stream"));
    }
    CHECK_EQ(upserts, 3); // errors: once; 409 then 200
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// historyLineCount > 0 is the first offset; config updates are debounced.
static void test_offset_config_alert_preempt(void)
{
    peer_t *p = s_peer_start();
    p->hlc = 7;
    wbi_backend_t *b = s_backend(p, 100, 10000);
    wbi_run_meta_t m = s_meta("run-o");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_run_config(b, r, "{\"lr\":0.2}");
    wbi_backend_run_config(b, r, "{\"lr\":0.3,\"x\":Infinity}");
    wbi_backend_run_alert(b, r, "slow", "rank 3 is slow", "WARN", 300000);
    wbi_backend_run_preempting(b, r);
    s_log(b, r, 0, 4);
    wbi_backend_run_finish(b, r, 143);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-o", 7, 4);
    p_run_t *run = s_find_run(p, "run-o");
    CHECK(run->preempting);
    CHECK_EQ(run->exitcode, 143);
    int upserts = 0, alerts = 0;
    for (int i = 0; i < p->nreqs; i++) {
        json_t *j = json_loads(p->reqs[i].body, 0, NULL);
        json_t *v = json_object_get(j, "variables");
        if (p->reqs[i].op && strcmp(p->reqs[i].op, "UpsertBucket") == 0 && ++upserts == 2) {
            CHECK_STREQ(json_string_value(json_object_get(v, "id")), "bucket-run-o");
            CHECK_STREQ(json_string_value(json_object_get(v, "config")),
                        "{\"lr\":{\"value\":0.3},\"x\":{\"value\":Infinity}}");
            CHECK(json_is_null(json_object_get(v, "groupName")));
        }
        if (p->reqs[i].op && strcmp(p->reqs[i].op, "NotifyScriptableRunAlert") == 0) {
            alerts++;
            CHECK_STREQ(json_string_value(json_object_get(v, "entityName")), "peer-entity");
            CHECK_EQ(json_integer_value(json_object_get(v, "waitDuration")), 300000);
        }
        json_decref(j);
    }
    CHECK_EQ(upserts, 2); // the two config changes went out as one
    CHECK_EQ(alerts, 1);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// A backend that cannot get through: drain times out on time, destroy is prompt.
static void test_drain_timeout(void)
{
    peer_t *p = s_peer_start();
    for (int i = 0; i < 40; i++)
        s_script(p, "file_stream", 503, "30", NULL);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m = s_meta("run-t");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 5);
    int64_t t0 = s_now_ms();
    CHECK_ERR(wbi_backend_drain(b, 400), WANDB_ETIMEDOUT);
    int64_t took = s_now_ms() - t0;
    CHECK(took >= 390 && took < 1500);
    CHECK(strstr(wbi_backend_errmsg(b), "HTTP 503") && strstr(wbi_backend_errmsg(b), "retrying"));
    CHECK_OK(wbi_backend_result(b)); // retrying is not giving up
    t0 = s_now_ms();
    wbi_backend_destroy(&b);
    CHECK(s_now_ms() - t0 < 1500);
    s_peer_stop(p);
}

// Refused input: oversized lines and calls after finish are dropped safely.
static void test_bad_input(void)
{
    peer_t *p = s_peer_start();
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t bad = {.run_id = "x"};
    CHECK(wbi_backend_run_open(b, &bad) == NULL); // no project
    wbi_run_meta_t m = s_meta("run-i");
    m.config_json = "[not an object";
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 2);
    wbi_backend_run_finish(b, r, 0);
    s_log(b, r, 2, 1);                                 // after finish: dropped
    wbi_backend_run_summary(b, r, "{\"late\":1}", 10); // after finish: refused too
    wbi_backend_run_config(b, r, "{\"late\":1}");
    wbi_backend_run_alert(b, r, "late", "after finish", "INFO", 0);
    char *data = wbi_malloc(4);
    memcpy(data, "late", 4);
    CHECK_ERR(wbi_backend_run_file(b, r, "late.txt", &data, 4), WANDB_ECLOSED);
    CHECK(data == NULL);
    // not UTF-8: refused, and by the prefix rule so is every later line; no complete
    wbi_run_meta_t mu = s_meta("run-u");
    wbi_backend_run_t *ru = wbi_backend_run_open(b, &mu);
    s_log(b, ru, 0, 2);
    wbi_backend_run_history(b, ru, "\xff\xfe", 2);
    s_log(b, ru, 2, 3);
    wbi_backend_run_finish(b, ru, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.lines_refused, 1 + 1 + 3); // after finish; not UTF-8; after the refusal
    CHECK_OK(wbi_backend_result(b));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-i", 0, 2);
    CHECK(s_find_run(p, "run-i")->complete);
    s_check_lines(p, "run-u", 0, 2);
    CHECK(!s_find_run(p, "run-u")->complete);
    for (int i = 0; i < p->nreqs; i++) {
        CHECK(strstr(p->reqs[i].body, "late") == NULL);
        CHECK(!p->reqs[i].op || strcmp(p->reqs[i].op, "UpsertBucket") == 0 ||
              strcmp(p->reqs[i].op, "ServerFeaturesQuery") == 0);
    }
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// Counts requests of an operation (lock held).
static int s_count_op(peer_t *p, const char *op)
{
    int n = 0;
    for (int i = 0; i < p->nreqs; i++)
        n += p->reqs[i].op && strcmp(p->reqs[i].op, op) == 0;
    return n;
}

// An UpsertBucket answer of 2 MiB (the config echoed back) is read whole;
// one over 16 MiB is cut, and the run goes on with its name/project/entity.
static void test_big_answers(void)
{
    peer_t *p = s_peer_start();
    size_t big = (size_t)2 << 20, huge = (size_t)17 << 20;
    char *a1 = malloc(big + 256), *a2 = malloc(huge + 1);
    int n = snprintf(a1, 256,
                     "{\"data\":{\"upsertBucket\":{\"bucket\":{\"id\":\"b-big\",\"config\":\"");
    memset(a1 + n, 'x', big);
    snprintf(a1 + n + big, 256,
             "\",\"project\":{\"name\":\"proj\",\"entity\":{\"name\":\"big-ent\"}}}}}}");
    memset(a2, ' ', huge);
    memcpy(a2, "{\"data\":", 8);
    a2[huge] = '\0';
    s_script(p, "UpsertBucket", 200, NULL, a1);
    s_script(p, "UpsertBucket", 200, NULL, a2);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m1 = s_meta("run-big"), m2 = s_meta("run-huge");
    m2.entity = "mine";
    wbi_backend_run_t *r1 = wbi_backend_run_open(b, &m1);
    CHECK_OK(wbi_backend_drain(b, 5000)); // run-big takes the first answer
    wbi_backend_run_t *r2 = wbi_backend_run_open(b, &m2);
    s_log(b, r1, 0, 3);
    s_log(b, r2, 0, 3);
    wbi_backend_run_finish(b, r1, 0);
    wbi_backend_run_finish(b, r2, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    char entity[32];
    CHECK(wbi_backend_run_entity(b, r1, entity, sizeof entity));
    CHECK_STREQ(entity, "big-ent");
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.failures, 0);
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-big", 0, 3);
    s_check_lines(p, "run-huge", 0, 3);
    CHECK(s_find_run(p, "run-huge")->complete);
    for (int i = 0; i < p->nreqs; i++) {
        if (strstr(p->reqs[i].url, "run-big/file_stream"))
            CHECK(strstr(p->reqs[i].url, "/files/big-ent/proj/"));
        if (strstr(p->reqs[i].url, "run-huge/file_stream"))
            CHECK(strstr(p->reqs[i].url, "/files/mine/proj/"));
    }
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
    free(a1);
    free(a2);
}

// Alerts are capped per run, a title within its wait is not sent again, and
// file_stream requests go between alerts.
static void test_alerts_bounded(void)
{
    peer_t *p = s_peer_start();
    // The first alert's answer is held: on one HTTP/1.1 connection nothing
    // else leaves meanwhile, so at most one alert is off the queue while the
    // loop below fills it, however the threads are scheduled.
    s_script_hold(p, "NotifyScriptableRunAlert", 200, NULL, 1500);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m = s_meta("run-al");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    CHECK_OK(wbi_backend_drain(b, 5000));
    s_log(b, r, 0, 5);
    char title[16];
    for (int i = 0; i < 60; i++) {
        snprintf(title, sizeof title, "t%d", i);
        wbi_backend_run_alert(b, r, title, "x", "INFO", 0);
    }
    for (int i = 0; i < 3; i++)
        wbi_backend_run_alert(b, r, "same", "x", "WARN", 60000); // once
    for (int i = 0; i < 10; i++)
        wbi_backend_run_alert(b, r, "over", "x", "INFO", 0); // 1 fits, 9 over the cap of 64
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-al", 0, 5);
    CHECK(s_find_run(p, "run-al")->complete);
    // 60 titles + "same" once + the "over" alerts that fit under the cap of
    // 64 queued: 1 when everything was queued before the first alert left,
    // 2 when the held one had left. Without the cap it would be 71.
    int sent = s_count_op(p, "NotifyScriptableRunAlert");
    if (sent < 62 || sent > 63)
        WBT_FAIL("%d alerts sent, want 62..63 (cap of 64 queued per run)", sent);
    int first_hist = -1, last_alert = -1, sames = 0;
    for (int i = 0; i < p->nreqs; i++) {
        if (first_hist < 0 && strstr(p->reqs[i].body, "wandb-history.jsonl"))
            first_hist = i;
        if (p->reqs[i].op && strcmp(p->reqs[i].op, "NotifyScriptableRunAlert") == 0) {
            last_alert = i;
            sames += strstr(p->reqs[i].body, "\"same\"") != NULL;
        }
    }
    CHECK_EQ(sames, 1);
    CHECK(first_hist >= 0 && first_hist < last_alert); // history did not wait for 62 alerts
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// Each PUT carries the upload headers of the CreateRunFiles that named its
// file, and a PUT slower than the request timeout still succeeds.
static void test_files_per_batch(void)
{
    peer_t *p = s_peer_start();
    s_script_hold(p, "CreateRunFiles", 200, NULL, 400); // b.txt queues meanwhile
    s_script_hold(p, "/upload/", 200, "", 1500);        // over the 800 ms timeout
    wbi_backend_t *b = s_backend_timeout(p, 30, 10000, 800);
    wbi_run_meta_t m = s_meta("run-f");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    CHECK_OK(wbi_backend_drain(b, 5000));
    char *d1 = wbi_malloc(3), *d2 = wbi_malloc(3);
    memcpy(d1, "aaa", 3);
    memcpy(d2, "bbb", 3);
    CHECK_OK(wbi_backend_run_file(b, r, "a.txt", &d1, 3));
    usleep(150 * 1000); // the CreateRunFiles of a.txt is held
    CHECK_OK(wbi_backend_run_file(b, r, "b.txt", &d2, 3));
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.failures, 0);
    CHECK_EQ(st.retries, 0);
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    CHECK_EQ(p->file_calls, 2);
    int puts = 0;
    bool reported_a = false, reported_b = false;
    for (int i = 0; i < p->nreqs; i++) {
        p_req_t *q = &p->reqs[i];
        if (strncmp(q->url, "/upload/", 8) == 0) {
            puts++;
            CHECK(q->batch != NULL);
            CHECK_EQ(strtol(q->url + 8, NULL, 10), strtol(q->batch, NULL, 10));
        }
        if (strstr(q->url, "/file_stream")) {
            json_t *j = json_loads(q->body, 0, NULL);
            json_t *up = json_object_get(j, "uploaded");
            for (size_t k = 0; k < json_array_size(up); k++) {
                const char *name = json_string_value(json_array_get(up, k));
                reported_a |= strcmp(name, "a.txt") == 0;
                reported_b |= strcmp(name, "b.txt") == 0;
            }
            json_decref(j);
        }
    }
    CHECK_EQ(puts, 2);
    CHECK(reported_a && reported_b);
    CHECK(s_find_run(p, "run-f")->complete);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// Destroy while a request is in flight (the peer holds its answer 10 s).
static void test_destroy_in_flight(void)
{
    peer_t *p = s_peer_start();
    s_script_hold(p, "file_stream", 200, "{}", 10000);
    wbi_backend_t *b = s_backend(p, 30, 10000);
    wbi_run_meta_t m = s_meta("run-d");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 2);
    int64_t t0 = s_now_ms();
    bool held = false;
    while (!held && s_now_ms() - t0 < 5000) { // until the peer holds the file_stream
        usleep(20 * 1000);
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < p->nreqs; i++)
            held |= strstr(p->reqs[i].url, "/file_stream") != NULL;
        pthread_mutex_unlock(&p->mu);
    }
    CHECK(held);
    usleep(100 * 1000);
    t0 = s_now_ms();
    wbi_backend_destroy(&b);
    int64_t took = s_now_ms() - t0;
    if (took >= 1500)
        WBT_FAIL("destroy took %lld ms with a request in flight", (long long)took);
    s_peer_stop(p);
}

// --- acknowledgements, outcome and the prefix rule ---------------------------

#define A_MAX 256

// What on_ack reported, in call order.
typedef struct {
    pthread_mutex_t mu;            // guards all below
    int n;                         // calls
    void *tags[A_MAX];             // tag of each call
    wbi_backend_ack_t acks[A_MAX]; // ack of each call
} acks_t;

static void s_on_ack(void *arg, void *tag, const wbi_backend_ack_t *ack)
{
    acks_t *a = arg;
    pthread_mutex_lock(&a->mu);
    if (a->n < A_MAX) {
        a->tags[a->n] = tag;
        a->acks[a->n] = *ack;
    }
    a->n++;
    pthread_mutex_unlock(&a->mu);
}

// The options of s_backend_timeout plus on_ack and a queue cap.
static wbi_backend_t *s_backend_acks(peer_t *p, int flush_ms, acks_t *a, size_t queue_max)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", p->port);
    wbi_backend_opts_t o = {.base_url = url,
                            .api_key = "testkey",
                            .flush_interval_ms = flush_ms,
                            .heartbeat_ms = 60000,
                            .request_timeout_ms = 5000,
                            .max_retries = 10,
                            .retry_min_ms = 20,
                            .retry_max_ms = 200,
                            .on_ack = s_on_ack,
                            .ack_arg = a,
                            .queue_max_bytes = queue_max};
    wbi_backend_t *b = NULL;
    CHECK_OK(wbi_backend_new(&b, &o));
    return b;
}

// Counts file_stream requests of a run the peer answered with 200 (lock held).
static int s_count_fs_ok(peer_t *p, const char *run)
{
    int n = 0;
    for (int i = 0; i < p->nreqs; i++)
        n += p->reqs[i].status == 200 && strstr(p->reqs[i].url, run) &&
             strstr(p->reqs[i].url, "/file_stream");
    return n;
}

// on_ack after each acknowledged file_stream request, across a 503 burst:
// the first offset is historyLineCount, the count grows by prefixes to all
// lines, and only the last call says completed.
static void test_ack_offsets(void)
{
    peer_t *p = s_peer_start();
    p->hlc = 5;
    for (int i = 0; i < 4; i++)
        s_script(p, "file_stream", 503, NULL, NULL);
    acks_t a = {.n = 0};
    pthread_mutex_init(&a.mu, NULL);
    wbi_backend_t *b = s_backend_acks(p, 20, &a, 0);
    int tag = 0;
    wbi_run_meta_t m = s_meta("run-k");
    m.tag = &tag;
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    for (int chunk = 0; chunk < 8; chunk++) {
        s_log(b, r, chunk * 25, 25);
        usleep(15 * 1000);
    }
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK(st.retries >= 4);
    CHECK_EQ(st.failures, 0);
    CHECK_OK(wbi_backend_result(b));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-k", 5, 200);
    int fs_ok = s_count_fs_ok(p, "run-k");
    pthread_mutex_unlock(&p->mu);
    CHECK(a.n > 1 && a.n <= A_MAX);
    CHECK_EQ(a.n, fs_ok); // one call per acknowledged request, complete included
    uint64_t prev = 0;
    for (int i = 0; i < a.n; i++) {
        CHECK(a.tags[i] == &tag);
        CHECK_EQ(a.acks[i].first_offset, 5);
        CHECK(a.acks[i].lines >= prev);
        prev = a.acks[i].lines;
        CHECK_EQ(a.acks[i].completed, i == a.n - 1);
    }
    CHECK_EQ(prev, 200);
    pthread_mutex_destroy(&a.mu);
    s_peer_stop(p);
}

// has_first_offset: the caller's first offset wins over historyLineCount.
static void test_first_offset_given(void)
{
    peer_t *p = s_peer_start();
    p->hlc = 7;
    acks_t a = {.n = 0};
    pthread_mutex_init(&a.mu, NULL);
    wbi_backend_t *b = s_backend_acks(p, 20, &a, 0);
    wbi_run_meta_t m = s_meta("run-s");
    m.has_first_offset = true;
    m.first_offset = 3;
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 6);
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-s", 3, 6);
    CHECK(s_find_run(p, "run-s")->complete);
    pthread_mutex_unlock(&p->mu);
    CHECK(a.n >= 1 && a.n <= A_MAX);
    CHECK_EQ(a.acks[a.n - 1].first_offset, 3);
    CHECK_EQ(a.acks[a.n - 1].lines, 6);
    CHECK(a.acks[a.n - 1].completed);
    pthread_mutex_destroy(&a.mu);
    s_peer_stop(p);
}

// A 401 on file_stream: WANDB_EAUTH, the message names request, run and
// status, the run's lines are refused (later ones too), no complete.
static void test_auth_failure(void)
{
    peer_t *p = s_peer_start();
    s_script(p, "run-n/file_stream", 401, NULL, NULL);
    acks_t a = {.n = 0};
    pthread_mutex_init(&a.mu, NULL);
    wbi_backend_t *b = s_backend_acks(p, 20, &a, 0);
    wbi_run_meta_t m = s_meta("run-n");
    wbi_backend_run_t *r = wbi_backend_run_open(b, &m);
    s_log(b, r, 0, 10);
    CHECK_OK(wbi_backend_drain(b, 5000));
    s_log(b, r, 10, 4);
    wbi_backend_run_finish(b, r, 0);
    CHECK_OK(wbi_backend_drain(b, 5000));
    CHECK_ERR(wbi_backend_result(b), WANDB_EAUTH);
    CHECK_STREQ(wbi_backend_errmsg(b),
                "run 'run-n': file_stream answered HTTP 401 (missing or wrong API key)");
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.auth_failures, 1);
    CHECK_EQ(st.failures, 1);
    CHECK_EQ(st.lines_refused, 14);
    CHECK_EQ(st.history_lines_sent, 0);
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    int fs = 0;
    for (int i = 0; i < p->nreqs; i++)
        fs += strstr(p->reqs[i].url, "/file_stream") != NULL;
    CHECK_EQ(fs, 1); // a 401 is final
    CHECK(s_find_run(p, "run-n") == NULL || !s_find_run(p, "run-n")->complete);
    pthread_mutex_unlock(&p->mu);
    CHECK_EQ(a.n, 0);
    pthread_mutex_destroy(&a.mu);
    s_peer_stop(p);
}

// Prefix rule with a tiny queue: after the first refused line no later line
// of that run goes out (even once the queue has room again) and it gets no
// complete; another run of the same backend goes on and completes.
static void test_prefix_rule(void)
{
    peer_t *p = s_peer_start();
    acks_t a = {.n = 0};
    pthread_mutex_init(&a.mu, NULL);
    wbi_backend_t *b = s_backend_acks(p, 60000, &a, 600);
    int tag_q = 1, tag_o = 2;
    wbi_run_meta_t mq = s_meta("run-q"), mo = s_meta("run-ok");
    mq.tag = &tag_q;
    mo.tag = &tag_o;
    wbi_backend_run_t *rq = wbi_backend_run_open(b, &mq);
    wbi_backend_run_t *ro = wbi_backend_run_open(b, &mo);
    CHECK_OK(wbi_backend_drain(b, 5000)); // both upserted
    s_log(b, rq, 0, 200);                 // ~6 KB into a 600-byte queue
    wbi_backend_stats_t st;
    wbi_backend_get_stats(b, &st);
    CHECK(st.lines_refused > 0 && st.lines_refused < 200);
    uint64_t accepted = 200 - st.lines_refused;
    CHECK_OK(wbi_backend_drain(b, 5000)); // the queue is empty again
    s_log(b, rq, 200, 5);                 // would fit now: refused by the prefix rule
    wbi_backend_run_finish(b, rq, 0);
    s_log(b, ro, 0, 10);
    wbi_backend_run_finish(b, ro, 0);
    CHECK_OK(wbi_backend_drain(b, 5000)); // a refused run does not hold drain up
    wbi_backend_get_stats(b, &st);
    CHECK_EQ(st.lines_refused, 200 - accepted + 5);
    CHECK_EQ(st.history_lines_sent, accepted + 10);
    CHECK_OK(wbi_backend_result(b)); // refusing is not a request failure
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    s_check_lines(p, "run-q", 0, (int)accepted);
    CHECK(!s_find_run(p, "run-q")->complete);
    s_check_lines(p, "run-ok", 0, 10);
    CHECK(s_find_run(p, "run-ok")->complete);
    pthread_mutex_unlock(&p->mu);
    uint64_t q_lines = 0;
    bool o_done = false;
    for (int i = 0; i < a.n && i < A_MAX; i++) {
        if (a.tags[i] == &tag_q) {
            CHECK(!a.acks[i].completed);
            q_lines = a.acks[i].lines;
        } else {
            CHECK(a.tags[i] == &tag_o);
            o_done |= a.acks[i].completed;
        }
    }
    CHECK_EQ(q_lines, accepted);
    CHECK(o_done);
    pthread_mutex_destroy(&a.mu);
    s_peer_stop(p);
}

// First request answered at or after t, with status (0: any) and url
// containing match (NULL: any); -1 when none (lock held).
static int s_first_req(peer_t *p, int64_t t, int status, const char *match)
{
    for (int i = 0; i < p->nreqs; i++) {
        const p_req_t *r = &p->reqs[i];
        if (r->t_ms >= t && (!status || r->status == status) && (!match || strstr(r->url, match)))
            return i;
    }
    return -1;
}

// A 429 with Retry-After on one run's request pauses EVERY run (the whole
// client slows down); so does RateLimit-Remaining: 0 for RateLimit-Reset.
static void test_rate_limits_slow_everyone(void)
{
    peer_t *p = s_peer_start();
    wbi_backend_t *b = s_backend(p, 20, 60000);
    wbi_run_meta_t ma = s_meta("run-a"), mb = s_meta("run-b");
    wbi_backend_run_t *ra = wbi_backend_run_open(b, &ma);
    wbi_backend_run_t *rb = wbi_backend_run_open(b, &mb);
    CHECK_OK(wbi_backend_drain(b, 5000));
    pthread_mutex_lock(&p->mu);
    s_script(p, "run-a/file_stream", 429, "1", NULL);
    s_script_rl(p, "run-b/file_stream", 200, "0", "1");
    int64_t t0 = s_now_ms();
    pthread_mutex_unlock(&p->mu);
    int logged = 0;
    for (; logged < 150 && s_now_ms() - t0 < 3500; logged++) {
        s_log(b, ra, logged, 1);
        s_log(b, rb, logged, 1);
        usleep(20 * 1000);
    }
    wbi_backend_run_finish(b, ra, 0);
    wbi_backend_run_finish(b, rb, 0);
    CHECK_OK(wbi_backend_drain(b, 10000));
    wbi_backend_destroy(&b);
    pthread_mutex_lock(&p->mu);
    int i429 = s_first_req(p, t0, 429, NULL);
    int irl = s_first_req(p, t0, 200, "run-b/file_stream");
    CHECK(i429 >= 0 && irl >= 0);
    int pauses[2] = {i429, irl};
    for (int k = 0; k < 2; k++) {
        const p_req_t *at = &p->reqs[pauses[k]];
        int next = pauses[k] + 1 < p->nreqs ? pauses[k] + 1 : -1;
        CHECK(next > 0);
        int64_t gap = p->reqs[next].t_ms - at->t_ms;
        if (gap < 900 || gap > 2500)
            WBT_FAIL("%s: next request of any run after %lld ms, want about 1000",
                     k ? "RateLimit-Remaining 0" : "429", (long long)gap);
    }
    s_check_lines(p, "run-a", 0, logged); // nothing lost or sent twice meanwhile
    s_check_lines(p, "run-b", 0, logged);
    pthread_mutex_unlock(&p->mu);
    s_peer_stop(p);
}

// The http2 settings text; an unknown value is refused by wbi_backend_new.
static void test_parse_http2(void)
{
    int v = -1;
    CHECK_OK(wbi_backend_parse_http2("auto", &v));
    CHECK_EQ(v, WBI_HTTP2_AUTO);
    CHECK_OK(wbi_backend_parse_http2("prior-knowledge", &v));
    CHECK_EQ(v, WBI_HTTP2_PRIOR_KNOWLEDGE);
    CHECK_OK(wbi_backend_parse_http2("off", &v));
    CHECK_EQ(v, WBI_HTTP2_OFF);
    CHECK_ERR(wbi_backend_parse_http2("on", &v), WANDB_EINVAL);
    CHECK_ERR(wbi_backend_parse_http2(NULL, &v), WANDB_EINVAL);
    wbi_backend_opts_t o = {.base_url = "http://127.0.0.1:1", .http2 = 7};
    wbi_backend_t *b = NULL;
    CHECK_ERR(wbi_backend_new(&b, &o), WANDB_EINVAL);
}

WBT_MAIN({"two_runs_one_connection", test_two_runs_one_connection},
         {"retry_after_honoured", test_retry_after_honoured}, {"503_bursts", test_503_bursts},
         {"heartbeat", test_heartbeat}, {"abandon", test_abandon},
         {"give_up_one_run", test_give_up_one_run}, {"upsert_errors", test_upsert_errors},
         {"offset_config_alert_preempt", test_offset_config_alert_preempt},
         {"drain_timeout", test_drain_timeout}, {"bad_input", test_bad_input},
         {"big_answers", test_big_answers}, {"alerts_bounded", test_alerts_bounded},
         {"files_per_batch", test_files_per_batch}, {"destroy_in_flight", test_destroy_in_flight},
         {"ack_offsets", test_ack_offsets}, {"first_offset_given", test_first_offset_given},
         {"auth_failure", test_auth_failure}, {"prefix_rule", test_prefix_rule},
         {"rate_limits_slow_everyone", test_rate_limits_slow_everyone},
         {"parse_http2", test_parse_http2})
