//  artifact_read.c - artifacts in the SQLite store: the read API's listings
//  SPDX-License-Identifier: MIT
//
//  The reads: aliases, files, consumers, and the JSON shapes of
//  GET /api/v1/artifacts and `wandb-mpi artifacts`
//  (docs/artifacts.md), built here so that the server and the CLI print the
//  same thing. Thread: one caller at a time (as store.h).

#include "store/artifact.h"
#include "store/store_int.h"

#include <string.h>

static wandb_err s_prep(wbi_store_t *self, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(wbi_store__db(self), sql, -1, st, NULL);
    return rc == SQLITE_OK ? WANDB_OK : wbi_store__fail(self, rc);
}

static wandb_err s_step(wbi_store_t *self, sqlite3_stmt *st, bool *row)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? WANDB_OK : wbi_store__fail(self, rc);
}

// A text column as a JSON string, or null.
static json_t *s_jtext(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? json_stringn((const char *)t, (size_t)sqlite3_column_bytes(st, col)) : json_null();
}

wandb_err wbi_store_art_aliases(wbi_store_t *self, int64_t art_id, int64_t coll_id, json_t **out)
{
    *out = json_array();
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT l.alias, k.name, k.kind, k.id FROM art_aliases l"
                         " JOIN art_colls k ON k.id = l.coll_id WHERE l.artifact_id = ?1"
                         " AND (?2 = 0 OR l.coll_id = ?2) ORDER BY k.kind DESC, l.alias",
                         &st);
    if (e != WANDB_OK || !*out) {
        json_decref(*out);
        *out = NULL;
        return e != WANDB_OK ? e : WANDB_ENOMEM;
    }
    sqlite3_bind_int64(st, 1, art_id);
    sqlite3_bind_int64(st, 2, coll_id);
    bool row = true;
    while ((e = s_step(self, st, &row)) == WANDB_OK && row)
        json_array_append_new(*out, json_pack("{sssssssI}", "alias", sqlite3_column_text(st, 0),
                                              "collection", sqlite3_column_text(st, 1), "kind",
                                              sqlite3_column_text(st, 2), "collection_id",
                                              (json_int_t)sqlite3_column_int64(st, 3)));
    sqlite3_finalize(st);
    if (e != WANDB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return e;
}

wandb_err wbi_store_art_files_each(wbi_store_t *self, int64_t art_id, const char *only_path,
                                   wbi_store_art_file_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT path, digest, size, ref, birth_artifact_id FROM art_files"
                         " WHERE artifact_id = ?1 AND (?2 IS NULL OR path = ?2) ORDER BY path",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, art_id);
    if (only_path)
        sqlite3_bind_text(st, 2, only_path, -1, SQLITE_TRANSIENT);
    bool row = true;
    while ((e = s_step(self, st, &row)) == WANDB_OK && row) {
        if (fn(arg, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1),
               sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2),
               (const char *)sqlite3_column_text(st, 3), sqlite3_column_int64(st, 4)) != 0)
            break;
    }
    sqlite3_finalize(st);
    return e;
}

wandb_err wbi_store_art_users(wbi_store_t *self, int64_t art_id, json_t **out)
{
    *out = json_array();
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT r.id, r.name, r.entity, r.project FROM art_uses u"
                         " JOIN runs r ON r.id = u.run_id WHERE u.artifact_id = ?1"
                         " ORDER BY u.created_at, r.id",
                         &st);
    if (e == WANDB_OK) {
        sqlite3_bind_int64(st, 1, art_id);
        bool row = true;
        while ((e = s_step(self, st, &row)) == WANDB_OK && row)
            json_array_append_new(*out, json_pack("{sIsososo}", "id",
                                                  (json_int_t)sqlite3_column_int64(st, 0), "name",
                                                  s_jtext(st, 1), "entity", s_jtext(st, 2),
                                                  "project", s_jtext(st, 3)));
        sqlite3_finalize(st);
    }
    if (e != WANDB_OK || !*out) {
        json_decref(*out);
        *out = NULL;
        return e != WANDB_OK ? e : WANDB_ENOMEM;
    }
    return WANDB_OK;
}

