//  store.c - the SQLite store shared by wandb-mpi-server and the wandb-mpi CLI
//  SPDX-License-Identifier: MIT
//
//  The schema, its migrations and every SQL statement live in this file
//  (about 860 lines), on purpose: a change to a table and every statement
//  that reads or writes it is one reviewable diff. NEEDSWORK(#9): the
//  artifact tables will make it a split by table family (runs, files,
//  artifacts).

#include "store/store.h"
#include "store/store_int.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// ---------------------------------------------------------------------------
// Schema. migrations[i] brings the database from version i to i + 1.

static const char *const s_migrations[] = {
    // 0 -> 1
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " entity TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL,"
    " display_name TEXT, group_name TEXT, job_type TEXT, notes TEXT, description TEXT,"
    " tags TEXT NOT NULL DEFAULT '[]', host TEXT, program TEXT, repo TEXT, commit_hash TEXT,"
    " sweep TEXT,"
    " config TEXT NOT NULL DEFAULT '{}', summary TEXT NOT NULL DEFAULT '{}',"
    " state TEXT NOT NULL DEFAULT 'running', exit_code INTEGER,"
    " preempting INTEGER NOT NULL DEFAULT 0,"
    " created_at REAL NOT NULL, heartbeat_at REAL NOT NULL, finished_at REAL,"
    " UNIQUE (entity, project, name));"
    "CREATE INDEX runs_by_name ON runs (name);"
    "CREATE INDEX runs_by_project ON runs (project, created_at);"
    "CREATE TABLE lines ("
    " run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " file TEXT NOT NULL, line_no INTEGER NOT NULL, content TEXT NOT NULL,"
    " PRIMARY KEY (run_id, file, line_no)) WITHOUT ROWID;"
    "CREATE TABLE files ("
    " run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, size INTEGER, uploaded INTEGER NOT NULL DEFAULT 0,"
    " updated_at REAL NOT NULL, PRIMARY KEY (run_id, name));"
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " title TEXT NOT NULL, text TEXT NOT NULL, severity TEXT NOT NULL,"
    " wait_ms INTEGER, created_at REAL NOT NULL);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE schema_version (version INTEGER NOT NULL);",
    // 1 -> 2: artifacts (store/artifact.c)
    WBI_STORE_ARTIFACT_SCHEMA,
};
#define S_NMIGRATIONS (sizeof s_migrations / sizeof s_migrations[0])
_Static_assert(S_NMIGRATIONS == WBI_STORE_SCHEMA_VERSION, "one migration per schema version");

#define S_RUN_COLS                                                                                 \
    "id, entity, project, name, display_name, group_name, job_type, notes, description, tags,"     \
    " host, program, repo, commit_hash, sweep, config, summary, state, exit_code, preempting,"     \
    " created_at, heartbeat_at,"                                                                   \
    " (SELECT COALESCE(MAX(line_no) + 1, 0) FROM lines l WHERE l.run_id = runs.id"                 \
    "  AND l.file = 'wandb-history.jsonl'),"                                                       \
    " (SELECT COALESCE(MAX(line_no) + 1, 0) FROM lines l WHERE l.run_id = runs.id"                 \
    "  AND l.file = 'wandb-events.jsonl'),"                                                        \
    " (SELECT COALESCE(MAX(line_no) + 1, 0) FROM lines l WHERE l.run_id = runs.id"                 \
    "  AND l.file = 'output.log')"

typedef enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_META_GET,
    S_META_SET,
    S_RUN_ID_BY_KEY,
    S_RUN_INSERT,
    S_RUN_UPDATE,
    S_RUN_CONFIG_GET,
    S_RUN_CONFIG_SET,
    S_RUN_BY_ID,
    S_RUN_FIND,
    S_RUNS_LIST,
    S_RUN_TOUCH,
    S_RUN_FINISH,
    S_RUN_SUMMARY,
    S_RUN_PREEMPT,
    S_RUN_STALE,
    S_LINE_PUT,
    S_LINES,
    S_LINES_TAIL,
    S_FILE_PUT,
    S_FILES,
    S_ALERT_ADD,
    S_ALERTS,
    S_NSTMT
} s_stmt_id;

