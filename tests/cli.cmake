# Tests of the wandb-mpi CLI (src/cli): fills a store, runs the binary.
if(NOT TARGET wandb-mpi)
  return()
endif()

wandb_add_test(test_server_cli SOURCES integration/test_server_cli.c
  harness/server_harness.c
  LIBS wbi_store wbi_common SQLite::SQLite3 LABELS integration TIMEOUT 60)
add_dependencies(test_server_cli wandb-mpi)
