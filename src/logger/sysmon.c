//  sysmon.c - system metrics of one node: CPU, memory, network, disk, GPUs
//  SPDX-License-Identifier: MIT
//
//  Every reader parses one /proc file with fixed, bounded buffers and fills
//  its part of a reading; a file that is missing or malformed leaves its
//  metrics out of the sample. NVML is loaded with dlopen and only through
//  the few entry points below (declared here: no NVML header is needed).
#include "logger/sysmon.h"
#include "common/alloc.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#define S_LINE 4096 // longest /proc line read whole (longer ones are cut)
#define S_MB (1024.0 * 1024.0)

// CPU jiffies: busy and total, for the whole node and per core.
typedef struct {
    uint64_t busy;  // user + nice + system + irq + softirq + steal
    uint64_t total; // busy + idle + iowait
} s_cpu_t;

// NVML as far as it is used (types from the NVML API: opaque device handle,
// utilization in percent, memory in bytes, temperature in °C, power in mW).
typedef struct {
    unsigned int gpu;    // percent of time a kernel ran
    unsigned int memory; // percent of time memory was read or written
} s_nvml_util_t;
typedef struct {
    unsigned long long total; // bytes
    unsigned long long free;  // bytes
    unsigned long long used;  // bytes
} s_nvml_mem_t;
typedef int (*s_nvml_init_fn)(void);
typedef int (*s_nvml_count_fn)(unsigned int *);
typedef int (*s_nvml_handle_fn)(unsigned int, void **);
typedef int (*s_nvml_util_fn)(void *, s_nvml_util_t *);
typedef int (*s_nvml_mem_fn)(void *, s_nvml_mem_t *);
typedef int (*s_nvml_temp_fn)(void *, int, unsigned int *);
typedef int (*s_nvml_power_fn)(void *, unsigned int *);

typedef struct {
    void *lib;                      // dlopen handle, NULL: no NVML
    s_nvml_init_fn shutdown;        // nvmlShutdown
    s_nvml_util_fn util;            // nvmlDeviceGetUtilizationRates
    s_nvml_mem_fn mem;              // nvmlDeviceGetMemoryInfo
    s_nvml_temp_fn temp;            // nvmlDeviceGetTemperature (sensor 0: the GPU)
    s_nvml_power_fn power;          // nvmlDeviceGetPowerUsage
    s_nvml_power_fn power_limit;    // nvmlDeviceGetEnforcedPowerLimit (may be NULL)
    void *dev[WBI_SYSMON_MAX_GPUS]; // device handles
    int n;                          // devices
} s_nvml_t;

struct wbi_sysmon {
    char root[256];                    // /proc or a fixture directory
    char disk[256];                    // path whose file system's usage is reported
    s_cpu_t cpu;                       // node CPU at the previous sample
    s_cpu_t core[WBI_SYSMON_MAX_CPUS]; // per core at the previous sample
    int ncores;                        // cores seen
    bool have_cpu;                     // cpu/core are valid
    bool have_net;                     // net baselines are valid
    uint64_t net_rx0, net_tx0;         // bytes at the first sample
    bool have_disk;                    // disk baselines are valid
    uint64_t rd0, wr0;                 // sectors at the first sample
    s_nvml_t nvml;                     // GPUs
};

// Opens root/name for reading.
static FILE *s_open(const wbi_sysmon_t *self, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", self->root, name);
    return fopen(path, "r");
}

// Reads /proc/stat: the node line and up to WBI_SYSMON_MAX_CPUS core lines.
static bool s_read_cpu(const wbi_sysmon_t *self, s_cpu_t *node, s_cpu_t *cores, int *ncores)
{
    FILE *f = s_open(self, "stat");
    if (!f)
        return false;
    char line[S_LINE];
    bool got = false;
    *ncores = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "cpu", 3) != 0)
            break; // the cpu lines come first
        unsigned long long v[8] = {0};
        char name[32];
        int n = sscanf(line, "%31s %llu %llu %llu %llu %llu %llu %llu %llu", name, &v[0], &v[1],
                       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        if (n < 5)
            continue;
        // user nice system idle iowait irq softirq steal
        s_cpu_t c = {.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]};
        c.total = c.busy + v[3] + v[4];
        if (strcmp(name, "cpu") == 0) {
            *node = c;
            got = true;
        } else if (*ncores < WBI_SYSMON_MAX_CPUS) {
            cores[(*ncores)++] = c;
        }
    }
    fclose(f);
    return got;
}

