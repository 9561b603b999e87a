//  run.c - the run's lifetime: wandb_init, wandb_finish, wandb_run
//  SPDX-License-Identifier: MIT
//
//  wandb_init resolves the settings, builds the run (core.c), writes HELLO
//  as the first record of the ring, starts an in-process aggregator when no
//  endpoint is given, and starts the I/O thread (io.c). It never waits on the
//  network, except with a resume setting: then it waits, bounded, for the
//  aggregator's decision (resume.c). wandb_finish writes FINISH, waits (bounded) for the FINISHED
//  acknowledgement, stops the thread and the aggregator and frees the run.
#include "logger/run.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/wire.h"
#include "logger/hosted.h"
#include "logger/io.h"
#include "logger/resume.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

// The one-time process state (documented exception to "no globals"):
// init and finish are serialized by s_lock; wandb_run() reads s_active.
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER; // serializes init/finish
static _Atomic(wandb_run_t *) s_active;                    // the active run or NULL
static atomic_uint s_agg_serial;                           // inproc endpoint counter
static wandb_run_t *s_retired;                             // finished runs (under s_lock)
static pthread_once_t s_atexit_once = PTHREAD_ONCE_INIT;   // registers s_at_exit once
static _Atomic pid_t s_active_pid;                         // the process that started s_active

// Reports an init error: logged, and stored in the settings when given.
static wandb_err s_init_fail(wandb_settings_t *settings, wandb_err err, const char *msg)
{
    wbi_err("wandb_init: %s", msg);
    wbi_settings_set_errmsg(settings, msg);
    return err;
}

// The program name: the last part of /proc/self/exe.
static void s_program(char *out, size_t len)
{
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) {
        snprintf(out, len, "unknown");
        return;
    }
    path[n] = '\0';
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n_base = strnlen(base, len - 1);
    memcpy(out, base, n_base);
    out[n_base] = '\0';
}

