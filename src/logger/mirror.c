//  mirror.c - what a run has shipped, kept for reading back (see mirror.h)
//  SPDX-License-Identifier: MIT
#include "logger/mirror.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "common/wire.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// One key id: its name and the last value logged under it.
typedef struct {
    char *name;   // from the KEY record; NULL: not interned
    uint8_t type; // wandb_type of the last value; 0: never logged
    union {
        double d;
        int64_t i;
        bool b;
    } as;
    char *text;   // bytes of a string or JSON value (text_cap allocated)
    uint32_t len; // their length
    uint32_t cap; // allocated
} s_slot_t;

struct wbi_mirror {
    pthread_mutex_t mu;         // guards everything below
    s_slot_t *slots;            // by key id (index 0 unused)
    size_t nslots;              // allocated slots
    json_t *explicit_;          // SUMMARY values, until the key is logged again
    json_t *config;             // HELLO config plus CONFIG updates
    double start_time;          // the run's start (Unix seconds)
    double last_ts;             // ts of the last ROW
    bool row_open;              // the last ROW did not commit: a higher step commits it
    wbi_mirror_counts_t counts; // see mirror.h
};

wandb_err wbi_mirror_new(wbi_mirror_t **out, double start_time)
{
    wbi_mirror_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    pthread_mutex_init(&self->mu, NULL);
    self->explicit_ = json_object();
    self->config = json_object();
    self->start_time = start_time;
    self->counts.last_step = -1;
    if (!self->explicit_ || !self->config) {
        wbi_mirror_destroy(&self);
        return WANDB_ENOMEM;
    }
    *out = self;
    return WANDB_OK;
}

void wbi_mirror_destroy(wbi_mirror_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_mirror_t *self = *self_p;
    for (size_t i = 0; i < self->nslots; i++) {
        wbi_free(self->slots[i].name);
        wbi_free(self->slots[i].text);
    }
    wbi_free(self->slots);
    json_decref(self->explicit_);
    json_decref(self->config);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
    *self_p = NULL;
}

// The slot of id, growing the table; NULL when out of memory.
static s_slot_t *s_slot(wbi_mirror_t *self, uint32_t id)
{
    if (id >= self->nslots) {
        size_t n = self->nslots ? self->nslots : 64;
        while (n <= id)
            n *= 2;
        s_slot_t *grown = wbi_realloc(self->slots, n * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + self->nslots, 0, (n - self->nslots) * sizeof *grown);
        self->slots = grown;
        self->nslots = n;
    }
    return &self->slots[id];
}

static void s_key(wbi_mirror_t *self, const wbi_wire_record_t *rec)
{
    uint32_t id;
    const char *key;
    size_t len;
    if (wbi_wire_key_parse(rec, &id, &key, &len) != WANDB_OK)
        return;
    s_slot_t *s = s_slot(self, id);
    char *name = s ? wbi_strndup(key, len) : NULL;
    if (!name)
        return;
    wbi_free(s->name);
    s->name = name; // a rebound id starts without a value
    s->type = 0;
}

// Decodes a ROW without validating it again: the bytes are the run's own,
// written by core.c, and the I/O thread must keep up with log(). A value
// past the end stops the row.
static void s_row(wbi_mirror_t *self, const wbi_wire_record_t *rec)
{
    if (rec->len < WBI_WIRE_ROW_HEADER)
        return;
    const uint8_t *p = rec->payload;
    const uint8_t *cur = p + WBI_WIRE_ROW_HEADER;
    const uint8_t *end = p + rec->len;
    bool any_explicit = json_object_size(self->explicit_) > 0;
    while (cur + 4 <= end) {
        uint32_t tag = wbi_get_u32(cur);
        uint32_t type = tag >> 28;
        uint32_t id = tag & WBI_WIRE_KEY_ID_MAX;
        cur += 4;
        s_slot_t *s = id < self->nslots && self->slots[id].name ? &self->slots[id] : NULL;
        if (type == WANDB_TYPE_DOUBLE || type == WANDB_TYPE_INT) {
            if (cur + 8 > end)
                return;
            if (s) {
                uint64_t bits = wbi_get_u64(cur);
                memcpy(&s->as, &bits, sizeof bits); // d and i share the 8 bytes
            }
            cur += 8;
        } else if (type == WANDB_TYPE_BOOL) {
            if (cur + 1 > end)
                return;
            if (s)
                s->as.b = *cur != 0;
            cur += 1;
        } else if (type == WANDB_TYPE_STRING || type == WANDB_TYPE_JSON) {
            if (cur + 4 > end)
                return;
            uint32_t len = wbi_get_u32(cur);
            cur += 4;
            if (len > (size_t)(end - cur))
                return;
            if (s && len > s->cap) {
                char *t = wbi_realloc(s->text, len);
                s = t ? s : NULL;
                if (t) {
                    s->text = t;
                    s->cap = len;
                }
            }
            if (s) {
                memcpy(s->text, cur, len);
                s->len = len;
            }
            cur += len;
        } else {
            return;
        }
        if (s) {
            s->type = (uint8_t)type;
            if (any_explicit)
                json_object_del(self->explicit_, s->name);
        }
    }
    self->last_ts = wbi_get_f64(p + 8);
    int64_t step = (int64_t)wbi_get_u64(p);
    if (self->row_open && step > self->counts.last_step)
        self->counts.rows++; // the open row was committed by this higher step
    self->counts.last_step = step;
    self->row_open = !(p[16] & WBI_WIRE_ROW_COMMIT);
    if (!self->row_open)
        self->counts.rows++;
}

