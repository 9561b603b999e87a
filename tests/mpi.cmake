# A real mpirun job through the launcher into the real server.
if(WANDB_WITH_MPI AND TARGET mpi_train)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME mpi_job COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_mpi_job.py)
  set_tests_properties(mpi_job PROPERTIES TIMEOUT 300 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
