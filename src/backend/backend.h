//  backend.h - the W&B HTTP client: every run of a job over ONE connection
//  SPDX-License-Identifier: MIT
//
//  Speaks the protocol of docs (WANDB_PROTOCOL.md): UpsertBucket,
//  ServerFeaturesQuery (once, after the first upsert; its answer is unused), file_stream (history,
//  summary, heartbeats, uploaded, preempting, complete/exitcode), NotifyScriptableRunAlert,
//  CreateRunFiles and the PUT of run files to their upload URLs. One background thread owns one
//  curl multi handle and one connection: over HTTP/2 (offered by ALPN, or h2c by prior
//  knowledge) up to max_streams requests share it, at most one per run so a run's requests
//  stay in order; over HTTP/1.1 one request at a time. A request budget for the whole backend
//  stretches each run's file_stream interval as runs are added; 429 and RateLimit-* slow the
//  whole client down. Retries 429/5xx/network errors with backoff, honouring Retry-After; never
//  re-sends an acknowledged offset.
//
//  Thread: every function may be called from any thread (an internal mutex
//  guards the queues; it is never held during I/O).
#ifndef WBI_BACKEND_H
#define WBI_BACKEND_H

#include "common/runmeta.h"
#include "wandb.h"

typedef struct wbi_backend wbi_backend_t;

// HTTP/2 use (wbi_backend_opts_t.http2).
enum {
    WBI_HTTP2_AUTO = 0,            // HTTP/2 over TLS when ALPN offers it; HTTP/1.1 on cleartext
    WBI_HTTP2_PRIOR_KNOWLEDGE = 1, // also h2c on cleartext, without an upgrade round trip
    WBI_HTTP2_OFF = 2,             // HTTP/1.1 only
};
typedef struct wbi_backend_run wbi_backend_run_t;

// What the server acknowledged of one stream of a run (see wbi_backend_ack_t).
typedef struct {
    int64_t first_offset; // server offset of the first line queued for the stream
    uint64_t lines;       // lines queued, from the first, acknowledged so far
} wbi_backend_stream_ack_t;

// What the server acknowledged of one run, handed to on_ack. The
// acknowledged lines are always a prefix of the lines queued for the run
// (history), and of each stream's lines.
typedef struct {
    int64_t first_offset; // server history offset of the first line queued for the run
    uint64_t lines;       // lines queued for the run, from the first, acknowledged so far
    bool completed;       // complete/exitcode acknowledged
    wbi_backend_stream_ack_t streams[WBI_STREAMS]; // per stream (WBI_STREAM_*)
} wbi_backend_ack_t;

typedef struct {
    const char *base_url;   // e.g. "http://127.0.0.1:8080" (copied)
    const char *api_key;    // sent as Basic "api:<key>" (copied; never logged)
    int flush_interval_ms;  // file_stream send interval; 0: 15000
    int heartbeat_ms;       // "{}" this long after the last acknowledged file_stream; 0: 30000
    int request_timeout_ms; // per attempt; 0: 30000
    int max_retries;        // per request; 0: 20; < 0: none
    int retry_min_ms;       // first backoff; 0: 2000
    int retry_max_ms;       // backoff cap; 0: 60000
    // called on the backend thread after each acknowledged file_stream request of a run (and
    // once when complete is acknowledged), without the backend lock held; NULL: none
    void (*on_ack)(void *arg, void *tag, const wbi_backend_ack_t *ack);
    void *ack_arg;          // first argument of on_ack
    size_t queue_max_bytes; // history bytes queued or unacknowledged per backend; 0: 256 MiB
    int http2;              // WBI_HTTP2_AUTO (0), WBI_HTTP2_PRIOR_KNOWLEDGE, WBI_HTTP2_OFF
    const char *ca_cert;    // PEM CA file for TLS; NULL: system CAs (copied)
    int max_streams;        // concurrent requests on an HTTP/2 connection; 0: 32 (at most 256)
    double request_budget;  // requests per second for the whole backend; 0: 50
} wbi_backend_opts_t;

