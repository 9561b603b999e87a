//  random.c - random [a-z0-9] identifiers from kernel randomness
//  SPDX-License-Identifier: MIT
#include "common/random.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

// Draws len characters of [a-z0-9] without modulo bias from kernel randomness.
wandb_err wbi_random_id(char *out, size_t len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t filled = 0;
    int fd = -1;
    for (int round = 0; round < 16 && filled < len; round++) {
        uint8_t bytes[64];
        ssize_t got = getrandom(bytes, sizeof(bytes), GRND_NONBLOCK);
        if (got <= 0) {
            if (fd < 0)
                fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
            got = fd >= 0 ? read(fd, bytes, sizeof(bytes)) : -1;
        }
        for (ssize_t i = 0; i < got && filled < len; i++)
            if (bytes[i] < 252) // 252 = 7 * 36: keep the distribution uniform
                out[filled++] = alphabet[bytes[i] % 36];
    }
    if (fd >= 0)
        close(fd);
    out[filled < len ? 0 : len] = '\0';
    return filled == len ? WANDB_OK : WANDB_EIO;
}
