//  clock.c - the two clocks every component reads
//  SPDX-License-Identifier: MIT
#include "common/clock.h"

#include <time.h>

// Unix seconds from the real-time clock.
double wbi_now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Milliseconds from the monotonic clock.
int64_t wbi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