typedef struct {
    uint64_t requests;           // HTTP requests completed (any status)
    uint64_t retries;            // attempts repeated after 429/5xx/network errors
    uint64_t failures;           // requests given up on
    uint64_t history_lines_sent; // history lines acknowledged by the server
    uint64_t lines_refused;     // lines refused: queue full, too big, after finish, run given up on
    uint64_t auth_failures;     // requests answered 401/403
    uint64_t max_in_flight;     // most requests in flight at once (1 over HTTP/1.1)
    uint64_t stream_lines_sent; // event and console lines acknowledged by the server
} wbi_backend_stats_t;

// Parses the http2 setting: "auto", "prior-knowledge" or "off" into *out
// (WBI_HTTP2_*); WANDB_EINVAL otherwise. Thread: any.
wandb_err wbi_backend_parse_http2(const char *text, int *out);

// Starts the backend thread. Does not connect until there is work.
// WANDB_EINVAL for a missing base_url, an unknown http2 or a negative budget.
// Returns a new object in *out; destroy it with wbi_backend_destroy().
wandb_err wbi_backend_new(wbi_backend_t **out, const wbi_backend_opts_t *opts);
// Stops the thread (without waiting for unsent data: call drain first),
// frees every run and sets *self_p to NULL. NULL-safe.
void wbi_backend_destroy(wbi_backend_t **self_p);

// Registers a run and queues its first UpsertBucket. Returns a handle owned
// by the backend (valid until wbi_backend_destroy), or NULL when out of memory.
wbi_backend_run_t *wbi_backend_run_open(wbi_backend_t *self, const wbi_run_meta_t *meta);
// Queues one history line (a JSON object text, copied) for file_stream.
// Prefix rule: once a line of the run is refused (queue full, too big, not
// UTF-8, run given up on), every later line of the run is refused too
// (counted in lines_refused) and the run gets no complete/exitcode, so what
// the server acknowledged is always a prefix of what was queued. A line
// after finish is refused and counted without cancelling the complete.
void wbi_backend_run_history(wbi_backend_t *self, wbi_backend_run_t *run, const char *line,
                             size_t len);
// Queues one line (copied) of a stream file (WBI_STREAM_EVENTS: a JSON
// object text; WBI_STREAM_OUTPUT: one console line without its newline) for
// file_stream, at that file's own offset. The history rules hold per stream:
// acknowledged like history (on_ack), the prefix rule (once a line of a
// stream is refused, so is every later line of that stream, and the run
// gets no complete/exitcode), and a cap: stream lines queued or
// unacknowledged take at most a quarter of queue_max_bytes, so a chatty
// console cannot starve history. Another file value is ignored.
void wbi_backend_run_stream(wbi_backend_t *self, wbi_backend_run_t *run, int file, const char *line,
                            size_t len);
// The file name of a stream ("wandb-events.jsonl", "output.log"); NULL
// for another value. Thread: any.
const char *wbi_backend_stream_name(int file);
// The stream of a file name, or -1. Thread: any.
int wbi_backend_stream_of(const char *name, size_t len);
// Replaces the run summary (the whole JSON object text, copied); sent as the
// one line of wandb-summary.json at the next flush.
void wbi_backend_run_summary(wbi_backend_t *self, wbi_backend_run_t *run, const char *json,
                             size_t len);
// Replaces the whole (unwrapped) config; sent by a debounced UpsertBucket.
void wbi_backend_run_config(wbi_backend_t *self, wbi_backend_run_t *run, const char *config_json);
// Sets the run's display name, notes and tags (each NULL: unchanged), sent
// by the next (debounced) UpsertBucket, as the official client sends a
// changed run.name, run.notes or run.tags.
void wbi_backend_run_update(wbi_backend_t *self, wbi_backend_run_t *run, const char *display_name,
                            const char *notes, const char *tags);
// Queues an alert (NotifyScriptableRunAlert). level: "INFO", "WARN", "ERROR".
// At most 64 queued per run (more are dropped, counted, warned once); an
// alert whose title was sent less than its wait_ms ago is not sent again.
void wbi_backend_run_alert(wbi_backend_t *self, wbi_backend_run_t *run, const char *title,
                           const char *text, const char *level, int64_t wait_ms);
