//  settings.c - run settings: arguments, environment, defaults, validation
//  SPDX-License-Identifier: MIT
//
//  One file (about 670 lines): one table of every setting and the parsers it
//  names; most of the length is the table, one line a setting.
#include "logger/settings.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "logger/ring.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Every setting, in the order of the table below.
typedef enum {
    S_PROJECT,
    S_ENTITY,
    S_API_KEY,
    S_BASE_URL,
    S_MODE,
    S_GROUP,
    S_JOB_TYPE,
    S_NAME,
    S_NOTES,
    S_TAGS,
    S_RUN_ID,
    S_DIR,
    S_RESUME,
    S_AGGREGATOR,
    S_SECRET,
    S_SERVER_KEY,
    S_CLIENT_KEY,
    S_CLIENT_SECRET,
    S_TRANSPORT_SECURITY,
    S_RANK,
    S_WORLD_SIZE,
    S_RING_BYTES,
    S_RING_FULL,
    S_RING_WAIT_MS,
    S_FLUSH_INTERVAL_MS,
    S_HEARTBEAT_MS,
    S_INIT_TIMEOUT_MS,
    S_FINISH_TIMEOUT_MS,
    S_JOURNAL_FLUSH_MS,
    S_JOURNAL_MAX_BYTES,
    S_HTTP2,
    S_CA_CERT,
    S_REQUEST_BUDGET,
    S_JOB_RUN,
    S_PER_RANK_RUNS,
    S_JOB_LATENESS_MS,
    S_SYSMON_INTERVAL_S,
    S_LOCAL_RANK,
    S_NODE_LABEL,
    S_SAVE_LIVE_INTERVAL_MS,
    S_SWEEP_ID,
    S_APP_URL,
    S_COUNT
} s_id_t;

// How a setting's text is checked and converted.
typedef enum {
    K_TEXT,     // UTF-8 text up to max bytes
    K_PROJECT,  // a project name
    K_RUN_ID,   // a run id
    K_URL,      // http:// or https:// URL
    K_ENDPOINT, // a ZeroMQ endpoint
    K_TAGS,     // comma-separated tags
    K_CHOICE,   // one of choices
    K_INT,      // an integer in [min, max]
    K_KEY,      // a CURVE key: 40 characters of Z85 (never echoed in messages)
} s_kind_t;

typedef struct {
    const char *name;    // setting name (wandb_settings_set)
    const char *env;     // environment variable, NULL: none
    s_kind_t kind;       // validation
    const char *choices; // K_CHOICE: "a, b, c"
    long min;            // K_INT: lowest value; K_TEXT: unused
    long max;            // K_INT: highest value; K_TEXT: longest text in bytes
} s_spec_t;