static const char *const s_sql[S_NSTMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [S_RUN_ID_BY_KEY] = "SELECT id FROM runs WHERE entity = ?1 AND project = ?2 AND name = ?3",
    [S_RUN_INSERT] = "INSERT INTO runs (entity, project, name, created_at, heartbeat_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_RUN_UPDATE] = "UPDATE runs SET"
                     " display_name = COALESCE(?2, display_name),"
                     " group_name = COALESCE(?3, group_name),"
                     " job_type = COALESCE(?4, job_type),"
                     " notes = COALESCE(?5, notes),"
                     " description = COALESCE(?6, description),"
                     " host = COALESCE(?7, host),"
                     " program = COALESCE(?8, program),"
                     " repo = COALESCE(?9, repo),"
                     " commit_hash = COALESCE(?10, commit_hash),"
                     " sweep = COALESCE(?11, sweep),"
                     " state = COALESCE(?12, state),"
                     " tags = COALESCE(?13, tags),"
                     " summary = COALESCE(?14, summary),"
                     " heartbeat_at = MAX(heartbeat_at, ?15)"
                     " WHERE id = ?1",
    [S_RUN_CONFIG_GET] = "SELECT config FROM runs WHERE id = ?1",
    [S_RUN_CONFIG_SET] = "UPDATE runs SET config = ?2 WHERE id = ?1",
    [S_RUN_BY_ID] = "SELECT " S_RUN_COLS " FROM runs WHERE id = ?1",
    [S_RUN_FIND] = "SELECT " S_RUN_COLS " FROM runs WHERE name = ?3"
                   " AND (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR project = ?2)"
                   " ORDER BY created_at DESC, id DESC LIMIT 1",
    [S_RUNS_LIST] = "SELECT " S_RUN_COLS " FROM runs"
                    " WHERE (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR project = ?2)"
                    " ORDER BY created_at, id",
    [S_RUN_TOUCH] = "UPDATE runs SET heartbeat_at = MAX(heartbeat_at, ?2),"
                    " state = CASE WHEN state IN ('crashed', 'preempted') THEN 'running'"
                    " ELSE state END WHERE id = ?1",
    [S_RUN_FINISH] = "UPDATE runs SET state = ?2, exit_code = ?3, finished_at = ?4,"
                     " heartbeat_at = MAX(heartbeat_at, ?4) WHERE id = ?1",
    [S_RUN_SUMMARY] = "UPDATE runs SET summary = ?2 WHERE id = ?1",
    [S_RUN_PREEMPT] = "UPDATE runs SET preempting = 1 WHERE id = ?1",
    [S_RUN_STALE] = "UPDATE runs SET state = CASE WHEN preempting THEN 'preempted'"
                    " ELSE 'crashed' END WHERE state = 'running' AND heartbeat_at < ?1",
    [S_LINE_PUT] = "INSERT OR REPLACE INTO lines (run_id, file, line_no, content)"
                   " VALUES (?1, ?2, ?3, ?4)",
    [S_LINES] = "SELECT line_no, content FROM lines WHERE run_id = ?1 AND file = ?2"
                " AND line_no >= ?3 ORDER BY line_no LIMIT ?4",
    [S_LINES_TAIL] = "SELECT line_no, content FROM (SELECT line_no, content FROM lines"
                     " WHERE run_id = ?1 AND file = ?2 ORDER BY line_no DESC LIMIT ?3)"
                     " ORDER BY line_no",
    [S_FILE_PUT] = "INSERT INTO files (run_id, name, size, uploaded, updated_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, name) DO UPDATE SET"
                   " size = COALESCE(excluded.size, size),"
                   " uploaded = MAX(uploaded, excluded.uploaded),"
                   " updated_at = excluded.updated_at",
    [S_FILES] = "SELECT name, size, uploaded, updated_at FROM files WHERE run_id = ?1"
                " ORDER BY name",
    [S_ALERT_ADD] = "INSERT INTO alerts (run_id, title, text, severity, wait_ms, created_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_ALERTS] = "SELECT title, text, severity, wait_ms, created_at FROM alerts"
                 " WHERE run_id = ?1 ORDER BY id",
};

