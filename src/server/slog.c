//  slog.c - service logging for wandb-mpi-server and the CLI (stderr only)
//  SPDX-License-Identifier: MIT

#include "server/slog.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

// The threshold is the only process-wide state; set once at start-up.
static atomic_int s_level = WANDB_LOG_INFO;

// Sets the lowest level that is written.
void wbi_slog_set_level(wandb_log_level level)
{
    atomic_store(&s_level, (int)level);
}

// Parses a level name as used by --log-level and WANDB_LOG_LEVEL.
bool wbi_slog_parse_level(const char *name, wandb_log_level *out)
{
    static const struct {
        const char *name;      // level name
        wandb_log_level level; // its value
    } levels[] = {{"err", WANDB_LOG_ERR},       {"error", WANDB_LOG_ERR},
                  {"warn", WANDB_LOG_WARN},     {"warning", WANDB_LOG_WARN},
                  {"notice", WANDB_LOG_NOTICE}, {"info", WANDB_LOG_INFO},
                  {"debug", WANDB_LOG_DEBUG}};
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcasecmp(name, levels[i].name) == 0) {
            *out = levels[i].level;
            return true;
        }
    }
    return false;
}

// True when a message at level passes the threshold.
bool wbi_slog_enabled(wandb_log_level level)
{
    return (int)level <= atomic_load(&s_level);
}

// Returns the fixed-width tag for a level.
static const char *s_level_name(wandb_log_level level)
{
    switch (level) {
    case WANDB_LOG_ERR:
        return "ERROR";
    case WANDB_LOG_WARN:
        return "WARN ";
    case WANDB_LOG_NOTICE:
        return "NOTE ";
    case WANDB_LOG_INFO:
        return "INFO ";
    default:
        return "DEBUG";
    }
}

// Formats the message into a bounded line and writes it with one call.
void wbi_slog(wandb_log_level level, const char *component, const char *fmt, ...)
{
    if (!wbi_slog_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000L, s_level_name(level),
            component ? component : "-", msg);
}
