//  bench_log_cpp.cpp - B1 in C++: wandb::Run::log against the C macro wandb_log
//  SPDX-License-Identifier: MIT
//
//  Usage: bench_log_cpp [server-binary]   (default: the one CMake built)
//  One run into a real wandb-mpi-server (in a temporary directory) through
//  the in-process aggregator. Alternates bursts of 10-scalar rows logged with
//  the C macro (wandb_log(run, WANDB_DOUBLE(...) x10)) and with
//  run.log({{"k0", v}, ... x10}) on the same run, pausing between bursts so
//  that the ring drains, and prints the median over bursts of the mean cost
//  of a call, one JSON line each ({bench, variant, metric, value, unit,
//  baseline, ratio}); the C++ line's baseline is the C macro.
#include "wandb.hpp"

extern "C" {
#include "bench_util.h"
}

#include <cstdio>
#include <unistd.h>

namespace
{

constexpr int kBurst = 20000;
constexpr int kBursts = 9;

double s_c_burst(wandb_run_t *run, int base)
{
    uint64_t t0 = bu_now_ns();
    for (int i = 0; i < kBurst; i++) {
        double x = base + i;
        wandb_log(run, WANDB_DOUBLE("k0", x), WANDB_DOUBLE("k1", x + 1), WANDB_DOUBLE("k2", x + 2),
                  WANDB_DOUBLE("k3", x + 3), WANDB_DOUBLE("k4", x + 4), WANDB_DOUBLE("k5", x + 5),
                  WANDB_DOUBLE("k6", x + 6), WANDB_DOUBLE("k7", x + 7), WANDB_DOUBLE("k8", x + 8),
                  WANDB_DOUBLE("k9", x + 9));
    }
    return static_cast<double>(bu_now_ns() - t0) / kBurst;
}

double s_cpp_burst(wandb::Run &run, int base)
{
    uint64_t t0 = bu_now_ns();
    for (int i = 0; i < kBurst; i++) {
        double x = base + i;
        run.log({{"k0", x},
                 {"k1", x + 1},
                 {"k2", x + 2},
                 {"k3", x + 3},
                 {"k4", x + 4},
                 {"k5", x + 5},
                 {"k6", x + 6},
                 {"k7", x + 7},
                 {"k8", x + 8},
                 {"k9", x + 9}});
    }
    return static_cast<double>(bu_now_ns() - t0) / kBurst;
}

} // namespace

int main(int argc, char **argv)
{
    bu_machine_line("B1-cpp");
    char dir[128], url[256], key[128];
    pid_t srv = bu_server_start(bu_server_bin(argc > 1 ? argv[1] : nullptr), dir, url, sizeof url,
                                key, sizeof key);
    if (srv < 0) {
        std::fprintf(stderr, "bench_log_cpp: cannot start the server\n");
        return 1;
    }
    int rc = 0;
    try {
        wandb::Settings s;
        s.set("base_url", url).set("api_key", key).set("project", "bench").set("mode", "online");
        s.set("ring_bytes", 64 << 20).set("finish_timeout_ms", 60000);
        wandb::Run run = wandb::init(s);
        bu_pin(0);
        double c[kBursts], cpp[kBursts];
        for (int b = 0; b < kBursts; b++) {
            c[b] = s_c_burst(run.handle(), 2 * b * kBurst);
            usleep(300 * 1000);
            cpp[b] = s_cpp_burst(run, (2 * b + 1) * kBurst);
            usleep(300 * 1000);
        }
        bu_stats_t sc = bu_stats(c, kBursts), scpp = bu_stats(cpp, kBursts);
        bu_emit_stats("B1-cpp", "c-macro", "ns_per_call", &sc, "ns", "", 0);
        bu_emit_stats("B1-cpp", "cpp-run-log", "ns_per_call", &scpp, "ns", "c-macro", sc.median);
        if (run.dropped() != 0)
            std::fprintf(stderr, "bench_log_cpp: %llu values dropped: figures not comparable\n",
                         static_cast<unsigned long long>(run.dropped()));
        run.finish();
    } catch (const wandb::Error &e) {
        std::fprintf(stderr, "bench_log_cpp: %s\n", e.what());
        rc = 1;
    }
    wandb_shutdown();
    bu_server_stop(srv, dir);
    return rc;
}