static const s_spec_t s_specs[S_COUNT] = {
    [S_PROJECT] = {"project", "WANDB_PROJECT", K_PROJECT, NULL, 0, 128},
    [S_ENTITY] = {"entity", "WANDB_ENTITY", K_TEXT, NULL, 0, 128},
    [S_API_KEY] = {"api_key", "WANDB_API_KEY", K_TEXT, NULL, 0, 512},
    [S_BASE_URL] = {"base_url", "WANDB_BASE_URL", K_URL, NULL, 0, 2048},
    [S_MODE] = {"mode", "WANDB_MODE", K_CHOICE, "online, offline, disabled", 0, 0},
    [S_GROUP] = {"group", "WANDB_RUN_GROUP", K_TEXT, NULL, 0, 128},
    [S_JOB_TYPE] = {"job_type", "WANDB_JOB_TYPE", K_TEXT, NULL, 0, 64},
    [S_NAME] = {"name", "WANDB_NAME", K_TEXT, NULL, 0, 128},
    [S_NOTES] = {"notes", "WANDB_NOTES", K_TEXT, NULL, 0, 65536},
    [S_TAGS] = {"tags", "WANDB_TAGS", K_TAGS, NULL, 0, 65536},
    [S_RUN_ID] = {"run_id", "WANDB_RUN_ID", K_RUN_ID, NULL, 0, 128},
    [S_DIR] = {"dir", "WANDB_DIR", K_TEXT, NULL, 0, 4096},
    [S_RESUME] = {"resume", "WANDB_RESUME", K_CHOICE, "allow, must, never, auto", 0, 0},
    [S_AGGREGATOR] = {"aggregator", "WANDB_AGGREGATOR", K_ENDPOINT, NULL, 0, 1024},
    [S_SECRET] = {"secret", "WANDB_AGGREGATOR_SECRET", K_TEXT, NULL, 0, 1024},
    [S_SERVER_KEY] = {"aggregator_server_key", "WANDB_AGGREGATOR_SERVER_KEY", K_KEY, NULL, 0, 40},
    [S_CLIENT_KEY] = {"aggregator_client_key", "WANDB_AGGREGATOR_CLIENT_KEY", K_KEY, NULL, 0, 40},
    [S_CLIENT_SECRET] = {"aggregator_client_secret", "WANDB_AGGREGATOR_CLIENT_SECRET", K_KEY, NULL,
                         0, 40},
    [S_TRANSPORT_SECURITY] = {"transport_security", "WANDB_TRANSPORT_SECURITY", K_CHOICE,
                              "curve, plain", 0, 0},
    [S_RANK] = {"rank", NULL, K_INT, NULL, 0, INT_MAX - 1},
    [S_WORLD_SIZE] = {"world_size", NULL, K_INT, NULL, 1, INT_MAX},
    [S_RING_BYTES] = {"ring_bytes", "WANDB_RING_BYTES", K_INT, NULL, WBI_RING_MIN_BYTES,
                      WBI_RING_MAX_BYTES},
    [S_RING_FULL] = {"ring_full", "WANDB_RING_FULL", K_CHOICE, "drop, wait", 0, 0},
    [S_RING_WAIT_MS] = {"ring_wait_ms", "WANDB_RING_WAIT_MS", K_INT, NULL, 0, 60000},
    [S_FLUSH_INTERVAL_MS] = {"flush_interval_ms", "WANDB_FLUSH_INTERVAL_MS", K_INT, NULL, 1,
                             3600000},
    [S_HEARTBEAT_MS] = {"heartbeat_ms", "WANDB_HEARTBEAT_MS", K_INT, NULL, 10, 600000},
    [S_INIT_TIMEOUT_MS] = {"init_timeout_ms", "WANDB_INIT_TIMEOUT_MS", K_INT, NULL, 1, 600000},
    [S_FINISH_TIMEOUT_MS] = {"finish_timeout_ms", "WANDB_FINISH_TIMEOUT_MS", K_INT, NULL, 1,
                             3600000},
    [S_JOURNAL_FLUSH_MS] = {"journal_flush_ms", "WANDB_JOURNAL_FLUSH_MS", K_INT, NULL, 1, 600000},
    [S_JOURNAL_MAX_BYTES] = {"journal_max_bytes", "WANDB_JOURNAL_MAX_BYTES", K_INT, NULL, 1L << 20,
                             LONG_MAX},
    [S_HTTP2] = {"http2", "WANDB_HTTP2", K_CHOICE, "auto, prior-knowledge, off", 0, 0},
    [S_CA_CERT] = {"ca_cert", "WANDB_CA_CERT", K_TEXT, NULL, 0, 4096},
    [S_REQUEST_BUDGET] = {"request_budget", "WANDB_REQUEST_BUDGET", K_INT, NULL, 1, 100000},
    [S_JOB_RUN] = {"job_run", "WANDB_JOB_RUN", K_CHOICE, "true, false", 0, 0},
    [S_PER_RANK_RUNS] = {"per_rank_runs", "WANDB_PER_RANK_RUNS", K_CHOICE, "true, false", 0, 0},
    [S_JOB_LATENESS_MS] = {"job_lateness_ms", "WANDB_JOB_LATENESS_MS", K_INT, NULL, 1, 3600000},
    [S_SYSMON_INTERVAL_S] = {"system_metrics_interval_s", "WANDB_SYSTEM_METRICS_INTERVAL_S", K_INT,
                             NULL, 0, 86400},
    [S_LOCAL_RANK] = {"local_rank", "WANDB_LOCAL_RANK", K_INT, NULL, 0, INT_MAX - 1},
    [S_NODE_LABEL] = {"node_label", "WANDB_NODE_LABEL", K_TEXT, NULL, 0, 128},
    [S_SAVE_LIVE_INTERVAL_MS] = {"save_live_interval_ms", "WANDB_SAVE_LIVE_INTERVAL_MS", K_INT,
                                 NULL, 50, 3600000},
    [S_SWEEP_ID] = {"sweep_id", "WANDB_SWEEP_ID", K_TEXT, NULL, 0, 128},
    [S_APP_URL] = {"app_url", "WANDB_APP_URL", K_URL, NULL, 0, 2048},
};

