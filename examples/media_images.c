//  media_images.c - the seed's image example, in C
//  SPDX-License-Identifier: MIT
//
//  Python (the reference page of wandb.Run.log):
//      run = wandb.init()
//      examples = []
//      for i in range(3):
//          pixels = np.random.randint(low=0, high=256, size=(100, 100, 3))
//          image = wandb.Image(pixels, caption=f"random field {i}")
//          examples.append(image)
//      run.log({"examples": examples})
//  Settings come from the environment. Exit 0 when every call succeeded.
#include "wandb.h"

#include <stdint.h>
#include <stdio.h>

int main(void)
{
    wandb_run_t *run = NULL;
    wandb_err rc = wandb_init(NULL, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "wandb_init: %s\n", wandb_strerror(rc));
        return 1;
    }
    static uint8_t pixels[100 * 100 * 3];
    wandb_image_t *examples[3] = {NULL, NULL, NULL};
    uint32_t state = 2463534242u;
    for (int i = 0; i < 3 && rc == WANDB_OK; i++) {
        for (size_t p = 0; p < sizeof pixels; p++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            pixels[p] = (uint8_t)(state >> 24); // uniform in 0..255
        }
        char caption[32];
        snprintf(caption, sizeof caption, "random field %d", i);
        rc = wandb_image_new(&examples[i], pixels, 100, 100, 3);
        if (rc == WANDB_OK)
            rc = wandb_image_set_caption(examples[i], caption);
    }
    if (rc == WANDB_OK)
        rc = wandb_log_images(run, "examples", (const wandb_image_t *const *)examples, 3,
                              WANDB_STEP_AUTO, WANDB_COMMIT_AUTO);
    for (int i = 0; i < 3; i++)
        wandb_image_destroy(&examples[i]);
    wandb_err frc = wandb_finish(&run, rc == WANDB_OK ? 0 : 1);
    if (rc != WANDB_OK || frc != WANDB_OK) {
        fprintf(stderr, "media_images: %s\n", wandb_strerror(rc != WANDB_OK ? rc : frc));
        return 1;
    }
    return 0;
}
