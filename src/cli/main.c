//  main.c - wandb-mpi: read runs and history from a wandb-mpi-server data dir
//  SPDX-License-Identifier: MIT
//
//  wandb-mpi runs [--dir D] [--project P] [--entity E] [--group G] [--json]
//  wandb-mpi history <run-id> [--dir D] [--project P] [--entity E] [--json]
//  wandb-mpi artifacts [--dir D] [--project P] [--entity E] [--json] (cli/artifacts.c)
//  wandb-mpi sync [options] [PATH...] (cli/sync.c)
//  Opens DIR/wandb.db read-only (no server needed). Default DIR:
//  $WANDB_MPI_DIR, else $HOME/.wandb-mpi. Tables for people, one JSON object
//  a line for scripts (--json).

#include "cli/artifacts.h"
#include "cli/job.h"
#include "cli/sync.h"
#include "cli/ui.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "store/runjson.h"
#include "store/store.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_CELL_MAX 40           // characters of one table cell before "..."
#define S_MAX_COLUMNS 64        // history columns shown in table form
#define S_MAX_TABLE_ROWS 100000 // rows held in memory for table layout

typedef struct {
    const char *cmd;     // "runs" or "history"
    const char *run_id;  // history: the run
    const char *dir;     // data directory
    const char *project; // filter
    const char *entity;  // filter
    const char *group;   // filter
    bool json;           // JSON lines instead of a table
} s_args_t;

// Prints the usage text.
static void s_usage(FILE *out)
{
    fprintf(out, "usage: wandb-mpi runs [--dir D] [--project P] [--entity E] [--group G] [--json]\n"
                 "       wandb-mpi history RUN_ID [--dir D] [--project P] [--entity E] [--json]\n"
                 "       wandb-mpi job --group G [--dir D] [--project P] [--entity E]\n"
                 "       wandb-mpi artifacts [--dir D] [--project P] [--entity E] [--json]\n"
                 "       wandb-mpi sync [--base-url URL] [--api-key KEY] [PATH...] (sync --help)\n"
                 "       wandb-mpi ui [--dir D] [--port N]  (the dashboard; ui --help)\n"
                 "\n"
                 "Reads the data directory of wandb-mpi-server directly (read-only).\n"
                 "\n"
                 "  --dir D       data directory (default $WANDB_MPI_DIR, else $HOME/.wandb-mpi)\n"
                 "  --project P   only runs of project P\n"
                 "  --entity E    only runs of entity E\n"
                 "  --group G     only runs of group G (runs)\n"
                 "  --json        one JSON object a line (history rows keep bare NaN/Infinity)\n"
                 "  --help        this text\n");
}

// Parses the command line; returns 0 to run, 1 on error, 2 after --help.
static int s_parse(int argc, char **argv, s_args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            s_usage(stdout);
            return 2;
        } else if (strcmp(o, "--json") == 0) {
            a->json = true;
        } else if (strcmp(o, "--dir") == 0 || strcmp(o, "--project") == 0 ||
                   strcmp(o, "--entity") == 0 || strcmp(o, "--group") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "wandb-mpi: option '%s' needs a value\n", o);
                return 1;
            }
            const char *v = argv[++i];
            if (o[2] == 'd')
                a->dir = v;
            else if (o[2] == 'p')
                a->project = v;
            else if (o[2] == 'g')
                a->group = v;
            else
                a->entity = v;
        } else if (o[0] == '-') {
            fprintf(stderr, "wandb-mpi: unknown option '%s' (see --help)\n", o);
            return 1;
        } else if (!a->cmd) {
            a->cmd = o;
        } else if (!a->run_id) {
            a->run_id = o;
        } else {
            fprintf(stderr, "wandb-mpi: unexpected argument '%s'\n", o);
            return 1;
        }
    }
    if (!a->cmd) {
        s_usage(stderr);
        return 1;
    }
    if (strcmp(a->cmd, "runs") != 0 && strcmp(a->cmd, "history") != 0 &&
        strcmp(a->cmd, "job") != 0 && strcmp(a->cmd, "artifacts") != 0) {
        fprintf(stderr, "wandb-mpi: unknown command '%s' (see --help)\n", a->cmd);
        return 1;
    }
    if (strcmp(a->cmd, "history") == 0 && !a->run_id) {
        fprintf(stderr, "wandb-mpi: history needs a run id\n");
        return 1;
    }
    if (strcmp(a->cmd, "job") == 0 && !a->group) {
        fprintf(stderr, "wandb-mpi: job needs --group G\n");
        return 1;
    }
    if (strcmp(a->cmd, "history") != 0 && a->run_id) {
        fprintf(stderr, "wandb-mpi: unexpected argument '%s'\n", a->run_id);
        return 1;
    }
    return 0;
}

// A growable table of strings for aligned output.
typedef struct {
    char **cells; // rows * cols cell texts (heap)
    size_t cols;  // columns
    size_t rows;  // rows filled (the header is row 0)
    size_t cap;   // rows allocated
} s_table_t;