// The platform as the official client names it ("linux-x86_64"): the
// lower-case system name and the machine, for the config's `_wandb.t`.
static void s_platform(char *out, size_t len)
{
    struct utsname u;
    if (uname(&u) != 0) {
        snprintf(out, len, "unknown");
        return;
    }
    snprintf(out, len, "%s-%s", u.sysname, u.machine);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

// Builds the HELLO JSON text (docs/wire-format.md); NULL when out of memory.
static char *s_hello_json(const wandb_run_t *run)
{
    const wbi_cfg_t *c = &run->cfg;
    char host[256] = "";
    char program[256];
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    s_program(program, sizeof(program));
    char platform[160];
    s_platform(platform, sizeof(platform));
    json_t *config = NULL;
    if (c->config_json) {
        json_error_t jerr;
        config = wbi_jsonx_loadb(c->config_json, strlen(c->config_json), 0, &jerr);
    }
    json_t *obj = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:s, s:s, "
                            "s:i, s:i, s:f, s:I, s:s?, s:s?, s:s, s:i}",
                            "run_id", c->run_id, "project", c->project, "entity", c->entity,
                            "group", c->group, "job_type", c->job_type, "name", c->name, "notes",
                            c->notes, "tags", c->tags, "config", config ? config : json_object(),
                            "host", host, "program", program, "rank", c->rank, "world_size",
                            c->world_size, "start_time", run->start_time, "starting_step",
                            (json_int_t)run->starting_step, "secret", c->secret, "resume",
                            c->resume, "platform", platform, "heartbeat_ms", c->heartbeat_ms);
    char *text = obj ? wbi_jsonx_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

// Starts the in-process aggregator on a fresh inproc endpoint.
static wandb_err s_start_agg(wandb_run_t *run, char *errmsg, size_t errlen)
{
    char bind[64];
    snprintf(bind, sizeof(bind), "inproc://wandb-%ld-%u", (long)getpid(),
             atomic_fetch_add(&s_agg_serial, 1));
    return wbi_hosted_start(&run->agg, &run->cfg, bind, run->zmq_ctx, 1, NULL, errmsg, errlen);
}

// Stops the thread, the aggregator and the context. A run that was never
// handed out is freed; a finished one is retired: its buffers are freed and
// the struct stays on s_retired, so that a stale pointer held by another
// thread reads memory that is still there (calls return WANDB_ECLOSED).
// Caller holds s_lock.
static void s_teardown(wandb_run_t **run_p, bool abort, bool handed_out)
{
    wandb_run_t *run = *run_p;
    wbi_io_stop(&run->io, abort);
    if (run->agg)
        wandb_aggregator_stop(&run->agg, 0);
    if (run->zmq_ctx) {
        zmq_ctx_term(run->zmq_ctx);
        run->zmq_ctx = NULL;
    }
    if (!handed_out) {
        wbi_run_core_destroy(run_p);
        return;
    }
    wbi_run_core_retire(run);
    atomic_store(&run->retired, true);
    run->next_retired = s_retired;
    s_retired = run;
    *run_p = NULL;
}

// The exit handler: a program that returns from main (or calls exit)
// without wandb_finish still finishes its run, with exit code 0, as the
// official client does. A signal that kills the process runs no handler:
// that run ends as crashed.
// A child forked without exec inherits the handler but not the run's
// threads: only the process that started the run finishes it.
static void s_at_exit(void)
{
    if (atomic_load(&s_active_pid) == getpid())
        wandb_shutdown();
}

static void s_register_at_exit(void)
{
    if (atexit(s_at_exit) != 0)
        wbi_warn("wandb_init: cannot register the exit handler: call wandb_finish before exit");
}

// Resolves settings, builds the run and starts its transport.
wandb_err wandb_init(wandb_settings_t *settings, wandb_run_t **run_out)
{
    if (!run_out)
        return WANDB_EINVAL;
    *run_out = NULL;
    char msg[WBI_ERRMSG_BYTES];
    wbi_cfg_t cfg;
    wandb_run_t *run = NULL;
    pthread_mutex_lock(&s_lock);
    wandb_err err = WANDB_OK;
    if (atomic_load(&s_active)) {
        snprintf(msg, sizeof(msg), "a run is already active (id '%.64s'): finish it first",
                 atomic_load(&s_active)->cfg.run_id);
        err = s_init_fail(settings, WANDB_EEXIST, msg);
        goto out;
    }
    err = wbi_settings_resolve(settings, &cfg, msg, sizeof(msg));
    if (err != WANDB_OK) {
        err = s_init_fail(settings, err, msg);
        goto out;
    }
    if (cfg.mode != WBI_MODE_DISABLED &&
        wbi_resume_auto_id(&cfg, wandb_settings_get(settings, "run_id") != NULL) != WANDB_OK) {
        wbi_cfg_release(&cfg);
        err = s_init_fail(settings, WANDB_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg.mode == WBI_MODE_ONLINE && !cfg.aggregator && !cfg.api_key) {
        wbi_cfg_release(&cfg);
        err = s_init_fail(settings, WANDB_EAUTH,
                          "no API key: set WANDB_API_KEY or the api_key setting");
        goto out;
    }
    wbi_log_set_rank(cfg.under_mpi ? cfg.rank : -1);
    err = wbi_run_core_new(&run, &cfg);
    if (err != WANDB_OK) {
        wbi_cfg_release(&cfg);
        err = s_init_fail(settings, err, "out of memory");
        goto out;
    }
    if (!run->disabled) {
        run->zmq_ctx = zmq_ctx_new();
        if (!run->zmq_ctx) {
            snprintf(msg, sizeof(msg), "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
            err = WANDB_EIO;
            goto fail;
        }
        if (!run->cfg.aggregator) {
            err = s_start_agg(run, msg, sizeof(msg));
            if (err != WANDB_OK)
                goto fail;
            // The run's directory is its journal's (the run is alone in it).
            const char *journal = wbi_hosted_journal_dir(run->agg);
            char *dir = *journal ? wbi_strdup(journal) : NULL;
            if (dir) {
                wbi_free(run->dir_abs);
                run->dir_abs = dir;
            }
        }
        char *hello = s_hello_json(run);
        if (!hello) {
            snprintf(msg, sizeof(msg), "out of memory");
            err = WANDB_ENOMEM;
            goto fail;
        }
        err = wbi_run_put_record(run, WBI_REC_HELLO, hello, strlen(hello), 0);
        wbi_free(hello);
        if (err != WANDB_OK) {
            snprintf(msg, sizeof(msg), "the HELLO record does not fit in the ring");
            goto fail;
        }
        const char *endpoint = run->agg ? wandb_aggregator_endpoint(run->agg) : run->cfg.aggregator;
        err = wbi_io_start(&run->io, run, run->zmq_ctx, endpoint, msg, sizeof(msg));
        if (err != WANDB_OK)
            goto fail;
        // With a resume mode the aggregator asks the backend first (resume.c).
        if (run->cfg.resume && (err = wbi_resume_wait(run, msg, sizeof(msg))) != WANDB_OK)
            goto fail;
    }
    pthread_once(&s_atexit_once, s_register_at_exit);
    atomic_store(&s_active_pid, getpid());
    atomic_store(&s_active, run);
    *run_out = run;
    wbi_settings_set_errmsg(settings, "");
    goto out;
fail:
    s_teardown(&run, true, false);
    err = s_init_fail(settings, err, msg);
out:
    pthread_mutex_unlock(&s_lock);
    return err;
}

// Returns the active run.
wandb_run_t *wandb_run(void)
{
    return atomic_load(&s_active);
}

// Sleeps about one millisecond (finish only).
static void s_nap(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

// FINISH, bounded wait for FINISHED, then teardown (see the file banner).
wandb_err wandb_finish(wandb_run_t **run_p, int exit_code)
{
    if (!run_p || !*run_p)
        return WANDB_EINVAL;
    wandb_run_t *run = *run_p;
    *run_p = NULL;
    pthread_mutex_lock(&s_lock);
    if (atomic_load(&run->retired)) {
        pthread_mutex_unlock(&s_lock);
        wbi_warn("wandb_finish: run '%s' is already finished", run->cfg.run_id);
        return WANDB_ECLOSED;
    }
    if (atomic_load(&s_active) == run)
        atomic_store(&s_active, NULL);
    wandb_err err = WANDB_OK;
    if (run->disabled) {
        s_teardown(&run, false, true);
        goto out;
    }
    int64_t deadline = wbi_now_ms() + run->cfg.finish_timeout_ms;
    // Files saved with "end" (and changed "live" ones) go before FINISH.
    // Their errors are logged; the run still finishes.
    (void)wbi_save_flush(run, deadline);
    wbi_resume_forget(&run->cfg); // "auto": the run ended here, nothing to continue
    int64_t left = deadline - wbi_now_ms();
    err = wbi_run_put_finish(run, exit_code, left > 1 ? (int)left : 1);
    wbi_io_wake(run->io);
    uint64_t dropped = wandb_run_dropped(run);
    uint64_t rejected = wandb_run_rejected_steps(run);
    if (dropped || rejected)
        wbi_warn("wandb_finish: run '%s': %llu values dropped (ring full), %llu calls rejected "
                 "(step lower than the current one)",
                 run->cfg.run_id, (unsigned long long)dropped, (unsigned long long)rejected);
    bool acked = false;
    while (err == WANDB_OK && !(acked = wbi_io_finished(run->io)) && wbi_now_ms() < deadline)
        s_nap();
    if (err == WANDB_OK && !acked) {
        err = WANDB_ETIMEDOUT;
        wbi_warn("wandb_finish: run '%s': the aggregator did not acknowledge FINISH within "
                 "%d ms (%s)",
                 run->cfg.run_id, run->cfg.finish_timeout_ms,
                 wbi_io_idle(run->io) ? "everything was handed to ZeroMQ"
                                      : "data was still unsent");
    }
    wbi_io_stop(&run->io, !acked);
    if (run->agg) {
        left = deadline - wbi_now_ms();
        wandb_err aerr = wandb_aggregator_stop(&run->agg, left > 100 ? (int)left : 100);
        if (aerr != WANDB_OK && err == WANDB_OK) {
            err = aerr;
            wbi_warn("wandb_finish: run '%s': the backend did not take everything in time: %s",
                     run->cfg.run_id, wandb_strerror(aerr));
        }
    }
    s_teardown(&run, !acked, true);
out:
    pthread_mutex_unlock(&s_lock);
    return err;
}

// Finishes a run left active, for a clean exit.
void wandb_shutdown(void)
{
    wandb_run_t *run = atomic_load(&s_active);
    if (run)
        wandb_finish(&run, 0);
}

// The seed's deprecated join(): wandb_finish.
wandb_err wandb_join(wandb_run_t **run_p, int exit_code)
{
    return wandb_finish(run_p, exit_code);
}

// Nothing to detach from outside a notebook: the run stays with its process.
wandb_err wandb_detach(wandb_run_t *run)
{
    return run ? WANDB_OK : WANDB_EINVAL;
}
