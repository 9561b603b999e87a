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
