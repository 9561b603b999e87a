//  request.h - W&B request bodies and answers, without I/O
//  SPDX-License-Identifier: MIT
//
//  Builds the GraphQL bodies (ServerFeaturesQuery, UpsertBucket,
//  NotifyScriptableRunAlert, CreateRunFiles) and the file_stream body, wraps
//  the config and reads the UpsertBucket and CreateRunFiles answers. Pure functions: no threads, no
//  network. Thread: any (no state).
#ifndef WBI_BACKEND_REQUEST_H
#define WBI_BACKEND_REQUEST_H

#include "backend/backend.h"
#include "backend/list.h"
#include "common/buf.h"
#include "wandb.h"
#include <jansson.h>

// Longest history/summary line the backend takes (common/runmeta.h).
#define WBI_BK_LINE_MAX WBI_LINE_MAX
// Soft cap on one file_stream body; bigger backlogs are split.
#define WBI_BK_REQUEST_MAX ((size_t)10 * 1024 * 1024)

// One queued history line (a JSON object text).
typedef struct wbi_bk_line {
    wbi_list_node_t node; // next line of the same run (first member)
    size_t len;           // bytes in data (no NUL counted)
    char data[];          // the line, NUL-terminated
} wbi_bk_line_t;

// The line after line, or NULL.
#define WBI_BK_LINE_NEXT(line) WBI_LIST_ITEM((line)->node.next, wbi_bk_line_t, node)

// The UpsertBucket variables we set; NULL is sent as JSON null.
typedef struct {
    const char *id;           // bucket id from an earlier answer
    const char *name;         // run ID
    const char *project;      // project name
    const char *entity;       // entity name
    const char *group;        // groupName
    const char *display_name; // displayName
    const char *notes;        // notes
    const char *host;         // host
    const char *program;      // program
    const char *job_type;     // jobType
    const char *tags;         // comma-separated; sent as a list
    const char *config;       // already wrapped config JSON text
} wbi_bk_upsert_t;

// The lines of one stream file (WBI_STREAM_*) in a file_stream request.
typedef struct {
    int64_t offset;             // offset of the first line in its file
    const wbi_bk_line_t *lines; // first line to send, or NULL
    size_t nlines;              // lines available from `lines`
} wbi_bk_fs_stream_t;

// What one file_stream request carries.
typedef struct {
    int64_t offset;                          // offset of the first history line
    const wbi_bk_line_t *lines;              // first history line to send, or NULL
    size_t nlines;                           // lines available from `lines`
    const char *summary;                     // whole summary JSON, or NULL
    size_t summary_len;                      // its length
    const char *const *uploaded;             // run files whose PUT succeeded, for "uploaded"
    size_t nuploaded;                        // entries in uploaded (0: no key)
    bool preempting;                         // add "preempting": true
    bool finishing;                          // add complete/exitcode if every line fits
    int exit_code;                           // exitcode sent with complete
    size_t max_bytes;                        // soft body cap (0: WBI_BK_REQUEST_MAX)
    wbi_bk_fs_stream_t streams[WBI_STREAMS]; // events and console lines, after history
    size_t *stream_taken; // out, NULL or WBI_STREAMS entries: lines taken per stream
} wbi_bk_fs_t;

// What an UpsertBucket answer told us.
typedef struct {
    char *bucket_id;            // bucket.id (wbi_free), or NULL
    char *entity;               // bucket.project.entity.name (wbi_free), or NULL
    int64_t history_line_count; // bucket.historyLineCount (0 if absent)
} wbi_bk_bucket_t;

// What a CreateRunFiles answer told us, per requested name.
typedef struct {
    size_t n;        // names asked for
    char **urls;     // uploadUrl of names[i] (wbi_free), NULL: no upload wanted
    char **headers;  // uploadHeaders, "Key:Value" each (wbi_free)
    size_t nheaders; // entries in headers
} wbi_bk_files_t;

// Wraps every top-level key of an unwrapped config object (extended JSON)
// as {"k":{"value":v}}. *out gets a new string (wbi_free). WANDB_EPROTO when
// config_json is not a JSON object (err, if given, says where).
wandb_err wbi_bk_config_wrap(const char *config_json, char **out, char *err, size_t errlen);

// Appends {"query","variables","operationName"} for each operation.
wandb_err wbi_bk_features_body(wbi_buf_t *out);
wandb_err wbi_bk_upsert_body(wbi_buf_t *out, const wbi_bk_upsert_t *u);
wandb_err wbi_bk_files_body(wbi_buf_t *out, const char *entity, const char *project,
                            const char *run_id, const char *const *names, size_t n);
wandb_err wbi_bk_alert_body(wbi_buf_t *out, const char *entity, const char *project,
                            const char *run_id, const char *title, const char *text,
                            const char *level, int64_t wait_ms);

// Appends a file_stream body. Takes history lines from fs->lines while the
// body stays under the cap (always at least one); *taken gets how many.
// Then the lines of each stream, while the body stays under the cap (the
// first line of the body always goes); fs->stream_taken gets how many.
// complete/exitcode are added only when fs->finishing and every line was
// taken; *completed says whether they were. Nothing to send gives "{}".
wandb_err wbi_bk_fs_body(wbi_buf_t *out, const wbi_bk_fs_t *fs, size_t *taken, bool *completed);

// Checks a GraphQL answer: WANDB_OK with *data_out (a new reference) when it
// has a "data" object and no non-empty "errors"; else WANDB_EBACKEND or
// WANDB_EPROTO with the reason in err.
wandb_err wbi_bk_graphql_data(const char *body, size_t len, json_t **data_out, char *err,
                              size_t errlen);
// Reads an UpsertBucket answer into *b (release with wbi_bk_bucket_release).
wandb_err wbi_bk_parse_upsert(const char *body, size_t len, wbi_bk_bucket_t *b, char *err,
                              size_t errlen);
void wbi_bk_bucket_release(wbi_bk_bucket_t *b);
// Reads a CreateRunFiles answer for names[0..n): WANDB_EPROTO unless it has
// exactly one entry per name. Release *f with wbi_bk_files_release.
wandb_err wbi_bk_parse_files(const char *body, size_t len, const char *const *names, size_t n,
                             wbi_bk_files_t *f, char *err, size_t errlen);
void wbi_bk_files_release(wbi_bk_files_t *f);

// Appends s percent-encoded for one URL path segment (RFC 3986 unreserved
// characters kept).
wandb_err wbi_bk_url_escape(wbi_buf_t *out, const char *s);
// Appends "<base>/files/<entity>/<project>/<run>/file_stream".
wandb_err wbi_bk_fs_url(wbi_buf_t *out, const char *base, const char *entity, const char *project,
                        const char *run_id);

#endif
