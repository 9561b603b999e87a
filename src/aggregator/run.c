//  run.c - one run inside the aggregator: its life from HELLO to finish, alerts and saved files
//  SPDX-License-Identifier: MIT
//
//  The run opens from a parsed HELLO, passes alerts, preemption and saved files straight to
//  the sink, and ends by close (end of service), finish (FINISH) or abandon (a silent peer).
//  Its keys and rows are assembled in run_row.c, its summary and config in run_summary.c;
//  the state they share is in run_int.h.
#include "aggregator/run.h"
#include "aggregator/run_int.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/relpath.h"
#include <math.h>
#include <string.h>
#include <strings.h>

#define S_ARENA_MAX (16u * 1048576u) // string/JSON bytes in one open row

// Frees a lazily created text buffer.
static void s_text_free(wbi_buf_t **text)
{
    if (*text) {
        wbi_buf_release(*text);
        wbi_free(*text);
        *text = NULL;
    }
}

// Duplicates a string member of obj, or returns NULL (also when not a string).
static char *s_dup_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? wbi_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

// True when s is a valid run ID (WANDB_PROTOCOL.md §9).
static bool s_valid_run_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    return strpbrk(s, ":;,#?/'\t\r\n") == NULL;
}

// True when s is a valid project name.
static bool s_valid_project(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 128 && strpbrk(s, "/\\#?%:") == NULL;
}

// Joins a tags array into a comma-separated string; NULL when not an array.
static char *s_tags(const json_t *v)
{
    if (json_is_string(v))
        return wbi_strdup(json_string_value(v));
    if (!json_is_array(v))
        return NULL;
    wbi_buf_t b;
    wbi_buf_init(&b, 65536);
    size_t i;
    const json_t *t;
    json_array_foreach(v, i, t)
    {
        if (!json_is_string(t))
            continue;
        if (b.len)
            wbi_buf_putc(&b, ',');
        wbi_buf_puts(&b, json_string_value(t));
    }
    if (!b.data)
        wbi_buf_puts(&b, "");
    return wbi_buf_steal(&b);
}

// HELLO: checks run_id and project, copies who the run is and its config, and
// opens it in the sink with the run metadata (run.h).
wandb_err wbi_agg_run_open(wbi_agg_run_t **out, const wbi_agg_sink_t *sink, const json_t *hello,
                           wbi_agg_names_t *names, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (!json_is_object(hello)) {
        *why = "HELLO is not a JSON object";
        return WANDB_EINVAL;
    }
    const char *id = json_string_value(json_object_get(hello, "run_id"));
    const char *project = json_string_value(json_object_get(hello, "project"));
    if (!id || !s_valid_run_id(id)) {
        *why = "HELLO has no valid run_id";
        return WANDB_EINVAL;
    }
    if (!project || !s_valid_project(project)) {
        *why = "HELLO has no valid project";
        return WANDB_EINVAL;
    }
    wandb_err rc = WANDB_ENOMEM;
    char *config_text = NULL;
    char *tags = NULL;
    char *group = NULL, *job_type = NULL, *name = NULL, *notes = NULL, *host = NULL;
    char *program = NULL;
    wbi_agg_run_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    self->sink = *sink;
    self->rank = -1;
    self->last_step = -1;
    self->row_gen = 1;
    self->start_time = NAN;
    wbi_imap_init(&self->ids, WBI_AGG_RUN_MAX_KEYS * 4);
    wbi_imap_init(&self->by_name, WBI_AGG_RUN_MAX_KEYS);
    self->names = names;
    wbi_buf_init(&self->arena, S_ARENA_MAX);
    wbi_buf_init(&self->line, WBI_LINE_MAX);
    wbi_metrics_init(&self->metrics);

    self->run_id = wbi_strdup(id);
    self->project = wbi_strdup(project);
    self->entity = s_dup_member(hello, "entity");
    self->platform = s_dup_member(hello, "platform");
    if (self->entity && self->entity[0] == '\0') {
        wbi_free(self->entity);
        self->entity = NULL;
    }
    self->explicit_ = json_object();
    const json_t *cfg = json_object_get(hello, "config");
    self->config = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
    if (!self->run_id || !self->project || !self->explicit_ || !self->config)
        goto out_free_self;
    const json_t *v = json_object_get(hello, "rank");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < INT32_MAX)
        self->rank = (int)json_integer_value(v);
    double st;
    if (wbi_jsonx_number(json_object_get(hello, "start_time"), &st) && isfinite(st) && st > 0)
        self->start_time = st;
    v = json_object_get(hello, "starting_step");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        self->starting_step = json_integer_value(v);
    self->resume_mode = wbi_agg_resume_mode(json_string_value(json_object_get(hello, "resume")));
    self->continued = json_is_true(json_object_get(hello, "continued"));

    config_text = wbi_agg_run_config_text(self);
    tags = s_tags(json_object_get(hello, "tags"));
    group = s_dup_member(hello, "group");
    job_type = s_dup_member(hello, "job_type");
    name = s_dup_member(hello, "name");
    notes = s_dup_member(hello, "notes");
    host = s_dup_member(hello, "host");
    program = s_dup_member(hello, "program");
    if (!config_text)
        goto out_free_self;
    wbi_run_meta_t meta = {.run_id = self->run_id,
                           .project = self->project,
                           .entity = self->entity,
                           .group = group,
                           .job_type = job_type,
                           .display_name = name,
                           .notes = notes,
                           .host = host,
                           .program = program,
                           .tags = tags,
                           .config_json = config_text,
                           .resume = self->resume_mode};
    self->handle = sink->open ? sink->open(sink->arg, &meta) : NULL;
    if (sink->open && !self->handle)
        goto out_free_self;
    rc = WANDB_OK;
    *out = self;
    self = NULL;
