//  artifact_run.c - the run's artifact calls: log, upsert, finish, link, model, code
//  SPDX-License-Identifier: MIT
//
//  Argument checks and names (the seed's rules, common/artname.h), then one
//  operation through artifact_send.c. The model helpers follow the seed:
//  log_model = log_artifact of type "model" named "run-<id>-<base name>",
//  use_model = use_artifact + a type containing "model" + download,
//  link_model = log_model + link to <entity>/model-registry/<name>.
//  Thread: any (artifact_send.c serialises the operations of a run).
#include "logger/artifact.h"

#include "common/alloc.h"
#include "common/artname.h"
#include "common/log.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

// Common checks of the run calls; WANDB_OK to go on.
static wandb_err s_check(wandb_run_t *run, wandb_artifact_t *a, const char *fn)
{
    if (!wbi_art_valid(a))
        return wbi_art_fail(NULL, WANDB_EINVAL, "%s: no artifact", fn);
    if (!run)
        return wbi_art_fail(a, WANDB_EINVAL, "%s: '%s': no run", fn, a->name);
    if (a->run)
        return wbi_art_fail(a, WANDB_EINVAL, "%s: '%s' is a used artifact: log a new one", fn,
                            a->name);
    return WANDB_OK;
}

static wandb_err s_aliases(wandb_artifact_t *a, const char *const *aliases)
{
    for (size_t i = 0; aliases && aliases[i]; i++) {
        wandb_err rc = wandb_artifact_add_alias(a, aliases[i]);
        if (rc != WANDB_OK)
            return rc;
    }
    return WANDB_OK;
}

wandb_err wandb_log_artifact(wandb_run_t *run, wandb_artifact_t *self, const char *const *aliases)
{
    wandb_err rc = s_check(run, self, "wandb_log_artifact");
    if (rc == WANDB_OK)
        rc = s_aliases(self, aliases);
    if (rc != WANDB_OK || run->disabled)
        return rc;
    return wbi_art_send(run, self, "log", NULL, NULL, NULL);
}

// The distributed id: the argument, else the run's group.
static wandb_err s_distributed(wandb_run_t *run, wandb_artifact_t *a, const char *fn,
                               const char *did, const char **out)
{
    if (!did || !*did)
        did = run->cfg.group;
    if (!did || !*did)
        return wbi_art_fail(a, WANDB_EINVAL,
                            "%s: '%s': no distributed_id given and the run has no group", fn,
                            a->name);
    if (strlen(did) > WBI_ART_NAME_MAX)
        return wbi_art_fail(a, WANDB_EINVAL, "%s: '%s': distributed_id is longer than %d bytes", fn,
                            a->name, WBI_ART_NAME_MAX);
    for (const char *p = did; *p; p++)
        if ((unsigned char)*p < 0x20)
            return wbi_art_fail(a, WANDB_EINVAL,
                                "%s: '%s': distributed_id contains a control character", fn,
                                a->name);
    *out = did;
    return WANDB_OK;
}

wandb_err wandb_upsert_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                const char *distributed_id)
{
    const char *did = NULL;
    wandb_err rc = s_check(run, self, "wandb_upsert_artifact");
    if (rc == WANDB_OK)
        rc = s_distributed(run, self, "wandb_upsert_artifact", distributed_id, &did);
    if (rc != WANDB_OK || run->disabled)
        return rc;
    return wbi_art_send(run, self, "upsert", did, NULL, NULL);
}

wandb_err wandb_finish_artifact(wandb_run_t *run, wandb_artifact_t *self,
                                const char *distributed_id)
{
    const char *did = NULL;
    wandb_err rc = s_check(run, self, "wandb_finish_artifact");
    if (rc == WANDB_OK)
        rc = s_distributed(run, self, "wandb_finish_artifact", distributed_id, &did);
    if (rc != WANDB_OK || run->disabled)
        return rc;
    return wbi_art_send(run, self, "finish", did, NULL, NULL);
}

wandb_err wandb_link_artifact(wandb_run_t *run, wandb_artifact_t *self, const char *target,
                              const char *const *aliases)
{
    if (!wbi_art_valid(self) || !run)
        return wbi_art_fail(wbi_art_valid(self) ? self : NULL, WANDB_EINVAL,
                            "wandb_link_artifact: no run or no artifact");
    wbi_art_ref_t t;
    char why[WBI_ART_WHY];
    if (!wbi_art_target_parse(target, &t, why, sizeof why))
        return wbi_art_fail(self, WANDB_EINVAL, "wandb_link_artifact: '%s': %s", self->name, why);
    for (size_t i = 0; aliases && aliases[i]; i++)
        if (!wbi_art_alias_ok(aliases[i], why, sizeof why))
            return wbi_art_fail(self, WANDB_EINVAL, "wandb_link_artifact: '%s': %s", self->name,
                                why);
    if (!self->version[0])
        return wbi_art_fail(self, WANDB_EINVAL,
                            "wandb_link_artifact: '%s' has no version yet: log or use it first",
                            self->name);
    if (run->disabled)
        return WANDB_OK;
    json_t *al = json_array();
    for (size_t i = 0; aliases && aliases[i]; i++)
        json_array_append_new(al, json_string(aliases[i]));
    json_t *extra =
        json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "version", self->version, "target", "entity",
                  t.entity, "project", t.project, "portfolio", t.name, "link_aliases", al);
    if (!extra)
        return WANDB_ENOMEM;
    char version[sizeof self->version];
    memcpy(version, self->version, sizeof version);
    wandb_err rc = wbi_art_send(run, self, "link", NULL, extra, NULL);
    json_decref(extra);
    memcpy(self->version, version, sizeof version); // the artifact's own version stays
    return rc;
}

