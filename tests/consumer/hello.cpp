//  hello.cpp - hello.c in C++, on the installed wandb.hpp
//  SPDX-License-Identifier: MIT
//
//  Built by tests/consumer/run.sh when a C++ compiler is there, with
//  find_package(wandb) and with pkg-config: the installed wandb.hpp and the C
//  macros of wandb.h compile as C++17 against the installed package. With
//  WANDB_MODE=disabled it needs no server.
#include "wandb.hpp"

#include <cstdio>

int main()
{
    std::printf("wandb %s (0x%06x) C++\n", WANDB_VERSION_STRING, (unsigned)WANDB_VERSION_HEX);
    try {
        wandb::Run run = wandb::init();
        for (int step = 0; step < 10; step++)
            run.log({{"loss", 1.0 / (step + 1)}, {"step", step}});
        if (wandb_log(run.handle(), WANDB_DOUBLE("loss", 0.0)) != WANDB_OK)
            return 1;
        std::printf("run %s logged 11 steps\n", run.id().c_str());
    } catch (const wandb::Error &e) {
        std::fprintf(stderr, "hello: %s\n", e.what());
        return 1;
    }
    wandb_shutdown();
    return 0;
}
