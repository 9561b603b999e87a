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
//  sampling run without it, so a live job's writes go on meanwhile.
//  Handlers run on worker threads.

#include "common/alloc.h"
#include "common/dtoa.h"
#include "common/jsonx.h"
#include "server/histscan.h"
#include "server/server_int.h"
#include "store/runjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_SAMPLES_DEFAULT 1000 // points per series when ?samples= is absent
#define S_SAMPLES_MAX 100000   // highest ?samples=
#define S_RUNS_MAX 1024        // runs in one request
#define S_KEYS_MAX 2000        // series per run (the rest are dropped, "truncated": true)
#define S_NAME_MAX 512         // bytes of a flattened metric name

typedef struct {
    double *x;  // x values
    double *y;  // y values (NaN: non-finite)
    size_t n;   // points
    size_t cap; // allocated points
} s_series_t;

typedef struct {
    const char *xkey;   // the x axis key
    json_t *want;       // {key: true} filter, NULL: every key
    json_t *index;      // key -> series index
    s_series_t *series; // the series
    char **names;       // their keys
    size_t n;           // series
    size_t cap;         // allocated
    bool truncated;     // keys over S_KEYS_MAX were dropped
    bool failed;        // out of memory
} s_acc_t;

// Raw lines copied out of the store ("line\n" each).
static int s_copy_line(void *arg, int64_t line_no, const char *text, size_t len)
{
    (void)line_no;
    wbi_buf_t *b = arg;
    if (memchr(text, '\n', len))
        return 0; // not a JSON line: no series in it
    return wbi_buf_append(b, text, len) != WANDB_OK || wbi_buf_putc(b, '\n') != WANDB_OK;
}

// Adds the point (x, y) to series key.
static void s_add_point(s_acc_t *acc, const char *key, double x, double y)
{
    if (acc->want && !json_object_get(acc->want, key))
        return;
    json_t *idx = json_object_get(acc->index, key);
    size_t i;
    if (idx) {
        i = (size_t)json_integer_value(idx);
    } else {
        if (acc->n >= S_KEYS_MAX) {
            acc->truncated = true;
            return;
        }
        if (acc->n == acc->cap) {
            size_t cap = acc->cap ? acc->cap * 2 : 16;
            s_series_t *s = wbi_realloc(acc->series, cap * sizeof *s);
            if (s)
                acc->series = s;
            char **names = s ? wbi_realloc(acc->names, cap * sizeof *names) : NULL;
            if (names)
                acc->names = names;
            if (!s || !names) {
                acc->failed = true;
                return;
            }
            acc->cap = cap;
        }
        i = acc->n;
        acc->names[i] = wbi_strdup(key);
        if (!acc->names[i] || json_object_set_new(acc->index, key, json_integer((json_int_t)i))) {
            wbi_free(acc->names[i]);
            acc->failed = true;
            return;
        }
        memset(&acc->series[i], 0, sizeof acc->series[i]);
        acc->n++;
    }
    s_series_t *s = &acc->series[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *nx = wbi_realloc(s->x, cap * sizeof *nx);
        if (nx)
            s->x = nx;
        double *ny = nx ? wbi_realloc(s->y, cap * sizeof *ny) : NULL;
        if (ny)
            s->y = ny;
        if (!nx || !ny) {
            acc->failed = true;
            return;
        }
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

// Adds every numeric value of obj (names prefixed with prefix) at x.
static void s_walk(s_acc_t *acc, json_t *obj, const char *prefix, double x)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (key[0] == '_')
            continue;
        char name[S_NAME_MAX];
        int n = snprintf(name, sizeof name, "%s%s", prefix, key);
        if (n < 0 || (size_t)n >= sizeof name)
            continue;
        double d;
        if (json_is_object(v) && !json_object_get(v, "_type") && n + 2 < (int)sizeof name) {
            name[n] = '.';
            name[n + 1] = '\0';
            s_walk(acc, v, name, x);
        } else if (wbi_jsonx_number(v, &d)) {
            s_add_point(acc, name, x, d);
        }
        if (acc->failed)
            return;
    }
}