// The default model name: "run-<run id>-<base name of path>" with the
// characters names may not hold replaced by '-'.
static void s_model_name(wandb_run_t *run, const char *path, char *out, size_t n)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, n, "run-%s-%.*s", run->cfg.run_id, (int)(len - start), path + start);
    for (char *p = out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            *p = '-';
}

// Builds (not logs) the model artifact of path: a file or a directory.
static wandb_err s_model(wandb_run_t *run, const char *fn, const char *path, const char *name,
                         const char *type, wandb_artifact_t **out)
{
    char def[WBI_ART_NAME_MAX + 1];
    if (!run || !path || !*path)
        return wbi_art_fail(NULL, WANDB_EINVAL, "%s: no run or no path", fn);
    if (!name) {
        s_model_name(run, path, def, sizeof def);
        name = def;
    }
    char why[WBI_ART_WHY];
    if (!wbi_art_name_ok(name, why, sizeof why))
        return wbi_art_fail(NULL, WANDB_EINVAL, "%s: %s", fn, why);
    wandb_err rc = wandb_artifact_new(name, type, out);
    if (rc != WANDB_OK)
        return rc;
    struct stat st;
    if (strstr(path, "://"))
        rc = wandb_artifact_add_reference(*out, path, NULL);
    else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = wandb_artifact_add_dir(*out, path, NULL);
    else
        rc = wandb_artifact_add_file(*out, path, NULL);
    if (rc != WANDB_OK)
        wandb_artifact_destroy(out);
    return rc;
}

wandb_err wandb_log_model(wandb_run_t *run, const char *path, const char *name,
                          const char *const *aliases)
{
    wandb_artifact_t *a = NULL;
    wandb_err rc = s_model(run, "wandb_log_model", path, name, "model", &a);
    if (rc == WANDB_OK)
        rc = wandb_log_artifact(run, a, aliases);
    wandb_artifact_destroy(&a);
    return rc;
}

wandb_err wandb_use_model(wandb_run_t *run, const char *name, const char *dir, char *buf,
                          size_t len)
{
    if (!run || !name || !dir || !buf)
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_use_model: missing argument");
    wandb_artifact_t *a = NULL;
    wandb_err rc = wandb_use_artifact(run, name, &a);
    if (rc != WANDB_OK)
        return rc;
    char type[WBI_ART_NAME_MAX + 1];
    snprintf(type, sizeof type, "%s", a->type);
    for (char *p = type; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!strstr(type, "model"))
        rc = wbi_art_fail(NULL, WANDB_EINVAL,
                          "wandb_use_model: '%s' has type '%s': only artifacts whose type "
                          "contains 'model' can be used as models",
                          name, a->type);
    if (rc == WANDB_OK)
        rc = wandb_artifact_download(a, dir);
    if (rc == WANDB_OK) {
        size_t files = 0;
        const char *one = NULL;
        for (size_t i = 0; i < a->nentries; i++)
            if (!a->entries[i].ref && ++files == 1)
                one = a->entries[i].name;
        int n = files == 1 ? snprintf(buf, len, "%s/%s", dir, one) : snprintf(buf, len, "%s", dir);
        if (n < 0 || (size_t)n >= len)
            rc = WANDB_ETOOBIG;
    }
    wandb_artifact_destroy(&a);
    return rc;
}

wandb_err wandb_link_model(wandb_run_t *run, const char *path, const char *registered_model_name,
                           const char *name, const char *const *aliases)
{
    if (!registered_model_name || !*registered_model_name || strchr(registered_model_name, '/'))
        return wbi_art_fail(NULL, WANDB_EINVAL,
                            "wandb_link_model: registered_model_name '%s' must be a bare name: do "
                            "not prefix the entity or project",
                            registered_model_name ? registered_model_name : "");
    char why[WBI_ART_WHY];
    if (!wbi_art_name_ok(registered_model_name, why, sizeof why))
        return wbi_art_fail(NULL, WANDB_EINVAL, "wandb_link_model: %s", why);
    wandb_artifact_t *a = NULL;
    wandb_err rc = s_model(run, "wandb_link_model", path, name, "model", &a);
    if (rc == WANDB_OK)
        rc = wandb_log_artifact(run, a, NULL);
    char target[2 * WBI_ART_NAME_MAX + 32];
    const char *entity = run ? wandb_run_entity(run) : NULL; // "" until known
    if (entity && !*entity)
        entity = run->cfg.entity;
    if (entity)
        snprintf(target, sizeof target, "%s/model-registry/%s", entity, registered_model_name);
    else
        snprintf(target, sizeof target, "model-registry/%s", registered_model_name);
    if (rc == WANDB_OK)
        rc = wandb_link_artifact(run, a, target, aliases);
    wandb_artifact_destroy(&a);
    return rc;
}
