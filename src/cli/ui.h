//  ui.h - wandb-mpi ui: serves the dashboard of a data directory
//  SPDX-License-Identifier: MIT
//  Thread: the main thread of wandb-mpi.
#ifndef WBI_CLI_UI_H
#define WBI_CLI_UI_H

// wandb-mpi ui [--dir D] [--port N] [--host ADDR]; argv[0] is "ui", argv0
// the path wandb-mpi was called by. Returns the exit code.
int wbi_cli_ui(const char *argv0, int argc, char **argv);

#endif
