# Tests of the wandb-mpi CLI (src/cli): fills a store, runs the binary.
if(NOT TARGET wandb-mpi)
  return()
endif()

wandb_add_test(test_server_cli SOURCES integration/test_server_cli.c
  harness/server_harness.c
  LIBS wbi_store wbi_common SQLite::SQLite3 LABELS integration TIMEOUT 60)
add_dependencies(test_server_cli wandb-mpi)

# wandb-mpi sync: journals made by the real outlet, uploaded into the real server.
if(TARGET wandb-mpi-server)
  wandb_add_test(test_sync SOURCES integration/test_sync.c harness/server_harness.c
    LIBS wbi_outlet wbi_aggregator wbi_backend wbi_journal wbi_common LABELS integration TIMEOUT 120)
  add_dependencies(test_sync wandb-mpi wandb-mpi-server)
  set_tests_properties(test_sync PROPERTIES SKIP_RETURN_CODE 77)
endif()

# 256 runs behind a backend 250 ms away (harness/delay_proxy.c, nghttpx, the server):
# HTTP/2 drains before the finish deadline; over HTTP/1.1 the journal and one sync complete it.
if(TARGET wandb-mpi-server)
  wandb_add_test(test_latency_sync SOURCES integration/test_latency_sync.c
    harness/server_harness.c harness/delay_proxy.c
    LIBS wbi_outlet wbi_aggregator wbi_backend wbi_journal wbi_common LABELS integration TIMEOUT 120)
  add_dependencies(test_latency_sync wandb-mpi wandb-mpi-server)
  set_tests_properties(test_latency_sync PROPERTIES SKIP_RETURN_CODE 77)
endif()

# wandb-events.jsonl and output.log lines: outlet, backend, journal and sync into the real server.
if(TARGET wandb-mpi-server)
  wandb_add_test(test_stream_sync SOURCES integration/test_stream_sync.c harness/server_harness.c
    LIBS wbi_outlet wbi_aggregator wbi_backend wbi_journal wbi_common LABELS integration TIMEOUT 120)
  add_dependencies(test_stream_sync wandb-mpi wandb-mpi-server)
  set_tests_properties(test_stream_sync PROPERTIES SKIP_RETURN_CODE 77)
endif()