struct wandb_settings {
    char *values[S_COUNT];         // what the caller set (validated copies), NULL: unset
    json_t *config;                // initial config object, NULL: none
    char errmsg[WBI_ERRMSG_BYTES]; // last error of a call that took self
};

// Checks that text is one of the comma-separated choices.
static bool s_is_choice(const char *choices, const char *text)
{
    size_t n = strlen(text);
    const char *p = choices;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && n > 0 && strncmp(p, text, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
        while (*p == ' ')
            p++;
    }
    return false;
}

// Parses a decimal integer in [min, max]: the whole text, no spaces.
static bool s_parse_long(const char *text, long min, long max, long *out)
{
    if (!*text || *text == ' ' || *text == '\t' || *text == '+')
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno != 0 || !end || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

// Checks one value against its spec; on failure writes the reason to why.
static bool s_check(const s_spec_t *spec, const char *v, char *why, size_t whylen)
{
    size_t len = strlen(v);
    if (!wbi_utf8_valid(v, len)) {
        snprintf(why, whylen, "the value is not valid UTF-8");
        return false;
    }
    switch (spec->kind) {
    case K_KEY:
        if (len != 40 || strspn(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#") != 40) {
            snprintf(why, whylen, "not a CURVE key (40 characters of Z85)");
            return false;
        }
        return true;
    case K_CHOICE:
        if (!s_is_choice(spec->choices, v)) {
            snprintf(why, whylen, "'%.64s' is not one of %s", v, spec->choices);
            return false;
        }
        return true;
    case K_INT: {
        long n = 0;
        if (!s_parse_long(v, spec->min, spec->max, &n)) {
            snprintf(why, whylen, "'%.64s' is not an integer from %ld to %ld", v, spec->min,
                     spec->max);
            return false;
        }
        return true;
    }
    case K_PROJECT:
        if (len == 0 || len > (size_t)spec->max) {
            snprintf(why, whylen, "must be 1 to %ld characters long", spec->max);
            return false;
        }
        if (strpbrk(v, "/\\#?%:")) {
            snprintf(why, whylen, "'%.64s' contains one of the characters /\\#?%%:", v);
            return false;
        }
        return true;
    case K_RUN_ID:
        if (len == 0 || len > (size_t)spec->max) {
            snprintf(why, whylen, "must be 1 to %ld characters long", spec->max);
            return false;
        }
        if (strpbrk(v, ":;,#?/'")) {
            snprintf(why, whylen, "'%.64s' contains one of the characters :;,#?/'", v);
            return false;
        }
        if (strchr(" \t\r\n", v[0]) || strchr(" \t\r\n", v[len - 1])) {
            snprintf(why, whylen, "'%.64s' starts or ends with whitespace", v);
            return false;
        }
        return true;
    case K_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            snprintf(why, whylen, "'%.64s' does not start with http:// or https://", v);
            return false;
        }
        break;
    case K_ENDPOINT:
        if (len > 0 && !strstr(v, "://")) {
            snprintf(why, whylen, "'%.64s' is not a ZeroMQ endpoint like tcp://host:port", v);
            return false;
        }
        break;
    case K_TAGS: {
        const char *p = v;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            while (n > 0 && *p == ' ') {
                p++;
                n--;
            }
            while (n > 0 && p[n - 1] == ' ')
                n--;
            if (n > 64) {
                snprintf(why, whylen, "tag '%.64s...' is longer than 64 characters", p);
                return false;
            }
            if (!end)
                break;
            p = end + 1;
        }
        break;
    }
    case K_TEXT:
        break;
    }
    if (len > (size_t)spec->max) {
        snprintf(why, whylen, "longer than %ld bytes", spec->max);
        return false;
    }
    return true;
}

