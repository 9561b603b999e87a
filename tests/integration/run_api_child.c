//  run_api_child.c - a program that forgets wandb_finish (test_run_api)
//  SPDX-License-Identifier: MIT
//
//  Usage: run_api_child return|exit|kill|fork ROWS. Starts a run from the
//  environment (WANDB_BASE_URL, WANDB_API_KEY, WANDB_PROJECT, WANDB_RUN_ID),
//  logs ROWS rows {"i": k} and then, without wandb_finish: returns from
//  main (return), calls exit(0) (exit), or is killed by SIGKILL (kill).
//  fork: first forks a child that calls exit(0) at once (it inherits the
//  exit handler, not the run: it must not try to finish it; exit code 5
//  when the child took longer than 5 s), then returns from main.
//  Linked against the shared libwandb, as a user program is.
#include "wandb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    wandb_run_t *run = NULL;
    if (wandb_init(NULL, &run) != WANDB_OK)
        return 3;
    long rows = strtol(argv[2], NULL, 10);
    for (long k = 0; k < rows; k++)
        if (wandb_log(run, WANDB_INT("i", k)) != WANDB_OK)
            return 4;
    if (strcmp(argv[1], "exit") == 0)
        exit(0);
    if (strcmp(argv[1], "kill") == 0)
        raise(SIGKILL);
    if (strcmp(argv[1], "fork") == 0) {
        time_t t0 = time(NULL);
        pid_t pid = fork();
        if (pid == 0)
            exit(0);
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
            return 6;
        if (time(NULL) - t0 > 5)
            return 5;
    }
    return 0; // no wandb_finish: the exit handler finishes the run
}
