//  replay_main.c - runs a fuzz target over files, without libFuzzer
//  SPDX-License-Identifier: MIT
//
//  Linked with tests/fuzz/fuzz_<name>.c into the unit test test_fuzz_<name>.
//  Without arguments it replays every file of the seed corpus
//  $WANDB_TEST_SRC_DIR/tests/data/fuzz/<name>/ (WBF_CORPUS), in name order;
//  with arguments, the files and directories given (a crash input to debug).
//  Each input is copied into a buffer of exactly its size, so that a read
//  past the end is caught by ASan as it would be under libFuzzer.

#include "fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef WBF_CORPUS
#error "WBF_CORPUS must name the seed corpus directory (tests/fuzz.cmake)"
#endif

// Reads the whole file at path and runs the target on it; false when it cannot be read.
static bool s_replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fprintf(stderr, "replay: cannot stat '%s': %s\n", path, strerror(errno));
        fclose(f);
        return false;
    }
    size_t size = (size_t)st.st_size;
    // malloc(0) may return NULL: keep one byte allocated, pass size 0.
    uint8_t *data = malloc(size ? size : 1);
    bool ok = data && fread(data, 1, size, f) == size;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "replay: cannot read '%s'\n", path);
        free(data);
        return false;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return true;
}

// Keeps regular entries (no "." files) of a corpus directory.
static int s_visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

// Replays every file of dir in name order and adds their number to *count.
static bool s_replay_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, s_visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list '%s': %s\n", dir, strerror(errno));
        return false;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (ok && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            ok = s_replay_file(path);
            *count += ok;
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

// Replays one path, a file or a directory of files.
static bool s_replay(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat '%s': %s\n", path, strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode))
        return s_replay_dir(path, count);
    *count += 1;
    return s_replay_file(path);
}

// Replays the arguments, or the seed corpus; fails when nothing was replayed.
int main(int argc, char **argv)
{
    size_t count = 0;
    bool ok = true;
    if (argc > 1) {
        for (int i = 1; i < argc && ok; i++)
            ok = s_replay(argv[i], &count);
    } else {
        const char *src = getenv("WANDB_TEST_SRC_DIR");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/data/fuzz/%s", src ? src : ".", WBF_CORPUS);
        ok = s_replay(dir, &count);
    }
    printf("replayed %zu input(s) without a crash\n", count);
    return ok && count > 0 ? 0 : 1;
}
