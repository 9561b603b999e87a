//  jload.c - a journal directory read into memory, run by run
//  SPDX-License-Identifier: MIT
#include "cli/jload.h"
#include "common/alloc.h"
#include "journal/journal.h"
#include "journal/records.h"
#include <stdio.h>
#include <string.h>

// Copies a payload into a NUL-terminated blob; false when out of memory.
static bool s_blob_set(wbi_jl_blob_t *b, const uint8_t *p, size_t len)
{
    char *d = wbi_malloc(len + 1);
    if (!d)
        return false;
    memcpy(d, p, len);
    d[len] = '\0';
    wbi_free(b->data);
    b->data = d;
    b->len = len;
    return true;
}

// The run numbered no, or NULL.
static wbi_jl_run_t *s_run(wbi_jl_session_t *self, uint32_t no)
{
    // Runs are numbered 1, 2, ... in RUN order, so the index is no - 1.
    if (no >= 1 && no <= self->nruns && self->runs[no - 1].no == no)
        return &self->runs[no - 1];
    for (size_t i = 0; i < self->nruns; i++)
        if (self->runs[i].no == no)
            return &self->runs[i];
    return NULL;
}

// Parses a JSON object payload; NULL when it is not one.
static json_t *s_object(const wbi_jrec_t *rec)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)rec->payload, rec->len, 0, &jerr);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

// SESSION: the journal's header.
static bool s_on_session(wbi_jl_session_t *self, const wbi_jrec_t *rec)
{
    json_t *o = s_object(rec);
    if (!o)
        return false;
    self->created = json_number_value(json_object_get(o, "created"));
    const char *mode = json_string_value(json_object_get(o, "mode"));
    const char *url = json_string_value(json_object_get(o, "base_url"));
    wbi_free(self->mode);
    wbi_free(self->base_url);
    self->mode = mode ? wbi_strdup(mode) : NULL;
    self->base_url = url ? wbi_strdup(url) : NULL;
    json_decref(o);
    return true;
}

// RUN: a new run.
static bool s_on_run(wbi_jl_session_t *self, const wbi_jrec_t *rec)
{
    json_t *o = s_object(rec);
    if (!o || !json_string_value(json_object_get(o, "run_id")) ||
        !json_string_value(json_object_get(o, "project")) || s_run(self, rec->run)) {
        json_decref(o);
        return false;
    }
    wbi_jl_run_t *runs = wbi_realloc(self->runs, (self->nruns + 1) * sizeof *runs);
    if (!runs) {
        json_decref(o);
        return false;
    }
    self->runs = runs;
    runs[self->nruns++] = (wbi_jl_run_t){
        .no = rec->run, .meta = o, .alerts = json_array(), .artifacts = json_array()};
    return true;
}

// Appends a copy of p to a growing array of lines.
static bool s_push(wbi_jl_blob_t **lines, size_t *n, size_t *cap_p, const uint8_t *p, size_t len)
{
    if (*n == *cap_p) {
        size_t cap = *cap_p ? *cap_p * 2 : 64;
        wbi_jl_blob_t *a = wbi_realloc(*lines, cap * sizeof *a);
        if (!a)
            return false;
        *lines = a;
        *cap_p = cap;
    }
    (*lines)[*n] = (wbi_jl_blob_t){0};
    if (!s_blob_set(&(*lines)[*n], p, len))
        return false;
    (*n)++;
    return true;
}

// HISTORY: one more line.
static bool s_on_line(wbi_jl_run_t *run, const wbi_jrec_t *rec)
{
    return s_push(&run->lines, &run->nlines, &run->cap_lines, rec->payload, rec->len);
}

// STREAM: u8 name length, the file name, one line of that file.
static bool s_on_stream(wbi_jl_run_t *run, const wbi_jrec_t *rec)
{
    const uint8_t *p = rec->payload;
    if (rec->len < 1 || (size_t)p[0] + 1 > rec->len)
        return false;
    int f = wbi_backend_stream_of((const char *)p + 1, p[0]);
    if (f < 0)
        return false; // a file this version does not know: skipped, counted
    size_t head = 1 + (size_t)p[0];
    return s_push(&run->slines[f], &run->nslines[f], &run->cap_slines[f], p + head,
                  rec->len - head);
}