struct wbi_store {
    sqlite3 *db;                 // the one connection
    sqlite3_stmt *stmt[S_NSTMT]; // prepared statements, by s_stmt_id
    bool readonly;               // opened read-only (the CLI)
    char last_error[256];        // text of the last SQLite error
};

// Maps an SQLite result code to the project's error enum. Busy and locked
// are transient, so they become WANDB_ETIMEDOUT (the server answers 503).
static wandb_err s_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return WANDB_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WANDB_ETIMEDOUT;
    case SQLITE_NOMEM:
        return WANDB_ENOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        return WANDB_EINVAL;
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_READONLY:
    default:
        return WANDB_EIO;
    }
}

// Records the connection's error text and returns the mapped error.
static wandb_err s_fail(wbi_store_t *self, int rc)
{
    snprintf(self->last_error, sizeof self->last_error, "%s",
             self->db ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
    return s_from_sqlite(rc);
}

// For the other files of the store (store_int.h).
sqlite3 *wbi_store__db(wbi_store_t *self)
{
    return self->db;
}

wandb_err wbi_store__fail(wbi_store_t *self, int rc)
{
    return s_fail(self, rc);
}

void wbi_store__set_error(wbi_store_t *self, const char *msg)
{
    snprintf(self->last_error, sizeof self->last_error, "%s", msg);
}

// Returns a reset statement ready for binding.
static sqlite3_stmt *s_stmt(wbi_store_t *self, s_stmt_id id)
{
    sqlite3_stmt *st = self->stmt[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

// Binds a nullable string.
static void s_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, idx);
}

// Binds a count that may be unknown: a negative v is SQL NULL.
static void s_bind_count(sqlite3_stmt *st, int idx, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, idx, v);
    else
        sqlite3_bind_null(st, idx);
}

// Reads a column bound by s_bind_count: SQL NULL is -1.
static int64_t s_col_count(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

// Steps a query: true with a row to read; false at its end or on an error,
// which is stored in *e.
static bool s_next_row(wbi_store_t *self, sqlite3_stmt *st, wandb_err *e)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return true;
    if (rc != SQLITE_DONE)
        *e = s_fail(self, rc);
    return false;
}

// Steps a statement that returns no rows, then resets it.
static wandb_err s_exec(wbi_store_t *self, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    wandb_err e = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? WANDB_OK : s_fail(self, rc);
    sqlite3_reset(st);
    return e;
}

// Copies a text column, or NULL for SQL NULL.
static char *s_col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    return wbi_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

// Runs a fixed SQL script (pragmas, schema) with no parameters.
static wandb_err s_script(wbi_store_t *self, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(self->last_error, sizeof self->last_error, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return s_from_sqlite(rc);
    }
    return WANDB_OK;
}

