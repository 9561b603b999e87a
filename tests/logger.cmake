# Tests of the rank library (src/logger). Unit tests compile the logger
# sources they need directly, so they run without the aggregator and backend.
set(_lg ${PROJECT_SOURCE_DIR}/src/logger)
wandb_add_test(test_ring SOURCES unit/test_ring.c ${_lg}/ring.c
  LIBS wbi_common LABELS unit TIMEOUT 60)
wandb_add_test(test_keys SOURCES unit/test_keys.c ${_lg}/keys.c
  LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_settings SOURCES unit/test_settings.c ${_lg}/settings.c
  LIBS wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_logger_log SOURCES unit/test_logger_log.c ${_lg}/core.c ${_lg}/ring.c
  ${_lg}/keys.c ${_lg}/settings.c ${_lg}/save.c ${_lg}/artifact.c LIBS wbi_common LABELS unit TIMEOUT 60)
if(TARGET wandb_core)
  # The I/O thread and wandb_init/finish against a test ROUTER socket, and
  # with the in-process aggregator.
  wandb_add_test(test_logger_io SOURCES unit/test_logger_io.c LABELS unit TIMEOUT 60)
endif()
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  # init/log/finish through the in-process aggregator into the real server.
  wandb_add_test(test_logger_e2e SOURCES integration/test_logger_e2e.c harness/server_harness.c
    LABELS integration TIMEOUT 120)
  add_dependencies(test_logger_e2e wandb-mpi-server)
  set_tests_properties(test_logger_e2e PROPERTIES SKIP_RETURN_CODE 77)
endif()
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  # wandb_save with every policy through the in-process aggregator into the real server.
  wandb_add_test(test_save SOURCES integration/test_save.c harness/server_harness.c
    LABELS integration TIMEOUT 120)
  add_dependencies(test_save wandb-mpi-server)
  set_tests_properties(test_save PROPERTIES SKIP_RETURN_CODE 77)
endif()
# The system-metrics sampler (src/logger/sysmon.c) on the real /proc and a fixture.
wandb_add_test(test_sysmon SOURCES unit/test_sysmon.c ${_lg}/sysmon.c
  LIBS wbi_common ${CMAKE_DL_LIBS} LABELS unit TIMEOUT 30)
if(TARGET wandb_core)
  # Artifacts through the public API and the in-process aggregator (offline: its store on disk).
  wandb_add_test(test_artifact_run SOURCES integration/test_artifact_run.c
    LABELS integration TIMEOUT 120)
endif()
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  # Artifacts through the aggregator and the backend into the real server (read API checks).
  wandb_add_test(test_artifact_backend SOURCES integration/test_artifact_backend.c
    harness/server_harness.c LABELS integration TIMEOUT 120)
  add_dependencies(test_artifact_backend wandb-mpi-server wandb-mpi)
endif()
if(TARGET wandb_core)
  # Two rank processes upsert into one artifact through a hosted aggregator: conflict,
  # dedup, finish, upsert after finish, as the ranks' calls see them.
  wandb_add_test(test_artifact_ranks SOURCES integration/test_artifact_ranks.c
    LABELS integration TIMEOUT 120)
endif()