// Percent busy between two readings (0 when no time passed).
static double s_busy_pct(s_cpu_t then, s_cpu_t now)
{
    if (now.total <= then.total || now.busy < then.busy)
        return 0.0;
    double pct = 100.0 * (double)(now.busy - then.busy) / (double)(now.total - then.total);
    return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

// Reads "Key:  N kB" values of a /proc file into vals (0 when absent).
static bool s_read_kv(const wbi_sysmon_t *self, const char *file, const char *const *keys,
                      size_t nkeys, unsigned long long *vals, bool *found)
{
    FILE *f = s_open(self, file);
    if (!f)
        return false;
    char line[S_LINE];
    for (size_t i = 0; i < nkeys; i++) {
        vals[i] = 0;
        found[i] = false;
    }
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < nkeys; i++) {
            size_t k = strlen(keys[i]);
            if (strncmp(line, keys[i], k) == 0 && line[k] == ':') {
                found[i] = sscanf(line + k + 1, "%llu", &vals[i]) == 1;
                break;
            }
        }
    }
    fclose(f);
    return true;
}

// Sums received and sent bytes of every interface but the loopback.
static bool s_read_net(const wbi_sysmon_t *self, uint64_t *rx, uint64_t *tx)
{
    FILE *f = s_open(self, "net/dev");
    if (!f)
        return false;
    char line[S_LINE];
    *rx = *tx = 0;
    bool got = false;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue; // the two header lines
        *colon = '\0';
        const char *name = line + strspn(line, " ");
        if (strcmp(name, "lo") == 0)
            continue;
        unsigned long long v[9];
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
            *rx += v[0]; // receive bytes
            *tx += v[8]; // transmit bytes
            got = true;
        }
    }
    fclose(f);
    return got;
}

// True for a whole disk (not a partition, loop or RAM device): sd*, vd*,
// xvd*, hd* without a trailing digit; nvme*n* and mmcblk* without a "p<N>" suffix.
static bool s_whole_disk(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return false;
    if (strncmp(name, "nvme", 4) == 0 || strncmp(name, "mmcblk", 6) == 0) {
        const char *p = strrchr(name, 'p');
        return !(p && p > name + 4 && p[1] >= '0' && p[1] <= '9');
    }
    bool prefix = strncmp(name, "sd", 2) == 0 || strncmp(name, "vd", 2) == 0 ||
                  strncmp(name, "xvd", 3) == 0 || strncmp(name, "hd", 2) == 0;
    return prefix && !(name[n - 1] >= '0' && name[n - 1] <= '9');
}

// Sums sectors read and written by whole disks (512-byte sectors).
static bool s_read_disk(const wbi_sysmon_t *self, uint64_t *rd, uint64_t *wr)
{
    FILE *f = s_open(self, "diskstats");
    if (!f)
        return false;
    char line[S_LINE];
    *rd = *wr = 0;
    bool got = false;
    while (fgets(line, sizeof line, f)) {
        unsigned maj, min;
        char name[64];
        unsigned long long v[7];
        // major minor name reads merged sectors_read ms writes merged sectors_written
        if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, name, &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 10 ||
            !s_whole_disk(name))
            continue;
        *rd += v[2];
        *wr += v[6];
        got = true;
    }
    fclose(f);
    return got;
}