// Reads the schema version from its table (0 when the database is new).
static wandb_err s_schema_version(wbi_store_t *self, int *version)
{
    *version = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                " AND name = 'schema_version'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return s_fail(self, rc);
    rc = sqlite3_step(st);
    bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return s_fail(self, rc);
    if (!exists)
        return WANDB_OK;
    rc = sqlite3_prepare_v2(self->db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return s_fail(self, rc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? WANDB_OK : s_fail(self, rc);
}

// Records the schema version reached by the migrations.
static wandb_err s_schema_version_set(wbi_store_t *self, int version)
{
    wandb_err e = s_script(self, "DELETE FROM schema_version");
    if (e != WANDB_OK)
        return e;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, "INSERT INTO schema_version (version) VALUES (?1)", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return s_fail(self, rc);
    sqlite3_bind_int(st, 1, version);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? WANDB_OK : s_fail(self, rc);
}

// Brings the schema up to WBI_STORE_SCHEMA_VERSION in one transaction.
static wandb_err s_migrate(wbi_store_t *self)
{
    wandb_err e = s_script(self, "BEGIN IMMEDIATE");
    if (e != WANDB_OK)
        return e;
    int version = 0;
    e = s_schema_version(self, &version);
    if (e != WANDB_OK)
        goto rollback;
    if (version > (int)S_NMIGRATIONS) {
        snprintf(self->last_error, sizeof self->last_error,
                 "database schema version %d is newer than this program (%d)", version,
                 (int)S_NMIGRATIONS);
        e = WANDB_ENOTSUP;
        goto rollback;
    }
    for (int v = version; v < (int)S_NMIGRATIONS; v++) {
        e = s_script(self, s_migrations[v]);
        if (e != WANDB_OK)
            goto rollback;
    }
    if (version < (int)S_NMIGRATIONS) {
        e = s_schema_version_set(self, (int)S_NMIGRATIONS);
        if (e != WANDB_OK)
            goto rollback;
    }
    return s_script(self, "COMMIT");
rollback:
    sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    return e;
}

// Opens the database, sets WAL mode, migrates and prepares every statement.
wandb_err wbi_store_open(wbi_store_t **out, const char *path, bool readonly, char *err,
                         size_t errlen)
{
    *out = NULL;
    wbi_store_t *self = wbi_calloc(1, sizeof *self);
    if (!self) {
        if (err)
            snprintf(err, errlen, "out of memory");
        return WANDB_ENOMEM;
    }
    self->readonly = readonly;
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &self->db, flags, NULL);
    wandb_err e = WANDB_OK;
    if (rc != SQLITE_OK) {
        e = s_fail(self, rc);
        goto fail;
    }
    sqlite3_busy_timeout(self->db, 5000);
    sqlite3_extended_result_codes(self->db, 1);
    if (!readonly) {
        // Switching a new file to WAL answers SQLITE_BUSY at once (without
        // the busy handler) while another process does the same: retry, bounded.
        for (int tries = 0; tries < 500; tries++) {
            e = s_script(self, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
            if (e != WANDB_ETIMEDOUT)
                break;
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
        if (e != WANDB_OK)
            goto fail;
    }
    e = s_script(self, "PRAGMA foreign_keys = ON;");
    if (e != WANDB_OK)
        goto fail;
    if (!readonly) {
        e = s_migrate(self);
        if (e != WANDB_OK)
            goto fail;
    } else {
        int version = 0;
        e = s_schema_version(self, &version);
        if (e != WANDB_OK)
            goto fail;
        if (version != WBI_STORE_SCHEMA_VERSION) {
            snprintf(self->last_error, sizeof self->last_error,
                     "database has schema version %d, this program reads %d", version,
                     WBI_STORE_SCHEMA_VERSION);
            e = version == 0 ? WANDB_ENOTFOUND : WANDB_ENOTSUP;
            goto fail;
        }
    }
    for (int i = 0; i < S_NSTMT; i++) {
        rc = sqlite3_prepare_v3(self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt[i],
                                NULL);
        if (rc != SQLITE_OK) {
            e = s_fail(self, rc);
            goto fail;
        }
    }
    *out = self;
    return WANDB_OK;
fail:
    if (err)
        snprintf(err, errlen, "cannot open database '%s': %s", path, self->last_error);
    wbi_store_destroy(&self);
    return e;
}

// Finalizes every statement and closes the connection.
void wbi_store_destroy(wbi_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_store_t *self = *self_p;
    for (int i = 0; i < S_NSTMT; i++)
        sqlite3_finalize(self->stmt[i]);
    sqlite3_close(self->db);
    wbi_free(self);
    *self_p = NULL;
}

// The last error text.
const char *wbi_store_errmsg(const wbi_store_t *self)
{
    return self->last_error;
}

// Sets the busy timeout of the connection.
void wbi_store_set_busy_timeout(wbi_store_t *self, int ms)
{
    sqlite3_busy_timeout(self->db, ms);
}

// PRAGMA synchronous: FULL syncs the WAL at every commit, NORMAL only at
// checkpoints (see docs/server.md for the power-loss window).
wandb_err wbi_store_set_sync_full(wbi_store_t *self, bool full)
{
    return s_script(self, full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;");
}

// Starts a write transaction.
wandb_err wbi_store_begin(wbi_store_t *self)
{
    return s_exec(self, s_stmt(self, S_BEGIN));
}

// Commits the open transaction.
wandb_err wbi_store_commit(wbi_store_t *self)
{
    return s_exec(self, s_stmt(self, S_COMMIT));
}

// Rolls back the open transaction, if there is one.
void wbi_store_rollback(wbi_store_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        (void)s_exec(self, s_stmt(self, S_ROLLBACK));
}

// Reads a meta value.
wandb_err wbi_store_meta_get(wbi_store_t *self, const char *key, char **value_out)
{
    *value_out = NULL;
    sqlite3_stmt *st = s_stmt(self, S_META_GET);
    s_bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    wandb_err e = WANDB_OK;
    if (rc == SQLITE_ROW) {
        *value_out = s_col_text(st, 0);
        e = *value_out ? WANDB_OK : WANDB_ENOMEM;
    } else {
        e = rc == SQLITE_DONE ? WANDB_ENOTFOUND : s_fail(self, rc);
    }
    sqlite3_reset(st);
    return e;
}

// Writes a meta value.
wandb_err wbi_store_meta_set(wbi_store_t *self, const char *key, const char *value)
{
    sqlite3_stmt *st = s_stmt(self, S_META_SET);
    s_bind_text(st, 1, key);
    s_bind_text(st, 2, value);
    return s_exec(self, st);
}

// Looks up the storage id of (entity, project, name).
static wandb_err s_run_id(wbi_store_t *self, const char *entity, const char *project,
                          const char *name, int64_t *id)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_ID_BY_KEY);
    s_bind_text(st, 1, entity);
    s_bind_text(st, 2, project);
    s_bind_text(st, 3, name);
    int rc = sqlite3_step(st);
    wandb_err e = WANDB_OK;
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else
        e = rc == SQLITE_DONE ? WANDB_ENOTFOUND : s_fail(self, rc);
    sqlite3_reset(st);
    return e;
}

// Finds or creates the run row.
wandb_err wbi_store_run_ensure(wbi_store_t *self, const char *entity, const char *project,
                               const char *name, double now, int64_t *id_out)
{
    wandb_err e = s_run_id(self, entity, project, name, id_out);
    if (e != WANDB_ENOTFOUND)
        return e;
    sqlite3_stmt *st = s_stmt(self, S_RUN_INSERT);
    s_bind_text(st, 1, entity);
    s_bind_text(st, 2, project);
    s_bind_text(st, 3, name);
    sqlite3_bind_double(st, 4, now);
    e = s_exec(self, st);
    if (e == WANDB_OK)
        *id_out = sqlite3_last_insert_rowid(self->db);
    return e;
}

// Merges the top-level keys of patch into the stored config of run id.
static wandb_err s_config_merge(wbi_store_t *self, int64_t id, const json_t *patch)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_CONFIG_GET);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        wandb_err e = rc == SQLITE_DONE ? WANDB_ENOTFOUND : s_fail(self, rc);
        sqlite3_reset(st);
        return e;
    }
    json_error_t jerr;
    json_t *config = wbi_jsonx_loadb((const char *)sqlite3_column_text(st, 0),
                                     (size_t)sqlite3_column_bytes(st, 0), 0, &jerr);
    sqlite3_reset(st);
    if (!json_is_object(config)) {
        // A stored config that does not parse is replaced rather than kept.
        json_decref(config);
        config = json_object();
        if (!config)
            return WANDB_ENOMEM;
    }
    wandb_err e = WANDB_OK;
    char *text = NULL;
    if (json_object_update(config, (json_t *)patch) != 0) {
        e = WANDB_ENOMEM;
        goto done;
    }
    text = wbi_jsonx_dumps(config, JSON_COMPACT);
    if (!text) {
        e = WANDB_ENOMEM;
        goto done;
    }
    st = s_stmt(self, S_RUN_CONFIG_SET);
    sqlite3_bind_int64(st, 1, id);
    s_bind_text(st, 2, text);
    e = s_exec(self, st);