// Adds one row of cols cells (copied, shortened to S_CELL_MAX).
static bool s_table_add(s_table_t *t, const char *const *vals)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = wbi_realloc(t->cells, cap * t->cols * sizeof *cells);
        if (!cells)
            return false;
        t->cells = cells;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->cols; c++) {
        const char *v = vals[c] ? vals[c] : "";
        char cell[S_CELL_MAX + 4];
        if (strlen(v) > S_CELL_MAX)
            snprintf(cell, sizeof cell, "%.*s...", S_CELL_MAX - 3, v);
        else
            snprintf(cell, sizeof cell, "%s", v);
        for (char *p = cell; *p; p++) {
            if (*p == '\n' || *p == '\t' || *p == '\r')
                *p = ' ';
        }
        t->cells[t->rows * t->cols + c] = wbi_strdup(cell);
    }
    t->rows++;
    return true;
}

// Prints the table with columns padded to their widest cell.
static void s_table_print(const s_table_t *t)
{
    size_t width[S_MAX_COLUMNS + 2] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *v = t->cells[r * t->cols + c];
            size_t n = v ? strlen(v) : 0;
            if (n > width[c])
                width[c] = n;
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *v = t->cells[r * t->cols + c];
            if (c + 1 == t->cols)
                printf("%s", v ? v : "");
            else
                printf("%-*s  ", (int)width[c], v ? v : "");
        }
        printf("\n");
    }
}

// Frees every cell.
static void s_table_release(s_table_t *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        wbi_free(t->cells[i]);
    wbi_free(t->cells);
    memset(t, 0, sizeof *t);
}

// Formats a Unix time as "YYYY-MM-DD HH:MM:SS" (UTC).
static void s_time(double t, char *out, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

// State passed to the runs walk.
typedef struct {
    bool json;         // print JSON lines
    const char *group; // only runs of this group, or NULL
    s_table_t table;   // or collect table rows
    size_t n;          // runs seen
    bool failed;       // an output error happened
} s_runs_t;

// Prints or collects one run.
static int s_run_row(void *arg, const wbi_run_t *run)
{
    s_runs_t *st = arg;
    if (st->group && (!run->group || strcmp(run->group, st->group) != 0))
        return 0;
    st->n++;
    if (st->json) {
        json_t *j = wbi_run_to_json(run);
        char *text = j ? wbi_jsonx_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
            st->failed = true;
            return 1;
        }
        printf("%s\n", text);
        wbi_free(text);
        return 0;
    }
    char steps[32], created[32];
    snprintf(steps, sizeof steps, "%" PRId64, run->history_count);
    s_time(run->created_at, created, sizeof created);
    const char *vals[] = {run->name,
                          run->project,
                          run->state,
                          run->group ? run->group : "-",
                          run->job_type ? run->job_type : "-",
                          steps,
                          created,
                          run->display_name ? run->display_name : "-"};
    if (!s_table_add(&st->table, vals)) {
        st->failed = true;
        return 1;
    }
    return 0;
}

// wandb-mpi runs.
static int s_cmd_runs(wbi_store_t *store, const s_args_t *a)
{
    s_runs_t st = {.json = a->json, .group = a->group, .table = {.cols = 8}};
    if (!a->json) {
        const char *head[] = {"RUN",      "PROJECT", "STATE",   "GROUP",
                              "JOB_TYPE", "ROWS",    "CREATED", "NAME"};
        s_table_add(&st.table, head);
    }
    wandb_err e = wbi_store_runs_each(store, a->entity, a->project, s_run_row, &st);
    if (e == WANDB_OK && !a->json)
        s_table_print(&st.table);
    s_table_release(&st.table);
    if (e != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read runs: %s\n", wbi_store_errmsg(store));
        return 1;
    }
    return st.failed ? 1 : 0;
}

// State passed to the history walk.
typedef struct {
    bool json;       // print JSON lines
    json_t *rows;    // table mode: parsed rows
    json_t *columns; // table mode: {key: true}, first-seen order
    size_t n;        // rows seen
    bool truncated;  // too many rows for table mode
} s_hist_t;

// Prints or collects one history line.
static int s_hist_row(void *arg, int64_t line_no, const char *text, size_t len)
{
    (void)line_no;
    s_hist_t *st = arg;
    st->n++;
    if (st->json) {
        // Lines that parse are printed as stored; others as a JSON string.
        json_t *j = wbi_line_to_json(text, len);
        if (j && !json_is_string(j)) {
            fwrite(text, 1, len, stdout);
            fputc('\n', stdout);
        } else if (j) {
            char *s = wbi_jsonx_dumps(j, JSON_COMPACT);
            printf("%s\n", s ? s : "null");
            wbi_free(s);
        }
        json_decref(j);
        return 0;
    }
    if (json_array_size(st->rows) >= S_MAX_TABLE_ROWS) {
        st->truncated = true;
        return 1;
    }
    json_t *j = wbi_line_to_json(text, len);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (json_object_size(st->columns) < S_MAX_COLUMNS)
            json_object_set_new(st->columns, key, json_true());
    }
    json_array_append_new(st->rows, j);
    return 0;
}

