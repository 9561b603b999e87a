//  fuzz.h - the entry point every fuzz target of tests/fuzz defines
//  SPDX-License-Identifier: MIT
//
//  libFuzzer calls LLVMFuzzerTestOneInput once per input (fuzz_<name>);
//  replay_main.c calls it once per corpus file (test_fuzz_<name>). A target
//  returns 0, and abort()s when an invariant of the decoder breaks, so that
//  both the fuzzer and the replay test report it as a crash.
#ifndef WANDB_FUZZ_H
#define WANDB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Aborts with file:line and the broken invariant when cond is false.
#define WBF_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
