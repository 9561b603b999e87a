//  media_watch.c - wandb_watch / wandb_unwatch: histograms of named buffers
//  SPDX-License-Identifier: MIT
//
//  The official watch hooks a model's forward and backward passes and,
//  every log_freq passes, logs the histograms of its parameters and
//  gradients with commit=False, so they join the next row. Here a "pass"
//  is a wandb_log call that starts a new step: wandb_log_values calls
//  wbi_watch_on_log first, which counts steps per watched name and, when
//  one is due, logs its histograms at that step (commit false) before the
//  call's own values. The nested wandb_log_values call sees the same step
//  and does nothing here. No thread; the buffers are read by the thread
//  that logs. The watch mutex guards the table against wandb_watch and
//  wandb_unwatch from other threads.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/log.h"
#include <stdio.h>
#include <string.h>

#define S_NAME_MAX 200 // bytes of a watched name (keys get a prefix)

struct wbi_watch_entry {
    char *name;          // the buffer's name
    wandb_dtype dtype;   // element type
    const void *params;  // parameters (borrowed), or NULL
    const void *grads;   // gradients (borrowed), or NULL
    size_t n;            // elements in each
    wandb_watch_log log; // which to log
    int freq;            // log every freq steps
    int count;           // steps counted since the last log
};

struct wbi_watch {
    pthread_mutex_t mu;                        // guards everything below
    struct wbi_watch_entry e[WANDB_WATCH_MAX]; // watched names
    size_t n;                                  // entries used
    int64_t last_step;                         // step of the last wandb_log call seen
};

// Finds name; returns its index or n.
static size_t s_find(const struct wbi_watch *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return i;
    return w->n;
}

// The run's watch state, made on first use. The run mutex makes the
// creation single; the pointer never changes afterwards until release.
static struct wbi_watch *s_state(wandb_run_t *run)
{
    pthread_mutex_lock(&run->mu);
    struct wbi_watch *w = atomic_load(&run->watch);
    if (!w && (w = wbi_calloc(1, sizeof(*w))) != NULL) {
        pthread_mutex_init(&w->mu, NULL);
        w->last_step = -1;
        atomic_store(&run->watch, w);
    }
    pthread_mutex_unlock(&run->mu);
    return w;
}

wandb_err wandb_watch(wandb_run_t *run, const char *name, wandb_dtype dtype, const void *params,
                      const void *grads, size_t n, wandb_watch_log log, int log_freq)
{
    if (!run || !name || !*name || strlen(name) > S_NAME_MAX ||
        (dtype != WANDB_DTYPE_FLOAT64 && dtype != WANDB_DTYPE_FLOAT32) ||
        (log != WANDB_WATCH_GRADIENTS && log != WANDB_WATCH_PARAMETERS && log != WANDB_WATCH_ALL) ||
        log_freq < 0 || ((log & WANDB_WATCH_GRADIENTS) && !grads && n > 0) ||
        ((log & WANDB_WATCH_PARAMETERS) && !params && n > 0)) {
        wbi_warn("wandb_watch: '%.200s': invalid arguments (name 1..%d bytes, dtype, log, "
                 "log_freq >= 0, the buffers that log needs)",
                 name ? name : "(null)", S_NAME_MAX);
        return WANDB_EINVAL;
    }
    if (run->disabled)
        return WANDB_OK;
    struct wbi_watch *w = s_state(run);
    if (!w)
        return WANDB_ENOMEM;
    pthread_mutex_lock(&w->mu);
    wandb_err rc = WANDB_OK;
    size_t i = s_find(w, name);
    char *copy = NULL;
    if (i == w->n && w->n == WANDB_WATCH_MAX)
        rc = WANDB_EFULL;
    else if (i == w->n && !(copy = wbi_strdup(name)))
        rc = WANDB_ENOMEM;
    if (rc == WANDB_OK) {
        if (i == w->n)
            w->e[w->n++].name = copy;
        struct wbi_watch_entry *e = &w->e[i];
        e->dtype = dtype;
        e->params = params;
        e->grads = grads;
        e->n = n;
        e->log = log;
        e->freq = log_freq ? log_freq : WANDB_WATCH_DEFAULT_FREQ;
        e->count = 0;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == WANDB_EFULL)
        wbi_warn("wandb_watch: '%.200s' not watched: %d names are watched already", name,
                 WANDB_WATCH_MAX);
    return rc;
}