done:
    wbi_free(text);
    json_decref(config);
    return e;
}

// Creates the run if needed, then applies every non-NULL field.
wandb_err wbi_store_run_upsert(wbi_store_t *self, const wbi_run_upsert_t *in, double now,
                               int64_t *id_out, bool *inserted)
{
    int64_t id = 0;
    wandb_err e = s_run_id(self, in->entity, in->project, in->name, &id);
    *inserted = e == WANDB_ENOTFOUND;
    if (e == WANDB_ENOTFOUND)
        e = wbi_store_run_ensure(self, in->entity, in->project, in->name, now, &id);
    if (e != WANDB_OK)
        return e;
    sqlite3_stmt *st = s_stmt(self, S_RUN_UPDATE);
    sqlite3_bind_int64(st, 1, id);
    const char *fields[] = {in->display_name, in->group, in->job_type, in->notes,
                            in->description,  in->host,  in->program,  in->repo,
                            in->commit,       in->sweep, in->state,    in->tags,
                            in->summary};
    for (int i = 0; i < (int)(sizeof fields / sizeof fields[0]); i++)
        s_bind_text(st, i + 2, fields[i]);
    sqlite3_bind_double(st, 15, now);
    e = s_exec(self, st);
    if (e == WANDB_OK && in->config)
        e = s_config_merge(self, id, in->config);
    if (e == WANDB_OK)
        *id_out = id;
    return e;
}

