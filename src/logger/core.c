//  core.c - the producer side of a run: log, config, summary, control records
//  SPDX-License-Identifier: MIT
//
//  Every call builds its records straight into the run's ring under the run
//  mutex; a call that must wait for room releases the mutex while it naps.
//  The scalar path of wandb_log_values allocates nothing and makes no system
//  call other than clock_gettime (vDSO). Design: docs/logger.md.
//  The getters, URLs, setters and read-back live in props.c, the argument
//  checks in check.c, the shipped-state mirror in mirror.c. About 820 lines:
//  the calls here share the ring-writing helpers. NEEDSWORK(#10): the
//  control records (config, summary, define_metric, alert) move to their
//  own file once define_metric settles on its branch.
#include "logger/artifact.h"
#include "logger/run.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/wire.h"
#include "logger/check.h"
#include "logger/mirror.h"
#include "logger/save.h"
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_ROW_FIXED (WBI_WIRE_RECORD_HEADER + WBI_WIRE_ROW_HEADER)

// Allocates the run, its ring, key table and scratch arrays.
wandb_err wbi_run_core_new(wandb_run_t **out, wbi_cfg_t *cfg)
{
    wandb_run_t *self = wbi_calloc(1, sizeof(*self));
    if (!self)
        return WANDB_ENOMEM;
    pthread_mutex_init(&self->mu, NULL);
    pthread_mutex_init(&self->save_mu, NULL);
    self->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    self->disabled = self->cfg.mode == WBI_MODE_DISABLED;
    self->start_time = wbi_now_unix();
    atomic_init(&self->step, 0);
    atomic_init(&self->dropped, 0);
    atomic_init(&self->rejected, 0);
    atomic_init(&self->rows_logged, 0);
    atomic_init(&self->welcomed, false);
    if (wbi_run_props_init(self) != WANDB_OK)
        goto fail;
    if (self->disabled) {
        *out = self;
        return WANDB_OK;
    }
    if (wbi_mirror_new(&self->mirror, self->start_time) != WANDB_OK ||
        wbi_ring_init(&self->ring, self->cfg.ring_bytes) != WANDB_OK ||
        wbi_keys_init(&self->keys, WBI_KEYS_DEFAULT_MAX, 64) != WANDB_OK)
        goto fail;
    // Large but lazily touched: calloc of this size maps zero pages.
    self->ids = wbi_calloc(WBI_WIRE_ROW_MAX_VALUES, sizeof(*self->ids));
    self->lens = wbi_calloc(WBI_WIRE_ROW_MAX_VALUES, sizeof(*self->lens));
    if (!self->ids || !self->lens)
        goto fail;
    *out = self;
    return WANDB_OK;
fail:
    wbi_run_core_destroy(&self);
    return WANDB_ENOMEM;
}

// Frees the run's memory and nulls the caller's pointer.
void wbi_run_core_destroy(wandb_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wandb_run_t *self = *self_p;
    wbi_ring_release(&self->ring);
    wbi_keys_release(&self->keys);
    wbi_free(self->ids);
    wbi_free(self->lens);
    wbi_run_props_release(self);
    wbi_mirror_destroy(&self->mirror);
    wbi_cfg_release(&self->cfg);
    wbi_save_live_stop(self);
    wbi_save_release(self);
    wbi_watch_release(self);
    wbi_art_release(self);
    pthread_mutex_destroy(&self->save_mu);
    pthread_mutex_destroy(&self->mu);
    wbi_free(self);
    *self_p = NULL;
}

// Takes both locks so that no call is inside; producers see closed after.
void wbi_run_core_retire(wandb_run_t *self)
{
    wbi_save_live_stop(self); // takes save_mu itself: before the locks below
    pthread_mutex_lock(&self->save_mu);
    pthread_mutex_lock(&self->mu);
    self->closed = true;
    // Only the bytes: cap stays, as calls read it before taking the mutex.
    wbi_free(self->ring.data);
    self->ring.data = NULL;
    wbi_keys_release(&self->keys);
    wbi_free(self->ids);
    wbi_free(self->lens);
    self->ids = NULL;
    self->lens = NULL;
    wbi_save_release(self);
    pthread_mutex_unlock(&self->mu);
    pthread_mutex_unlock(&self->save_mu);
}

