/*  wandb_mpi.hpp - wandb_mpi.h for C++: a scoped run of every rank
 *  SPDX-License-Identifier: MIT
 *
 *  wandb::mpi_init is wandb_mpi_init (collective over comm) returning a
 *  wandb::Run whose end is wandb_mpi_finish: the rank that hosts the
 *  aggregator waits there for every rank's run. Link libwandb_mpi. Errors:
 *  wandb::Error, thrown on every rank when the collective start failed.
 *  Thread: the thread that called MPI_Init.
 */
#ifndef WANDB_MPI_HPP_INCLUDED
#define WANDB_MPI_HPP_INCLUDED

#include "wandb.hpp"
#include "wandb_mpi.h"

namespace wandb
{

// Starts the run of every rank of comm (wandb_mpi_init); settings may be
// changed by it (rank, world size, group, name, aggregator).
inline Run mpi_init(MPI_Comm comm, Settings &settings)
{
    detail::install_hook();
    wandb_run_t *run = nullptr;
    wandb_err err = wandb_mpi_init(comm, settings.handle(), &run);
    if (err != WANDB_OK)
        throw Error(err, "wandb::mpi_init", wandb_settings_errmsg(settings.handle()));
    detail::set_rank(settings);
    return Run::adopt(run, wandb_mpi_finish);
}

// All settings from the environment.
inline Run mpi_init(MPI_Comm comm)
{
    Settings settings;
    return mpi_init(comm, settings);
}

} // namespace wandb

#endif
