# Tests of define_metric semantics and of resume (docs/decisions.md "define_metric" and
# "Resume"): the public API through the in-process aggregator into the real server.
# The RunResumeStatus decision (src/backend/resume.c), without I/O.
wandb_add_test(test_backend_resume SOURCES unit/test_backend_resume.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 30)
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  foreach(_t test_metric_server test_resume)
    wandb_add_test(${_t} SOURCES integration/${_t}.c harness/server_harness.c
      LABELS integration TIMEOUT 120)
    add_dependencies(${_t} wandb-mpi-server)
    if(TARGET wandb-mpi)
      add_dependencies(${_t} wandb-mpi)
    endif()
  endforeach()
endif()

# define_metric and resume against the official Python client (label conformance; skipped without the
# pinned client in tests/conformance/.venv).
find_package(Python3 COMPONENTS Interpreter QUIET)
if(TARGET wandb_core AND TARGET wandb-mpi-server AND Python3_Interpreter_FOUND)
  add_executable(c_metric ${CMAKE_CURRENT_SOURCE_DIR}/conformance/c_metric.c)
  target_link_libraries(c_metric PRIVATE wandb_core wandb_includes wandb_deps_core
    wandb_warnings m)
  add_executable(c_resume ${CMAKE_CURRENT_SOURCE_DIR}/conformance/c_resume.c)
  target_link_libraries(c_resume PRIVATE wandb_core wandb_includes wandb_deps_core
    wandb_warnings m)
  add_test(NAME test_resume_conformance
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_resume_conformance.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:c_resume>)
  add_test(NAME test_metric_conformance
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_metric_conformance.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:c_metric>)
  math(EXPR _mc_timeout "300 * ${WANDB_TEST_TIMEOUT_MULTIPLIER}")
  set_tests_properties(test_metric_conformance test_resume_conformance PROPERTIES
    TIMEOUT ${_mc_timeout} LABELS conformance SKIP_RETURN_CODE 77)
endif()

# A real mpirun job through the launcher, resumed: every rank continues its own run.
if(WANDB_WITH_MPI AND TARGET mpi_train)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME mpi_resume
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_mpi_resume.py)
  set_tests_properties(mpi_resume PROPERTIES TIMEOUT 600 LABELS mpi
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
