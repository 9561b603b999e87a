# Conformance tests: the official W&B clients (pinned in tests/conformance/) log into the real
# wandb-mpi-server binary; the server's read API must then show exactly what they logged.
# Skipped (exit 77) when the pinned clients are not installed: tests/conformance/install.sh.
if(NOT TARGET wandb-mpi-server)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter QUIET)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "conformance tests: no python3 found, not registered")
  return()
endif()

math(EXPR _conformance_timeout "300 * ${WANDB_TEST_TIMEOUT_MULTIPLIER}")
foreach(_t test_python_sdk test_npm_sdk test_artifacts)
  add_test(NAME ${_t}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/${_t}.py
            $<TARGET_FILE:wandb-mpi-server>)
  set_tests_properties(${_t} PROPERTIES TIMEOUT ${_conformance_timeout} LABELS conformance
    SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# The client side: c_scenario drives our public C API (in-process aggregator) through the
# same logical runs as python_scenario.py; test_compare_requests compares what the server
# recorded from it with what the official Python client sends (live when the .venv exists,
# else the checked-in capture), field by field (docs/conformance.md).
if(TARGET wandb_core AND NOT TARGET c_scenario)
  add_executable(c_scenario ${CMAKE_CURRENT_SOURCE_DIR}/conformance/c_scenario.c)
  target_link_libraries(c_scenario PRIVATE wandb_core wandb_includes wandb_deps_core
    wandb_warnings m)
  add_test(NAME test_compare_requests
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_compare_requests.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:c_scenario>)
  set_tests_properties(test_compare_requests PROPERTIES TIMEOUT ${_conformance_timeout}
    LABELS conformance SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endif()

# Our C side uses, downloads and use_models what the official Python client logged (the
# version only in the server: the rank's fallback to the backend), byte for byte.
if(TARGET wandb_core AND NOT TARGET c_use_artifact)
  add_executable(c_use_artifact ${CMAKE_CURRENT_SOURCE_DIR}/conformance/c_use_artifact.c)
  target_link_libraries(c_use_artifact PRIVATE wandb_core wandb_includes wandb_deps_core
    wandb_warnings)
  add_test(NAME test_artifact_cross_use
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_artifact_cross_use.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:c_use_artifact>)
  set_tests_properties(test_artifact_cross_use PROPERTIES TIMEOUT ${_conformance_timeout}
    LABELS conformance SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endif()

# Our artifact requests (examples/model_registry through the aggregator's backend client)
# against the official client's captured ones, field by field (docs/artifacts.md).
if(TARGET model_registry)
  add_test(NAME test_artifact_requests
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_artifact_requests.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:model_registry>)
  set_tests_properties(test_artifact_requests PROPERTIES TIMEOUT ${_conformance_timeout}
    LABELS conformance SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endif()
# The official Python client uses and downloads what our C side logged (byte for byte).
if(TARGET model_registry)
  add_test(NAME test_artifact_cross
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_artifact_cross.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:model_registry>)
  set_tests_properties(test_artifact_cross PROPERTIES TIMEOUT ${_conformance_timeout}
    LABELS conformance SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endif()