// Pauses a retry loop that waits for ring room outside the run mutex: yields
// for the first attempts, then sleeps 50 us at a time.
static void s_nap(int attempt)
{
    if (attempt < 64) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

// Appends bytes at the writer position and advances it.
static inline void s_put(wbi_ring_t *ring, size_t *pos, const void *src, size_t n)
{
    wbi_ring_write_at(ring, *pos, src, n);
    *pos += n;
}

// Writes a record header and payload at *pos (room already reserved).
static void s_put_record(wbi_ring_t *ring, size_t *pos, uint8_t type, const void *payload,
                         size_t len)
{
    uint8_t hdr[WBI_WIRE_RECORD_HEADER];
    wbi_wire_record_put(hdr, type, (uint32_t)len);
    s_put(ring, pos, hdr, sizeof(hdr));
    if (len)
        s_put(ring, pos, payload, len);
}

// Writes an empty ROW at step with flags (room already reserved).
static void s_put_empty_row(wandb_run_t *self, size_t *pos, int64_t step, uint8_t flags)
{
    uint8_t row[S_ROW_FIXED];
    wbi_wire_record_put(row, WBI_REC_ROW, WBI_WIRE_ROW_HEADER);
    wbi_wire_row_put(row + WBI_WIRE_RECORD_HEADER, step, wbi_now_unix(), flags, 0);
    s_put(&self->ring, pos, row, sizeof(row));
}

// Counts a dropped call and warns the first time and every WBI_WARN_EVERY.
static wandb_err s_dropped(wandb_run_t *self, size_t values)
{
    uint64_t total = atomic_fetch_add_explicit(&self->dropped, values, memory_order_relaxed);
    if (self->full_calls++ % WBI_WARN_EVERY == 0)
        wbi_warn("wandb_log: the ring (%zu bytes) is full: %llu values dropped so far "
                 "(the aggregator is slow or unreachable)",
                 self->ring.cap, (unsigned long long)(total + values));
    return WANDB_EFULL;
}

// Checks a key the table does not know yet: 1..255 bytes of UTF-8.
static bool s_key_valid(const char *key, size_t len)
{
    return len > 0 && len <= WBI_WIRE_KEY_MAX && wbi_utf8_valid(key, len);
}

// Validates a string or JSON value: size, UTF-8, and JSON syntax for JSON.
static wandb_err s_check_text(const wandb_value_t *v, size_t *len_out, const char *call)
{
    if (!v->as.s) {
        wbi_warn("%s: value of '%.64s' is a NULL string", call, v->key);
        return WANDB_EINVAL;
    }
    size_t len = strnlen(v->as.s, WBI_WIRE_VALUE_MAX + 1);
    if (len > WBI_WIRE_VALUE_MAX) {
        wbi_warn("%s: value of '%.64s' is larger than %u bytes: call dropped", call, v->key,
                 WBI_WIRE_VALUE_MAX);
        return WANDB_ETOOBIG;
    }
    if (!wbi_utf8_valid(v->as.s, len)) {
        wbi_warn("%s: value of '%.64s' is not valid UTF-8: call dropped", call, v->key);
        return WANDB_EINVAL;
    }
    if (v->type == WANDB_TYPE_JSON) {
        json_error_t jerr;
        json_t *j = wbi_jsonx_loadb(v->as.s, len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            wbi_warn("%s: value of '%.64s' is not JSON (%.80s at position %d): call dropped", call,
                     v->key, jerr.text, jerr.position);
            return WANDB_EINVAL;
        }
        json_decref(j);
    }
    *len_out = len;
    return WANDB_OK;
}

// Pass 1 of a log call: interns new keys tentatively, validates the values
// and returns the bytes the call needs in *total. The caller rolls the keys
// back on error.
static wandb_err s_log_plan(wandb_run_t *self, const wandb_value_t *values, size_t n, size_t *total)
{
    size_t need = S_ROW_FIXED;
    for (size_t i = 0; i < n; i++) {
        const wandb_value_t *v = &values[i];
        if (!v->key) {
            wbi_warn("wandb_log: value %zu has a NULL key: call dropped", i);
            return WANDB_EINVAL;
        }
        // Fast path: the same key as at this position in the last call.
        // Compared by bytes, so a reused buffer with new text is not fooled.
        uint32_t id = 0;
        if (i < WBI_KEY_HINTS && self->hint_key[i] == v->key &&
            wbi_keys_match(&self->keys, self->hint_id[i], v->key)) {
            self->ids[i] = self->hint_id[i];
            goto value;
        }
        size_t klen;
        uint32_t hash;
        id = wbi_keys_find(&self->keys, v->key, &klen, &hash);
        if (id == 0) {
            char shown[WBI_ESCAPED_BYTES];
            if (!s_key_valid(v->key, klen)) {
                wbi_warn("wandb_log: invalid key '%s': keys are 1 to 255 bytes of UTF-8: "
                         "call dropped",
                         wbi_check_escape(v->key, 64, shown, sizeof shown));
                return WANDB_EINVAL;
            }
            if (wbi_check_reserved_key(v->key, klen)) {
                wbi_warn("wandb_log: key '%s' is reserved (the library writes _step, "
                         "_runtime, _timestamp and _wandb itself): call dropped",
                         v->key);
                return WANDB_EINVAL;
            }
            if (wbi_keys_add(&self->keys, v->key, klen, hash, &id) != WANDB_OK) {
                wbi_warn("wandb_log: cannot add key '%.64s': the key table is full (%u keys): "
                         "call dropped",
                         v->key, self->keys.max);
                return WANDB_EFULL;
            }
            need += WBI_WIRE_RECORD_HEADER + 4 + klen;
        }
        self->ids[i] = id;
        if (i < WBI_KEY_HINTS) {
            self->hint_key[i] = v->key;
            self->hint_id[i] = id;
        }
    value:
        switch (v->type) {
        case WANDB_TYPE_DOUBLE:
        case WANDB_TYPE_INT:
            need += 12;
            break;
        case WANDB_TYPE_BOOL:
            need += 5;
            break;
        case WANDB_TYPE_STRING:
        case WANDB_TYPE_JSON: {
            size_t len = 0;
            wandb_err err = s_check_text(v, &len, "wandb_log");
            if (err != WANDB_OK)
                return err;
            self->lens[i] = (uint32_t)len;
            need += 8 + len;
            break;
        }
        default:
            wbi_warn("wandb_log: value of '%.64s' has unknown type %d: call dropped", v->key,
                     (int)v->type);
            return WANDB_EINVAL;
        }
    }
    if (need > self->ring.cap) {
        wbi_warn("wandb_log: a call of %zu bytes does not fit in the ring (%zu bytes): dropped",
                 need, self->ring.cap);
        return WANDB_ETOOBIG;
    }
    *total = need;
    return WANDB_OK;
}

// Pass 2 of a log call: KEY records of the keys added since keys_before,
// then the ROW (total bytes in all, room reserved). Returns the new head.
// The ROW is encoded in place when it does not cross the end of the ring
// (the common case), else piece by piece.
static size_t s_log_write(wandb_run_t *self, const wandb_value_t *values, size_t n,
                          uint32_t keys_before, size_t total, int64_t step, uint8_t flags)
{
    wbi_ring_t *ring = &self->ring;
    size_t head = wbi_ring_head(ring);
    size_t pos = head;
    for (uint32_t id = keys_before + 1; id <= self->keys.count; id++) {
        size_t klen = 0;
        const char *key = wbi_keys_get(&self->keys, id, &klen);
        uint8_t rec[WBI_WIRE_KEY_RECORD_MAX];
        s_put(ring, &pos, rec, wbi_wire_key_put(rec, id, key, klen));
    }
    size_t row_bytes = total - (pos - head);
    uint8_t hdr[S_ROW_FIXED];
    wbi_wire_record_put(hdr, WBI_REC_ROW, (uint32_t)(row_bytes - WBI_WIRE_RECORD_HEADER));
    wbi_wire_row_put(hdr + WBI_WIRE_RECORD_HEADER, step, wbi_now_unix(), flags, (uint16_t)n);
    size_t off = pos & ring->mask;
    if (off + row_bytes <= ring->cap) {
        uint8_t *p = ring->data + off;
        memcpy(p, hdr, S_ROW_FIXED);
        p += S_ROW_FIXED;
        for (size_t i = 0; i < n; i++)
            p += wbi_wire_value_put(p, self->ids[i], &values[i], self->lens[i]);
        return pos + row_bytes;
    }
    s_put(ring, &pos, hdr, S_ROW_FIXED);
    for (size_t i = 0; i < n; i++) {
        const wandb_value_t *v = &values[i];
        uint8_t tmp[12];
        if (v->type == WANDB_TYPE_STRING || v->type == WANDB_TYPE_JSON) {
            wbi_put_u32(tmp, ((uint32_t)v->type << 28) | self->ids[i]);
            wbi_put_u32(tmp + 4, self->lens[i]);
            s_put(ring, &pos, tmp, 8);
            s_put(ring, &pos, v->as.s, self->lens[i]);
        } else {
            size_t k = wbi_wire_value_put(tmp, self->ids[i], v, 0);
            s_put(ring, &pos, tmp, k);
        }
    }
    return pos;
}

// Rejects a call whose step is below the current one (counted, warned).
static wandb_err s_reject_step(wandb_run_t *self, int64_t step, int64_t cur)
{
    uint64_t n = atomic_fetch_add_explicit(&self->rejected, 1, memory_order_relaxed) + 1;
    if (n % WBI_WARN_EVERY == 1)
        wbi_warn("wandb_log: step %lld is lower than the current step %lld: call rejected "
                 "(%llu rejected so far)",
                 (long long)step, (long long)cur, (unsigned long long)n);
    return WANDB_ESTEP;
}

// A call dropped for a full ring still uses up its step, as if its row had
// been written: the row is missing, but later rows keep their numbering, so
// that steps stay aligned with the caller's loop (and across ranks).
static void s_keep_step(wandb_run_t *run, int64_t step, bool commit_now)
{
    run->row_open = !commit_now;
    atomic_store_explicit(&run->step, commit_now ? step + 1 : step, memory_order_relaxed);
}

// Warns that a call came after wandb_finish (the first time, then every
// WBI_WARN_EVERY) and returns WANDB_ECLOSED.
static wandb_err s_closed(const char *what)
{
    static atomic_uint_fast64_t calls;
    if (atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) % WBI_WARN_EVERY == 0)
        wbi_warn("%s: the run has finished (wandb_finish was called): call dropped", what);
    return WANDB_ECLOSED;
}

