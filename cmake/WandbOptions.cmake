# User options, all prefixed WANDB_.
option(WANDB_BUILD_TESTS "Build the tests" ${PROJECT_IS_TOP_LEVEL})
option(WANDB_BUILD_EXAMPLES "Build the examples" ON)
option(WANDB_BUILD_SERVER "Build wandb-mpi-server and the wandb-mpi CLI" ON)
option(WANDB_WITH_MPI "Build the MPI glue, MPI examples and MPI tests" ON)
option(WANDB_WERROR "Treat warnings as errors" OFF)
set(WANDB_SANITIZE "" CACHE STRING "Sanitizers: empty, address;undefined, or thread")
option(WANDB_FUZZ "Build the libFuzzer targets fuzz_* of tests/fuzz (clang; instruments every target)" OFF)
