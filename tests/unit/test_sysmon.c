//  test_sysmon.c - the system-metrics sampler on the real /proc and on a fixture
//  SPDX-License-Identifier: MIT
#include "common/alloc.h"
#include "logger/sysmon.h"
#include "testutil.h"
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

// Takes one sample as a JSON object.
static json_t *s_sample(wbi_sysmon_t *m)
{
    wbi_buf_t b;
    wbi_buf_init(&b, 1 << 20);
    CHECK_OK(wbi_sysmon_sample(m, &b));
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    if (!j)
        WBT_FAIL("not JSON (%s): %s", err.text, b.data);
    wbi_buf_release(&b);
    return j;
}

// The number under key, or fails.
static double s_num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_number(v))
        WBT_FAIL("no number '%s'", key);
    return json_number_value(v);
}

// The real machine: every metric present and in its range; counters since
// the first sample do not go down.
static void test_real_proc(void)
{
    wbi_sysmon_t *m = NULL;
    CHECK_OK(wbi_sysmon_new(&m, NULL, NULL, true));
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++) // some CPU time between the readings
        x += i;
    json_t *a = s_sample(m);
    double cpu = s_num(a, "system.cpu");
    CHECK(cpu >= 0 && cpu <= 100);
    CHECK(s_num(a, "system.cpu.0.cpu_percent") >= 0 && s_num(a, "system.cpu.0.cpu_percent") <= 100);
    double mem = s_num(a, "system.memory_percent");
    CHECK(mem > 0 && mem < 100);
    double rss = s_num(a, "system.proc.memory.rssMB");
    CHECK(rss > 0.5 && rss < 1e6);
    CHECK(s_num(a, "system.proc.memory.percent") > 0 &&
          s_num(a, "system.proc.memory.percent") < 100);
    CHECK(s_num(a, "system.proc.memory.availableMB") > 0);
    CHECK(s_num(a, "system.proc.cpu.threads") >= 1);
    double usage = s_num(a, "system.disk./.usagePercent");
    CHECK(usage >= 0 && usage <= 100);
    CHECK(s_num(a, "system.disk./.usageGB") >= 0);
    double sent = s_num(a, "system.network.sent");
    double recv = s_num(a, "system.network.recv");
    CHECK(sent >= 0 && recv >= 0);
    // /proc/diskstats may list no whole disk in a container: then no disk.in/out.
    json_t *din = json_object_get(a, "system.disk.in");
    CHECK(!din || json_number_value(din) >= 0);
    // Without NVML (the normal case here) there are no GPU keys; with it, in range.
    json_t *gpu = json_object_get(a, "system.gpu.0.gpu");
    CHECK(wbi_sysmon_gpus(m) > 0 ? gpu && json_number_value(gpu) <= 100 : gpu == NULL);
    json_t *b = s_sample(m);
    CHECK(s_num(b, "system.network.sent") >= sent);
    CHECK(s_num(b, "system.network.recv") >= recv);
    CHECK(s_num(b, "system.cpu") >= 0 && s_num(b, "system.cpu") <= 100);
    json_decref(a);
    json_decref(b);
    wbi_sysmon_destroy(&m);
    CHECK(m == NULL);
    wbi_sysmon_destroy(&m); // NULL-safe
}

// Writes text to dir/name.
static void s_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