// Warns about a NULL run and returns WANDB_EINVAL.
static wandb_err s_no_run(const char *fn)
{
    wbi_warn("%s: run is NULL (no wandb_init, or wandb_finish has set the pointer to NULL)", fn);
    return WANDB_EINVAL;
}

// Adds rows to rows_logged. One writer (under mu): a plain load and store, no atomic add.
static inline void s_count_rows(wandb_run_t *run, uint64_t rows)
{
    if (rows)
        atomic_store_explicit(&run->rows_logged,
                              atomic_load_explicit(&run->rows_logged, memory_order_relaxed) + rows,
                              memory_order_relaxed);
}

// One attempt of a log call under the run mutex. When the ring has no room
// it sets *no_room and returns WANDB_EFULL; only the last attempt counts
// the call as dropped. Nothing is written unless the whole call fits.
static wandb_err s_log_locked(wandb_run_t *run, const wandb_value_t *values, size_t n, int64_t step,
                              int commit, bool last, bool *no_room)
{
    if (run->closed)
        return WANDB_ECLOSED;
    int64_t cur = atomic_load_explicit(&run->step, memory_order_relaxed);
    bool commit_now;
    if (step != WANDB_STEP_AUTO) {
        if (step < cur)
            return s_reject_step(run, step, cur);
        commit_now = commit == WANDB_COMMIT_TRUE;
    } else {
        step = cur;
        commit_now = commit != WANDB_COMMIT_FALSE;
    }
    // A higher step closes the pending row: the aggregator sees the step move.
    bool row_open = run->row_open && step == cur;
    uint64_t closed_rows = run->row_open && step > cur; // that pending row counts as logged
    if (n == 0) {
        if (commit_now && row_open) {
            if (!wbi_ring_reserve(&run->ring, S_ROW_FIXED)) {
                *no_room = true;
                if (!last)
                    return WANDB_EFULL;
                s_keep_step(run, step, true);
                return s_dropped(run, 0);
            }
            size_t pos = wbi_ring_head(&run->ring);
            s_put_empty_row(run, &pos, step, WBI_WIRE_ROW_COMMIT);
            wbi_ring_publish(&run->ring, pos);
            atomic_fetch_add_explicit(&run->rows_logged, 1, memory_order_relaxed);
            run->row_open = false;
            atomic_store_explicit(&run->step, step + 1, memory_order_relaxed);
        } else if (step > cur) {
            s_count_rows(run, closed_rows);
            run->row_open = false;
            atomic_store_explicit(&run->step, step, memory_order_relaxed);
        }
        return WANDB_OK;
    }
    uint32_t keys_before = run->keys.count;
    size_t total = 0;
    wandb_err err = s_log_plan(run, values, n, &total);
    if (err == WANDB_OK && !wbi_ring_reserve(&run->ring, total)) {
        *no_room = true;
        err = WANDB_EFULL;
        if (last) {
            s_keep_step(run, step, commit_now);
            err = s_dropped(run, n);
        }
    }
    if (err != WANDB_OK) {
        wbi_keys_truncate(&run->keys, keys_before);
        return err;
    }
    uint8_t flags = commit_now ? WBI_WIRE_ROW_COMMIT : 0;
    wbi_ring_publish(&run->ring, s_log_write(run, values, n, keys_before, total, step, flags));
    s_count_rows(run, closed_rows + commit_now);
    run->row_open = !commit_now;
    atomic_store_explicit(&run->step, commit_now ? step + 1 : step, memory_order_relaxed);
    return WANDB_OK;
}

