# Tests of media beyond scalars (src/logger/media_*.c, include/wandb_media.h):
# the encoders alone, then logging into the real server, then the official
# Python client against the same server (conformance).
wandb_add_test(test_media SOURCES unit/test_media.c LABELS unit TIMEOUT 60)
wandb_add_test(test_media_png SOURCES unit/test_media_png.c LABELS unit TIMEOUT 60)
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  # Media logged through the in-process aggregator into the real server: rows and files.
  wandb_add_test(test_media_e2e SOURCES integration/test_media_e2e.c harness/server_harness.c
    harness/http_client.c LABELS integration TIMEOUT 120)
  add_dependencies(test_media_e2e wandb-mpi-server)
  set_tests_properties(test_media_e2e PROPERTIES SKIP_RETURN_CODE 77)
endif()
if(TARGET wandb-mpi-server AND TARGET media_histogram)
  # The media examples (examples/media_*.c) run against the real server, results checked there.
  wandb_add_test(test_media_examples SOURCES integration/test_media_examples.c
    harness/server_harness.c harness/http_client.c LABELS integration TIMEOUT 120)
  add_dependencies(test_media_examples wandb-mpi-server media_histogram media_images media_table
    media_watch)
  if(TARGET wandb-mpi)
    add_dependencies(test_media_examples wandb-mpi)
  endif()
  set_tests_properties(test_media_examples PROPERTIES SKIP_RETURN_CODE 77)
endif()
# The official Python client (tests/conformance/.venv with numpy and Pillow) and our C API
# (c_media) log the same histograms, images and table into one server; the stored objects
# and the decoded pixels must agree (docs/media.md). Skipped (77) without the .venv.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(TARGET wandb_core AND TARGET wandb-mpi-server AND Python3_Interpreter_FOUND)
  add_executable(c_media ${CMAKE_CURRENT_SOURCE_DIR}/conformance/c_media.c)
  target_link_libraries(c_media PRIVATE wandb_core wandb_includes wandb_deps_core wandb_warnings)
  math(EXPR _media_conf_timeout "300 * ${WANDB_TEST_TIMEOUT_MULTIPLIER}")
  add_test(NAME test_media_conformance
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/conformance/test_media_conformance.py
            $<TARGET_FILE:wandb-mpi-server> $<TARGET_FILE:c_media>)
  set_tests_properties(test_media_conformance PROPERTIES TIMEOUT ${_media_conf_timeout}
    LABELS conformance SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
endif()
# Media from every rank of a real 4-rank job through the launcher (about 10 s).
if(WANDB_WITH_MPI AND TARGET mpi_train AND TARGET media_images)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME mpi_media COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_media_mpi.py)
  set_tests_properties(mpi_media PROPERTIES TIMEOUT 300 LABELS mpi SKIP_RETURN_CODE 77
    ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR}")
endif()
