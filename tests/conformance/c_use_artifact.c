//  c_use_artifact.c - wandb_use_artifact of what the official client logged
//  SPDX-License-Identifier: MIT
//
//  usage: c_use_artifact SPEC MODEL_SPEC DIR FILE...
//
//  One run (settings from the environment: WANDB_BASE_URL, WANDB_API_KEY,
//  WANDB_PROJECT, WANDB_DIR; an in-process aggregator whose store does not
//  have the version) uses SPEC, downloads it into DIR, and prints one JSON
//  line: {"run", "type", "version", "files": {FILE: local path}, "model":
//  path of wandb_use_model(MODEL_SPEC)}. Exit: 0 when every call succeeded,
//  1 otherwise (the reason on stderr), 2 usage. Driven by
//  test_artifact_cross_use.py.
#include "wandb.h"

#include <stdio.h>
#include <string.h>

static int s_fail(const char *what, wandb_err rc, wandb_run_t **run)
{
    fprintf(stderr, "%s: %s\n", what, wandb_strerror(rc));
    if (*run)
        wandb_finish(run, 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: c_use_artifact SPEC MODEL_SPEC DIR FILE...\n");
        return 2;
    }
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK)
        return s_fail("wandb_init", rc, &run);
    wandb_artifact_t *a = NULL;
    if ((rc = wandb_use_artifact(run, argv[1], &a)) != WANDB_OK)
        return s_fail("wandb_use_artifact", rc, &run);
    if ((rc = wandb_artifact_download(a, argv[3])) != WANDB_OK) {
        fprintf(stderr, "%s\n", wandb_artifact_errmsg(a));
        wandb_artifact_destroy(&a);
        return s_fail("wandb_artifact_download", rc, &run);
    }
    printf("{\"run\": \"%s\", \"type\": \"%s\", \"version\": \"%s\", \"files\": {",
           wandb_run_id(run), wandb_artifact_type(a), wandb_artifact_version(a));
    for (int i = 4; i < argc; i++) {
        char path[4096];
        rc = wandb_artifact_file(a, argv[i], path, sizeof path);
        printf("%s\"%s\": \"%s\"", i > 4 ? ", " : "", argv[i], rc == WANDB_OK ? path : "");
    }
    wandb_artifact_destroy(&a);
    char model_dir[4096], model[4096];
    snprintf(model_dir, sizeof model_dir, "%s-model", argv[3]);
    rc = wandb_use_model(run, argv[2], model_dir, model, sizeof model);
    printf("}, \"model\": \"%s\"}\n", rc == WANDB_OK ? model : "");
    fflush(stdout);
    if (rc != WANDB_OK)
        return s_fail("wandb_use_model", rc, &run);
    rc = wandb_finish(&run, 0);
    return rc == WANDB_OK ? 0 : 1;
}
