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
  ${_lg}/keys.c ${_lg}/check.c ${_lg}/mirror.c ${_lg}/props.c ${_lg}/settings.c ${_lg}/save.c
  ${_lg}/save_path.c ${_lg}/save_send.c ${_lg}/save_live.c ${_lg}/media_watch.c ${_lg}/media_hist.c
  ${_lg}/media_log.c ${_lg}/artifact.c LIBS wbi_common LABELS unit TIMEOUT 60)
# wandb_save's path rules (glob, base_path) without a run.
wandb_add_test(test_save_path SOURCES unit/test_save_path.c ${_lg}/save_path.c
  LIBS wbi_common LABELS unit TIMEOUT 30)
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
  # wandb_restore: files of a finished run and of the run itself, from the real server.
  wandb_add_test(test_restore SOURCES integration/test_restore.c harness/server_harness.c
    LABELS integration TIMEOUT 120)
  add_dependencies(test_restore wandb-mpi-server)
  set_tests_properties(test_restore PROPERTIES SKIP_RETURN_CODE 77)
  # examples/save_files (the seed's save examples, a restore) checked on the server.
  wandb_add_test(test_example_save SOURCES integration/test_example_save.c
    harness/server_harness.c LABELS integration TIMEOUT 120)
  add_dependencies(test_example_save wandb-mpi-server)
  if(TARGET save_files)
    add_dependencies(test_example_save save_files)
  endif()
  set_tests_properties(test_example_save PROPERTIES SKIP_RETURN_CODE 77)
endif()
# The system-metrics sampler (src/logger/sysmon.c) on the real /proc and a fixture.
wandb_add_test(test_sysmon SOURCES unit/test_sysmon.c ${_lg}/sysmon.c
  LIBS wbi_common ${CMAKE_DL_LIBS} LABELS unit TIMEOUT 30)
if(TARGET wandb AND TARGET wandb-mpi-server)
  # The run API of issue #10 against the real server: argument checks that
  # lose nothing silently, steps kept across a full ring, URLs, properties
  # and setters, stale pointers, finish at exit (run_api_child).
  add_executable(run_api_child integration/run_api_child.c)
  target_link_libraries(run_api_child PRIVATE wandb wandb_warnings)
  wandb_add_test(test_run_api SOURCES integration/test_run_api.c harness/server_harness.c
    LABELS integration TIMEOUT 120)
  add_dependencies(test_run_api wandb-mpi-server run_api_child)
endif()
if(TARGET log_forms AND TARGET wandb-mpi-server)
  # The seed's Run.log examples (examples/log_forms.c) into the real server.
  wandb_add_test(test_examples SOURCES integration/test_examples.c harness/server_harness.c
    LABELS integration TIMEOUT 120)
  add_dependencies(test_examples wandb-mpi-server log_forms)
endif()
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
  # use_artifact of a version only the server holds (another data dir): the rank's fallback.
  wandb_add_test(test_artifact_remote SOURCES integration/test_artifact_remote.c
    harness/server_harness.c LABELS integration TIMEOUT 120)
  add_dependencies(test_artifact_remote wandb-mpi-server)
endif()
if(TARGET wandb_core)
  # Two rank processes upsert into one artifact through a hosted aggregator: conflict,
  # dedup, finish, upsert after finish, as the ranks' calls see them.
  wandb_add_test(test_artifact_ranks SOURCES integration/test_artifact_ranks.c
    LABELS integration TIMEOUT 120)
endif()