// Merges a JSON object record into target (its top-level keys).
static void s_merge(json_t *target, const wbi_wire_record_t *rec, const char *member)
{
    json_error_t jerr;
    json_t *obj = wbi_jsonx_loadb((const char *)rec->payload, rec->len, 0, &jerr);
    json_t *src = member ? json_object_get(obj, member) : obj;
    if (json_is_object(src))
        json_object_update(target, src);
    json_decref(obj);
}

void wbi_mirror_message(wbi_mirror_t *self, const uint8_t *msg, size_t len)
{
    wbi_wire_reader_t r;
    if (!self || wbi_wire_reader_init(&r, msg, len) != WANDB_OK)
        return;
    pthread_mutex_lock(&self->mu);
    wbi_wire_record_t rec;
    bool any = false;
    while (wbi_wire_next(&r, &rec) == WANDB_OK) {
        any = true;
        self->counts.records++;
        switch (rec.type) {
        case WBI_REC_KEY:
            s_key(self, &rec);
            break;
        case WBI_REC_ROW:
            s_row(self, &rec);
            break;
        case WBI_REC_HELLO:
            s_merge(self->config, &rec, "config");
            break;
        case WBI_REC_CONFIG:
            s_merge(self->config, &rec, NULL);
            break;
        case WBI_REC_SUMMARY:
            s_merge(self->explicit_, &rec, NULL);
            break;
        default:
            break;
        }
    }
    if (any)
        self->counts.last_sent = wbi_now_unix();
    pthread_mutex_unlock(&self->mu);
}

// Dumps obj compactly into a malloc'd text (free(3)), then drops obj.
static char *s_dump(json_t *obj)
{
    char *text = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    char *out = text ? strdup(text) : NULL;
    wbi_free(text);
    return out;
}

char *wbi_mirror_summary_json(wbi_mirror_t *self)
{
    if (!self)
        return NULL;
    json_t *obj = json_object();
    pthread_mutex_lock(&self->mu);
    for (size_t id = 1; obj && id < self->nslots; id++) {
        const s_slot_t *s = &self->slots[id];
        json_t *j = NULL;
        json_error_t jerr;
        switch (s->type) {
        case WANDB_TYPE_DOUBLE:
            j = wbi_jsonx_real(s->as.d);
            break;
        case WANDB_TYPE_INT:
            j = json_integer(s->as.i);
            break;
        case WANDB_TYPE_BOOL:
            j = json_boolean(s->as.b);
            break;
        case WANDB_TYPE_STRING:
            j = json_stringn(s->text ? s->text : "", s->len);
            break;
        case WANDB_TYPE_JSON:
            j = wbi_jsonx_loadb(s->text, s->len, JSON_DECODE_ANY, &jerr);
            break;
        default:
            continue;
        }
        if (j)
            json_object_set_new(obj, s->name, j);
    }
    if (obj)
        json_object_update(obj, self->explicit_);
    if (obj && self->counts.last_step >= 0) {
        json_object_set_new(obj, "_step", json_integer(self->counts.last_step));
        json_object_set_new(obj, "_timestamp", wbi_jsonx_real(self->last_ts));
        json_object_set_new(obj, "_runtime", wbi_jsonx_real(self->last_ts - self->start_time));
    }
    pthread_mutex_unlock(&self->mu);
    return s_dump(obj);
}

char *wbi_mirror_config_json(wbi_mirror_t *self)
{
    if (!self)
        return NULL;
    pthread_mutex_lock(&self->mu);
    json_t *copy = json_deep_copy(self->config);
    pthread_mutex_unlock(&self->mu);
    return s_dump(copy);
}

void wbi_mirror_counts(wbi_mirror_t *self, wbi_mirror_counts_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->counts;
    pthread_mutex_unlock(&self->mu);
}