// Loads NVML and lists its devices; leaves nvml->lib NULL when absent.
static void s_nvml_open(s_nvml_t *nv)
{
    *nv = (s_nvml_t){0};
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    s_nvml_init_fn init = (s_nvml_init_fn)dlsym(lib, "nvmlInit_v2");
    s_nvml_count_fn count = (s_nvml_count_fn)dlsym(lib, "nvmlDeviceGetCount_v2");
    s_nvml_handle_fn handle = (s_nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    nv->shutdown = (s_nvml_init_fn)dlsym(lib, "nvmlShutdown");
    nv->util = (s_nvml_util_fn)dlsym(lib, "nvmlDeviceGetUtilizationRates");
    nv->mem = (s_nvml_mem_fn)dlsym(lib, "nvmlDeviceGetMemoryInfo");
    nv->temp = (s_nvml_temp_fn)dlsym(lib, "nvmlDeviceGetTemperature");
    nv->power = (s_nvml_power_fn)dlsym(lib, "nvmlDeviceGetPowerUsage");
    nv->power_limit = (s_nvml_power_fn)dlsym(lib, "nvmlDeviceGetEnforcedPowerLimit");
    unsigned int n = 0;
    if (!init || !count || !handle || !nv->shutdown || init() != 0) {
        dlclose(lib);
        *nv = (s_nvml_t){0};
        return;
    }
    if (count(&n) != 0)
        n = 0;
    for (unsigned int i = 0; i < n && nv->n < WBI_SYSMON_MAX_GPUS; i++)
        if (handle(i, &nv->dev[nv->n]) == 0)
            nv->n++;
    nv->lib = lib;
}

static void s_nvml_close(s_nvml_t *nv)
{
    if (!nv->lib)
        return;
    nv->shutdown();
    dlclose(nv->lib);
    *nv = (s_nvml_t){0};
}

wandb_err wbi_sysmon_new(wbi_sysmon_t **out, const char *proc_root, const char *disk_path,
                         bool gpus)
{
    *out = NULL;
    wbi_sysmon_t *self = wbi_calloc(1, sizeof *self);
    if (!self)
        return WANDB_ENOMEM;
    snprintf(self->root, sizeof self->root, "%s", proc_root ? proc_root : "/proc");
    snprintf(self->disk, sizeof self->disk, "%s", disk_path ? disk_path : "/");
    self->have_cpu = s_read_cpu(self, &self->cpu, self->core, &self->ncores);
    self->have_net = s_read_net(self, &self->net_rx0, &self->net_tx0);
    self->have_disk = s_read_disk(self, &self->rd0, &self->wr0);
    if (gpus)
        s_nvml_open(&self->nvml);
    *out = self;
    return WANDB_OK;
}

void wbi_sysmon_destroy(wbi_sysmon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_nvml_close(&(*self_p)->nvml);
    wbi_free(*self_p);
    *self_p = NULL;
}

int wbi_sysmon_gpus(const wbi_sysmon_t *self)
{
    return self ? self->nvml.n : 0;
}

// Appends ,"system.<key>":<v> (finite values only; integers without a fraction).
static wandb_err s_put(wbi_buf_t *out, bool *first, const char *key, double v)
{
    if (!isfinite(v))
        return WANDB_OK;
    wandb_err rc = wbi_buf_printf(out, "%s\"system.%s\":%.6g", *first ? "" : ",", key, v);
    *first = false;
    return rc;
}

// Appends the GPU metrics of device i.
static wandb_err s_put_gpu(const s_nvml_t *nv, int i, wbi_buf_t *out, bool *first)
{
    char key[64];
    wandb_err rc = WANDB_OK;
    s_nvml_util_t u;
    if (nv->util && nv->util(nv->dev[i], &u) == 0) {
        snprintf(key, sizeof key, "gpu.%d.gpu", i);
        rc = s_put(out, first, key, u.gpu);
        snprintf(key, sizeof key, "gpu.%d.memory", i);
        if (rc == WANDB_OK)
            rc = s_put(out, first, key, u.memory);
    }
    s_nvml_mem_t m;
    if (rc == WANDB_OK && nv->mem && nv->mem(nv->dev[i], &m) == 0 && m.total > 0) {
        snprintf(key, sizeof key, "gpu.%d.memoryAllocated", i);
        rc = s_put(out, first, key, 100.0 * (double)m.used / (double)m.total);
        snprintf(key, sizeof key, "gpu.%d.memoryAllocatedBytes", i);
        if (rc == WANDB_OK)
            rc = s_put(out, first, key, (double)m.used);
    }
    unsigned int t;
    if (rc == WANDB_OK && nv->temp && nv->temp(nv->dev[i], 0, &t) == 0) {
        snprintf(key, sizeof key, "gpu.%d.temp", i);
        rc = s_put(out, first, key, t);
    }
    unsigned int mw, limit;
    if (rc == WANDB_OK && nv->power && nv->power(nv->dev[i], &mw) == 0) {
        snprintf(key, sizeof key, "gpu.%d.powerWatts", i);
        rc = s_put(out, first, key, mw / 1000.0);
        if (rc == WANDB_OK && nv->power_limit && nv->power_limit(nv->dev[i], &limit) == 0 &&
            limit > 0) {
            snprintf(key, sizeof key, "gpu.%d.powerPercent", i);
            rc = s_put(out, first, key, 100.0 * mw / limit);
        }
    }
    return rc;
}

wandb_err wbi_sysmon_sample(wbi_sysmon_t *self, wbi_buf_t *out)
{
    size_t mark = out->len;
    bool first = true;
    wandb_err rc = wbi_buf_putc(out, '{');
    // CPU: node and per core, busy share since the previous sample.
    s_cpu_t cpu;
    s_cpu_t core[WBI_SYSMON_MAX_CPUS];
    int ncores = 0;
    if (rc == WANDB_OK && s_read_cpu(self, &cpu, core, &ncores)) {
        if (self->have_cpu) {
            rc = s_put(out, &first, "cpu", s_busy_pct(self->cpu, cpu));
            for (int i = 0; rc == WANDB_OK && i < ncores && i < self->ncores; i++) {
                char key[48];
                snprintf(key, sizeof key, "cpu.%d.cpu_percent", i);
                rc = s_put(out, &first, key, s_busy_pct(self->core[i], core[i]));
            }
        }
        self->cpu = cpu;
        memcpy(self->core, core, sizeof(core[0]) * (size_t)ncores);
        self->ncores = ncores;
        self->have_cpu = true;
    }
    // Memory of the node and of this process.
    static const char *const mem_keys[] = {"MemTotal", "MemAvailable"};
    unsigned long long mem[2];
    bool mem_found[2];
    double total_kb = 0;
    if (rc == WANDB_OK && s_read_kv(self, "meminfo", mem_keys, 2, mem, mem_found) && mem_found[0] &&
        mem_found[1] && mem[0] > 0) {
        total_kb = (double)mem[0];
        rc = s_put(out, &first, "memory_percent", 100.0 * (1.0 - (double)mem[1] / total_kb));
        if (rc == WANDB_OK)
            rc = s_put(out, &first, "proc.memory.availableMB", (double)mem[1] / 1024.0);
    }
    static const char *const proc_keys[] = {"VmRSS", "Threads"};
    unsigned long long pv[2];
    bool pv_found[2];
    if (rc == WANDB_OK && s_read_kv(self, "self/status", proc_keys, 2, pv, pv_found)) {
        if (pv_found[0]) {
            rc = s_put(out, &first, "proc.memory.rssMB", (double)pv[0] / 1024.0);
            if (rc == WANDB_OK && total_kb > 0)
                rc = s_put(out, &first, "proc.memory.percent", 100.0 * (double)pv[0] / total_kb);
        }
        if (rc == WANDB_OK && pv_found[1])
            rc = s_put(out, &first, "proc.cpu.threads", (double)pv[1]);
    }
    // Network: bytes since the first sample, every interface but lo.
    uint64_t rx, tx;
    if (rc == WANDB_OK && s_read_net(self, &rx, &tx)) {
        if (!self->have_net) {
            self->net_rx0 = rx;
            self->net_tx0 = tx;
            self->have_net = true;
        }
        rc = s_put(out, &first, "network.sent",
                   (double)(tx >= self->net_tx0 ? tx - self->net_tx0 : 0));
        if (rc == WANDB_OK)
            rc = s_put(out, &first, "network.recv",
                       (double)(rx >= self->net_rx0 ? rx - self->net_rx0 : 0));
    }
    // Disk I/O: MB read and written since the first sample, whole disks.
    uint64_t rd, wr;
    if (rc == WANDB_OK && s_read_disk(self, &rd, &wr)) {
        if (!self->have_disk) {
            self->rd0 = rd;
            self->wr0 = wr;
            self->have_disk = true;
        }
        rc = s_put(out, &first, "disk.in",
                   (double)(rd >= self->rd0 ? rd - self->rd0 : 0) * 512 / S_MB);
        if (rc == WANDB_OK)
            rc = s_put(out, &first, "disk.out",
                       (double)(wr >= self->wr0 ? wr - self->wr0 : 0) * 512 / S_MB);
    }
    // Disk usage of the file system holding disk (as df: used / (used + available)).
    struct statvfs vfs;
    if (rc == WANDB_OK && statvfs(self->disk, &vfs) == 0 && vfs.f_blocks > 0) {
        double used = (double)(vfs.f_blocks - vfs.f_bfree) * (double)vfs.f_frsize;
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        char key[300];
        snprintf(key, sizeof key, "disk.%s.usagePercent", self->disk);
        if (used + avail > 0)
            rc = s_put(out, &first, key, 100.0 * used / (used + avail));
        snprintf(key, sizeof key, "disk.%s.usageGB", self->disk);
        if (rc == WANDB_OK)
            rc = s_put(out, &first, key, used / (S_MB * 1024.0));
    }
    for (int i = 0; rc == WANDB_OK && i < self->nvml.n; i++)
        rc = s_put_gpu(&self->nvml, i, out, &first);
    if (rc == WANDB_OK)
        rc = wbi_buf_putc(out, '}');
    if (rc != WANDB_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}
