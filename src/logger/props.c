//  props.c - the properties of a run: getters, URLs, to_html, setters
//  SPDX-License-Identifier: MIT
//
//  The seed's Run attributes (id, name, notes, tags, dir, mode, url, ...)
//  and the URL methods (get_url, get_project_url, get_sweep_url, to_html).
//  Every string handed out is borrowed and stays valid as long as the run's
//  struct does, which wandb_finish keeps (run.c): a setter never frees the
//  value it replaces, it keeps it on old_texts. URLs follow the official
//  client: app_url/<entity>/<project>[/runs/<id>|/sweeps/<id>], each part
//  percent-encoded, the app URL from the app_url setting or derived from
//  base_url (api.wandb.ai -> wandb.ai). Thread: any; the setters serialize
//  on the run mutex, WELCOME is applied once by the I/O thread.
#include "logger/run.h"

#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/wire.h"
#include "logger/mirror.h"
#include "logger/resume.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// How long a summary or config read waits for the run's own writes to be sent.
#define WBI_READ_BACK_WAIT_MS 1000

// A value a setter replaced: kept until the run's memory goes.
struct wbi_old_text {
    struct wbi_old_text *next;
    char *text;
};

// The app URL as the official client derives it (wandb.util.app_url).
static char *s_app_base(const wbi_cfg_t *c)
{
    if (c->app_url)
        return wbi_strdup(c->app_url);
    const char *b = c->base_url;
    const char *api = strstr(b, "://api.");
    if (!api)
        return wbi_strdup(b); // wandb/local, the bundled server: the same host
    bool cloud = strncmp(api + 7, "wandb.", 6) == 0 && strncmp(api + 7, "wandb.test", 10) != 0;
    size_t n = strlen(b) + 8;
    char *out = wbi_malloc(n);
    if (out)
        snprintf(out, n, "%.*s://%s%s", (int)(api - b), b, cloud ? "" : "app.", api + 7);
    return out;
}

// Appends s percent-encoded as Python's urllib.parse.quote (safe "/").
static void s_quote(wbi_buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("_.-~/", *p);
        if (plain)
            wbi_buf_putc(b, (char)*p);
        else
            wbi_buf_printf(b, "%%%02X", *p);
    }
}

// app/entity/project[/what/id], quoted; "" when the entity is unknown.
static char *s_url(const char *app, const char *entity, const char *project, const char *what,
                   const char *id)
{
    if (!*entity)
        return wbi_strdup("");
    wbi_buf_t b;
    wbi_buf_init(&b, 16384);
    wbi_buf_puts(&b, app);
    wbi_buf_putc(&b, '/');
    s_quote(&b, entity);
    wbi_buf_putc(&b, '/');
    s_quote(&b, project);
    if (what) {
        wbi_buf_printf(&b, "/%s/", what);
        s_quote(&b, id);
    }
    return wbi_buf_steal(&b);
}

static void s_where_release(wbi_run_where_t *w)
{
    wbi_free(w->entity);
    wbi_free(w->path);
    wbi_free(w->url);
    wbi_free(w->project_url);
    wbi_free(w->sweep_url);
    memset(w, 0, sizeof *w);
}

// Fills w for entity ("" unknown). WANDB_ENOMEM.
static wandb_err s_where_make(const wandb_run_t *self, wbi_run_where_t *w, const char *entity)
{
    const wbi_cfg_t *c = &self->cfg;
    char *app = s_app_base(c);
    size_t len = strlen(entity) + strlen(c->project) + strlen(c->run_id) + 3;
    w->entity = wbi_strdup(entity);
    w->path = wbi_malloc(len);
    if (w->path)
        snprintf(w->path, len, "%s/%s/%s", entity, c->project, c->run_id);
    w->url = app ? s_url(app, entity, c->project, "runs", c->run_id) : NULL;
    w->project_url = app ? s_url(app, entity, c->project, NULL, NULL) : NULL;
    bool sweep = c->sweep_id && *entity;
    w->sweep_url = app && sweep ? s_url(app, entity, c->project, "sweeps", c->sweep_id) : NULL;
    wbi_free(app);
    if (!w->entity || !w->path || !w->url || !w->project_url || (sweep && !w->sweep_url)) {
        s_where_release(w);
        return WANDB_ENOMEM;
    }
    return WANDB_OK;
}

