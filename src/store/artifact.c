//  artifact.c - artifacts in the SQLite store: the tables and every write
//  SPDX-License-Identifier: MIT
//
//  Statements here are prepared per call (artifact traffic is a few
//  requests per version, not a hot path). The reads of the read API are in
//  artifact_read.c. Thread: one caller at a time (as store.h).

#include "store/artifact.h"
#include "store/store_int.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char WBI_STORE_ARTIFACT_SCHEMA[] =
    "CREATE TABLE art_colls ("
    " id INTEGER PRIMARY KEY, entity TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL,"
    " type TEXT NOT NULL, kind TEXT NOT NULL, created_at REAL NOT NULL,"
    " UNIQUE (entity, project, name));"
    "CREATE TABLE artifacts ("
    " id INTEGER PRIMARY KEY, seq_id INTEGER NOT NULL REFERENCES art_colls (id),"
    " version INTEGER, state TEXT NOT NULL DEFAULT 'PENDING', digest TEXT NOT NULL,"
    " description TEXT, metadata TEXT, aliases_req TEXT NOT NULL DEFAULT '[]',"
    " distributed_id TEXT, client_id TEXT, seq_client_id TEXT,"
    " run_id INTEGER REFERENCES runs (id), history_step INTEGER, manifest_blob TEXT,"
    " size INTEGER NOT NULL DEFAULT 0, file_count INTEGER NOT NULL DEFAULT 0,"
    " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
    "CREATE INDEX artifacts_by_seq ON artifacts (seq_id, state);"
    "CREATE INDEX artifacts_by_client ON artifacts (client_id);"
    "CREATE TABLE art_members ("
    " coll_id INTEGER NOT NULL REFERENCES art_colls (id),"
    " artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    " version_index INTEGER NOT NULL, created_at REAL NOT NULL,"
    " PRIMARY KEY (coll_id, artifact_id), UNIQUE (coll_id, version_index));"
    "CREATE TABLE art_aliases ("
    " coll_id INTEGER NOT NULL REFERENCES art_colls (id), alias TEXT NOT NULL,"
    " artifact_id INTEGER NOT NULL REFERENCES artifacts (id), PRIMARY KEY (coll_id, alias));"
    "CREATE TABLE art_manifests ("
    " id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    " name TEXT NOT NULL, type TEXT NOT NULL, digest TEXT, blob TEXT, created_at REAL NOT NULL);"
    "CREATE TABLE art_files ("
    " artifact_id INTEGER NOT NULL REFERENCES artifacts (id), path TEXT NOT NULL,"
    " digest TEXT NOT NULL, size INTEGER, ref TEXT, birth_artifact_id INTEGER,"
    " PRIMARY KEY (artifact_id, path)) WITHOUT ROWID;"
    "CREATE TABLE art_uses ("
    " artifact_id INTEGER NOT NULL REFERENCES artifacts (id),"
    " run_id INTEGER NOT NULL REFERENCES runs (id), created_at REAL NOT NULL,"
    " PRIMARY KEY (artifact_id, run_id));";

#define S_ART_COLS                                                                                 \
    "a.id, a.seq_id, c.entity, c.project, c.name, c.type, a.version, a.state, a.digest,"           \
    " a.description, a.metadata, a.aliases_req, a.distributed_id, a.client_id,"                    \
    " a.seq_client_id, a.run_id, r.name, a.history_step, a.manifest_blob, a.size,"                 \
    " a.file_count, a.created_at, a.updated_at"                                                    \
    " FROM artifacts a JOIN art_colls c ON c.id = a.seq_id LEFT JOIN runs r ON r.id = a.run_id"

// Prepares sql; on failure the error is recorded and returned.
static wandb_err s_prep(wbi_store_t *self, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(wbi_store__db(self), sql, -1, st, NULL);
    return rc == SQLITE_OK ? WANDB_OK : wbi_store__fail(self, rc);
}

static void s_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, idx);
}

// Steps st once: WANDB_OK with a row (*row true) or at its end (*row false).
static wandb_err s_step(wbi_store_t *self, sqlite3_stmt *st, bool *row)
{
    int rc = sqlite3_step(st);
    if (row)
        *row = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WANDB_OK : wbi_store__fail(self, rc);
}

// Runs a statement without result rows and finalizes it.
static wandb_err s_run(wbi_store_t *self, sqlite3_stmt *st)
{
    wandb_err e = s_step(self, st, NULL);
    sqlite3_finalize(st);
    return e;
}

static char *s_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? wbi_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static int64_t s_col_i64(sqlite3_stmt *st, int col, int64_t null_value)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, col);
}