out_free_self:
    wbi_agg_run_destroy(&self);
    wbi_free(config_text);
    wbi_free(tags);
    wbi_free(group);
    wbi_free(job_type);
    wbi_free(name);
    wbi_free(notes);
    wbi_free(host);
    wbi_free(program);
    return rc;
}

// Frees the run and everything it holds; sends nothing.
void wbi_agg_run_destroy(wbi_agg_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_agg_run_t *self = *self_p;
    for (size_t i = 0; i < self->nkeys; i++) {
        wbi_agg_key_t *k = &self->keys[i];
        s_text_free(&k->last_text);
        if (k->stats) {
            s_text_free(&k->stats->first_text);
            wbi_free(k->stats);
        }
    }
    wbi_free(self->keys);
    wbi_imap_release(&self->ids);
    wbi_imap_release(&self->by_name);
    wbi_free(self->row_keys);
    wbi_free(self->row_vals);
    wbi_free(self->row_names);
    wbi_buf_release(&self->arena);
    wbi_buf_release(&self->line);
    json_decref(self->config);
    json_decref(self->explicit_);
    wbi_metrics_release(&self->metrics);
    wbi_free(self->run_id);
    wbi_free(self->project);
    wbi_free(self->entity);
    wbi_free(self->platform);
    wbi_free(self->file_name);
    wbi_free(self->file_data);
    wbi_free(self);
    *self_p = NULL;
}