wandb_err wbi_run_props_init(wandb_run_t *self)
{
    atomic_init(&self->set_name, NULL);
    atomic_init(&self->set_notes, NULL);
    atomic_init(&self->set_tags, NULL);
    if (s_where_make(self, &self->where[0], self->cfg.entity ? self->cfg.entity : "") != WANDB_OK)
        return WANDB_ENOMEM;
    char abs[PATH_MAX];
    self->dir_abs = wbi_strdup(realpath(self->cfg.dir, abs) ? abs : self->cfg.dir);
    if (self->dir_abs && self->cfg.dir[0] != '/' && !realpath(self->cfg.dir, abs)) {
        // Not created yet (the aggregator makes it): cwd + dir.
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) {
            wbi_free(self->dir_abs);
            size_t n = strlen(cwd) + strlen(self->cfg.dir) + 2;
            self->dir_abs = wbi_malloc(n);
            if (self->dir_abs)
                snprintf(self->dir_abs, n, "%s/%s", cwd, self->cfg.dir);
        }
    }
    return self->dir_abs ? WANDB_OK : WANDB_ENOMEM;
}

void wbi_run_props_release(wandb_run_t *self)
{
    s_where_release(&self->where[0]);
    s_where_release(&self->where[1]);
    wbi_free(atomic_load(&self->set_name));
    wbi_free(atomic_load(&self->set_notes));
    wbi_free(atomic_load(&self->set_tags));
    while (self->old_texts) {
        struct wbi_old_text *o = self->old_texts;
        self->old_texts = o->next;
        wbi_free(o->text);
        wbi_free(o);
    }
    wbi_free(self->dir_abs);
    self->dir_abs = NULL;
}

// Builds where[1] from the entity of the first WELCOME, then publishes it.
// The aggregator's url is not used: it is built from its API base_url, while
// the seed's url is an app URL (see s_app_base).
void wbi_run_apply_welcome(wandb_run_t *self, const char *entity, const char *url)
{
    (void)url;
    if (atomic_load_explicit(&self->welcomed, memory_order_acquire))
        return;
    const char *ent = entity && *entity ? entity : self->cfg.entity ? self->cfg.entity : "";
    if (s_where_make(self, &self->where[1], ent) == WANDB_OK)
        atomic_store_explicit(&self->welcomed, true, memory_order_release);
}

// The current where: after WELCOME, else from the settings.
static const wbi_run_where_t *s_where(const wandb_run_t *run)
{
    bool w = atomic_load_explicit(&((wandb_run_t *)run)->welcomed, memory_order_acquire);
    return &run->where[w ? 1 : 0];
}

// --- getters -----------------------------------------------------------------

// Returns s, or "" for an unset optional string.
static const char *s_or_empty(const char *s)
{
    return s ? s : "";
}

const char *wandb_run_id(const wandb_run_t *run)
{
    return run ? run->cfg.run_id : NULL;
}

// A value set while the run lives, else the one from the settings.
static const char *s_current(_Atomic(char *) *set, const char *initial)
{
    const char *v = atomic_load_explicit(set, memory_order_acquire);
    return s_or_empty(v ? v : initial);
}

const char *wandb_run_name(const wandb_run_t *run)
{
    return run ? s_current(&((wandb_run_t *)run)->set_name, run->cfg.name) : NULL;
}

const char *wandb_run_notes(const wandb_run_t *run)
{
    return run ? s_current(&((wandb_run_t *)run)->set_notes, run->cfg.notes) : NULL;
}

const char *wandb_run_tags(const wandb_run_t *run)
{
    return run ? s_current(&((wandb_run_t *)run)->set_tags, run->cfg.tags) : NULL;
}

const char *wandb_run_group(const wandb_run_t *run)
{
    return run ? s_or_empty(run->cfg.group) : NULL;
}

const char *wandb_run_job_type(const wandb_run_t *run)
{
    return run ? s_or_empty(run->cfg.job_type) : NULL;
}

const char *wandb_run_project(const wandb_run_t *run)
{
    return run ? run->cfg.project : NULL;
}

const char *wandb_run_project_name(const wandb_run_t *run)
{
    return wandb_run_project(run);
}

const char *wandb_run_dir(const wandb_run_t *run)
{
    return run ? run->dir_abs : NULL;
}

const char *wandb_run_mode(const wandb_run_t *run)
{
    static const char *const modes[] = {"online", "offline", "disabled"};
    return run ? modes[run->cfg.mode] : NULL;
}

bool wandb_run_resumed(const wandb_run_t *run)
{
    // The I/O thread writes `resumed` before it publishes resume_state (resume.c);
    // without resume, wandb_init does not wait for that, so read it only after.
    return run && atomic_load(&((wandb_run_t *)run)->resume_state) == WBI_RESUME_WELCOMED &&
           run->resumed;
}

