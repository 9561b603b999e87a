//  job.h - wandb-mpi job: how one MPI job ended, from its runs in the store
//  SPDX-License-Identifier: MIT
#ifndef WBI_CLI_JOB_H
#define WBI_CLI_JOB_H

#include "store/store.h"

// Prints the settled state of group's runs (entity/project: filters, NULL
// for any): counts by state, the job run and its state, which rank failed
// first and how, the exit code of every rank that finished. Returns the
// exit status: 0 when every run finished with 0, 1 otherwise or on a read
// error (with a message on stderr), 3 when the group has no runs.
int wbi_cli_job(wbi_store_t *store, const char *entity, const char *project, const char *group);

#endif