// Queues a run file (wandb_save) under its run-relative name: the thread
// asks CreateRunFiles for an upload URL, PUTs the bytes there (no
// credentials) and reports the name in the next file_stream "uploaded".
// A queued file of the same name not yet uploaded gets the new bytes.
// Consumes *data_p (len bytes, from wbi_malloc) and sets it to NULL, on
// success and failure. WANDB_EINVAL (a name wbi_run_file_name_ok refuses),
// WANDB_EFULL (over 512 MiB of files queued), WANDB_ECLOSED (run finished or
// given up), WANDB_ENOMEM. Summary, config, alert and file calls after
// wbi_backend_run_finish are refused (counted, logged), as history is.
wandb_err wbi_backend_run_file(wbi_backend_t *self, wbi_backend_run_t *run, const char *name,
                               char **data_p, size_t len);
// Queues an artifact event of the run (a JSON object text {event: commit |
// use | link, project, name, version, ...}, see docs/artifacts.md) whose
// bytes are in the aggregator's store at store_dir: a committed version is
// saved with the official requests (backend/artifact.h), a use recorded
// with UseArtifact, a link with LinkArtifact; in the run's order, before its
// complete/exitcode. WANDB_EINVAL (not an event, a version the store lacks),
// WANDB_ECLOSED (the run ended in the backend), WANDB_ENOMEM.
wandb_err wbi_backend_run_artifact(wbi_backend_t *self, wbi_backend_run_t *run, const char *event,
                                   size_t len, const char *store_dir);
// Sends "preempting": true with the next request, at once.
void wbi_backend_run_preempting(wbi_backend_t *self, wbi_backend_run_t *run);
// Marks the run ended: once everything queued before is sent, the final
// file_stream request carries complete=true and exitcode.
void wbi_backend_run_finish(wbi_backend_t *self, wbi_backend_run_t *run, int exit_code);
// Marks the run abandoned (its process went silent): data queued so far is
// still sent, but no "{}" heartbeats follow, so the server marks the run
// crashed after its heartbeat timeout. Any later call that queues data for
// the run (history, summary, config, alert, file, preempting) revives it.
void wbi_backend_run_abandon(wbi_backend_t *self, wbi_backend_run_t *run);
// Copies the entity the server named for the run into buf (empty until the
// first UpsertBucket answered). Returns true when known.
bool wbi_backend_run_entity(wbi_backend_t *self, wbi_backend_run_t *run, char *buf, size_t len);

// For a run opened with a resume mode (meta.resume): copies what
// RunResumeStatus decided into *out (release with wbi_run_resume_release)
// and returns true once decided; false while pending. A run opened without
// a resume mode is decided at once (WBI_RESUMED_NEW). A refused run
// (EXISTS, MISSING, FAILED) was given up on before it sent anything.
bool wbi_backend_run_resume(wbi_backend_t *self, wbi_backend_run_t *run, wbi_run_resume_t *out);

// Sends everything queued now (without waiting for the flush interval) and
// waits until every queued line and every finish is acknowledged, or
// timeout_ms passes (WANDB_ETIMEDOUT). Thread: not the backend's own.
wandb_err wbi_backend_drain(wbi_backend_t *self, int timeout_ms);
void wbi_backend_get_stats(wbi_backend_t *self, wbi_backend_stats_t *out);
// The outcome so far: WANDB_OK; WANDB_EAUTH when a request was answered
// 401 or 403; WANDB_EBACKEND when another request was given up on (a final
// 4xx, retries exhausted, a GraphQL error). A failed ServerFeaturesQuery
// (optional) counts only when it was a 401/403.
wandb_err wbi_backend_result(wbi_backend_t *self);
// Text of the failure behind wbi_backend_result when it is not WANDB_OK
// ("run 'abc': file_stream answered HTTP 401 (missing or wrong API key)";
// the first auth failure, else the first other failure); otherwise the last
// retry reason (kept after later successes; empty until the first).
const char *wbi_backend_errmsg(wbi_backend_t *self);

#endif
