//  main.c - wandb-mpi-server: command line, API key, readiness, signals
//  SPDX-License-Identifier: MIT
//
//  wandb-mpi-server --dir DIR [--host 127.0.0.1] [--port N] [--api-key KEY]
//                   [--entity NAME] [--ready-file F] [--record-requests]
//                   [--heartbeat-timeout-s N] [--settle-on-exit] [--log-level LEVEL]
//                   [--max-connections N] [--idle-timeout-s N] [--keepalive-timeout-s N]
//                   [--threads N] [--sync full|normal]
//  Prints one line "wandb-mpi-server listening on http://HOST:PORT" to stdout
//  once bound; runs until SIGINT or SIGTERM. With --settle-on-exit, runs still
//  running at that point are marked crashed (a server that lives for one job).

#include "server/server.h"
#include "server/slog.h"
#include "server/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY_LEN 40 // random characters after "local-"

typedef struct {
    const char *dir;              // --dir
    const char *host;             // --host
    long port;                    // --port
    const char *api_key;          // --api-key
    const char *entity;           // --entity
    const char *ready_file;       // --ready-file
    bool record_requests;         // --record-requests
    bool settle_on_exit;          // --settle-on-exit
    double heartbeat_timeout_s;   // --heartbeat-timeout-s
    unsigned max_connections;     // --max-connections
    unsigned idle_timeout_s;      // --idle-timeout-s
    unsigned keepalive_timeout_s; // --keepalive-timeout-s
    unsigned threads;             // --threads
    bool sync_normal;             // --sync normal
} s_args_t;

// Prints the usage text.
static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: wandb-mpi-server --dir DIR [options]\n"
            "\n"
            "A local W&B-protocol backend (GraphQL + file_stream + uploads) on SQLite.\n"
            "\n"
            "  --dir DIR                 data directory (wandb.db, files/, api_key)\n"
            "  --host ADDR               numeric address to bind (default 127.0.0.1)\n"
            "  --port N                  TCP port, 0 = ephemeral (default 0)\n"
            "  --api-key KEY             API key clients must send (default: DIR/api_key,\n"
            "                            generated at first start)\n"
            "  --entity NAME             default entity (default local)\n"
            "  --ready-file F            write the base URL to F once listening\n"
            "  --record-requests         append every request to DIR/requests.jsonl\n"
            "  --heartbeat-timeout-s N   silent running runs become crashed (default 300)\n"
            "  --settle-on-exit          on SIGTERM/SIGINT, runs still running become crashed\n"
            "  --log-level LEVEL         err|warn|notice|info|debug (default info)\n"
            "  --max-connections N       open connections at most (default 8192)\n"
            "  --idle-timeout-s N        close a connection idle this long before it made an\n"
            "                            authorized request (default 30)\n"
            "  --keepalive-timeout-s N   ... and after one (default 3600)\n"
            "  --threads N               worker threads for requests (default 4)\n"
            "  --sync full|normal        SQLite synchronous mode (default full: an answered\n"
            "                            request survives a power loss)\n"
            "  --help                    this text\n");
}

