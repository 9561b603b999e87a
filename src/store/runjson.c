//  runjson.c - run config normalization and the JSON shapes of the read API
//  SPDX-License-Identifier: MIT

#include "store/runjson.h"

#include "common/jsonx.h"

#include <stdio.h>
#include <string.h>

// True when v is {"value": x} or {"desc": d, "value": x} (and nothing else).
static bool s_is_wrapped_value(const json_t *v)
{
    if (!json_is_object(v) || !json_object_get(v, "value"))
        return false;
    size_t n = json_object_size(v);
    return n == 1 || (n == 2 && json_object_get(v, "desc"));
}

// Decides the encoding from all top-level values at once: a raw config whose
// values all happen to look wrapped is indistinguishable, and wandb-core and
// the legacy sender always wrap every key.
bool wbi_runcfg_is_wrapped(const json_t *config)
{
    if (!json_is_object(config) || json_object_size(config) == 0)
        return false;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v)
    {
        if (!s_is_wrapped_value(v))
            return false;
    }
    return true;
}

// Copies config, taking the "value" of each key when it is wrapped.
json_t *wbi_runcfg_unwrap(const json_t *config)
{
    if (!json_is_object(config))
        return NULL;
    if (!wbi_runcfg_is_wrapped(config))
        return json_deep_copy(config);
    json_t *out = json_object();
    if (!out)
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v)
    {
        if (json_object_set(out, key, json_object_get(v, "value")) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

// Copies config with every value wrapped as {"value": v}.
json_t *wbi_runcfg_wrap(const json_t *config)
{
    if (!json_is_object(config))
        return NULL;
    json_t *out = json_object();
    if (!out)
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v)
    {
        json_t *w = json_pack("{sO}", "value", v);
        if (!w || json_object_set_new(out, key, w) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

// Parses and unwraps a config JSONString.
wandb_err wbi_runcfg_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t jerr;
    json_t *parsed = wbi_jsonx_loadb(text, len, 0, &jerr);
    if (!parsed) {
        snprintf(err, errlen, "config is not valid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return WANDB_EPROTO;
    }
    if (!json_is_object(parsed)) {
        snprintf(err, errlen, "config must be a JSON object");
        json_decref(parsed);
        return WANDB_EPROTO;
    }
    *out = wbi_runcfg_unwrap(parsed);
    json_decref(parsed);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    return WANDB_OK;
}

// Parses stored extended-JSON text, falling back to fallback_empty (an empty
// object or array) when the text is missing or broken.
static json_t *s_parse_or(const char *text, json_t *fallback_empty)
{
    if (text) {
        json_error_t jerr;
        json_t *j = wbi_jsonx_loadb(text, strlen(text), 0, &jerr);
        if (j && json_typeof(j) == json_typeof(fallback_empty)) {
            json_decref(fallback_empty);
            return j;
        }
        json_decref(j);
    }
    return fallback_empty;
}

// A nullable string as a JSON value.
static json_t *s_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

// Builds the API object of one run.
json_t *wbi_run_to_json(const wbi_run_t *run)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "id", json_string(run->name ? run->name : ""));
    bad |= json_object_set_new(o, "name", json_string(run->name ? run->name : ""));
    bad |= json_object_set_new(o, "display_name", s_str_or_null(run->display_name));
    bad |= json_object_set_new(o, "entity", json_string(run->entity ? run->entity : ""));
    bad |= json_object_set_new(o, "project", json_string(run->project ? run->project : ""));
    bad |= json_object_set_new(o, "group", s_str_or_null(run->group));
    bad |= json_object_set_new(o, "job_type", s_str_or_null(run->job_type));
    bad |= json_object_set_new(o, "state", json_string(run->state ? run->state : "running"));
    bad |= json_object_set_new(o, "exit_code",
                               run->has_exit_code ? json_integer(run->exit_code) : json_null());
    bad |= json_object_set_new(o, "preempting", json_boolean(run->preempting));
    bad |= json_object_set_new(o, "config", s_parse_or(run->config, json_object()));
    bad |= json_object_set_new(o, "summary", s_parse_or(run->summary, json_object()));
    bad |= json_object_set_new(o, "history_count", json_integer(run->history_count));
    bad |= json_object_set_new(o, "events_count", json_integer(run->events_count));
    bad |= json_object_set_new(o, "log_count", json_integer(run->log_count));
    bad |= json_object_set_new(o, "tags", s_parse_or(run->tags, json_array()));
    bad |= json_object_set_new(o, "notes", s_str_or_null(run->notes));
    bad |= json_object_set_new(o, "host", s_str_or_null(run->host));
    bad |= json_object_set_new(o, "program", s_str_or_null(run->program));
    bad |= json_object_set_new(o, "created_at", json_real(run->created_at));
    bad |= json_object_set_new(o, "heartbeat_at", json_real(run->heartbeat_at));
    bad |= json_object_set_new(o, "storage_id", json_integer(run->id));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

// A stored line as a value.
json_t *wbi_line_to_json(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = wbi_jsonx_loadb(text, len, 0, &jerr);
    if (j)
        return j;
    return json_stringn(text, len);
}
