//  routes_sample.c - wandb-mpi-server: the dashboard's data routes
//  SPDX-License-Identifier: MIT
//
//  GET /api/v1/projects: every (entity, project) with its run counts.
//  GET /api/v1/sample?project=P[&entity=E]&runs=a,b[&keys=k1,k2][&x=_step]
//      [&samples=N]: the numeric history of several runs in one answer,
//      one series {x: [...], y: [...]} per run and metric, at most about N
//      points each. Long series are cut into N/2 buckets and each bucket
//      keeps its lowest and highest point (spikes stay visible), plus the
//      last point. Nested objects are flattened to dotted names; media
//      values (objects with "_type") and keys starting with "_" are not
//      series. Non-finite values are null.
//  The store lock is held only to copy the raw lines out; parsing and
//  sampling run without it, so a live job's writes go on meanwhile. Parsed
//  series stay in the server's cache (series.c): a later request reads only
//  the lines written since.
//  Handlers run on worker threads.

#include "common/alloc.h"
#include "common/jsonx.h"
#include "server/server_int.h"

#include <stdlib.h>
#include <string.h>

#define S_SAMPLES_DEFAULT 1000 // points per series when ?samples= is absent
#define S_SAMPLES_MAX 100000   // highest ?samples=
#define S_RUNS_MAX 1024        // runs in one request

// Raw lines copied out of the store ("line\n" each), and the line number
// after the last one seen.
typedef struct {
    wbi_buf_t text; // the lines
    int64_t next;   // last line number + 1
} s_lines_t;

static int s_copy_line(void *arg, int64_t line_no, const char *text, size_t len)
{
    s_lines_t *l = arg;
    l->next = line_no + 1;
    if (memchr(text, '\n', len))
        return 0; // not a JSON line: no series in it
    return wbi_buf_append(&l->text, text, len) != WANDB_OK || wbi_buf_putc(&l->text, '\n') != 0;
}

// Samples one run into out: {"name":..,"rows":..,"state":..,"series":{..}}.
// The run's series set comes from the cache when it has it: only lines
// written since are read.
static wandb_err s_sample_run(wbi_server_t *self, const char *entity, const char *project,
                              const char *name, const char *xkey, const char *keys, size_t samples,
                              wbi_buf_t *out, bool *found)
{
    wbi_run_t run = {0};
    s_lines_t lines = {.next = 0};
    wbi_buf_init(&lines.text, WBI_SRV_RESPONSE_MAX);
    wbi_series_set_t *set = NULL;
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_run_find(self->store, entity, project, name, &run);
    if (e == WANDB_OK) {
        set = wbi_series_cache_take(self->series, run.id, xkey, keys);
        if (set && wbi_series_lines(set) > run.history_count) { // rewritten: start over
            wbi_series_destroy(&set);
        }
        if (!set)
            set = wbi_series_new(run.id, xkey, keys);
        if (!set)
            e = WANDB_ENOMEM;
    }
    lines.next = set ? wbi_series_lines(set) : 0;
    if (e == WANDB_OK && lines.next < WBI_SRV_HISTORY_LIMIT)
        e = wbi_store_lines_each(self->store, run.id, WBI_FILE_HISTORY, lines.next,
                                 WBI_SRV_HISTORY_LIMIT - lines.next, s_copy_line, &lines);
    wbi_srv_unlock(&self->store_lock);
    *found = e != WANDB_ENOTFOUND;
    if (e == WANDB_OK && !wbi_series_add_lines(set, lines.text.data ? lines.text.data : "",
                                               lines.text.len, lines.next))
        e = WANDB_ENOMEM;
    wbi_buf_release(&lines.text);
    if (e == WANDB_OK)
        e = wbi_buf_puts(out, "{\"name\":");
    if (e == WANDB_OK)
        e = wbi_jsonx_put_string(out, run.name, strlen(run.name));
    if (e == WANDB_OK)
        e = wbi_buf_printf(out, ",\"rows\":%lld,\"state\":", (long long)run.history_count);
    if (e == WANDB_OK)
        e = wbi_jsonx_put_string(out, run.state, strlen(run.state));
    if (e == WANDB_OK)
        e = wbi_buf_printf(out, ",\"truncated\":%s,\"series\":{",
                           wbi_series_is_truncated(set) ? "true" : "false");
    if (e == WANDB_OK)
        e = wbi_series_put_json(set, out, samples);
    if (e == WANDB_OK)
        e = wbi_buf_puts(out, "}}");
    if (e == WANDB_OK)
        wbi_series_cache_give(self->series, &set);
    wbi_series_destroy(&set);
    wbi_store_run_release(&run);
    return e == WANDB_ENOTFOUND ? WANDB_OK : e;
}

// Splits "a,b,c" into a {a: true, ...} object (the run names, each once).
static json_t *s_names(const char *csv)
{
    json_t *o = json_object();
    const char *p = csv;
    while (o && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && n < 256) {
            char name[256];
            memcpy(name, p, n);
            name[n] = '\0';
            json_object_set_new(o, name, json_true());
        }
        p += n + (comma ? 1 : 0);
    }
    return o;
}