// Copies one row of a S_RUN_COLS query into out.
static wandb_err s_run_read(sqlite3_stmt *st, wbi_run_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    char **text[] = {&out->entity, &out->project,  &out->name,    &out->display_name,
                     &out->group,  &out->job_type, &out->notes,   &out->description,
                     &out->tags,   &out->host,     &out->program, &out->repo,
                     &out->commit, &out->sweep,    &out->config,  &out->summary,
                     &out->state};
    for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++) {
        *text[i] = s_col_text(st, i + 1);
        if (!*text[i] && sqlite3_column_type(st, i + 1) != SQLITE_NULL) {
            wbi_store_run_release(out);
            return WANDB_ENOMEM;
        }
    }
    out->has_exit_code = sqlite3_column_type(st, 18) != SQLITE_NULL;
    out->exit_code = sqlite3_column_int64(st, 18);
    out->preempting = sqlite3_column_int(st, 19) != 0;
    out->created_at = sqlite3_column_double(st, 20);
    out->heartbeat_at = sqlite3_column_double(st, 21);
    out->history_count = sqlite3_column_int64(st, 22);
    out->events_count = sqlite3_column_int64(st, 23);
    out->log_count = sqlite3_column_int64(st, 24);
    return WANDB_OK;
}

// Steps a run query that returns at most one row into out.
static wandb_err s_run_one(wbi_store_t *self, sqlite3_stmt *st, wbi_run_t *out)
{
    int rc = sqlite3_step(st);
    wandb_err e;
    if (rc == SQLITE_ROW)
        e = s_run_read(st, out);
    else
        e = rc == SQLITE_DONE ? WANDB_ENOTFOUND : s_fail(self, rc);
    sqlite3_reset(st);
    return e;
}

