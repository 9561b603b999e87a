# Tests of the aggregator (src/aggregator; the core links no journal and no backend)
# and of its outlet (src/outlet).
wandb_add_test(test_agg_run SOURCES unit/test_agg_run.c
  LIBS wbi_aggregator wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_agg_metric SOURCES unit/test_agg_metric.c
  LIBS wbi_aggregator wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_agg_core SOURCES unit/test_agg_core.c
  LIBS wbi_aggregator wbi_common LABELS unit TIMEOUT 60)
wandb_add_test(test_agg_jobview SOURCES unit/test_agg_jobview.c
  LIBS wbi_aggregator wbi_common LABELS unit TIMEOUT 60)
if(TARGET wbi_backend)
  # The real thread and ROUTER socket, with a backend that cannot connect.
  wandb_add_test(test_agg_socket SOURCES unit/test_agg_socket.c
    LIBS wbi_outlet wbi_aggregator wbi_backend wbi_journal wbi_common LABELS unit TIMEOUT 60)
endif()
# End to end: the aggregator executable into the real local server.
if(TARGET wandb-mpi-server AND TARGET wandb-mpi-aggregator)
  wandb_add_test(test_agg_e2e SOURCES unit/test_agg_e2e.c harness/server_harness.c
    LIBS wbi_common LABELS integration TIMEOUT 90)
  add_dependencies(test_agg_e2e wandb-mpi-server wandb-mpi-aggregator)
endif()
# System metrics and console capture: the aggregator executable into the real server.
if(TARGET wandb-mpi-server AND TARGET wandb-mpi-aggregator)
  wandb_add_test(test_agg_system SOURCES unit/test_agg_system.c harness/server_harness.c
    LIBS wbi_common LABELS integration TIMEOUT 90)
  add_dependencies(test_agg_system wandb-mpi-server wandb-mpi-aggregator)
endif()
# The outlet: journal first, then the backend (offline here: the journal only).
wandb_add_test(test_agg_outlet SOURCES unit/test_agg_outlet.c ../src/cli/jload.c
  LIBS wbi_outlet wbi_aggregator wbi_backend wbi_journal wbi_common LABELS unit TIMEOUT 60)
# Transport security: CURVE, ZAP and connection binding against intruders,
# into the real local server (docs/security.md).
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  wandb_add_test(test_agg_auth SOURCES unit/test_agg_auth.c harness/server_harness.c
    LABELS unit TIMEOUT 120)
  add_dependencies(test_agg_auth wandb-mpi-server)
  set_tests_properties(test_agg_auth PROPERTIES SKIP_RETURN_CODE 77)
endif()
# Artifacts: receive, spool, merge upserts, commit versions (a real store directory).
wandb_add_test(test_agg_artifact SOURCES unit/test_agg_artifact.c
  LIBS wbi_aggregator wbi_common LABELS unit TIMEOUT 60)