// The seed's Run.log(data, step, commit), as one ROW record (see wandb.h).
// With ring_full=wait a call that finds the ring full retries for up to
// ring_wait_ms, napping outside the mutex so that other threads can log.
wandb_err wandb_log_values(wandb_run_t *run, const wandb_value_t *values, size_t n, int64_t step,
                           int commit)
{
    if (!run)
        return s_no_run("wandb_log_values");
    if (run->disabled)
        return WANDB_OK;
    if ((n > 0 && !values) || n > WBI_WIRE_ROW_MAX_VALUES) {
        wbi_warn("wandb_log: %zu values (at most %u, values non-NULL): call dropped", n,
                 WBI_WIRE_ROW_MAX_VALUES);
        return WANDB_EINVAL;
    }
    if (step < 0 && step != WANDB_STEP_AUTO) {
        wbi_warn("wandb_log: step %lld is negative: use a step >= 0, or WANDB_STEP_AUTO (-1) "
                 "for the current step: call dropped",
                 (long long)step);
        return WANDB_EINVAL;
    }
    if (commit != WANDB_COMMIT_AUTO && commit != WANDB_COMMIT_FALSE &&
        commit != WANDB_COMMIT_TRUE) {
        wbi_warn("wandb_log: commit %d is not WANDB_COMMIT_AUTO (-1), WANDB_COMMIT_FALSE (0) "
                 "or WANDB_COMMIT_TRUE (1): call dropped",
                 commit);
        return WANDB_EINVAL;
    }
    wbi_watch_on_log(run, step); // watched histograms join the row first (media_watch.c)
    int wait_ms = run->cfg.ring_full == WBI_RING_WAIT ? run->cfg.ring_wait_ms : 0;
    int64_t deadline = 0;
    for (int i = 0;; i++) {
        bool last = wait_ms <= 0 || (i > 0 && wbi_now_ms() >= deadline);
        bool no_room = false;
        pthread_mutex_lock(&run->mu);
        wandb_err err = s_log_locked(run, values, n, step, commit, last, &no_room);
        pthread_mutex_unlock(&run->mu);
        if (err == WANDB_ECLOSED)
            return s_closed("wandb_log");
        if (!no_room || last)
            return err;
        if (i == 0)
            deadline = wbi_now_ms() + wait_ms;
        s_nap(i);
    }
}