// Reads a run by storage id.
wandb_err wbi_store_run_get(wbi_store_t *self, int64_t id, wbi_run_t *out)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_BY_ID);
    sqlite3_bind_int64(st, 1, id);
    return s_run_one(self, st, out);
}

// Reads the newest run with that name in the given entity/project.
wandb_err wbi_store_run_find(wbi_store_t *self, const char *entity, const char *project,
                             const char *name, wbi_run_t *out)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_FIND);
    s_bind_text(st, 1, entity);
    s_bind_text(st, 2, project);
    s_bind_text(st, 3, name);
    return s_run_one(self, st, out);
}

// Frees the strings of a run.
void wbi_store_run_release(wbi_run_t *run)
{
    if (!run)
        return;
    char *text[] = {run->entity,   run->project, run->name,        run->display_name, run->group,
                    run->job_type, run->notes,   run->description, run->tags,         run->host,
                    run->program,  run->repo,    run->commit,      run->sweep,        run->config,
                    run->summary,  run->state};
    for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++)
        wbi_free(text[i]);
    memset(run, 0, sizeof *run);
}

// Walks the runs of a project.
wandb_err wbi_store_runs_each(wbi_store_t *self, const char *entity, const char *project,
                              wbi_store_run_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_RUNS_LIST);
    s_bind_text(st, 1, entity);
    s_bind_text(st, 2, project);
    wandb_err e = WANDB_OK;
    while (s_next_row(self, st, &e)) {
        wbi_run_t run;
        e = s_run_read(st, &run);
        if (e != WANDB_OK)
            break;
        int stop = fn(arg, &run);
        wbi_store_run_release(&run);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return e;
}

// Records a sign of life from the run's client.
wandb_err wbi_store_run_touch(wbi_store_t *self, int64_t id, double now)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_TOUCH);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_double(st, 2, now);
    return s_exec(self, st);
}

// Ends a run with its exit code.
wandb_err wbi_store_run_finish(wbi_store_t *self, int64_t id, int64_t exit_code, double now)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_FINISH);
    sqlite3_bind_int64(st, 1, id);
    s_bind_text(st, 2, exit_code == 0 ? "finished" : "failed");
    sqlite3_bind_int64(st, 3, exit_code);
    sqlite3_bind_double(st, 4, now);
    return s_exec(self, st);
}

// Replaces the summary text.
wandb_err wbi_store_run_set_summary(wbi_store_t *self, int64_t id, const char *json, size_t len)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_SUMMARY);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, json, (int)len, SQLITE_TRANSIENT);
    return s_exec(self, st);
}

// Flags the run as being preempted.
wandb_err wbi_store_run_set_preempting(wbi_store_t *self, int64_t id)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_PREEMPT);
    sqlite3_bind_int64(st, 1, id);
    return s_exec(self, st);
}

// Marks runs whose heartbeat stopped.
wandb_err wbi_store_mark_stale(wbi_store_t *self, double now, double timeout_s, int *changed)
{
    sqlite3_stmt *st = s_stmt(self, S_RUN_STALE);
    sqlite3_bind_double(st, 1, now - timeout_s);
    wandb_err e = s_exec(self, st);
    *changed = e == WANDB_OK ? sqlite3_changes(self->db) : 0;
    return e;
}

// Stores one line (idempotent per line number).
wandb_err wbi_store_line_put(wbi_store_t *self, int64_t run_id, const char *file, int64_t line_no,
                             const char *text, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return WANDB_ETOOBIG;
    sqlite3_stmt *st = s_stmt(self, S_LINE_PUT);
    sqlite3_bind_int64(st, 1, run_id);
    s_bind_text(st, 2, file);
    sqlite3_bind_int64(st, 3, line_no);
    sqlite3_bind_text(st, 4, text, (int)len, SQLITE_TRANSIENT);
    return s_exec(self, st);
}

