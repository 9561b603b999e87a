# Tests of wandb-mpi-server (src/server): store, GraphQL, and the real binary.
if(NOT TARGET wbi_server)
  return()
endif()

wandb_add_test(test_server_store SOURCES unit/test_server_store.c harness/server_harness.c
  LIBS wbi_store wbi_common SQLite::SQLite3 LABELS unit TIMEOUT 30)
wandb_add_test(test_server_gql SOURCES unit/test_server_gql.c harness/server_harness.c
  LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD LABELS unit TIMEOUT 30)
wandb_add_test(test_server_gql_files SOURCES unit/test_server_gql_files.c harness/server_harness.c
  LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD LABELS unit TIMEOUT 30)
wandb_add_test(test_server_artifacts SOURCES unit/test_server_artifacts.c harness/server_harness.c
  LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD LABELS unit TIMEOUT 30)
wandb_add_test(test_server_names SOURCES unit/test_server_names.c
  LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD Threads::Threads
  LABELS unit TIMEOUT 30)
wandb_add_test(test_server_histscan SOURCES unit/test_server_histscan.c
  LIBS wbi_server wbi_store wbi_common SQLite::SQLite3 PkgConfig::MHD LABELS unit TIMEOUT 30)
# Starts the wandb-mpi-server binary and talks HTTP to it with libcurl.
wandb_add_test(test_server_http SOURCES integration/test_server_http.c
  harness/server_harness.c
  LIBS wbi_common SQLite::SQLite3 LABELS integration TIMEOUT 120)
add_dependencies(test_server_http wandb-mpi-server)
if(TARGET wandb-mpi)
  # test_settle_on_exit reads the states with the CLI.
  add_dependencies(test_server_http wandb-mpi)
endif()
# Hostile and careless local clients: connections, secrets, limits, stalls.
wandb_add_test(test_server_hardening SOURCES integration/test_server_hardening.c
  harness/server_harness.c harness/http_client.c
  LIBS wbi_common Threads::Threads LABELS integration TIMEOUT 180)
add_dependencies(test_server_hardening wandb-mpi-server)
# 50 SIGKILLs of the server while 8 clients log: every acknowledged line survives.
wandb_add_test(test_server_crash SOURCES integration/test_server_crash.c
  harness/server_harness.c harness/http_client.c
  LIBS wbi_common SQLite::SQLite3 Threads::Threads LABELS integration TIMEOUT 120)
add_dependencies(test_server_crash wandb-mpi-server)
# A bounded grammar-based HTTP fuzz run (loopback; seed printed, WBT_FUZZ_SEED replays it).
wandb_add_test(test_server_fuzz SOURCES integration/test_server_fuzz.c
  harness/server_harness.c harness/http_client.c
  LIBS wbi_common LABELS integration TIMEOUT 120)
add_dependencies(test_server_fuzz wandb-mpi-server)
# A 1 GiB artifact file through the server: streamed to disk, stored once, bounded memory
# (peak RSS printed). GiB-sized: label slow, not run under the sanitizers.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME test_server_artifacts_big
    COMMAND ${Python3_EXECUTABLE}
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_server_artifacts_big.py
            $<TARGET_FILE:wandb-mpi-server>)
  set_tests_properties(test_server_artifacts_big PROPERTIES TIMEOUT 900 LABELS slow)
endif()
