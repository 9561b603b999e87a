//  backend_int.h - the state the backend's files share
//  SPDX-License-Identifier: MIT
//
//  The backend is split by job: backend.c (the public object, the thread
//  and its loop), queue.c (what callers enqueue, and freeing it), sched.c
//  (which request goes next and when: per-run order, the job-wide request
//  budget, 429 and RateLimit-* slow-downs; time is an argument), kinds.c
//  (the table of request kinds: build a request, read its answer, apply it)
//  and http.c (the curl multi transport). Fields marked "guarded" are
//  read and written under wbi_backend.mu; the others are the thread's.
#ifndef WBI_BACKEND_INT_H
#define WBI_BACKEND_INT_H

#include "backend/backend.h"
#include "backend/http.h"
#include "backend/list.h"
#include "backend/request.h"
#include "backend/retry.h"
#include "backend/sched.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define WBI_BK_QUEUE_MAX ((size_t)256 << 20) // history bytes queued per backend
#define WBI_BK_FEATURES_ATTEMPTS 3           // ServerFeaturesQuery is optional (answer unused)
#define WBI_BK_CONFIG_DEBOUNCE_MS 5000       // like wandb-core's run upserter
#define WBI_BK_IDLE_WAKE_MS 1000             // longest sleep of the thread
#define WBI_BK_FILES_MAX ((size_t)512 << 20) // run-file bytes queued per backend
#define WBI_BK_FILES_BATCH 100               // names per CreateRunFiles
#define WBI_BK_UPLOADED_MAX 100000           // names waiting to be reported per run
#define WBI_BK_ALERTS_MAX 64                 // alerts queued per run
#define WBI_BK_ALERT_TITLES 16               // titles remembered per run (waitDuration)

typedef enum {
    WBI_BK_REQ_NONE = 0,
    WBI_BK_REQ_FEATURES, // ServerFeaturesQuery (backend-wide, once, after the first upsert)
    WBI_BK_REQ_UPSERT,   // first UpsertBucket of a run
    WBI_BK_REQ_CONFIG,   // later, debounced UpsertBucket with the config
    WBI_BK_REQ_ALERT,    // NotifyScriptableRunAlert
    WBI_BK_REQ_FS,       // file_stream: data, heartbeat or complete
    WBI_BK_REQ_FILES,    // CreateRunFiles for a batch of saved files
    WBI_BK_REQ_PUT,      // the upload of one file to its uploadUrl
    WBI_BK_REQ_ART,      // one step of an artifact job (artifact.c)
    WBI_BK_REQ_RESUME,   // RunResumeStatus, before the first UpsertBucket of a resuming run
    WBI_BK_REQ_KINDS,    // number of kinds
} wbi_bk_kind;

// A run file (wandb_save) on its way: CreateRunFiles, then PUT.
typedef struct wbi_bk_file {
    wbi_list_node_t node; // link in the queue it is in (first member)
    char *name;           // run-relative, '/'-separated path
    char *data;           // the bytes (owned)
    size_t len;           // bytes in data
    char *url;            // uploadUrl from CreateRunFiles; NULL before
} wbi_bk_file_t;

// An artifact job (artifact.c): a committed version to save, a use, a link.
typedef struct wbi_bk_art {
    wbi_list_node_t node; // link in the run's artifact queue (first member)
    json_t *ev;           // the event (owned)
    json_t *contents;     // commit: the manifest's contents (owned)
    json_t *files;        // commit: paths of the entries with bytes, in request order
    json_t *urls;         // commit: uploadUrl per file (null: the server has it)
    char **headers;       // uploadHeaders of the last answer (owned)
    size_t nheaders;      // entries in headers
    char dir[1024];       // the store directory
    int step;             // where the job stands (artifact.c)
    size_t idx;           // commit: the next file to PUT
    char *artifact_id;    // the server's id of the version
    char *manifest_id;    // commit: the manifest's id
    char *upload_url;     // commit: where the manifest goes
    char *manifest;       // commit: the manifest text uploaded
    json_t *answer;       // the data of the last answer (owned), NULL: none
    FILE *fp;             // commit: the file being PUT
} wbi_bk_art_t;

typedef struct wbi_bk_alert {
    wbi_list_node_t node; // link in the run's alert queue (first member)
    char *title;          // alert title
    char *text;           // alert text
    char *level;          // INFO, WARN or ERROR
    int64_t wait_ms;      // waitDuration
} wbi_bk_alert_t;

// An alert title sent lately: a new alert of that title within its
// waitDuration is not sent again.
typedef struct {
    char *title;   // the title (owned), NULL: free slot
    int64_t at_ms; // when its alert was acknowledged
} wbi_bk_sent_t;