// FILE: u32 name length, name, bytes.
static bool s_on_file(wbi_jl_run_t *run, const wbi_jrec_t *rec)
{
    if (rec->len < 4)
        return false;
    const uint8_t *p = rec->payload;
    size_t nlen = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (nlen == 0 || nlen > rec->len - 4 || memchr(p + 4, '\0', nlen))
        return false;
    wbi_jl_file_t *files = wbi_realloc(run->files, (run->nfiles + 1) * sizeof *files);
    if (!files)
        return false;
    run->files = files;
    wbi_jl_file_t f = {.name = wbi_strndup((const char *)p + 4, nlen), .len = rec->len - 4 - nlen};
    f.data = wbi_malloc(f.len ? f.len : 1);
    if (!f.name || !f.data) {
        wbi_free(f.name);
        wbi_free(f.data);
        return false;
    }
    memcpy(f.data, p + 4 + nlen, f.len);
    run->files[run->nfiles++] = f;
    return true;
}

// ACK: what the backend acknowledged so far (cumulative; the last one wins).
// Its backend: the ACK's base_url (written by sync), else the journal's.
static bool s_on_ack(wbi_jl_session_t *self, wbi_jl_run_t *run, const wbi_jrec_t *rec)
{
    json_t *o = s_object(rec);
    if (!o)
        return false;
    json_t *first = json_object_get(o, "first_offset");
    json_t *lines = json_object_get(o, "lines");
    bool ok = json_is_integer(first) && json_is_integer(lines) && json_integer_value(lines) >= 0;
    const char *url = json_string_value(json_object_get(o, "base_url"));
    if (!url)
        url = self->base_url;
    if (ok && url && run->ack_url && strcmp(url, run->ack_url) != 0) {
        // Another backend: what an earlier one acknowledged does not count for it.
        run->ack_lines = 0;
        run->ack_completed = false;
        for (int f = 0; f < WBI_STREAMS; f++)
            run->ack_slines[f] = 0;
    }
    if (ok) {
        wbi_free(run->ack_url);
        run->ack_url = url ? wbi_strdup(url) : NULL;
        run->acked = true;
        run->ack_first = json_integer_value(first);
        // A later session of sync may have acknowledged more: never go back.
        uint64_t n = (uint64_t)json_integer_value(lines);
        run->ack_lines = n > run->ack_lines ? n : run->ack_lines;
        run->ack_completed |= json_is_true(json_object_get(o, "completed"));
        json_t *files = json_object_get(o, "files");
        for (int f = 0; f < WBI_STREAMS; f++) {
            json_t *s = json_object_get(files, wbi_backend_stream_name(f));
            json_t *sf = json_object_get(s, "first_offset");
            json_t *sl = json_object_get(s, "lines");
            if (!json_is_integer(sf) || !json_is_integer(sl) || json_integer_value(sl) < 0)
                continue;
            run->ack_sfirst[f] = json_integer_value(sf);
            uint64_t k = (uint64_t)json_integer_value(sl);
            run->ack_slines[f] = k > run->ack_slines[f] ? k : run->ack_slines[f];
        }
    }
    json_decref(o);
    return ok;
}