// Parses a number argument, rejecting trailing garbage.
static bool s_number(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

// The field of args that the whole-number option a sets, or NULL.
static unsigned *s_count_option(s_args_t *args, const char *a)
{
    if (strcmp(a, "--max-connections") == 0)
        return &args->max_connections;
    if (strcmp(a, "--idle-timeout-s") == 0)
        return &args->idle_timeout_s;
    if (strcmp(a, "--keepalive-timeout-s") == 0)
        return &args->keepalive_timeout_s;
    if (strcmp(a, "--threads") == 0)
        return &args->threads;
    return NULL;
}

// Parses argv into args; returns 0 to run, 1 on error, 2 after --help.
static int s_parse(int argc, char **argv, s_args_t *args)
{
    args->host = "127.0.0.1";
    args->heartbeat_timeout_s = 300;
    // The environment sets the default level; --log-level (below) wins.
    const char *env_level = getenv("WANDB_LOG_LEVEL");
    wandb_log_level env_parsed;
    if (env_level && wbi_slog_parse_level(env_level, &env_parsed))
        wbi_slog_set_level(env_parsed);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double num = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 2;
        } else if (strcmp(a, "--record-requests") == 0) {
            args->record_requests = true;
            continue;
        } else if (strcmp(a, "--settle-on-exit") == 0) {
            args->settle_on_exit = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "wandb-mpi-server: option '%s' needs a value (see --help)\n", a);
            return 1;
        }
        i++;
        if (strcmp(a, "--dir") == 0) {
            args->dir = v;
        } else if (strcmp(a, "--host") == 0) {
            args->host = v;
        } else if (strcmp(a, "--port") == 0) {
            if (!s_number(v, 0, 65535, &num)) {
                fprintf(stderr, "wandb-mpi-server: invalid port '%s'\n", v);
                return 1;
            }
            args->port = (long)num;
        } else if (strcmp(a, "--api-key") == 0) {
            args->api_key = v;
        } else if (strcmp(a, "--entity") == 0) {
            args->entity = v;
        } else if (strcmp(a, "--ready-file") == 0) {
            args->ready_file = v;
        } else if (strcmp(a, "--heartbeat-timeout-s") == 0) {
            if (!s_number(v, 0.1, 1e7, &num)) {
                fprintf(stderr, "wandb-mpi-server: invalid heartbeat timeout '%s'\n", v);
                return 1;
            }
            args->heartbeat_timeout_s = num;
        } else if (s_count_option(args, a)) {
            bool threads = strcmp(a, "--threads") == 0;
            if (!s_number(v, 1, threads ? 64 : 1e6, &num) || num != (double)(unsigned)num) {
                fprintf(stderr, "wandb-mpi-server: invalid value '%s' for %s\n", v, a);
                return 1;
            }
            *s_count_option(args, a) = (unsigned)num;
        } else if (strcmp(a, "--sync") == 0) {
            if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0) {
                fprintf(stderr, "wandb-mpi-server: invalid --sync '%s' (full or normal)\n", v);
                return 1;
            }
            args->sync_normal = strcmp(v, "normal") == 0;
        } else if (strcmp(a, "--log-level") == 0) {
            wandb_log_level level;
            if (!wbi_slog_parse_level(v, &level)) {
                fprintf(stderr, "wandb-mpi-server: invalid log level '%s'\n", v);
                return 1;
            }
            wbi_slog_set_level(level);
        } else {
            fprintf(stderr, "wandb-mpi-server: unknown option '%s' (see --help)\n", a);
            return 1;
        }
    }
    if (!args->dir) {
        fprintf(stderr, "wandb-mpi-server: --dir is required (see --help)\n");
        return 1;
    }
    return 0;
}

// Writes text to path atomically (temp file + rename) with the given mode.
static bool s_write_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    ok = (fsync(fd) == 0) && ok;
    ok = (close(fd) == 0) && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}

// Reads the key (first line) of path into key. Returns 0, or an errno value:
// ENOENT when there is no file, EINVAL when its first line is empty.
static int s_read_key(const char *path, char *key, size_t keylen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno;
    errno = 0;
    bool ok = fgets(key, (int)keylen, f) != NULL;
    int err = ok ? 0 : (ferror(f) && errno ? errno : EINVAL);
    fclose(f);
    if (!ok)
        return err;
    key[strcspn(key, "\r\n")] = '\0';
    return *key ? 0 : EINVAL;
}

// Publishes a new key at path without replacing one that is there: the key is
// written to a private temp file, then hard-linked to path. link() fails with
// EEXIST when another server published first; true with *raced set then.
static bool s_publish_key(const char *path, const char *key, bool *raced)
{
    char suffix[9];
    char tmp[4200];
    if (wbi_random_id(suffix, 8) != WANDB_OK)
        return false;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%s", path, (long)getpid(), suffix);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    char line[300];
    int len = snprintf(line, sizeof line, "%s\n", key);
    bool ok = len > 0 && write(fd, line, (size_t)len) == (ssize_t)len;
    ok = (fsync(fd) == 0) && ok;
    ok = (close(fd) == 0) && ok;
    int err = 0;
    if (ok && link(tmp, path) != 0) {
        err = errno;
        *raced = err == EEXIST;
        ok = *raced;
    }
    unlink(tmp);
    errno = err;
    return ok;
}

