# Tests of wandb-mpi-server (src/server): store, GraphQL, and the real binary.
if(NOT TARGET wbi_server)
  return()
endif()

wandb_add_test(test_server_store SOURCES unit/test_server_store.c harness/server_harness.c
  LIBS wbi_store wbi_common SQLite::SQLite3 LABELS unit TIMEOUT 30)
wandb_add_test(test_server_gql SOURCES unit/test_server_gql.c harness/server_harness.c
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
