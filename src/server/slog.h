//  slog.h - service logging for wandb-mpi-server and the CLI (stderr only)
//  SPDX-License-Identifier: MIT
//
//  One line per event: "2026-01-01T00:00:00.123Z INFO  http: message".
//  Services may log on their own (STYLE C6); the rank library never uses this.
//  Thread: any (each line is written with one fprintf call).
#ifndef WBI_SLOG_H
#define WBI_SLOG_H

#include "wandb.h"

// Sets the lowest level that is written (default WANDB_LOG_INFO).
void wbi_slog_set_level(wandb_log_level level);
// Parses "err|warn|notice|info|debug"; returns false on an unknown name.
bool wbi_slog_parse_level(const char *name, wandb_log_level *out);
// True when a message at level would be written.
bool wbi_slog_enabled(wandb_log_level level);
// Writes one line to stderr with a UTC timestamp, the level and component.
void wbi_slog(wandb_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
