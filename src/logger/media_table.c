//  media_table.c - tables (wandb.Table): typed rows, the table file, logging
//  SPDX-License-Identifier: MIT
//
//  Rows are serialized when added, in the layout of the official client's
//  table file (media_json.h), so logging a table only wraps them:
//  {"columns":[...],"data":[[...],...]}. The file is sent as
//  media/table/<key>_<step>_<sha256[:20]>.table.json and the history value
//  is the "table-file" object (wandb/sdk/data_types/table.py). The
//  official client also logs a run_table artifact; this one does not.
//  Thread: the object's.
#include "logger/media.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "logger/media_json.h"
#include "logger/media_sha256.h"
#include <string.h>

struct wandb_table {
    char **columns; // ncols names
    size_t ncols;   // 1..WANDB_TABLE_MAX_COLS
    size_t nrows;   // rows added
    wbi_buf_t head; // {"columns":[...],"data":[
    wbi_buf_t rows; // the rows, comma-separated
};

wandb_err wandb_table_new(wandb_table_t **out, const char *const *columns, size_t ncols)
{
    if (!out)
        return WANDB_EINVAL;
    *out = NULL;
    if (!columns || ncols == 0 || ncols > WANDB_TABLE_MAX_COLS)
        return WANDB_EINVAL;
    for (size_t i = 0; i < ncols; i++) {
        if (!columns[i] || !wbi_utf8_valid(columns[i], strlen(columns[i]))) {
            wbi_warn("wandb_table_new: column %zu is NULL or not UTF-8", i);
            return WANDB_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(columns[i], columns[j]) == 0) {
                wbi_warn("wandb_table_new: column '%.200s' given twice", columns[i]);
                return WANDB_EINVAL;
            }
    }
    wandb_table_t *t = wbi_calloc(1, sizeof(*t));
    if (!t)
        return WANDB_ENOMEM;
    wbi_buf_init(&t->head, WBI_MEDIA_FILE_MAX);
    wbi_buf_init(&t->rows, WBI_MEDIA_FILE_MAX);
    t->columns = wbi_calloc(ncols, sizeof(char *));
    wandb_err e = t->columns ? wbi_buf_puts(&t->head, "{\"columns\":[") : WANDB_ENOMEM;
    for (size_t i = 0; e == WANDB_OK && i < ncols; i++) {
        t->columns[i] = wbi_strdup(columns[i]);
        t->ncols = i + 1;
        e = t->columns[i] ? WANDB_OK : WANDB_ENOMEM;
        if (e == WANDB_OK && i)
            e = wbi_buf_putc(&t->head, ',');
        if (e == WANDB_OK)
            e = wbi_mjson_string(&t->head, columns[i], strlen(columns[i]));
    }
    if (e == WANDB_OK)
        e = wbi_buf_puts(&t->head, "],\"data\":[");
    if (e != WANDB_OK) {
        wandb_table_destroy(&t);
        return e;
    }
    *out = t;
    return WANDB_OK;
}

// Appends one cell.
static wandb_err s_cell(wbi_buf_t *b, const wandb_value_t *v)
{
    switch (v->type) {
    case WANDB_TYPE_DOUBLE:
        return wbi_mjson_double(b, v->as.d);
    case WANDB_TYPE_INT:
        return wbi_jsonx_put_int(b, v->as.i);
    case WANDB_TYPE_BOOL:
        return wbi_buf_puts(b, v->as.b ? "true" : "false");
    case WANDB_TYPE_STRING:
        return v->as.s ? wbi_mjson_string(b, v->as.s, strlen(v->as.s)) : WANDB_EINVAL;
    case WANDB_TYPE_JSON: {
        if (!v->as.s)
            return WANDB_EINVAL;
        json_error_t err;
        json_t *j = wbi_jsonx_loadb(v->as.s, strlen(v->as.s), JSON_DECODE_ANY, &err);
        if (!j)
            return WANDB_EINVAL;
        wandb_err e = wbi_mjson_value(b, j);
        json_decref(j);
        return e;
    }
    }
    return WANDB_EINVAL;
}

wandb_err wandb_table_add_row(wandb_table_t *self, const wandb_value_t *cells, size_t n)
{
    if (!self || !cells || n != self->ncols) {
        wbi_warn("wandb_table_add_row: %zu cells for %zu columns: row not added", n,
                 self ? self->ncols : 0);
        return WANDB_EINVAL;
    }
    if (self->nrows >= WANDB_TABLE_MAX_ROWS) {
        wbi_warn("wandb_table_add_row: the table has %d rows already: row not added",
                 WANDB_TABLE_MAX_ROWS);
        return WANDB_EFULL;
    }
    size_t mark = self->rows.len;
    wandb_err e = self->nrows ? wbi_buf_putc(&self->rows, ',') : WANDB_OK;
    if (e == WANDB_OK)
        e = wbi_buf_putc(&self->rows, '[');
    size_t bad = n;
    for (size_t i = 0; e == WANDB_OK && i < n; i++) {
        if (i)
            e = wbi_buf_putc(&self->rows, ',');
        if (e == WANDB_OK && (e = s_cell(&self->rows, &cells[i])) != WANDB_OK)
            bad = i;
    }
    if (e == WANDB_OK)
        e = wbi_buf_putc(&self->rows, ']');
    if (e == WANDB_OK && self->head.len + self->rows.len + 2 > WBI_MEDIA_FILE_MAX)
        e = WANDB_ETOOBIG;
    if (e != WANDB_OK) {
        self->rows.len = mark; // the row is not added
        if (bad < n)
            wbi_warn("wandb_table_add_row: cell %zu ('%.100s') is not a valid %s: row not added",
                     bad, self->columns[bad],
                     cells[bad].type == WANDB_TYPE_JSON ? "JSON text" : "value");
        else
            wbi_warn("wandb_table_add_row: row not added: %s", wandb_strerror(e));
        return e;
    }
    self->nrows++;
    return WANDB_OK;
}

