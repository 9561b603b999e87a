//  err.c - the text of every wandb_err
//  SPDX-License-Identifier: MIT
#include "wandb.h"

// Returns a static description of err; unknown codes get a generic text.
const char *wandb_strerror(wandb_err err)
{
    switch (err) {
    case WANDB_OK:
        return "success";
    case WANDB_EINVAL:
        return "invalid argument";
    case WANDB_ENOMEM:
        return "out of memory";
    case WANDB_ETIMEDOUT:
        return "timed out";
    case WANDB_ECLOSED:
        return "closed";
    case WANDB_EPROTO:
        return "protocol error";
    case WANDB_EIO:
        return "input/output error";
    case WANDB_EBACKEND:
        return "backend error";
    case WANDB_ENOTSUP:
        return "not supported";
    case WANDB_EEXIST:
        return "already exists";
    case WANDB_ESTEP:
        return "step lower than the current step";
    case WANDB_EFULL:
        return "buffer full, data dropped";
    case WANDB_ETOOBIG:
        return "over the size limit";
    case WANDB_EAUTH:
        return "missing or wrong API key";
    case WANDB_ENOTFOUND:
        return "not found";
    }
    return "unknown error";
}