// Writes one record of total bytes if the ring has room bytes free (room >=
// total), else retries outside the mutex until wait_ms passed. WANDB_EFULL
// when it never had room.
static wandb_err s_put_record_wait(wandb_run_t *self, uint8_t type, const void *payload, size_t len,
                                   size_t room, int wait_ms)
{
    int64_t deadline = 0;
    for (int i = 0;; i++) {
        wandb_err err = WANDB_OK;
        pthread_mutex_lock(&self->mu);
        if (self->closed) {
            pthread_mutex_unlock(&self->mu);
            return s_closed("wandb (config, summary, define_metric, alert, ...)");
        } else if (!wbi_ring_reserve(&self->ring, room)) {
            err = WANDB_EFULL;
        } else {
            size_t pos = wbi_ring_head(&self->ring);
            s_put_record(&self->ring, &pos, type, payload, len);
            wbi_ring_publish(&self->ring, pos);
        }
        pthread_mutex_unlock(&self->mu);
        if (err != WANDB_EFULL || wait_ms <= 0)
            return err;
        if (i == 0)
            deadline = wbi_now_ms() + wait_ms;
        else if (wbi_now_ms() >= deadline)
            return err;
        s_nap(i);
    }
}

// Writes one control record, waiting outside the mutex for room.
wandb_err wbi_run_put_record(wandb_run_t *self, uint8_t type, const void *payload, size_t len,
                             int wait_ms)
{
    size_t total = WBI_WIRE_RECORD_HEADER + len;
    if (total > self->ring.cap || len > UINT32_MAX)
        return WANDB_ETOOBIG;
    return s_put_record_wait(self, type, payload, len, total, wait_ms);
}

// Writes one bulk record (a file chunk) only while the ring is at most half
// full, so that rows logged meanwhile always find room.
wandb_err wbi_run_put_bulk_record(wandb_run_t *self, uint8_t type, const void *payload, size_t len,
                                  int wait_ms)
{
    size_t total = WBI_WIRE_RECORD_HEADER + len;
    if (total > self->ring.cap / 2 || len > UINT32_MAX)
        return WANDB_ETOOBIG;
    return s_put_record_wait(self, type, payload, len, self->ring.cap / 2, wait_ms);
}