// The versions of sequence seq, oldest first; pending ones after the
// committed ones (they have no index yet).
static wandb_err s_versions(wbi_store_t *self, int64_t seq, json_t *out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT a.id, a.version, a.state, a.digest, a.size, a.file_count,"
                         " a.description, a.metadata, a.distributed_id, r.name, a.created_at,"
                         " a.updated_at FROM artifacts a LEFT JOIN runs r ON r.id = a.run_id"
                         " WHERE a.seq_id = ?1 ORDER BY a.version IS NULL, a.version, a.id",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, seq);
    bool row = true;
    while ((e = s_step(self, st, &row)) == WANDB_OK && row) {
        int64_t id = sqlite3_column_int64(st, 0);
        bool has_version = sqlite3_column_type(st, 1) != SQLITE_NULL;
        char vname[32];
        snprintf(vname, sizeof vname, "v%lld", (long long)sqlite3_column_int64(st, 1));
        json_t *aliases = NULL, *users = NULL;
        e = wbi_store_art_aliases(self, id, 0, &aliases);
        if (e == WANDB_OK)
            e = wbi_store_art_users(self, id, &users);
        if (e != WANDB_OK) {
            json_decref(aliases);
            break;
        }
        // Sequence aliases by name; portfolio aliases grouped per portfolio.
        json_t *names = json_array(), *links = json_object();
        size_t i;
        json_t *al;
        json_array_foreach(aliases, i, al)
        {
            const char *coll = json_string_value(json_object_get(al, "collection"));
            if (strcmp(json_string_value(json_object_get(al, "kind")), "SEQUENCE") == 0) {
                json_array_append(names, json_object_get(al, "alias"));
                continue;
            }
            if (!json_object_get(links, coll))
                json_object_set_new(links, coll, json_array());
            json_array_append(json_object_get(links, coll), json_object_get(al, "alias"));
        }
        json_decref(aliases);
        json_t *link_list = json_array();
        const char *coll;
        json_t *names_in;
        json_object_foreach(links, coll, names_in) json_array_append_new(
            link_list, json_pack("{sssO}", "portfolio", coll, "aliases", names_in));
        json_decref(links);
        json_t *v = json_pack(
            "{sIsosososIsIsosososososfsfsoso}", "id", (json_int_t)id, "version",
            has_version ? json_string(vname) : json_null(), "state", s_jtext(st, 2), "digest",
            s_jtext(st, 3), "size", (json_int_t)sqlite3_column_int64(st, 4), "file_count",
            (json_int_t)sqlite3_column_int64(st, 5), "description", s_jtext(st, 6), "metadata",
            s_jtext(st, 7), "distributed_id", s_jtext(st, 8), "created_by", s_jtext(st, 9),
            "aliases", names, "created_at", sqlite3_column_double(st, 10), "updated_at",
            sqlite3_column_double(st, 11), "used_by", users, "links", link_list);
        json_array_append_new(out, v);
    }
    sqlite3_finalize(st);
    return e;
}

// The members of portfolio coll: [{version, source, source_version, aliases}].
static wandb_err s_members(wbi_store_t *self, int64_t coll, json_t *out)
{
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT m.version_index, c.name, a.version, a.digest, a.id"
                         " FROM art_members m JOIN artifacts a ON a.id = m.artifact_id"
                         " JOIN art_colls c ON c.id = a.seq_id WHERE m.coll_id = ?1"
                         " ORDER BY m.version_index",
                         &st);
    if (e != WANDB_OK)
        return e;
    sqlite3_bind_int64(st, 1, coll);
    bool row = true;
    while ((e = s_step(self, st, &row)) == WANDB_OK && row) {
        json_t *aliases = NULL, *names = json_array();
        e = wbi_store_art_aliases(self, sqlite3_column_int64(st, 4), coll, &aliases);
        if (e != WANDB_OK)
            break;
        size_t i;
        json_t *al;
        json_array_foreach(aliases, i, al) json_array_append(names, json_object_get(al, "alias"));
        json_decref(aliases);
        char v[32], src[32];
        snprintf(v, sizeof v, "v%lld", (long long)sqlite3_column_int64(st, 0));
        snprintf(src, sizeof src, "v%lld", (long long)sqlite3_column_int64(st, 2));
        json_array_append_new(out, json_pack("{sssosssoso}", "version", v, "source", s_jtext(st, 1),
                                             "source_version", src, "digest", s_jtext(st, 3),
                                             "aliases", names));
    }
    sqlite3_finalize(st);
    return e;
}

wandb_err wbi_store_art_list(wbi_store_t *self, const char *entity, const char *project,
                             json_t **out)
{
    *out = json_array();
    sqlite3_stmt *st = NULL;
    wandb_err e = s_prep(self,
                         "SELECT id, entity, project, name, type, kind FROM art_colls"
                         " WHERE (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR project = ?2)"
                         " ORDER BY entity, project, kind DESC, name",
                         &st);
    if (e != WANDB_OK || !*out) {
        json_decref(*out);
        *out = NULL;
        return e != WANDB_OK ? e : WANDB_ENOMEM;
    }
    if (entity)
        sqlite3_bind_text(st, 1, entity, -1, SQLITE_TRANSIENT);
    if (project)
        sqlite3_bind_text(st, 2, project, -1, SQLITE_TRANSIENT);
    bool row = true;
    while ((e = s_step(self, st, &row)) == WANDB_OK && row) {
        bool seq = strcmp((const char *)sqlite3_column_text(st, 5), "SEQUENCE") == 0;
        json_t *versions = json_array();
        e = seq ? s_versions(self, sqlite3_column_int64(st, 0), versions)
                : s_members(self, sqlite3_column_int64(st, 0), versions);
        json_t *c = json_pack("{sosososososo}", "entity", s_jtext(st, 1), "project", s_jtext(st, 2),
                              "name", s_jtext(st, 3), "type", s_jtext(st, 4), "kind",
                              s_jtext(st, 5), "versions", versions);
        json_array_append_new(*out, c);
        if (e != WANDB_OK)
            break;
    }
    sqlite3_finalize(st);
    if (e != WANDB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return e;
}