// The alert titles a run sent lately.
typedef struct {
    wbi_bk_sent_t at[WBI_BK_ALERT_TITLES]; // the titles, any order
} wbi_bk_titles_t;

// One request of a run, from the moment it is taken until it is answered.
typedef struct {
    wbi_bk_kind kind;             // WBI_BK_REQ_NONE: no request
    bool built;                   // url and body are ready (retries re-send them)
    int attempt;                  // attempts made so far
    int64_t due_ms;               // monotonic time of the next attempt
    bool flying;                  // started on the transport, not answered yet
    wbi_buf_t url;                // target URL
    wbi_buf_t body;               // request body
    char *config;                 // UPSERT/CONFIG: the unwrapped config taken (owned)
    char *meta[3];                // CONFIG: displayName, notes, tags updated (owned; NULL: same)
    wbi_bk_alert_t *alert;        // ALERT: the alert (owned)
    char *summary;                // FS: the summary taken (owned)
    size_t summary_len;           // FS: its length
    bool preempting;              // FS: send "preempting": true
    bool finishing;               // FS: complete if every line fits
    int exit_code;                // FS: exitcode with complete
    size_t avail;                 // FS: taken lines available when the request was taken
    size_t nlines;                // FS: history lines in the body
    size_t s_avail[WBI_STREAMS];  // FS: taken stream lines available, per stream
    size_t s_nlines[WBI_STREAMS]; // FS: stream lines in the body, per stream
    bool completed;               // FS: the body carries complete/exitcode
    wbi_bk_file_t *files;         // FILES: the batch asked about; PUT: the one file (owned)
    wbi_bk_art_t *art;            // ART: the job (borrowed: it stays at the head of run->art)
    char **uploaded;              // FS: names reported in "uploaded" (owned)
    size_t nuploaded;             // FS: entries in uploaded
} wbi_bk_req_t;

struct wbi_backend_run {
    wbi_backend_run_t *next; // next run of the backend
    char *run_id;            // meta (immutable after open)
    char *project;           // project name
    char *entity;            // entity from meta, or NULL
    char *group;             // groupName
    char *job_type;          // jobType
    char *display_name;      // displayName
    char *notes;             // notes
    char *host;              // host
    char *program;           // program
    char *tags;              // comma-separated tags
    // --- guarded by the backend mutex ---
    wbi_list_t q;         // lines queued by callers (wbi_bk_line_t)
    wbi_list_t p;         // lines taken by the thread, not yet acknowledged
    char *summary;        // pending summary (replaced by newer ones)
    size_t summary_len;   // its length
    char *config;         // pending unwrapped config
    bool config_dirty;    // config changed since the last upsert took it
    char *meta[3];        // displayName, notes, tags set since the last upsert (NULL: none)
    bool meta_dirty;      // some meta[] waits for an UpsertBucket
    int64_t config_ms;    // when the config last changed (debounce)
    wbi_list_t a;         // queued alerts (wbi_bk_alert_t)
    uint64_t a_dropped;   // alerts dropped: queue full, or title sent within its wait
    bool a_warned;        // the alert-queue-full warning was logged
    wbi_bk_titles_t sent; // alert titles sent lately (thread writes)
    bool fs_turn;         // a due file_stream goes before the next alert or file request
    uint64_t late;        // summaries, configs, alerts, files refused after finish
    wbi_list_t f;         // files waiting for CreateRunFiles (wbi_bk_file_t)
    wbi_list_t u;         // files with an uploadUrl, waiting for their PUT
    wbi_list_t art;       // artifact jobs (wbi_bk_art_t), the head one in progress
    char **up_headers;    // uploadHeaders of the last CreateRunFiles (thread writes)
    size_t n_up_headers;  // entries in up_headers
    char **uploaded;      // names uploaded and not yet reported in file_stream
    size_t n_uploaded;    // entries in uploaded
    size_t cap_uploaded;  // allocated entries
    bool preempt;         // preempting to send
    bool finish;          // finish requested
    bool abandoned;       // no heartbeats: the run's process went silent
    int exit_code;        // exit code of finish
    bool upserted;        // the first UpsertBucket succeeded
    bool dead;            // given up on: queued data dropped, new data refused
    bool completed;       // complete/exitcode acknowledged
    bool refused;         // a line was refused: later lines are too, and no complete is sent
    bool retired; // finished after a refusal and its accepted lines are out: no more requests
    wbi_list_t sq[WBI_STREAMS];    // stream lines queued by callers, per stream
    wbi_list_t sp[WBI_STREAMS];    // stream lines taken by the thread, not yet acknowledged
    bool s_refused[WBI_STREAMS];   // a line of the stream was refused (prefix rule)
    int64_t s_offset[WBI_STREAMS]; // offset of the first unacknowledged line, per stream
    int64_t s_first[WBI_STREAMS];  // offset of the first queued line (immutable after open)
    uint64_t s_acked[WBI_STREAMS]; // lines acknowledged, counted from the first queued
    void *tag;                     // handed back to on_ack (immutable after open)
    bool has_first;                // meta gave the first offset (immutable after open)
    int64_t meta_first;            // that offset
    int64_t first_offset;    // server offset of the run's first queued line (set by the upsert)
    uint64_t acked;          // lines acknowledged, counted from the first queued
    char *bucket_id;         // bucket.id from the server
    char *srv_entity;        // entity the server named
    int64_t hist_offset;     // offset of the first unacknowledged history line
    int64_t last_fs_ms;      // last file_stream answer (heartbeat clock)
    int64_t next_flush_ms;   // earliest next data request
    uint64_t dropped;        // lines refused (too big, invalid, full, dead, after finish)
    wbi_bk_req_t req;        // the request in flight or waiting to be retried
    int resume_mode;         // WBI_RESUME_* of meta (immutable after open)
    wbi_run_resume_t resume; // what RunResumeStatus decided (PENDING until then)
};