wandb_err wandb_unwatch(wandb_run_t *run, const char *name)
{
    if (!run)
        return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    struct wbi_watch *w = s_state(run);
    if (!w)
        return WANDB_ENOMEM;
    pthread_mutex_lock(&w->mu);
    wandb_err rc = WANDB_OK;
    if (!name) {
        for (size_t i = 0; i < w->n; i++)
            wbi_free(w->e[i].name);
        w->n = 0;
    } else {
        size_t i = s_find(w, name);
        if (i == w->n) {
            rc = WANDB_ENOTFOUND;
        } else {
            wbi_free(w->e[i].name);
            w->e[i] = w->e[--w->n];
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

// Appends the histogram of one buffer as "<prefix>/<name>" to the values.
static void s_add(wandb_value_t *vals, char **keys, char **jsons, size_t *k, const char *prefix,
                  const struct wbi_watch_entry *e, const void *data)
{
    char *json = NULL;
    if (wbi_hist_watch_json(data, e->dtype, e->n, WANDB_HISTOGRAM_DEFAULT_BINS, &json) !=
            WANDB_OK ||
        !json)
        return; // nothing finite (the official watch logs nothing), or no memory
    size_t len = strlen(prefix) + strlen(e->name) + 2;
    char *key = wbi_malloc(len);
    if (!key) {
        wbi_free(json);
        return;
    }
    snprintf(key, len, "%s/%s", prefix, e->name);
    keys[*k] = key;
    jsons[*k] = json;
    vals[*k] = (wandb_value_t)WANDB_JSON(key, json);
    (*k)++;
}

void wbi_watch_on_log(wandb_run_t *run, int64_t step)
{
    struct wbi_watch *w = atomic_load_explicit(&run->watch, memory_order_acquire);
    if (!w || atomic_load(&run->retired))
        return; // a finished run never reads the caller's buffers again
    if (step >= 0 && step < atomic_load_explicit(&run->step, memory_order_relaxed))
        return; // the call is rejected for its step: no histograms, no second rejection
    int64_t at = wbi_media_step(run, step);
    wandb_value_t vals[2 * WANDB_WATCH_MAX];
    char *keys[2 * WANDB_WATCH_MAX];
    char *jsons[2 * WANDB_WATCH_MAX];
    size_t k = 0;
    pthread_mutex_lock(&w->mu);
    if (at != w->last_step) {
        w->last_step = at;
        for (size_t i = 0; i < w->n; i++) {
            struct wbi_watch_entry *e = &w->e[i];
            if (++e->count < e->freq)
                continue;
            e->count = 0;
            if (e->log & WANDB_WATCH_PARAMETERS)
                s_add(vals, keys, jsons, &k, "parameters", e, e->params);
            if (e->log & WANDB_WATCH_GRADIENTS)
                s_add(vals, keys, jsons, &k, "gradients", e, e->grads);
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (k == 0)
        return;
    wandb_err rc = wandb_log_values(run, vals, k, step, WANDB_COMMIT_FALSE);
    if (rc != WANDB_OK)
        wbi_warn("wandb_watch: %zu histograms at step %lld not logged: %s", k, (long long)at,
                 wandb_strerror(rc));
    for (size_t i = 0; i < k; i++) {
        wbi_free(keys[i]);
        wbi_free(jsons[i]);
    }
}

void wbi_watch_release(wandb_run_t *run)
{
    struct wbi_watch *w = atomic_load(&run->watch);
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        wbi_free(w->e[i].name);
    pthread_mutex_destroy(&w->mu);
    wbi_free(w);
    atomic_store(&run->watch, NULL);
}