// Commits an open row, then FINISH with the counters; closes the run. Waits
// for room outside the mutex.
wandb_err wbi_run_put_finish(wandb_run_t *self, int exit_code, int wait_ms)
{
    int64_t deadline = 0;
    for (int i = 0;; i++) {
        bool last = wait_ms <= 0 || (i > 0 && wbi_now_ms() >= deadline);
        wandb_err err = WANDB_OK;
        pthread_mutex_lock(&self->mu);
        if (self->closed) {
            pthread_mutex_unlock(&self->mu);
            return WANDB_ECLOSED;
        }
        size_t need = WBI_WIRE_FINISH_RECORD + (self->row_open ? S_ROW_FIXED : 0);
        if (!wbi_ring_reserve(&self->ring, need)) {
            err = WANDB_ETIMEDOUT;
        } else {
            size_t pos = wbi_ring_head(&self->ring);
            int64_t step = atomic_load_explicit(&self->step, memory_order_relaxed);
            if (self->row_open) {
                s_put_empty_row(self, &pos, step, WBI_WIRE_ROW_COMMIT);
                self->row_open = false;
                atomic_store_explicit(&self->step, step + 1, memory_order_relaxed);
            }
            uint8_t fin[WBI_WIRE_FINISH_RECORD];
            wbi_wire_finish_put(fin, (int32_t)exit_code, atomic_load(&self->dropped),
                                atomic_load(&self->rejected));
            s_put(&self->ring, &pos, fin, sizeof(fin));
            wbi_ring_publish(&self->ring, pos);
        }
        if (err == WANDB_OK || last)
            self->closed = true;
        pthread_mutex_unlock(&self->mu);
        if (err == WANDB_OK || last)
            return err;
        if (i == 0)
            deadline = wbi_now_ms() + wait_ms;
        s_nap(i);
    }
}

// Builds a JSON object text from values (config and summary updates).
static wandb_err s_values_json(const wandb_value_t *values, size_t n, const char *call,
                               bool reserved_ok, char **out)
{
    if (n > 0 && !values)
        return WANDB_EINVAL;
    json_t *obj = json_object();
    if (!obj)
        return WANDB_ENOMEM;
    wandb_err err = WANDB_OK;
    for (size_t i = 0; i < n && err == WANDB_OK; i++) {
        const wandb_value_t *v = &values[i];
        size_t klen = v->key ? strnlen(v->key, 256) : 0;
        char shown[WBI_ESCAPED_BYTES];
        if (!v->key || !s_key_valid(v->key, klen)) {
            wbi_warn("%s: invalid key '%s': keys are 1 to 255 bytes of UTF-8", call,
                     wbi_check_escape(v->key, 64, shown, sizeof shown));
            err = WANDB_EINVAL;
            break;
        }
        if (!reserved_ok && wbi_check_reserved_key(v->key, klen)) {
            wbi_warn("%s: key '%s' is reserved (the library writes _step, _runtime, "
                     "_timestamp and _wandb itself): call dropped",
                     call, v->key);
            err = WANDB_EINVAL;
            break;
        }
        json_t *j = NULL;
        size_t len = 0;
        switch (v->type) {
        case WANDB_TYPE_DOUBLE:
            j = wbi_jsonx_real(v->as.d);
            break;
        case WANDB_TYPE_INT:
            j = json_integer(v->as.i);
            break;
        case WANDB_TYPE_BOOL:
            j = json_boolean(v->as.b);
            break;
        case WANDB_TYPE_STRING:
        case WANDB_TYPE_JSON:
            err = s_check_text(v, &len, call);
            if (err != WANDB_OK)
                break;
            if (v->type == WANDB_TYPE_STRING) {
                j = json_stringn(v->as.s, len);
            } else {
                json_error_t jerr;
                j = wbi_jsonx_loadb(v->as.s, len, JSON_DECODE_ANY, &jerr);
            }
            break;
        default:
            wbi_warn("%s: value of '%.64s' has unknown type %d", call, v->key, (int)v->type);
            err = WANDB_EINVAL;
        }
        if (err == WANDB_OK && (!j || json_object_set_new(obj, v->key, j) != 0))
            err = WANDB_ENOMEM;
    }
    if (err == WANDB_OK) {
        *out = wbi_jsonx_dumps(obj, JSON_COMPACT);
        if (!*out)
            err = WANDB_ENOMEM;
    }
    json_decref(obj);
    return err;
}