// Formats one history value for a table cell.
static void s_cell(const json_t *v, char *out, size_t len)
{
    double d = 0;
    if (!v) {
        snprintf(out, len, "-");
    } else if (json_is_string(v) && !wbi_jsonx_is_nonfinite(v, &d)) {
        snprintf(out, len, "%s", json_string_value(v));
    } else if (json_is_real(v)) {
        // Six digits read well for metrics; large values (Unix times such as
        // _timestamp) keep their integer part and milliseconds.
        double r = json_real_value(v);
        snprintf(out, len, fabs(r) >= 1e6 && fabs(r) < 1e15 ? "%.3f" : "%.6g", r);
    } else {
        char *s = wbi_jsonx_dumps(v, JSON_COMPACT);
        snprintf(out, len, "%s", s ? s : "?");
        wbi_free(s);
    }
}

// Orders columns: _step first, user keys next, other _keys last.
static int s_col_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    int rx = strcmp(x, "_step") == 0 ? 0 : (x[0] == '_' ? 2 : 1);
    int ry = strcmp(y, "_step") == 0 ? 0 : (y[0] == '_' ? 2 : 1);
    if (rx != ry)
        return rx - ry;
    return strcmp(x, y);
}

// Prints collected history rows as an aligned table.
static bool s_hist_table(s_hist_t *st)
{
    size_t ncols = json_object_size(st->columns);
    if (ncols == 0)
        return true;
    const char *cols[S_MAX_COLUMNS];
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(st->columns, key, v)
    {
        cols[i++] = key;
    }
    qsort(cols, ncols, sizeof cols[0], s_col_cmp);
    s_table_t t = {.cols = ncols};
    bool ok = s_table_add(&t, cols);
    json_t *row;
    size_t r;
    json_array_foreach(st->rows, r, row)
    {
        char cells[S_MAX_COLUMNS][S_CELL_MAX + 4];
        const char *vals[S_MAX_COLUMNS];
        for (size_t c = 0; c < ncols; c++) {
            s_cell(json_object_get(row, cols[c]), cells[c], sizeof cells[c]);
            vals[c] = cells[c];
        }
        if (ok)
            ok = s_table_add(&t, vals);
    }
    if (ok)
        s_table_print(&t);
    s_table_release(&t);
    return ok;
}

// wandb-mpi history RUN_ID.
static int s_cmd_history(wbi_store_t *store, const s_args_t *a)
{
    wbi_run_t run = {0};
    wandb_err e = wbi_store_run_find(store, a->entity, a->project, a->run_id, &run);
    if (e == WANDB_ENOTFOUND) {
        fprintf(stderr, "wandb-mpi: no run '%s'%s%s\n", a->run_id, a->project ? " in project " : "",
                a->project ? a->project : "");
        return 1;
    }
    if (e != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read run '%s': %s\n", a->run_id,
                wbi_store_errmsg(store));
        return 1;
    }
    s_hist_t st = {.json = a->json, .rows = json_array(), .columns = json_object()};
    e = wbi_store_lines_each(store, run.id, WBI_FILE_HISTORY, 0, -1, s_hist_row, &st);
    int rc = 0;
    if (e != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read history: %s\n", wbi_store_errmsg(store));
        rc = 1;
    } else if (!a->json) {
        if (!s_hist_table(&st))
            rc = 1;
        if (st.truncated)
            fprintf(stderr, "wandb-mpi: showing the first %d rows; use --json for all\n",
                    S_MAX_TABLE_ROWS);
    }
    json_decref(st.rows);
    json_decref(st.columns);
    wbi_store_run_release(&run);
    return rc;
}

// Opens the store and runs the command.
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "sync") == 0)
        return wbi_cli_sync(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ui") == 0)
        return wbi_cli_ui(argv[0], argc - 1, argv + 1);
    s_args_t a = {0};
    int rc = s_parse(argc, argv, &a);
    if (rc != 0)
        return rc == 2 ? 0 : 2;
    char dir[4096];
    if (a.dir) {
        snprintf(dir, sizeof dir, "%s", a.dir);
    } else if (getenv("WANDB_MPI_DIR") && *getenv("WANDB_MPI_DIR")) {
        snprintf(dir, sizeof dir, "%s", getenv("WANDB_MPI_DIR"));
    } else if (getenv("HOME")) {
        snprintf(dir, sizeof dir, "%s/.wandb-mpi", getenv("HOME"));
    } else {
        fprintf(stderr, "wandb-mpi: no data directory: use --dir or set WANDB_MPI_DIR\n");
        return 2;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/wandb.db", dir);
    wbi_store_t *store = NULL;
    char err[512];
    if (wbi_store_open(&store, path, true, err, sizeof err) != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: %s\n", err);
        return 1;
    }
    if (strcmp(a.cmd, "runs") == 0)
        rc = s_cmd_runs(store, &a);
    else if (strcmp(a.cmd, "job") == 0)
        rc = wbi_cli_job(store, a.entity, a.project, a.group);
    else if (strcmp(a.cmd, "artifacts") == 0)
        rc = wbi_cli_artifacts(store, a.entity, a.project, a.json);
    else
        rc = s_cmd_history(store, &a);
    wbi_store_destroy(&store);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
