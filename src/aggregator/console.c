//  console.c - the ranks' console output, tailed from mpirun's output files
//  SPDX-License-Identifier: MIT
//
//  Each file remembers the offset of its first byte not handed out yet.
//  A poll reads from there (at most WBI_CONSOLE_READ_MAX bytes), hands out
//  the whole lines and moves the offset past them; the unfinished last line
//  is read again at the next poll. A line the core cannot place yet (no run
//  of that rank) stops its file until a later poll, so nothing is lost and
//  nothing is held in memory but the offset.
#include "aggregator/console.h"
#include "common/alloc.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_SCAN_MS 500 // new files are looked for this often

typedef struct {
    char *path; // DIR/<job>/rank.<N>/stdout or stderr
    int rank;   // N
    bool err;   // stderr
    off_t off;  // first byte not handed out
} s_file_t;

struct wbi_console {
    char *dir;                 // the --output-filename directory
    s_file_t *files;           // files being tailed
    size_t nfiles;             // entries used
    size_t cap;                // entries allocated
    char *buf;                 // read buffer (WBI_CONSOLE_READ_MAX bytes)
    int64_t last_scan_ms;      // when the directory was last scanned
    bool scanned;              // last_scan_ms is valid
    int64_t last_read_ms;      // when bytes were last handed out
    bool warned_full;          // "too many files" was logged
    wbi_console_stats_t stats; // counters
};

wandb_err wbi_console_new(wbi_console_t **out, const char *dir)
{
    *out = NULL;
    if (!dir || !*dir)
        return WANDB_EINVAL;
    wbi_console_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    self->dir = wbi_strdup(dir);
    self->buf = wbi_malloc(WBI_CONSOLE_READ_MAX);
    if (!self->dir || !self->buf) {
        wbi_console_destroy(&self);
        return WANDB_ENOMEM;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    self->last_read_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    *out = self;
    return WANDB_OK;
}

void wbi_console_destroy(wbi_console_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wbi_console_t *self = *self_p;
    for (size_t i = 0; i < self->nfiles; i++)
        wbi_free(self->files[i].path);
    wbi_free(self->files);
    wbi_free(self->buf);
    wbi_free(self->dir);
    wbi_free(self);
    *self_p = NULL;
}

// True when name is "rank.<N>"; *rank gets N.
static bool s_rank_dir(const char *name, int *rank)
{
    if (strncmp(name, "rank.", 5) != 0 || !name[5])
        return false;
    char *end = NULL;
    errno = 0;
    long r = strtol(name + 5, &end, 10);
    if (errno || *end || r < 0 || r > INT_MAX - 1)
        return false;
    *rank = (int)r;
    return true;
}

// Starts tailing path unless it is known already.
static void s_add(wbi_console_t *self, const char *path, int rank, bool err)
{
    for (size_t i = 0; i < self->nfiles; i++)
        if (strcmp(self->files[i].path, path) == 0)
            return;
    if (self->nfiles >= WBI_CONSOLE_FILES) {
        self->stats.dropped++;
        if (!self->warned_full)
            wbi_warn("console: more than %d output files under '%s'; later ones are not "
                     "captured",
                     WBI_CONSOLE_FILES, self->dir);
        self->warned_full = true;
        return;
    }
    if (self->nfiles == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_file_t *f = wbi_realloc(self->files, cap * sizeof *f);
        if (!f)
            return;
        self->files = f;
        self->cap = cap;
    }
    char *copy = wbi_strdup(path);
    if (!copy)
        return;
    self->files[self->nfiles++] = (s_file_t){.path = copy, .rank = rank, .err = err};
    self->stats.files = self->nfiles;
}

// Finds DIR/<job>/rank.<N>/{stdout,stderr}.
static void s_scan(wbi_console_t *self)
{
    DIR *top = opendir(self->dir);
    if (!top)
        return; // mpirun has not created it yet
    struct dirent *job;
    while ((job = readdir(top))) {
        if (job->d_name[0] == '.')
            continue;
        char jpath[PATH_MAX];
        snprintf(jpath, sizeof jpath, "%s/%s", self->dir, job->d_name);
        DIR *jd = opendir(jpath);
        if (!jd)
            continue;
        struct dirent *rd;
        while ((rd = readdir(jd))) {
            int rank;
            if (!s_rank_dir(rd->d_name, &rank))
                continue;
            static const char *const names[] = {"stdout", "stderr"};
            for (int k = 0; k < 2; k++) {
                char path[PATH_MAX];
                int n = snprintf(path, sizeof path, "%s/%s/%s", jpath, rd->d_name, names[k]);
                if (n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0)
                    s_add(self, path, rank, k == 1);
            }
        }
        closedir(jd);
    }
    closedir(top);
}

// Hands one line to the core: carriage returns keep only the text after the
// last one (what a terminal shows). False when the core cannot place it yet.
static bool s_line(wbi_console_t *self, wbi_agg_core_t *core, const s_file_t *f, const char *s,
                   size_t len, double wall)
{
    while (len > 0 && s[len - 1] == '\r')
        len--;
    for (size_t i = len; i-- > 0;) {
        if (s[i] == '\r') {
            s += i + 1;
            len -= i + 1;
            break;
        }
    }
    if (!wbi_agg_core_console(core, f->rank, f->err, s, len, wall))
        return false;
    self->stats.lines++;
    return true;
}

// Reads what was appended to one file and hands out its whole lines; the
// offset moves past what was handed out.
static void s_read(wbi_console_t *self, wbi_agg_core_t *core, s_file_t *f, double wall, bool final)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t got = pread(fd, self->buf, WBI_CONSOLE_READ_MAX, f->off);
    close(fd);
    if (got <= 0)
        return;
    size_t n = (size_t)got, start = 0;
    bool stopped = false;
    for (size_t i = 0; i < n && !stopped; i++) {
        bool nl = self->buf[i] == '\n';
        if (!nl && i - start < WBI_CONSOLE_LINE_MAX)
            continue; // a line longer than the cap goes out in pieces
        if (s_line(self, core, f, self->buf + start, i - start, wall))
            start = nl ? i + 1 : i;
        else
            stopped = true;
    }
    if (final && !stopped && start < n && n < WBI_CONSOLE_READ_MAX &&
        s_line(self, core, f, self->buf + start, n - start, wall))
        start = n; // the last line had no newline
    f->off += (off_t)start;
}

void wbi_console_poll(wbi_console_t *self, wbi_agg_core_t *core, int64_t mono_ms, double wall,
                      bool final)
{
    if (!self->scanned || final || mono_ms - self->last_scan_ms >= S_SCAN_MS) {
        s_scan(self);
        self->scanned = true;
        self->last_scan_ms = mono_ms;
    }
    for (size_t i = 0; i < self->nfiles; i++) {
        // One read per poll, or until the file is read up when it is the end.
        for (int turns = 0; turns < (final ? 64 : 1); turns++) {
            off_t before = self->files[i].off;
            s_read(self, core, &self->files[i], wall, final);
            if (self->files[i].off == before)
                break;
            self->stats.bytes += (uint64_t)(self->files[i].off - before);
            self->last_read_ms = mono_ms;
        }
    }
}

int64_t wbi_console_last_read_ms(const wbi_console_t *self)
{
    return self->last_read_ms;
}

void wbi_console_get_stats(const wbi_console_t *self, wbi_console_stats_t *out)
{
    *out = self->stats;
}
