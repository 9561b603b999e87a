//  save.c - wandb_save: globs expanded at call time, end and live files kept for later
//  SPDX-License-Identifier: MIT
//
//  wandb_save resolves its arguments with the official rules (save_path.c),
//  expands the glob once with glob(3) (the syntax of Python's glob.glob
//  without recursive: '*', '?', '[...]', "**" is '*', no hidden files unless
//  the pattern names them), and for each regular file it matched: sends it
//  now (now, live) and remembers it (end, live). Live files are watched by
//  save_live.c; wandb_finish calls wbi_save_flush, which stops the watcher
//  and sends end files and changed live files before FINISH. The bytes
//  travel through the ring (save_send.c). Thread: any; save_mu serializes.
#include "logger/save.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/relpath.h"
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_SAVED_MAX 1024 // end and live files a run remembers
#define S_MATCH_MAX 4096 // files one wandb_save call may match

// Finds the remembered entry for name, or NULL. Caller holds save_mu.
static struct wbi_saved *s_find(wandb_run_t *run, const char *name)
{
    for (size_t i = 0; i < run->nsaved; i++)
        if (strcmp(run->saved[i].name, name) == 0)
            return &run->saved[i];
    return NULL;
}

// Remembers (or updates) a file for finish. Caller holds save_mu.
static wandb_err s_remember(wandb_run_t *run, const char *path, const char *name,
                            wandb_save_policy policy, struct wbi_saved **out)
{
    struct wbi_saved *e = s_find(run, name);
    char *p = wbi_strdup(path);
    if (!p)
        return WANDB_ENOMEM;
    if (!e) {
        if (run->nsaved >= S_SAVED_MAX) {
            wbi_free(p);
            return WANDB_EFULL;
        }
        if (run->nsaved == run->cap_saved) {
            size_t cap = run->cap_saved ? run->cap_saved * 2 : 8;
            struct wbi_saved *v = wbi_realloc(run->saved, cap * sizeof *v);
            if (!v) {
                wbi_free(p);
                return WANDB_ENOMEM;
            }
            run->saved = v;
            run->cap_saved = cap;
        }
        char *n = wbi_strdup(name);
        if (!n) {
            wbi_free(p);
            return WANDB_ENOMEM;
        }
        e = &run->saved[run->nsaved++];
        *e = (struct wbi_saved){.name = n};
    }
    wbi_free(e->path);
    e->path = p;
    e->policy = policy;
    e->seen = false; // the watcher looks at the (new) path afresh
    *out = e;
    return WANDB_OK;
}

// One file a glob matched: its path and run-relative name (inside path).
typedef struct {
    const char *path; // borrowed from the glob_t
    const char *name; // suffix of path
} s_match_t;

// Keeps the regular files among the glob's matches whose names are valid
// run-file names. Returns how many; *skipped counts the others (each
// logged).
static size_t s_matches(const glob_t *g, const char *abs, size_t base_len, s_match_t *out,
                        size_t *skipped)
{
    size_t n = 0;
    *skipped = 0;
    for (size_t i = 0; i < g->gl_pathc; i++) {
        const char *p = g->gl_pathv[i];
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            wbi_log(WANDB_LOG_INFO, "wandb_save: '%.200s' skipped: not a regular file", p);
            (*skipped)++;
            continue;
        }
        const char *name = p + base_len + 1;
        if (strlen(p) <= base_len + 1 || strncmp(p, abs, base_len) != 0 || p[base_len] != '/' ||
            !wbi_run_file_name_ok(name)) {
            wbi_warn("wandb_save: '%.200s' skipped: no valid run-file name below the base", p);
            (*skipped)++;
            continue;
        }
        out[n++] = (s_match_t){.path = p, .name = name};
    }
    return n;
}

// Saves one matched file with policy. Caller holds save_mu.
static wandb_err s_save_one(wandb_run_t *run, const s_match_t *m, wandb_save_policy policy,
                            int64_t deadline)
{
    struct wbi_saved *e = NULL;
    wandb_err rc = WANDB_OK;
    if (policy != WANDB_SAVE_NOW)
        rc = s_remember(run, m->path, m->name, policy, &e);
    // A live file's look comes before its read: a change after it is seen.
    struct stat st;
    bool looked = rc == WANDB_OK && policy == WANDB_SAVE_LIVE && stat(m->path, &st) == 0;
    if (rc == WANDB_OK && policy != WANDB_SAVE_END)
        rc = wbi_save_read_send(run, m->path, m->name, policy, e, deadline);
    if (rc == WANDB_OK && looked) {
        e->seen = true;
        e->seen_mtime = st.st_mtim;
        e->seen_size = st.st_size;
    }
    if (rc != WANDB_OK)
        wbi_warn("wandb_save: '%.200s' as '%.200s' not saved: %s", m->path, m->name,
                 wandb_strerror(rc));
    return rc;
}

