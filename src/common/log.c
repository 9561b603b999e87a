//  log.c - the library's own diagnostics: a callback, or stderr
//  SPDX-License-Identifier: MIT
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

// Logger state: set before wandb_init (documented as not thread-safe);
// the level is read lazily from WANDB_LOG_LEVEL once.
static wandb_logger_fn s_fn;    // user callback, or NULL for stderr
static void *s_arg;             // its argument
static atomic_int s_level = -1; // max level emitted; -1 until read
static atomic_int s_rank = -1;  // rank in the stderr prefix

// Parses WANDB_LOG_LEVEL (a name or a number); WARN when unset or unknown.
static int s_level_from_env(void)
{
    const char *v = getenv("WANDB_LOG_LEVEL");
    if (!v || !*v)
        return WANDB_LOG_WARN;
    static const struct {
        const char *name;
        int level;
    } names[] = {{"err", WANDB_LOG_ERR},       {"error", WANDB_LOG_ERR},
                 {"warn", WANDB_LOG_WARN},     {"warning", WANDB_LOG_WARN},
                 {"notice", WANDB_LOG_NOTICE}, {"info", WANDB_LOG_INFO},
                 {"debug", WANDB_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(v, names[i].name) == 0)
            return names[i].level;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end && *end == '\0' && n >= WANDB_LOG_ERR && n <= WANDB_LOG_DEBUG)
        return (int)n;
    return WANDB_LOG_WARN;
}

void wandb_set_logger(wandb_logger_fn fn, void *arg)
{
    s_fn = fn;
    s_arg = arg;
}

void wbi_log_set_rank(int rank)
{
    atomic_store(&s_rank, rank);
}

bool wbi_log_enabled(wandb_log_level level)
{
    int max = atomic_load_explicit(&s_level, memory_order_relaxed);
    if (max < 0) {
        max = s_level_from_env();
        atomic_store(&s_level, max);
    }
    return (int)level <= max;
}

void wbi_log(wandb_log_level level, const char *fmt, ...)
{
    if (!wbi_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s_fn) {
        s_fn(s_arg, level, msg);
        return;
    }
    int rank = atomic_load_explicit(&s_rank, memory_order_relaxed);
    if (rank >= 0)
        fprintf(stderr, "wandb[rank %d]: %s\n", rank, msg);
    else
        fprintf(stderr, "wandb: %s\n", msg);
}