// Finds a spec by setting name; S_COUNT when unknown.
static s_id_t s_find(const char *name)
{
    for (int i = 0; i < S_COUNT; i++)
        if (strcmp(s_specs[i].name, name) == 0)
            return (s_id_t)i;
    return S_COUNT;
}

// Returns a new, empty settings object.
wandb_err wandb_settings_new(wandb_settings_t **out)
{
    if (!out)
        return WANDB_EINVAL;
    *out = wbi_calloc(1, sizeof(**out));
    return *out ? WANDB_OK : WANDB_ENOMEM;
}

// Frees the values and the object, and nulls the caller's pointer.
void wandb_settings_destroy(wandb_settings_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wandb_settings_t *self = *self_p;
    for (int i = 0; i < S_COUNT; i++)
        wbi_free(self->values[i]);
    json_decref(self->config);
    wbi_free(self);
    *self_p = NULL;
}

// Copies msg into the settings' error text.
void wbi_settings_set_errmsg(wandb_settings_t *settings, const char *msg)
{
    if (settings)
        snprintf(settings->errmsg, sizeof(settings->errmsg), "%s", msg);
}

// Validates and stores one setting; value NULL unsets it.
bool wbi_settings_check(const char *name, const char *value, char *why, size_t whylen)
{
    s_id_t id = s_find(name);
    if (id == S_COUNT) {
        snprintf(why, whylen, "unknown setting '%.64s'", name);
        return false;
    }
    return s_check(&s_specs[id], value, why, whylen);
}

wandb_err wandb_settings_set(wandb_settings_t *self, const char *name, const char *value)
{
    if (!self)
        return WANDB_EINVAL;
    if (!name) {
        wbi_settings_set_errmsg(self, "setting name is NULL");
        return WANDB_EINVAL;
    }
    s_id_t id = s_find(name);
    if (id == S_COUNT) {
        snprintf(self->errmsg, sizeof(self->errmsg), "unknown setting '%.64s'", name);
        return WANDB_EINVAL;
    }
    char why[160];
    if (value && !s_check(&s_specs[id], value, why, sizeof(why))) {
        snprintf(self->errmsg, sizeof(self->errmsg), "invalid setting '%s': %s", name, why);
        return WANDB_EINVAL;
    }
    char *copy = NULL;
    if (value) {
        copy = wbi_strdup(value);
        if (!copy) {
            wbi_settings_set_errmsg(self, "out of memory");
            return WANDB_ENOMEM;
        }
    }
    wbi_free(self->values[id]);
    self->values[id] = copy;
    self->errmsg[0] = '\0';
    return WANDB_OK;
}

// Parses json (extended JSON, must be an object) and merges it recursively.
wandb_err wandb_settings_config_json(wandb_settings_t *self, const char *json)
{
    if (!self)
        return WANDB_EINVAL;
    if (!json) {
        wbi_settings_set_errmsg(self, "invalid config: NULL text");
        return WANDB_EINVAL;
    }
    json_error_t jerr;
    json_t *obj = wbi_jsonx_loadb(json, strlen(json), 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        if (obj)
            snprintf(self->errmsg, sizeof(self->errmsg), "invalid config: not a JSON object");
        else
            snprintf(self->errmsg, sizeof(self->errmsg),
                     "invalid config: %.120s at line %d column %d", jerr.text, jerr.line,
                     jerr.column);
        json_decref(obj);
        return WANDB_EINVAL;
    }
    if (!self->config) {
        self->config = obj;
    } else {
        int rc = json_object_update_recursive(self->config, obj);
        json_decref(obj);
        if (rc != 0) {
            wbi_settings_set_errmsg(self, "out of memory");
            return WANDB_ENOMEM;
        }
    }
    self->errmsg[0] = '\0';
    return WANDB_OK;
}

