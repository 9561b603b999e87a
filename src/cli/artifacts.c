//  artifacts.c - wandb-mpi artifacts: the artifacts of a project, from the store
//  SPDX-License-Identifier: MIT
//
//  The list is the read API's (store/artifact.h, wbi_store_art_list), so the
//  CLI and GET /api/v1/artifacts agree. Thread: the main thread.

#include "cli/artifacts.h"

#include "common/alloc.h"
#include "common/jsonx.h"
#include "store/artifact.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

// Joins the strings of a JSON array with ',' into out ("-" when empty).
static void s_join(const json_t *arr, const char *field, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = field ? json_string_value(json_object_get(v, field)) : json_string_value(v);
        int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", s ? s : "?");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (!out[0])
        snprintf(out, len, "-");
}

// Prints one line of a version of a sequence, or of a member of a portfolio.
static void s_print_version(const json_t *coll, const json_t *v)
{
    char aliases[256], users[256], files[32] = "-", size[32] = "-";
    s_join(json_object_get(v, "aliases"), NULL, aliases, sizeof aliases);
    const char *kind = json_string_value(json_object_get(coll, "kind"));
    const char *version = json_string_value(json_object_get(v, "version"));
    const char *digest = json_string_value(json_object_get(v, "digest"));
    char name[300];
    snprintf(name, sizeof name, "%s/%s", json_string_value(json_object_get(coll, "project")),
             json_string_value(json_object_get(coll, "name")));
    if (strcmp(kind, "PORTFOLIO") == 0) {
        printf("%-32s %-10s %-8s %-10s %-24s linked from %s:%s\n", name,
               json_string_value(json_object_get(coll, "type")), version, "LINKED", aliases,
               json_string_value(json_object_get(v, "source")),
               json_string_value(json_object_get(v, "source_version")));
        return;
    }
    s_join(json_object_get(v, "used_by"), "name", users, sizeof users);
    snprintf(files, sizeof files, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(v, "file_count")));
    snprintf(size, sizeof size, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(v, "size")));
    const char *producer = json_string_value(json_object_get(v, "created_by"));
    printf("%-32s %-10s %-8s %-10s %-24s %6s %12s %-32s %-10s %s\n", name,
           json_string_value(json_object_get(coll, "type")), version ? version : "-",
           json_string_value(json_object_get(v, "state")), aliases, files, size,
           digest ? digest : "-", producer ? producer : "-", users);
}

int wbi_cli_artifacts(wbi_store_t *store, const char *entity, const char *project, bool json)
{
    json_t *list = NULL;
    wandb_err e = wbi_store_art_list(store, entity, project, &list);
    if (e != WANDB_OK) {
        fprintf(stderr, "wandb-mpi: cannot read artifacts: %s\n", wbi_store_errmsg(store));
        return 1;
    }
    if (!json)
        printf("%-32s %-10s %-8s %-10s %-24s %6s %12s %-32s %-10s %s\n", "PROJECT/NAME", "TYPE",
               "VERSION", "STATE", "ALIASES", "FILES", "BYTES", "DIGEST", "PRODUCER", "CONSUMERS");
    int rc = 0;
    size_t i;
    json_t *coll;
    json_array_foreach(list, i, coll)
    {
        if (json) {
            char *text = wbi_jsonx_dumps(coll, JSON_COMPACT);
            if (!text) {
                rc = 1;
                break;
            }
            printf("%s\n", text);
            wbi_free(text);
            continue;
        }
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(coll, "versions"), j, v) s_print_version(coll, v);
    }
    json_decref(list);
    return rc;
}