// Reads one row of S_ART_COLS.
static void s_read_art(sqlite3_stmt *st, wbi_artifact_t *a)
{
    a->id = sqlite3_column_int64(st, 0);
    a->seq_id = sqlite3_column_int64(st, 1);
    a->entity = s_col(st, 2);
    a->project = s_col(st, 3);
    a->name = s_col(st, 4);
    a->type = s_col(st, 5);
    a->version = s_col_i64(st, 6, -1);
    a->state = s_col(st, 7);
    a->digest = s_col(st, 8);
    a->description = s_col(st, 9);
    a->metadata = s_col(st, 10);
    a->aliases_req = s_col(st, 11);
    a->distributed_id = s_col(st, 12);
    a->client_id = s_col(st, 13);
    a->seq_client_id = s_col(st, 14);
    a->run_id = s_col_i64(st, 15, 0);
    a->run_name = s_col(st, 16);
    a->history_step = s_col_i64(st, 17, -1);
    a->manifest_blob = s_col(st, 18);
    a->size = sqlite3_column_int64(st, 19);
    a->file_count = sqlite3_column_int64(st, 20);
    a->created_at = sqlite3_column_double(st, 21);
    a->updated_at = sqlite3_column_double(st, 22);
}

void wbi_store_art_release(wbi_artifact_t *a)
{
    if (!a)
        return;
    char **strs[] = {&a->entity,         &a->project,      &a->name,          &a->type,
                     &a->state,          &a->digest,       &a->description,   &a->metadata,
                     &a->aliases_req,    &a->client_id,    &a->seq_client_id, &a->run_name,
                     &a->distributed_id, &a->manifest_blob};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        wbi_free(*strs[i]);
    memset(a, 0, sizeof *a);
}

wandb_err wbi_store_art_get(wbi_store_t *self, int64_t id, wbi_artifact_t *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self, "SELECT " S_ART_COLS " WHERE a.id = ?1", &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, id);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row)
        s_read_art(st, out);
    sqlite3_finalize(st);
    return e == WANDB_OK && !row ? WANDB_ENOTFOUND : e;
}

// Finds or creates the collection (entity, project, name) of kind; a
// collection of another type or kind is WANDB_EINVAL with the reason.
static wandb_err s_coll_ensure(wbi_store_t *self, const char *entity, const char *project,
                               const char *name, const char *type, const char *kind, double now,
                               int64_t *id_out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT id, type, kind FROM art_colls"
                         " WHERE entity = ?1 AND project = ?2 AND name = ?3",
                         &st);
    if (e != WANDB_OK)
        return e;
    s_text(st, 1, entity);
    s_text(st, 2, project);
    s_text(st, 3, name);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row) {
        *id_out = sqlite3_column_int64(st, 0);
        const char *have_type = (const char *)sqlite3_column_text(st, 1);
        const char *have_kind = (const char *)sqlite3_column_text(st, 2);
        char msg[512];
        if (strcmp(have_kind, kind) != 0) {
            snprintf(msg, sizeof msg, "'%s' in project '%s' is a %s, not a %s", name, project,
                     have_kind, kind);
            wbi_store__set_error(self, msg);
            e = WANDB_EINVAL;
        } else if (strcmp(have_type, type) != 0 && strcmp(kind, "SEQUENCE") == 0) {
            snprintf(msg, sizeof msg,
                     "artifact '%s' in project '%s' has type '%s', not '%s' (a name keeps its"
                     " type)",
                     name, project, have_type, type);
            wbi_store__set_error(self, msg);
            e = WANDB_EINVAL;
        }
    }
    sqlite3_finalize(st);
    if (e != WANDB_OK || row)
        return e;
    e = s_prep(self,
               "INSERT INTO art_colls (entity, project, name, type, kind, created_at)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
               &st);
    if (e != WANDB_OK)
        return e;
    s_text(st, 1, entity);
    s_text(st, 2, project);
    s_text(st, 3, name);
    s_text(st, 4, type);
    s_text(st, 5, kind);
    sqlite3_bind_double(st, 6, now);
    e = s_run(self, st);
    if (e == WANDB_OK)
        *id_out = sqlite3_last_insert_rowid(wbi_store__db(self));
    return e;
}

