//  log.h - the library's own diagnostics (never stdout)
//  SPDX-License-Identifier: MIT
//
//  Only messages at or above the level from WANDB_LOG_LEVEL
//  (err|warn|notice|info|debug; default warn) are emitted: to the callback
//  installed with wandb_set_logger when there is one (the level filters it
//  too), else to stderr as "wandb[rank N]: message". Thread: any.
#ifndef WBI_LOG_H
#define WBI_LOG_H

#include "wandb.h"

void wbi_log(wandb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Sets the rank shown in the stderr prefix (-1: none).
void wbi_log_set_rank(int rank);
// True when a message at level would be emitted (to skip formatting work).
bool wbi_log_enabled(wandb_log_level level);

#define wbi_err(...) wbi_log(WANDB_LOG_ERR, __VA_ARGS__)
#define wbi_warn(...) wbi_log(WANDB_LOG_WARN, __VA_ARGS__)
#define wbi_info(...) wbi_log(WANDB_LOG_INFO, __VA_ARGS__)
#define wbi_debug(...) wbi_log(WANDB_LOG_DEBUG, __VA_ARGS__)

#endif