// Expands the resolved glob abs and saves what it matched; see wandb.h.
static wandb_err s_save_glob(wandb_run_t *run, const char *glob_arg, const char *abs,
                             size_t base_len, wandb_save_policy policy)
{
    glob_t g;
    int gr = glob(abs, 0, NULL, &g);
    if (gr == GLOB_NOMATCH) {
        wbi_warn("wandb_save: no file matches '%.200s' (%.200s)", glob_arg, abs);
        globfree(&g);
        return WANDB_ENOTFOUND;
    }
    if (gr != 0) {
        wbi_warn("wandb_save: cannot expand '%.200s': %s", glob_arg,
                 gr == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
        globfree(&g);
        return gr == GLOB_NOSPACE ? WANDB_ENOMEM : WANDB_EIO;
    }
    if (g.gl_pathc > S_MATCH_MAX) {
        wbi_warn("wandb_save: '%.200s' matches %zu files, more than %d: nothing saved", glob_arg,
                 (size_t)g.gl_pathc, S_MATCH_MAX);
        globfree(&g);
        return WANDB_ETOOBIG;
    }
    s_match_t *m = wbi_malloc(g.gl_pathc * sizeof *m);
    if (!m) {
        globfree(&g);
        return WANDB_ENOMEM;
    }
    size_t skipped = 0;
    size_t n = s_matches(&g, abs, base_len, m, &skipped);
    wandb_err first = WANDB_OK;
    if (n == 0) {
        wbi_warn("wandb_save: '%.200s' matches no regular file with a valid name (%zu skipped)",
                 glob_arg, skipped);
        first = WANDB_EIO;
    }
    bool live = false;
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    pthread_mutex_lock(&run->save_mu);
    for (size_t i = 0; i < n; i++) {
        wandb_err rc = s_save_one(run, &m[i], policy, deadline);
        if (rc == WANDB_OK && policy == WANDB_SAVE_LIVE)
            live = true;
        if (rc != WANDB_OK && first == WANDB_OK)
            first = rc;
    }
    if (live) {
        wandb_err rc = wbi_save_live_start(run);
        if (rc != WANDB_OK) {
            wbi_warn("wandb_save: live files of '%.200s' will be read again only at finish: "
                     "cannot start the watcher: %s",
                     glob_arg, wandb_strerror(rc));
            if (first == WANDB_OK)
                first = rc;
        }
    }
    pthread_mutex_unlock(&run->save_mu);
    wbi_free(m);
    globfree(&g);
    return first;
}

wandb_err wandb_save(wandb_run_t *run, const char *glob, const char *base_path,
                     wandb_save_policy policy)
{
    if (!run || !glob || !*glob) {
        wbi_warn("wandb_save: %s", !run ? "run is NULL" : "glob is NULL or empty");
        return WANDB_EINVAL;
    }
    if (policy != WANDB_SAVE_NOW && policy != WANDB_SAVE_END && policy != WANDB_SAVE_LIVE) {
        wbi_warn("wandb_save: invalid policy %d: use WANDB_SAVE_NOW, _END or _LIVE", (int)policy);
        return WANDB_EINVAL;
    }
    if (run->disabled)
        return WANDB_OK;
    char abs[WBI_SAVE_PATH_MAX];
    size_t base_len = 0;
    char msg[1024];
    wandb_err rc = wbi_save_resolve(glob, base_path, abs, sizeof abs, &base_len, msg, sizeof msg);
    if (rc != WANDB_OK) {
        wbi_warn("wandb_save: %s", msg);
        return rc;
    }
    pthread_mutex_lock(&run->mu); // finished (or finishing): nothing would be sent
    bool closed = run->closed;
    pthread_mutex_unlock(&run->mu);
    if (closed) {
        wbi_warn("wandb_save: '%.200s' not saved: the run has finished", glob);
        return WANDB_ECLOSED;
    }
    return s_save_glob(run, glob, abs, base_len, policy);
}

wandb_err wbi_save_flush(wandb_run_t *run, int64_t deadline)
{
    wbi_save_live_stop(run);
    wandb_err first = WANDB_OK;
    pthread_mutex_lock(&run->save_mu);
    for (size_t i = 0; i < run->nsaved; i++) {
        struct wbi_saved *e = &run->saved[i];
        wandb_err rc = wbi_save_read_send(run, e->path, e->name, e->policy, e, deadline);
        if (rc != WANDB_OK) {
            wbi_warn("wandb_finish: saved file '%.200s' not sent: %s", e->path, wandb_strerror(rc));
            if (first == WANDB_OK)
                first = rc;
        }
    }
    pthread_mutex_unlock(&run->save_mu);
    return first;
}

void wbi_save_release(wandb_run_t *run)
{
    for (size_t i = 0; i < run->nsaved; i++) {
        wbi_free(run->saved[i].path);
        wbi_free(run->saved[i].name);
    }
    wbi_free(run->saved);
    run->saved = NULL;
    run->nsaved = run->cap_saved = 0;
}
