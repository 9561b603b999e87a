# The C++ face (include/wandb.hpp, docs/cpp.md), when a C++ compiler was found.
if(NOT WANDB_HAVE_CXX)
  return()
endif()

# wandb::Run into the real server, built as C++17 and as C++20.
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  foreach(_std 17 20)
    set(_name test_cpp_run)
    if(_std EQUAL 20)
      set(_name test_cpp_run_cxx20)
    endif()
    wandb_add_test(${_name} SOURCES integration/test_cpp_run.cpp harness/server_harness.c
      LABELS integration TIMEOUT 120)
    set_target_properties(${_name} PROPERTIES CXX_STANDARD ${_std} CXX_STANDARD_REQUIRED ON
      CXX_EXTENSIONS OFF)
    add_dependencies(${_name} wandb-mpi-server)
    if(TARGET cpp_train)
      add_dependencies(${_name} cpp_train cpp_train_cxx20) # run by the case example_runs
    endif()
  endforeach()
endif()

# Every public header alone, the C++ example and the C++ test, compiled by the
# C++ compiler as C++17 and C++20 with -Wall -Wextra -Werror -pedantic (and the C
# headers alone as C11), whatever WANDB_WERROR says.
set(_mpi_dirs "")
if(WANDB_WITH_MPI AND MPI_C_FOUND)
  set(_mpi_dirs ${MPI_C_INCLUDE_DIRS})
endif()
add_test(NAME test_cpp_headers COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cpp/check_headers.sh
  ${CMAKE_CXX_COMPILER} ${CMAKE_C_COMPILER} ${PROJECT_SOURCE_DIR} ${WANDB_GENERATED_INCLUDE_DIR}
  ${_mpi_dirs})
set_tests_properties(test_cpp_headers PROPERTIES TIMEOUT 240 LABELS compile)

# examples/cpp_train.cpp with MPI: a real 3-rank job through the launcher (about 10 s).
if(WANDB_WITH_MPI AND TARGET cpp_train_mpi AND TARGET wandb-mpi-server)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME cpp_mpi_job COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_cpp_mpi.py)
  set_tests_properties(cpp_mpi_job PROPERTIES TIMEOUT 300 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
