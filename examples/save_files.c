//  save_files.c - the seed's Run.save examples and a restore, in C
//  SPDX-License-Identifier: MIT
//
//  Usage: save_files DIR
//  Makes a small tree under DIR, changes into it and saves it the ways the
//  docstring of the official Run.save shows, then restores one file into
//  DIR/restored. Backend and key come from WANDB_BASE_URL and
//  WANDB_API_KEY (a local wandb-mpi-server works). Prints the run's path
//  and the restored file's path; exits 1 on any error.
#include "wandb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Writes a small file at rel, creating its directories.
static int s_put(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s", rel);
    for (char *p = path; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", rel);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: save_files DIR (an existing directory)\n");
        return 2;
    }
    const char *tree[] = {"these/are/myfiles/a.txt", "these/are/myfiles/b.txt",
                          "files/x/saveme.txt", "files/y/saveme.txt",
                          "User/username/Documents/run123/r.txt"};
    for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++)
        if (s_put(tree[i]) != 0)
            return 1;
    char abs_glob[1024];
    char users[1024];
    char cwd[900];
    if (!getcwd(cwd, sizeof cwd))
        return 1;
    snprintf(abs_glob, sizeof abs_glob, "%s/User/username/Documents/run123/*.txt", cwd);
    snprintf(users, sizeof users, "%s/User", cwd);

    wandb_settings_t *s = NULL;
    wandb_run_t *run = NULL;
    if (wandb_settings_new(&s) != WANDB_OK ||
        wandb_settings_set(s, "project", "save-examples") != WANDB_OK ||
        wandb_init(s, &run) != WANDB_OK)
        return 1;
    int bad = 0;
    // => files in a "these/are/myfiles/" folder in the run.
    bad |= wandb_save(run, "these/are/myfiles/*", NULL, WANDB_SAVE_LIVE) != WANDB_OK;
    // => files in an "are/myfiles/" folder in the run.
    bad |= wandb_save(run, "these/are/myfiles/*", "these", WANDB_SAVE_LIVE) != WANDB_OK;
    // => files in a "run123/" folder in the run (one directory level kept).
    bad |= wandb_save(run, abs_glob, NULL, WANDB_SAVE_NOW) != WANDB_OK;
    // => files in a "username/Documents/run123/" folder in the run.
    bad |= wandb_save(run, abs_glob, users, WANDB_SAVE_NOW) != WANDB_OK;
    // => each "saveme.txt" in its subdirectory of "files/".
    bad |= wandb_save(run, "files/*/saveme.txt", NULL, WANDB_SAVE_END) != WANDB_OK;
    char run_path[256];
    snprintf(run_path, sizeof run_path, "%s", wandb_run_path(run));
    bad |= wandb_finish(&run, 0) != WANDB_OK;

    // A later run downloads one of them again.
    char restored[1024];
    char root[1024];
    snprintf(root, sizeof root, "%s/restored", cwd);
    if (wandb_init(s, &run) != WANDB_OK)
        return 1;
    bad |= wandb_restore(run, "are/myfiles/a.txt", run_path, false, root, restored,
                         sizeof restored) != WANDB_OK;
    bad |= wandb_finish(&run, 0) != WANDB_OK;
    wandb_settings_destroy(&s);
    wandb_shutdown();
    printf("run %s\nrestored %s\n", run_path, bad ? "(failed)" : restored);
    return bad ? 1 : 0;
}