// Points alias of collection coll at art_id ("vN" names are indices, never
// stored as aliases).
static wandb_err s_alias_set(wbi_store_t *self, int64_t coll, const char *alias, int64_t art_id)
{
    if (!alias || !*alias ||
        (alias[0] == 'v' && alias[1] && strspn(alias + 1, "0123456789") == strlen(alias + 1)))
        return WANDB_OK;
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "INSERT INTO art_aliases (coll_id, alias, artifact_id) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (coll_id, alias) DO UPDATE SET artifact_id = ?3",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, coll);
    s_text(st, 2, alias);
    sqlite3_bind_int64(st, 3, art_id);
    return s_run(self, st);
}

// Sets "latest" and every alias of the JSON array text aliases.
static wandb_err s_aliases_apply(wbi_store_t *self, int64_t coll, const char *aliases,
                                 int64_t art_id)
{
    wandb_err e = s_alias_set(self, coll, "latest", art_id);
    json_error_t jerr;
    json_t *arr = aliases ? json_loads(aliases, 0, &jerr) : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (e == WANDB_OK && json_is_string(v))
            e = s_alias_set(self, coll, json_string_value(v), art_id);
    }
    json_decref(arr);
    return e;
}

// The id of a PENDING version with distributed id, or of a COMMITTED one
// with digest, in sequence seq; 0 when none.
static wandb_err s_existing(wbi_store_t *self, int64_t seq, const wbi_art_new_t *in,
                            int64_t *id_out, bool *committed)
{
    *id_out = 0;
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         in->distributed_id ? "SELECT id, state FROM artifacts WHERE seq_id = ?1"
                                              " AND distributed_id = ?2 AND state = 'PENDING'"
                                              " ORDER BY id DESC LIMIT 1"
                                            : "SELECT id, state FROM artifacts WHERE seq_id = ?1"
                                              " AND digest = ?2 AND state = 'COMMITTED' LIMIT 1",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, seq);
    s_text(st, 2, in->distributed_id ? in->distributed_id : in->digest);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row) {
        *id_out = sqlite3_column_int64(st, 0);
        *committed = strcmp((const char *)sqlite3_column_text(st, 1), "COMMITTED") == 0;
    }
    sqlite3_finalize(st);
    return e;
}

wandb_err wbi_store_art_create(wbi_store_t *self, const wbi_art_new_t *in, double now,
                               int64_t *id_out)
{
    int64_t seq = 0;
    wandb_err e =
        s_coll_ensure(self, in->entity, in->project, in->name, in->type, "SEQUENCE", now, &seq);
    bool committed = false;
    if (e == WANDB_OK)
        e = s_existing(self, seq, in, id_out, &committed);
    if (e != WANDB_OK)
        return e;
    if (*id_out && committed)
        return s_aliases_apply(self, seq, in->aliases, *id_out);
    if (*id_out)
        return WANDB_OK;
    sqlite3_stmt *st = NULL;
    e = s_prep(self,
               "INSERT INTO artifacts (seq_id, digest, description, metadata, aliases_req,"
               " distributed_id, client_id, seq_client_id, run_id, history_step, created_at,"
               " updated_at) VALUES (?1, ?2, ?3, ?4, COALESCE(?5, '[]'), ?6, ?7, ?8, ?9, ?10,"
               " ?11, ?11)",
               &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, seq);
    s_text(st, 2, in->digest);
    s_text(st, 3, in->description);
    s_text(st, 4, in->metadata);
    s_text(st, 5, in->aliases);
    s_text(st, 6, in->distributed_id);
    s_text(st, 7, in->client_id);
    s_text(st, 8, in->seq_client_id);
    if (in->run_id > 0)
        sqlite3_bind_int64(st, 9, in->run_id);
    if (in->history_step >= 0)
        sqlite3_bind_int64(st, 10, in->history_step);
    sqlite3_bind_double(st, 11, now);
    e = s_run(self, st);
    if (e == WANDB_OK)
        *id_out = sqlite3_last_insert_rowid(wbi_store__db(self));
    return e;
}