// The on_ack callback of the options.
typedef void (*wbi_bk_ack_fn)(void *arg, void *tag, const wbi_backend_ack_t *ack);

struct wbi_backend {
    pthread_mutex_t mu;        // guards everything below except the thread-only fields
    pthread_cond_t done;       // a request finished: wakes drain
    pthread_t thread;          // the sending thread
    bool thread_started;       // thread must be joined
    atomic_bool stop;          // set by destroy: the thread drops what is in flight
    char *base_url;            // base URL without a trailing slash
    char *graphql_url;         // base + "/graphql"
    int flush_ms;              // file_stream interval
    int heartbeat_ms;          // heartbeat after this idle time
    int max_retries;           // retries per request
    int retry_min_ms;          // first backoff
    int retry_max_ms;          // backoff cap
    int debounce_ms;           // config upsert debounce
    int max_streams;           // requests in flight at most on a multiplexed connection
    wbi_sched_t sched;         // request budget and slow-downs
    size_t nlive;              // runs neither completed nor given up on
    wbi_backend_run_t *runs;   // every run, in open order
    wbi_backend_run_t *last;   // last run of the list
    wbi_backend_run_t *cursor; // run served last (round robin)
    int draining;              // drain calls waiting
    bool features_done;        // ServerFeaturesQuery queued (after the first upsert)
    wbi_bk_req_t features;     // the ServerFeaturesQuery request
    size_t queued_bytes;       // history bytes queued or unacknowledged
    size_t queue_max;          // cap of queued_bytes
    size_t stream_bytes;       // stream bytes queued or unacknowledged (also in queued_bytes)
    bool warned_stream_full;   // the stream-queue-full warning was logged
    size_t file_bytes;         // run-file bytes queued or being uploaded
    bool warned_full;          // the queue-full warning was logged
    wbi_backend_stats_t stats; // counters
    wandb_err result;          // wbi_backend_result
    char result_msg[256];      // the failure behind result
    wbi_bk_ack_fn on_ack;      // see the options
    void *ack_arg;             // its first argument
    bool in_callback;          // the thread runs on_ack (drain is not done yet)
    char errmsg[256];          // last failure or retry reason
    char errmsg_out[256];      // copy handed out by wbi_backend_errmsg
    unsigned rand_state;       // jitter (thread only)
    wbi_http_t *http;          // the one connection (thread only; wakeup from any)
};

// The outcome of one attempt, decided outside the lock.
typedef struct {
    wbi_bk_verdict verdict;  // done, retry or fail
    bool answered;           // an HTTP answer arrived
    long status;             // its HTTP status
    int64_t retry_after_ms;  // Retry-After, -1: none
    int64_t rl_remaining;    // RateLimit-Remaining, -1: none
    int64_t rl_reset_ms;     // RateLimit-Reset, -1: none
    int64_t wait_ms;         // RETRY: wait before the next attempt
    wbi_bk_bucket_t bucket;  // UPSERT: what the answer said
    wbi_bk_files_t files;    // FILES: what the answer said
    wbi_run_resume_t resume; // RESUME: the decision the answer made
    int resume_mode;         // RESUME: the run's mode (immutable, copied for answer)
    const char *run_id;      // the run's id for messages ("-" for none)
    char msg[384];           // FAIL: why
} wbi_bk_outcome_t;

// Milliseconds on the monotonic clock.
static inline int64_t wbi_bk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// True when the run has artifact jobs left.
static inline bool wbi_bk_has_art(const wbi_backend_run_t *run)
{
    return !wbi_list_empty(&run->art);
}