const char *wandb_run_sweep_id(const wandb_run_t *run)
{
    return run ? run->cfg.sweep_id : NULL;
}

const char *wandb_run_setting(const wandb_run_t *run, const char *name)
{
    if (!run || !name || !run->cfg.view)
        return NULL;
    return json_string_value(json_object_get(run->cfg.view, name));
}

// The entity from WELCOME once known, else the one from the settings.
const char *wandb_run_entity(const wandb_run_t *run)
{
    return run ? s_where(run)->entity : NULL;
}

const char *wandb_run_path(const wandb_run_t *run)
{
    return run ? s_where(run)->path : NULL;
}

const char *wandb_run_url(const wandb_run_t *run)
{
    return run ? s_where(run)->url : NULL;
}

// NULL offline, disabled, or while the entity is unknown (the seed's None).
static const char *s_online(const wandb_run_t *run, const char *url)
{
    return run->cfg.mode == WBI_MODE_ONLINE && url && *url ? url : NULL;
}

const char *wandb_run_get_url(const wandb_run_t *run)
{
    return run ? s_online(run, s_where(run)->url) : NULL;
}

const char *wandb_run_get_project_url(const wandb_run_t *run)
{
    return run ? s_online(run, s_where(run)->project_url) : NULL;
}

const char *wandb_run_get_sweep_url(const wandb_run_t *run)
{
    return run ? s_online(run, s_where(run)->sweep_url) : NULL;
}

char *wandb_run_to_html(const wandb_run_t *run, int height, bool hidden)
{
    const char *url = run ? wandb_run_get_url(run) : NULL;
    if (!url)
        return NULL;
    if (height <= 0)
        height = 420;
    wbi_buf_t b;
    wbi_buf_init(&b, 16384);
    wbi_buf_printf(&b,
                   "<iframe src='%s?jupyter=true' style='border:none;width:100%%;height:%dpx;%s'>"
                   "</iframe>",
                   url, height, hidden ? "display:none;" : "");
    char *out = wbi_buf_steal(&b);
    if (!out)
        return NULL;
    // The caller frees with wandb_free (free(3)): hand out a malloc'd copy.
    char *copy = strdup(out);
    wbi_free(out);
    return copy;
}

wandb_err wandb_run_display(const wandb_run_t *run, int height, bool hidden)
{
    (void)height;
    (void)hidden;
    if (!run)
        return WANDB_EINVAL;
    wbi_warn("wandb_run_display: a C program has no notebook to display the run in: "
             "use wandb_run_to_html or wandb_run_get_url");
    return WANDB_ENOTSUP;
}

void wandb_free(void *p)
{
    free(p);
}

// --- setters -----------------------------------------------------------------

// Replaces *slot with a copy of value (old value kept) and sends the
// RUN_UPDATE {field: value} record. Checked as the setting of that name.
static wandb_err s_set(wandb_run_t *run, const char *field, const char *setting, const char *value,
                       _Atomic(char *) *slot)
{
    char why[160];
    if (!value || !wbi_settings_check(setting, value, why, sizeof why)) {
        wbi_warn("wandb_run_set_%s: %s", field, value ? why : "the value is NULL");
        return WANDB_EINVAL;
    }
    if (strcmp(field, "name") == 0 && !*value) { // the backend would show an empty name
        wbi_warn("wandb_run_set_name: the name is empty: give 1 to 128 characters");
        return WANDB_EINVAL;
    }
    json_t *obj = json_pack("{s:s}", field, value);
    char *json = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    char *copy = wbi_strdup(value);
    struct wbi_old_text *old = wbi_calloc(1, sizeof *old);
    if (!json || !copy || !old) {
        wbi_free(json);
        wbi_free(copy);
        wbi_free(old);
        return WANDB_ENOMEM;
    }
    int wait =
        run->cfg.ring_wait_ms > WBI_CONTROL_WAIT_MS ? run->cfg.ring_wait_ms : WBI_CONTROL_WAIT_MS;
    wandb_err err = run->disabled // nothing to send to: the value is only kept
                        ? WANDB_OK
                        : wbi_run_put_record(run, WBI_REC_RUN_UPDATE, json, strlen(json), wait);
    wbi_free(json);
    if (err != WANDB_OK) {
        wbi_warn("wandb_run_set_%s: %s: the new value was not sent and is not kept", field,
                 wandb_strerror(err));
        wbi_free(copy);
        wbi_free(old);
        return err;
    }
    pthread_mutex_lock(&run->mu);
    old->text = atomic_exchange(slot, copy);
    if (old->text) {
        old->next = run->old_texts;
        run->old_texts = old;
        old = NULL;
    }
    pthread_mutex_unlock(&run->mu);
    wbi_free(old);
    return WANDB_OK;
}