wandb_err wbi_store_art_find(wbi_store_t *self, const char *entity, const char *project,
                             const char *name, const char *version_or_alias, wbi_artifact_t *out,
                             int64_t *coll_id, int64_t *index)
{
    memset(out, 0, sizeof *out);
    const char *v = version_or_alias;
    bool by_index = v[0] == 'v' && v[1] && strspn(v + 1, "0123456789") == strlen(v + 1);
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(
        self,
        by_index ? "SELECT m.coll_id, m.version_index, m.artifact_id FROM art_members m"
                   " JOIN art_colls k ON k.id = m.coll_id WHERE k.entity = ?1 AND k.project = ?2"
                   " AND k.name = ?3 AND m.version_index = ?4"
                 : "SELECT m.coll_id, m.version_index, m.artifact_id FROM art_aliases l"
                   " JOIN art_colls k ON k.id = l.coll_id JOIN art_members m ON"
                   " m.coll_id = l.coll_id AND m.artifact_id = l.artifact_id"
                   " WHERE k.entity = ?1 AND k.project = ?2 AND k.name = ?3 AND l.alias = ?4",
        &st);
    if (e != WANDB_OK)
        return e;
    s_text(st, 1, entity);
    s_text(st, 2, project);
    s_text(st, 3, name);
    if (by_index)
        sqlite3_bind_int64(st, 4, strtoll(v + 1, NULL, 10));
    else
        s_text(st, 4, v);
    bool row = false;
    int64_t art = 0;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row) {
        if (coll_id)
            *coll_id = sqlite3_column_int64(st, 0);
        if (index)
            *index = sqlite3_column_int64(st, 1);
        art = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (e != WANDB_OK)
        return e;
    return row ? wbi_store_art_get(self, art, out) : WANDB_ENOTFOUND;
}

wandb_err wbi_store_art_by_client_id(wbi_store_t *self, const char *client_id, int64_t *id_out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT id FROM artifacts WHERE client_id = ?1 OR seq_client_id = ?1"
                         " ORDER BY id DESC LIMIT 1",
                         &st);
    if (e != WANDB_OK)
        return e;
    s_text(st, 1, client_id);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row)
        *id_out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return e == WANDB_OK && !row ? WANDB_ENOTFOUND : e;
}

wandb_err wbi_store_art_manifest_add(wbi_store_t *self, int64_t art_id, const char *name,
                                     const char *type, const char *digest, double now,
                                     int64_t *id_out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "INSERT INTO art_manifests (artifact_id, name, type, digest, created_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, art_id);
    s_text(st, 2, name);
    s_text(st, 3, type);
    s_text(st, 4, digest);
    sqlite3_bind_double(st, 5, now);
    e = s_run(self, st);
    if (e == WANDB_OK)
        *id_out = sqlite3_last_insert_rowid(wbi_store__db(self));
    return e;
}

wandb_err wbi_store_art_manifest_set(wbi_store_t *self, int64_t manifest_id, const char *digest,
                                     int64_t *art_id_out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "UPDATE art_manifests SET digest = COALESCE(?2, digest) WHERE id = ?1"
                         " RETURNING artifact_id",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, manifest_id);
    s_text(st, 2, digest);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row && art_id_out)
        *art_id_out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return e == WANDB_OK && !row ? WANDB_ENOTFOUND : e;
}

wandb_err wbi_store_art_manifest_uploaded(wbi_store_t *self, int64_t manifest_id, const char *blob)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self, "UPDATE art_manifests SET blob = ?2 WHERE id = ?1", &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, manifest_id);
    s_text(st, 2, blob);
    e = s_run(self, st);
    if (e == WANDB_OK && sqlite3_changes(wbi_store__db(self)) == 0)
        e = WANDB_ENOTFOUND;
    return e;
}

wandb_err wbi_store_art_manifests_each(wbi_store_t *self, int64_t art_id, wbi_store_manifest_fn fn,
                                       void *arg)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT id, type, blob FROM art_manifests WHERE artifact_id = ?1"
                         " AND blob IS NOT NULL ORDER BY id",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, art_id);
    bool row = true;
    while (e == WANDB_OK && (e = s_step(self, st, &row)) == WANDB_OK && row) {
        if (fn(arg, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2)) != 0)
            break;
    }
    sqlite3_finalize(st);
    return e;
}

// Adds art_id to collection coll at the next index; *index_out gets it (an
// existing member keeps its index).
static wandb_err s_member_add(wbi_store_t *self, int64_t coll, int64_t art_id, double now,
                              int64_t *index_out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "INSERT INTO art_members (coll_id, artifact_id, version_index, created_at)"
                         " VALUES (?1, ?2, (SELECT COALESCE(MAX(version_index) + 1, 0)"
                         " FROM art_members WHERE coll_id = ?1), ?3)"
                         " ON CONFLICT (coll_id, artifact_id) DO NOTHING",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, coll);
    sqlite3_bind_int64(st, 2, art_id);
    sqlite3_bind_double(st, 3, now);
    e = s_run(self, st);
    if (e != WANDB_OK)
        return e;
    e = s_prep(
        self, "SELECT version_index FROM art_members WHERE coll_id = ?1 AND artifact_id = ?2", &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, coll);
    sqlite3_bind_int64(st, 2, art_id);
    bool row = false;
    e = s_step(self, st, &row);
    if (e == WANDB_OK && row)
        *index_out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return e;
}

