//  sysmon.h - system metrics of one node: CPU, memory, network, disk, GPUs
//  SPDX-License-Identifier: MIT
//
//  A sampler without a thread of its own: the I/O thread of the node's
//  local rank 0 calls wbi_sysmon_sample on its timer (io.c) and sends the
//  result as a SYSTEM record (docs/wire-format.md). It reads /proc/stat,
//  /proc/meminfo, /proc/self/status, /proc/net/dev, /proc/diskstats and
//  statvfs("/"); GPUs come from NVML when libnvidia-ml.so.1 can be loaded at
//  run time (dlopen; without it there are no GPU metrics, which is normal).
//  Key names follow the official client's system metrics (docs/job-view.md
//  "System metrics"). Rates and counters are deltas against the previous
//  sample (CPU) or the first one (network, disk). Never fails hard: a file
//  that cannot be read leaves its metrics out.
//  Thread: the owning thread only.
#ifndef WBI_SYSMON_H
#define WBI_SYSMON_H

#include "common/buf.h"
#include "wandb.h"
#include <stdbool.h>
#include <stdint.h>

#define WBI_SYSMON_MAX_CPUS 256 // per-core metrics for at most this many cores
#define WBI_SYSMON_MAX_GPUS 16  // GPUs reported at most

typedef struct wbi_sysmon wbi_sysmon_t;

// Opens a sampler reading proc_root (NULL: "/proc"; tests pass a fixture
// directory) and disk usage of disk_path (NULL: "/"), and takes the first
// readings (the baselines). gpus: try NVML. Returns a new object in *out;
// destroy it with wbi_sysmon_destroy(). WANDB_ENOMEM only.
wandb_err wbi_sysmon_new(wbi_sysmon_t **out, const char *proc_root, const char *disk_path,
                         bool gpus);
// Unloads NVML, frees and sets *self_p to NULL. NULL-safe.
void wbi_sysmon_destroy(wbi_sysmon_t **self_p);
// Appends one sample as a JSON object text ({"system.cpu": 3.5, ...}) to
// out. WANDB_ENOMEM or WANDB_ETOOBIG from the buffer; the buffer is then
// left as it was.
wandb_err wbi_sysmon_sample(wbi_sysmon_t *self, wbi_buf_t *out);
// Number of GPUs NVML reported (0 without NVML).
int wbi_sysmon_gpus(const wbi_sysmon_t *self);

#endif
