//  ui.c - wandb-mpi ui: the dashboard over a data directory
//  SPDX-License-Identifier: MIT
//
//  Starts wandb-mpi-server (the binary next to this one, else on PATH) on
//  the data directory, waits until it listens, prints the dashboard's link
//  (with the key, so the browser gets its cookie) and waits for the server
//  to end; SIGINT, SIGTERM and SIGHUP are passed on to it.
//  Single-threaded.

#include "cli/ui.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_DEFAULT_PORT "8765"
#define S_READY_TRIES 300 // 30 s in 0.1 s steps

static volatile sig_atomic_t s_child; // the server's pid, for the signal handler

// Passes SIGINT / SIGTERM / SIGHUP on to the server, which then stops.
static void s_forward(int sig)
{
    if (s_child > 0)
        kill((pid_t)s_child, sig);
}

// Prints the usage text.
static void s_usage(FILE *out)
{
    fprintf(out, "usage: wandb-mpi ui [--dir D] [--port N] [--host ADDR]\n"
                 "\n"
                 "Serves the dashboard of a wandb-mpi-server data directory (the runs of past\n"
                 "jobs) at http://ADDR:N/ until Ctrl-C.\n"
                 "\n"
                 "  --dir D       data directory (default $WANDB_MPI_DIR, else $HOME/.wandb-mpi)\n"
                 "  --port N      port (default " S_DEFAULT_PORT ", 0: any free one)\n"
                 "  --host ADDR   numeric address to bind (default 127.0.0.1)\n");
}

// True when dir/rel is an executable file (copied into out).
static bool s_try(char *out, size_t len, const char *dir, size_t dlen, const char *rel)
{
    int n = snprintf(out, len, "%.*s/%s", (int)dlen, dir, rel);
    return n > 0 && (size_t)n < len && access(out, X_OK) == 0;
}

// The server binary: next to argv0 as called (bin/ may hold links), next
// to /proc/self/exe, in the build tree's src/server, else on PATH.
static void s_server_path(const char *argv0, char *out, size_t len)
{
    const char *slash = strrchr(argv0, '/');
    if (slash && s_try(out, len, argv0, (size_t)(slash - argv0), "wandb-mpi-server"))
        return;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *s = strrchr(self, '/');
        size_t dlen = s ? (size_t)(s - self) : 0;
        if (s && (s_try(out, len, self, dlen, "wandb-mpi-server") ||
                  s_try(out, len, self, dlen, "../server/wandb-mpi-server")))
            return;
    }
    snprintf(out, len, "wandb-mpi-server");
}

// Reads the first line of path into out; false when empty or missing.
static bool s_read_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && *out;
}

int wbi_cli_ui(const char *argv0, int argc, char **argv)
{
    const char *dir = NULL;
    const char *port = S_DEFAULT_PORT;
    const char *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc || (strcmp(o, "--dir") && strcmp(o, "--port") && strcmp(o, "--host"))) {
            fprintf(stderr, "wandb-mpi ui: unknown option or missing value: '%s'\n", o);
            s_usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(o, "--dir") == 0)
            dir = v;
        else if (strcmp(o, "--port") == 0)
            port = v;
        else
            host = v;
    }
    char dbuf[PATH_MAX];
    if (!dir && getenv("WANDB_MPI_DIR") && *getenv("WANDB_MPI_DIR"))
        dir = getenv("WANDB_MPI_DIR");
    if (!dir && getenv("HOME")) {
        snprintf(dbuf, sizeof dbuf, "%s/.wandb-mpi", getenv("HOME"));
        dir = dbuf;
    }
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "wandb-mpi ui: no data directory '%s': use --dir or set WANDB_MPI_DIR\n",
                dir ? dir : "");
        return 2;
    }
    char server[PATH_MAX + 32];
    s_server_path(argv0, server, sizeof server);
    char ready[PATH_MAX + 64];
    snprintf(ready, sizeof ready, "%s/.ui-ready-%ld", dir, (long)getpid());
    unlink(ready);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "wandb-mpi ui: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execlp(server, server, "--dir", dir, "--port", port, "--host", host, "--ready-file", ready,
               (char *)NULL);
        fprintf(stderr, "wandb-mpi ui: cannot run %s: %s\n", server, strerror(errno));
        _exit(127);
    }
    s_child = (sig_atomic_t)pid;
    struct sigaction sa = {.sa_handler = s_forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    char url[256] = "";
    int status = 0;
    for (int t = 0; t < S_READY_TRIES && !s_read_line(ready, url, sizeof url); t++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "wandb-mpi ui: the server ended at start (port %s in use?)\n", port);
            return 1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
    unlink(ready);
    char keyfile[PATH_MAX + 16];
    char key[512] = "";
    snprintf(keyfile, sizeof keyfile, "%s/api_key", dir);
    if (!*url || !s_read_line(keyfile, key, sizeof key)) {
        fprintf(stderr, "wandb-mpi ui: the server did not start within 30 s\n");
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        return 1;
    }
    printf("wandb-mpi ui: dashboard of %s at %s/\n"
           "wandb-mpi ui: open %s/login?key=%s&next=/ (sets the key cookie); Ctrl-C stops\n",
           dir, url, url, key);
    fflush(stdout);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 0;
}