size_t wandb_table_nrows(const wandb_table_t *self)
{
    return self ? self->nrows : 0;
}

size_t wandb_table_ncols(const wandb_table_t *self)
{
    return self ? self->ncols : 0;
}

void wandb_table_destroy(wandb_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wandb_table_t *t = *self_p;
    for (size_t i = 0; t->columns && i < t->ncols; i++)
        wbi_free(t->columns[i]);
    wbi_free(t->columns);
    wbi_buf_release(&t->head);
    wbi_buf_release(&t->rows);
    wbi_free(t);
    *self_p = NULL;
}

// Sends table as its file for a row at step at; *obj is its "table-file" object.
static wandb_err s_send(wandb_run_t *run, const char *key, const wandb_table_t *table, int64_t at,
                        json_t **obj, const char *call)
{
    *obj = NULL;
    size_t len = table->head.len + table->rows.len + 2;
    char *file = wbi_malloc(len);
    if (!file)
        return WANDB_ENOMEM;
    memcpy(file, table->head.data, table->head.len);
    if (table->rows.len)
        memcpy(file + table->head.len, table->rows.data, table->rows.len);
    memcpy(file + table->head.len + table->rows.len, "]}", 2);
    char sha[65];
    wbi_sha256_hex(file, len, sha);
    char name[WBI_MEDIA_NAME_MAX];
    wandb_err rc = wbi_media_name(name, "media/table", key, at, sha, ".table.json");
    if (rc != WANDB_OK)
        wbi_warn("%s: key '%.200s' gives no valid file name", call, key);
    if (rc == WANDB_OK && (rc = wbi_media_send(run, name, file, len)) != WANDB_OK)
        wbi_warn("%s: '%.200s' not sent: %s", call, name, wandb_strerror(rc));
    wbi_free(file);
    if (rc != WANDB_OK)
        return rc;
    *obj = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s}", "_type", "table-file", "sha256", sha,
                     "size", (json_int_t)len, "path", name, "ncols", (json_int_t)table->ncols,
                     "nrows", (json_int_t)table->nrows, "log_mode", "IMMUTABLE");
    return *obj ? WANDB_OK : WANDB_ENOMEM;
}

// Dumps obj (consumed) and logs it under key.
static wandb_err s_log_obj(wandb_run_t *run, const char *key, json_t *obj, int64_t step, int commit)
{
    char *json = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!json)
        return WANDB_ENOMEM;
    wandb_err rc = wbi_media_log_json(run, key, json, step, commit);
    wbi_free(json);
    return rc;
}

// True when a call at step would be rejected for a lower step: the row is
// then logged (and rejected, counted there) without sending any file.
static bool s_step_behind(const wandb_run_t *run, int64_t step)
{
    return step >= 0 && step < atomic_load_explicit(&run->step, memory_order_relaxed);
}

wandb_err wandb_log_table(wandb_run_t *run, const char *key, const wandb_table_t *table,
                          int64_t step, int commit)
{
    if (!run || !key || !*key || !table)
        return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    if (s_step_behind(run, step))
        return wbi_media_log_json(run, key, "null", step, commit);
    json_t *obj = NULL;
    wandb_err rc = s_send(run, key, table, wbi_media_step(run, step), &obj, "wandb_log_table");
    return rc == WANDB_OK ? s_log_obj(run, key, obj, step, commit) : rc;
}

wandb_err wandb_log_tables(wandb_run_t *run, const char *key, const wandb_table_t *const *tables,
                           size_t n, int64_t step, int commit)
{
    if (!run || !key || !*key || !tables || n == 0 || n > WBI_MEDIA_LIST_MAX)
        return WANDB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!tables[i])
            return WANDB_EINVAL;
    if (run->disabled)
        return WANDB_OK;
    if (s_step_behind(run, step))
        return wbi_media_log_json(run, key, "null", step, commit);
    int64_t at = wbi_media_step(run, step);
    json_t *list = json_array();
    wandb_err rc = list ? WANDB_OK : WANDB_ENOMEM;
    for (size_t i = 0; rc == WANDB_OK && i < n; i++) {
        json_t *obj = NULL;
        rc = s_send(run, key, tables[i], at, &obj, "wandb_log_tables");
        if (rc == WANDB_OK && json_array_append_new(list, obj) != 0)
            rc = WANDB_ENOMEM;
    }
    if (rc != WANDB_OK) {
        json_decref(list);
        return rc;
    }
    return s_log_obj(run, key, list, step, commit);
}