// Returns the last error text (empty when the last call succeeded).
// Returns the value set on self, else the environment's (unvalidated until
// wandb_init), else NULL.
const char *wandb_settings_get(const wandb_settings_t *self, const char *name)
{
    if (!name)
        return NULL;
    s_id_t id = s_find(name);
    if (id == S_COUNT)
        return NULL;
    if (self && self->values[id])
        return self->values[id];
    const char *env = s_specs[id].env ? getenv(s_specs[id].env) : NULL;
    return env && *env ? env : NULL;
}

const char *wandb_settings_errmsg(const wandb_settings_t *self)
{
    return self ? self->errmsg : "";
}

// Reads the first non-empty variable of names; *which_out names it.
static const char *s_getenv_first(const char *const *names, const char **which_out)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v) {
            *which_out = *names;
            return v;
        }
    }
    return NULL;
}

// Frees every string of the resolved config.
void wbi_cfg_release(wbi_cfg_t *self)
{
    if (!self)
        return;
    char **strs[] = {&self->project,    &self->entity,     &self->api_key,       &self->base_url,
                     &self->group,      &self->job_type,   &self->name,          &self->notes,
                     &self->tags,       &self->run_id,     &self->dir,           &self->resume,
                     &self->aggregator, &self->secret,     &self->config_json,   &self->ca_cert,
                     &self->server_key, &self->client_key, &self->client_secret, &self->node_label,
                     &self->sweep_id,   &self->app_url};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        wbi_free(*strs[i]);
        *strs[i] = NULL;
    }
    json_decref(self->view);
    self->view = NULL;
}

// Copies an optional string; false only when out of memory.
static bool s_dup(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return true;
    *dst = wbi_strdup(src);
    return *dst != NULL;
}

// Resolves the rank and world size: setting, then launcher variables.
static wandb_err s_resolve_rank(const char *const vals[S_COUNT], wbi_cfg_t *out, char *errmsg,
                                size_t errlen)
{
    static const char *const rank_vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                            "SLURM_PROCID", NULL};
    static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS",
                                            NULL};
    long rank = 0;
    long size = 1;
    const char *which = NULL;
    const char *v = vals[S_RANK];
    if (v) {
        s_parse_long(v, 0, INT_MAX - 1, &rank);
        out->under_mpi = true;
    } else if ((v = s_getenv_first(rank_vars, &which))) {
        if (!s_parse_long(v, 0, INT_MAX - 1, &rank)) {
            snprintf(errmsg, errlen, "invalid environment variable %s: '%.64s' is not a rank",
                     which, v);
            return WANDB_EINVAL;
        }
        out->under_mpi = true;
    }
    v = vals[S_WORLD_SIZE];
    if (v) {
        s_parse_long(v, 1, INT_MAX, &size);
    } else if ((v = s_getenv_first(size_vars, &which))) {
        if (!s_parse_long(v, 1, INT_MAX, &size)) {
            snprintf(errmsg, errlen, "invalid environment variable %s: '%.64s' is not a world size",
                     which, v);
            return WANDB_EINVAL;
        }
    } else if (rank > 0) {
        size = rank + 1;
    }
    if (rank >= size) {
        snprintf(errmsg, errlen, "invalid setting 'rank': %ld is not below world_size %ld", rank,
                 size);
        return WANDB_EINVAL;
    }
    out->rank = (int)rank;
    out->world_size = (int)size;
    return WANDB_OK;
}

// Returns the next white-space separated token of *cursor (NUL-terminated
// in place) and advances *cursor; NULL at the end.
static char *s_next_token(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (!*p)
        return NULL;
    char *tok = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
        p++;
    if (*p)
        *p++ = '\0';
    *cursor = p;
    return tok;
}