// Parses the copied lines into series: the fast scanner (histscan.c), or
// jansson for a line it leaves (escaped keys, deep nesting).
static void s_parse_lines(s_acc_t *acc, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    wbi_hist_row_t row = {0};
    wbi_buf_init(&row.names, 1u << 20);
    while (p < end && !acc->failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (wbi_hist_scan(p, n, acc->xkey, &row)) {
            for (size_t i = 0; row.has_x && isfinite(row.x) && i < row.n && !acc->failed; i++)
                s_add_point(acc, row.names.data + row.pairs[i].name_off, row.x,
                            row.pairs[i].value);
        } else {
            json_error_t jerr;
            json_t *obj = wbi_jsonx_loadb(p, n, 0, &jerr);
            double x;
            if (json_is_object(obj) && wbi_jsonx_number(json_object_get(obj, acc->xkey), &x) &&
                isfinite(x))
                s_walk(acc, obj, "", x);
            json_decref(obj);
        }
        p += n + 1;
    }
    wbi_hist_row_release(&row);
}

// Writes a number (null when not finite).
static wandb_err s_put_num(wbi_buf_t *out, double d)
{
    if (!isfinite(d))
        return wbi_buf_append(out, "null", 4);
    char tmp[40];
    size_t n = wbi_dtoa(d, tmp);
    return wbi_buf_append(out, tmp, n);
}

// Picks the points of s to send (at most about samples): indices into keep.
static size_t s_pick(const s_series_t *s, size_t samples, size_t *keep)
{
    if (s->n <= samples) {
        for (size_t i = 0; i < s->n; i++)
            keep[i] = i;
        return s->n;
    }
    size_t buckets = samples / 2 ? samples / 2 : 1;
    size_t k = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = b * s->n / buckets;
        size_t hi = (b + 1) * s->n / buckets;
        size_t imin = lo;
        size_t imax = lo;
        for (size_t i = lo; i < hi; i++) {
            if (isnan(s->y[imin]) || s->y[i] < s->y[imin])
                imin = i;
            if (isnan(s->y[imax]) || s->y[i] > s->y[imax])
                imax = i;
        }
        size_t a = imin < imax ? imin : imax;
        size_t c = imin < imax ? imax : imin;
        keep[k++] = a;
        if (c != a)
            keep[k++] = c;
    }
    if (keep[k - 1] != s->n - 1)
        keep[k++] = s->n - 1;
    return k;
}

// Writes the series of one run: "name":{"x":[...],"y":[...]},...
static wandb_err s_put_series(wbi_buf_t *out, const s_acc_t *acc, size_t samples)
{
    wandb_err e = WANDB_OK;
    for (size_t i = 0; i < acc->n && e == WANDB_OK; i++) {
        const s_series_t *s = &acc->series[i];
        size_t *keep = wbi_malloc((s->n < samples ? s->n : samples + 2) * sizeof *keep + 1);
        if (!keep)
            return WANDB_ENOMEM;
        size_t k = s_pick(s, samples, keep);
        if (i > 0)
            e = wbi_buf_putc(out, ',');
        if (e == WANDB_OK)
            e = wbi_jsonx_put_string(out, acc->names[i], strlen(acc->names[i]));
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, ":{\"x\":[");
        for (size_t j = 0; j < k && e == WANDB_OK; j++) {
            if (j > 0)
                e = wbi_buf_putc(out, ',');
            if (e == WANDB_OK)
                e = s_put_num(out, s->x[keep[j]]);
        }
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, "],\"y\":[");
        for (size_t j = 0; j < k && e == WANDB_OK; j++) {
            if (j > 0)
                e = wbi_buf_putc(out, ',');
            if (e == WANDB_OK)
                e = s_put_num(out, s->y[keep[j]]);
        }
        if (e == WANDB_OK)
            e = wbi_buf_puts(out, "]}");
        wbi_free(keep);
    }
    return e;
}