// A fixture /proc: exact deltas for CPU, network (lo left out) and whole disks
// (partitions left out); a missing file leaves its metrics out.
static void test_fixture(void)
{
    char dir[] = "/tmp/wbt-proc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/net", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/self", dir);
    mkdir(sub, 0700);
    s_write(dir, "stat",
            "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\n"
            "cpu1 50 0 50 400 0 0 0 0\nintr 1\n");
    s_write(dir, "net/dev",
            "Inter-|   Receive\n face |bytes\n"
            "    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n"
            "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n");
    s_write(dir, "diskstats",
            "   8       0 sda 10 0 2048 0 10 0 4096 0 0 0 0\n"
            "   8       1 sda1 10 0 2048 0 10 0 4096 0 0 0 0\n"
            " 259       0 nvme0n1 1 0 2048 0 1 0 0 0 0 0 0\n"
            " 259       1 nvme0n1p1 1 0 2048 0 1 0 0 0 0 0 0\n"
            "   7       0 loop0 1 0 999 0 1 0 999 0 0 0 0\n");
    s_write(dir, "meminfo", "MemTotal: 1000000 kB\nMemFree: 100 kB\nMemAvailable: 250000 kB\n");
    s_write(dir, "self/status", "Name: x\nVmRSS:\t  102400 kB\nThreads:\t7\n");
    wbi_sysmon_t *m = NULL;
    CHECK_OK(wbi_sysmon_new(&m, dir, "/", false));
    // 100 more busy and 300 more idle jiffies on the node (25 %); core 0 all busy.
    s_write(dir, "stat",
            "cpu  150 0 150 1100 0 0 0 0 0 0\ncpu0 100 0 100 400 0 0 0 0\n"
            "cpu1 50 0 50 700 0 0 0 0\n");
    s_write(dir, "net/dev",
            "h\nh\n    lo: 5000 1 0 0 0 0 0 0 5000 1 0 0 0 0 0 0\n"
            "  eth0: 1500 10 0 0 0 0 0 0 2600 20 0 0 0 0 0 0\n"
            "  eth1: 100 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n");
    s_write(dir, "diskstats",
            "   8       0 sda 10 0 4096 0 10 0 6144 0 0 0 0\n"
            " 259       0 nvme0n1 1 0 2048 0 1 0 2048 0 0 0 0\n"
            " 259       1 nvme0n1p1 1 0 9999 0 1 0 9999 0 0 0 0\n");
    json_t *j = s_sample(m);
    CHECK(s_num(j, "system.cpu") == 25);
    CHECK(s_num(j, "system.cpu.0.cpu_percent") == 100);
    CHECK(s_num(j, "system.cpu.1.cpu_percent") == 0);
    CHECK(s_num(j, "system.memory_percent") == 75);
    CHECK(s_num(j, "system.proc.memory.rssMB") == 100);
    CHECK(s_num(j, "system.proc.memory.percent") > 10.2 &&
          s_num(j, "system.proc.memory.percent") < 10.3);
    CHECK(s_num(j, "system.proc.memory.availableMB") > 244 &&
          s_num(j, "system.proc.memory.availableMB") < 245);
    CHECK(s_num(j, "system.proc.cpu.threads") == 7);
    CHECK(s_num(j, "system.network.recv") == 600); // eth0 +500, eth1 +100, lo not counted
    CHECK(s_num(j, "system.network.sent") == 600);
    CHECK(s_num(j, "system.disk.in") == 1.0);  // sda +2048 sectors = 1 MiB
    CHECK(s_num(j, "system.disk.out") == 2.0); // sda +2048, nvme0n1 +2048
    json_decref(j);
    // Files gone: only the metrics that are left.
    snprintf(sub, sizeof sub, "%s/net/dev", dir);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/stat", dir);
    unlink(sub);
    j = s_sample(m);
    CHECK(json_object_get(j, "system.cpu") == NULL);
    CHECK(json_object_get(j, "system.network.sent") == NULL);
    CHECK(s_num(j, "system.memory_percent") == 75);
    json_decref(j);
    wbi_sysmon_destroy(&m);
    const char *left[] = {"diskstats", "meminfo", "self/status", "self", "net", ""};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, left[i]);
        if (unlink(sub) != 0)
            rmdir(sub);
    }
}

int main(int argc, char **argv)
{
    static const wbt_case_t cases[] = {{"real_proc", test_real_proc}, {"fixture", test_fixture}};
    return wbt_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
