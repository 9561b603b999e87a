//  sync.h - wandb-mpi sync: upload what journals hold and the backend has not acknowledged
//  SPDX-License-Identifier: MIT
//
//  Thread: the program's main thread.
#ifndef WBI_CLI_SYNC_H
#define WBI_CLI_SYNC_H

// Runs `wandb-mpi sync`; argv[0] is "sync". Returns the exit status: 0 when
// everything found was acknowledged (or nothing was left), 1 when something
// is still missing or a journal is damaged, 2 on bad usage.
int wbi_cli_sync(int argc, char **argv);

#endif
