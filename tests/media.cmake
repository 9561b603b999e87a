# Tests of media beyond scalars (src/logger/media_*.c, include/wandb_media.h):
# the encoders alone, then logging into the real server, then the official
# Python client against the same server (conformance).
wandb_add_test(test_media SOURCES unit/test_media.c LABELS unit TIMEOUT 60)
if(TARGET wandb_core AND TARGET wandb-mpi-server)
  # Media logged through the in-process aggregator into the real server: rows and files.
  wandb_add_test(test_media_e2e SOURCES integration/test_media_e2e.c harness/server_harness.c
    harness/http_client.c LABELS integration TIMEOUT 120)
  add_dependencies(test_media_e2e wandb-mpi-server)
  set_tests_properties(test_media_e2e PROPERTIES SKIP_RETURN_CODE 77)
endif()
