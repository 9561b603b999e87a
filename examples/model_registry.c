//  model_registry.c - log_model, use_model and link_model from C
//  SPDX-License-Identifier: MIT
//
//  Usage: model_registry WORKDIR
//  Writes WORKDIR/weights.bin, logs it as a model artifact, links it to the
//  registered model "demo-model" (<entity>/model-registry/demo-model), then
//  uses the model back and checks the downloaded bytes. Runs where any run
//  runs (WANDB_MODE=offline keeps everything in $WANDB_DIR).
#include "wandb.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: model_registry WORKDIR\n");
        return 2;
    }
    char path[4096], out[4096], got[4096];
    snprintf(path, sizeof path, "%s/weights.bin", argv[1]);
    const char weights[] = "pretend these are the weights of a network";
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(weights, 1, sizeof weights, f) != sizeof weights || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb_init: %s\n", wandb_strerror(rc));
        return 1;
    }
    const char *aliases[] = {"candidate", NULL};
    rc = wandb_log_model(run, path, "demo-weights", aliases);
    if (rc == WANDB_OK)
        rc = wandb_link_model(run, path, "demo-model", "demo-weights", aliases);
    snprintf(out, sizeof out, "%s/downloaded", argv[1]);
    if (rc == WANDB_OK)
        rc = wandb_use_model(run, "demo-weights:candidate", out, got, sizeof got);
    char back[sizeof weights] = {0};
    FILE *g = rc == WANDB_OK ? fopen(got, "rb") : NULL;
    size_t n = g ? fread(back, 1, sizeof back, g) : 0;
    if (g)
        fclose(g);
    if (rc == WANDB_OK && (n != sizeof weights || memcmp(back, weights, n) != 0))
        rc = WANDB_EIO;
    fprintf(stderr, "model_registry: %s (model at %s)\n", wandb_strerror(rc),
            rc == WANDB_OK ? got : "-");
    wandb_err frc = wandb_finish(&run, rc == WANDB_OK ? 0 : 1);
    wandb_shutdown();
    return rc == WANDB_OK && frc == WANDB_OK ? 0 : 1;
}
