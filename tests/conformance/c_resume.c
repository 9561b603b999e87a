//  c_resume.c - our side of test_resume_conformance.py: one run through the
//  public C API, optionally resumed
//  SPDX-License-Identifier: MIT
//
//  usage: c_resume BASE_URL API_KEY PROJECT RUN_ID RESUME FROM TO
//  Opens RUN_ID with resume=RESUME ("none": unset), logs loss=step for
//  FROM..TO-1 and finishes; prints {"resumed","starting_step","step"} as
//  wandb_init left them. Exit: 0 when every call returned WANDB_OK, 1
//  otherwise, 2 usage.
#include "wandb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: c_resume BASE_URL API_KEY PROJECT RUN_ID RESUME FROM TO\n");
        return 2;
    }
    wandb_settings_t *s = NULL;
    if (wandb_settings_new(&s) != WANDB_OK)
        return 1;
    const char *pairs[][2] = {{"base_url", argv[1]},        {"api_key", argv[2]},
                              {"project", argv[3]},         {"run_id", argv[4]},
                              {"flush_interval_ms", "200"}, {"finish_timeout_ms", "60000"},
                              {"init_timeout_ms", "60000"}};
    int bad = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        bad |= wandb_settings_set(s, pairs[i][0], pairs[i][1]) != WANDB_OK;
    if (strcmp(argv[5], "none") != 0)
        bad |= wandb_settings_set(s, "resume", argv[5]) != WANDB_OK;
    bad |= wandb_settings_config_json(s, "{\"c\": 1}") != WANDB_OK;
    wandb_run_t *run = NULL;
    wandb_err rc = bad ? WANDB_EINVAL : wandb_init(s, &run);
    if (rc != WANDB_OK) {
        fprintf(stderr, "c_resume: init: %s: %s\n", wandb_strerror(rc), wandb_settings_errmsg(s));
        wandb_settings_destroy(&s);
        return 1;
    }
    wandb_settings_destroy(&s);
    printf("{\"resumed\": %s, \"starting_step\": %lld, \"step\": %lld}\n",
           wandb_run_resumed(run) ? "true" : "false", (long long)wandb_run_starting_step(run),
           (long long)wandb_run_step(run));
    fflush(stdout);
    long from = strtol(argv[6], NULL, 10), to = strtol(argv[7], NULL, 10);
    for (long k = from; k < to; k++)
        bad |= wandb_log(run, WANDB_DOUBLE("loss", (double)k)) != WANDB_OK;
    bad |= wandb_finish(&run, 0) != WANDB_OK;
    return bad ? 1 : 0;
}