// Applies one record to its run; false when it cannot be used.
static bool s_apply(wbi_jl_session_t *self, const wbi_jrec_t *rec)
{
    if (rec->type == WBI_JR_SESSION)
        return s_on_session(self, rec);
    if (rec->type == WBI_JR_RUN)
        return s_on_run(self, rec);
    wbi_jl_run_t *run = s_run(self, rec->run);
    if (!run)
        return false;
    if (run->gap &&
        (rec->type == WBI_JR_HISTORY || rec->type == WBI_JR_STREAM || rec->type == WBI_JR_FINISH)) {
        self->after_gap++;
        return true;
    }
    switch (rec->type) {
    case WBI_JR_HISTORY:
        return s_on_line(run, rec);
    case WBI_JR_STREAM:
        return s_on_stream(run, rec);
    case WBI_JR_SUMMARY:
        return s_blob_set(&run->summary, rec->payload, rec->len);
    case WBI_JR_CONFIG:
        return s_blob_set(&run->config, rec->payload, rec->len);
    case WBI_JR_ALERT: {
        json_t *o = s_object(rec);
        return o && json_array_append_new(run->alerts, o) == 0;
    }
    case WBI_JR_PREEMPTING:
        run->preempting = true;
        return true;
    case WBI_JR_RUN_UPDATE: { // the newest name, notes and tags win
        json_t *o = s_object(rec);
        bool ok = o && json_object_update(run->meta, o) == 0;
        json_decref(o);
        return ok;
    }
    case WBI_JR_FILE:
        return s_on_file(run, rec);
    case WBI_JR_FINISH: {
        json_t *o = s_object(rec);
        json_t *code = o ? json_object_get(o, "exit_code") : NULL;
        bool ok = json_is_integer(code);
        if (ok) {
            run->finished = true;
            run->abandoned = false;
            run->exit_code = (int)json_integer_value(code);
        }
        json_decref(o);
        return ok;
    }
    case WBI_JR_ABANDON:
        run->abandoned = !run->finished;
        return true;
    case WBI_JR_ACK:
        return s_on_ack(self, run, rec);
    case WBI_JR_ARTIFACT: {
        json_t *o = s_object(rec);
        return o && json_array_append_new(run->artifacts, o) == 0;
    }
    default:
        return false; // a newer type: skipped, counted
    }
}

wandb_err wbi_jl_load(wbi_jl_session_t *out, const char *dir, char *err, size_t errlen)
{
    *out = (wbi_jl_session_t){0};
    out->dir = wbi_strdup(dir);
    if (!out->dir)
        return WANDB_ENOMEM;
    wbi_journal_reader_t *r = NULL;
    wandb_err rc = wbi_journal_reader_open(&r, dir, err, errlen);
    if (rc != WANDB_OK)
        return rc;
    wbi_jrec_t rec;
    size_t seen_damage = 0;
    while (wbi_journal_reader_next(r, &rec) == 1) {
        if (wbi_journal_reader_damage_count(r) != seen_damage) {
            // Records were skipped: every run known so far may have lost lines there.
            seen_damage = wbi_journal_reader_damage_count(r);
            for (size_t i = 0; i < out->nruns; i++)
                out->runs[i].gap = true;
        }
        out->records++;
        if (!s_apply(out, &rec))
            out->bad++;
    }
    size_t n = wbi_journal_reader_damage_count(r);
    out->damage = n ? wbi_calloc(n, sizeof *out->damage) : NULL;
    for (size_t i = 0; out->damage && i < n; i++) {
        out->damage[i] = wbi_strdup(wbi_journal_reader_damage(r, i));
        out->ndamage += out->damage[i] != NULL;
    }
    if (n && !out->damage) {
        rc = WANDB_ENOMEM;
        snprintf(err, errlen, "out of memory");
    }
    wbi_journal_reader_close(&r);
    return rc;
}

void wbi_jl_release(wbi_jl_session_t *self)
{
    for (size_t i = 0; i < self->nruns; i++) {
        wbi_jl_run_t *run = &self->runs[i];
        for (size_t j = 0; j < run->nlines; j++)
            wbi_free(run->lines[j].data);
        wbi_free(run->lines);
        for (int f = 0; f < WBI_STREAMS; f++) {
            for (size_t j = 0; j < run->nslines[f]; j++)
                wbi_free(run->slines[f][j].data);
            wbi_free(run->slines[f]);
        }
        for (size_t j = 0; j < run->nfiles; j++) {
            wbi_free(run->files[j].name);
            wbi_free(run->files[j].data);
        }
        wbi_free(run->files);
        wbi_free(run->summary.data);
        wbi_free(run->config.data);
        wbi_free(run->ack_url);
        json_decref(run->meta);
        json_decref(run->alerts);
        json_decref(run->artifacts);
    }
    wbi_free(self->runs);
    for (size_t i = 0; i < self->ndamage; i++)
        wbi_free(self->damage[i]);
    wbi_free(self->damage);
    wbi_free(self->dir);
    wbi_free(self->mode);
    wbi_free(self->base_url);
    *self = (wbi_jl_session_t){0};
}

const char *wbi_jl_meta(const wbi_jl_run_t *run, const char *key)
{
    return json_string_value(json_object_get(run->meta, key));
}
