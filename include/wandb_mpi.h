/*  wandb_mpi.h - optional MPI glue for wandb.h: one aggregator per job
 *  SPDX-License-Identifier: MIT
 *
 *  The only header that includes mpi.h. wandb_mpi_init is collective over
 *  comm: rank 0 starts the aggregator thread (unless the launcher already
 *  started an aggregator process and exported WANDB_AGGREGATOR), broadcasts
 *  its endpoint, a per-job secret and the group name, and every rank then
 *  starts its run connected to that aggregator. No MPI call happens after
 *  wandb_mpi_init: logging never waits on other ranks.
 */
#ifndef WANDB_MPI_H_INCLUDED
#define WANDB_MPI_H_INCLUDED

#include "wandb.h"
#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

// Collective over comm. Sets rank and world size from comm, the group (when
// not set: WANDB_RUN_GROUP, else "<program>-<job id or rank-0 timestamp>"),
// the run name ("rank-<r>") and the aggregator endpoint, then calls
// wandb_init(settings, run_out) on every rank. settings may be NULL.
// Returns the same errors as wandb_init. The outcome is collective: when
// rank 0 cannot start the aggregator, or wandb_init fails on any rank, every
// rank gets an error (WANDB_EIO where its own part succeeded; such a rank's
// run is finished as failed at once). With mode disabled or offline no
// aggregator is started. The settings "aggregator" and "secret" (or
// WANDB_AGGREGATOR, WANDB_AGGREGATOR_SECRET) name an aggregator that is
// already running, such as the launcher's separate process.
// Thread: the thread that called MPI_Init.
WANDB_EXPORT wandb_err wandb_mpi_init(MPI_Comm comm, wandb_settings_t *settings,
                                      wandb_run_t **run_out);

// Finishes this rank's run (wandb_finish). On the rank that hosts the
// aggregator it then waits until every rank's run has finished (or been
// marked crashed) and the backend has received everything, and stops the
// aggregator. The whole call takes at most finish_timeout_ms (default 30 s).
// Not collective: no MPI call.
WANDB_EXPORT wandb_err wandb_mpi_finish(wandb_run_t **run_p, int exit_code);

#ifdef __cplusplus
}
#endif
#endif
