//  resume.h - resume on the rank's side (resume.c)
//  SPDX-License-Identifier: MIT
//
//  wandb_init with a resume setting waits for the aggregator's decision
//  (WELCOME); "auto" keeps the run id in a file of the run directory until
//  wandb_finish. Thread: see resume.c.
#ifndef WBI_LOGGER_RESUME_H
#define WBI_LOGGER_RESUME_H

#include "logger/run.h"
#include <jansson.h>

// wandb_run.resume_state values (0: no decision yet).
#define WBI_RESUME_WELCOMED 1 // WELCOME came: resumed or new
#define WBI_RESUME_REFUSED 2  // WELCOME refused the run (resume_msg, resume_refusal)

// True when the resume setting is "auto".
bool wbi_resume_is_auto(const wbi_cfg_t *cfg);
// "auto": without a given run id, takes the id a run that did not finish
// left in the resume file, then writes the run's id there. WANDB_ENOMEM.
wandb_err wbi_resume_auto_id(wbi_cfg_t *cfg, bool id_given);
// "auto": the run finished: removes the resume file.
void wbi_resume_forget(const wbi_cfg_t *cfg);
// Records a WELCOME's decision (I/O thread).
void wbi_resume_note(wandb_run_t *run, const json_t *welcome);
// Waits at most init_timeout_ms for the decision. WANDB_OK (the step is then
// the starting step), or the refusal (WANDB_EEXIST: the run exists and resume
// is never; WANDB_ENOTFOUND: it does not and resume is must; WANDB_EBACKEND)
// or WANDB_ETIMEDOUT, with the text in msg.
wandb_err wbi_resume_wait(wandb_run_t *run, char *msg, size_t len);

#endif