// Writes a JSON control record, waiting a little for room when full. A
// config or summary update that finds no room counts its values (counted:
// 0 for other records) in wandb_run_dropped, as a dropped row does.
static wandb_err s_put_json(wandb_run_t *run, uint8_t type, char *json, const char *call,
                            size_t counted)
{
    int wait =
        run->cfg.ring_wait_ms > WBI_CONTROL_WAIT_MS ? run->cfg.ring_wait_ms : WBI_CONTROL_WAIT_MS;
    wandb_err err = wbi_run_put_record(run, type, json, strlen(json), wait);
    if (err == WANDB_EFULL || err == WANDB_ETOOBIG) {
        uint64_t total = counted ? atomic_fetch_add(&run->dropped, counted) + counted
                                 : atomic_load(&run->dropped);
        wbi_warn("%s: %s: update dropped (%llu values dropped so far)", call, wandb_strerror(err),
                 (unsigned long long)total);
    }
    wbi_free(json);
    return err;
}

// Config update from values: a CONFIG record.
wandb_err wandb_config_values(wandb_run_t *run, const wandb_value_t *values, size_t n)
{
    if (!run)
        return s_no_run("wandb_config_values");
    if (run->disabled)
        return WANDB_OK;
    char *json = NULL;
    wandb_err err = s_values_json(values, n, "wandb_config_update", true, &json);
    return err == WANDB_OK ? s_put_json(run, WBI_REC_CONFIG, json, "wandb_config_update", n) : err;
}

// Parses a JSON object and sends it as a CONFIG record.
wandb_err wandb_config_json(wandb_run_t *run, const char *json)
{
    if (!run || !json)
        return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    json_error_t jerr;
    json_t *obj = wbi_jsonx_loadb(json, strlen(json), 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        wbi_warn("wandb_config_json: %s", obj ? "not a JSON object" : jerr.text);
        json_decref(obj);
        return WANDB_EINVAL;
    }
    char *text = wbi_jsonx_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        return WANDB_ENOMEM;
    return s_put_json(run, WBI_REC_CONFIG, text, "wandb_config_json", 1);
}

// Explicit summary values: a SUMMARY record.
wandb_err wandb_summary_values(wandb_run_t *run, const wandb_value_t *values, size_t n)
{
    if (!run)
        return s_no_run("wandb_summary_values");
    if (run->disabled)
        return WANDB_OK;
    char *json = NULL;
    wandb_err err = s_values_json(values, n, "wandb_summary_update", false, &json);
    return err == WANDB_OK ? s_put_json(run, WBI_REC_SUMMARY, json, "wandb_summary_update", n)
                           : err;
}

// Checks that every comma-separated item of list is one of allowed.
static bool s_list_valid(const char *list, const char *const *allowed)
{
    const char *p = list;
    if (!*p)
        return false;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (const char *const *a = allowed; *a && !found; a++)
            found = strlen(*a) == n && strncmp(*a, p, n) == 0;
        if (!found)
            return false;
        if (!end)
            return true;
        p = end + 1;
    }
}

// A DEFINE_METRIC record {name, step_metric, step_sync, hidden, summary, goal, overwrite}.
wandb_err wandb_define_metric(wandb_run_t *run, const char *name, const char *step_metric,
                              const char *summary, const char *goal, unsigned flags)
{
    static const char *const summaries[] = {"min",   "max",  "mean", "best",
                                            "first", "last", "none", NULL};
    if (!run)
        return s_no_run("wandb_define_metric");
    if (run->disabled)
        return WANDB_OK;
    if (!name || !s_key_valid(name, strnlen(name, 256)) ||
        (step_metric && !s_key_valid(step_metric, strnlen(step_metric, 256)))) {
        char shown[WBI_ESCAPED_BYTES], shown2[WBI_ESCAPED_BYTES];
        wbi_warn("wandb_define_metric: invalid name '%s' or step_metric '%s'",
                 wbi_check_escape(name, 64, shown, sizeof shown),
                 wbi_check_escape(step_metric, 64, shown2, sizeof shown2));
        return WANDB_EINVAL;
    }
    if (summary && !s_list_valid(summary, summaries)) {
        wbi_warn("wandb_define_metric: invalid summary '%.64s': use a comma-separated list of "
                 "min, max, mean, best, first, last, none",
                 summary);
        return WANDB_EINVAL;
    }
    if (goal && strcmp(goal, "minimize") != 0 && strcmp(goal, "maximize") != 0) {
        wbi_warn("wandb_define_metric: invalid goal '%.64s': use minimize or maximize", goal);
        return WANDB_EINVAL;
    }
    json_t *obj =
        json_pack("{s:s, s:s?, s:b, s:b, s:s?, s:s?, s:b}", "name", name, "step_metric",
                  step_metric, "step_sync", step_metric && !(flags & WANDB_METRIC_NO_STEP_SYNC),
                  "hidden", (flags & WANDB_METRIC_HIDDEN) != 0, "summary", summary, "goal", goal,
                  "overwrite", (flags & WANDB_METRIC_OVERWRITE) != 0);
    char *text = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return WANDB_ENOMEM;
    return s_put_json(run, WBI_REC_DEFINE_METRIC, text, "wandb_define_metric", 0);
}

