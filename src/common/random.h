//  random.h - random [a-z0-9] identifiers from kernel randomness
//  SPDX-License-Identifier: MIT
//
//  Run ids (logger), API keys, upload tokens and temp-file suffixes (server).
//  Thread: any (no state).
#ifndef WBI_RANDOM_H
#define WBI_RANDOM_H

#include "wandb.h"
#include <stddef.h>

// Fills out[0..len) with random [a-z0-9] from the kernel (getrandom, then
// /dev/urandom) and NUL-terminates it at out[len]. WANDB_EIO when neither works.
wandb_err wbi_random_id(char *out, size_t len);

#endif