// Parses extended JSON that must be an object; NULL otherwise.
json_t *wbi_agg_run_load_object(const char *json, size_t len)
{
    json_error_t jerr;
    json_t *j = wbi_jsonx_loadb(json, len, 0, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

// ALERT: checks title and level (INFO, WARN or ERROR) and hands the alert to the sink.
wandb_err wbi_agg_run_alert(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *a = wbi_agg_run_load_object(json, len);
    if (!a)
        return WANDB_EPROTO;
    const char *title = json_string_value(json_object_get(a, "title"));
    const char *text = json_string_value(json_object_get(a, "text"));
    const char *level = json_string_value(json_object_get(a, "level"));
    const json_t *wait = json_object_get(a, "wait_ms");
    wandb_err rc = WANDB_EPROTO;
    if (!title || title[0] == '\0')
        goto out_decref;
    const char *lvl = "INFO";
    if (level && (strcasecmp(level, "WARN") == 0 || strcasecmp(level, "WARNING") == 0))
        lvl = "WARN";
    else if (level && strcasecmp(level, "ERROR") == 0)
        lvl = "ERROR";
    else if (level && strcasecmp(level, "INFO") != 0)
        goto out_decref;
    int64_t wait_ms = json_is_integer(wait) ? json_integer_value(wait) : 60000;
    if (wait_ms < 0)
        wait_ms = 0;
    if (self->sink.alert)
        self->sink.alert(self->sink.arg, self->handle, title, text ? text : "", lvl, wait_ms);
    rc = WANDB_OK;
out_decref:
    json_decref(a);
    return rc;
}

// PREEMPTING: tells the sink, so the run ends preempted rather than crashed.
void wbi_agg_run_preempting(wbi_agg_run_t *self)
{
    if (self->sink.preempting)
        self->sink.preempting(self->sink.arg, self->handle);
}

// The rank's new name, notes or tags, as strings, to the sink.
wandb_err wbi_agg_run_update(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *obj = wbi_agg_run_load_object(json, len);
    if (!obj)
        return WANDB_EPROTO;
    static const char *const names[3] = {"name", "notes", "tags"};
    const char *v[3] = {NULL, NULL, NULL};
    wandb_err rc = WANDB_OK;
    for (int i = 0; i < 3; i++) {
        const json_t *m = json_object_get(obj, names[i]);
        if (m && !json_is_string(m))
            rc = WANDB_EPROTO;
        v[i] = json_string_value(m);
    }
    if (rc == WANDB_OK && self->sink.update && self->handle)
        self->sink.update(self->sink.arg, self->handle, v[0], v[1], v[2]);
    json_decref(obj);
    return rc;
}

// Drops the file being assembled (a newer FILE_BEGIN, a bad record, the end).
static void s_file_drop(wbi_agg_run_t *self, const char *why)
{
    if (!self->file_open)
        return;
    if (why) {
        self->counters.bad_files++;
        wbi_warn("aggregator: run '%s': file '%s' dropped: %s", self->run_id, self->file_name, why);
    }
    wbi_free(self->file_name);
    wbi_free(self->file_data);
    self->file_name = NULL;
    self->file_data = NULL;
    self->file_open = false;
}

// FILE_BEGIN: starts assembling a saved file in a buffer of its announced size.
wandb_err wbi_agg_run_file_begin(wbi_agg_run_t *self, const char *json, size_t len)
{
    json_t *obj = wbi_agg_run_load_object(json, len);
    if (!obj)
        return WANDB_EPROTO;
    const json_t *id = json_object_get(obj, "id");
    const json_t *size = json_object_get(obj, "size");
    const char *name = json_string_value(json_object_get(obj, "name"));
    wandb_err rc = WANDB_EPROTO;
    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) > (json_int_t)UINT32_MAX || !json_is_integer(size) ||
        json_integer_value(size) < 0 || (uint64_t)json_integer_value(size) > WBI_WIRE_FILE_MAX ||
        !wbi_run_file_name_ok(name))
        goto out_decref;
    // One file at a time per run (the rank serializes saves): an open one
    // means the rank lost its end.
    s_file_drop(self, "a newer file started before it ended");
    rc = WANDB_ENOMEM;
    size_t n = (size_t)json_integer_value(size);
    self->file_name = wbi_strdup(name);
    self->file_data = wbi_malloc(n ? n : 1);
    if (!self->file_name || !self->file_data) {
        self->file_open = true;
        s_file_drop(self, "out of memory");
        goto out_decref;
    }
    self->file_id = (uint32_t)json_integer_value(id);
    self->file_size = n;
    self->file_got = 0;
    self->file_open = true;
    rc = WANDB_OK;
out_decref:
    json_decref(obj);
    return rc;
}

// FILE_CHUNK: appends the bytes when they continue the file where it stands.
wandb_err wbi_agg_run_file_chunk(wbi_agg_run_t *self, const uint8_t *payload, size_t len)
{
    if (len < 12)
        return WANDB_EPROTO;
    uint32_t id = wbi_get_u32(payload);
    uint64_t off = wbi_get_u64(payload + 4);
    size_t n = len - 12;
    if (!self->file_open || id != self->file_id)
        return WANDB_EPROTO;
    if (off != self->file_got || n > self->file_size - self->file_got) {
        s_file_drop(self, "a chunk does not fit");
        return WANDB_EPROTO;
    }
    memcpy(self->file_data + self->file_got, payload + 12, n);
    self->file_got += n;
    return WANDB_OK;
}

