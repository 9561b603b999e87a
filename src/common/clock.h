//  clock.h - the two clocks every component reads
//  SPDX-License-Identifier: MIT
//
//  Thread: any (no state).
#ifndef WBI_CLOCK_H
#define WBI_CLOCK_H

#include <stdint.h>

// Unix time now, in seconds (CLOCK_REALTIME): timestamps that leave the process.
double wbi_now_unix(void);
// Monotonic milliseconds (CLOCK_MONOTONIC): deadlines and intervals.
int64_t wbi_now_ms(void);

#endif
