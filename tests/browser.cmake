# Browser tests of the dashboard (issue #11): headless Chromium (Debian `chromium`) against the
# real wandb-mpi-server on loopback. Label `browser`; skipped (77) without chromium.
# Screenshots land in build/browser-artifacts/.
if(NOT TARGET wandb-mpi-server)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter QUIET)
if(NOT Python3_Interpreter_FOUND)
  return()
endif()
if(TARGET wandb_core)
  add_executable(run_url ${CMAKE_CURRENT_SOURCE_DIR}/browser/run_url.c)
  target_link_libraries(run_url PRIVATE wandb_core wandb_includes wandb_deps_core wandb_warnings m)
endif()
math(EXPR _browser_timeout "400 * ${WANDB_TEST_TIMEOUT_MULTIPLIER}")
# The chart data routes (no browser): also under ASan and TSan, with 8 concurrent readers.
math(EXPR _sample_timeout "60 * ${WANDB_TEST_TIMEOUT_MULTIPLIER}")
add_test(NAME test_sample_api
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_sample_api.py)
set_tests_properties(test_sample_api PROPERTIES TIMEOUT ${_sample_timeout} LABELS integration
  ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
add_test(NAME browser_dashboard
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/browser/test_dashboard.py)
set_tests_properties(browser_dashboard PROPERTIES TIMEOUT ${_browser_timeout} LABELS browser
  SKIP_RETURN_CODE 77
  ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
# Time to first chart: a run of 100,000 rows and a group of 64 runs (docs/dashboard.md).
add_test(NAME browser_dashboard_perf
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/browser/bench_dashboard.py)
set_tests_properties(browser_dashboard_perf PROPERTIES TIMEOUT ${_browser_timeout}
  LABELS "browser;slow" SKIP_RETURN_CODE 77
  ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
# The run page in full (media, system, console, alerts, files, controls) and live refresh,
# over the DevTools protocol (real time).
add_test(NAME browser_dashboard_live
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/browser/test_dashboard_live.py)
set_tests_properties(browser_dashboard_live PROPERTIES TIMEOUT ${_browser_timeout}
  LABELS browser SKIP_RETURN_CODE 77
  ENVIRONMENT "WANDB_TEST_BIN_DIR=${CMAKE_BINARY_DIR};WANDB_TEST_SRC_DIR=${CMAKE_SOURCE_DIR}")
