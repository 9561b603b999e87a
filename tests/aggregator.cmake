# Tests of the aggregator (src/aggregator).
wandb_add_test(test_agg_run SOURCES unit/test_agg_run.c
  LIBS wbi_aggregator wbi_backend wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_agg_core SOURCES unit/test_agg_core.c
  LIBS wbi_aggregator wbi_backend wbi_common LABELS unit TIMEOUT 60)
if(TARGET wbi_backend)
  # The real thread and ROUTER socket, with a backend that cannot connect.
  wandb_add_test(test_agg_socket SOURCES unit/test_agg_socket.c
    LIBS wbi_aggregator wbi_backend wbi_common LABELS unit TIMEOUT 60)
endif()
# End to end: the aggregator executable into the real local server.
if(TARGET wandb-mpi-server AND TARGET wandb-mpi-aggregator)
  wandb_add_test(test_agg_e2e SOURCES unit/test_agg_e2e.c harness/server_harness.c
    LIBS wbi_common LABELS integration TIMEOUT 90)
  add_dependencies(test_agg_e2e wandb-mpi-server wandb-mpi-aggregator)
endif()