// Reads the password of `machine host` (or of `default`) from $NETRC or
// ~/.netrc, as the W&B SDK stores API keys. Returns a copy or NULL. The file
// is read up to 64 KiB; tokens are separated by white space.
static char *s_netrc_key(const char *base_url)
{
    const char *h = strstr(base_url, "://");
    h = h ? h + 3 : base_url;
    size_t hlen = strcspn(h, ":/?#");
    char path[4096];
    const char *env = getenv("NETRC");
    const char *home = getenv("HOME");
    if (env && *env)
        snprintf(path, sizeof(path), "%s", env);
    else if (home && *home)
        snprintf(path, sizeof(path), "%s/.netrc", home);
    else
        return NULL;
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    const size_t cap = 64 * 1024;
    char *text = wbi_malloc(cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    fclose(f);
    if (!text)
        return NULL;
    text[n] = '\0';
    char *key = NULL;
    bool in_match = false;
    bool matched = false;
    char *cursor = text;
    for (char *tok = s_next_token(&cursor); tok && !key; tok = s_next_token(&cursor)) {
        if (strcmp(tok, "machine") == 0) {
            char *name = s_next_token(&cursor);
            in_match = !matched && name && strlen(name) == hlen && strncmp(name, h, hlen) == 0;
            matched = matched || in_match;
        } else if (strcmp(tok, "default") == 0) {
            in_match = !matched;
        } else if (strcmp(tok, "password") == 0) {
            char *pw = s_next_token(&cursor);
            if (in_match && pw && *pw)
                key = wbi_strdup(pw);
        }
    }
    wbi_free(text);
    return key;
}

// The read-only view of the resolved settings (wandb_run_setting): every
// setting by name as text, as given or as resolved; keys and secrets are
// left out. NULL when out of memory.
static json_t *s_view(const char *const *vals, const wbi_cfg_t *c)
{
    json_t *v = json_object();
    if (!v)
        return NULL;
    bool bad = false;
    for (int i = 0; i < S_COUNT; i++) {
        if (vals[i] && s_specs[i].kind != K_KEY && i != S_API_KEY && i != S_SECRET)
            bad |= json_object_set_new(v, s_specs[i].name, json_string(vals[i])) != 0;
    }
    static const char *const modes[] = {"online", "offline", "disabled"};
    const struct {
        const char *name;
        const char *text;
    } strs[] = {
        {"project", c->project},   {"entity", c->entity},
        {"base_url", c->base_url}, {"group", c->group},
        {"job_type", c->job_type}, {"name", c->name},
        {"notes", c->notes},       {"tags", c->tags},
        {"run_id", c->run_id},     {"dir", c->dir},
        {"resume", c->resume},     {"mode", modes[c->mode]},
        {"sweep_id", c->sweep_id}, {"ring_full", c->ring_full == WBI_RING_WAIT ? "wait" : "drop"}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i].text)
            bad |= json_object_set_new(v, strs[i].name, json_string(strs[i].text)) != 0;
    const struct {
        const char *name;
        long long num;
    } nums[] = {{"rank", c->rank},
                {"world_size", c->world_size},
                {"ring_bytes", (long long)c->ring_bytes},
                {"ring_wait_ms", c->ring_wait_ms},
                {"flush_interval_ms", c->flush_interval_ms},
                {"heartbeat_ms", c->heartbeat_ms},
                {"init_timeout_ms", c->init_timeout_ms},
                {"finish_timeout_ms", c->finish_timeout_ms}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char text[32];
        snprintf(text, sizeof text, "%lld", nums[i].num);
        bad |= json_object_set_new(v, nums[i].name, json_string(text)) != 0;
    }
    if (bad) {
        json_decref(v);
        return NULL;
    }
    return v;
}