wandb_err wandb_run_set_name(wandb_run_t *run, const char *name)
{
    if (!run) {
        wbi_warn("wandb_run_set_name: run is NULL");
        return WANDB_EINVAL;
    }
    return s_set(run, "name", "name", name, &run->set_name);
}

wandb_err wandb_run_set_notes(wandb_run_t *run, const char *notes)
{
    if (!run) {
        wbi_warn("wandb_run_set_notes: run is NULL");
        return WANDB_EINVAL;
    }
    return s_set(run, "notes", "notes", notes, &run->set_notes);
}

wandb_err wandb_run_set_tags(wandb_run_t *run, const char *tags)
{
    if (!run) {
        wbi_warn("wandb_run_set_tags: run is NULL");
        return WANDB_EINVAL;
    }
    return s_set(run, "tags", "tags", tags, &run->set_tags);
}

// --- counters ----------------------------------------------------------------

int64_t wandb_run_step(const wandb_run_t *run)
{
    return run ? atomic_load_explicit(&((wandb_run_t *)run)->step, memory_order_relaxed) : 0;
}

int64_t wandb_run_starting_step(const wandb_run_t *run)
{
    return run ? run->starting_step : 0;
}

double wandb_run_start_time(const wandb_run_t *run)
{
    return run ? run->start_time : 0.0;
}

uint64_t wandb_run_rejected_steps(const wandb_run_t *run)
{
    return run ? atomic_load(&((wandb_run_t *)run)->rejected) : 0;
}

uint64_t wandb_run_dropped(const wandb_run_t *run)
{
    return run ? atomic_load(&((wandb_run_t *)run)->dropped) : 0;
}

// --- summary, config and status read back ------------------------------------

// Waits (at most wait_ms) until the I/O thread sent every byte published
// before the call, so that a read follows the caller's own writes.
static void s_wait_sent(const wandb_run_t *run, int wait_ms)
{
    if (atomic_load(&((wandb_run_t *)run)->retired))
        return;
    size_t head = wbi_ring_head(&run->ring);
    int64_t deadline = wbi_now_ms() + wait_ms;
    while ((size_t)(wbi_ring_tail(&run->ring) - head) > ((size_t)-1 >> 1) &&
           wbi_now_ms() < deadline) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

char *wandb_run_summary_json(const wandb_run_t *run)
{
    if (!run)
        return NULL;
    if (run->disabled)
        return strdup("{}");
    s_wait_sent(run, WBI_READ_BACK_WAIT_MS);
    return wbi_mirror_summary_json(run->mirror);
}

char *wandb_run_config_json(const wandb_run_t *run)
{
    if (!run)
        return NULL;
    if (run->disabled)
        return strdup("{}");
    s_wait_sent(run, WBI_READ_BACK_WAIT_MS);
    return wbi_mirror_config_json(run->mirror);
}

wandb_err wandb_run_status(const wandb_run_t *run, wandb_run_status_t *out)
{
    if (!run || !out)
        return WANDB_EINVAL;
    memset(out, 0, sizeof *out);
    out->dropped = wandb_run_dropped(run);
    out->rejected = wandb_run_rejected_steps(run);
    out->finished = atomic_load(&((wandb_run_t *)run)->retired);
    if (run->disabled)
        return WANDB_OK;
    wbi_mirror_counts_t c;
    wbi_mirror_counts(run->mirror, &c);
    uint64_t logged =
        atomic_load_explicit(&((wandb_run_t *)run)->rows_logged, memory_order_relaxed);
    out->rows_logged = logged;
    out->rows_sent = c.rows;
    out->rows_pending = logged > c.rows ? logged - c.rows : 0;
    out->records_sent = c.records;
    out->sync_time = c.last_sent;
    out->welcomed = atomic_load_explicit(&((wandb_run_t *)run)->welcomed, memory_order_acquire);
    if (!out->finished) {
        size_t head = atomic_load_explicit(&((wandb_run_t *)run)->ring.head, memory_order_acquire);
        size_t tail = atomic_load_explicit(&((wandb_run_t *)run)->ring.tail, memory_order_acquire);
        out->bytes_pending = head - tail;
    }
    return WANDB_OK;
}