// A REDUCE record {name, reduce} for the job run.
wandb_err wandb_define_reduce(wandb_run_t *run, const char *name, const char *reduce)
{
    static const char *const words[] = {"mean",   "min",    "max",  "sum", "std",
                                        "argmin", "argmax", "none", NULL};
    if (!run)
        return s_no_run("wandb_define_reduce");
    if (run->disabled)
        return WANDB_OK;
    if (!name || !s_key_valid(name, strnlen(name, 256))) {
        wbi_warn("wandb_define_reduce: invalid metric name (empty, too long or not UTF-8)");
        return WANDB_EINVAL;
    }
    if (!reduce || !s_list_valid(reduce, words)) {
        wbi_warn("wandb_define_reduce: metric '%.64s': invalid reduce list: use a comma-separated "
                 "list of mean, min, max, sum, std, argmin, argmax, or none",
                 name);
        return WANDB_EINVAL;
    }
    json_t *obj = json_pack("{s:s, s:s}", "name", name, "reduce", reduce);
    char *text = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return WANDB_ENOMEM;
    return s_put_json(run, WBI_REC_REDUCE, text, "wandb_define_reduce", 0);
}

// An ALERT record {title, text, level, wait_ms}.
wandb_err wandb_alert(wandb_run_t *run, const char *title, const char *text, const char *level,
                      int64_t wait_ms)
{
    if (!run)
        return s_no_run("wandb_alert");
    if (run->disabled)
        return WANDB_OK;
    if (!title || !text) {
        wbi_warn("wandb_alert: the title and the text must not be NULL");
        return WANDB_EINVAL;
    }
    size_t text_len = strnlen(text, WBI_WIRE_VALUE_MAX + 1);
    if (!wbi_utf8_valid(title, strlen(title)) || !wbi_utf8_valid(text, text_len)) {
        wbi_warn("wandb_alert: the title and the text must be UTF-8");
        return WANDB_EINVAL;
    }
    size_t chars = wbi_check_utf8_chars(title);
    if (chars == 0 || chars >= 64) {
        char shown[WBI_ESCAPED_BYTES];
        wbi_warn("wandb_alert: the title '%s' has %zu characters: it must have 1 to 63",
                 wbi_check_escape(title, 64, shown, sizeof shown), chars);
        return WANDB_EINVAL;
    }
    if (text_len > WBI_WIRE_VALUE_MAX) {
        wbi_warn("wandb_alert: the text is larger than %u bytes", WBI_WIRE_VALUE_MAX);
        return WANDB_EINVAL;
    }
    const char *given = level;
    level = wbi_check_alert_level(given);
    if (!level) {
        char shown[WBI_ESCAPED_BYTES];
        wbi_warn("wandb_alert: invalid level '%s': use INFO, WARN or ERROR (any case)",
                 wbi_check_escape(given, 16, shown, sizeof shown));
        return WANDB_EINVAL;
    }
    json_t *obj = json_pack("{s:s, s:s, s:s, s:I}", "title", title, "text", text, "level", level,
                            "wait_ms", (json_int_t)(wait_ms < 0 ? 60000 : wait_ms));
    char *json = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!json)
        return WANDB_ENOMEM;
    return s_put_json(run, WBI_REC_ALERT, json, "wandb_alert", 0);
}

// An empty PREEMPTING record.
wandb_err wandb_mark_preempting(wandb_run_t *run)
{
    if (!run)
        return s_no_run("wandb_mark_preempting");
    if (run->disabled)
        return WANDB_OK;
    int wait =
        run->cfg.ring_wait_ms > WBI_CONTROL_WAIT_MS ? run->cfg.ring_wait_ms : WBI_CONTROL_WAIT_MS;
    return wbi_run_put_record(run, WBI_REC_PREEMPTING, NULL, 0, wait);
}
