# Tests of the backend client (src/backend).
wandb_add_test(test_backend_retry SOURCES unit/test_backend_retry.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_backend_request SOURCES unit/test_backend_request.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 30)
# wandb-events.jsonl and output.log parts of file_stream bodies.
wandb_add_test(test_backend_stream SOURCES unit/test_backend_stream.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 30)
wandb_add_test(test_backend_list SOURCES unit/test_backend_list.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 30)
# The scheduler on virtual time (no network, no sleeping).
wandb_add_test(test_backend_sched SOURCES unit/test_backend_sched.c
  LIBS wbi_backend wbi_common LABELS unit TIMEOUT 60)
# Integration: a scripted libmicrohttpd peer inside the test.
if(NOT TARGET PkgConfig::MHD)
  pkg_check_modules(MHD IMPORTED_TARGET libmicrohttpd)
endif()
if(TARGET PkgConfig::MHD)
  wandb_add_test(test_backend_peer SOURCES integration/test_backend_peer.c
    LIBS wbi_backend wbi_common PkgConfig::MHD LABELS integration TIMEOUT 90)
endif()
# Integration with the real wandb-mpi-server; exits 77 (skipped) when it is not built.
wandb_add_test(test_backend_server SOURCES integration/test_backend_server.c
  harness/server_harness.c
  LIBS wbi_backend wbi_common LABELS integration TIMEOUT 60)
set_tests_properties(test_backend_server PROPERTIES SKIP_RETURN_CODE 77)
# HTTP/2 through a real HTTP/2 server: nghttpx (Debian nghttp2-proxy) in front of
# wandb-mpi-server, TLS and h2c; exits 77 (skipped) when nghttpx, openssl or the server is missing.
wandb_add_test(test_backend_h2 SOURCES integration/test_backend_h2.c
  harness/server_harness.c
  LIBS wbi_backend wbi_common LABELS integration TIMEOUT 120)
set_tests_properties(test_backend_h2 PROPERTIES SKIP_RETURN_CODE 77)