// Inserts the entries of a manifest's contents.
static wandb_err s_files_put(wbi_store_t *self, int64_t art_id, const json_t *contents,
                             int64_t *size, int64_t *count)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "INSERT OR REPLACE INTO art_files (artifact_id, path, digest, size, ref,"
                         " birth_artifact_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         &st);
    if (e != WANDB_OK)
        return e;
    const char *path;
    json_t *entry;
    json_object_foreach((json_t *)contents, path, entry)
    {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        json_t *jsize = json_object_get(entry, "size");
        json_t *birth = json_object_get(entry, "birthArtifactID");
        sqlite3_bind_int64(st, 1, art_id);
        s_text(st, 2, path);
        s_text(st, 3, json_string_value(json_object_get(entry, "digest")));
        if (json_is_integer(jsize))
            sqlite3_bind_int64(st, 4, json_integer_value(jsize));
        s_text(st, 5, json_string_value(json_object_get(entry, "ref")));
        if (json_is_integer(birth))
            sqlite3_bind_int64(st, 6, json_integer_value(birth));
        if ((e = s_step(self, st, NULL)) != WANDB_OK)
            break;
        *size += json_integer_value(jsize);
        (*count)++;
    }
    sqlite3_finalize(st);
    return e;
}

wandb_err wbi_store_art_commit(wbi_store_t *self, int64_t id, const json_t *contents,
                               const char *blob, const char *digest, double now,
                               int64_t *version_out)
{
    wbi_artifact_t a;
    wandb_err e = wbi_store_art_get(self, id, &a);
    if (e != WANDB_OK)
        return e;
    if (strcmp(a.state, "PENDING") != 0) {
        wbi_store_art_release(&a);
        return WANDB_EEXIST;
    }
    int64_t size = 0, count = 0, version = 0;
    e = s_files_put(self, id, contents, &size, &count);
    if (e == WANDB_OK)
        e = s_member_add(self, a.seq_id, id, now, &version);
    if (e == WANDB_OK)
        e = s_aliases_apply(self, a.seq_id, a.aliases_req, id);
    sqlite3_stmt *st = NULL;
    if (e == WANDB_OK)
        e = s_prep(self,
                   "UPDATE artifacts SET state = 'COMMITTED', version = ?2, manifest_blob = ?3,"
                   " digest = COALESCE(?4, digest), size = ?5, file_count = ?6, updated_at = ?7"
                   " WHERE id = ?1",
                   &st);
    if (e == WANDB_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, version);
        s_text(st, 3, blob);
        s_text(st, 4, digest);
        sqlite3_bind_int64(st, 5, size);
        sqlite3_bind_int64(st, 6, count);
        sqlite3_bind_double(st, 7, now);
        e = s_run(self, st);
    }
    if (e == WANDB_OK && version_out)
        *version_out = version;
    wbi_store_art_release(&a);
    return e;
}

wandb_err wbi_store_art_use(wbi_store_t *self, int64_t art_id, int64_t run_id, double now)
{
    sqlite3_stmt *st = NULL;
    wandb_err e =
        s_prep(self,
               "INSERT INTO art_uses (artifact_id, run_id, created_at) VALUES (?1, ?2, ?3)"
               " ON CONFLICT DO NOTHING",
               &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, art_id);
    sqlite3_bind_int64(st, 2, run_id);
    sqlite3_bind_double(st, 3, now);
    return s_run(self, st);
}

wandb_err wbi_store_art_link(wbi_store_t *self, int64_t art_id, const char *entity,
                             const char *project, const char *portfolio, const char *aliases,
                             double now, int64_t *coll_id_out, int64_t *index_out)
{
    wbi_artifact_t a;
    wandb_err e = wbi_store_art_get(self, art_id, &a);
    if (e != WANDB_OK)
        return e;
    int64_t coll = 0;
    if (strcmp(a.state, "COMMITTED") != 0) {
        wbi_store__set_error(self, "only a committed artifact version can be linked");
        e = WANDB_EINVAL;
    }
    if (e == WANDB_OK)
        e = s_coll_ensure(self, entity, project, portfolio, a.type, "PORTFOLIO", now, &coll);
    if (e == WANDB_OK)
        e = s_member_add(self, coll, art_id, now, index_out);
    if (e == WANDB_OK)
        e = s_aliases_apply(self, coll, aliases, art_id);
    if (e == WANDB_OK && coll_id_out)
        *coll_id_out = coll;
    wbi_store_art_release(&a);
    return e;
}
