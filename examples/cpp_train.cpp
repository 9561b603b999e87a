//  cpp_train.cpp - a small training loop that logs through wandb.hpp
//  SPDX-License-Identifier: MIT
//
//  Usage: cpp_train [steps]          (default 100)
//  Built twice (examples/CMakeLists.txt): cpp_train, one process with its
//  run on the backend that the WANDB_* variables name; and, with MPI,
//  cpp_train_mpi (WANDB_EXAMPLE_MPI), where every rank logs into its own run
//  of the job's group: wandb-mpirun -np 4 ./cpp_train_mpi 200.
//  The run is a scoped object: leaving its scope finishes it, and an
//  exception that leaves the scope (a diverged loss below) marks it failed.
#include "wandb.hpp"
#ifdef WANDB_EXAMPLE_MPI
#include "wandb_mpi.hpp"
#endif

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>

namespace
{

// One "epoch" of a model that learns y = 3x + 1 by stochastic gradient descent.
struct Model {
    double w = 0.0, b = 0.0;

    // Returns the mean squared error of the batch after one update.
    double step(std::mt19937 &rng, double lr)
    {
        std::uniform_real_distribution<double> x_dist(-1.0, 1.0);
        std::normal_distribution<double> noise(0.0, 0.05);
        double gw = 0.0, gb = 0.0, loss = 0.0;
        const int batch = 32;
        for (int i = 0; i < batch; i++) {
            double x = x_dist(rng);
            double err = w * x + b - (3.0 * x + 1.0 + noise(rng));
            loss += err * err;
            gw += 2.0 * err * x;
            gb += 2.0 * err;
        }
        w -= lr * gw / batch;
        b -= lr * gb / batch;
        return loss / batch;
    }
};

int train(wandb::Run &run, long steps, int rank)
{
    const double lr = 0.1;
    run.config({{"lr", lr}, {"steps", steps}, {"model", "linear"}});
    run.define_metric("loss", nullptr, "min,last", "minimize");
    std::mt19937 rng(1234u + static_cast<unsigned>(rank));
    Model model;
    double best = INFINITY;
    for (long step = 0; step < steps; step++) {
        double loss = model.step(rng, lr);
        if (!std::isfinite(loss))
            throw std::runtime_error("the loss diverged"); // the run ends failed
        best = std::min(best, loss);
        run.log({{"loss", loss}, {"w", model.w}, {"b", model.b}, {"epoch", step / 10}});
    }
    run.summary({{"best_loss", best}, {"converged", std::fabs(model.w - 3.0) < 0.1}});
    if (rank == 0)
        std::fprintf(stderr, "cpp_train: %ld steps; run %s (%s)\n", steps, run.id().c_str(),
                     run.url().c_str());
    return 0;
}

// Starts the run (of this rank), trains, and ends the run when it leaves scope.
int run_job(long steps, int rank)
{
    try {
        wandb::Settings settings;
        settings.set("job_type", "train");
#ifdef WANDB_EXAMPLE_MPI
        wandb::Run run = wandb::mpi_init(MPI_COMM_WORLD, settings);
#else
        wandb::Run run = wandb::init(settings);
#endif
        int rc = train(run, steps, rank);
        run.finish(rc); // or leave it to the destructor
        return rc;
    } catch (const wandb::Error &e) {
        std::fprintf(stderr, "cpp_train: %s\n", e.what());
        return 1;
    }
}

} // namespace

int main(int argc, char **argv)
{
    long steps = 100;
    if (argc > 1) {
        char *end = nullptr;
        steps = std::strtol(argv[1], &end, 10);
        if (*end != '\0' || steps < 1 || steps > 10000000) {
            std::fprintf(stderr, "usage: cpp_train [steps 1..10000000]\n");
            return 2;
        }
    }
    int rank = 0;
#ifdef WANDB_EXAMPLE_MPI
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
#endif
    int rc = run_job(steps, rank);
#ifdef WANDB_EXAMPLE_MPI
    MPI_Finalize();
#endif
    wandb_shutdown();
    return rc;
}
