# A real mpirun job through the launcher into the real server.
if(WANDB_WITH_MPI AND TARGET mpi_train)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME mpi_job COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_mpi_job.py)
  set_tests_properties(mpi_job PROPERTIES TIMEOUT 300 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
# Nothing accepted is lost: offline + sync, wrong key, a 60 s backend outage, a killed
# aggregator, a damaged journal (about 4 minutes).
if(WANDB_WITH_MPI AND TARGET mpi_train)
  add_test(NAME mpi_durability
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_durability.py)
  set_tests_properties(mpi_durability PROPERTIES TIMEOUT 900 LABELS "mpi;fault"
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
# The job run of real 4-rank jobs: reductions against the rank runs, a slow rank,
# a crashed rank, per-rank runs off, SIGTERM to the launcher (about a minute).
if(WANDB_WITH_MPI AND TARGET mpi_train)
  add_test(NAME mpi_job_view
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_job_view.py)
  set_tests_properties(mpi_job_view PROPERTIES TIMEOUT 600 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
# System metrics once per node (two simulated nodes) and console capture per rank
# in a real 4-rank job through the launcher (about 15 s).
if(WANDB_WITH_MPI AND TARGET mpi_train)
  add_test(NAME mpi_system_console
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_system_console.py)
  set_tests_properties(mpi_system_console PROPERTIES TIMEOUT 300 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
# Artifacts across ranks: 4 ranks upsert a shard each, rank 0 finishes, a second
# job uses and downloads it (about 10 s).
if(WANDB_WITH_MPI AND TARGET mpi_artifact)
  add_test(NAME mpi_artifacts
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_artifacts.py)
  set_tests_properties(mpi_artifacts PROPERTIES TIMEOUT 300 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
  # 1 GiB from 2 ranks with bounded memory, stored once (about a minute; GiBs of disk).
  add_test(NAME mpi_artifacts_1gib
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_artifacts.py --big)
  set_tests_properties(mpi_artifacts_1gib PROPERTIES TIMEOUT 900 LABELS slow
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