// Steps a (line_no, content) query and hands each row to fn.
static wandb_err s_lines_walk(wbi_store_t *self, sqlite3_stmt *st, wbi_store_line_fn fn, void *arg)
{
    wandb_err e = WANDB_OK;
    while (s_next_row(self, st, &e)) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (fn(arg, sqlite3_column_int64(st, 0), text ? text : "", len))
            break;
    }
    sqlite3_reset(st);
    return e;
}

// Walks lines in order from a line number.
wandb_err wbi_store_lines_each(wbi_store_t *self, int64_t run_id, const char *file, int64_t from,
                               int64_t limit, wbi_store_line_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_LINES);
    sqlite3_bind_int64(st, 1, run_id);
    s_bind_text(st, 2, file);
    sqlite3_bind_int64(st, 3, from);
    sqlite3_bind_int64(st, 4, limit);
    return s_lines_walk(self, st, fn, arg);
}

// Walks the last n lines in order.
wandb_err wbi_store_lines_tail(wbi_store_t *self, int64_t run_id, const char *file, int64_t n,
                               wbi_store_line_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_LINES_TAIL);
    sqlite3_bind_int64(st, 1, run_id);
    s_bind_text(st, 2, file);
    sqlite3_bind_int64(st, 3, n);
    return s_lines_walk(self, st, fn, arg);
}

// Records a run file.
wandb_err wbi_store_file_put(wbi_store_t *self, int64_t run_id, const char *name, int64_t size,
                             bool uploaded, double now)
{
    sqlite3_stmt *st = s_stmt(self, S_FILE_PUT);
    sqlite3_bind_int64(st, 1, run_id);
    s_bind_text(st, 2, name);
    s_bind_count(st, 3, size);
    sqlite3_bind_int(st, 4, uploaded ? 1 : 0);
    sqlite3_bind_double(st, 5, now);
    return s_exec(self, st);
}

// Walks the files of a run by name.
wandb_err wbi_store_files_each(wbi_store_t *self, int64_t run_id, wbi_store_file_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_FILES);
    sqlite3_bind_int64(st, 1, run_id);
    wandb_err e = WANDB_OK;
    while (s_next_row(self, st, &e)) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t size = s_col_count(st, 1);
        if (fn(arg, name ? name : "", size, sqlite3_column_int(st, 2) != 0,
               sqlite3_column_double(st, 3)))
            break;
    }
    sqlite3_reset(st);
    return e;
}

// Stores an alert.
wandb_err wbi_store_alert_add(wbi_store_t *self, int64_t run_id, const char *title,
                              const char *text, const char *severity, int64_t wait_ms, double now)
{
    sqlite3_stmt *st = s_stmt(self, S_ALERT_ADD);
    sqlite3_bind_int64(st, 1, run_id);
    s_bind_text(st, 2, title ? title : "");
    s_bind_text(st, 3, text ? text : "");
    s_bind_text(st, 4, severity ? severity : "INFO");
    s_bind_count(st, 5, wait_ms);
    sqlite3_bind_double(st, 6, now);
    return s_exec(self, st);
}

// Walks the alerts of a run, oldest first.
wandb_err wbi_store_alerts_each(wbi_store_t *self, int64_t run_id, wbi_store_alert_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(self, S_ALERTS);
    sqlite3_bind_int64(st, 1, run_id);
    wandb_err e = WANDB_OK;
    while (s_next_row(self, st, &e)) {
        int64_t wait_ms = s_col_count(st, 3);
        const char *title = (const char *)sqlite3_column_text(st, 0);
        const char *text = (const char *)sqlite3_column_text(st, 1);
        const char *sev = (const char *)sqlite3_column_text(st, 2);
        if (fn(arg, title ? title : "", text ? text : "", sev ? sev : "", wait_ms,
               sqlite3_column_double(st, 4)))
            break;
    }
    sqlite3_reset(st);
    return e;
}