// Arguments first, then the environment (validated here), then defaults.
wandb_err wbi_settings_resolve(const wandb_settings_t *settings, wbi_cfg_t *out, char *errmsg,
                               size_t errlen)
{
    memset(out, 0, sizeof(*out));
    errmsg[0] = '\0';
    const char *vals[S_COUNT];
    for (int i = 0; i < S_COUNT; i++) {
        vals[i] = settings ? settings->values[i] : NULL;
        if (vals[i] || !s_specs[i].env)
            continue;
        const char *env = getenv(s_specs[i].env);
        if (!env || !*env)
            continue;
        char why[160];
        if (!s_check(&s_specs[i], env, why, sizeof(why))) {
            snprintf(errmsg, errlen, "invalid environment variable %s: %s", s_specs[i].env, why);
            return WANDB_EINVAL;
        }
        vals[i] = env;
    }
    wandb_err err = s_resolve_rank(vals, out, errmsg, errlen);
    if (err != WANDB_OK)
        return err;

    char id[9];
    if (!vals[S_RUN_ID]) {
        err = wbi_random_id(id, 8);
        if (err != WANDB_OK) {
            snprintf(errmsg, errlen, "cannot read random bytes for the run id");
            return err;
        }
    }
    // Under MPI a given run id names the job; every rank has its own run.
    char rank_id[160];
    if (vals[S_RUN_ID] && out->under_mpi && out->world_size > 1) {
        snprintf(rank_id, sizeof(rank_id), "%s-%d", vals[S_RUN_ID], out->rank);
        vals[S_RUN_ID] = rank_id;
    }
    char name[32];
    snprintf(name, sizeof(name), "rank-%d", out->rank);
    const char *base = vals[S_BASE_URL] ? vals[S_BASE_URL] : "https://api.wandb.ai";
    bool ok = s_dup(&out->project, vals[S_PROJECT] ? vals[S_PROJECT] : "uncategorized") &&
              s_dup(&out->entity, vals[S_ENTITY]) && s_dup(&out->api_key, vals[S_API_KEY]) &&
              s_dup(&out->base_url, base) && s_dup(&out->group, vals[S_GROUP]) &&
              s_dup(&out->job_type, vals[S_JOB_TYPE]) &&
              s_dup(&out->name, vals[S_NAME]     ? vals[S_NAME]
                                : out->under_mpi ? name
                                                 : NULL) &&
              s_dup(&out->notes, vals[S_NOTES]) && s_dup(&out->tags, vals[S_TAGS]) &&
              s_dup(&out->run_id, vals[S_RUN_ID] ? vals[S_RUN_ID] : id) &&
              s_dup(&out->dir, vals[S_DIR] ? vals[S_DIR] : "wandb") &&
              s_dup(&out->resume, vals[S_RESUME]) &&
              s_dup(&out->aggregator,
                    vals[S_AGGREGATOR] && *vals[S_AGGREGATOR] ? vals[S_AGGREGATOR] : NULL) &&
              s_dup(&out->secret, vals[S_SECRET]) && s_dup(&out->ca_cert, vals[S_CA_CERT]) &&
              s_dup(&out->server_key, vals[S_SERVER_KEY]) &&
              s_dup(&out->client_key, vals[S_CLIENT_KEY]) &&
              s_dup(&out->client_secret, vals[S_CLIENT_SECRET]);
    if (ok && settings && settings->config) {
        out->config_json = wbi_jsonx_dumps(settings->config, JSON_COMPACT);
        ok = out->config_json != NULL;
    }
    if (!ok) {
        wbi_cfg_release(out);
        snprintf(errmsg, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    // Only the in-process aggregator (no endpoint) talks to the backend and
    // needs a key: ranks of a job with an external aggregator skip ~/.netrc.
    if (!out->api_key && !out->aggregator)
        out->api_key = s_netrc_key(out->base_url);
    size_t blen = strlen(out->base_url);
    while (blen > 0 && out->base_url[blen - 1] == '/')
        out->base_url[--blen] = '\0';

    const char *mode = vals[S_MODE] ? vals[S_MODE] : "online";
    out->mode = strcmp(mode, "offline") == 0    ? WBI_MODE_OFFLINE
                : strcmp(mode, "disabled") == 0 ? WBI_MODE_DISABLED
                                                : WBI_MODE_ONLINE;
    const char *h2 = vals[S_HTTP2] ? vals[S_HTTP2] : "auto";
    out->http2 = strcmp(h2, "prior-knowledge") == 0 ? 1 : strcmp(h2, "off") == 0 ? 2 : 0;
    out->transport_plain =
        vals[S_TRANSPORT_SECURITY] && strcmp(vals[S_TRANSPORT_SECURITY], "plain") == 0;
    out->ring_full =
        vals[S_RING_FULL] && strcmp(vals[S_RING_FULL], "wait") == 0 ? WBI_RING_WAIT : WBI_RING_DROP;
    struct {
        s_id_t id; // which setting
        long def;  // its default
    } nums[] = {{S_RING_BYTES, 4L << 20},     {S_RING_WAIT_MS, 10},
                {S_FLUSH_INTERVAL_MS, 15000}, {S_HEARTBEAT_MS, 1000},
                {S_INIT_TIMEOUT_MS, 90000},   {S_FINISH_TIMEOUT_MS, 30000},
                {S_JOURNAL_FLUSH_MS, 1000},   {S_JOURNAL_MAX_BYTES, 1L << 30},
                {S_REQUEST_BUDGET, 0},        {S_JOB_LATENESS_MS, 10000}};
    long got[sizeof nums / sizeof nums[0]];
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        got[i] = nums[i].def;
        if (vals[nums[i].id])
            s_parse_long(vals[nums[i].id], s_specs[nums[i].id].min, s_specs[nums[i].id].max,
                         &got[i]);
    }
    out->ring_bytes = (size_t)got[0];
    out->ring_wait_ms = (int)got[1];
    out->flush_interval_ms = (int)got[2];
    out->heartbeat_ms = (int)got[3];
    out->init_timeout_ms = (int)got[4];
    out->finish_timeout_ms = (int)got[5];
    out->journal_flush_ms = (int)got[6];
    out->journal_max_bytes = (uint64_t)got[7];
    out->request_budget = (int)got[8];
    out->job_lateness_ms = (int)got[9];
    out->no_job_run = vals[S_JOB_RUN] && strcmp(vals[S_JOB_RUN], "false") == 0;
    out->no_rank_runs = vals[S_PER_RANK_RUNS] && strcmp(vals[S_PER_RANK_RUNS], "false") == 0;
    // System metrics (sysmon.c): sampled once per node, by its local rank 0.
    long sysmon_s = 10;
    if (vals[S_SYSMON_INTERVAL_S])
        s_parse_long(vals[S_SYSMON_INTERVAL_S], 0, 86400, &sysmon_s);
    out->sysmon_interval_s = (int)sysmon_s;
    // Live files of wandb_save are looked at this often (save_live.c).
    long live_ms = 5000;
    if (vals[S_SAVE_LIVE_INTERVAL_MS])
        s_parse_long(vals[S_SAVE_LIVE_INTERVAL_MS], 50, 3600000, &live_ms);
    out->save_live_interval_ms = (int)live_ms;
    static const char *const local_vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                             "SLURM_LOCALID", "PMI_LOCAL_RANK"};
    const char *lr = vals[S_LOCAL_RANK];
    for (size_t i = 0; !lr && i < sizeof local_vars / sizeof local_vars[0]; i++)
        lr = getenv(local_vars[i]) && *getenv(local_vars[i]) ? getenv(local_vars[i]) : NULL;
    long local = 0;
    if (lr)
        s_parse_long(lr, 0, INT_MAX - 1, &local);
    out->local_rank = (int)local;
    if ((vals[S_NODE_LABEL] && *vals[S_NODE_LABEL] &&
         !s_dup(&out->node_label, vals[S_NODE_LABEL])) ||
        !s_dup(&out->sweep_id, vals[S_SWEEP_ID] && *vals[S_SWEEP_ID] ? vals[S_SWEEP_ID] : NULL) ||
        !s_dup(&out->app_url, vals[S_APP_URL]) || !(out->view = s_view(vals, out))) {
        wbi_cfg_release(out);
        snprintf(errmsg, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    size_t alen = out->app_url ? strlen(out->app_url) : 0;
    while (alen > 0 && out->app_url[alen - 1] == '/')
        out->app_url[--alen] = '\0';
    return WANDB_OK;
}