// FILE_END: hands the complete file to the sink when id and size match.
wandb_err wbi_agg_run_file_end(wbi_agg_run_t *self, const uint8_t *payload, size_t len)
{
    if (len != 12)
        return WANDB_EPROTO;
    uint32_t id = wbi_get_u32(payload);
    uint64_t size = wbi_get_u64(payload + 4);
    if (!self->file_open || id != self->file_id)
        return WANDB_EPROTO;
    if (size != self->file_size || self->file_got != self->file_size) {
        s_file_drop(self, "its size does not match the bytes received");
        return WANDB_EPROTO;
    }
    char *data = self->file_data;
    self->file_data = NULL;
    self->counters.files++;
    if (self->sink.file)
        self->sink.file(self->sink.arg, self->handle, self->file_name, &data, self->file_size);
    wbi_free(data); // a sink that does not take it
    s_file_drop(self, NULL);
    return WANDB_OK;
}

// Records the end runtime; the summary is dirty when it grew.
static void s_end_runtime(wbi_agg_run_t *self, double now)
{
    if (!isnan(self->start_time) && now - self->start_time > self->end_runtime) {
        self->end_runtime = now - self->start_time;
        self->summary_dirty = true;
    }
}

// End of service: drops an unfinished file, emits the open row, sends what is dirty.
void wbi_agg_run_close(wbi_agg_run_t *self, double now)
{
    s_file_drop(self, "the run ended before the file did");
    wbi_agg_run_emit_row(self);
    s_end_runtime(self, now);
    wbi_agg_run_flush(self);
}

// FINISH: the final summary (always sent, with the rank's drop counts), then the sink's finish.
void wbi_agg_run_finish(wbi_agg_run_t *self, int exit_code, uint64_t dropped, uint64_t rejected,
                        double now)
{
    self->dropped = dropped;
    self->rejected = rejected;
    self->summary_dirty = true; // the final summary is always sent
    wbi_agg_run_close(self, now);
    if (self->sink.finish)
        self->sink.finish(self->sink.arg, self->handle, exit_code);
}

// A silent peer: sends the summary and stops the run's heartbeats in the sink.
void wbi_agg_run_abandon(wbi_agg_run_t *self, double now)
{
    // The open row stays open: a rank that was only stalled continues its
    // step, and a ROW at that step must still merge. A higher step, FINISH
    // or wbi_agg_run_close emits it.
    s_end_runtime(self, now);
    wbi_agg_run_flush(self);
    if (self->sink.abandon)
        self->sink.abandon(self->sink.arg, self->handle);
}

// The HELLO run_id.
const char *wbi_agg_run_id(const wbi_agg_run_t *self)
{
    return self->run_id;
}

// The HELLO project.
const char *wbi_agg_run_project(const wbi_agg_run_t *self)
{
    return self->project;
}

// The HELLO entity, or the one the sink learned (asked until known).
const char *wbi_agg_run_entity(wbi_agg_run_t *self)
{
    if (!self->entity && self->sink.entity) {
        char buf[256];
        if (self->sink.entity(self->sink.arg, self->handle, buf, sizeof buf) && buf[0])
            self->entity = wbi_strdup(buf);
    }
    return self->entity;
}

// The HELLO rank (-1: unknown).
int wbi_agg_run_rank(const wbi_agg_run_t *self)
{
    return self->rank;
}

// The HELLO starting_step (0 when absent).
int64_t wbi_agg_run_starting_step(const wbi_agg_run_t *self)
{
    return self->starting_step;
}

// The last emitted step (-1: none yet).
int64_t wbi_agg_run_last_step(const wbi_agg_run_t *self)
{
    return self->last_step;
}

// Copies the run's counters.
void wbi_agg_run_get_counters(const wbi_agg_run_t *self, wbi_agg_run_counters_t *out)
{
    *out = self->counters;
}