// Reads DIR/api_key, or creates it ("local-" + 40 random [a-z0-9], 0600)
// when it does not exist. Any other failure to read it is an error: a new key
// would lock out every client that has the old one. Two servers starting at
// once on a new directory agree on one key (s_publish_key).
static bool s_load_key(const char *dir, char *key, size_t keylen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/api_key", dir);
    int err = s_read_key(path, key, keylen);
    if (err == 0)
        return true;
    if (err != ENOENT) {
        wbi_slog(WANDB_LOG_ERR, "main",
                 "cannot read the API key from '%s': %s (fix or remove the file, or pass"
                 " --api-key)",
                 path, err == EINVAL ? "the first line is empty" : strerror(err));
        return false;
    }
    char secret[S_KEY_LEN + 1];
    if (wbi_random_id(secret, S_KEY_LEN) != WANDB_OK) {
        wbi_slog(WANDB_LOG_ERR, "main", "cannot generate an API key: no kernel randomness");
        return false;
    }
    snprintf(key, keylen, "local-%s", secret);
    bool raced = false;
    if (!s_publish_key(path, key, &raced)) {
        wbi_slog(WANDB_LOG_ERR, "main", "cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    if (!raced) {
        wbi_slog(WANDB_LOG_NOTICE, "main", "generated a new API key in '%s'", path);
        return true;
    }
    // Another server published its key first: use that one.
    err = s_read_key(path, key, keylen);
    if (err != 0) {
        wbi_slog(WANDB_LOG_ERR, "main", "cannot read the API key from '%s': %s", path,
                 err == EINVAL ? "the first line is empty" : strerror(err));
        return false;
    }
    return true;
}

// Starts the server, announces it, waits for SIGINT/SIGTERM, stops it.
int main(int argc, char **argv)
{
    s_args_t args = {0};
    int rc = s_parse(argc, argv, &args);
    if (rc != 0)
        return rc == 2 ? 0 : 2;

    // Everything the server creates (data directory, database, request log,
    // uploads) is private to its user: the data holds the upload token.
    umask(077);
    if (wbi_mkdirs(args.dir) != WANDB_OK) {
        wbi_slog(WANDB_LOG_ERR, "main", "cannot create data directory '%s': %s", args.dir,
                 strerror(errno));
        return 1;
    }
    char key[256];
    if (args.api_key) {
        snprintf(key, sizeof key, "%s", args.api_key);
    } else if (!s_load_key(args.dir, key, sizeof key)) {
        return 1;
    }

    // Block the stop signals in every thread; the main thread takes them with
    // sigwait. SIGPIPE is ignored (a client may vanish mid-answer).
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    wbi_server_opts_t opts = {.dir = args.dir,
                              .host = args.host,
                              .port = (uint16_t)args.port,
                              .api_key = key,
                              .entity = args.entity,
                              .record_requests = args.record_requests,
                              .heartbeat_timeout_s = args.heartbeat_timeout_s,
                              .settle_on_exit = args.settle_on_exit,
                              .max_connections = args.max_connections,
                              .idle_timeout_s = args.idle_timeout_s,
                              .keepalive_timeout_s = args.keepalive_timeout_s,
                              .threads = args.threads,
                              .sync_normal = args.sync_normal};
    wbi_server_t *server = NULL;
    char err[512];
    if (wbi_server_start(&server, &opts, err, sizeof err) != WANDB_OK) {
        wbi_slog(WANDB_LOG_ERR, "main", "%s", err);
        return 1;
    }
    if (args.ready_file) {
        char line[160];
        snprintf(line, sizeof line, "%s\n", wbi_server_url(server));
        if (!s_write_atomic(args.ready_file, line, 0644)) {
            wbi_slog(WANDB_LOG_ERR, "main", "cannot write ready file '%s': %s", args.ready_file,
                     strerror(errno));
            wbi_server_destroy(&server);
            return 1;
        }
    }
    printf("wandb-mpi-server listening on %s\n", wbi_server_url(server));
    fflush(stdout);
    wbi_slog(WANDB_LOG_INFO, "main",
             "serving '%s' on %s (entity '%s', heartbeat timeout %.0f s%s%s)", args.dir,
             wbi_server_url(server), args.entity ? args.entity : "local", args.heartbeat_timeout_s,
             args.record_requests ? ", recording requests" : "",
             args.settle_on_exit ? ", settling runs at exit" : "");

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    wbi_slog(WANDB_LOG_INFO, "main", "signal %d: stopping", sig);
    wbi_server_destroy(&server);
    wbi_slog(WANDB_LOG_INFO, "main", "stopped");
    return 0;
}