// GET /api/v1/sample.
void wbi_srv_handle_sample_get(wbi_server_t *self, struct MHD_Connection *conn, wbi_srv_req_t *req,
                               const char *url, wbi_srv_reply_t *reply)
{
    (void)req;
    (void)url;
    const char *project = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "project");
    const char *entity = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
    const char *runs = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "runs");
    const char *xkey = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "x");
    const char *ns = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "samples");
    if (!project || !*project || !runs || !*runs) {
        wbi_srv_reply_error(reply, 400,
                            "sample: 'project' and 'runs' (comma-separated) are needed");
        return;
    }
    long samples = ns ? strtol(ns, NULL, 10) : S_SAMPLES_DEFAULT;
    if (samples < 4 || samples > S_SAMPLES_MAX) {
        wbi_srv_reply_error(reply, 400, "sample: 'samples' must be 4..%d", S_SAMPLES_MAX);
        return;
    }
    const char *keys = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "keys");
    if (!xkey || !*xkey)
        xkey = "_step";
    json_t *names = s_names(runs);
    wbi_buf_init(&reply->raw, WBI_SRV_RESPONSE_MAX);
    wandb_err e = wbi_buf_puts(&reply->raw, "{\"x\":");
    if (e == WANDB_OK)
        e = wbi_jsonx_put_string(&reply->raw, xkey, strlen(xkey));
    if (e == WANDB_OK)
        e = wbi_buf_puts(&reply->raw, ",\"runs\":[");
    size_t n = 0;
    const char *name;
    json_t *v;
    json_t *missing = json_array();
    json_object_foreach(names, name, v)
    {
        if (n >= S_RUNS_MAX || e != WANDB_OK)
            break;
        wbi_buf_t one;
        wbi_buf_init(&one, WBI_SRV_RESPONSE_MAX);
        bool found = false;
        e = s_sample_run(self, entity, project, name, xkey, keys, (size_t)samples, &one, &found);
        if (e == WANDB_OK && found) {
            if (n++ > 0)
                e = wbi_buf_putc(&reply->raw, ',');
            if (e == WANDB_OK)
                e = wbi_buf_append(&reply->raw, one.data, one.len);
        } else if (e == WANDB_OK) {
            json_array_append_new(missing, json_string(name));
        }
        wbi_buf_release(&one);
    }
    if (e == WANDB_OK)
        e = wbi_buf_puts(&reply->raw, "],\"missing\":");
    if (e == WANDB_OK)
        e = wbi_jsonx_dump_buf(&reply->raw, missing, JSON_COMPACT);
    if (e == WANDB_OK)
        e = wbi_buf_putc(&reply->raw, '}');
    json_decref(missing);
    json_decref(names);
    if (e != WANDB_OK) {
        wbi_buf_release(&reply->raw);
        wbi_srv_reply_error(reply, e == WANDB_ENOMEM ? 503 : 500, "sample: %s", wandb_strerror(e));
        return;
    }
    reply->status = 200;
}

// Adds one run to the projects table.
static int s_count_run(void *arg, const wbi_run_t *run)
{
    json_t *table = arg;
    char key[600];
    snprintf(key, sizeof key, "%s\n%s", run->entity, run->project);
    json_t *p = json_object_get(table, key);
    if (!p) {
        p = json_pack("{sssssIsIsf}", "entity", run->entity, "project", run->project, "runs",
                      (json_int_t)0, "running", (json_int_t)0, "last_created", run->created_at);
        if (!p || json_object_set_new(table, key, p) != 0)
            return 1;
    }
    json_object_set_new(p, "runs",
                        json_integer(json_integer_value(json_object_get(p, "runs")) + 1));
    if (strcmp(run->state, "running") == 0)
        json_object_set_new(p, "running",
                            json_integer(json_integer_value(json_object_get(p, "running")) + 1));
    if (run->created_at > json_real_value(json_object_get(p, "last_created")))
        json_object_set_new(p, "last_created", json_real(run->created_at));
    return 0;
}

// GET /api/v1/projects.
void wbi_srv_handle_projects_get(wbi_server_t *self, struct MHD_Connection *conn,
                                 wbi_srv_req_t *req, const char *url, wbi_srv_reply_t *reply)
{
    (void)conn;
    (void)req;
    (void)url;
    json_t *table = json_object();
    wbi_srv_lock(&self->store_lock);
    wandb_err e =
        table ? wbi_store_runs_each(self->store, NULL, NULL, s_count_run, table) : WANDB_ENOMEM;
    if (e != WANDB_OK)
        wbi_srv_reply_store_error(self, reply, e);
    wbi_srv_unlock(&self->store_lock);
    if (e != WANDB_OK) {
        json_decref(table);
        return;
    }
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(table, k, v) json_array_append(arr, v);
    json_decref(table);
    reply->status = 200;
    reply->json = json_pack("{so}", "projects", arr);
}