// Frees the series of acc (keeps xkey and want).
static void s_acc_release(s_acc_t *acc)
{
    for (size_t i = 0; i < acc->n; i++) {
        wbi_free(acc->series[i].x);
        wbi_free(acc->series[i].y);
        wbi_free(acc->names[i]);
    }
    wbi_free(acc->series);
    wbi_free(acc->names);
    json_decref(acc->index);
}

// Splits "a,b,c" into a {a: true, ...} object; NULL for NULL or "".
static json_t *s_list(const char *csv)
{
    if (!csv || !*csv)
        return NULL;
    json_t *o = json_object();
    const char *p = csv;
    while (o && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && n < S_NAME_MAX) {
            char name[S_NAME_MAX];
            memcpy(name, p, n);
            name[n] = '\0';
            json_object_set_new(o, name, json_true());
        }
        p += n + (comma ? 1 : 0);
    }
    return o;
}

// Samples one run into out: {"name":..,"rows":..,"state":..,"series":{..}}.
static wandb_err s_sample_run(wbi_server_t *self, const char *entity, const char *project,
                              const char *name, s_acc_t *acc, size_t samples, wbi_buf_t *out,
                              bool *found)
{
    wbi_run_t run = {0};
    wbi_buf_t lines;
    wbi_buf_init(&lines, WBI_SRV_RESPONSE_MAX);
    wbi_srv_lock(&self->store_lock);
    wandb_err e = wbi_store_run_find(self->store, entity, project, name, &run);
    if (e == WANDB_OK)
        e = wbi_store_lines_each(self->store, run.id, WBI_FILE_HISTORY, 0, WBI_SRV_HISTORY_LIMIT,
                                 s_copy_line, &lines);
    wbi_srv_unlock(&self->store_lock);
    *found = e != WANDB_ENOTFOUND;
    if (e == WANDB_ENOTFOUND) {
        wbi_buf_release(&lines);
        return WANDB_OK;
    }
    acc->index = json_object();
    acc->failed = !acc->index;
    if (e == WANDB_OK)
        s_parse_lines(acc, lines.data ? lines.data : "", lines.len);
    wbi_buf_release(&lines);
    if (e == WANDB_OK && acc->failed)
        e = WANDB_ENOMEM;
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
                           acc->truncated ? "true" : "false");
    if (e == WANDB_OK)
        e = s_put_series(out, acc, samples);
    if (e == WANDB_OK)
        e = wbi_buf_puts(out, "}}");
    s_acc_release(acc);
    acc->index = NULL;
    acc->series = NULL;
    acc->names = NULL;
    acc->n = acc->cap = 0;
    acc->truncated = false;
    wbi_store_run_release(&run);
    return e;
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
        wbi_srv_reply_error(reply, 400, "sample: 'project' and 'runs' (comma-separated) are needed");
        return;
    }
    long samples = ns ? strtol(ns, NULL, 10) : S_SAMPLES_DEFAULT;
    if (samples < 4 || samples > S_SAMPLES_MAX) {
        wbi_srv_reply_error(reply, 400, "sample: 'samples' must be 4..%d", S_SAMPLES_MAX);
        return;
    }
    s_acc_t acc = {.xkey = xkey && *xkey ? xkey : "_step",
                   .want = s_list(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "keys"))};
    json_t *names = s_list(runs);
    wbi_buf_init(&reply->raw, WBI_SRV_RESPONSE_MAX);
    wandb_err e = wbi_buf_puts(&reply->raw, "{\"x\":");
    if (e == WANDB_OK)
        e = wbi_jsonx_put_string(&reply->raw, acc.xkey, strlen(acc.xkey));
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
        e = s_sample_run(self, entity, project, name, &acc, (size_t)samples, &one, &found);
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
    json_decref(acc.want);
    if (e != WANDB_OK) {
        wbi_buf_release(&reply->raw);
        wbi_srv_reply_error(reply, e == WANDB_ENOMEM ? 503 : 500, "sample: %s",
                            wandb_strerror(e));
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
    wandb_err e = table ? wbi_store_runs_each(self->store, NULL, NULL, s_count_run, table)
                        : WANDB_ENOMEM;
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