// The entity for URLs and alerts: the caller's, else the server's.
static inline const char *wbi_bk_entity(const wbi_backend_run_t *run)
{
    return run->entity ? run->entity : run->srv_entity;
}

// Wakes the thread (new work, drain, stop). Thread: any, lock held or not.
static inline void wbi_bk_wake(wbi_backend_t *self)
{
    wbi_http_wakeup(self->http);
}

// --- queue.c: freeing and moving queued data (lock held) -------------------

size_t wbi_bkq_free_lines(wbi_bk_line_t *line);
void wbi_bkq_alert_free(wbi_bk_alert_t *a);
size_t wbi_bkq_files_free(wbi_bk_file_t *f);
void wbi_bkq_strv_free(char **v, size_t n);
// True when a line of the run (history or a stream) was refused: no complete is sent.
static inline bool wbi_bk_refused(const wbi_backend_run_t *run)
{
    bool r = run->refused;
    for (int f = 0; f < WBI_STREAMS; f++)
        r |= run->s_refused[f];
    return r;
}
// True when the run has stream lines queued or unacknowledged.
static inline bool wbi_bk_has_stream(const wbi_backend_run_t *run)
{
    for (int f = 0; f < WBI_STREAMS; f++)
        if (!wbi_list_empty(&run->sq[f]) || !wbi_list_empty(&run->sp[f]))
            return true;
    return false;
}
// Releases what a request owns and makes the slot empty.
void wbi_bkq_req_clear(wbi_bk_req_t *req);
// Drops everything queued for a run that was given up on.
void wbi_bkq_run_drop(wbi_backend_t *self, wbi_backend_run_t *run);
// Frees a run and everything it holds (the thread is gone).
void wbi_bkq_run_free(wbi_backend_run_t *run);
// Sets up a file_stream request with everything queued.
void wbi_bkq_take_fs(wbi_backend_run_t *run, int64_t now);
// True when an alert of the same title was acknowledged within a's waitDuration.
bool wbi_bkq_alert_recent(const wbi_backend_run_t *run, const wbi_bk_alert_t *a, int64_t now);
// Remembers that an alert of this title was acknowledged at now.
void wbi_bkq_alert_sent(wbi_backend_run_t *run, const char *title, int64_t now);
// Moves the name of an uploaded file into the run's "uploaded" list (takes f).
void wbi_bkq_note_uploaded(wbi_backend_run_t *run, wbi_bk_file_t *f);
// Retires a run that finished after a refused line once its accepted lines
// are acknowledged: it sends nothing more and no longer stretches the others'
// intervals (its complete is left for a later sync).
void wbi_bkq_retire_if_done(wbi_backend_t *self, wbi_backend_run_t *run);

// --- sched.c: the next request (lock held) ----------------------------------

// Finds the next request that may start at now, or lowers *wake to when one
// may; *run_out gets its run (NULL for the backend-wide ServerFeaturesQuery).
// preempting_only: only a file_stream request of a run with "preempting" to
// send (the budget has no token; *wake is left alone).
wbi_bk_req_t *wbi_bk_pick(wbi_backend_t *self, int64_t now, int64_t *wake,
                          wbi_backend_run_t **run_out, bool preempting_only);
// The file_stream interval of a run now (flush interval stretched by the budget).
int64_t wbi_bk_flush_ms(const wbi_backend_t *self, int64_t now);

// --- kinds.c: building, answering and applying requests ---------------------

// Builds a request (first attempt) and starts it on the transport (no lock).
// false: it could not start; o says why (verdict FAIL).
bool wbi_bkk_start(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                   wbi_bk_outcome_t *o);
// Reads an answer into *o (no lock).
void wbi_bkk_finish(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                    const wbi_http_result_t *res, wbi_bk_outcome_t *o);
// Applies an outcome (lock held); true when *ack/*tag are left for on_ack.
bool wbi_bkk_apply(wbi_backend_t *self, wbi_backend_run_t *run, wbi_bk_req_t *req,
                   wbi_bk_outcome_t *o, wbi_backend_ack_t *ack, void **tag);

// --- resume.c: RunResumeStatus (no lock, no I/O) -----------------------------

// Appends the RunResumeStatus request body (entity NULL: null).
wandb_err wbi_bk_resume_body(wbi_buf_t *out, const char *project, const char *entity,
                             const char *name);
// Reads an answer and decides for mode (WBI_RESUME_*) into *out (release
// with wbi_run_resume_release). WANDB_OK with a refused state for a run
// that must not go on; an error (text in err) for a bad answer.
wandb_err wbi_bk_parse_resume(const char *body, size_t len, int mode, const char *run_id,
                              wbi_run_resume_t *out, char *err, size_t errlen);

#endif
